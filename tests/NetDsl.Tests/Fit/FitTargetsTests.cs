using NetDsl.Data;
using NetDsl.Metrics;
using NetDsl.Optimizers;
using NetDsl.Tests.Numerics;
using NetDsl.Training;
using Xunit;

namespace NetDsl.Tests.Fit;

[Network(Loss = Loss.MeanSquaredError)]
[Input(3)]
public partial class FitRegression
{
    [Dense(24, Activation.Tanh)] public partial DenseLayer Hidden { get; }

    [Dense(1)] public partial DenseLayer Value { get; }
}

[Network(Loss = Loss.CategoricalCrossEntropy)]
[Input(8)]
public partial class FitOneHot
{
    [Dense(16, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    [Dense(4, Activation.Softmax)] public partial DenseLayer Output { get; }
}

[Network(Loss = Loss.BinaryCrossEntropy)]
[Input(8)]
public partial class FitMultiLabel
{
    [Dense(16, Activation.Tanh)] public partial DenseLayer Hidden { get; }

    [Dense(3)] public partial DenseLayer Tags { get; }
}

/// <summary>Fit and Evaluate with float targets: regression, one-hot categorical and multi-label binary cross-entropy.</summary>
public sealed class FitTargetsTests
{
    private static FitOptions Quiet(int epochs) => new() { Epochs = epochs, Verbose = Verbosity.Silent, BatchSize = 16 };

    [Fact]
    public void Regression_fit_learns_a_smooth_function_and_reports_mae()
    {
        var random = new Random(5);
        const int N = 512;
        var x = new float[N * 3];
        var y = new float[N];
        for (int i = 0; i < N; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                x[i * 3 + j] = (float)(random.NextDouble() * 2 - 1);
            }

            y[i] = MathF.Sin(2 * x[i * 3]) + x[i * 3 + 1] * x[i * 3 + 2];
        }

        using var net = new FitRegression(16, seed: 1, threads: 1);
        var history = net.Fit(new MemoryDataSource(x, y, 3, 1), new Adam(0.01f), Quiet(40) with { ValidationSplit = 0.25 });
        double firstMae = history["mae"][0], lastValMae = history["val_mae"][^1];
        // The targets' spread is ~0.75 (mean absolute deviation); a fitted network gets well below a tenth of it.
        Assert.True(lastValMae < 0.08, $"validation MAE {lastValMae} (first epoch's training MAE {firstMae})");
        Assert.True(history.Loss[^1] < history.Loss[0] / 10, $"loss {history.Loss[0]} -> {history.Loss[^1]}");
    }

    [Fact]
    public void Categorical_cross_entropy_fit_on_one_hot_rows_reaches_the_labels_accuracy()
    {
        var blobs = FitTestData.Blobs(400);
        var oneHot = new float[blobs.Count * 4];
        for (int i = 0; i < blobs.Count; i++)
        {
            oneHot[i * 4 + blobs.Labels[i]] = 1;
        }

        using var net = new FitOneHot(16, seed: 2, threads: 2);
        var history = net.Fit(new MemoryDataSource(blobs.Features, oneHot, 8, 4), new Sgd(0.05f, momentum: 0.9f), Quiet(10) with { ValidationSplit = 0.2 });
        Assert.True(history["val_accuracy"][^1] >= 0.97, $"validation accuracy {history["val_accuracy"][^1]}");
        // The same network judged on the labels directly agrees with the one-hot accuracy.
        float[] p = net.Predict(new MemoryDataSource(blobs.Features, oneHot, 8, 4));
        double byLabels = Enumerable.Range(0, blobs.Count).Count(i => Evaluation.ArgMax(p.AsSpan(i * 4, 4)) == blobs.Labels[i]) / (double)blobs.Count;
        Assert.Equal(byLabels, net.Evaluate(new MemoryDataSource(blobs.Features, oneHot, 8, 4))["accuracy"], 12);
    }

    [Fact]
    public void Binary_cross_entropy_fit_learns_independent_tags()
    {
        var blobs = FitTestData.Blobs(400);
        var tags = new float[blobs.Count * 3];
        for (int i = 0; i < blobs.Count; i++)
        {
            int c = blobs.Labels[i];
            tags[i * 3] = c % 2;          // odd classes
            tags[i * 3 + 1] = c >= 2 ? 1 : 0; // upper classes
            tags[i * 3 + 2] = c == 0 ? 1 : 0; // class 0
        }

        using var net = new FitMultiLabel(16, seed: 4, threads: 1);
        var history = net.Fit(new MemoryDataSource(blobs.Features, tags, 8, 3), new Adam(0.02f), Quiet(15) with { ValidationSplit = 0.2 });
        Assert.True(history["val_binary_accuracy"][^1] >= 0.97, $"validation binary accuracy {history["val_binary_accuracy"][^1]}");
        float[] p = net.Predict(new MemoryDataSource(blobs.Features, tags, 8, 3));
        Assert.All(p, v => Assert.InRange(v, 0f, 1f)); // a Linear head: Predict applies the fused sigmoid
    }

    public static TheoryData<string> LossNetworks => LossNetworkTests.Networks;

    /// <summary>
    /// Evaluate's loss (LossMetric, from the outputs, double precision) against the training loss the fused kernel
    /// computes from the logits (float): two independent implementations of each Keras formula. The test networks have no
    /// dropout, so training and inference passes agree.
    /// </summary>
    [Theory]
    [MemberData(nameof(LossNetworks))]
    public void Evaluate_loss_matches_the_training_kernels_loss(string name)
    {
        var random = new Random(name.Length * 13);
        using var network = LossNetworkTests.Create(name, 8, 1);
        const int Rows = 8;
        float[] x = [.. Enumerable.Range(0, Rows * network.InputSize).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        float[] t = LossNetworkTests.Targets(network.Loss, Rows, network.OutputSize, random);
        float trainingLoss = network.ComputeGradients(x, t);
        double evaluated = network.Evaluate(new MemoryDataSource(x, t, network.InputSize, network.OutputSize)).Loss;
        // float32 kernel vs double metric; the probability clip at 1e-7 is far from these outputs.
        Assert.True(Math.Abs(evaluated - trainingLoss) <= 1e-5 * (1 + Math.Abs(evaluated)), $"{name}: Evaluate {evaluated}, training kernel {trainingLoss}");
    }

    [Fact]
    public void Labels_for_a_target_network_and_targets_for_a_label_network_are_clear_errors()
    {
        using var regression = new FitRegression(4, threads: 1);
        var error = Assert.Throws<ArgumentException>(() => regression.Fit(FitTestData.Blobs(8, dims: 3), new Sgd(), Quiet(1)));
        Assert.Contains("takes 1 float target(s) per sample", error.Message);
        var size = Assert.Throws<ArgumentException>(() => regression.Evaluate(new MemoryDataSource(new float[6], new float[4], 3, 2)));
        Assert.Contains("2 target(s) per sample; the network has 1", size.Message);
    }

    [Fact]
    public void Loss_metric_rejects_sparse_cross_entropy_and_hinge_converts_binary_batches()
    {
        Assert.Throws<ArgumentException>(() => new LossMetric(Loss.SparseCategoricalCrossEntropy));
        var hinge = new LossMetric(Loss.Hinge);
        hinge.Update(new MetricBatch([0.5f, -0.5f], 1, [1f, 0f], 1)); // 0/1 targets: -1/+1, margins 0.5 each
        Assert.Equal(0.5, hinge.Result, 6);
        hinge.Reset();
        hinge.Update(new MetricBatch([0.5f, -0.5f], 1, [1f, 0.5f], 1)); // not all 0/1: used as they are
        Assert.Equal((0.5 + 1.25) / 2, hinge.Result, 6);
    }
}

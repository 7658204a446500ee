using NetDsl.Optimizers;
using NetDsl.Tests.Numerics;
using Xunit;

namespace NetDsl.Tests.Runtime;

/// <summary>The public surface of a generated network: argument validation, lifetime, initialisation, freezing, determinism.</summary>
public class NetworkApiTests
{
    private const int Batch = 8;

    private static (float[] X, int[] Labels) Data(int rows, int seed, int inputs = 13, int classes = 5)
    {
        var random = new Random(seed);
        return (NetworkFactory.RandomFloats(random, rows * inputs), NetworkFactory.RandomLabels(random, rows, classes));
    }

    [Fact]
    public void Shapes_and_counts_are_reported()
    {
        using var net = new Net13x7x5(Batch, threads: 1);
        Assert.Equal(13, net.InputSize);
        Assert.Equal(5, net.OutputSize);
        Assert.Equal(Batch, net.BatchSize);
        Assert.Equal(1, net.Threads);
        Assert.Equal(13 * 7 + 7 + 7 * 5 + 5, net.ParameterCount);
        Assert.Equal(2, net.Layers.Count);
        var hidden = Assert.IsType<DenseLayer>(net.Layers[0]);
        Assert.Same(net.Hidden, hidden);
        Assert.Equal((13, 7, Activation.ReLU, true), (hidden.Inputs, hidden.Units, hidden.Activation, hidden.UseBias));
        Assert.Equal(13 * 7, hidden.Weights.Length);
        Assert.Equal(7, hidden.Bias.Length);
        Assert.Equal([7], hidden.OutputShape.ToArray());
        Assert.True(net.Parameters.Length >= net.ParameterCount);
        Assert.Equal(net.Parameters.Length, net.Gradients.Length);
    }

    [Fact]
    public void Constructor_validates_batch_size_and_threads()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Net13x7x5(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Net13x7x5(-3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Net13x7x5(4, threads: -1));
    }

    [Fact]
    public void Input_length_not_a_multiple_of_InputSize_is_rejected_with_the_numbers()
    {
        using var net = new Net13x7x5(Batch, threads: 1);
        var sgd = new Sgd();
        var e = Assert.Throws<ArgumentException>(() => net.ComputeGradients(new float[27], new int[2]));
        Assert.Equal("inputs", e.ParamName);
        Assert.Contains("27", e.Message);
        Assert.Contains("13", e.Message);
        Assert.Throws<ArgumentException>(() => net.TrainStep(new float[14], new int[1], sgd));
        var p = Assert.Throws<ArgumentException>(() => net.Predict(new float[12], new float[5]));
        Assert.Contains("12", p.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(Batch + 1)]
    [InlineData(3 * Batch)]
    public void Zero_or_too_many_samples_are_rejected_with_the_numbers(int rows)
    {
        using var net = new Net13x7x5(Batch, threads: 1);
        var e = Assert.Throws<ArgumentException>(() => net.ComputeGradients(new float[rows * 13], new int[rows]));
        Assert.Equal("inputs", e.ParamName);
        Assert.Contains(rows.ToString(), e.Message);
        Assert.Contains(Batch.ToString(), e.Message);
        Assert.Throws<ArgumentException>(() => net.TrainStep(new float[rows * 13], new int[rows], new Sgd()));
    }

    [Theory]
    [InlineData(3, 2)]
    [InlineData(3, 4)]
    [InlineData(1, 0)]
    public void Label_count_mismatch_is_rejected_with_the_numbers(int rows, int labelCount)
    {
        using var net = new Net13x7x5(Batch, threads: 1);
        var e = Assert.Throws<ArgumentException>(() => net.ComputeGradients(new float[rows * 13], new int[labelCount]));
        Assert.Equal("labels", e.ParamName);
        Assert.Contains(rows.ToString(), e.Message);
        Assert.Contains(labelCount.ToString(), e.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5)]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    public void Labels_out_of_range_are_rejected_with_the_numbers(int label)
    {
        using var net = new Net13x7x5(Batch, threads: 1);
        var (x, labels) = Data(4, 1);
        labels[2] = label;
        float[] before = net.Parameters.ToArray();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => net.TrainStep(x, labels, new Sgd()));
        Assert.Equal("labels", e.ParamName);
        Assert.Contains(label.ToString(), e.Message);
        Assert.Contains("5", e.Message);
        Assert.Equal(label, e.ActualValue);
        Assert.Equal(before, net.Parameters.ToArray()); // nothing was updated
    }

    [Theory]
    [InlineData(3, 14)]
    [InlineData(3, 16)]
    [InlineData(3, 0)]
    [InlineData(0, 5)]
    public void Predict_with_the_wrong_output_length_is_rejected_with_the_numbers(int rows, int outputLength)
    {
        using var net = new Net13x7x5(Batch, threads: 1);
        var e = Assert.Throws<ArgumentException>(() => net.Predict(new float[rows * 13], new float[outputLength]));
        Assert.Equal("outputs", e.ParamName);
        Assert.Contains((rows * 5).ToString(), e.Message);
        Assert.Contains(outputLength.ToString(), e.Message);
    }

    [Fact]
    public void Predict_on_zero_samples_does_nothing()
    {
        using var net = new Net13x7x5(Batch, threads: 1);
        net.Predict(ReadOnlySpan<float>.Empty, Span<float>.Empty);
    }

    [Fact]
    public void Null_optimizer_is_rejected()
    {
        using var net = new Net13x7x5(Batch, threads: 1);
        var (x, labels) = Data(2, 1);
        Assert.Throws<ArgumentNullException>(() => net.TrainStep(x, labels, null!));
    }

    [Fact]
    public void An_optimizer_asking_for_too_much_state_is_rejected()
    {
        using var net = new Net13x7x5(Batch, threads: 1);
        var (x, labels) = Data(2, 1);
        var e = Assert.Throws<ArgumentException>(() => net.TrainStep(x, labels, new GreedyOptimizer()));
        Assert.Contains("3", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Use_after_Dispose_throws_ObjectDisposedException(int threads)
    {
        var net = new Net13x7x5(Batch, threads: threads);
        var (x, labels) = Data(2, 1);
        net.TrainStep(x, labels, new Sgd());
        net.Dispose();
        net.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => net.ComputeGradients(x, labels));
        Assert.Throws<ObjectDisposedException>(() => net.TrainStep(x, labels, new Sgd()));
        Assert.Throws<ObjectDisposedException>(() => net.Predict(x, new float[10]));
        Assert.Throws<ObjectDisposedException>(() => net.Hidden.Weights.Length);
        Assert.Throws<ObjectDisposedException>(() => net.Parameters.Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Predict_on_more_samples_than_the_batch_equals_per_sample_Predict(int threads)
    {
        using var net = new Net40x130x10(Batch, seed: 4, threads: threads);
        NetworkFactory.RandomizeBiases(net, new Random(2));
        const int Rows = 3 * Batch + 5;
        float[] x = NetworkFactory.RandomFloats(new Random(8), Rows * 40);
        var all = new float[Rows * 10];
        net.Predict(x, all);
        var one = new float[10];
        for (int r = 0; r < Rows; r++)
        {
            net.Predict(x.AsSpan(r * 40, 40), one);
            float[] chunk = all.AsSpan(r * 10, 10).ToArray();
            for (int k = 0; k < 10; k++)
            {
                // One row alone runs through the 1-row GEMM tile, in a batch through the 8-row tile: the same
                // math summed in another order, so equal up to float rounding.
                Assert.True(Math.Abs(chunk[k] - one[k]) <= 1e-6f, $"sample {r} class {k}: {chunk[k]} vs {one[k]}");
            }

            Assert.Equal(Evaluation.ArgMax(one), Evaluation.ArgMax(chunk));
        }
    }

    [Fact]
    public void Predict_does_not_change_parameters_or_gradients()
    {
        using var net = new Deep4(Batch, seed: 2, threads: 1);
        var (x, labels) = Data(Batch, 3, 20, 4);
        net.ComputeGradients(x, labels);
        float[] parameters = net.Parameters.ToArray();
        float[] gradients = net.Gradients.ToArray();
        net.Predict(NetworkFactory.RandomFloats(new Random(1), 2 * Batch * 20), new float[2 * Batch * 4]);
        Assert.Equal(parameters, net.Parameters.ToArray());
        Assert.Equal(gradients, net.Gradients.ToArray());
    }

    [Fact]
    public void Same_seed_gives_identical_initial_weights_and_different_seeds_differ()
    {
        using var a = new Net40x130x10(Batch, seed: 7, threads: 1);
        using var b = new Net40x130x10(2 * Batch, seed: 7, threads: 2);
        using var c = new Net40x130x10(Batch, seed: 8, threads: 1);
        Assert.Equal(a.Parameters.ToArray(), b.Parameters.ToArray());
        Assert.NotEqual(a.Hidden.Weights.ToArray(), c.Hidden.Weights.ToArray());
        Assert.NotEqual(a.Output.Weights.ToArray(), c.Output.Weights.ToArray());

        // Layers draw from one stream: the second layer's weights are not a copy of the first layer's.
        Assert.NotEqual(a.Hidden.Weights[..10].ToArray(), a.Output.Weights[..10].ToArray());
    }

    [Fact]
    public void Initial_weights_are_Glorot_uniform_and_biases_zero()
    {
        using var net = new Deep4(Batch, seed: 11, threads: 1);
        foreach (var layer in net.Layers.Cast<DenseLayer>())
        {
            double limit = Math.Sqrt(6.0 / (layer.Inputs + layer.Units));
            float[] w = layer.Weights.ToArray();
            double max = w.Max(v => Math.Abs(v));
            double mean = w.Average(v => (double)v);
            double variance = w.Average(v => (double)v * v);
            Assert.True(max <= limit, $"{layer.Name}: |w| up to {max}, limit {limit}");
            // U(-l, l) has variance l^2 / 3; with n >= 36 samples the estimates are within these loose bounds.
            Assert.True(max >= 0.8 * limit, $"{layer.Name}: |w| only up to {max}, limit {limit}");
            Assert.True(Math.Abs(mean) <= 0.25 * limit, $"{layer.Name}: mean {mean}");
            Assert.InRange(variance / (limit * limit / 3), 0.6, 1.4);
            Assert.True(layer.Bias.IndexOfAnyExcept(0f) < 0, $"{layer.Name}: bias not zero");
        }

        // Padding between tensors is zero too (the Parameters doc promises it).
        double sumOfSquares = 0;
        foreach (float v in net.Parameters)
        {
            sumOfSquares += (double)v * v;
        }

        double layerSum = net.Layers.Cast<DenseLayer>().Sum(l => l.Weights.ToArray().Sum(v => (double)v * v));
        Assert.Equal(layerSum, sumOfSquares, 9);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_frozen_layer_keeps_its_parameters_bit_identical_while_the_others_train(int threads)
    {
        using var net = new Deep4(Batch, seed: 5, threads: threads);
        NetworkFactory.RandomizeBiases(net, new Random(6));
        net.L2.Trainable = false;
        var initial = net.Layers.Cast<DenseLayer>().Select(l => (W: l.Weights.ToArray(), B: l.Bias.ToArray())).ToArray();
        var sgd = new Sgd(0.05f, 0.9f);
        for (int step = 0; step < 20; step++)
        {
            var (x, labels) = Data(step % 3 == 0 ? 5 : Batch, 100 + step, 20, 4);
            net.TrainStep(x, labels, sgd);
        }

        Assert.Equal(initial[1].W, net.L2.Weights.ToArray());
        Assert.Empty(net.L2.Bias.ToArray());
        foreach (int l in new[] { 0, 2, 3 })
        {
            var layer = (DenseLayer)net.Layers[l];
            Assert.NotEqual(initial[l].W, layer.Weights.ToArray());
            Assert.NotEqual(initial[l].B, layer.Bias.ToArray());
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Freezing_every_layer_but_the_top_still_trains_the_top(int threads)
    {
        using var net = new Deep4(Batch, seed: 5, threads: threads);
        foreach (var layer in net.Layers.Take(3))
        {
            layer.Trainable = false;
        }

        var below = net.Layers.Take(3).Cast<DenseLayer>().Select(l => (W: l.Weights.ToArray(), B: l.Bias.ToArray())).ToArray();
        float[] top = net.L4.Weights.ToArray();
        var (x, labels) = Data(Batch, 9, 20, 4);
        var sgd = new Sgd(0.1f);
        float first = net.TrainStep(x, labels, sgd);
        float last = first;
        for (int step = 0; step < 30; step++)
        {
            last = net.TrainStep(x, labels, sgd);
        }

        Assert.True(last < first, $"loss went from {first} to {last}");
        Assert.NotEqual(top, net.L4.Weights.ToArray());
        Assert.NotEqual(0f, net.L4.Bias[0]);
        for (int l = 0; l < 3; l++)
        {
            var layer = (DenseLayer)net.Layers[l];
            Assert.Equal(below[l].W, layer.Weights.ToArray());
            Assert.Equal(below[l].B, layer.Bias.ToArray());
        }

    }

    [Fact]
    public void Unfreezing_resumes_training()
    {
        using var net = new Net13x7x5(Batch, seed: 1, threads: 1);
        net.Hidden.Trainable = false;
        var (x, labels) = Data(Batch, 2);
        var sgd = new Sgd(0.1f);
        net.TrainStep(x, labels, sgd);
        float[] hidden = net.Hidden.Weights.ToArray();
        net.Hidden.Trainable = true;
        net.TrainStep(x, labels, sgd);
        Assert.NotEqual(hidden, net.Hidden.Weights.ToArray());
    }

    [Theory]
    [InlineData(nameof(Net40x130x10))]
    [InlineData(nameof(Deep4))]
    [InlineData(nameof(HiddenSoftmaxNet))]
    public void Identically_seeded_single_thread_networks_train_bit_identically(string name)
    {
        using var a = NetworkFactory.Create(name, 16, seed: 21, threads: 1);
        using var b = NetworkFactory.Create(name, 16, seed: 21, threads: 1);
        var sgdA = new Sgd(0.05f, 0.9f, nesterov: true);
        var sgdB = new Sgd(0.05f, 0.9f, nesterov: true);
        var random = new Random(3);
        for (int step = 0; step < 15; step++)
        {
            int rows = step % 4 == 3 ? 7 : 16;
            float[] x = NetworkFactory.RandomFloats(random, rows * a.InputSize);
            int[] labels = NetworkFactory.RandomLabels(random, rows, a.OutputSize);
            float lossA = a.TrainStep(x, labels, sgdA);
            float lossB = b.TrainStep(x, labels, sgdB);
            Assert.Equal(lossA, lossB);
        }

        Assert.Equal(a.Parameters.ToArray(), b.Parameters.ToArray());
        using var fresh = NetworkFactory.Create(name, 16, seed: 21, threads: 1);
        Assert.NotEqual(fresh.Parameters.ToArray(), a.Parameters.ToArray());
    }

    [Fact]
    public void Switching_optimizer_instances_restarts_the_momentum()
    {
        // With fresh state, one momentum step equals one plain step (v = -lr g): a second network that switches
        // optimizer instances must match a network that only ever used plain SGD for its first step after the switch.
        using var a = new Net13x7x5(Batch, seed: 3, threads: 1);
        using var b = new Net13x7x5(Batch, seed: 3, threads: 1);
        var (x1, l1) = Data(Batch, 30);
        var (x2, l2) = Data(Batch, 31);
        a.TrainStep(x1, l1, new Sgd(0.1f, 0.9f));
        b.TrainStep(x1, l1, new Sgd(0.1f, 0.9f));
        Assert.Equal(a.Parameters.ToArray(), b.Parameters.ToArray());
        a.TrainStep(x2, l2, new Sgd(0.1f, 0.9f)); // new instance: velocity restarts from zero
        b.TrainStep(x2, l2, new Sgd(0.1f));
        float[] pa = a.Parameters.ToArray(), pb = b.Parameters.ToArray();
        for (int i = 0; i < pa.Length; i++)
        {
            Assert.True(Math.Abs(pa[i] - pb[i]) <= 1e-6f, $"parameter {i}: {pa[i]} vs {pb[i]}");
        }
    }

    [Fact]
    public void With_every_layer_frozen_TrainStep_returns_the_loss_and_changes_nothing()
    {
        using var net = new Deep4(Batch, seed: 4, threads: 2);
        foreach (var layer in net.Layers)
        {
            layer.Trainable = false;
        }

        var (x, labels) = Data(Batch, 12, 20, 4);
        float[] before = net.Parameters.ToArray();
        float loss = net.TrainStep(x, labels, new Sgd(0.5f, 0.9f));
        Assert.Equal(before, net.Parameters.ToArray());
        var reference = ReferenceMlp.From(net);
        Assert.Equal(reference.Loss(NetworkFactory.Widen(x), labels, Batch), loss, 5);
    }

    /// <summary>Two networks training at the same time on different threads do not share any scratch state.</summary>
    [Fact]
    public void Networks_trained_concurrently_match_networks_trained_alone()
    {
        const int Steps = 40;
        var batches = Enumerable.Range(0, Steps).Select(s => Data(Batch, 500 + s, 40, 10)).ToArray();

        float[] Train(int seed)
        {
            using var net = new Net40x130x10(Batch, seed: seed, threads: 1);
            var sgd = new Sgd(0.05f, 0.9f);
            foreach (var (x, labels) in batches)
            {
                net.TrainStep(x, labels, sgd);
            }

            return net.Parameters.ToArray();
        }

        float[] aloneA = Train(1), aloneB = Train(2);
        float[]? concurrentA = null, concurrentB = null;
        var threadA = new Thread(() => concurrentA = Train(1));
        var threadB = new Thread(() => concurrentB = Train(2));
        threadA.Start();
        threadB.Start();
        threadA.Join();
        threadB.Join();
        Assert.Equal(aloneA, concurrentA);
        Assert.Equal(aloneB, concurrentB);
        Assert.NotEqual(aloneA, aloneB);
    }

    [Fact]
    public void Accuracy_is_the_fraction_of_argmax_predictions_equal_to_the_label()
    {
        using var net = new Net13x7x5(Batch, seed: 6, threads: 1);
        NetworkFactory.RandomizeBiases(net, new Random(1));
        var (x, _) = Data(21, 40);
        var outputs = new float[21 * 5];
        net.Predict(x, outputs);
        int[] labels = new int[21];
        for (int i = 0; i < 21; i++)
        {
            int predicted = Evaluation.ArgMax(outputs.AsSpan(i * 5, 5));
            labels[i] = i % 3 == 0 ? (predicted + 1) % 5 : predicted; // 7 of 21 wrong
        }

        var data = new NetDsl.Data.Dataset(x, labels, 13);
        Assert.Equal(14.0 / 21, Evaluation.Accuracy(net, data), 12);
        Assert.Throws<ArgumentException>(() => Evaluation.Accuracy(net, new NetDsl.Data.Dataset(new float[12], [0], 12)));
        Assert.Equal(1, Evaluation.ArgMax([1f, 3f, 3f, 2f])); // the first of ties
    }

    private sealed class GreedyOptimizer : IOptimizer
    {
        public int StateSlots => 3;

        public float LearningRate { get; set; }

        public long Iterations { get; set; }

        public OptimizerOptions Options => OptimizerOptions.Default;

        public void BeginStep()
        {
        }

        public void Update(in ParameterSlice slice)
        {
        }
    }
}

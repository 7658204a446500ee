using NetDsl.Optimizers;
using Xunit;

namespace NetDsl.Tests.Numerics;

// Every loss through a generated network: the loss kernel the generator wires to the head (activation fused), the
// gradient that flows back through the hidden layer, and the float-target API. The reference is independent of the
// kernels: a double-precision forward pass (ReferenceMlp) and the double loss model (LossReference), differentiated by
// central finite differences over every parameter.

public sealed class LossNetworkTests
{
    private const int Rows = 6;

    public static TheoryData<string> Networks => new(
        nameof(LossMse), nameof(LossMae), nameof(LossMape), nameof(LossMsle), nameof(LossHinge), nameof(LossSquaredHinge),
        nameof(LossCce), nameof(LossCceLogits), nameof(LossBce), nameof(LossBceLogits));

    internal static Network Create(string name, int batch, int threads) => name switch
    {
        nameof(LossMse) => new LossMse(batch, seed: 3, threads: threads),
        nameof(LossMae) => new LossMae(batch, seed: 3, threads: threads),
        nameof(LossMape) => new LossMape(batch, seed: 3, threads: threads),
        nameof(LossMsle) => new LossMsle(batch, seed: 3, threads: threads),
        nameof(LossHinge) => new LossHinge(batch, seed: 3, threads: threads),
        nameof(LossSquaredHinge) => new LossSquaredHinge(batch, seed: 3, threads: threads),
        nameof(LossCce) => new LossCce(batch, seed: 3, threads: threads),
        nameof(LossCceLogits) => new LossCceLogits(batch, seed: 3, threads: threads),
        nameof(LossBce) => new LossBce(batch, seed: 3, threads: threads),
        nameof(LossBceLogits) => new LossBceLogits(batch, seed: 3, threads: threads),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>The activation the loss applies: cross-entropies on a Linear head see logits (softmax / sigmoid fused).</summary>
    private static OutputName HeadActivation(Network network)
    {
        var head = (DenseLayer)network.Layers[^1];
        return network.Loss switch
        {
            Loss.CategoricalCrossEntropy => OutputName.Softmax,
            Loss.BinaryCrossEntropy => OutputName.Sigmoid,
            _ => Enum.Parse<OutputName>(head.Activation.ToString()),
        };
    }

    internal static float[] Targets(Loss loss, int rows, int k, Random random)
    {
        var t = new float[rows * k];
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int j = 0; j < k; j++)
            {
                float v = loss switch
                {
                    Loss.CategoricalCrossEntropy => (float)random.NextDouble(),
                    Loss.BinaryCrossEntropy => random.Next(3) == 0 ? (float)random.NextDouble() : random.Next(2),
                    Loss.Hinge or Loss.SquaredHinge => random.Next(2) * 2 - 1,
                    Loss.MeanAbsolutePercentageError => (float)(0.2 + random.NextDouble()) * (random.Next(2) * 2 - 1),
                    Loss.MeanSquaredLogarithmicError => (float)(random.NextDouble() * 2),
                    _ => (float)(random.NextDouble() * 2 - 1),
                };
                t[r * k + j] = v;
                sum += v;
            }

            if (loss == Loss.CategoricalCrossEntropy)
            {
                for (int j = 0; j < k; j++)
                {
                    t[r * k + j] = (float)(t[r * k + j] / sum); // a distribution per row
                }
            }
        }

        return t;
    }

    private static LossName Name(Loss loss) => Enum.Parse<LossName>(loss.ToString());

    /// <summary>Mean loss over the rows of the double reference network.</summary>
    private static double ReferenceLoss(ReferenceMlp reference, Loss loss, OutputName act, double[] x, float[] targets, int rows)
    {
        var (z, _) = reference.Forward(x, rows);
        int k = reference.OutputSize;
        double[] t = loss is Loss.Hinge or Loss.SquaredHinge ? LossReference.HingeTargets(targets) : [.. targets.Select(v => (double)v)];
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            total += LossReference.Loss(Name(loss), act, z[^1][(r * k)..((r + 1) * k)], t[(r * k)..((r + 1) * k)]);
        }

        return total / rows;
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Loss_and_every_gradient_match_finite_differences_of_a_double_reference(string name)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            var random = new Random(name.Length * 31 + threads);
            using var network = Create(name, Rows, threads);
            var reference = ReferenceMlp.From(network);
            var act = HeadActivation(network);
            float[] x = [.. Enumerable.Range(0, Rows * network.InputSize).Select(_ => (float)(random.NextDouble() * 2 - 1))];
            double[] xd = [.. x.Select(v => (double)v)];
            float[] t = Targets(network.Loss, Rows, network.OutputSize, random);

            float loss = network.ComputeGradients(x, t);
            double expectedLoss = ReferenceLoss(reference, network.Loss, act, xd, t, Rows);
            // float32 forward + loss: a few ulps of the values involved (MAPE is scaled by 100 / |t| >= 100 / 1.2).
            Assert.True(Math.Abs(loss - expectedLoss) <= 2e-5 * (1 + Math.Abs(expectedLoss)), $"{name}: loss {loss}, reference {expectedLoss}");

            const double H = 1e-6;
            for (int l = 0; l < reference.Layers.Length; l++)
            {
                var layer = (DenseLayer)network.Layers[l];
                foreach (var (values, gradients, what) in new[]
                {
                    (reference.Layers[l].W, layer.WeightGradients.ToArray(), "W"),
                    (reference.Layers[l].B!, layer.BiasGradients.ToArray(), "b"),
                })
                {
                    var fd = new double[values.Length];
                    for (int i = 0; i < values.Length; i++)
                    {
                        double keep = values[i];
                        values[i] = keep + H;
                        double up = ReferenceLoss(reference, network.Loss, act, xd, t, Rows);
                        values[i] = keep - H;
                        double down = ReferenceLoss(reference, network.Loss, act, xd, t, Rows);
                        values[i] = keep;
                        fd[i] = (up - down) / (2 * H);
                    }

                    double scale = fd.Max(Math.Abs) + 1e-3;
                    for (int i = 0; i < fd.Length; i++)
                    {
                        // float32 backward vs double central differences (truncation ~H^2, rounding ~1e-16/H): 1e-3 of the
                        // layer's largest gradient leaves room for float32 accumulation only, not for a wrong term.
                        Assert.True(Math.Abs(gradients[i] - fd[i]) <= 1e-3 * (Math.Abs(fd[i]) + scale),
                            $"{name} threads {threads}: d{what}{l}[{i}] = {gradients[i]}, finite differences {fd[i]}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Predict_returns_the_heads_activation_of_the_reference(string name)
    {
        var random = new Random(name.Length);
        using var network = Create(name, 4, 1);
        var reference = ReferenceMlp.From(network);
        var act = HeadActivation(network);
        float[] x = [.. Enumerable.Range(0, 7 * network.InputSize).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        var y = new float[7 * network.OutputSize];
        network.Predict(x, y);
        var (z, _) = reference.Forward([.. x.Select(v => (double)v)], 7);
        int k = network.OutputSize;
        for (int r = 0; r < 7; r++)
        {
            double[] expected = LossReference.Activate(act, z[^1][(r * k)..((r + 1) * k)]);
            for (int j = 0; j < k; j++)
            {
                Assert.True(Math.Abs(y[r * k + j] - expected[j]) <= 1e-5 * (1 + Math.Abs(expected[j])), $"{name}: output {r},{j} = {y[r * k + j]}, reference {expected[j]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Training_with_sgd_lowers_the_loss_on_a_fixed_batch(string name)
    {
        var random = new Random(7);
        using var network = Create(name, 32, 2);
        float[] x = [.. Enumerable.Range(0, 32 * network.InputSize).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        float[] t = Targets(network.Loss, 32, network.OutputSize, random);
        if (network.Loss == Loss.CategoricalCrossEntropy)
        {
            // One-hot rows: soft targets bound the loss below by their entropy, so it could not fall by much.
            int k = network.OutputSize;
            t = new float[32 * k];
            for (int r = 0; r < 32; r++)
            {
                t[r * k + random.Next(k)] = 1;
            }
        }

        var sgd = new Sgd(0.05f, momentum: 0.9f);
        float first = network.TrainStep(x, t, sgd);
        float last = first;
        for (int i = 0; i < 200; i++)
        {
            last = network.TrainStep(x, t, sgd);
        }

        Assert.True(last < 0.9 * first, $"{name}: loss {first} -> {last} after 200 steps on a fixed batch");
    }

    [Fact]
    public void The_wrong_kind_of_target_is_a_clear_error()
    {
        using var regression = new LossMse(4, threads: 1);
        var error = Assert.Throws<InvalidOperationException>(() => regression.ComputeGradients(new float[8], new int[2]));
        Assert.Contains("MeanSquaredError", error.Message);
        Assert.Contains("float target", error.Message);
        var size = Assert.Throws<ArgumentException>(() => regression.ComputeGradients(new float[8], new float[5]));
        Assert.Contains("6 targets", size.Message);
        var nan = Assert.Throws<ArgumentException>(() => regression.ComputeGradients(new float[8], [0, 0, 0, 0, float.NaN, 0]));
        Assert.Contains("sample 1, output 1", nan.Message);
        Assert.False(regression.TakesClassLabels);
        Assert.Equal(Loss.MeanSquaredError, regression.Loss);
    }
}

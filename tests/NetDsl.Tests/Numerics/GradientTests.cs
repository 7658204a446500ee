using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Numerics;

/// <summary>
/// The generated networks' loss, gradients and predictions against the double-precision <see cref="ReferenceMlp"/>
/// (itself checked against finite differences in <see cref="ReferenceMlpTests"/>).
/// </summary>
/// <remarks>
/// Tolerances. The network computes in float32 (eps = 6e-8) with FMA accumulation over K &lt;= 130 terms per
/// dot product (forward), over the batch (&lt;= 24 rows) for weight gradients, and through up to four layers whose
/// derivatives (sigmoid, tanh, softmax) are formed from rounded float activations, plus a vectorised exp with a few
/// ulps of error. The standard worst-case bound for one dot product is K * eps * Σ|a_k b_k| ~ 130 * 6e-8 ~ 1e-5
/// relative to the sum of magnitudes; errors are random in practice (~sqrt(K) eps ~ 1e-6) and compound over the
/// layers. Cancellation makes individual small gradient entries relatively inaccurate, so the elementwise bound is
/// scaled by the tensor's largest entry: |g - ref| &lt;= 1e-4 |ref| + 2e-5 max|ref|, and the tensor as a whole must
/// satisfy ||g - ref|| / ||ref|| &lt;= 2e-5. The loss must match within 2e-6 (1 + loss) and probabilities within
/// 2e-6 absolute. Measured worst cases over all networks, batch sizes and thread counts (AVX-512 machine): elementwise
/// |g - ref| / (|ref| + max|ref|) 7.4e-7 and ||g - ref|| / ||ref|| 1.0e-6 (Net1x5x2), loss 7.6e-8 relative,
/// probabilities 9.3e-8 absolute: 10x to 30x below the bounds, while any indexing, transposition, missing-bias,
/// stale-row or wrong-derivative bug produces errors of order 1.
/// </remarks>
public class GradientTests(ITestOutputHelper output)
{
    private const int FullBatch = 24;
    private static readonly int[] BatchSizes = [FullBatch, 1, 3, 17, 8];

    private const double ElementRelative = 1e-4;
    private const double ElementScale = 2e-5;
    private const double NormRelative = 2e-5;
    private const double LossRelative = 2e-6;
    private const double ProbabilityAbsolute = 2e-6;

    /// <summary>
    /// With inputs 60x larger, pre-activations reach |z| ~ 100 and their float rounding error grows in proportion
    /// (~|z| eps sqrt(K), up to ~1e-4 absolute). Saturated sigmoid/tanh derivatives and softmax outputs turn that
    /// absolute error of z into a relative error of the same size (d e^z / e^z = dz), and derivatives formed from
    /// rounded outputs near 0 or 1 (y(1 - y), 1 - y^2) lose further digits. This is the conditioning of the problem
    /// in float32, not an implementation error, so the saturated tests multiply the tolerances by 30. Measured worst:
    /// ~8x the normal tolerance, for the hidden softmax of HiddenSoftmaxNet; ~0.2x for the sigmoid/tanh networks.
    /// </summary>
    private const double SaturatedLooseness = 30;

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in NetworkFactory.Names)
        {
            data.Add(name, 1);
            data.Add(name, 2);
        }

        // Three parts: partitions that are not halves (oversubscribes a 2-core machine; kept to two networks).
        data.Add(nameof(Net40x130x10), 3);
        data.Add(nameof(Deep4), 3);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ComputeGradients_matches_the_double_reference(string name, int threads)
    {
        var random = new Random(name.Length * 31 + threads);
        using var network = NetworkFactory.Create(name, FullBatch, seed: 5, threads: threads);
        NetworkFactory.RandomizeBiases(network, random);
        var reference = ReferenceMlp.From(network);
        var stats = new ErrorStats();

        foreach (int rows in BatchSizes)
        {
            float[] x = NetworkFactory.RandomFloats(random, rows * network.InputSize);
            int[] labels = NetworkFactory.RandomLabels(random, rows, network.OutputSize);

            float loss = network.ComputeGradients(x, labels);
            var expected = reference.Gradients(NetworkFactory.Widen(x), labels, rows);

            double lossError = Math.Abs(loss - expected.Loss);
            stats.Loss = Math.Max(stats.Loss, lossError / (1 + expected.Loss));
            Assert.True(lossError <= LossRelative * (1 + expected.Loss), $"{name} rows {rows}: loss {loss}, reference {expected.Loss}");

            for (int l = 0; l < network.Layers.Count; l++)
            {
                var layer = (DenseLayer)network.Layers[l];
                CompareTensor(layer.WeightGradients, expected.Weights[l], $"{name} threads {threads} rows {rows} {layer.Name}.WeightGradients", stats);
                if (layer.UseBias)
                {
                    CompareTensor(layer.BiasGradients, expected.Biases[l]!, $"{name} threads {threads} rows {rows} {layer.Name}.BiasGradients", stats);
                }
                else
                {
                    Assert.True(layer.BiasGradients.IsEmpty);
                    Assert.Null(expected.Biases[l]);
                }
            }
        }

        output.WriteLine($"{name}, threads {threads}: {stats}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Predict_matches_the_reference_probabilities(string name, int threads)
    {
        var random = new Random(name.Length * 17 + threads);
        using var network = NetworkFactory.Create(name, FullBatch, seed: 9, threads: threads);
        NetworkFactory.RandomizeBiases(network, random);
        var reference = ReferenceMlp.From(network);
        double worst = 0;

        // Up to 2.5 batches: Predict chunks by BatchSize, the last chunk partial.
        foreach (int rows in new[] { 1, 3, 17, FullBatch, 2 * FullBatch + 5 })
        {
            float[] x = NetworkFactory.RandomFloats(random, rows * network.InputSize);
            var predicted = new float[rows * network.OutputSize];
            network.Predict(x, predicted);
            double[] expected = reference.Probabilities(NetworkFactory.Widen(x), rows);
            for (int i = 0; i < expected.Length; i++)
            {
                double error = Math.Abs(predicted[i] - expected[i]);
                worst = Math.Max(worst, error);
                Assert.True(error <= ProbabilityAbsolute, $"{name} rows {rows} output {i}: {predicted[i]} vs {expected[i]}");
            }

            for (int r = 0; r < rows; r++)
            {
                double sum = 0;
                for (int k = 0; k < network.OutputSize; k++)
                {
                    sum += predicted[r * network.OutputSize + k];
                }

                Assert.Equal(1.0, sum, 5);
            }
        }

        output.WriteLine($"{name}, threads {threads}: worst probability error {worst:E2}");
    }

    /// <summary>
    /// Networks built for batches of 1 and 3 have arenas just big enough for them (no slack rows in which an
    /// off-by-one read or write could hide).
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Networks_built_for_tiny_batches_match_the_reference(string name, int threads)
    {
        var random = new Random(name.Length + 1000 * threads);
        var stats = new ErrorStats();
        foreach (int batchSize in new[] { 1, 3 })
        {
            using var network = NetworkFactory.Create(name, batchSize, seed: batchSize, threads: threads);
            NetworkFactory.RandomizeBiases(network, random);
            var reference = ReferenceMlp.From(network);
            for (int rows = batchSize; rows >= 1; rows -= 2)
            {
                float[] x = NetworkFactory.RandomFloats(random, rows * network.InputSize);
                int[] labels = NetworkFactory.RandomLabels(random, rows, network.OutputSize);
                float loss = network.ComputeGradients(x, labels);
                var expected = reference.Gradients(NetworkFactory.Widen(x), labels, rows);
                Assert.True(Math.Abs(loss - expected.Loss) <= LossRelative * (1 + expected.Loss), $"batch {batchSize} rows {rows}: loss {loss} vs {expected.Loss}");
                for (int l = 0; l < network.Layers.Count; l++)
                {
                    var layer = (DenseLayer)network.Layers[l];
                    CompareTensor(layer.WeightGradients, expected.Weights[l], $"{name} batch {batchSize} rows {rows} {layer.Name}.WeightGradients", stats);
                    if (layer.UseBias)
                    {
                        CompareTensor(layer.BiasGradients, expected.Biases[l]!, $"{name} batch {batchSize} rows {rows} {layer.Name}.BiasGradients", stats);
                    }
                }
            }

            // Predict in chunks of the tiny batch.
            float[] many = NetworkFactory.RandomFloats(random, 7 * network.InputSize);
            var predicted = new float[7 * network.OutputSize];
            network.Predict(many, predicted);
            double[] probabilities = reference.Probabilities(NetworkFactory.Widen(many), 7);
            for (int i = 0; i < predicted.Length; i++)
            {
                Assert.True(Math.Abs(predicted[i] - probabilities[i]) <= ProbabilityAbsolute, $"batch {batchSize} output {i}: {predicted[i]} vs {probabilities[i]}");
            }
        }
    }

    /// <summary>
    /// Large inputs drive sigmoid and tanh units deep into saturation (and the vectorised exp towards overflow): the
    /// results must stay finite and still match the reference within the same tolerances.
    /// </summary>
    [Theory]
    [InlineData(nameof(Deep4), 1)]
    [InlineData(nameof(NoBiasFirstNet), 2)]
    [InlineData(nameof(Net33x17x3), 1)]
    [InlineData(nameof(HiddenSoftmaxNet), 2)]
    public void Saturated_activations_stay_finite_and_match_the_reference(string name, int threads)
    {
        var random = new Random(99);
        using var network = NetworkFactory.Create(name, FullBatch, seed: 13, threads: threads);
        NetworkFactory.RandomizeBiases(network, random, 3f);
        var reference = ReferenceMlp.From(network);
        var stats = new ErrorStats();
        double worstProbability = 0;
        foreach (int rows in new[] { FullBatch, 5 })
        {
            float[] x = NetworkFactory.RandomFloats(random, rows * network.InputSize, 60f);
            int[] labels = NetworkFactory.RandomLabels(random, rows, network.OutputSize);
            float loss = network.ComputeGradients(x, labels);
            var expected = reference.Gradients(NetworkFactory.Widen(x), labels, rows);
            Assert.True(float.IsFinite(loss));
            Assert.True(Math.Abs(loss - expected.Loss) <= LossRelative * (1 + expected.Loss), $"loss {loss} vs {expected.Loss}");
            Assert.True(network.Gradients.IndexOfAnyExcept(0f) >= 0, "all gradients vanished");
            foreach (float g in network.Gradients)
            {
                Assert.True(float.IsFinite(g), "non-finite gradient");
            }

            for (int l = 0; l < network.Layers.Count; l++)
            {
                var layer = (DenseLayer)network.Layers[l];
                CompareTensor(layer.WeightGradients, expected.Weights[l], $"{name} saturated rows {rows} {layer.Name}.WeightGradients", stats, SaturatedLooseness);
                if (layer.UseBias)
                {
                    CompareTensor(layer.BiasGradients, expected.Biases[l]!, $"{name} saturated rows {rows} {layer.Name}.BiasGradients", stats, SaturatedLooseness);
                }
            }

            var predicted = new float[rows * network.OutputSize];
            network.Predict(x, predicted);
            double[] probabilities = reference.Probabilities(NetworkFactory.Widen(x), rows);
            for (int i = 0; i < predicted.Length; i++)
            {
                double error = Math.Abs(predicted[i] - probabilities[i]);
                worstProbability = Math.Max(worstProbability, error);
                Assert.True(error <= ProbabilityAbsolute * SaturatedLooseness, $"output {i}: {predicted[i]} vs {probabilities[i]}");
            }
        }

        output.WriteLine($"{name} saturated, threads {threads}: {stats}, worst probability error {worstProbability:E2}");
    }

    /// <summary>
    /// Frozen layers get no gradient, but the gradient must still flow through them to the trainable layers below:
    /// every combination of frozen layers in the 4-layer network leaves the trainable layers' gradients equal to the
    /// reference (which knows nothing about freezing: freezing must not change the math).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Gradients_of_trainable_layers_are_unaffected_by_frozen_layers(int threads)
    {
        var random = new Random(4242 + threads);
        using var network = new Deep4(FullBatch, seed: 3, threads: threads);
        NetworkFactory.RandomizeBiases(network, random);
        var reference = ReferenceMlp.From(network);
        var stats = new ErrorStats();
        for (int mask = 1; mask < 16; mask++)
        {
            for (int l = 0; l < 4; l++)
            {
                network.Layers[l].Trainable = (mask & (1 << l)) != 0;
            }

            int rows = 1 + (mask * 7) % FullBatch;
            float[] x = NetworkFactory.RandomFloats(random, rows * network.InputSize);
            int[] labels = NetworkFactory.RandomLabels(random, rows, network.OutputSize);
            network.ComputeGradients(x, labels);
            var expected = reference.Gradients(NetworkFactory.Widen(x), labels, rows);
            for (int l = 0; l < 4; l++)
            {
                if ((mask & (1 << l)) == 0)
                {
                    continue;
                }

                var layer = (DenseLayer)network.Layers[l];
                CompareTensor(layer.WeightGradients, expected.Weights[l], $"mask {mask:b4} rows {rows} {layer.Name}.WeightGradients", stats);
                if (layer.UseBias)
                {
                    CompareTensor(layer.BiasGradients, expected.Biases[l]!, $"mask {mask:b4} rows {rows} {layer.Name}.BiasGradients", stats);
                }
            }
        }

        output.WriteLine($"Deep4 with frozen layers, threads {threads}: {stats}");
    }

    private static void CompareTensor(ReadOnlySpan<float> actual, double[] expected, string what, ErrorStats stats, double looseness = 1)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 0, diffNorm = 0, refNorm = 0;
        foreach (double v in expected)
        {
            scale = Math.Max(scale, Math.Abs(v));
            refNorm += v * v;
        }

        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            diffNorm += error * error;
            if (scale > 0)
            {
                stats.Element = Math.Max(stats.Element, error / (Math.Abs(expected[i]) + scale));
            }

            Assert.True(error <= looseness * (ElementRelative * Math.Abs(expected[i]) + ElementScale * scale),
                $"{what}[{i}]: {actual[i]:R} vs reference {expected[i]:R} (tensor max {scale:E3})");
        }

        if (refNorm > 0)
        {
            double relative = Math.Sqrt(diffNorm / refNorm);
            stats.Norm = Math.Max(stats.Norm, relative);
            Assert.True(relative <= looseness * NormRelative, $"{what}: ||g - ref|| / ||ref|| = {relative:E3}");
        }
        else
        {
            Assert.Equal(0, diffNorm);
        }
    }

    private sealed class ErrorStats
    {
        public double Element { get; set; }

        public double Norm { get; set; }

        public double Loss { get; set; }

        public override string ToString() =>
            $"worst elementwise |g - ref| / (|ref| + max|ref|) = {Element:E2}, worst ||g - ref|| / ||ref|| = {Norm:E2}, worst loss error / (1 + loss) = {Loss:E2}";
    }
}

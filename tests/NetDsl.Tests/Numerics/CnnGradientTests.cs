using NetDsl.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Numerics;

/// <summary>
/// The generated CNNs' loss, parameter gradients, predictions and BatchNorm moving statistics against the
/// double-precision <see cref="CnnReference"/> (itself checked against finite differences in
/// <see cref="CnnReferenceTests"/>), with the network's float weights copied into the reference.
/// </summary>
/// <remarks>
/// <para>Tolerances (see <see cref="CnnCompare"/>). The networks compute in float32 (eps = 6e-8) with FMA
/// accumulation. The longest sums: forward dot products over K = KH·KW·InC &lt;= 297 terms (CnnStrided's 3x3x33) or
/// 96 dense inputs; weight and bias gradients over rows·OutH·OutW &lt;= 10·121 = 1,210 terms (CnnStrided's Conv1);
/// BatchNorm statistics over &lt;= 10·15·14 = 2,100 values per channel; through up to ten layers. The worst-case
/// bound of one sum is K·eps·Σ|terms| (~7e-5 for K = 1,210, relative to the sum of magnitudes); rounding errors are
/// random in practice (~sqrt(K)·eps ~ 2e-6) and compound over the layers. Cancellation makes individual small entries
/// relatively inaccurate (BatchNorm's input gradient <c>γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂))</c> is a small
/// difference of larger terms), so, as in <see cref="GradientTests"/>, the elementwise bound is scaled by the
/// tensor's largest entry, <c>|g − ref| &lt;= 1e-4·|ref| + 2e-5·max|ref|</c>, and the tensor as a whole must satisfy
/// <c>‖g − ref‖/‖ref‖ &lt;= 2e-5</c>; the loss must match within <c>2e-6·(1 + loss)</c>, probabilities within 2e-6
/// absolute, moving statistics within <c>1e-5·(1 + |ref|)</c>.</para>
/// <para>Measured worst cases over all networks, batch sizes, thread counts and frozen-layer combinations (AVX-512, 2
/// cores): elementwise |g − ref| / (|ref| + max|ref|) 4.0e-6 and ‖g − ref‖/‖ref‖ 3.9e-6 (CnnStrided with frozen
/// layers; 1.5e-6 and 1.9e-6 elsewhere); worst error / tolerance 0.20 over all gradient checks; loss 1.6e-7 relative;
/// probabilities 1.4e-7 absolute; moving statistics 5e-8 relative. That is 5x to 14x below the bounds, while an
/// indexing, layout (channels first/last, flatten order, kernel layout), padding, stride, tie-break, missing-term or
/// wrong-derivative bug gives errors of order 1 (and a BatchNorm normalising with the unbiased variance, ~1/n, 1e-3 to
/// 1e-1). BatchNorm's gamma/beta gradients get an extra allowance for cancellation (see
/// <see cref="CnnCompare.AllGradients"/>).</para>
/// </remarks>
public class CnnGradientTests(ITestOutputHelper output)
{
    private const int FullBatch = 10;

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in CnnNetworkFactory.Names)
        {
            data.Add(name, 1);
            data.Add(name, 2);
        }

        return data;
    }

    /// <summary>CnnWinograd exercises what it says: its 16- and 32-channel 3x3 convolutions take the Winograd path.</summary>
    [Fact]
    public void CnnWinograd_runs_its_inner_convolutions_with_Winograd()
    {
        using var network = new CnnWinograd(2, seed: 1, threads: 1);
        Assert.False(network.Conv1.UsesWinograd); // 2 input channels
        Assert.True(network.Conv2.UsesWinograd);
        Assert.True(network.Conv3.UsesWinograd);
    }

    /// <summary>
    /// Full batch, 3 rows and 1 row through a network built for the full batch: loss, every parameter gradient,
    /// the BatchNorm moving statistics after each training pass, and Predict's probabilities (inference: moving
    /// statistics) in chunks of the batch size.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Loss_gradients_and_predictions_match_the_reference(string name, int threads)
    {
        var random = new Random(name.Length * 100 + threads);
        var shape = CnnNetworkFactory.InputShape(name);
        using var network = CnnNetworkFactory.Create(name, FullBatch, seed: 5, threads: threads);
        CnnNetworkFactory.RandomizeExtras(network, random);
        var stats = new CnnCompare.Stats();
        foreach (int rows in new[] { FullBatch, 3, 1, 7 })
        {
            CheckTrainingPass(network, shape, rows, random, $"{name} threads {threads} rows {rows}", stats);
        }

        CheckPredict(network, shape, 23, random, $"{name} threads {threads}", stats);
        output.WriteLine($"{name}, threads {threads}: {stats}");
    }

    /// <summary>Networks built for batches of exactly 1 and 3 rows: no slack rows where an off-by-one could hide.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Networks_built_for_tiny_batches_match_the_reference(string name, int threads)
    {
        var random = new Random(name.Length * 1000 + threads);
        var shape = CnnNetworkFactory.InputShape(name);
        var stats = new CnnCompare.Stats();
        foreach (int batchSize in new[] { 1, 3 })
        {
            using var network = CnnNetworkFactory.Create(name, batchSize, seed: batchSize, threads: threads);
            CnnNetworkFactory.RandomizeExtras(network, random);
            for (int rows = batchSize; rows >= 1; rows -= 2)
            {
                CheckTrainingPass(network, shape, rows, random, $"{name} batch {batchSize} threads {threads} rows {rows}", stats);
            }

            CheckPredict(network, shape, 5, random, $"{name} batch {batchSize} threads {threads}", stats);
        }

        output.WriteLine($"{name} tiny batches, threads {threads}: {stats}");
    }

    /// <summary>
    /// More threads than cores and than work items (parts with empty channel or row ranges): every network, one full
    /// and one odd-sized pass, still matches the reference.
    /// </summary>
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void More_threads_than_work_still_match_the_reference(int threads)
    {
        var random = new Random(70 + threads);
        var stats = new CnnCompare.Stats();
        foreach (string name in CnnNetworkFactory.Names)
        {
            var shape = CnnNetworkFactory.InputShape(name);
            using var network = CnnNetworkFactory.Create(name, FullBatch, seed: 21, threads: threads);
            CnnNetworkFactory.RandomizeExtras(network, random);
            foreach (int rows in new[] { FullBatch, 5 })
            {
                CheckTrainingPass(network, shape, rows, random, $"{name} threads {threads} rows {rows}", stats);
            }

            CheckPredict(network, shape, 13, random, $"{name} threads {threads}", stats);
        }

        output.WriteLine($"threads {threads}: {stats}");
    }

    /// <summary>
    /// Inference is the identity for dropout: Predict of <see cref="CnnDropout"/> equals the reference without
    /// dropout masks (an inference pass), whatever training passes ran before.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Dropout_network_predicts_without_dropout(int threads)
    {
        var random = new Random(11 + threads);
        var shape = CnnNetworkFactory.InputShape(nameof(CnnDropout));
        using var network = new CnnDropout(FullBatch, seed: 3, threads: threads);
        CnnNetworkFactory.RandomizeExtras(network, random);
        var stats = new CnnCompare.Stats();
        CheckPredict(network, shape, 17, random, "CnnDropout before training", stats);
        float[] x = CnnCompare.RandomInputs(random, FullBatch, shape);
        network.ComputeGradients(x, NetworkFactory.RandomLabels(random, FullBatch, 3));
        CheckPredict(network, shape, 17, random, "CnnDropout after a training pass", stats);
        output.WriteLine($"CnnDropout predictions, threads {threads}: {stats}");
    }

    /// <summary>
    /// Training passes of <see cref="CnnDropout"/> against the reference given the network's own masks. The masks are
    /// rebuilt from the documented scheme: layer l's mask in a training pass keeps element i of its channels-last
    /// batch buffer iff <c>Dropout.Keep(DropoutSeed(l), i, rate)</c>. Loss, every gradient and the training-mode
    /// probabilities must match as tightly as without dropout; the kept fraction must be near 1 - rate.
    /// </summary>
    [Theory]
    [InlineData(nameof(CnnDropout), 1)]
    [InlineData(nameof(CnnDropout), 2)]
    [InlineData(nameof(CnnPoolDropout), 1)]
    [InlineData(nameof(CnnPoolDropout), 2)]
    public void Dropout_training_passes_match_the_reference_with_the_networks_masks(string name, int threads)
    {
        var random = new Random(21 + threads);
        var shape = CnnNetworkFactory.InputShape(name);
        using Network network = name == nameof(CnnDropout) ? new CnnDropout(FullBatch, seed: 9, threads: threads) : new CnnPoolDropout(FullBatch, seed: 9, threads: threads);
        Func<int, ulong> maskSeed = network is CnnDropout d ? d.MaskSeed : ((CnnPoolDropout)network).MaskSeed;
        Func<int, float[]> lastOutputs = network is CnnDropout d2 ? d2.LastOutputs : ((CnnPoolDropout)network).LastOutputs;
        CnnNetworkFactory.RandomizeExtras(network, random);
        var stats = new CnnCompare.Stats();
        var dropouts = network.Layers.OfType<DropoutLayer>().ToArray();
        Assert.Equal(2, dropouts.Length);
        var kept = new long[dropouts.Length];
        var total = new long[dropouts.Length];
        foreach (int rows in new[] { FullBatch, 3, 1, FullBatch, 5 })
        {
            var reference = CnnReference.From(network, shape);
            float[] x = CnnCompare.RandomInputs(random, rows, shape);
            int[] labels = NetworkFactory.RandomLabels(random, rows, network.OutputSize);
            float loss = network.ComputeGradients(x, labels);

            var masks = new Dictionary<int, bool[]>();
            for (int k = 0; k < dropouts.Length; k++)
            {
                var layer = dropouts[k];
                ulong seed = maskSeed(layer.Index);
                var layerShape = reference.Layers[layer.Index].In;
                masks[layer.Index] = CnnLayout.ChannelsFirst(layerShape, rows, i => Dropout.Keep(seed, i, layer.Rate));
                kept[k] += masks[layer.Index].Count(m => m);
                total[k] += masks[layer.Index].Length;
            }

            var pass = CnnPass.Train(masks);
            var expected = reference.Gradients(NetworkFactory.Widen(x), labels, rows, pass);
            string what = $"{name} threads {threads} rows {rows}";
            CnnCompare.Loss(loss, expected.Loss, what, stats);
            CnnCompare.AllGradients(network, reference, pass, expected, what, stats);
            CnnCompare.Probabilities(lastOutputs(rows), reference.Probabilities(NetworkFactory.Widen(x), rows, pass), what + " training outputs", stats);
        }

        output.WriteLine($"{name} training, threads {threads}: {stats}");
        for (int k = 0; k < dropouts.Length; k++)
        {
            double keep = 1 - dropouts[k].Rate, fraction = (double)kept[k] / total[k];
            double sigma = Math.Sqrt(keep * (1 - keep) / total[k]);
            output.WriteLine($"  kept {fraction:F3} of {dropouts[k].Name} (rate {dropouts[k].Rate}, {total[k]} draws)");
            // Binomial: 5 sigma (sigma = sqrt(p (1 - p) / n)).
            Assert.InRange(fraction, keep - 5 * sigma, keep + 5 * sigma);
        }
    }

    /// <summary>
    /// Where the generator fuses dropout masks: after a pooling or dense layer the producer writes the masked copy, and
    /// a dense consumer's input-gradient GEMM masks the gradient, so <see cref="CnnPoolDropout"/> (the reference
    /// network's placements) has no dropout job at all; after a convolution (<see cref="CnnDropout"/>'s ConvDrop, whose
    /// consumer is a pooling layer) the dropout keeps its own passes.
    /// </summary>
    [Fact]
    public void Dropout_masks_are_fused_into_their_neighbours_where_the_generator_can()
    {
        var fused = CnnHooks.JobNames(typeof(CnnPoolDropout)).Values;
        Assert.DoesNotContain(fused, n => n.Contains("Drop", StringComparison.Ordinal));
        var partly = CnnHooks.JobNames(typeof(CnnDropout)).Values.Where(n => n.Contains("Drop", StringComparison.Ordinal)).Order().ToArray();
        Assert.Equal(["Backward_ConvDrop", "Forward_ConvDrop"], partly);
    }

    /// <summary>
    /// Mask-agnostic checks of dropout in training (they do not assume how masks are drawn): with one sample per
    /// step, a hidden unit dropped by HiddenDrop has an all-zero row in Output's weight gradient (its output is 0) and
    /// a zero Hidden bias gradient (no gradient flows back through it), and a kept unit has neither (sigmoid outputs
    /// and derivatives are never 0), so the two sets must coincide exactly: the backward pass uses the forward mask.
    /// Over 300 steps the dropped fraction must be near the rate, masks must change between steps, training losses
    /// must vary for a fixed input, and training outputs must differ from Predict's.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Dropout_in_training_is_random_and_zeroes_the_gradients_of_dropped_units(int threads)
    {
        const int Steps = 300;
        var random = new Random(31 + threads);
        var shape = CnnNetworkFactory.InputShape(nameof(CnnDropout));
        using var network = new CnnDropout(1, seed: 4, threads: threads);
        CnnNetworkFactory.RandomizeExtras(network, random);
        float[] x = CnnCompare.RandomInputs(random, 1, shape);
        int[] label = [1];
        var predicted = new float[3];
        network.Predict(x, predicted);
        int units = network.Hidden.Units, dropped = 0, differentOutputs = 0;
        var losses = new HashSet<float>();
        var patterns = new HashSet<string>();
        for (int step = 0; step < Steps; step++)
        {
            losses.Add(network.ComputeGradients(x, label));
            float[] training = network.LastOutputs(1);
            differentOutputs += training.AsSpan().SequenceEqual(predicted) ? 0 : 1;
            ReadOnlySpan<float> dW = network.Output.WeightGradients;
            ReadOnlySpan<float> hiddenBias = network.Hidden.BiasGradients;
            var pattern = new char[units];
            for (int i = 0; i < units; i++)
            {
                bool zeroRow = dW.Slice(i * network.Output.Units, network.Output.Units).IndexOfAnyExcept(0f) < 0;
                bool zeroBias = hiddenBias[i] == 0f;
                Assert.True(zeroRow == zeroBias, $"step {step} unit {i}: output weight-gradient row zero {zeroRow}, hidden bias gradient zero {zeroBias}");
                dropped += zeroRow ? 1 : 0;
                pattern[i] = zeroRow ? '0' : '1';
            }

            patterns.Add(new string(pattern));
        }

        double droppedFraction = (double)dropped / (Steps * units);
        output.WriteLine($"threads {threads}: dropped {droppedFraction:F3} of {Steps * units} hidden units (rate 0.5), {patterns.Count} distinct masks, {losses.Count} distinct losses, {differentOutputs} steps with outputs unlike Predict's");
        Assert.InRange(droppedFraction, 0.5 - 0.05, 0.5 + 0.05); // sigma = sqrt(0.25 / 3600) ~ 0.008: ~6 sigma
        Assert.True(patterns.Count >= Steps / 2, $"only {patterns.Count} distinct masks in {Steps} steps");
        Assert.True(losses.Count >= Steps / 2, $"only {losses.Count} distinct training losses in {Steps} steps");
        Assert.True(differentOutputs >= Steps * 9 / 10, $"training outputs equal Predict's in {Steps - differentOutputs} of {Steps} steps");
    }

    /// <summary>Predict gives the same answer whatever the batch size the network was built for and however many threads run it.</summary>
    [Fact]
    public void Predictions_do_not_depend_on_batch_size_or_threads()
    {
        var random = new Random(5);
        foreach (string name in CnnNetworkFactory.Names)
        {
            var shape = CnnNetworkFactory.InputShape(name);
            float[] x = CnnCompare.RandomInputs(random, 13, shape);
            float[]? first = null;
            foreach (var (batch, threads) in new[] { (13, 1), (4, 2), (1, 1), (16, 2) })
            {
                using var network = CnnNetworkFactory.Create(name, batch, seed: 77, threads: threads);
                var y = new float[13 * network.OutputSize];
                network.Predict(x, y);
                first ??= y;
                for (int i = 0; i < y.Length; i++)
                {
                    Assert.True(Math.Abs(y[i] - first[i]) <= 1e-6, $"{name} batch {batch} threads {threads} output {i}: {y[i]} vs {first[i]}");
                }
            }
        }
    }

    /// <summary>
    /// Predict's outputs and ComputeGradients' gradients agree across thread counts (2, 3, 4, 5 and 7 against 1)
    /// within float32 rounding: |a - b| &lt;= 1e-5 * max|b| of the tensor (a few ulps of its largest element).
    /// Not bitwise: Conv2D splits output pixels and weight-gradient tiles by part count, and a pixel computed by a
    /// one-pixel edge tile (two interleaved accumulator chains) or a weight-gradient tile planned for another part
    /// count sums in another order (e.g. CnnTiny, 7 threads: a Conv2 output 0.12456822 vs 0.1245682). A seeded run is
    /// bit-identical for a given thread count (see the reproducibility test in CnnTrainingTests); README lists this.
    /// </summary>
    [Theory]
    [InlineData(nameof(CnnTiny))]
    [InlineData(nameof(CnnOdd))]
    [InlineData(nameof(CnnBatchNorm))]
    [InlineData(nameof(CnnStrided))]
    [InlineData(nameof(CnnDropout))]
    public void Results_agree_across_thread_counts(string name)
    {
        var shape = CnnNetworkFactory.InputShape(name);
        var random = new Random(8);
        float[] x = CnnCompare.RandomInputs(random, 12, shape);
        int[] labels = NetworkFactory.RandomLabels(random, 12, 3);
        float[]? predicted1 = null, gradients1 = null;
        var mismatches = new List<string>();
        static int Differ(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
        {
            float max = 0;
            foreach (float v in b)
            {
                max = MathF.Max(max, MathF.Abs(v));
            }

            int count = 0;
            for (int i = 0; i < a.Length; i++)
            {
                if (!(MathF.Abs(a[i] - b[i]) <= 1e-5f * max))
                {
                    count++;
                }
            }

            return count;
        }

        foreach (int threads in new[] { 1, 2, 3, 4, 5, 7 })
        {
            using var network = CnnNetworkFactory.Create(name, 12, seed: 3, threads: threads);
            var predicted = new float[12 * network.OutputSize];
            network.Predict(x, predicted);
            network.ComputeGradients(x, labels);
            float[] gradients = network.Gradients.ToArray();
            predicted1 ??= predicted;
            gradients1 ??= gradients;
            int outputs = Differ(predicted, predicted1);
            if (outputs > 0)
            {
                mismatches.Add($"{threads} threads: {outputs} of {predicted.Length} Predict outputs");
            }

            foreach (var layer in network.Layers.Where(l => l.ParameterCount > 0))
            {
                var (offset, length) = GradientRange(network, layer);
                int differ = Differ(gradients.AsSpan(offset, length), gradients1.AsSpan(offset, length));
                if (differ > 0)
                {
                    mismatches.Add($"{threads} threads: {differ} of {length} {layer.Name} gradients");
                }
            }
        }

        Assert.True(mismatches.Count == 0, $"{name}: results differ from 1 thread beyond rounding: {string.Join("; ", mismatches)}");
    }

    /// <summary>Where a layer's trainable block sits in <see cref="Network.Gradients"/>, found through its public views.</summary>
    private static (int Offset, int Length) GradientRange(Network network, Layer layer)
    {
        ReadOnlySpan<float> all = network.Gradients;
        ReadOnlySpan<float> first = layer switch
        {
            Conv2DLayer c => c.WeightGradients,
            DenseLayer d => d.WeightGradients,
            BatchNormLayer b => b.GammaGradients,
            _ => throw new ArgumentException(layer.Name),
        };
        ReadOnlySpan<float> last = layer switch
        {
            Conv2DLayer c => c.UseBias ? c.BiasGradients : c.WeightGradients,
            DenseLayer d => d.UseBias ? d.BiasGradients : d.WeightGradients,
            BatchNormLayer b => b.BetaGradients,
            _ => throw new ArgumentException(layer.Name),
        };
        int start = Offset(all, first), end = Offset(all, last) + last.Length;
        return (start, end - start);

        static int Offset(ReadOnlySpan<float> all, ReadOnlySpan<float> part) =>
            (int)(System.Runtime.CompilerServices.Unsafe.ByteOffset(
                ref System.Runtime.InteropServices.MemoryMarshal.GetReference(all),
                ref System.Runtime.InteropServices.MemoryMarshal.GetReference(part)) / sizeof(float));
    }

    private static void CheckTrainingPass(Network network, CnnShape shape, int rows, Random random, string what, CnnCompare.Stats stats)
    {
        var reference = CnnReference.From(network, shape);
        float[] x = CnnCompare.RandomInputs(random, rows, shape);
        int[] labels = NetworkFactory.RandomLabels(random, rows, network.OutputSize);
        float loss = network.ComputeGradients(x, labels);
        double[] wide = NetworkFactory.Widen(x);
        var expected = reference.Gradients(wide, labels, rows, CnnPass.Train());
        CnnCompare.Loss(loss, expected.Loss, what, stats);
        CnnCompare.AllGradients(network, reference, CnnPass.Train(), expected, what, stats);

        // The moving statistics after the pass: Keras 2's update from the batch statistics of the layer's input.
        var (inputs, _, _) = reference.Forward(wide, rows, CnnPass.Train());
        foreach (var bn in network.Layers.OfType<BatchNormLayer>())
        {
            var (mean, variance) = ((BatchNormRef)reference.Layers[bn.Index]).UpdatedMovingStatistics(inputs[bn.Index], rows);
            CnnCompare.Statistics(bn.MovingMean, mean, $"{what} {bn.Name}.MovingMean", stats);
            CnnCompare.Statistics(bn.MovingVariance, variance, $"{what} {bn.Name}.MovingVariance", stats);
        }
    }

    private static void CheckPredict(Network network, CnnShape shape, int count, Random random, string what, CnnCompare.Stats stats)
    {
        var reference = CnnReference.From(network, shape);
        float[] x = CnnCompare.RandomInputs(random, count, shape);
        var predicted = new float[count * network.OutputSize];
        network.Predict(x, predicted);
        CnnCompare.Probabilities(predicted, reference.Probabilities(NetworkFactory.Widen(x), count), what + " Predict", stats);
    }
}

/// <summary>Comparisons of float results with the double reference, and their tolerances (justified on <see cref="CnnGradientTests"/>).</summary>
public static class CnnCompare
{
    public const double ElementRelative = 1e-4;
    public const double ElementScale = 2e-5;
    public const double NormRelative = 2e-5;
    public const double LossRelative = 2e-6;
    public const double ProbabilityAbsolute = 2e-6;
    public const double StatisticsRelative = 1e-5;
    public const double TermRelative = 1e-6;

    /// <summary>Uniform inputs in [-1, 1), channels first.</summary>
    public static float[] RandomInputs(Random random, int rows, CnnShape shape) => NetworkFactory.RandomFloats(random, rows * shape.Size);

    public static void Loss(float loss, double expected, string what, Stats stats)
    {
        double error = Math.Abs(loss - expected) / (1 + expected);
        stats.Loss = Math.Max(stats.Loss, error);
        Assert.True(error <= LossRelative, $"{what}: loss {loss:R} vs reference {expected:R}");
    }

    public static void Probabilities(ReadOnlySpan<float> actual, double[] expected, string what, Stats stats)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            stats.Probability = Math.Max(stats.Probability, error);
            Assert.True(error <= ProbabilityAbsolute, $"{what} output {i}: {actual[i]:R} vs reference {expected[i]:R}");
        }
    }

    public static void Statistics(ReadOnlySpan<float> actual, double[] expected, string what, Stats stats)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]) / (1 + Math.Abs(expected[i]));
            stats.Statistics = Math.Max(stats.Statistics, error);
            Assert.True(error <= StatisticsRelative, $"{what}[{i}]: {actual[i]:R} vs reference {expected[i]:R}");
        }
    }

    /// <summary>
    /// Every parameter gradient of every trainable layer (frozen layers are skipped). BatchNorm's <c>dγ = Σ dy·x̂</c>
    /// and <c>dβ = Σ dy</c> sum up to rows·H·W terms of both signs whose sum can be orders of magnitude below the
    /// terms (their float result then has the terms' absolute error, not the result's); their bound gets an extra
    /// <c>1e-6·Σ|term|</c> (per element, and in the norm bound as 1e-6·‖Σ|term|‖), 16 ulps of the terms' magnitude.
    /// Calibration: CnnStrided's input BatchNorm (2,520 values per channel) has dγ about 1/500 of Σ|dy·x̂|; its float
    /// error was 2.6e-5 relative to dγ, above the plain bound, but 6.6e-8·Σ|term| (1.1 ulp of the terms): cancellation,
    /// not a defect. (Entries whose error is instead explained by the tensor-scale term can show larger
    /// error/Σ|term| ratios, up to 1.7e-5, without coming near their bound.)
    /// </summary>
    public static void AllGradients(Network network, CnnReference reference, CnnPass pass, CnnGradients expected, string what, Stats stats)
    {
        foreach (var layer in network.Layers)
        {
            if (!layer.Trainable)
            {
                continue;
            }

            var g = expected.Parameters[layer.Index];
            switch (layer)
            {
                case Conv2DLayer conv:
                    Tensor(conv.WeightGradients, g[0], $"{what} {conv.Name}.WeightGradients", stats);
                    if (conv.UseBias)
                    {
                        Tensor(conv.BiasGradients, g[1], $"{what} {conv.Name}.BiasGradients", stats);
                    }

                    break;
                case DenseLayer dense:
                    Tensor(dense.WeightGradients, g[0], $"{what} {dense.Name}.WeightGradients", stats);
                    if (dense.UseBias)
                    {
                        Tensor(dense.BiasGradients, g[1], $"{what} {dense.Name}.BiasGradients", stats);
                    }

                    break;
                case BatchNormLayer bn:
                {
                    var (gammaTerms, betaTerms) = ((BatchNormRef)reference.Layers[bn.Index]).GradientMagnitudes(
                        expected.LayerInputs[bn.Index], expected.PreActivationGradients[bn.Index], expected.Rows, pass);
                    Tensor(bn.GammaGradients, g[0], $"{what} {bn.Name}.GammaGradients", stats, terms: gammaTerms);
                    Tensor(bn.BetaGradients, g[1], $"{what} {bn.Name}.BetaGradients", stats, terms: betaTerms);
                    break;
                }
            }
        }
    }

    /// <summary>
    /// <c>|g − ref| &lt;= looseness·(1e-4·|ref| + 2e-5·max|ref|) + 1e-6·terms</c> elementwise and
    /// <c>‖g − ref‖ &lt;= looseness·2e-5·‖ref‖ + 1e-6·‖terms‖</c>, where <paramref name="terms"/> (when given) is the
    /// sum of the magnitudes of the terms each gradient entry sums; a tensor the reference says is exactly zero (e.g.
    /// BatchNorm's gradients for a single row) must be zero within 1e-9.
    /// </summary>
    public static void Tensor(ReadOnlySpan<float> actual, double[] expected, string what, Stats stats, double looseness = 1, double[]? terms = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 0, diffNorm = 0, refNorm = 0, termNorm = 0;
        foreach (double v in expected)
        {
            scale = Math.Max(scale, Math.Abs(v));
            refNorm += v * v;
        }

        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            double term = terms is null ? 0 : terms[i];
            termNorm += term * term;
            diffNorm += error * error;
            double allowed = looseness * (ElementRelative * Math.Abs(expected[i]) + ElementScale * scale) + TermRelative * term;
            if (terms is null && scale > 0)
            {
                stats.Element = Math.Max(stats.Element, error / (Math.Abs(expected[i]) + scale));
            }

            if (term > 0)
            {
                stats.Terms = Math.Max(stats.Terms, error / term);
            }

            if (allowed > 0)
            {
                stats.Ratio = Math.Max(stats.Ratio, error / allowed);
            }

            Assert.True(error <= allowed || (scale == 0 && error <= 1e-9),
                $"{what}[{i}]: {actual[i]:R} vs reference {expected[i]:R} (tensor max {scale:E3}, terms {term:E3})");
        }

        if (refNorm > 0)
        {
            double relative = Math.Sqrt(diffNorm / refNorm);
            double allowed = looseness * NormRelative + TermRelative * Math.Sqrt(termNorm / refNorm);
            if (terms is null)
            {
                stats.Norm = Math.Max(stats.Norm, relative);
            }

            stats.Ratio = Math.Max(stats.Ratio, relative / allowed);
            Assert.True(relative <= allowed, $"{what}: ||g - ref|| / ||ref|| = {relative:E3}, allowed {allowed:E3}");
        }
    }

    public sealed class Stats
    {
        public double Element { get; set; }

        public double Norm { get; set; }

        public double Loss { get; set; }

        public double Probability { get; set; }

        public double Statistics { get; set; }

        public double Terms { get; set; }

        public double Ratio { get; set; }

        public override string ToString() =>
            $"worst gradient error / tolerance = {Ratio:F3}; elementwise |g - ref| / (|ref| + max|ref|) = {Element:E2}, ||g - ref|| / ||ref|| = {Norm:E2} (BatchNorm gamma/beta excluded), " +
            $"BatchNorm gamma/beta |g - ref| / Σ|terms| = {Terms:E2}, " +
            $"loss error / (1 + loss) = {Loss:E2}, probability error = {Probability:E2}, moving-statistics error = {Statistics:E2}";
    }
}

using NetDsl.Optimizers;
using NetDsl.Tests.Numerics;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Training;

/// <summary>
/// Freezing (<see cref="Layer.Trainable"/> = false), the transfer-learning recipe: frozen parameters stay
/// bit-identical, freezing does not change the gradients of the layers that still train, the backward pass stops
/// below the lowest trainable layer (shown by which jobs run and which buffers are written, not by timing), and a
/// frozen BatchNorm runs in inference mode.
/// </summary>
public class CnnFreezeTests(ITestOutputHelper output)
{
    private const int Batch = 10;

    /// <summary>CnnTiny, recording which generated jobs run (by id; names come from the generated Job_* constants).</summary>
    private sealed class CnnTinySpy(int batchSize, int seed, int threads) : CnnTiny(batchSize, seed, threads)
    {
        private readonly HashSet<int> _jobs = [];

        public bool Recording { get; set; }

        public IReadOnlyCollection<int> Jobs => _jobs;

        public void ClearJobs() => _jobs.Clear();

        protected override void ExecuteJob(int job, int part, int parts)
        {
            if (Recording)
            {
                lock (_jobs)
                {
                    _jobs.Add(job);
                }
            }

            base.ExecuteJob(job, part, parts);
        }
    }

    /// <summary>
    /// Conv1 and Conv2 frozen, 10 Adadelta steps: their weights and biases stay bit-identical and their gradient views,
    /// filled with NaN before, are never written, while both dense layers' weights change every step.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Frozen_convolutions_stay_bit_identical_while_dense_layers_train(int threads)
    {
        var random = new Random(100 + threads);
        var shape = CnnNetworkFactory.InputShape(nameof(CnnTiny));
        using var net = new CnnTiny(Batch, seed: 2, threads: threads);
        net.Conv1.Trainable = false;
        net.Conv2.Trainable = false;
        Conv2DLayer[] convs = [net.Conv1, net.Conv2];
        var weights = convs.Select(c => c.Weights.ToArray()).ToArray();
        var biases = convs.Select(c => c.Bias.ToArray()).ToArray();
        foreach (var conv in convs)
        {
            conv.WeightGradients.Fill(float.NaN);
            conv.BiasGradients.Fill(float.NaN);
        }

        var optimizer = new Adadelta(1.0f, 0.95f, 1e-6f);
        for (int step = 0; step < 10; step++)
        {
            float[] hidden = net.Hidden.Weights.ToArray(), outputWeights = net.Output.Weights.ToArray();
            float[] x = CnnCompare.RandomInputs(random, Batch, shape);
            float loss = net.TrainStep(x, NetworkFactory.RandomLabels(random, Batch, 3), optimizer);
            Assert.True(float.IsFinite(loss));
            Assert.False(net.Hidden.Weights.SequenceEqual(hidden), $"step {step}: Hidden weights did not change");
            Assert.False(net.Output.Weights.SequenceEqual(outputWeights), $"step {step}: Output weights did not change");
        }

        for (int c = 0; c < convs.Length; c++)
        {
            Assert.True(BitEqual(convs[c].Weights, weights[c]), $"{convs[c].Name} weights changed");
            Assert.True(BitEqual(convs[c].Bias, biases[c]), $"{convs[c].Name} bias changed");
            Assert.True(AllNaN(convs[c].WeightGradients), $"{convs[c].Name} weight gradients were written");
            Assert.True(AllNaN(convs[c].BiasGradients), $"{convs[c].Name} bias gradients were written");
        }

        // Unfreezing resumes training of the convolutions.
        net.Conv1.Trainable = true;
        net.Conv2.Trainable = true;
        net.TrainStep(CnnCompare.RandomInputs(random, Batch, shape), NetworkFactory.RandomLabels(random, Batch, 3), optimizer);
        Assert.False(BitEqual(net.Conv1.Weights, weights[0]), "Conv1 did not train after unfreezing");
        Assert.False(AllNaN(net.Conv2.WeightGradients), "Conv2 gradients not computed after unfreezing");
    }

    /// <summary>
    /// Skipping the convolutions' backward must not change the dense layers' gradients: with the convolutions frozen
    /// they are bit-identical to those of an identical network with everything trainable, and match the reference.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Dense_gradients_with_frozen_convolutions_equal_those_with_everything_trainable(int threads)
    {
        var random = new Random(200 + threads);
        var shape = CnnNetworkFactory.InputShape(nameof(CnnTiny));
        using var frozen = new CnnTiny(Batch, seed: 6, threads: threads);
        using var trainable = new CnnTiny(Batch, seed: 6, threads: threads);
        CnnNetworkFactory.RandomizeExtras(frozen, new Random(1));
        CnnNetworkFactory.RandomizeExtras(trainable, new Random(1));
        frozen.Conv1.Trainable = false;
        frozen.Conv2.Trainable = false;
        var stats = new CnnCompare.Stats();
        foreach (int rows in new[] { Batch, 1, 3 })
        {
            float[] x = CnnCompare.RandomInputs(random, rows, shape);
            int[] labels = NetworkFactory.RandomLabels(random, rows, 3);
            float lossFrozen = frozen.ComputeGradients(x, labels);
            float lossTrainable = trainable.ComputeGradients(x, labels);
            Assert.Equal(lossTrainable, lossFrozen);
            foreach (var (a, b) in new[] { (frozen.Hidden, trainable.Hidden), (frozen.Output, trainable.Output) })
            {
                Assert.True(BitEqual(a.WeightGradients, b.WeightGradients.ToArray()), $"rows {rows}: {a.Name} weight gradients differ");
                Assert.True(BitEqual(a.BiasGradients, b.BiasGradients.ToArray()), $"rows {rows}: {a.Name} bias gradients differ");
            }

            var expected = CnnReference.From(frozen, shape).Gradients(NetworkFactory.Widen(x), labels, rows, CnnPass.Train());
            CnnCompare.AllGradients(frozen, CnnReference.From(frozen, shape), CnnPass.Train(), expected, $"frozen convolutions rows {rows}", stats);
        }

        output.WriteLine($"threads {threads}: {stats}");
    }

    /// <summary>
    /// The backward pass stops below the lowest trainable layer. With Conv1 and Conv2 frozen: no job of the
    /// convolutions' or the pooling's backward runs (the jobs are identified through the generated Job_* constants,
    /// and the same recording with everything trainable sees them run: a positive control), the convolution weight
    /// re-layout for Conv2's input gradient is not prepared, and the gradient buffers, filled with NaN before the pass,
    /// are not written beyond what the dense head needs: the loss gradient [rows x 3] in buffer A and the Output
    /// layer's input gradient [rows x 8] in buffer B. Hidden's input gradient [rows x 36], the pooling's
    /// [rows x 144] and Conv2's [rows x 256] are never computed.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Backward_stops_below_the_lowest_trainable_layer(int threads)
    {
        const int Rows = Batch;
        var random = new Random(300 + threads);
        var shape = CnnNetworkFactory.InputShape(nameof(CnnTiny));
        using var net = new CnnTinySpy(Batch, seed: 8, threads: threads);
        var names = CnnHooks.JobNames(typeof(CnnTiny));
        long grad0 = net.ActivationBuffer("Grad0"), grad1 = net.ActivationBuffer("Grad1"), prepared = net.ActivationBuffer("Conv2_Prepared");
        int preparedLength = net.Conv2.Weights.Length;
        string[] convJobs = ["Backward_Conv1", "Backward_Conv2", "Backward_Pool"]; // Conv2's ReLU derivative is fused into the pooling backward
        foreach (string job in convJobs)
        {
            Assert.True(names.ContainsValue(job), $"no generated job named {job}; jobs: {string.Join(", ", names.Values)}");
        }

        string[] Run(bool frozen)
        {
            net.Conv1.Trainable = !frozen;
            net.Conv2.Trainable = !frozen;
            net.ArenaSpan(grad0, Rows * 256).Fill(float.NaN);
            net.ArenaSpan(grad1, Rows * 144).Fill(float.NaN);
            net.ArenaSpan(prepared, preparedLength).Fill(float.NaN);
            net.ClearJobs();
            net.Recording = true;
            net.ComputeGradients(CnnCompare.RandomInputs(random, Rows, shape), NetworkFactory.RandomLabels(random, Rows, 3));
            net.Recording = false;
            return net.Jobs.Select(j => names[j]).ToArray();
        }

        // Positive control: everything trainable runs the convolution jobs and writes the whole buffers.
        string[] all = Run(frozen: false);
        Assert.All(convJobs, job => Assert.Contains(job, all));
        Assert.False(AnyNaN(net.ArenaSpan(grad0, Rows * 256)), "with everything trainable, Conv2's input gradient did not fill buffer A");
        Assert.False(AnyNaN(net.ArenaSpan(grad1, Rows * 144)), "with everything trainable, the pooling's input gradient did not fill buffer B");
        Assert.False(AnyNaN(net.ArenaSpan(prepared, preparedLength)), "with everything trainable, Conv2's weights were not prepared");

        string[] some = Run(frozen: true);
        output.WriteLine($"threads {threads}: all trainable ran [{string.Join(", ", all)}]; convolutions frozen ran [{string.Join(", ", some)}]");
        Assert.All(convJobs, job => Assert.DoesNotContain(job, some));
        Assert.Contains("Backward_Hidden", some);
        Assert.Contains("Backward_Output", some);
        Assert.True(AllNaN(net.ArenaSpan(grad0 + Rows * 3, Rows * (256 - 3))), "buffer A was written beyond the loss gradient: an input gradient below Hidden ran");
        Assert.True(AllNaN(net.ArenaSpan(grad1 + Rows * 8, Rows * (144 - 8))), "buffer B was written beyond Output's input gradient: the pooling's backward ran");
        Assert.True(AllNaN(net.ArenaSpan(prepared, preparedLength)), "Conv2's weights were prepared for an input gradient nobody needs");
        Assert.False(AnyNaN(net.ArenaSpan(grad0, Rows * 3)), "the loss gradient was not written");
        Assert.False(AnyNaN(net.ArenaSpan(grad1, Rows * 8)), "Output's input gradient was not written");
        Assert.True(AllNaN(net.ArenaSpan(grad0 + Rows * 3, Rows * 33)), "Hidden's input gradient was computed");
    }

    /// <summary>
    /// Every combination of frozen parameter layers of <see cref="CnnOdd"/> and <see cref="CnnBatchNorm"/> (40 of the
    /// 255 for <see cref="CnnStrided"/>: each layer alone trainable, each layer alone frozen, 24 random): the
    /// gradients of the layers that still train match the reference, which knows nothing about freezing except that a
    /// frozen BatchNorm uses its moving statistics (the gradient must still flow through frozen layers).
    /// </summary>
    [Theory]
    [InlineData(nameof(CnnOdd), 1)]
    [InlineData(nameof(CnnOdd), 2)]
    [InlineData(nameof(CnnBatchNorm), 1)]
    [InlineData(nameof(CnnBatchNorm), 2)]
    [InlineData(nameof(CnnStrided), 1)]
    [InlineData(nameof(CnnStrided), 2)]
    public void Gradients_of_trainable_layers_are_unaffected_by_frozen_layers(string name, int threads)
    {
        var random = new Random(400 + threads + name.Length);
        var shape = CnnNetworkFactory.InputShape(name);
        using var net = CnnNetworkFactory.Create(name, Batch, seed: 12, threads: threads);
        CnnNetworkFactory.RandomizeExtras(net, random);
        var parameterLayers = net.Layers.Where(l => l.ParameterCount > 0).ToArray();
        var stats = new CnnCompare.Stats();
        int count = parameterLayers.Length, all = (1 << count) - 1;
        IEnumerable<int> masks = Enumerable.Range(1, all);
        if (count > 5)
        {
            // 2^8 - 1 combinations take too long: one layer trainable, one layer frozen, and 24 random others.
            var chosen = new SortedSet<int>();
            for (int i = 0; i < count; i++)
            {
                chosen.Add(1 << i);
                chosen.Add(all & ~(1 << i));
            }

            while (chosen.Count < 2 * count + 24)
            {
                chosen.Add(random.Next(1, all + 1));
            }

            masks = chosen;
        }

        foreach (int mask in masks)
        {
            for (int i = 0; i < parameterLayers.Length; i++)
            {
                parameterLayers[i].Trainable = (mask & (1 << i)) != 0;
            }

            int rows = 1 + (mask * 7) % Batch;
            var reference = CnnReference.From(net, shape);
            float[] x = CnnCompare.RandomInputs(random, rows, shape);
            int[] labels = NetworkFactory.RandomLabels(random, rows, net.OutputSize);
            float loss = net.ComputeGradients(x, labels);
            var expected = reference.Gradients(NetworkFactory.Widen(x), labels, rows, CnnPass.Train());
            string what = $"{name} trainable {Convert.ToString(mask, 2).PadLeft(parameterLayers.Length, '0')} rows {rows}";
            CnnCompare.Loss(loss, expected.Loss, what, stats);
            CnnCompare.AllGradients(net, reference, CnnPass.Train(), expected, what, stats);
        }

        output.WriteLine($"{name} with frozen layers, threads {threads}: {stats}");
    }

    /// <summary>
    /// A frozen BatchNorm runs in inference mode, as Keras: during training steps its moving statistics, gamma and beta
    /// stay bit-identical, the training pass's outputs equal the reference with the inference formula
    /// <c>γ (x − m)/√(v + ε) + β</c> (and Predict's), and the layers around it still train with the reference's gradients.
    /// </summary>
    [Theory]
    [InlineData("ConvNorm", 1)]
    [InlineData("HiddenNorm", 2)]
    [InlineData("both", 1)]
    [InlineData("both", 2)]
    public void Frozen_batchnorm_runs_in_inference_mode(string which, int threads)
    {
        var random = new Random(500 + threads + which.Length);
        var shape = CnnNetworkFactory.InputShape(nameof(CnnBatchNorm));
        using var net = new CnnBatchNorm(Batch, seed: 14, threads: threads);
        CnnNetworkFactory.RandomizeExtras(net, random);
        BatchNormLayer[] frozen = which switch
        {
            "ConvNorm" => [net.ConvNorm],
            "HiddenNorm" => [net.HiddenNorm],
            _ => [net.ConvNorm, net.HiddenNorm],
        };
        foreach (var bn in frozen)
        {
            bn.Trainable = false;
        }

        var saved = frozen.Select(bn => (bn.Gamma.ToArray(), bn.Beta.ToArray(), bn.MovingMean.ToArray(), bn.MovingVariance.ToArray())).ToArray();
        var unfrozen = new[] { net.ConvNorm, net.HiddenNorm }.Except(frozen).Select(bn => (Layer: bn, Mean: bn.MovingMean.ToArray())).ToArray();
        var optimizer = new Adadelta(1.0f, 0.95f, 1e-6f);
        var stats = new CnnCompare.Stats();
        foreach (int rows in new[] { Batch, 1, 4 })
        {
            var reference = CnnReference.From(net, shape);
            float[] x = CnnCompare.RandomInputs(random, rows, shape);
            int[] labels = NetworkFactory.RandomLabels(random, rows, 3);
            float loss = net.ComputeGradients(x, labels);
            var expected = reference.Gradients(NetworkFactory.Widen(x), labels, rows, CnnPass.Train());
            string what = $"{which} frozen rows {rows}";
            CnnCompare.Loss(loss, expected.Loss, what, stats);
            CnnCompare.AllGradients(net, reference, CnnPass.Train(), expected, what, stats);
            float[] training = net.LastOutputs(rows);
            CnnCompare.Probabilities(training, reference.Probabilities(NetworkFactory.Widen(x), rows, CnnPass.Train()), what + " training outputs", stats);
            if (which == "both")
            {
                var predicted = new float[rows * 3];
                net.Predict(x, predicted);
                CnnCompare.Probabilities(training, NetworkFactory.Widen(predicted), what + " training outputs vs Predict", stats);
            }

            net.TrainStep(x, labels, optimizer);
            for (int i = 0; i < frozen.Length; i++)
            {
                var (gamma, beta, mean, variance) = saved[i];
                Assert.True(BitEqual(frozen[i].Gamma, gamma), $"{what}: {frozen[i].Name}.Gamma changed");
                Assert.True(BitEqual(frozen[i].Beta, beta), $"{what}: {frozen[i].Name}.Beta changed");
                Assert.True(BitEqual(frozen[i].MovingMean, mean), $"{what}: {frozen[i].Name}.MovingMean changed");
                Assert.True(BitEqual(frozen[i].MovingVariance, variance), $"{what}: {frozen[i].Name}.MovingVariance changed");
            }
        }

        // The unfrozen BatchNorm (if any) did update its moving statistics.
        foreach (var (bn, mean) in unfrozen)
        {
            Assert.True(bn.Trainable);
            Assert.False(BitEqual(bn.MovingMean, mean), $"{bn.Name} (trainable) never updated its moving mean");
        }

        output.WriteLine($"{which} frozen, threads {threads}: {stats}");
    }

    private static bool BitEqual(ReadOnlySpan<float> a, float[] b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool AllNaN(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (!float.IsNaN(v))
            {
                return false;
            }
        }

        return true;
    }

    private static bool AnyNaN(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (float.IsNaN(v))
            {
                return true;
            }
        }

        return false;
    }
}

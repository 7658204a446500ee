using NetDsl.Optimizers;
using NetDsl.Tests.Numerics;
using Xunit;

namespace NetDsl.Tests.Training;

/// <summary>
/// Norm clipping through <see cref="Network.TrainStep(ReadOnlySpan{float}, ReadOnlySpan{int}, NetDsl.Optimizers.IOptimizer)"/>: the network must reduce each trainable tensor's gradient to
/// its L2 norm (per tensor for <see cref="OptimizerOptions.ClipNorm"/>, all together for
/// <see cref="OptimizerOptions.GlobalClipNorm"/>) before the sliced, multi-threaded update. Checked against a twin
/// network that only computes gradients: the norms are recomputed here in double from the layers' public gradient
/// spans (Dense and Conv2D weights and bias, BatchNorm gamma and beta), each tensor's expected update is
/// <c>w − lr · g · c / max(‖g‖, c)</c>, and everything else (BatchNorm moving statistics) must equal the twin's.
/// </summary>
/// <remarks>
/// The bound c is chosen from the first step's norms so that clipping really acts: 0.3 × the global norm, or (per
/// tensor) the median tensor norm, which clips about half of the tensors and leaves the others alone. Tolerance
/// 1e-6 (1 + |w|): the network's norm sums squares in float lanes per 4096-float block (relative error ~1e-6 at
/// most for these sizes), so the scale, and the step lr·scale·g ~ 1e-2, carry a relative error of ~1e-6, i.e. ~1e-8
/// absolute; w itself rounds to ~6e-8. Any wrong norm (a tensor missing or counted twice, padding, a frozen layer
/// included, per-tensor and global confused) changes a scale by several percent and the step by more than 1e-4.
/// </remarks>
public class OptimizerClippingTests
{
    private const float LearningRate = 0.1f;

    public static TheoryData<string, int, bool> Cases()
    {
        var data = new TheoryData<string, int, bool>();
        foreach (string net in new[] { nameof(Net40x130x10), nameof(Deep4), nameof(CnnBatchNorm) })
        {
            foreach (int threads in new[] { 1, 2 })
            {
                data.Add(net, threads, false);
                data.Add(net, threads, true);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainStep_clips_by_the_norm_of_each_tensor_or_of_all(string name, int threads, bool perTensor)
    {
        const int Batch = 16;
        using var net = Create(name, Batch, threads);
        using var twin = Create(name, Batch, threads);
        var random = new Random(31);
        Sgd? sgd = null;
        float clip = 0;
        int clipped = 0, unclipped = 0;
        for (int step = 0; step < 3; step++)
        {
            float[] x = NetworkFactory.RandomFloats(random, Batch * net.InputSize);
            int[] labels = NetworkFactory.RandomLabels(random, Batch, net.OutputSize);
            var before = Tensors(twin).Select(t => t.Values.ToArray()).ToArray();
            twin.ComputeGradients(x, labels);
            var gradients = Tensors(twin).Select(t => t.Gradients.ToArray()).ToArray();
            double[] norms = gradients.Select(g => Math.Sqrt(g.Sum(v => (double)v * v))).ToArray();
            double global = Math.Sqrt(norms.Sum(n => n * n));
            if (sgd is null)
            {
                clip = (float)(perTensor ? norms.Order().ElementAt(norms.Length / 2) : 0.3 * global);
                sgd = new Sgd(LearningRate, options: perTensor ? new OptimizerOptions { ClipNorm = clip } : new OptimizerOptions { GlobalClipNorm = clip });
            }

            net.TrainStep(x, labels, sgd);
            Assert.Equal(global, net.LastGradientNorm, global * 1e-5);
            var after = Tensors(net);
            Assert.Equal(gradients.Length, after.Count);
            for (int t = 0; t < after.Count; t++)
            {
                double norm = perTensor ? norms[t] : global;
                double scale = clip / Math.Max(norm, clip);
                if (step == 0)
                {
                    (scale < 1 ? ref clipped : ref unclipped)++;
                }

                float[] actual = after[t].Values.ToArray();
                for (int i = 0; i < actual.Length; i++)
                {
                    double expected = before[t][i] - (double)LearningRate * scale * gradients[t][i];
                    Assert.True(Math.Abs(actual[i] - expected) <= 1e-6 * (1 + Math.Abs(expected)),
                        $"step {step} tensor {after[t].Name} [{i}]: {actual[i]:R}, expected {expected:R} (scale {scale})");
                }
            }

            foreach (var (mine, theirs) in net.Layers.OfType<BatchNormLayer>().Zip(twin.Layers.OfType<BatchNormLayer>()))
            {
                Assert.True(mine.MovingMean.SequenceEqual(theirs.MovingMean) && mine.MovingVariance.SequenceEqual(theirs.MovingVariance),
                    $"{mine.Name}'s moving statistics differ from the twin's: the optimizer must not touch them");
            }

            net.Parameters.CopyTo(twin.Parameters);
        }

        Assert.True(clipped > 0, "no tensor was clipped in the first step: the test would not see a wrong norm");
        Assert.True(perTensor ? unclipped > 0 : unclipped == 0, $"{clipped} clipped, {unclipped} not");
    }

    /// <summary>
    /// A frozen layer takes no part in the global norm (Keras clips the trainable variables' gradients only) and stays
    /// bit-identical; the trainable layer is clipped by the norm of its own gradients (scale exactly 0.5 here).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Frozen_layers_are_left_out_of_the_norm(int threads)
    {
        using var net = new Net40x130x10(16, seed: 3, threads: threads);
        using var twin = new Net40x130x10(16, seed: 3, threads: threads);
        var random = new Random(4);
        float[] x = NetworkFactory.RandomFloats(random, 16 * 40);
        int[] labels = NetworkFactory.RandomLabels(random, 16, 10);

        // Gradients of the whole network first, so the frozen layer's gradient buffer holds stale non-zero values
        // (the backward pass stops above a frozen bottom layer) that a wrong norm would pick up.
        net.ComputeGradients(x, labels);
        Assert.Contains(net.Hidden.WeightGradients.ToArray(), v => v != 0);
        net.Hidden.Trainable = false;
        twin.Hidden.Trainable = false;
        x = NetworkFactory.RandomFloats(random, 16 * 40);
        float[] hidden = net.Hidden.Weights.ToArray(), hiddenBias = net.Hidden.Bias.ToArray();
        float[] w = twin.Output.Weights.ToArray(), b = twin.Output.Bias.ToArray();
        twin.ComputeGradients(x, labels);
        float[] gw = twin.Output.WeightGradients.ToArray(), gb = twin.Output.BiasGradients.ToArray();
        double norm = Math.Sqrt(gw.Concat(gb).Sum(v => (double)v * v));
        float clip = (float)(0.5 * norm);
        net.TrainStep(x, labels, new Sgd(LearningRate, options: new OptimizerOptions { GlobalClipNorm = clip }));
        Assert.Equal(norm, net.LastGradientNorm, norm * 1e-5);
        Assert.True(net.Hidden.Weights.SequenceEqual(hidden) && net.Hidden.Bias.SequenceEqual(hiddenBias));
        for (int i = 0; i < w.Length; i++)
        {
            Assert.Equal(w[i] - LearningRate * 0.5 * gw[i], net.Output.Weights[i], 1e-6);
        }

        for (int i = 0; i < b.Length; i++)
        {
            Assert.Equal(b[i] - LearningRate * 0.5 * gb[i], net.Output.Bias[i], 1e-6);
        }
    }

    /// <summary>Without norm clipping nothing is measured (the norm stays NaN) and every slice has scale 1.</summary>
    [Fact]
    public void Without_norm_clipping_no_norm_is_computed()
    {
        using var net = new Net13x7x5(8, seed: 1, threads: 2);
        var random = new Random(2);
        net.TrainStep(NetworkFactory.RandomFloats(random, 8 * 13), NetworkFactory.RandomLabels(random, 8, 5), new Adam(options: new OptimizerOptions { ClipValue = 1f }));
        Assert.True(double.IsNaN(net.LastGradientNorm));
    }

    internal static Network Create(string name, int batch, int threads, int seed = 1) =>
        name == nameof(CnnBatchNorm) ? new CnnBatchNorm(batch, seed, threads) : NetworkFactory.Create(name, batch, seed, threads);

    /// <summary>The trainable tensors, from the layers' public spans.</summary>
    internal static List<TensorView> Tensors(Network network)
    {
        var tensors = new List<TensorView>();
        foreach (var layer in network.Layers.Where(l => l.Trainable))
        {
            switch (layer)
            {
                case DenseLayer d:
                    tensors.Add(new TensorView(network, layer, 0, $"{d.Name}.weights"));
                    if (d.UseBias)
                    {
                        tensors.Add(new TensorView(network, layer, 1, $"{d.Name}.bias"));
                    }

                    break;
                case Conv2DLayer c:
                    tensors.Add(new TensorView(network, layer, 0, $"{c.Name}.weights"));
                    if (c.UseBias)
                    {
                        tensors.Add(new TensorView(network, layer, 1, $"{c.Name}.bias"));
                    }

                    break;
                case BatchNormLayer n:
                    tensors.Add(new TensorView(network, layer, 0, $"{n.Name}.gamma"));
                    tensors.Add(new TensorView(network, layer, 1, $"{n.Name}.beta"));
                    break;
                default:
                    Assert.Equal(0, layer.ParameterCount);
                    break;
            }
        }

        return tensors;
    }

    internal sealed record TensorView(Network Network, Layer Layer, int Index, string Name)
    {
        public Span<float> Values => (Layer, Index) switch
        {
            (DenseLayer d, 0) => d.Weights,
            (DenseLayer d, _) => d.Bias,
            (Conv2DLayer c, 0) => c.Weights,
            (Conv2DLayer c, _) => c.Bias,
            (BatchNormLayer n, 0) => n.Gamma,
            (BatchNormLayer n, _) => n.Beta,
            _ => throw new InvalidOperationException(),
        };

        public Span<float> Gradients => (Layer, Index) switch
        {
            (DenseLayer d, 0) => d.WeightGradients,
            (DenseLayer d, _) => d.BiasGradients,
            (Conv2DLayer c, 0) => c.WeightGradients,
            (Conv2DLayer c, _) => c.BiasGradients,
            (BatchNormLayer n, 0) => n.GammaGradients,
            (BatchNormLayer n, _) => n.BetaGradients,
            _ => throw new InvalidOperationException(),
        };
    }
}

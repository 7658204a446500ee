using System.Reflection;

namespace NetDsl.Generators.Tests;

/// <summary>
/// The generated CNN code, loaded and run: the reference network's Summary and layer views, Predict against an
/// independent double-precision reference (Keras window arithmetic computed here, not read from the generated shape
/// structs), and the backward pass against finite differences.
/// </summary>
public partial class GeneratedCodeTests
{
    private delegate Span<float> SpanOf();

    /// <summary>One parameter tensor of a loaded network: its values and its gradients, re-read after every call.</summary>
    private sealed record ParameterTensor(string Name, SpanOf Values, SpanOf Gradients);

    private static List<ParameterTensor> TrainableTensors(Network network)
    {
        var tensors = new List<ParameterTensor>();
        foreach (var layer in network.Layers)
        {
            switch (layer)
            {
                case DenseLayer d:
                    tensors.Add(new($"{d.Name}.Weights", () => d.Weights, () => d.WeightGradients));
                    if (d.UseBias)
                    {
                        tensors.Add(new($"{d.Name}.Bias", () => d.Bias, () => d.BiasGradients));
                    }

                    break;
                case Conv2DLayer c:
                    tensors.Add(new($"{c.Name}.Weights", () => c.Weights, () => c.WeightGradients));
                    if (c.UseBias)
                    {
                        tensors.Add(new($"{c.Name}.Bias", () => c.Bias, () => c.BiasGradients));
                    }

                    break;
                case BatchNormLayer b:
                    tensors.Add(new($"{b.Name}.Gamma", () => b.Gamma, () => b.GammaGradients));
                    tensors.Add(new($"{b.Name}.Beta", () => b.Beta, () => b.BetaGradients));
                    break;
            }
        }

        return tensors;
    }

    /// <summary>Non-zero biases, gammas away from 1 and non-trivial moving statistics, so every term of every formula matters.</summary>
    private static void Randomize(Network network, Random random)
    {
        float Next(double scale, double offset = 0) => (float)(offset + scale * (random.NextDouble() * 2 - 1));
        foreach (var layer in network.Layers)
        {
            switch (layer)
            {
                case DenseLayer d:
                    Fill(d.Bias, () => Next(0.5));
                    break;
                case Conv2DLayer c:
                    Fill(c.Bias, () => Next(0.5));
                    break;
                case BatchNormLayer b:
                    Fill(b.Gamma, () => Next(0.3, 1));
                    Fill(b.Beta, () => Next(0.5));
                    Fill(b.MovingMean, () => Next(0.3));
                    Fill(b.MovingVariance, () => Next(0.2, 0.7));
                    break;
            }
        }

        static void Fill(Span<float> span, Func<float> next)
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = next();
            }
        }
    }

    private static float[] RandomInputs(int count, Random random) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    // ----- the reference network ------------------------------------------------------------------------------

    /// <summary>TransferCnn's Summary has Keras' numbers for mnist_transfer_cnn (input 1x28x28, 5 classes), and the runtime agrees.</summary>
    [Fact]
    public void TransferCnn_SummaryAndLayersMatchKeras()
    {
        var type = LoadNetworkType(TestNetworks.TransferCnn, "MnistTransfer.TransferCnn");
        string summary = (string)type.GetProperty("Summary", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
        var lines = summary.Split('\n');

        // Keras: conv 3*3*1*32 + 32, conv 3*3*32*32 + 32, dense 4608*128 + 128, dense 128*5 + 5.
        AssertRow(lines, "Conv1 (Conv2D, ReLU)", "(None, 32, 26, 26)", "320");
        AssertRow(lines, "Conv2 (Conv2D, ReLU)", "(None, 32, 24, 24)", "9,248");
        AssertRow(lines, "Pool (MaxPool2D)", "(None, 32, 12, 12)", "0");
        AssertRow(lines, "FeatureDropout (Dropout)", "(None, 32, 12, 12)", "0");
        AssertRow(lines, "Flatten (Flatten)", "(None, 4608)", "0");
        AssertRow(lines, "Hidden (Dense, ReLU)", "(None, 128)", "589,952");
        AssertRow(lines, "HiddenDropout (Dropout)", "(None, 128)", "0");
        AssertRow(lines, "Output (Dense, Softmax)", "(None, 5)", "645");
        Assert.Contains("Total params: 600,165 (2,344.39 KB)", lines);

        using var network = Create(type, batchSize: 3, seed: 7, threads: 2);
        Assert.Equal((784, 5, 600_165L), (network.InputSize, network.OutputSize, network.ParameterCount));
        Assert.Equal(new[] { "Conv1", "Conv2", "Pool", "FeatureDropout", "Flatten", "Hidden", "HiddenDropout", "Output" }, network.Layers.Select(l => l.Name));
        var conv2 = Assert.IsType<Conv2DLayer>(network.Layers[1]);
        Assert.Equal((32, 32, 3, 3, 1, 1, Padding.Valid, Activation.ReLU), (conv2.InputChannels, conv2.Filters, conv2.KernelHeight, conv2.KernelWidth, conv2.StrideHeight, conv2.StrideWidth, conv2.Padding, conv2.Activation));
        Assert.Equal(new[] { 32, 24, 24 }, conv2.OutputShape.ToArray());
        var pool = Assert.IsType<PoolingLayer>(network.Layers[2]);
        Assert.Equal((true, 2, 2, 2, 2), (pool.IsMax, pool.PoolHeight, pool.PoolWidth, pool.StrideHeight, pool.StrideWidth));
        Assert.Equal(0.25f, Assert.IsType<DropoutLayer>(network.Layers[3]).Rate);
        Assert.Equal(new[] { 4608 }, network.Layers[4].OutputShape.ToArray());

        // Glorot uniform with Keras' convolution fans: fan in 3*3*32, fan out 3*3*32.
        float limit = MathF.Sqrt(6f / (288 + 288));
        Assert.All(conv2.Weights.ToArray(), w => Assert.InRange(w, -limit, limit));
        Assert.Contains(conv2.Weights.ToArray(), w => MathF.Abs(w) > limit / 2);
        Assert.All(conv2.Bias.ToArray(), b => Assert.Equal(0f, b));

        // It runs: a training step gives a finite loss near ln 5, Predict gives probabilities.
        var random = new Random(3);
        var inputs = RandomInputs(3 * 784, random).Select(v => (v + 1) / 2).ToArray();
        float loss = network.ComputeGradients(inputs, new[] { 0, 4, 2 });
        Assert.InRange(loss, 0.5f, 4f);
        Assert.Contains(conv2.WeightGradients.ToArray(), g => g != 0f);
        var outputs = new float[3 * 5];
        network.Predict(inputs, outputs);
        for (int row = 0; row < 3; row++)
        {
            Assert.Equal(1.0, outputs.Skip(row * 5).Take(5).Sum(v => (double)v), 4);
        }
    }

    // ----- Predict against a reference ----------------------------------------------------------------------

    public static TheoryData<string, string, int[]> PredictNetworks() => new()
    {
        { TestNetworks.TransferCnn, "MnistTransfer.TransferCnn", new[] { 1, 28, 28 } },
        { TestNetworks.TinyCnn, "Tests.Tiny.TinyCnn", new[] { 2, 7, 6 } },
        { TestNetworks.DeepTinyCnn, "Tests.Tiny.DeepTinyCnn", new[] { 2, 7, 6 } },
        { TestNetworks.SameStrided, "Tests.Cnn.SameStrided", new[] { 3, 32, 32 } },
        { TestNetworks.DenseBatchNormTanh, "Tests.Norm.NormTanh", new[] { 20 } },
        { TestNetworks.ActivationSoftmaxHead, "Tests.Head.SoftmaxHead", new[] { 16 } },
    };

    /// <summary>
    /// Predict (inference: moving statistics, no dropout) equals a straightforward double-precision forward pass that
    /// reads the inputs channels first, computes Keras' Same padding itself and flattens in (height, width, channels)
    /// order. Tolerance 1e-4 on probabilities: float32 dot products of at most 4,608 O(1) terms (relative error ~1e-6).
    /// </summary>
    [Theory]
    [MemberData(nameof(PredictNetworks))]
    public void GeneratedPredict_MatchesReferenceForward(string source, string typeName, int[] inputShape)
    {
        var type = LoadNetworkType(source, typeName);
        const int rows = 3;
        using var network = Create(type, batchSize: 4, seed: 5, threads: 3);
        var random = new Random(17);
        Randomize(network, random);
        var inputs = RandomInputs(rows * network.InputSize, random);
        var outputs = new float[rows * network.OutputSize];
        network.Predict(inputs, outputs);
        for (int row = 0; row < rows; row++)
        {
            var expected = ReferenceForward(network, inputShape, inputs.AsSpan(row * network.InputSize, network.InputSize).ToArray());
            for (int k = 0; k < network.OutputSize; k++)
            {
                float got = outputs[row * network.OutputSize + k];
                Assert.True(Math.Abs(got - expected[k]) <= 1e-4, $"{typeName} sample {row} class {k}: Predict {got}, reference {expected[k]}");
            }
        }
    }

    /// <summary>
    /// GENERATOR BUG (fails): Dense -> Dropout -> Activation(Softmax). The Dropout is the logits layer, so Lowerer gives it
    /// the 'Logits' buffer without the InferenceAlias an ordinary dropout output gets; its job only runs in training, so
    /// Predict's softmax reads Logits that inference never wrote (zeros: uniform probabilities, or the last training
    /// batch's dropped-out logits). Fix: in Lowerer's activation-buffer loop give the Logits buffer
    /// InferenceAlias = below when the logits layer is a Dropout.
    /// </summary>
    [Fact]
    public void DropoutBeforeSoftmaxHead_PredictUsesTheDenseOutput()
    {
        const string source = """
            using NetDsl;

            namespace Tests.DropHead;

            [Network]
            [Input(4)]
            public partial class DropHead
            {
                [Dense(3)] public partial DenseLayer Scores { get; }

                [Dropout(0.5)] public partial DropoutLayer Drop { get; }

                [Activation(Activation.Softmax)] public partial ActivationLayer Probs { get; }
            }
            """;
        var type = LoadNetworkType(source, "Tests.DropHead.DropHead");
        using var network = Create(type, batchSize: 2, seed: 1, threads: 1);
        var random = new Random(2);
        Randomize(network, random);
        var inputs = RandomInputs(2 * 4, random);
        network.ComputeGradients(inputs, new[] { 0, 1 }); // leaves dropped-out training logits behind
        var outputs = new float[2 * 3];
        network.Predict(inputs, outputs);
        for (int row = 0; row < 2; row++)
        {
            var expected = ReferenceForward(network, new[] { 4 }, inputs.AsSpan(row * 4, 4).ToArray());
            for (int k = 0; k < 3; k++)
            {
                Assert.True(Math.Abs(outputs[row * 3 + k] - expected[k]) <= 1e-4,
                    $"sample {row} class {k}: Predict {outputs[row * 3 + k]}, softmax of the Dense output {expected[k]}");
            }
        }
    }

    /// <summary>
    /// GENERATOR BUG (fails): the Summary's "Trainable params" / "Non-trainable params" lines ignore BatchNorm's moving
    /// mean and variance (SummaryBuilder.Build writes the total as trainable and a constant 0), while the runtime layer
    /// views (and Keras) count 2 x channels non-trainable parameters per BatchNorm. SameStrided: 5,386 in total, of
    /// which 16 (2 x 8 channels) are not trainable.
    /// </summary>
    [Fact]
    public void Summary_CountsBatchNormStatisticsAsNonTrainable()
    {
        var type = LoadNetworkType(TestNetworks.SameStrided, "Tests.Cnn.SameStrided");
        using var network = Create(type, batchSize: 1, seed: 0, threads: 1);
        long nonTrainable = network.Layers.Sum(l => (long)l.NonTrainableParameterCount);
        Assert.Equal(16, nonTrainable);
        Assert.Equal(5_386, network.ParameterCount);
        string summary = (string)type.GetProperty("Summary", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
        var lines = summary.Split('\n');
        Assert.Contains("Total params: 5,386 (21.04 KB)", lines);
        Assert.True(lines.Contains("Trainable params: 5,370") && lines.Contains("Non-trainable params: 16"),
            "the Summary disagrees with the layers (5,370 trainable, 16 non-trainable):\n" + summary);
    }

    /// <summary>
    /// Double-precision forward pass of one sample (inference semantics) from the layer views alone. Images are kept
    /// channels last, (h, w, c) at (h * W + w) * C + c, which is also the Flatten order.
    /// </summary>
    private static double[] ReferenceForward(Network network, int[] inputShape, float[] sample)
    {
        int h = inputShape.Length == 3 ? inputShape[1] : 1, w = inputShape.Length == 3 ? inputShape[2] : 1;
        int c = inputShape.Length == 3 ? inputShape[0] : inputShape[0];
        var x = new double[sample.Length];
        for (int ch = 0; ch < c; ch++)
        {
            for (int p = 0; p < h * w; p++)
            {
                x[p * c + ch] = sample[ch * h * w + p]; // channels first in, channels last here
            }
        }

        Activation last = Activation.Linear;
        foreach (var layer in network.Layers)
        {
            switch (layer)
            {
                case Conv2DLayer conv:
                {
                    var (oh, padTop) = Axis(h, conv.KernelHeight, conv.StrideHeight, conv.Padding);
                    var (ow, padLeft) = Axis(w, conv.KernelWidth, conv.StrideWidth, conv.Padding);
                    var weights = conv.Weights.ToArray();
                    var bias = conv.Bias.ToArray();
                    int f = conv.Filters;
                    var y = new double[oh * ow * f];
                    for (int i = 0; i < oh; i++)
                    {
                        for (int j = 0; j < ow; j++)
                        {
                            for (int o = 0; o < f; o++)
                            {
                                double sum = conv.UseBias ? bias[o] : 0;
                                for (int ki = 0; ki < conv.KernelHeight; ki++)
                                {
                                    for (int kj = 0; kj < conv.KernelWidth; kj++)
                                    {
                                        int r = i * conv.StrideHeight + ki - padTop, s = j * conv.StrideWidth + kj - padLeft;
                                        if (r < 0 || r >= h || s < 0 || s >= w)
                                        {
                                            continue; // zero padding
                                        }

                                        for (int ch = 0; ch < c; ch++)
                                        {
                                            sum += x[(r * w + s) * c + ch] * weights[((ki * conv.KernelWidth + kj) * c + ch) * f + o];
                                        }
                                    }
                                }

                                y[(i * ow + j) * f + o] = Apply(conv.Activation, sum);
                            }
                        }
                    }

                    (x, h, w, c, last) = (y, oh, ow, f, conv.Activation);
                    break;
                }

                case PoolingLayer pool:
                {
                    var (oh, padTop) = Axis(h, pool.PoolHeight, pool.StrideHeight, pool.Padding);
                    var (ow, padLeft) = Axis(w, pool.PoolWidth, pool.StrideWidth, pool.Padding);
                    var y = new double[oh * ow * c];
                    for (int i = 0; i < oh; i++)
                    {
                        for (int j = 0; j < ow; j++)
                        {
                            for (int ch = 0; ch < c; ch++)
                            {
                                double max = double.NegativeInfinity, sum = 0;
                                int count = 0;
                                for (int ki = 0; ki < pool.PoolHeight; ki++)
                                {
                                    for (int kj = 0; kj < pool.PoolWidth; kj++)
                                    {
                                        int r = i * pool.StrideHeight + ki - padTop, s = j * pool.StrideWidth + kj - padLeft;
                                        if (r >= 0 && r < h && s >= 0 && s < w)
                                        {
                                            double v = x[(r * w + s) * c + ch];
                                            max = Math.Max(max, v);
                                            sum += v;
                                            count++;
                                        }
                                    }
                                }

                                y[(i * ow + j) * c + ch] = pool.IsMax ? max : sum / count; // padding never counts
                            }
                        }
                    }

                    (x, h, w, last) = (y, oh, ow, Activation.Linear);
                    break;
                }

                case BatchNormLayer norm:
                {
                    var (gamma, beta, mean, variance) = (norm.Gamma.ToArray(), norm.Beta.ToArray(), norm.MovingMean.ToArray(), norm.MovingVariance.ToArray());
                    int channels = norm.Channels;
                    Assert.Equal(0, x.Length % channels);
                    for (int i = 0; i < x.Length; i++)
                    {
                        int ch = i % channels;
                        x[i] = gamma[ch] * (x[i] - mean[ch]) / Math.Sqrt(variance[ch] + norm.Epsilon) + beta[ch];
                    }

                    last = Activation.Linear;
                    break;
                }

                case DenseLayer dense:
                {
                    Assert.Equal(dense.Inputs, x.Length);
                    var (weights, bias) = (dense.Weights.ToArray(), dense.Bias.ToArray());
                    var y = new double[dense.Units];
                    for (int u = 0; u < dense.Units; u++)
                    {
                        double sum = dense.UseBias ? bias[u] : 0;
                        for (int i = 0; i < dense.Inputs; i++)
                        {
                            sum += x[i] * weights[i * dense.Units + u];
                        }

                        y[u] = sum;
                    }

                    x = dense.Activation == Activation.Softmax ? Softmax(y) : y.Select(v => Apply(dense.Activation, v)).ToArray();
                    (h, w, c, last) = (1, 1, dense.Units, dense.Activation);
                    break;
                }

                case ActivationLayer act:
                    x = act.Activation == Activation.Softmax ? Softmax(x) : x.Select(v => Apply(act.Activation, v)).ToArray();
                    last = act.Activation;
                    break;
                case FlattenLayer:
                    (h, w, c) = (1, 1, x.Length);
                    break;
                case DropoutLayer:
                    break; // the identity in inference
                default:
                    throw new InvalidOperationException($"no reference for {layer.Kind}");
            }
        }

        // The classifier's output is probabilities: linear logits go through the softmax the loss fuses.
        return last == Activation.Softmax ? x : Softmax(x);
    }

    /// <summary>Keras' output size and leading padding along one axis.</summary>
    private static (int Out, int Pad) Axis(int size, int window, int stride, Padding padding)
    {
        if (padding == Padding.Valid)
        {
            Assert.Equal(0, (size - window) % stride);
            return ((size - window) / stride + 1, 0);
        }

        int output = (size + stride - 1) / stride;
        return (output, Math.Max((output - 1) * stride + window - size, 0) / 2);
    }

    private static double Apply(Activation activation, double v) => activation switch
    {
        Activation.Linear => v,
        Activation.ReLU => Math.Max(v, 0),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-v)),
        Activation.Tanh => Math.Tanh(v),
        _ => throw new InvalidOperationException($"{activation} is not element-wise"),
    };

    private static double[] Softmax(double[] v)
    {
        double max = v.Max();
        var e = v.Select(x => Math.Exp(x - max)).ToArray();
        double sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }

    // ----- gradients against finite differences ---------------------------------------------------------------

    public static TheoryData<string, string> CnnGradientNetworks() => new()
    {
        { TestNetworks.TinyCnn, "Tests.Tiny.TinyCnn" },
        { TestNetworks.DeepTinyCnn, "Tests.Tiny.DeepTinyCnn" },
        { TestNetworks.DenseBatchNormTanh.Replace("[Dropout(0.2)]", "[Dropout(0)]", StringComparison.Ordinal), "Tests.Norm.NormTanh" },
    };

    /// <summary>
    /// The generated backward pass of small CNNs against central finite differences of the generated float32 forward
    /// pass (training mode: BatchNorm uses batch statistics, so its backward is checked in full), for up to 6 entries
    /// of every parameter tensor.
    /// <para>Tolerance: |analytic - numeric| &lt;= 2e-3 + 5% of |numeric|, with eps = 1e-2. The truncation error of a
    /// central difference is eps^2 / 6 * |f'''| ~ 2e-5 for these O(1) smooth activations; the rounding error is about
    /// |loss| * 2^-24 * (tens of accumulated roundings) / (2 eps) ~ 1e-4 (the loss is a float32 mean). Both are an order
    /// of magnitude below the bound, while a wrong offset, stride, padding or a missing activation derivative changes
    /// a gradient by far more than 5%.</para>
    /// <para>Max pooling is not differentiable where two cells of a window tie: a probe whose perturbation switches a
    /// window's maximum is detected by comparing the differences at eps and eps / 2 (which agree to ~1e-4 for a smooth
    /// loss) and is skipped; at most a quarter of the probes may be skipped.</para>
    /// </summary>
    [Theory]
    [MemberData(nameof(CnnGradientNetworks))]
    public void GeneratedCnnGradients_MatchFiniteDifferences(string source, string typeName)
    {
        var type = LoadNetworkType(source, typeName);
        const int rows = 5;
        using var network = Create(type, batchSize: 8, seed: 3, threads: 2);
        var random = new Random(23);
        Randomize(network, random);
        var inputs = RandomInputs(rows * network.InputSize, random);
        var labels = Enumerable.Range(0, rows).Select(i => (i * 3 + 1) % network.OutputSize).ToArray();

        network.ComputeGradients(inputs, labels);
        var tensors = TrainableTensors(network);
        var analytic = tensors.Select(t => t.Gradients().ToArray()).ToList();
        Assert.All(analytic, g => Assert.Contains(g, v => v != 0f));

        double Difference(ParameterTensor tensor, int index, float eps)
        {
            float saved = tensor.Values()[index];
            tensor.Values()[index] = saved + eps;
            double plus = network.ComputeGradients(inputs, labels);
            tensor.Values()[index] = saved - eps;
            double minus = network.ComputeGradients(inputs, labels);
            tensor.Values()[index] = saved;
            return (plus - minus) / (2.0 * eps);
        }

        const float eps = 1e-2f;
        int checkedCount = 0, kinks = 0;
        var failures = new List<string>();
        for (int t = 0; t < tensors.Count; t++)
        {
            int length = analytic[t].Length;
            for (int k = 0; k < Math.Min(length, 6); k++)
            {
                int index = (k * 7919 + k / 2) % length;
                double numeric = Difference(tensors[t], index, eps);
                double half = Difference(tensors[t], index, eps / 2);
                if (Math.Abs(numeric - half) > 1e-3 + 0.02 * Math.Abs(numeric))
                {
                    kinks++;
                    continue;
                }

                double got = analytic[t][index];
                if (!(Math.Abs(numeric - got) <= 2e-3 + 0.05 * Math.Abs(numeric)))
                {
                    failures.Add($"{tensors[t].Name}[{index}]: backward {got}, finite difference {numeric}");
                }

                checkedCount++;
            }
        }

        Assert.True(failures.Count == 0, $"{typeName}: {failures.Count} of {checkedCount} gradients disagree:\n" + string.Join("\n", failures));
        Assert.True(checkedCount >= 15 && kinks * 4 <= checkedCount + kinks, $"{typeName}: {checkedCount} probes checked, {kinks} skipped at max-pool kinks");
    }

    /// <summary>
    /// Freezing the first layer skips its gradients and every input gradient below the next trainable layer, but must
    /// not change any other layer's gradients (the _inputGradient_ guards of the generated Backward).
    /// </summary>
    [Fact]
    public void FrozenFirstLayer_LeavesTheOtherGradientsUnchanged()
    {
        var type = LoadNetworkType(TestNetworks.DeepTinyCnn, "Tests.Tiny.DeepTinyCnn");
        using var network = Create(type, batchSize: 4, seed: 9, threads: 2);
        var random = new Random(4);
        Randomize(network, random);
        var inputs = RandomInputs(4 * network.InputSize, random);
        var labels = new[] { 0, 1, 2, 3 };
        var tensors = TrainableTensors(network);

        network.ComputeGradients(inputs, labels);
        var before = tensors.Select(t => t.Gradients().ToArray()).ToList();
        network.Gradients.Clear();
        network.Layers[0].Trainable = false;
        network.ComputeGradients(inputs, labels);
        for (int t = 0; t < tensors.Count; t++)
        {
            var after = tensors[t].Gradients().ToArray();
            if (tensors[t].Name.StartsWith("Conv1.", StringComparison.Ordinal))
            {
                Assert.All(after, g => Assert.Equal(0f, g)); // not computed (cleared above)
            }
            else
            {
                Assert.Equal(before[t], after);
            }
        }
    }
}

using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Numerics;

/// <summary>
/// Validates the double-precision CNN oracle <see cref="CnnReference"/> itself: its gradients against central finite
/// differences of its own loss (which checks the backward passes against the forward passes), and its forward
/// semantics against hand-computed examples (which finite differences cannot check: padding placement, flatten
/// order, tie-breaking, the moving-statistics rule).
/// </summary>
public class CnnReferenceTests(ITestOutputHelper output)
{
    public static TheoryData<string> Architectures() => new() { "ConvPoolDense", "StridedSameBatchNorm", "InferenceNormDropout", "ReluDeep", "PaddedLrn" };

    private static (CnnReference Net, CnnPass Pass, int Rows) Build(string name, Random random)
    {
        switch (name)
        {
            case "ConvPoolDense":
                // The tiny reference network: valid 3x3 convolutions, max pooling, dense head; Sigmoid/Tanh so no kinks.
                return (new CnnReference.Builder(new CnnShape(1, 8, 8))
                    .Conv(3, 3, 3, Activation.Tanh).Conv(4, 3, 3, Activation.Sigmoid).Pool(true, 2, 2, 2, 2)
                    .Flatten().Dense(5, Activation.Sigmoid).Dense(3, Activation.Softmax).Build(), CnnPass.Train(), 3);
            case "StridedSameBatchNorm":
                // 2x3 kernel, stride 2, Same padding, overlapping Same average pooling, BatchNorm after a convolution
                // and a dense layer (training mode), standalone activations, a final standalone Softmax.
                return (new CnnReference.Builder(new CnnShape(3, 7, 6))
                    .Conv(4, 2, 3, Activation.Linear, strideH: 2, strideW: 2, padding: Padding.Same, useBias: false)
                    .BatchNorm().Act(Activation.Tanh)
                    .Pool(false, 3, 3, 2, 2, Padding.Same)
                    .Conv(5, 1, 2, Activation.Sigmoid, strideH: 1, strideW: 1, padding: Padding.Valid)
                    .Flatten().Dense(6, Activation.Linear, useBias: false).BatchNorm(0.9, 0.01).Act(Activation.Tanh)
                    .Dense(4, Activation.Linear).Act(Activation.Softmax).Build(), CnnPass.Train(), 4);
            case "InferenceNormDropout":
            {
                // Same-padded convolution, BatchNorm in inference mode (random moving statistics), overlapping Same
                // max pooling, dropout with a fixed mask, a hidden softmax.
                var net = new CnnReference.Builder(new CnnShape(2, 6, 5))
                    .Conv(3, 3, 3, Activation.Sigmoid, padding: Padding.Same).BatchNorm()
                    .Pool(true, 3, 3, 2, 2, Padding.Same).Dropout(0.5)
                    .Flatten().Dense(7, Activation.Softmax).Dense(3, Activation.Linear).Build();
                var bn = (BatchNormRef)net.Layers[1];
                bn.InferenceMode = true;
                Fill(bn.MovingMean, random, 0.3);
                for (int c = 0; c < bn.MovingVariance.Length; c++)
                {
                    bn.MovingVariance[c] = 0.5 + random.NextDouble();
                }

                const int Rows = 3;
                var mask = new bool[Rows * net.Layers[3].In.Size];
                for (int i = 0; i < mask.Length; i++)
                {
                    mask[i] = random.NextDouble() >= 0.5;
                }

                return (net, CnnPass.Train(new Dictionary<int, bool[]> { [3] = mask }), Rows);
            }

            case "ReluDeep":
                // ReLU everywhere (kinks are measure-zero; the seed keeps every pre-activation away from 0 by far more than h).
                return (new CnnReference.Builder(new CnnShape(2, 7, 7))
                    .Conv(4, 3, 3, Activation.ReLU).Conv(5, 2, 2, Activation.ReLU, strideH: 2, strideW: 2, padding: Padding.Same)
                    .Pool(false, 2, 2, 1, 1).Flatten().Dense(6, Activation.ReLU).Dense(3, Activation.Softmax).Build(), CnnPass.Train(), 2);
            case "PaddedLrn":
                // The model table's layers: explicit padding with floor, an asymmetric zero padding, a local response
                // normalisation with a large alpha, a ceil-mode pooling.
                return (new CnnReference.Builder(new CnnShape(4, 7, 6))
                    .Conv(5, 3, 3, Activation.Tanh, strideH: 2, strideW: 2, padH: 1, padW: 1).Lrn(3, 0.8, 0.75, 1.5).ZeroPad(1, 0, 2, 1)
                    .Pool(true, 3, 3, 2, 2, ceil: true).Flatten().Dense(3, Activation.Softmax).Build(), CnnPass.Train(), 2);
            default:
                throw new ArgumentOutOfRangeException(nameof(name));
        }
    }

    /// <summary>
    /// Central differences with h = 1e-6 in double: truncation error ~ h^2 |L'''| ~ 1e-12, rounding error
    /// ~ eps |L| / h ~ 2e-16 * 2 / 1e-6 ~ 5e-10, so |analytic - fd| must stay below 1e-6 relative to the gradient's
    /// magnitude plus 1e-8 absolute. Every parameter of every layer and every input value is checked.
    /// </summary>
    [Theory]
    [MemberData(nameof(Architectures))]
    public void Gradients_match_central_finite_differences(string name)
    {
        var random = new Random(name.Length * 31 + 7);
        var (net, pass, rows) = Build(name, random);
        foreach (var layer in net.Layers)
        {
            foreach (var p in layer.Parameters)
            {
                if (layer is BatchNormRef)
                {
                    for (int i = 0; i < p.Length; i++)
                    {
                        p[i] = ReferenceEquals(p, ((BatchNormRef)layer).Gamma) ? 0.5 + random.NextDouble() : random.NextDouble() - 0.5;
                    }
                }
                else
                {
                    Fill(p, random, 0.8);
                }
            }
        }

        var x = new double[rows * net.Input.Size];
        Fill(x, random, 1.0);
        int[] labels = Enumerable.Range(0, rows).Select(r => (r * 2 + 1) % net.Classes).ToArray();
        var analytic = net.Gradients(x, labels, rows, pass);
        Assert.Equal(net.Loss(x, labels, rows, pass), analytic.Loss, 12);

        const double H = 1e-6;
        double worst = 0;
        int checkedCount = 0, nonZero = 0;
        for (int l = 0; l < net.Layers.Length; l++)
        {
            var parameters = net.Layers[l].Parameters;
            Assert.Equal(parameters.Count, analytic.Parameters[l].Length);
            for (int t = 0; t < parameters.Count; t++)
            {
                Check(parameters[t], analytic.Parameters[l][t], $"layer {l} ({net.Layers[l].GetType().Name}) tensor {t}");
            }
        }

        Check(x, analytic.Input, "input");
        output.WriteLine($"{name}: {checkedCount} values ({nonZero} non-zero gradients), worst |g - fd| / (|g| + 1e-2) = {worst:E2}");
        Assert.True(nonZero > checkedCount / 2, "most gradients vanished: the check would prove little");

        void Check(double[] values, double[] gradient, string what)
        {
            Assert.Equal(values.Length, gradient.Length);
            for (int i = 0; i < values.Length; i++)
            {
                double saved = values[i];
                values[i] = saved + H;
                double plus = net.Loss(x, labels, rows, pass);
                values[i] = saved - H;
                double minus = net.Loss(x, labels, rows, pass);
                values[i] = saved;
                double fd = (plus - minus) / (2 * H);
                double error = Math.Abs(gradient[i] - fd);
                worst = Math.Max(worst, error / (Math.Abs(gradient[i]) + 1e-2));
                checkedCount++;
                nonZero += gradient[i] != 0 ? 1 : 0;
                Assert.True(error <= 1e-6 * Math.Max(Math.Abs(gradient[i]), Math.Abs(fd)) + 1e-8,
                    $"{what}[{i}]: analytic {gradient[i]:R}, finite difference {fd:R}, error {error:E3}");
            }
        }
    }

    /// <summary>Keras' padding arithmetic: out = ceil(in / s) for Same with the odd padding cell after; floor((in - k) / s) + 1 for Valid.</summary>
    [Theory]
    [InlineData(5, 3, 2, Padding.Same, 3, 1)] // total 2: 1 before, 1 after
    [InlineData(7, 2, 2, Padding.Same, 4, 0)] // total 1: 0 before, 1 after
    [InlineData(6, 2, 2, Padding.Same, 3, 0)] // total 0
    [InlineData(4, 3, 1, Padding.Same, 4, 1)]
    [InlineData(11, 2, 2, Padding.Same, 6, 0)] // total 1
    [InlineData(9, 3, 2, Padding.Same, 5, 1)] // total 2
    [InlineData(8, 3, 1, Padding.Valid, 6, 0)]
    [InlineData(7, 3, 2, Padding.Valid, 3, 0)]
    public void Window_axis_follows_Keras(int size, int window, int stride, Padding padding, int expectedOut, int expectedPad)
    {
        Assert.Equal((expectedOut, expectedPad), CnnRefLayer.Axis(size, window, stride, padding));
    }

    [Fact]
    public void Convolution_by_hand()
    {
        // One 3x3 channel 1..9; kernel [[1, 0], [0, -1]], bias 0.5: every output is x[i, j] - x[i + 1, j + 1] + 0.5 = -3.5.
        var conv = new ConvRef(new CnnShape(1, 3, 3), 1, 2, 2, 1, 1, Padding.Valid, Activation.Linear, true);
        conv.Weights[0] = 1; // W[0, 0, 0, 0]
        conv.Weights[3] = -1; // W[1, 1, 0, 0]
        conv.Bias![0] = 0.5;
        double[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        Assert.Equal([-3.5, -3.5, -3.5, -3.5], conv.Forward(x, 1, CnnPass.Inference, 0));

        // Same padding, 3x3 kernel of ones: window sums with zeros outside (corner 1+2+4+5 = 12, centre 45).
        var same = new ConvRef(new CnnShape(1, 3, 3), 1, 3, 3, 1, 1, Padding.Same, Activation.Linear, false);
        Array.Fill(same.Weights, 1.0);
        Assert.Equal([12, 21, 16, 27, 45, 33, 24, 39, 28], same.Forward(x, 1, CnnPass.Inference, 0));

        // Two input channels, two filters: W[ky, kx, c, f] with f fastest. 1x1 kernel: y[f] = Σ_c x[c] W[0, 0, c, f].
        var mix = new ConvRef(new CnnShape(2, 1, 2), 2, 1, 1, 1, 1, Padding.Valid, Activation.Linear, false);
        mix.Weights[0] = 1; // c0 -> f0
        mix.Weights[1] = 10; // c0 -> f1
        mix.Weights[2] = 100; // c1 -> f0
        mix.Weights[3] = 1000; // c1 -> f1
        // x: channel 0 = (1, 2), channel 1 = (3, 4) -> f0 = (301, 402), f1 = (3010, 4020).
        Assert.Equal([301, 402, 3010, 4020], mix.Forward([1, 2, 3, 4], 1, CnnPass.Inference, 0));
    }

    [Fact]
    public void Flatten_orders_height_width_channels()
    {
        // (C = 2, H = 1, W = 2): channel 0 = (a0, a1), channel 1 = (b0, b1) -> (a0, b0, a1, b1).
        var flatten = new FlattenRef(new CnnShape(2, 1, 2));
        Assert.Equal([1, 3, 2, 4], flatten.Forward([1, 2, 3, 4], 1, CnnPass.Inference, 0));
        Assert.Equal([1, 2, 3, 4], flatten.Backward([1, 2, 3, 4], [1, 3, 2, 4], 1, CnnPass.Inference, 0).Dx);
    }

    [Fact]
    public void Pooling_by_hand()
    {
        // Max 2x2 with a three-way tie at 3: the gradient goes to the first (top-left) cell of the tie.
        var max = new PoolRef(new CnnShape(1, 2, 2), true, 2, 2, 2, 2, Padding.Valid);
        double[] x = [3, 3, 1, 3];
        Assert.Equal([3], max.Forward(x, 1, CnnPass.Inference, 0));
        Assert.Equal([5, 0, 0, 0], max.Backward(x, [5], 1, CnnPass.Inference, 0).Dx);

        // Average 2x2 stride 2 Same on 3x3: out 2x2, the padding row/column at the bottom/right is not counted.
        var avg = new PoolRef(new CnnShape(1, 3, 3), false, 2, 2, 2, 2, Padding.Same);
        double[] y = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        Assert.Equal([3, 4.5, 7.5, 9], avg.Forward(y, 1, CnnPass.Inference, 0));
        Assert.Equal([0.25, 0.25, 1, 0.25, 0.25, 1, 0.5, 0.5, 2], avg.Backward(y, [1, 2, 1, 2], 1, CnnPass.Inference, 0).Dx);

        // Max over a window with negative values and padding: padding cells (zeros in a convolution) never win.
        var maxSame = new PoolRef(new CnnShape(1, 1, 3), true, 1, 2, 1, 2, Padding.Same);
        Assert.Equal([-1, -3], maxSame.Forward([-2, -1, -3], 1, CnnPass.Inference, 0));
    }

    [Fact]
    public void BatchNorm_by_hand()
    {
        // One feature, two rows x = (1, 3): mean 2, biased variance 1, xhat = (-1, 1) / sqrt(1 + eps).
        var bn = new BatchNormRef(CnnShape.Flat(1), 0.99, 1e-3);
        bn.Gamma[0] = 2;
        bn.Beta[0] = 0.5;
        double s = 1 / Math.Sqrt(1 + 1e-3);
        var y = bn.Forward([1, 3], 2, CnnPass.Train(), 0);
        Assert.Equal(0.5 - 2 * s, y[0], 14);
        Assert.Equal(0.5 + 2 * s, y[1], 14);

        // Keras 2 moving statistics: mean 0 * 0.99 + 2 * 0.01; variance 1 * 0.99 + (unbiased 2) * 0.01.
        var (m, v) = bn.UpdatedMovingStatistics([1, 3], 2);
        Assert.Equal(0.02, m[0], 14);
        Assert.Equal(1.01, v[0], 14);

        // Inference: moving statistics. Per channel of an image: statistics over rows, H and W together.
        bn.MovingMean[0] = 1;
        bn.MovingVariance[0] = 4 - 1e-3;
        Assert.Equal([0.5, 2.5], bn.Forward([1, 3], 2, CnnPass.Inference, 0), new Tolerance(1e-14));
        var image = new BatchNormRef(new CnnShape(2, 1, 2), 0.99, 1e-3);
        var (mean, variance) = image.BatchStatistics([1, 3, 10, 10, 5, 7, 10, 14], 2);
        Assert.Equal([4, 11], mean);
        Assert.Equal([5, 3], variance);
    }

    [Fact]
    public void Dropout_applies_the_given_mask_in_training_only()
    {
        var drop = new DropoutRef(CnnShape.Flat(4), 0.5);
        var pass = CnnPass.Train(new Dictionary<int, bool[]> { [0] = [true, false, false, true] });
        Assert.Equal([2, 0, 0, 8], drop.Forward([1, 2, 3, 4], 1, pass, 0));
        Assert.Equal([2, 0, 0, 2], drop.Backward([1, 2, 3, 4], [1, 1, 1, 1], 1, pass, 0).Dx);
        Assert.Equal([1, 2, 3, 4], drop.Forward([1, 2, 3, 4], 1, CnnPass.Inference, 0));
        Assert.Throws<InvalidOperationException>(() => drop.Forward([1, 2, 3, 4], 1, CnnPass.Train(), 0));
    }

    private static void Fill(double[] values, Random random, double scale)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (2 * random.NextDouble() - 1) * scale;
        }
    }

    private sealed class Tolerance(double epsilon) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= epsilon;

        public int GetHashCode(double value) => 0;
    }
}

using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Numerics;

/// <summary>Validates the double-precision oracle itself: its gradients against central finite differences of its loss.</summary>
public class ReferenceMlpTests(ITestOutputHelper output)
{
    public static TheoryData<Activation, Activation, bool> Architectures()
    {
        var data = new TheoryData<Activation, Activation, bool>();
        Activation[] hidden = [Activation.Linear, Activation.ReLU, Activation.Sigmoid, Activation.Tanh, Activation.Softmax];
        foreach (var h in hidden)
        {
            data.Add(h, Activation.Softmax, true);
            data.Add(h, Activation.Linear, false);
        }

        return data;
    }

    /// <summary>
    /// Central differences with h = 1e-6 in double: truncation error ~ h^2 |L'''| ~ 1e-12 and rounding error
    /// ~ eps |L| / h ~ 2e-16 * 2 / 1e-6 ~ 5e-10, so |analytic - fd| must stay below 1e-6 relative to the gradient's
    /// magnitude plus an absolute 1e-8 for the rounding floor (gradients here are ~1e-3..1e-1).
    /// </summary>
    [Theory]
    [MemberData(nameof(Architectures))]
    public void Gradients_match_central_finite_differences(Activation hiddenActivation, Activation last, bool middleBias)
    {
        var random = new Random(17 + (int)hiddenActivation * 7 + (int)last);
        var net = new ReferenceMlp(5,
            new ReferenceLayer(5, 4, hiddenActivation, useBias: true),
            new ReferenceLayer(4, 6, hiddenActivation == Activation.Softmax ? Activation.Tanh : Activation.Sigmoid, useBias: middleBias),
            new ReferenceLayer(6, 3, last, useBias: true));
        foreach (var layer in net.Layers)
        {
            Fill(layer.W, random, 0.9);
            if (layer.B is not null)
            {
                Fill(layer.B, random, 0.5);
            }
        }

        const int Rows = 4;
        var x = new double[Rows * 5];
        Fill(x, random, 1.0);
        int[] labels = [0, 2, 1, 2];

        var analytic = net.Gradients(x, labels, Rows);
        Assert.Equal(net.Loss(x, labels, Rows), analytic.Loss, 12);

        const double H = 1e-6;
        double worst = 0;
        int checkedCount = 0;
        for (int l = 0; l < net.Layers.Length; l++)
        {
            var layer = net.Layers[l];
            Check(layer.W, analytic.Weights[l], $"W{l}");
            if (layer.B is not null)
            {
                Check(layer.B, analytic.Biases[l]!, $"b{l}");
            }
            else
            {
                Assert.Null(analytic.Biases[l]);
            }
        }

        output.WriteLine($"{hiddenActivation}/{last}: {checkedCount} parameters, worst |g - fd| / (|g| + 1e-2) = {worst:E2}");
        Assert.True(checkedCount > 60);

        void Check(double[] parameters, double[] gradient, string name)
        {
            Assert.Equal(parameters.Length, gradient.Length);
            for (int i = 0; i < parameters.Length; i++)
            {
                double saved = parameters[i];
                parameters[i] = saved + H;
                double plus = net.Loss(x, labels, Rows);
                parameters[i] = saved - H;
                double minus = net.Loss(x, labels, Rows);
                parameters[i] = saved;
                double fd = (plus - minus) / (2 * H);
                double error = Math.Abs(gradient[i] - fd);
                worst = Math.Max(worst, error / (Math.Abs(gradient[i]) + 1e-2));
                checkedCount++;
                Assert.True(error <= 1e-6 * Math.Max(Math.Abs(gradient[i]), Math.Abs(fd)) + 1e-8,
                    $"{name}[{i}]: analytic {gradient[i]:R}, finite difference {fd:R}, error {error:E3}");
            }
        }
    }

    [Fact]
    public void Zero_weights_give_uniform_probabilities_and_loss_log_classes()
    {
        var net = new ReferenceMlp(3, new ReferenceLayer(3, 4, Activation.Tanh, true), new ReferenceLayer(4, 7, Activation.Softmax, true));
        double[] x = [0.3, -2, 5, 1, 1, 1];
        double[] p = net.Probabilities(x, 2);
        Assert.All(p, v => Assert.Equal(1.0 / 7, v, 15));
        Assert.Equal(Math.Log(7), net.Loss(x, [3, 6], 2), 14);
    }

    [Fact]
    public void Hand_computed_single_layer_example()
    {
        // One sample x = (1, 2), W = [[1, 0], [0, -1]] (2 x 2), b = (0.5, 0): logits z = (1.5, -2).
        var layer = new ReferenceLayer(2, 2, Activation.Linear, true);
        layer.W[0] = 1;
        layer.W[3] = -1;
        layer.B![0] = 0.5;
        var net = new ReferenceMlp(2, layer);
        double p0 = 1 / (1 + Math.Exp(-3.5));
        var g = net.Gradients([1, 2], [1], 1);
        Assert.Equal(-Math.Log(1 - p0), g.Loss, 14);
        // dz = p - onehot(1) = (p0, p1 - 1) = (p0, -p0); dW[i, j] = x_i dz_j.
        Assert.Equal([p0, -p0, 2 * p0, -2 * p0], g.Weights[0], new Tolerance(1e-15));
        Assert.Equal([p0, -p0], g.Biases[0]!, new Tolerance(1e-15));
    }

    [Fact]
    public void Softmax_row_is_stable_for_huge_logits()
    {
        var s = new double[3];
        ReferenceMlp.SoftmaxRow([1000, -1000, 1000], s);
        Assert.Equal([0.5, 0, 0.5], s, new Tolerance(1e-15));
        Assert.Equal(2000 + Math.Log(2), ReferenceMlp.LossFromLogits([1000, -1000, 1000], [1], 1, 3), 9);
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

namespace NetDsl.Tests.Numerics;

/// <summary>One dense layer of the reference: <c>a = f(x · W + b)</c> with W [In x Out] row-major, in double.</summary>
public sealed class ReferenceLayer
{
    public ReferenceLayer(int inputs, int units, Activation activation, bool useBias)
    {
        Inputs = inputs;
        Units = units;
        Activation = activation;
        W = new double[inputs * units];
        B = useBias ? new double[units] : null;
    }

    public int Inputs { get; }

    public int Units { get; }

    public Activation Activation { get; }

    /// <summary>Weights, W[i, j] = W[i * Units + j].</summary>
    public double[] W { get; }

    /// <summary>Bias, or null for a layer without one.</summary>
    public double[]? B { get; }
}

/// <summary>The gradients of the mean loss of a batch, one weight and one bias array per layer.</summary>
public sealed record ReferenceGradients(double Loss, double[][] Weights, double[]?[] Biases);

/// <summary>
/// A deliberately plain dense network in double precision, written from the math (not from NetDsl's code), used
/// as the oracle for the generated networks.
/// <para>
/// Forward: <c>z_l = a_{l-1} · W_l + b_l</c>, <c>a_l = f_l(z_l)</c>, with f one of Linear, ReLU, Sigmoid, Tanh or a
/// row-wise Softmax. Loss: sparse categorical cross-entropy, mean over the batch, of <c>softmax(z_last)</c>: the
/// last layer's pre-activation is treated as logits whether it is declared Linear or Softmax (NetDsl's
/// <see cref="Loss.SparseCategoricalCrossEntropy"/> contract). Backward by the chain rule:
/// <c>dL/dz_last = (softmax(z_last) - onehot(y)) / rows</c>, <c>dW_l = a_{l-1}^T · dz_l</c>,
/// <c>db_l = sum over rows of dz_l</c>, <c>da_{l-1} = dz_l · W_l^T</c>, <c>dz_{l-1} = da_{l-1} ⊙ f'(z_{l-1})</c>
/// (element-wise derivatives evaluated at z; for a softmax, the Jacobian-vector product
/// <c>dz_j = s_j (da_j - Σ_k da_k s_k)</c>).
/// </para>
/// </summary>
public sealed class ReferenceMlp
{
    public ReferenceMlp(int inputSize, params ReferenceLayer[] layers)
    {
        InputSize = inputSize;
        Layers = layers;
        int width = inputSize;
        foreach (var layer in layers)
        {
            if (layer.Inputs != width)
            {
                throw new ArgumentException($"Layer expects {layer.Inputs} inputs, previous width is {width}.");
            }

            width = layer.Units;
        }
    }

    public int InputSize { get; }

    public ReferenceLayer[] Layers { get; }

    public int OutputSize => Layers[^1].Units;

    /// <summary>A reference with the same architecture and the same (widened) parameters as a generated network.</summary>
    public static ReferenceMlp From(Network network)
    {
        var layers = new List<ReferenceLayer>();
        foreach (var layer in network.Layers)
        {
            var dense = (DenseLayer)layer;
            var r = new ReferenceLayer(dense.Inputs, dense.Units, dense.Activation, dense.UseBias);
            ReadOnlySpan<float> w = dense.Weights;
            for (int i = 0; i < w.Length; i++)
            {
                r.W[i] = w[i];
            }

            if (r.B is not null)
            {
                ReadOnlySpan<float> b = dense.Bias;
                for (int i = 0; i < b.Length; i++)
                {
                    r.B[i] = b[i];
                }
            }

            layers.Add(r);
        }

        return new ReferenceMlp(network.InputSize, [.. layers]);
    }

    /// <summary>Forward pass: the pre-activations z and activations a of every layer ([rows x units] each).</summary>
    public (double[][] Z, double[][] A) Forward(double[] x, int rows)
    {
        if (x.Length != rows * InputSize)
        {
            throw new ArgumentException("Input length mismatch.");
        }

        var zs = new double[Layers.Length][];
        var acts = new double[Layers.Length][];
        double[] input = x;
        for (int l = 0; l < Layers.Length; l++)
        {
            var layer = Layers[l];
            var z = new double[rows * layer.Units];
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < layer.Units; j++)
                {
                    double s = layer.B is null ? 0.0 : layer.B[j];
                    for (int i = 0; i < layer.Inputs; i++)
                    {
                        s += input[r * layer.Inputs + i] * layer.W[i * layer.Units + j];
                    }

                    z[r * layer.Units + j] = s;
                }
            }

            var a = new double[z.Length];
            if (layer.Activation == Activation.Softmax)
            {
                for (int r = 0; r < rows; r++)
                {
                    SoftmaxRow(z.AsSpan(r * layer.Units, layer.Units), a.AsSpan(r * layer.Units, layer.Units));
                }
            }
            else
            {
                for (int k = 0; k < z.Length; k++)
                {
                    a[k] = Apply(layer.Activation, z[k]);
                }
            }

            zs[l] = z;
            acts[l] = a;
            input = a;
        }

        return (zs, acts);
    }

    /// <summary>Class probabilities: softmax of the last layer's pre-activation, [rows x classes].</summary>
    public double[] Probabilities(double[] x, int rows)
    {
        var (z, _) = Forward(x, rows);
        double[] logits = z[^1];
        var p = new double[logits.Length];
        for (int r = 0; r < rows; r++)
        {
            SoftmaxRow(logits.AsSpan(r * OutputSize, OutputSize), p.AsSpan(r * OutputSize, OutputSize));
        }

        return p;
    }

    /// <summary>Mean sparse categorical cross-entropy of the batch.</summary>
    public double Loss(double[] x, int[] labels, int rows)
    {
        var (z, _) = Forward(x, rows);
        return LossFromLogits(z[^1], labels, rows, OutputSize);
    }

    /// <summary>Loss and gradients of the mean loss with respect to every weight and bias.</summary>
    public ReferenceGradients Gradients(double[] x, int[] labels, int rows)
    {
        var (zs, acts) = Forward(x, rows);
        int last = Layers.Length - 1;
        int classes = OutputSize;
        double loss = LossFromLogits(zs[last], labels, rows, classes);

        // dL/dz of the last layer: (softmax(z) - onehot) / rows.
        var dz = new double[rows * classes];
        for (int r = 0; r < rows; r++)
        {
            SoftmaxRow(zs[last].AsSpan(r * classes, classes), dz.AsSpan(r * classes, classes));
            dz[r * classes + labels[r]] -= 1.0;
        }

        for (int k = 0; k < dz.Length; k++)
        {
            dz[k] /= rows;
        }

        var dWs = new double[Layers.Length][];
        var dBs = new double[Layers.Length][];
        for (int l = last; l >= 0; l--)
        {
            var layer = Layers[l];
            double[] input = l == 0 ? x : acts[l - 1];
            var dW = new double[layer.Inputs * layer.Units];
            for (int i = 0; i < layer.Inputs; i++)
            {
                for (int j = 0; j < layer.Units; j++)
                {
                    double s = 0;
                    for (int r = 0; r < rows; r++)
                    {
                        s += input[r * layer.Inputs + i] * dz[r * layer.Units + j];
                    }

                    dW[i * layer.Units + j] = s;
                }
            }

            dWs[l] = dW;
            if (layer.B is not null)
            {
                var dB = new double[layer.Units];
                for (int j = 0; j < layer.Units; j++)
                {
                    for (int r = 0; r < rows; r++)
                    {
                        dB[j] += dz[r * layer.Units + j];
                    }
                }

                dBs[l] = dB;
            }

            if (l == 0)
            {
                break;
            }

            // da_{l-1} = dz · W^T, then through the activation of layer l - 1.
            var below = Layers[l - 1];
            var da = new double[rows * layer.Inputs];
            for (int r = 0; r < rows; r++)
            {
                for (int i = 0; i < layer.Inputs; i++)
                {
                    double s = 0;
                    for (int j = 0; j < layer.Units; j++)
                    {
                        s += dz[r * layer.Units + j] * layer.W[i * layer.Units + j];
                    }

                    da[r * layer.Inputs + i] = s;
                }
            }

            var dzBelow = new double[da.Length];
            if (below.Activation == Activation.Softmax)
            {
                int n = below.Units;
                var s = new double[n];
                for (int r = 0; r < rows; r++)
                {
                    SoftmaxRow(zs[l - 1].AsSpan(r * n, n), s);
                    double dot = 0;
                    for (int k = 0; k < n; k++)
                    {
                        dot += da[r * n + k] * s[k];
                    }

                    for (int k = 0; k < n; k++)
                    {
                        dzBelow[r * n + k] = s[k] * (da[r * n + k] - dot);
                    }
                }
            }
            else
            {
                for (int k = 0; k < da.Length; k++)
                {
                    dzBelow[k] = da[k] * Derivative(below.Activation, zs[l - 1][k]);
                }
            }

            dz = dzBelow;
        }

        return new ReferenceGradients(loss, dWs, dBs);
    }

    /// <summary>f(z) for an element-wise activation.</summary>
    public static double Apply(Activation activation, double z) => activation switch
    {
        Activation.Linear => z,
        Activation.ReLU => z > 0 ? z : 0,
        Activation.Sigmoid => 1.0 / (1.0 + Math.Exp(-z)),
        Activation.Tanh => Math.Tanh(z),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, "Not element-wise."),
    };

    /// <summary>f'(z) for an element-wise activation, evaluated at the pre-activation.</summary>
    public static double Derivative(Activation activation, double z)
    {
        switch (activation)
        {
            case Activation.Linear:
                return 1;
            case Activation.ReLU:
                return z > 0 ? 1 : 0;
            case Activation.Sigmoid:
                double e = Math.Exp(-z);
                return e / ((1 + e) * (1 + e));
            case Activation.Tanh:
                double c = Math.Cosh(z);
                return 1 / (c * c);
            default:
                throw new ArgumentOutOfRangeException(nameof(activation), activation, "Not element-wise.");
        }
    }

    /// <summary>s = exp(z - max z) / sum.</summary>
    public static void SoftmaxRow(ReadOnlySpan<double> z, Span<double> s)
    {
        double max = double.NegativeInfinity;
        foreach (double v in z)
        {
            max = Math.Max(max, v);
        }

        double sum = 0;
        for (int k = 0; k < z.Length; k++)
        {
            s[k] = Math.Exp(z[k] - max);
            sum += s[k];
        }

        for (int k = 0; k < z.Length; k++)
        {
            s[k] /= sum;
        }
    }

    /// <summary>Mean over rows of <c>log(sum exp z) - z[label]</c>.</summary>
    public static double LossFromLogits(double[] logits, int[] labels, int rows, int classes)
    {
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity;
            for (int k = 0; k < classes; k++)
            {
                max = Math.Max(max, logits[r * classes + k]);
            }

            double sum = 0;
            for (int k = 0; k < classes; k++)
            {
                sum += Math.Exp(logits[r * classes + k] - max);
            }

            total += max + Math.Log(sum) - logits[r * classes + labels[r]];
        }

        return total / rows;
    }
}

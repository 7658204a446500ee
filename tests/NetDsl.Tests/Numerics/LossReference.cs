namespace NetDsl.Tests.Numerics;

/// <summary>The losses of <see cref="NetDsl.Kernels.LossFunctions"/>, by name (so theories can enumerate them).</summary>
public enum LossName
{
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    Hinge,
    SquaredHinge,
    CategoricalCrossEntropy,
    BinaryCrossEntropy,
}

/// <summary>The output activations of <see cref="NetDsl.Kernels.OutputAct"/>, by name.</summary>
public enum OutputName
{
    Linear,
    ReLU,
    Sigmoid,
    Tanh,
    Softmax,
}

/// <summary>
/// An independent double-precision model of tf.keras 2.x's losses (keras/losses.py and keras/backend.py) as functions of
/// one row of pre-activations <c>z</c>: plain loops, the formulas as Keras writes them, and gradients by the chain rule
/// with explicit Jacobians (TensorFlow's subgradients at kinks). <see cref="LossReferenceTests"/> checks every gradient
/// against central differences of the loss.
/// </summary>
public static class LossReference
{
    /// <summary>Keras' epsilon as float32 holds it (TensorFlow computes in float32, so the clip bounds are float values).</summary>
    public const double Eps = 1e-7f;

    /// <summary><c>1 - eps</c> rounded to float32, as TensorFlow computes the upper clip bound.</summary>
    public const double Upper = 1f - 1e-7f;

    /// <summary>Whether tf.keras 2.x computes the cross-entropies from the logits (it caches them on sigmoid and softmax outputs).</summary>
    public static bool HasLogits(OutputName act) => act is OutputName.Sigmoid or OutputName.Softmax;

    public static double[] Activate(OutputName act, double[] z)
    {
        var y = new double[z.Length];
        if (act == OutputName.Softmax)
        {
            double max = z.Max();
            double sum = 0;
            for (int j = 0; j < z.Length; j++)
            {
                y[j] = Math.Exp(z[j] - max);
                sum += y[j];
            }

            for (int j = 0; j < z.Length; j++)
            {
                y[j] /= sum;
            }

            return y;
        }

        for (int j = 0; j < z.Length; j++)
        {
            y[j] = act switch
            {
                OutputName.Linear => z[j],
                OutputName.ReLU => Math.Max(z[j], 0),
                OutputName.Sigmoid => 1 / (1 + Math.Exp(-z[j])),
                OutputName.Tanh => Math.Tanh(z[j]),
                _ => throw new ArgumentOutOfRangeException(nameof(act)),
            };
        }

        return y;
    }

    /// <summary>Keras' <c>_maybe_convert_labels</c>: if every target of the batch is 0 or 1, maps them to -1/1.</summary>
    public static double[] HingeTargets(float[] batch)
    {
        bool binary = batch.All(v => v == 0 || v == 1);
        return [.. batch.Select(v => binary ? 2.0 * v - 1 : v)];
    }

    /// <summary>The per-sample loss of one row (hinge targets already converted).</summary>
    public static double Loss(LossName loss, OutputName act, double[] z, double[] t)
    {
        int k = z.Length;
        if (loss == LossName.CategoricalCrossEntropy && HasLogits(act))
        {
            double lse = LogSumExp(z);
            double sum = 0;
            for (int j = 0; j < k; j++)
            {
                sum += t[j] == 0 ? 0 : t[j] * (lse - z[j]);
            }

            return sum;
        }

        if (loss == LossName.BinaryCrossEntropy && HasLogits(act))
        {
            double sum = 0;
            for (int j = 0; j < k; j++)
            {
                sum += Math.Max(z[j], 0) - z[j] * t[j] + Math.Log(1 + Math.Exp(-Math.Abs(z[j])));
            }

            return sum / k;
        }

        double[] y = Activate(act, z);
        if (loss == LossName.CategoricalCrossEntropy)
        {
            double s = y.Sum();
            double sum = 0;
            for (int j = 0; j < k; j++)
            {
                sum -= t[j] * Math.Log(Clip(y[j] / s));
            }

            return sum;
        }

        double total = 0;
        for (int j = 0; j < k; j++)
        {
            total += loss switch
            {
                LossName.MeanSquaredError => (y[j] - t[j]) * (y[j] - t[j]),
                LossName.MeanAbsoluteError => Math.Abs(y[j] - t[j]),
                LossName.MeanAbsolutePercentageError => 100 * Math.Abs((t[j] - y[j]) / Math.Max(Math.Abs(t[j]), Eps)),
                LossName.MeanSquaredLogarithmicError => Square(Math.Log(Math.Max(y[j], Eps) + 1) - Math.Log(Math.Max(t[j], Eps) + 1)),
                LossName.Hinge => Math.Max(1 - t[j] * y[j], 0),
                LossName.SquaredHinge => Square(Math.Max(1 - t[j] * y[j], 0)),
                LossName.BinaryCrossEntropy => -(t[j] * Math.Log(Clip(y[j]) + Eps) + (1 - t[j]) * Math.Log(1 - Clip(y[j]) + Eps)),
                _ => throw new ArgumentOutOfRangeException(nameof(loss)),
            };
        }

        return total / k;
    }

    /// <summary><c>dL/dz</c> of one row's per-sample loss.</summary>
    public static double[] Gradient(LossName loss, OutputName act, double[] z, double[] t)
    {
        int k = z.Length;
        var g = new double[k];
        if (loss == LossName.CategoricalCrossEntropy && HasLogits(act))
        {
            double[] p = Activate(OutputName.Softmax, z);
            double sumT = t.Sum();
            for (int j = 0; j < k; j++)
            {
                g[j] = p[j] * sumT - t[j];
            }

            return g;
        }

        if (loss == LossName.BinaryCrossEntropy && HasLogits(act))
        {
            for (int j = 0; j < k; j++)
            {
                g[j] = (1 / (1 + Math.Exp(-z[j])) - t[j]) / k;
            }

            return g;
        }

        double[] y = Activate(act, z);
        return Chain(act, z, y, OutputGradient(loss, act, z, t)!);
    }

    /// <summary>
    /// <c>dL/dy</c> of one row where the loss is computed from the outputs (null for the cross-entropies that are
    /// computed from the logits).
    /// </summary>
    public static double[]? OutputGradient(LossName loss, OutputName act, double[] z, double[] t)
    {
        if (loss is LossName.CategoricalCrossEntropy or LossName.BinaryCrossEntropy && HasLogits(act))
        {
            return null;
        }

        int k = z.Length;
        double[] y = Activate(act, z);
        var dy = new double[k];
        if (loss == LossName.CategoricalCrossEntropy)
        {
            // q = y / s; dL/dq_i = -t_i / clip(q_i) inside the clip range; dq_i/dy_j = [i = j] / s - y_i / s^2.
            double s = y.Sum();
            for (int j = 0; j < k; j++)
            {
                for (int i = 0; i < k; i++)
                {
                    double q = y[i] / s;
                    double dq = InClip(q) ? -t[i] / Clip(q) : 0;
                    dy[j] += dq * ((i == j ? 1 / s : 0) - y[i] / (s * s));
                }
            }
        }
        else
        {
            for (int j = 0; j < k; j++)
            {
                dy[j] = loss switch
                {
                    LossName.MeanSquaredError => 2 * (y[j] - t[j]),
                    LossName.MeanAbsoluteError => Math.Sign(y[j] - t[j]),
                    LossName.MeanAbsolutePercentageError => MapeDerivative(t[j], y[j]),
                    LossName.MeanSquaredLogarithmicError => y[j] >= Eps
                        ? 2 * (Math.Log(Math.Max(y[j], Eps) + 1) - Math.Log(Math.Max(t[j], Eps) + 1)) / (y[j] + 1)
                        : 0,
                    LossName.Hinge => 1 - t[j] * y[j] >= 0 ? -t[j] : 0,
                    LossName.SquaredHinge => -2 * Math.Max(1 - t[j] * y[j], 0) * t[j],
                    LossName.BinaryCrossEntropy => InClip(y[j]) ? (1 - t[j]) / (1 - y[j] + Eps) - t[j] / (y[j] + Eps) : 0,
                    _ => throw new ArgumentOutOfRangeException(nameof(loss)),
                } / k;
            }
        }

        return dy;
    }

    /// <summary>Keras' sparse categorical cross-entropy of one row.</summary>
    public static double SparseLoss(OutputName act, double[] z, int label)
    {
        if (HasLogits(act))
        {
            return LogSumExp(z) - z[label];
        }

        // Not from logits: clip, take the log, then sparse_softmax_cross_entropy_with_logits of log(c).
        double[] y = Activate(act, z);
        double[] logC = [.. y.Select(v => Math.Log(Clip(v)))];
        return LogSumExp(logC) - logC[label];
    }

    /// <summary><c>dL/dz</c> of one row's sparse categorical cross-entropy.</summary>
    public static double[] SparseGradient(OutputName act, double[] z, int label)
    {
        if (HasLogits(act))
        {
            double[] p = Activate(OutputName.Softmax, z);
            p[label] -= 1;
            return p;
        }

        double[] y = Activate(act, z);
        return Chain(act, z, y, SparseOutputGradient(act, z, label)!);
    }

    /// <summary><c>dL/dy</c> of one row's sparse cross-entropy where it is computed from the outputs (null from logits).</summary>
    public static double[]? SparseOutputGradient(OutputName act, double[] z, int label)
    {
        if (HasLogits(act))
        {
            return null;
        }

        // w = log(clip(y)); dL/dw = softmax(w) - onehot; dw/dy = 1 / clip(y) inside the clip range.
        int k = z.Length;
        double[] y = Activate(act, z);
        double[] w = [.. y.Select(v => Math.Log(Clip(v)))];
        double[] sw = Activate(OutputName.Softmax, w);
        var dy = new double[k];
        for (int j = 0; j < k; j++)
        {
            dy[j] = InClip(y[j]) ? (sw[j] - (j == label ? 1 : 0)) / Clip(y[j]) : 0;
        }

        return dy;
    }

    public static double Clip(double v) => Math.Min(Math.Max(v, Eps), Upper);

    public static bool InClip(double v) => v >= Eps && v <= Upper;

    public static double LogSumExp(double[] z)
    {
        double max = z.Max();
        double sum = 0;
        foreach (double v in z)
        {
            sum += Math.Exp(v - max);
        }

        return max + Math.Log(sum);
    }

    /// <summary><c>dL/dz = J_f(z)^T dL/dy</c> with the Jacobian written out from <c>z</c>.</summary>
    private static double[] Chain(OutputName act, double[] z, double[] y, double[] dy)
    {
        int k = z.Length;
        var dz = new double[k];
        if (act == OutputName.Softmax)
        {
            // dy_i/dz_j = y_i ([i = j] - y_j).
            for (int j = 0; j < k; j++)
            {
                for (int i = 0; i < k; i++)
                {
                    dz[j] += dy[i] * y[i] * ((i == j ? 1 : 0) - y[j]);
                }
            }

            return dz;
        }

        for (int j = 0; j < k; j++)
        {
            double derivative = act switch
            {
                OutputName.Linear => 1,
                OutputName.ReLU => z[j] > 0 ? 1 : 0,
                OutputName.Sigmoid => y[j] * (1 - y[j]),
                OutputName.Tanh => 1 - Math.Tanh(z[j]) * Math.Tanh(z[j]),
                _ => throw new ArgumentOutOfRangeException(nameof(act)),
            };
            dz[j] = dy[j] * derivative;
        }

        return dz;
    }

    private static double MapeDerivative(double t, double y)
    {
        double m = Math.Max(Math.Abs(t), Eps);
        return -100 * Math.Sign((t - y) / m) / m;
    }

    private static double Square(double v) => v * v;
}

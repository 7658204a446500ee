using NetDsl.Optimizers;

namespace NetDsl.Tests.Training;

/// <summary>
/// Textbook implementations of the update rules in double precision, one parameter vector at a time, written from the
/// published algorithms (Keras's formulas where the conventions differ) and not from NetDsl's kernels. Step
/// <c>t</c> is 1-based; the schedule sees <c>t − 1</c>.
/// </summary>
internal sealed class ReferenceOptimizer
{
    private readonly Func<double[], double[], double[], double[], double, long, (double[] S0, double[] S1)> _rule;

    private ReferenceOptimizer(string name, int length, double learningRate, Func<double[], double[], double[], double[], double, long, (double[], double[])> rule)
    {
        Name = name;
        LearningRate = learningRate;
        W = new double[length];
        S0 = new double[length];
        S1 = new double[length];
        _rule = rule;
    }

    public string Name { get; }

    public double LearningRate { get; set; }

    public double[] W { get; }

    public double[] S0 { get; private set; }

    public double[] S1 { get; private set; }

    /// <summary>Per 0-based step: the schedule factor (1 when null).</summary>
    public Func<long, double>? Schedule { get; set; }

    /// <summary>Keras 2 time-based decay.</summary>
    public double TimeDecay { get; set; }

    public double WeightDecay { get; set; }

    public bool CoupledDecay { get; set; }

    /// <summary>Clip-by-value bound (∞: off).</summary>
    public double ClipValue { get; set; } = double.PositiveInfinity;

    /// <summary>The learning rate of 1-based step <paramref name="t"/>.</summary>
    public double RateAt(long t) => LearningRate * (Schedule?.Invoke(t - 1) ?? 1.0) / (1 + TimeDecay * (t - 1));

    /// <summary>
    /// One step: the gradient is scaled (norm clipping), clamped (clip by value), the coupled decay added or the decoupled
    /// decay applied to <see cref="W"/> (Keras 3: <c>w − w·wd·lr</c>), then the rule runs.
    /// </summary>
    public void Step(float[] gradients, long t, double scale = 1)
    {
        double lr = RateAt(t);
        var g = new double[W.Length];
        for (int i = 0; i < g.Length; i++)
        {
            double gi = Math.Clamp(scale * gradients[i], -ClipValue, ClipValue);
            g[i] = CoupledDecay ? gi + WeightDecay * W[i] : gi;
            if (!CoupledDecay)
            {
                W[i] -= W[i] * WeightDecay * lr;
            }
        }

        (S0, S1) = _rule(W, g, S0, S1, lr, t);
    }

    /// <summary>Keras SGD: v = μv − lr·g; w += v (Nesterov: w += μv − lr·g); plain: w −= lr·g.</summary>
    public static ReferenceOptimizer Sgd(int length, double lr, double momentum, bool nesterov) =>
        new("SGD", length, lr, (w, g, v, s1, rate, t) =>
        {
            for (int i = 0; i < w.Length; i++)
            {
                if (momentum == 0)
                {
                    w[i] -= rate * g[i];
                    continue;
                }

                v[i] = momentum * v[i] - rate * g[i];
                w[i] += nesterov ? momentum * v[i] - rate * g[i] : v[i];
            }

            return (v, s1);
        });

    /// <summary>Adagrad: a (from a0) += g²; w −= lr·g / (√a + ε). S0 holds a − a0, like NetDsl's state slot.</summary>
    public static ReferenceOptimizer Adagrad(int length, double lr, double initial, double epsilon) =>
        new("Adagrad", length, lr, (w, g, sum, s1, rate, t) =>
        {
            for (int i = 0; i < w.Length; i++)
            {
                sum[i] += g[i] * g[i];
                double accumulator = initial + sum[i];
                w[i] -= rate * g[i] / (Math.Sqrt(accumulator) + epsilon);
            }

            return (sum, s1);
        });

    /// <summary>
    /// RMSprop (Keras 3): ms = ρ·ms + (1−ρ)·g²; centered: mg = ρ·mg + (1−ρ)·g, denominator √(ms − mg² + ε), else √(ms + ε);
    /// Δ = lr·g / denominator; momentum: mom = μ·mom + Δ, w −= mom; else w −= Δ.
    /// </summary>
    public static ReferenceOptimizer RmsProp(int length, double lr, double rho, double momentum, double epsilon, bool centered) =>
        new("RMSprop", length, lr, (w, g, ms, second, rate, t) =>
        {
            for (int i = 0; i < w.Length; i++)
            {
                ms[i] = rho * ms[i] + (1 - rho) * g[i] * g[i];
                double denominator = ms[i] + epsilon;
                if (centered)
                {
                    second[i] = rho * second[i] + (1 - rho) * g[i];
                    denominator -= second[i] * second[i];
                }

                double delta = rate * g[i] / Math.Sqrt(denominator);
                if (momentum > 0)
                {
                    second[i] = momentum * second[i] + delta;
                    delta = second[i];
                }

                w[i] -= delta;
            }

            return (ms, second);
        });

    /// <summary>
    /// Adam as Kingma and Ba's Algorithm 1 with the efficient form of section 2 (Keras's): m = β1·m + (1−β1)·g;
    /// v = β2·v + (1−β2)·g²; α_t = lr·√(1−β2^t)/(1−β1^t); w −= α_t·m / (√v + ε̂). AdamW is the same rule with decoupled decay.
    /// </summary>
    public static ReferenceOptimizer Adam(int length, double lr, double beta1, double beta2, double epsilon) =>
        new("Adam", length, lr, (w, g, m, v, rate, t) =>
        {
            double alpha = rate * Math.Sqrt(1 - Math.Pow(beta2, t)) / (1 - Math.Pow(beta1, t));
            for (int i = 0; i < w.Length; i++)
            {
                m[i] = beta1 * m[i] + (1 - beta1) * g[i];
                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
                w[i] -= alpha * m[i] / (Math.Sqrt(v[i]) + epsilon);
            }

            return (m, v);
        });

    /// <summary>Adadelta (Zeiler 2012, Keras): E[g²] = ρE[g²] + (1−ρ)g²; Δ = √(E[Δ²]+ε)/√(E[g²]+ε)·g; w −= lr·Δ; E[Δ²] = ρE[Δ²] + (1−ρ)Δ².</summary>
    public static ReferenceOptimizer Adadelta(int length, double lr, double rho, double epsilon) =>
        new("Adadelta", length, lr, (w, g, eg, ed, rate, t) =>
        {
            for (int i = 0; i < w.Length; i++)
            {
                eg[i] = rho * eg[i] + (1 - rho) * g[i] * g[i];
                double delta = Math.Sqrt(ed[i] + epsilon) / Math.Sqrt(eg[i] + epsilon) * g[i];
                w[i] -= rate * delta;
                ed[i] = rho * ed[i] + (1 - rho) * delta * delta;
            }

            return (eg, ed);
        });
}

/// <summary>Random data for the optimizer tests.</summary>
internal static class OptimizerTestData
{
    /// <summary>Uniform in [−scale, scale].</summary>
    public static float[] Uniform(Random random, int length, double scale) =>
        Enumerable.Range(0, length).Select(_ => (float)((2 * random.NextDouble() - 1) * scale)).ToArray();

    /// <summary>Gradients of magnitudes 1 down to 1e-3 (cycling by index) with random signs, so ε, clipping and the adaptive denominators all matter.</summary>
    public static float[] Gradients(Random random, int length) =>
        Uniform(random, length, 1).Select((x, i) => x * (float)Math.Pow(10, -(i % 4))).ToArray();
}

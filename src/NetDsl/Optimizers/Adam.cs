using NetDsl.Kernels;
using System.Runtime.CompilerServices;

namespace NetDsl.Optimizers;

/// <summary>
/// Adam (Kingma and Ba 2014) with Keras's update rule (Keras 2 and 3 agree): with <c>t</c> the 1-based step
/// (<see cref="Optimizer.Iterations"/> during the update, Keras's <c>iterations + 1</c>),
/// <c>m = β1 · m + (1 − β1) · g</c> (state slot 0), <c>v = β2 · v + (1 − β2) · g²</c> (state slot 1), both from 0,
/// <c>α = lr · sqrt(1 − β2^t) / (1 − β1^t)</c> and <c>w −= α · m / (sqrt(v) + eps)</c>.
/// </summary>
/// <remarks>
/// <para>Epsilon is Keras's (and the paper's "epsilon hat"): added to <c>sqrt(v)</c>, not bias-corrected, whereas
/// PyTorch adds it to <c>sqrt(v / (1 − β2^t))</c>. The bias correction is computed in double from <c>t</c> each step,
/// so it needs no state. An <see cref="Optimizer.Update"/> without a <see cref="Optimizer.BeginStep"/>
/// (<see cref="Optimizer.Iterations"/> = 0, where the correction would be 0/0) applies no correction, as ONNX's Adam does
/// for <c>T = 0</c>.</para>
/// <para>Weight decay: decoupled by default (Keras 3's <c>Adam(weight_decay=...)</c>, identical to
/// <see cref="AdamW"/>: <c>w ← w(1 − lr·wd)</c> with the scheduled rate, before the step, not scaled by the bias
/// correction); <see cref="WeightDecayMode.Coupled"/> adds <c>wd·w</c> to <c>g</c> (PyTorch's Adam
/// <c>weight_decay</c>, ONNX's <c>norm_coefficient</c>), which then enters both moments.</para>
/// </remarks>
public sealed class Adam : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Step size, in (0, ∞) (Keras default 0.001).</param>
    /// <param name="beta1">Decay of the first moment, in [0, 1).</param>
    /// <param name="beta2">Decay of the second moment, in [0, 1).</param>
    /// <param name="epsilon">Added to the root of the second moment, in (0, ∞) (Keras default 1e-7).</param>
    /// <param name="options">Weight decay, clipping and schedule; null for none.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <exception cref="ArgumentException">The options set more than one clipping mode.</exception>
    public Adam(float learningRate = 0.001f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f, OptimizerOptions? options = null)
        : base(learningRate, options)
    {
        AdamRule.Check(beta1, beta2, epsilon);
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    /// <summary>Decay of the first moment.</summary>
    public float Beta1 { get; }

    /// <summary>Decay of the second moment.</summary>
    public float Beta2 { get; }

    /// <summary>Added to the root of the second moment.</summary>
    public float Epsilon { get; }

    /// <inheritdoc/>
    public override int StateSlots => 2;

    /// <inheritdoc/>
    private protected override void Apply(in ParameterSlice slice, in StepScalars step) =>
        AdamRule.Apply(slice, step, Iterations, Beta1, Beta2, Epsilon);
}

/// <summary>
/// AdamW (Loshchilov and Hutter 2019) as Keras 3 and PyTorch define it: <see cref="Adam"/>'s rule with decoupled weight
/// decay <c>w ← w(1 − lr·wd)</c> before each step, with the step's scheduled learning rate <c>lr</c> (not the
/// bias-corrected <c>α</c>), so the decay never enters the moments.
/// </summary>
/// <remarks>
/// Defaults are Keras 3's (<c>weight_decay = 0.004</c>, <c>eps = 1e-7</c>); PyTorch's AdamW uses 0.01 and 1e-8, and
/// adds its epsilon after the bias correction (see <see cref="Adam"/>).
/// </remarks>
public sealed class AdamW : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Step size, in (0, ∞) (Keras default 0.001).</param>
    /// <param name="weightDecay">Decoupled weight-decay coefficient, in [0, ∞) (Keras default 0.004).</param>
    /// <param name="beta1">Decay of the first moment, in [0, 1).</param>
    /// <param name="beta2">Decay of the second moment, in [0, 1).</param>
    /// <param name="epsilon">Added to the root of the second moment, in (0, ∞).</param>
    /// <param name="options">
    /// Clipping and schedule; null for none. Its <see cref="OptimizerOptions.WeightDecay"/> must stay 0 and its mode
    /// <see cref="WeightDecayMode.Decoupled"/>: the decay is <paramref name="weightDecay"/>.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <exception cref="ArgumentException">The options set a weight decay or the coupled mode, or more than one clipping mode.</exception>
    public AdamW(float learningRate = 0.001f, float weightDecay = 0.004f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-7f, OptimizerOptions? options = null)
        : base(learningRate, WithDecay(options, weightDecay))
    {
        AdamRule.Check(beta1, beta2, epsilon);
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
    }

    /// <summary>The decoupled weight-decay coefficient (also <see cref="Optimizer.Options"/>' <see cref="OptimizerOptions.WeightDecay"/>).</summary>
    public float WeightDecay => Options.WeightDecay;

    /// <summary>Decay of the first moment.</summary>
    public float Beta1 { get; }

    /// <summary>Decay of the second moment.</summary>
    public float Beta2 { get; }

    /// <summary>Added to the root of the second moment.</summary>
    public float Epsilon { get; }

    /// <inheritdoc/>
    public override int StateSlots => 2;

    /// <inheritdoc/>
    private protected override void Apply(in ParameterSlice slice, in StepScalars step) =>
        AdamRule.Apply(slice, step, Iterations, Beta1, Beta2, Epsilon);

    private static OptimizerOptions WithDecay(OptimizerOptions? options, float weightDecay)
    {
        if (!(weightDecay >= 0f) || !float.IsFinite(weightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weightDecay must be in [0, ∞).");
        }

        options ??= OptimizerOptions.Default;
        if (options.WeightDecay != 0f || options.WeightDecayMode != WeightDecayMode.Decoupled)
        {
            throw new ArgumentException(
                $"AdamW takes its (decoupled) weight decay from the weightDecay argument; the options must not set one (got WeightDecay={options.WeightDecay}, mode {options.WeightDecayMode}).",
                nameof(options));
        }

        return options with { WeightDecay = weightDecay };
    }
}

/// <summary>The Adam update shared by <see cref="Adam"/> and <see cref="AdamW"/>.</summary>
internal static class AdamRule
{
    public static void Check(float beta1, float beta2, float epsilon)
    {
        if (!(beta1 >= 0f && beta1 < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
        }

        if (!(beta2 >= 0f && beta2 < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
        }

        if (!(epsilon > 0f) || !float.IsFinite(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be in (0, ∞).");
        }
    }

    /// <summary>Runs the kernel with <c>α = lr · sqrt(1 − β2^t) / (1 − β1^t)</c>, <c>t = iterations</c> (no correction for t = 0).</summary>
    public static void Apply(in ParameterSlice slice, in StepScalars step, long iterations, float beta1, float beta2, float epsilon)
    {
        double lr = step.LearningRate;
        double alpha = iterations > 0
            ? lr * Math.Sqrt(1 - Math.Pow(beta2, iterations)) / (1 - Math.Pow(beta1, iterations))
            : lr;
        KernelDispatch.Run(new Kernel(step, (float)alpha, beta1, beta2, epsilon), slice, 2);
    }

    /// <summary>The fused update (the scalar tail repeats the vector body's operations).</summary>
    private readonly unsafe struct Kernel(StepScalars step, float alpha, float beta1, float beta2, float eps) : IUpdateKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run<TO, TV>(float* w, float* g, float* m, float* v, int n)
            where TO : ISimd<TV>
            where TV : struct
        {
            float keep = step.Keep, oneMinusB1 = 1f - beta1, oneMinusB2 = 1f - beta2;
            TV vScale = TO.Broadcast(step.Scale), vClip = TO.Broadcast(step.Clip), vNegClip = TO.Broadcast(-step.Clip), vL2 = TO.Broadcast(step.L2);
            TV vKeep = TO.Broadcast(keep), vNegAlpha = TO.Broadcast(-alpha), vB1 = TO.Broadcast(beta1), vB2 = TO.Broadcast(beta2);
            TV vOne1 = TO.Broadcast(oneMinusB1), vOne2 = TO.Broadcast(oneMinusB2), vEps = TO.Broadcast(eps);
            int vl = TO.Count;
            int i = 0;
            for (; i + vl <= n; i += vl)
            {
                TV wv = TO.Load(w + i);
                TV gv = StepScalars.Gradient<TO, TV>(TO.Load(g + i), wv, vScale, vNegClip, vClip, vL2);
                TV mv = TO.Fma(vB1, TO.Load(m + i), TO.Multiply(vOne1, gv));
                TV vv = TO.Fma(vB2, TO.Load(v + i), TO.Multiply(TO.Multiply(vOne2, gv), gv));
                TO.Store(m + i, mv);
                TO.Store(v + i, vv);
                TV u = TO.Divide(mv, TO.Add(TO.Sqrt(vv), vEps));
                TO.Store(w + i, TO.Fma(vNegAlpha, u, TO.Multiply(wv, vKeep)));
            }

            for (; i < n; i++)
            {
                float gs = step.Gradient(g[i], w[i]);
                float ms = MathF.FusedMultiplyAdd(beta1, m[i], oneMinusB1 * gs);
                float vs = MathF.FusedMultiplyAdd(beta2, v[i], oneMinusB2 * gs * gs);
                m[i] = ms;
                v[i] = vs;
                float u = ms / (MathF.Sqrt(vs) + eps);
                w[i] = MathF.FusedMultiplyAdd(-alpha, u, w[i] * keep);
            }
        }
    }
}

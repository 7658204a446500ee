using NetDsl.Kernels;
using System.Runtime.CompilerServices;

namespace NetDsl.Optimizers;

/// <summary>
/// Adagrad (Duchi et al. 2011): per parameter, the accumulator <c>a</c> starts at
/// <see cref="InitialAccumulatorValue"/> and <c>a += g²; w −= lr · g / (sqrt(a) + eps)</c>.
/// </summary>
/// <remarks>
/// <para>Epsilon sits outside the square root, as in Keras 2 (tf.keras <c>ApplyAdagradV2</c>), PyTorch and ONNX; Keras 3
/// writes <c>sqrt(a + eps)</c>. With Keras's defaults (<c>a ≥ 0.1</c>, <c>eps = 1e-7</c>) the two denominators differ by
/// less than 2e-7 relative, below float32 resolution; they differ visibly only with a zero initial accumulator and
/// gradients near <c>sqrt(eps)</c>.</para>
/// <para>State slot 0 holds <c>a − InitialAccumulatorValue</c> (the sum of squared gradients), so the zeroed arena
/// state is the initial accumulator and a checkpoint of the slot restores it exactly.</para>
/// <para>Weight decay: decoupled by default (Keras 3); <see cref="WeightDecayMode.Coupled"/> adds <c>wd·w</c> to
/// <c>g</c>, which then enters the accumulator (PyTorch's <c>weight_decay</c>, ONNX's <c>norm_coefficient</c>).
/// PyTorch's <c>lr_decay</c> and ONNX's <c>decay_factor</c> are <see cref="InverseTimeDecay"/> with one step per
/// unit.</para>
/// </remarks>
public sealed class Adagrad : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Step size, in (0, ∞) (Keras default 0.001).</param>
    /// <param name="initialAccumulatorValue">Starting value of every accumulator, in [0, ∞) (Keras 0.1, PyTorch 0).</param>
    /// <param name="epsilon">Added to the root of the accumulator, in (0, ∞) (Keras default 1e-7).</param>
    /// <param name="options">Weight decay, clipping and schedule; null for none.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <exception cref="ArgumentException">The options set more than one clipping mode.</exception>
    public Adagrad(float learningRate = 0.001f, float initialAccumulatorValue = 0.1f, float epsilon = 1e-7f, OptimizerOptions? options = null)
        : base(learningRate, options)
    {
        if (!(initialAccumulatorValue >= 0f) || !float.IsFinite(initialAccumulatorValue))
        {
            throw new ArgumentOutOfRangeException(nameof(initialAccumulatorValue), initialAccumulatorValue, "initialAccumulatorValue must be in [0, ∞).");
        }

        CheckPositive(epsilon, nameof(epsilon));
        InitialAccumulatorValue = initialAccumulatorValue;
        Epsilon = epsilon;
    }

    /// <summary>Starting value of every accumulator.</summary>
    public float InitialAccumulatorValue { get; }

    /// <summary>Added to the root of the accumulator.</summary>
    public float Epsilon { get; }

    /// <inheritdoc/>
    public override int StateSlots => 1;

    /// <inheritdoc/>
    private protected override void Apply(in ParameterSlice slice, in StepScalars step) =>
        KernelDispatch.Run(new Kernel(step, InitialAccumulatorValue, Epsilon), slice, StateSlots);

    /// <summary>The fused update (the scalar tail repeats the vector body's operations).</summary>
    private readonly unsafe struct Kernel(StepScalars step, float initial, float eps) : IUpdateKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run<TO, TV>(float* w, float* g, float* s, float* unused, int n)
            where TO : ISimd<TV>
            where TV : struct
        {
            float lr = step.LearningRate, keep = step.Keep;
            TV vScale = TO.Broadcast(step.Scale), vClip = TO.Broadcast(step.Clip), vNegClip = TO.Broadcast(-step.Clip), vL2 = TO.Broadcast(step.L2);
            TV vKeep = TO.Broadcast(keep), vNegLr = TO.Broadcast(-lr), vInitial = TO.Broadcast(initial), vEps = TO.Broadcast(eps);
            int vl = TO.Count;
            int i = 0;
            for (; i + vl <= n; i += vl)
            {
                TV wv = TO.Load(w + i);
                TV gv = StepScalars.Gradient<TO, TV>(TO.Load(g + i), wv, vScale, vNegClip, vClip, vL2);
                TV sv = TO.Fma(gv, gv, TO.Load(s + i));
                TO.Store(s + i, sv);
                TV u = TO.Divide(gv, TO.Add(TO.Sqrt(TO.Add(sv, vInitial)), vEps));
                TO.Store(w + i, TO.Fma(vNegLr, u, TO.Multiply(wv, vKeep)));
            }

            for (; i < n; i++)
            {
                float gs = step.Gradient(g[i], w[i]);
                float ss = MathF.FusedMultiplyAdd(gs, gs, s[i]);
                s[i] = ss;
                float u = gs / (MathF.Sqrt(ss + initial) + eps);
                w[i] = MathF.FusedMultiplyAdd(-lr, u, w[i] * keep);
            }
        }
    }
}

using NetDsl.Kernels;
using System.Runtime.CompilerServices;

namespace NetDsl.Optimizers;

/// <summary>
/// RMSprop (Hinton), Keras 3's rule: the mean square <c>v = rho · v + (1 − rho) · g²</c> (state slot 0, from 0);
/// centered, also the mean gradient <c>mg = rho · mg + (1 − rho) · g</c> and the denominator
/// <c>sqrt(v − mg² + eps)</c>, else <c>sqrt(v + eps)</c>; the increment <c>u = lr · g / denominator</c>; with momentum
/// <c>m = momentum · m + u; w −= m</c>, else <c>w −= u</c>.
/// </summary>
/// <remarks>
/// <para>Epsilon is inside the square root (Keras 3, and tf.keras's momentum path); the momentum buffer holds the
/// learning rate, as in Keras. State: slot 0 the mean square; slot 1 the momentum buffer (momentum &gt; 0) or the mean
/// gradient (centered). Centered RMSprop with momentum would need three slots and is refused.</para>
/// <para>Weight decay: decoupled by default (Keras 3); <see cref="WeightDecayMode.Coupled"/> adds <c>wd·w</c> to
/// <c>g</c> (PyTorch's <c>weight_decay</c>).</para>
/// </remarks>
public sealed class RmsProp : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Step size, in (0, ∞) (Keras default 0.001).</param>
    /// <param name="rho">Decay of the running averages, in [0, 1) (Keras default 0.9).</param>
    /// <param name="momentum">Momentum, in [0, 1) (0: none).</param>
    /// <param name="epsilon">Added under the square root, in (0, ∞) (Keras default 1e-7).</param>
    /// <param name="centered">Divide by the estimated standard deviation of the gradient instead of its root mean square.</param>
    /// <param name="options">Weight decay, clipping and schedule; null for none.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="centered"/> with a non-zero <paramref name="momentum"/> (three state slots per parameter; an arena
    /// reserves <see cref="ParameterSlice.MaxStateSlots"/>), or the options set more than one clipping mode.
    /// </exception>
    public RmsProp(float learningRate = 0.001f, float rho = 0.9f, float momentum = 0f, float epsilon = 1e-7f, bool centered = false, OptimizerOptions? options = null)
        : base(learningRate, options)
    {
        CheckDecayFactor(rho, nameof(rho));
        CheckDecayFactor(momentum, nameof(momentum));
        CheckPositive(epsilon, nameof(epsilon));
        if (centered && momentum > 0f)
        {
            throw new ArgumentException(
                $"Centered RMSprop with momentum ({momentum}) needs 3 state floats per parameter (mean square, mean gradient, momentum), " +
                $"but a NetDsl arena reserves {ParameterSlice.MaxStateSlots}. Use centered with momentum 0, or momentum without centering.", nameof(centered));
        }

        Rho = rho;
        Momentum = momentum;
        Epsilon = epsilon;
        Centered = centered;
    }

    /// <summary>Decay of the running averages.</summary>
    public float Rho { get; }

    /// <summary>Momentum coefficient (0: none).</summary>
    public float Momentum { get; }

    /// <summary>Added under the square root.</summary>
    public float Epsilon { get; }

    /// <summary>Whether the mean gradient is subtracted in the denominator.</summary>
    public bool Centered { get; }

    /// <inheritdoc/>
    public override int StateSlots => Momentum > 0f || Centered ? 2 : 1;

    /// <inheritdoc/>
    private protected override void Apply(in ParameterSlice slice, in StepScalars step) =>
        KernelDispatch.Run(new Kernel(step, Rho, Momentum, Epsilon, Centered), slice, StateSlots);

    /// <summary>The fused update (the scalar tail repeats the vector body's operations).</summary>
    private readonly unsafe struct Kernel(StepScalars step, float rho, float momentum, float eps, bool centered) : IUpdateKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run<TO, TV>(float* w, float* g, float* v, float* s1, int n)
            where TO : ISimd<TV>
            where TV : struct
        {
            float lr = step.LearningRate, keep = step.Keep, oneMinusRho = 1f - rho;
            bool useMomentum = momentum > 0f;
            TV vScale = TO.Broadcast(step.Scale), vClip = TO.Broadcast(step.Clip), vNegClip = TO.Broadcast(-step.Clip), vL2 = TO.Broadcast(step.L2);
            TV vKeep = TO.Broadcast(keep), vLr = TO.Broadcast(lr), vRho = TO.Broadcast(rho), vOne = TO.Broadcast(oneMinusRho);
            TV vEps = TO.Broadcast(eps), vMomentum = TO.Broadcast(momentum);
            int vl = TO.Count;
            int i = 0;
            for (; i + vl <= n; i += vl)
            {
                TV wv = TO.Load(w + i);
                TV gv = StepScalars.Gradient<TO, TV>(TO.Load(g + i), wv, vScale, vNegClip, vClip, vL2);
                TV vv = TO.Fma(vRho, TO.Load(v + i), TO.Multiply(TO.Multiply(vOne, gv), gv));
                TO.Store(v + i, vv);
                TV denominator;
                if (centered)
                {
                    TV mg = TO.Fma(vRho, TO.Load(s1 + i), TO.Multiply(vOne, gv));
                    TO.Store(s1 + i, mg);
                    denominator = TO.Add(TO.Subtract(vv, TO.Multiply(mg, mg)), vEps);
                }
                else
                {
                    denominator = TO.Add(vv, vEps);
                }

                TV u = TO.Divide(TO.Multiply(vLr, gv), TO.Sqrt(denominator));
                if (useMomentum)
                {
                    u = TO.Fma(vMomentum, TO.Load(s1 + i), u);
                    TO.Store(s1 + i, u);
                }

                TO.Store(w + i, TO.Subtract(TO.Multiply(wv, vKeep), u));
            }

            for (; i < n; i++)
            {
                float gs = step.Gradient(g[i], w[i]);
                float vs = MathF.FusedMultiplyAdd(rho, v[i], oneMinusRho * gs * gs);
                v[i] = vs;
                float denominator;
                if (centered)
                {
                    float mg = MathF.FusedMultiplyAdd(rho, s1[i], oneMinusRho * gs);
                    s1[i] = mg;
                    denominator = vs - mg * mg + eps;
                }
                else
                {
                    denominator = vs + eps;
                }

                float u = lr * gs / MathF.Sqrt(denominator);
                if (useMomentum)
                {
                    u = MathF.FusedMultiplyAdd(momentum, s1[i], u);
                    s1[i] = u;
                }

                w[i] = w[i] * keep - u;
            }
        }
    }
}

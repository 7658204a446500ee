using NetDsl.Kernels;
using System.Runtime.CompilerServices;

namespace NetDsl.Optimizers;

/// <summary>
/// Adadelta (Zeiler 2012) with Keras's update rule (Keras 2 and 3 agree), per parameter, with <c>a</c> the accumulated
/// squared gradient (state slot 0) and <c>d</c> the accumulated squared update (state slot 1), both starting at 0:
/// <c>a = rho * a + (1 - rho) * g^2; u = g * sqrt(d + eps) / sqrt(a + eps); w -= lr * u; d = rho * d + (1 - rho) * u^2</c>
/// (the new <c>a</c> and the old <c>d</c> in <c>u</c>). One fused SIMD pass over the slice. Weight decay is decoupled by
/// default (Keras 3: <c>w ← w(1 − lr·wd)</c> before the step); <see cref="WeightDecayMode.Coupled"/> adds <c>wd·w</c> to
/// <c>g</c> before both accumulators.
/// </summary>
public sealed class Adadelta : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Step size, in (0, ∞) (Keras 2's Adadelta default is 1.0).</param>
    /// <param name="rho">Decay of both running averages, in [0, 1).</param>
    /// <param name="epsilon">
    /// Added under both square roots, in (0, ∞). 1e-6 is the paper's value (and early Keras's); standalone
    /// Keras 2.1+ defaults to <c>K.epsilon()</c> = 1e-7 and Keras 2.0 to 1e-8, so pass it explicitly to match those.
    /// </param>
    /// <param name="options">Weight decay, clipping and schedule; null for none.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <exception cref="ArgumentException">The options set more than one clipping mode.</exception>
    public Adadelta(float learningRate = 1.0f, float rho = 0.95f, float epsilon = 1e-6f, OptimizerOptions? options = null)
        : base(learningRate, options)
    {
        CheckDecayFactor(rho, nameof(rho));
        CheckPositive(epsilon, nameof(epsilon));
        Rho = rho;
        Epsilon = epsilon;
    }

    /// <summary>Decay of the running averages of squared gradients and squared updates.</summary>
    public float Rho { get; }

    /// <summary>The constant added under both square roots.</summary>
    public float Epsilon { get; }

    /// <inheritdoc/>
    public override int StateSlots => 2;

    /// <inheritdoc/>
    private protected override void Apply(in ParameterSlice slice, in StepScalars step) =>
        KernelDispatch.Run(new Kernel(step, Rho, Epsilon), slice, StateSlots);

    /// <summary>The update; the scalar tail uses the same fused operations as the vector body, so every element gets bitwise the same result.</summary>
    private readonly unsafe struct Kernel(StepScalars step, float rho, float eps) : IUpdateKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run<TO, TV>(float* w, float* g, float* a, float* d, int n)
            where TO : ISimd<TV>
            where TV : struct
        {
            float lr = step.LearningRate, keep = step.Keep, oneMinusRho = 1f - rho;
            TV vScale = TO.Broadcast(step.Scale), vClip = TO.Broadcast(step.Clip), vNegClip = TO.Broadcast(-step.Clip), vL2 = TO.Broadcast(step.L2);
            TV vKeep = TO.Broadcast(keep), vRho = TO.Broadcast(rho), vOne = TO.Broadcast(oneMinusRho), vEps = TO.Broadcast(eps), vNegLr = TO.Broadcast(-lr);
            int vl = TO.Count;
            int i = 0;
            for (; i + vl <= n; i += vl)
            {
                TV wv = TO.Load(w + i);
                TV gv = StepScalars.Gradient<TO, TV>(TO.Load(g + i), wv, vScale, vNegClip, vClip, vL2);
                TV av = TO.Fma(vRho, TO.Load(a + i), TO.Multiply(TO.Multiply(vOne, gv), gv));
                TV dv = TO.Load(d + i);
                TV u = TO.Divide(TO.Multiply(gv, TO.Sqrt(TO.Add(dv, vEps))), TO.Sqrt(TO.Add(av, vEps)));
                TO.Store(a + i, av);
                TO.Store(w + i, TO.Fma(vNegLr, u, TO.Multiply(wv, vKeep)));
                TO.Store(d + i, TO.Fma(vRho, dv, TO.Multiply(TO.Multiply(vOne, u), u)));
            }

            for (; i < n; i++)
            {
                float gs = step.Gradient(g[i], w[i]);
                float an = MathF.FusedMultiplyAdd(rho, a[i], oneMinusRho * gs * gs);
                float ds = d[i];
                float u = gs * MathF.Sqrt(ds + eps) / MathF.Sqrt(an + eps);
                a[i] = an;
                w[i] = MathF.FusedMultiplyAdd(-lr, u, w[i] * keep);
                d[i] = MathF.FusedMultiplyAdd(rho, ds, oneMinusRho * u * u);
            }
        }
    }
}

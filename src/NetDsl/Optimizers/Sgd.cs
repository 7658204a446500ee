using NetDsl.Kernels;
using System.Runtime.CompilerServices;

namespace NetDsl.Optimizers;

/// <summary>
/// Stochastic gradient descent with optional momentum, as Keras defines it, with the velocity <c>v</c> (state slot 0,
/// only with momentum) holding the learning rate: <c>v = momentum · v − lr · g; w = w + v</c>
/// (Nesterov: <c>w = w + momentum · v − lr · g</c> with the new <c>v</c>); without momentum <c>w = w − lr · g</c>.
/// </summary>
/// <remarks>
/// <para>Time-based decay (Keras 2's <c>SGD(decay=...)</c>, tf.keras <c>optimizer_v2</c>): step <c>s</c> (0-based)
/// runs with <c>lr = LearningRate / (1 + decay · s)</c>. Keras 2 computes it from <c>iterations</c> before incrementing
/// it, so the first step uses the undecayed rate, and so does NetDsl (<c>s = Iterations − 1</c> during the update).
/// With a schedule the two multiply: <c>LearningRate · Factor(s) / (1 + decay · s)</c>.</para>
/// <para>Weight decay: decoupled by default (Keras 3, <c>w ← w(1 − lr·wd)</c> before the step, outside the velocity);
/// <see cref="WeightDecayMode.Coupled"/> adds <c>wd·w</c> to the gradient (PyTorch's SGD <c>weight_decay</c>), so the
/// term enters the velocity.</para>
/// </remarks>
public sealed class Sgd : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Step size, in (0, ∞) (Keras default 0.01).</param>
    /// <param name="momentum">Momentum, in [0, 1).</param>
    /// <param name="nesterov">Use Nesterov momentum.</param>
    /// <param name="decay">Keras 2 time-based decay, in [0, ∞) (0: none).</param>
    /// <param name="options">Weight decay, clipping and schedule; null for none.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <exception cref="ArgumentException">The options set more than one clipping mode.</exception>
    public Sgd(float learningRate = 0.01f, float momentum = 0f, bool nesterov = false, float decay = 0f, OptimizerOptions? options = null)
        : base(learningRate, options, decay)
    {
        CheckDecayFactor(momentum, nameof(momentum));
        Momentum = momentum;
        Nesterov = nesterov;
    }

    /// <summary>Momentum coefficient.</summary>
    public float Momentum { get; }

    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }

    /// <summary>Keras 2 time-based decay: step <c>s</c> runs with <c>LearningRate / (1 + Decay · s)</c>.</summary>
    public float Decay => TimeDecay;

    /// <inheritdoc/>
    public override int StateSlots => Momentum > 0f ? 1 : 0;

    /// <inheritdoc/>
    private protected override void Apply(in ParameterSlice slice, in StepScalars step) =>
        KernelDispatch.Run(new Kernel(step, Momentum, Nesterov), slice, StateSlots);

    /// <summary>The fused update; the scalar tail repeats the vector body's operations, so every element gets bitwise the same result.</summary>
    private readonly unsafe struct Kernel(StepScalars step, float momentum, bool nesterov) : IUpdateKernel
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run<TO, TV>(float* w, float* g, float* v, float* unused, int n)
            where TO : ISimd<TV>
            where TV : struct
        {
            float lr = step.LearningRate, keep = step.Keep, m = momentum;
            TV vScale = TO.Broadcast(step.Scale), vClip = TO.Broadcast(step.Clip), vNegClip = TO.Broadcast(-step.Clip), vL2 = TO.Broadcast(step.L2);
            TV vKeep = TO.Broadcast(keep), vNegLr = TO.Broadcast(-lr), vM = TO.Broadcast(m);
            int vl = TO.Count;
            int i = 0;
            if (m == 0f)
            {
                for (; i + vl <= n; i += vl)
                {
                    TV wv = TO.Load(w + i);
                    TV gv = StepScalars.Gradient<TO, TV>(TO.Load(g + i), wv, vScale, vNegClip, vClip, vL2);
                    TO.Store(w + i, TO.Fma(vNegLr, gv, TO.Multiply(wv, vKeep)));
                }

                for (; i < n; i++)
                {
                    float gs = step.Gradient(g[i], w[i]);
                    w[i] = MathF.FusedMultiplyAdd(-lr, gs, w[i] * keep);
                }

                return;
            }

            for (; i + vl <= n; i += vl)
            {
                TV wv = TO.Load(w + i);
                TV gv = StepScalars.Gradient<TO, TV>(TO.Load(g + i), wv, vScale, vNegClip, vClip, vL2);
                TV delta = TO.Multiply(vNegLr, gv);
                TV vel = TO.Fma(vM, TO.Load(v + i), delta);
                TO.Store(v + i, vel);
                TV move = nesterov ? TO.Fma(vM, vel, delta) : vel;
                TO.Store(w + i, TO.Add(TO.Multiply(wv, vKeep), move));
            }

            for (; i < n; i++)
            {
                float gs = step.Gradient(g[i], w[i]);
                float delta = -lr * gs;
                float vel = MathF.FusedMultiplyAdd(m, v[i], delta);
                v[i] = vel;
                float move = nesterov ? MathF.FusedMultiplyAdd(m, vel, delta) : vel;
                w[i] = w[i] * keep + move;
            }
        }
    }
}

using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace NetDsl.Optimizers;

/// <summary>
/// Stochastic gradient descent with optional momentum, as Keras defines it:
/// <c>v = momentum * v - lr * g; w = w + v</c> (Nesterov: <c>w = w + momentum * v - lr * g</c>).
/// </summary>
public sealed class Sgd : IOptimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Step size, positive.</param>
    /// <param name="momentum">Momentum in [0, 1).</param>
    /// <param name="nesterov">Use Nesterov momentum.</param>
    public Sgd(float learningRate = 0.01f, float momentum = 0f, bool nesterov = false)
    {
        if (!(learningRate > 0f) || !float.IsFinite(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be positive and finite.");
        }

        if (!(momentum >= 0f && momentum < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be in [0, 1).");
        }

        LearningRate = learningRate;
        Momentum = momentum;
        Nesterov = nesterov;
    }

    /// <summary>Step size (may be changed between steps, e.g. by a schedule).</summary>
    public float LearningRate { get; set; }

    /// <summary>Momentum coefficient.</summary>
    public float Momentum { get; }

    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }

    /// <summary>Steps taken so far.</summary>
    public long Iterations { get; set; }

    /// <inheritdoc/>
    public int StateSlots => Momentum > 0f ? 1 : 0;

    /// <inheritdoc/>
    public void BeginStep() => Iterations++;

    /// <inheritdoc/>
    public void Update(in ParameterSlice slice)
    {
        Span<float> w = slice.Values;
        ReadOnlySpan<float> g = slice.Gradients;
        float lr = LearningRate;
        ref float wr = ref MemoryMarshal.GetReference(w);
        ref float gr = ref MemoryMarshal.GetReference(g);
        int n = w.Length;
        int i = 0;
        if (Momentum == 0f)
        {
            var vlr = Vector512.Create(-lr);
            for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
            {
                var wv = Vector512.LoadUnsafe(ref wr, (nuint)i);
                Vector512.FusedMultiplyAdd(vlr, Vector512.LoadUnsafe(ref gr, (nuint)i), wv).StoreUnsafe(ref wr, (nuint)i);
            }

            for (; i < n; i++)
            {
                w[i] -= lr * g[i];
            }

            return;
        }

        Span<float> v = slice.State(0);
        if (v.Length != n)
        {
            throw new ArgumentException($"SGD with momentum needs one state slot as long as the parameters ({n}), but the slice's state 0 has {v.Length}.", nameof(slice));
        }

        ref float vr = ref MemoryMarshal.GetReference(v);
        float m = Momentum;
        var vm = Vector512.Create(m);
        var vneg = Vector512.Create(-lr);
        for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
        {
            var gv = Vector512.LoadUnsafe(ref gr, (nuint)i);
            var step = gv * vneg;
            var vel = Vector512.FusedMultiplyAdd(vm, Vector512.LoadUnsafe(ref vr, (nuint)i), step);
            vel.StoreUnsafe(ref vr, (nuint)i);
            var wv = Vector512.LoadUnsafe(ref wr, (nuint)i);
            wv = Nesterov ? wv + Vector512.FusedMultiplyAdd(vm, vel, step) : wv + vel;
            wv.StoreUnsafe(ref wr, (nuint)i);
        }

        for (; i < n; i++)
        {
            float step = -lr * g[i];
            float vel = m * v[i] + step;
            v[i] = vel;
            w[i] += Nesterov ? m * vel + step : vel;
        }
    }
}

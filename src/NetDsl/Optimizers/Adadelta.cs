using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NetDsl.Kernels;

namespace NetDsl.Optimizers;

/// <summary>
/// Adadelta (Zeiler 2012) with Keras 2's update rule, per parameter, with <c>a</c> the accumulated squared gradient
/// (state slot 0) and <c>d</c> the accumulated squared update (state slot 1), both starting at 0:
/// <c>a = rho * a + (1 - rho) * g^2; u = g * sqrt(d + eps) / sqrt(a + eps); w -= lr * u; d = rho * d + (1 - rho) * u^2</c>
/// (the new <c>a</c> and the old <c>d</c> in <c>u</c>). One fused SIMD pass over the slice.
/// </summary>
public sealed unsafe class Adadelta : IOptimizer
{
    private float _learningRate;

    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Step size, positive and finite (Keras 2's Adadelta default is 1.0).</param>
    /// <param name="rho">Decay of both running averages, in [0, 1).</param>
    /// <param name="epsilon">
    /// Added under both square roots, positive and finite. 1e-6 is the paper's value (and early Keras's); standalone
    /// Keras 2.1+ defaults to <c>K.epsilon()</c> = 1e-7 and Keras 2.0 to 1e-8, so pass it explicitly to match those.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public Adadelta(float learningRate = 1.0f, float rho = 0.95f, float epsilon = 1e-6f)
    {
        ValidateLearningRate(learningRate, nameof(learningRate));
        if (!(rho >= 0f && rho < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(rho), rho, "Rho must be in [0, 1).");
        }

        if (!(epsilon > 0f) || !float.IsFinite(epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must be positive and finite.");
        }

        _learningRate = learningRate;
        Rho = rho;
        Epsilon = epsilon;
    }

    /// <summary>Step size (may be changed between steps, e.g. by a schedule); positive and finite.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive and finite.</exception>
    public float LearningRate
    {
        get => _learningRate;
        set
        {
            ValidateLearningRate(value, nameof(value));
            _learningRate = value;
        }
    }

    /// <summary>Decay of the running averages of squared gradients and squared updates.</summary>
    public float Rho { get; }

    /// <summary>The constant added under both square roots.</summary>
    public float Epsilon { get; }

    /// <summary>Steps taken so far.</summary>
    public long Iterations { get; set; }

    /// <inheritdoc/>
    public int StateSlots => 2;

    /// <inheritdoc/>
    public void BeginStep() => Iterations++;

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The slice's state slots 0 and 1 are not as long as its parameters.</exception>
    public void Update(in ParameterSlice slice)
    {
        Span<float> w = slice.Values;
        ReadOnlySpan<float> g = slice.Gradients;
        Span<float> a = slice.State(0);
        Span<float> d = slice.State(1);
        int n = w.Length;
        if (a.Length != n || d.Length != n)
        {
            throw new ArgumentException(
                $"Adadelta needs two state slots as long as the parameters ({n}), but the slice's states have {a.Length} and {d.Length}.", nameof(slice));
        }

        if (n == 0)
        {
            return;
        }

        fixed (float* pw = w, pg = g, pa = a, pd = d)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                Run<Simd512, Sqrt512, Vector512<float>>(pw, pg, pa, pd, n, _learningRate, Rho, Epsilon);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Run<Simd256, Sqrt256, Vector256<float>>(pw, pg, pa, pd, n, _learningRate, Rho, Epsilon);
            }
            else
            {
                Run<Simd128, Sqrt128, Vector128<float>>(pw, pg, pa, pd, n, _learningRate, Rho, Epsilon);
            }
        }
    }

    private static void ValidateLearningRate(float learningRate, string name)
    {
        if (!(learningRate > 0f) || !float.IsFinite(learningRate))
        {
            throw new ArgumentOutOfRangeException(name, learningRate, "The learning rate must be positive and finite.");
        }
    }

    /// <summary>The update; the scalar tail uses the same fused operations as the vector body, so every element gets bitwise the same result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TS, TQ, TV>(float* w, float* g, float* a, float* d, int n, float lr, float rho, float eps)
        where TS : ISimd<TV>
        where TQ : ISqrt<TV>
        where TV : struct
    {
        float oneMinusRho = 1f - rho;
        TV vRho = TS.Broadcast(rho), vOne = TS.Broadcast(oneMinusRho), vEps = TS.Broadcast(eps), vNegLr = TS.Broadcast(-lr);
        int vl = TS.Count;
        int i = 0;
        for (; i + vl <= n; i += vl)
        {
            TV gv = TS.Load(g + i);
            TV av = TS.Fma(vRho, TS.Load(a + i), TS.Multiply(TS.Multiply(vOne, gv), gv));
            TV dv = TS.Load(d + i);
            TV u = TS.Divide(TS.Multiply(gv, TQ.Sqrt(TS.Add(dv, vEps))), TQ.Sqrt(TS.Add(av, vEps)));
            TS.Store(a + i, av);
            TS.Store(w + i, TS.Fma(vNegLr, u, TS.Load(w + i)));
            TS.Store(d + i, TS.Fma(vRho, dv, TS.Multiply(TS.Multiply(vOne, u), u)));
        }

        for (; i < n; i++)
        {
            float gs = g[i];
            float an = MathF.FusedMultiplyAdd(rho, a[i], oneMinusRho * gs * gs);
            float ds = d[i];
            float u = gs * MathF.Sqrt(ds + eps) / MathF.Sqrt(an + eps);
            a[i] = an;
            w[i] = MathF.FusedMultiplyAdd(-lr, u, w[i]);
            d[i] = MathF.FusedMultiplyAdd(rho, ds, oneMinusRho * u * u);
        }
    }

    /// <summary>Lane-wise square root for one SIMD width (not part of <see cref="ISimd{TV}"/>).</summary>
    private interface ISqrt<TV> where TV : struct
    {
        static abstract TV Sqrt(TV v);
    }

    private readonly struct Sqrt512 : ISqrt<Vector512<float>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Sqrt(Vector512<float> v) => Vector512.Sqrt(v);
    }

    private readonly struct Sqrt256 : ISqrt<Vector256<float>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Sqrt(Vector256<float> v) => Vector256.Sqrt(v);
    }

    private readonly struct Sqrt128 : ISqrt<Vector128<float>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Sqrt(Vector128<float> v) => Vector128.Sqrt(v);
    }
}

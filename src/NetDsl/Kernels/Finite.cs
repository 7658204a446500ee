using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetDsl.Kernels;

/// <summary>Scans for NaN and infinity, at the widest SIMD width the machine accelerates.</summary>
public static unsafe class Finite
{
    /// <summary>Whether any of the <paramref name="count"/> floats at <paramref name="p"/> is NaN or infinite.</summary>
    /// <param name="p">The first float.</param>
    /// <param name="count">Floats to scan.</param>
    /// <returns>True when at least one is not finite.</returns>
    public static bool AnyNonFinite(float* p, long count)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            return AnyNonFinite<Simd512, Vector512<float>>(p, count);
        }

        if (Vector256.IsHardwareAccelerated)
        {
            return AnyNonFinite<Simd256, Vector256<float>>(p, count);
        }

        return AnyNonFinite<Simd128, Vector128<float>>(p, count);
    }

    /// <summary>
    /// Accumulates <c>x · 0</c>: exactly 0 for every finite x, NaN for NaN and ±∞, and NaN stays NaN. One fused
    /// multiply-add per vector into four independent accumulators, no branch in the loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool AnyNonFinite<TS, TV>(float* p, long count)
        where TS : ISimd<TV>
        where TV : struct
    {
        TV zero = TS.Zero;
        TV a0 = zero, a1 = zero, a2 = zero, a3 = zero;
        int vl = TS.Count;
        long i = 0;
        for (; i + 4 * vl <= count; i += 4 * vl)
        {
            a0 = TS.Fma(TS.Load(p + i), zero, a0);
            a1 = TS.Fma(TS.Load(p + i + vl), zero, a1);
            a2 = TS.Fma(TS.Load(p + i + 2 * vl), zero, a2);
            a3 = TS.Fma(TS.Load(p + i + 3 * vl), zero, a3);
        }

        for (; i + vl <= count; i += vl)
        {
            a0 = TS.Fma(TS.Load(p + i), zero, a0);
        }

        float sum = TS.Sum(TS.Add(TS.Add(a0, a1), TS.Add(a2, a3)));
        for (; i < count; i++)
        {
            sum += p[i] * 0f;
        }

        return sum != 0f; // 0 unless a NaN got in (NaN != 0 is true)
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NetDsl.Kernels;

/// <summary>
/// An int known at the type level: the convolution tiles are generic over their row counts so the JIT compiles one
/// copy per size with the unused accumulators and every row offset folded away.
/// </summary>
internal interface IConvCount
{
    /// <summary>The value.</summary>
    static abstract int Value { get; }
}

/// <summary>The constant 1.</summary>
internal readonly struct ConvN1 : IConvCount
{
    public static int Value => 1;
}

/// <summary>The constant 2.</summary>
internal readonly struct ConvN2 : IConvCount
{
    public static int Value => 2;
}

/// <summary>The constant 3.</summary>
internal readonly struct ConvN3 : IConvCount
{
    public static int Value => 3;
}

/// <summary>The constant 4.</summary>
internal readonly struct ConvN4 : IConvCount
{
    public static int Value => 4;
}

/// <summary>The constant 5.</summary>
internal readonly struct ConvN5 : IConvCount
{
    public static int Value => 5;
}

/// <summary>The constant 6.</summary>
internal readonly struct ConvN6 : IConvCount
{
    public static int Value => 6;
}

/// <summary>The constant 7.</summary>
internal readonly struct ConvN7 : IConvCount
{
    public static int Value => 7;
}

/// <summary>The constant 8.</summary>
internal readonly struct ConvN8 : IConvCount
{
    public static int Value => 8;
}

/// <summary>The constant 9.</summary>
internal readonly struct ConvN9 : IConvCount
{
    public static int Value => 9;
}

/// <summary>The constant 10.</summary>
internal readonly struct ConvN10 : IConvCount
{
    public static int Value => 10;
}

/// <summary>The constant 11.</summary>
internal readonly struct ConvN11 : IConvCount
{
    public static int Value => 11;
}

/// <summary>The constant 12.</summary>
internal readonly struct ConvN12 : IConvCount
{
    public static int Value => 12;
}

/// <summary>Vector helpers the convolution kernels need beyond <see cref="ISimd{TV}"/>.</summary>
internal static unsafe class ConvSimd
{
    /// <summary>
    /// Stores the first <paramref name="count"/> lanes of <paramref name="v"/> (all of them when
    /// <paramref name="count"/> is at least the vector length); the other floats at <paramref name="p"/> are not
    /// touched (a true masked store: another thread may own them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<TS, TV>(float* p, TV v, int count)
        where TS : ISimd<TV>
        where TV : struct
    {
        if (count >= TS.Count)
        {
            TS.Store(p, v);
        }
        else
        {
            StorePartial<TS, TV>(p, v, count);
        }
    }

    /// <summary>
    /// Asks for the cache line at <paramref name="p"/> ahead of use (a no-op where there is no prefetch instruction).
    /// The tiles prefetch their output lines when they start, so the write-allocate misses of the stores at their
    /// end are already served.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(void* p)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(p);
        }
    }

    /// <summary>
    /// Masked store of the first <paramref name="count"/> (fewer than a vector) lanes. Inlined: a call inside a
    /// register tile would make the JIT keep every accumulator in memory (vector registers are caller-saved).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePartial<TS, TV>(float* p, TV v, int count)
        where TS : ISimd<TV>
        where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported)
        {
            Vector512<float> mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
            Avx512F.MaskStore(p, mask, Unsafe.As<TV, Vector512<float>>(ref v));
        }
        else if (typeof(TV) == typeof(Vector256<float>) && Avx.IsSupported)
        {
            Vector256<float> mask = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();
            Avx.MaskStore(p, mask, Unsafe.As<TV, Vector256<float>>(ref v));
        }
        else if (typeof(TV) == typeof(Vector128<float>) && Avx.IsSupported)
        {
            Vector128<float> mask = Vector128.LessThan(Vector128<int>.Indices, Vector128.Create(count)).AsSingle();
            Avx.MaskStore(p, mask, Unsafe.As<TV, Vector128<float>>(ref v));
        }
        else
        {
            for (int i = 0; i < count; i++)
            {
                p[i] = TS.Element(v, i);
            }
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetDsl.Kernels;

/// <summary>
/// A standalone activation layer over <c>count</c> contiguous elements (an activation that could not be fused into
/// the epilogue of the GEMM before it, e.g. after a pooling or batch-normalisation layer). Each call does part
/// <c>part</c> of <c>parts</c>: the range is split in blocks of 16 floats (one 512-bit vector, one cache line), so
/// parts never share a cache line of an arena buffer and every element is computed by the same vector code whatever
/// the split; only the last part has a partial vector, computed from a full-width load (buffers may be read up to one
/// 512-bit vector past their end) and stored lane by lane.
/// </summary>
public static unsafe class Elementwise
{
    /// <summary><c>y = f(x)</c> for the part's share of <c>[0, count)</c>; <paramref name="x"/> may equal <paramref name="y"/>.</summary>
    /// <typeparam name="TAct">The activation.</typeparam>
    /// <param name="arena">The arena holding both buffers.</param>
    /// <param name="x">Offset of the input.</param>
    /// <param name="y">Offset of the output.</param>
    /// <param name="count">Elements in each buffer.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void Forward<TAct>(Arena arena, long x, long y, long count, int part, int parts) where TAct : IActivation
    {
        var (start, end) = KernelRange.Split(count, part, parts);
        if (start >= end)
        {
            return;
        }

        float* b = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            ElementwiseKernel<Simd512, Vector512<float>, TAct>.Forward(b + x, b + y, start, end);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            ElementwiseKernel<Simd256, Vector256<float>, TAct>.Forward(b + x, b + y, start, end);
        }
        else
        {
            ElementwiseKernel<Simd128, Vector128<float>, TAct>.Forward(b + x, b + y, start, end);
        }
    }

    /// <summary>
    /// <c>dx = TAct.Backward(dy, y)</c> (the gradient with respect to the layer's input, from the gradient with respect
    /// to its output and the output itself) for the part's share of <c>[0, count)</c>; <paramref name="dx"/> may equal
    /// <paramref name="dy"/>.
    /// </summary>
    /// <typeparam name="TAct">The activation.</typeparam>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="dy">Offset of the gradient with respect to the output.</param>
    /// <param name="y">Offset of the forward output.</param>
    /// <param name="dx">Offset of the gradient with respect to the input (written).</param>
    /// <param name="count">Elements in each buffer.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void Backward<TAct>(Arena arena, long dy, long y, long dx, long count, int part, int parts) where TAct : IActivation
    {
        var (start, end) = KernelRange.Split(count, part, parts);
        if (start >= end)
        {
            return;
        }

        float* b = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            ElementwiseKernel<Simd512, Vector512<float>, TAct>.Backward(b + dy, b + y, b + dx, start, end);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            ElementwiseKernel<Simd256, Vector256<float>, TAct>.Backward(b + dy, b + y, b + dx, start, end);
        }
        else
        {
            ElementwiseKernel<Simd128, Vector128<float>, TAct>.Backward(b + dy, b + y, b + dx, start, end);
        }
    }
}

/// <summary>The element-wise loops for one SIMD width and activation.</summary>
internal static unsafe class ElementwiseKernel<TS, TV, TAct>
    where TS : ISimd<TV>
    where TV : struct
    where TAct : IActivation
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* x, float* y, long start, long end)
    {
        int vl = TS.Count;
        long i = start;
        for (; i + 2 * vl <= end; i += 2 * vl)
        {
            TV a = TAct.Forward<TS, TV>(TS.Load(x + i));
            TV b = TAct.Forward<TS, TV>(TS.Load(x + i + vl));
            TS.Store(y + i, a);
            TS.Store(y + i + vl, b);
        }

        for (; i + vl <= end; i += vl)
        {
            TS.Store(y + i, TAct.Forward<TS, TV>(TS.Load(x + i)));
        }

        if (i < end)
        {
            float* tmp = stackalloc float[KernelRange.MaxLanes];
            TS.Store(tmp, TAct.Forward<TS, TV>(TS.Load(x + i)));
            KernelRange.CopyLanes(tmp, y + i, (int)(end - i));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float* dy, float* y, float* dx, long start, long end)
    {
        int vl = TS.Count;
        long i = start;
        for (; i + 2 * vl <= end; i += 2 * vl)
        {
            TV a = TAct.Backward<TS, TV>(TS.Load(dy + i), TS.Load(y + i));
            TV b = TAct.Backward<TS, TV>(TS.Load(dy + i + vl), TS.Load(y + i + vl));
            TS.Store(dx + i, a);
            TS.Store(dx + i + vl, b);
        }

        for (; i + vl <= end; i += vl)
        {
            TS.Store(dx + i, TAct.Backward<TS, TV>(TS.Load(dy + i), TS.Load(y + i)));
        }

        if (i < end)
        {
            float* tmp = stackalloc float[KernelRange.MaxLanes];
            TS.Store(tmp, TAct.Backward<TS, TV>(TS.Load(dy + i), TS.Load(y + i)));
            KernelRange.CopyLanes(tmp, dx + i, (int)(end - i));
        }
    }
}

/// <summary>Work splitting and small helpers shared by the element-wise style kernels.</summary>
internal static unsafe class KernelRange
{
    /// <summary>Floats in the widest vector (512 bits): the block size ranges are split in, and the size of a lane buffer.</summary>
    public const int MaxLanes = 16;

    /// <summary>Throws unless <c>0 &lt;= part &lt; parts</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CheckPart(int part, int parts)
    {
        if ((uint)part >= (uint)parts)
        {
            ThrowPart(part, parts);
        }
    }

    /// <summary>
    /// Part <paramref name="part"/> of <paramref name="parts"/> of <c>[0, count)</c>, split in blocks of
    /// <see cref="MaxLanes"/> as evenly as possible (part sizes differ by at most one block).
    /// </summary>
    public static (long Start, long End) Split(long count, int part, int parts)
    {
        CheckPart(part, parts);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        long blocks = (count + MaxLanes - 1) / MaxLanes;
        long start = (long)((Int128)blocks * part / parts) * MaxLanes;
        long end = (long)((Int128)blocks * (part + 1) / parts) * MaxLanes;
        return (Math.Min(start, count), Math.Min(end, count));
    }

    /// <summary>Copies the first <paramref name="n"/> floats (a partial vector's valid lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CopyLanes(float* from, float* to, int n)
    {
        for (int l = 0; l < n; l++)
        {
            to[l] = from[l];
        }
    }

    /// <summary>Zeroes <paramref name="n"/> floats.</summary>
    public static void Zero(float* p, long n)
    {
        while (n > 0)
        {
            int chunk = (int)Math.Min(n, int.MaxValue);
            new Span<float>(p, chunk).Clear();
            p += chunk;
            n -= chunk;
        }
    }

    private static void ThrowPart(int part, int parts)
    {
        if (parts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(parts), parts, "There must be at least one part.");
        }

        throw new ArgumentOutOfRangeException(nameof(part), part, $"The part must be in [0, {parts}).");
    }
}

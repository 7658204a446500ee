using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetDsl.Kernels;

/// <summary>
/// The merge layers' kernels: the element-wise sum of an <c>Add</c> (and of two gradient contributions), and the
/// strided copies of a <c>Concat</c> (images are channels last, so each input's channels form a run inside every pixel
/// of the output). Work is split between parts like <see cref="Elementwise"/> (blocks of 16 floats) for the sums and by
/// whole pixels for the copies.
/// </summary>
public static unsafe class Merge
{
    /// <summary><c>c = f(a + b)</c> for the part's share of <c>[0, count)</c>; <paramref name="c"/> may equal <paramref name="a"/> or <paramref name="b"/>.</summary>
    /// <typeparam name="TAct">The activation applied to the sum (<see cref="Act.Linear"/> for none).</typeparam>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="a">Offset of the first addend.</param>
    /// <param name="b">Offset of the second addend.</param>
    /// <param name="c">Offset of the sum (written).</param>
    /// <param name="count">Elements in each buffer.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void Add<TAct>(Arena arena, long a, long b, long c, long count, int part, int parts) where TAct : IActivation
    {
        var (start, end) = KernelRange.Split(count, part, parts);
        if (start >= end)
        {
            return;
        }

        float* p = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            SumKernel<Simd512, Vector512<float>, TAct>.Add(p + a, p + b, p + c, start, end);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            SumKernel<Simd256, Vector256<float>, TAct>.Add(p + a, p + b, p + c, start, end);
        }
        else
        {
            SumKernel<Simd128, Vector128<float>, TAct>.Add(p + a, p + b, p + c, start, end);
        }
    }

    /// <summary>
    /// Copies, for the part's share of <paramref name="count"/> rows (pixels), <paramref name="width"/> floats from
    /// <c>from + row * fromStride</c> to <c>to + row * toStride</c>: one input into its channels of a concatenation
    /// (forward), or a concatenation's gradient back into one input's (backward).
    /// </summary>
    /// <param name="arena">The arena holding both buffers.</param>
    /// <param name="from">Offset of the first source float.</param>
    /// <param name="fromStride">Floats between consecutive source rows.</param>
    /// <param name="to">Offset of the first destination float.</param>
    /// <param name="toStride">Floats between consecutive destination rows.</param>
    /// <param name="width">Floats copied per row.</param>
    /// <param name="count">Rows.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void CopyRows(Arena arena, long from, int fromStride, long to, int toStride, int width, long count, int part, int parts)
    {
        KernelRange.CheckPart(part, parts);
        long start = count * part / parts, end = count * (part + 1) / parts;
        float* p = arena.Pointer;
        for (long row = start; row < end; row++)
        {
            Buffer.MemoryCopy(p + from + row * fromStride, p + to + row * toStride, (long)width * sizeof(float), (long)width * sizeof(float));
        }
    }
}

/// <summary>The element-wise sum for one SIMD width and activation.</summary>
internal static unsafe class SumKernel<TS, TV, TAct>
    where TS : ISimd<TV>
    where TV : struct
    where TAct : IActivation
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(float* a, float* b, float* c, long start, long end)
    {
        int vl = TS.Count;
        long i = start;
        for (; i + vl <= end; i += vl)
        {
            TS.Store(c + i, TAct.Forward<TS, TV>(TS.Add(TS.Load(a + i), TS.Load(b + i))));
        }

        if (i < end)
        {
            float* tmp = stackalloc float[KernelRange.MaxLanes];
            TS.Store(tmp, TAct.Forward<TS, TV>(TS.Add(TS.Load(a + i), TS.Load(b + i))));
            KernelRange.CopyLanes(tmp, c + i, (int)(end - i));
        }
    }
}

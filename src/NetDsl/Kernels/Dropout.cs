using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetDsl.Kernels;

/// <summary>
/// Inverted dropout with a counter-based mask: whether element <c>i</c> is kept is a stateless hash of
/// <c>(seed, i)</c>, so there is no mask buffer (the backward pass recomputes the mask from the same seed) and the mask
/// does not depend on how the work is split between threads. The caller draws a fresh seed per layer and step (e.g.
/// from <see cref="DeterministicRandom"/>).
/// </summary>
/// <remarks>
/// The hash: the seed is expanded by one SplitMix64 step into two 32-bit keys <c>k0</c>, <c>k1</c>; with
/// <c>lo</c>, <c>hi</c> the low and high 32 bits of the index, <c>h = fmix32(fmix32(lo + k0) ^ (k1 + hi * 0x9E3779B9))</c>
/// (fmix32: the MurmurHash3 32-bit finalizer; all arithmetic modulo 2^32). For fixed seed and <c>hi</c> this is a
/// bijection of <c>lo</c> with full avalanche, and it vectorises as plain 32-bit lane operations. The top 24 bits of
/// <c>h</c>, <c>u = h &gt;&gt; 8</c>, are compared with the rate: the element is kept when <c>u / 2^24 &gt;= rate</c>,
/// so the keep probability is <c>1 - ceil(rate * 2^24) / 2^24</c>, within 2^-24 of <c>1 - rate</c> (exact for rates
/// that are multiples of 2^-24, such as 0.25 or 0.5).
/// Kept elements are divided by <c>1 - rate</c> (a true division, so the result is exactly the float
/// <c>x / (1 - rate)</c>); dropped elements are 0 even when the input is not finite.
/// </remarks>
public static unsafe class Dropout
{
    private const uint Fmix1 = 0x85EBCA6Bu;
    private const uint Fmix2 = 0xC2B2AE35u;
    private const uint Golden = 0x9E3779B9u;

    /// <summary>
    /// Whether element <paramref name="index"/> is kept: a stateless hash of (<paramref name="seed"/>,
    /// <paramref name="index"/>) compared with <paramref name="rate"/> (keep probability <c>1 - rate</c>).
    /// Deterministic, and independent of parts and threads.
    /// </summary>
    /// <param name="seed">The mask's seed.</param>
    /// <param name="index">The element's index in the buffer.</param>
    /// <param name="rate">Drop probability in [0, 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">The rate is not in [0, 1).</exception>
    public static bool Keep(ulong seed, long index, float rate)
    {
        ValidateRate(rate);
        var (k0, k1) = Keys(seed);
        return (int)(Hash(k0, k1, index) >> 8) >= Threshold(rate);
    }

    /// <summary>
    /// <c>y[i] = Keep(seed, i, rate) ? x[i] / (1 - rate) : 0</c> for the part's share of <c>[0, count)</c>
    /// (<paramref name="x"/> may equal <paramref name="y"/>). With rate 0 this is a copy.
    /// </summary>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="x">Offset of the input.</param>
    /// <param name="y">Offset of the output.</param>
    /// <param name="count">Elements in each buffer.</param>
    /// <param name="rate">Drop probability in [0, 1).</param>
    /// <param name="seed">The mask's seed (use the same one in <see cref="Backward"/>).</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">The rate is not in [0, 1), or the count or part is out of range.</exception>
    public static void Forward(Arena arena, long x, long y, long count, float rate, ulong seed, int part, int parts)
        => Run(arena, x, y, count, rate, seed, part, parts);

    /// <summary>
    /// <c>dx[i] = Keep(seed, i, rate) ? dy[i] / (1 - rate) : 0</c> for the part's share of <c>[0, count)</c>
    /// (<paramref name="dy"/> may equal <paramref name="dx"/>): the gradient of <see cref="Forward"/> run with the same
    /// seed and rate.
    /// </summary>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="dy">Offset of the gradient with respect to the output.</param>
    /// <param name="dx">Offset of the gradient with respect to the input.</param>
    /// <param name="count">Elements in each buffer.</param>
    /// <param name="rate">Drop probability in [0, 1), as in the forward pass.</param>
    /// <param name="seed">The forward pass's seed.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">The rate is not in [0, 1), or the count or part is out of range.</exception>
    public static void Backward(Arena arena, long dy, long dx, long count, float rate, ulong seed, int part, int parts)
        => Run(arena, dy, dx, count, rate, seed, part, parts);

    private static void Run(Arena arena, long src, long dst, long count, float rate, ulong seed, int part, int parts)
    {
        ValidateRate(rate);
        var (start, end) = KernelRange.Split(count, part, parts);
        if (start >= end)
        {
            return;
        }

        var (k0, k1) = Keys(seed);
        int threshold = Threshold(rate);
        float keep = 1f - rate;
        float* b = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            Loop<Lanes512>(b + src, b + dst, start, end, k0, k1, threshold, keep);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Loop<Lanes256>(b + src, b + dst, start, end, k0, k1, threshold, keep);
        }
        else
        {
            Loop<Lanes128>(b + src, b + dst, start, end, k0, k1, threshold, keep);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Loop<TL>(float* src, float* dst, long start, long end, uint k0, uint k1, int threshold, float keep)
        where TL : IMaskLanes
    {
        int vl = TL.Count;
        long i = start;
        while (i + vl <= end)
        {
            uint lo = (uint)i;
            uint hi = (uint)((ulong)i >> 32);
            if (lo <= uint.MaxValue - (uint)(vl - 1))
            {
                TL.Apply(src + i, dst + i, lo + k0, k1 + hi * Golden, threshold, keep);
                i += vl;
            }
            else
            {
                // The vector would straddle a multiple of 2^32 (different high words): do it element by element.
                for (long e = i + vl; i < e; i++)
                {
                    dst[i] = (int)(Hash(k0, k1, i) >> 8) >= threshold ? src[i] / keep : 0f;
                }
            }
        }

        for (; i < end; i++)
        {
            dst[i] = (int)(Hash(k0, k1, i) >> 8) >= threshold ? src[i] / keep : 0f;
        }
    }

    /// <summary>
    /// Applies <paramref name="mask"/> to elements <c>[start, end)</c>: <c>dst[i] = keep(i) ? src[i] / (1 - rate) : 0</c>,
    /// the same values <see cref="Forward"/> computes for those indices. Kernels call this on the elements they have just
    /// written (still in L1) to fuse the dropout into their own pass; <paramref name="src"/> may equal
    /// <paramref name="dst"/>.
    /// </summary>
    internal static void Apply(in DropoutMask mask, float* src, float* dst, long start, long end)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Loop<Lanes512>(src, dst, start, end, mask.K0, mask.K1, mask.Threshold, mask.KeepProbability);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Loop<Lanes256>(src, dst, start, end, mask.K0, mask.K1, mask.Threshold, mask.KeepProbability);
        }
        else
        {
            Loop<Lanes128>(src, dst, start, end, mask.K0, mask.K1, mask.Threshold, mask.KeepProbability);
        }
    }

    internal static void ValidateRate(float rate)
    {
        if (!(rate >= 0f && rate < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "The dropout rate must be in [0, 1).");
        }
    }

    /// <summary>Keep iff <c>(h &gt;&gt; 8) &gt;= ceil(rate * 2^24)</c>; <c>rate * 2^24</c> is exact in float.</summary>
    internal static int Threshold(float rate) => (int)MathF.Ceiling(rate * 16777216f);

    internal static (uint K0, uint K1) Keys(ulong seed)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return ((uint)z, (uint)(z >> 32));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Hash(uint k0, uint k1, long index)
    {
        uint lo = (uint)index;
        uint hi = (uint)((ulong)index >> 32);
        return Mix(Mix(lo + k0) ^ (k1 + hi * Golden));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= Fmix1;
        h ^= h >> 13;
        h *= Fmix2;
        h ^= h >> 16;
        return h;
    }

    /// <summary>One SIMD width of the mask: the same hash as <see cref="Hash"/>, on 32-bit lanes.</summary>
    private interface IMaskLanes
    {
        /// <summary>Lanes per vector.</summary>
        static abstract int Count { get; }

        /// <summary>
        /// <c>dst[j] = keep(j) ? src[j] / keepProbability : 0</c> for the vector's lanes j, whose first round input is
        /// <c>first + j</c> and second round key <c>key</c>.
        /// </summary>
        static abstract void Apply(float* src, float* dst, uint first, uint key, int threshold, float keepProbability);
    }

    private readonly struct Lanes512 : IMaskLanes
    {
        public static int Count => Vector512<float>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply(float* src, float* dst, uint first, uint key, int threshold, float keepProbability)
        {
            var h = Mix(Vector512.Create(first) + Vector512<uint>.Indices);
            h = Mix(h ^ Vector512.Create(key));
            var kept = Vector512.GreaterThanOrEqual(Vector512.ShiftRightLogical(h, 8).AsInt32(), Vector512.Create(threshold));
            var v = Vector512.Load(src) / Vector512.Create(keepProbability);
            Vector512.ConditionalSelect(kept.AsSingle(), v, Vector512<float>.Zero).Store(dst);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<uint> Mix(Vector512<uint> h)
        {
            h ^= Vector512.ShiftRightLogical(h, 16);
            h *= Fmix1;
            h ^= Vector512.ShiftRightLogical(h, 13);
            h *= Fmix2;
            return h ^ Vector512.ShiftRightLogical(h, 16);
        }
    }

    private readonly struct Lanes256 : IMaskLanes
    {
        public static int Count => Vector256<float>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply(float* src, float* dst, uint first, uint key, int threshold, float keepProbability)
        {
            var h = Mix(Vector256.Create(first) + Vector256<uint>.Indices);
            h = Mix(h ^ Vector256.Create(key));
            var kept = Vector256.GreaterThanOrEqual(Vector256.ShiftRightLogical(h, 8).AsInt32(), Vector256.Create(threshold));
            var v = Vector256.Load(src) / Vector256.Create(keepProbability);
            Vector256.ConditionalSelect(kept.AsSingle(), v, Vector256<float>.Zero).Store(dst);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<uint> Mix(Vector256<uint> h)
        {
            h ^= Vector256.ShiftRightLogical(h, 16);
            h *= Fmix1;
            h ^= Vector256.ShiftRightLogical(h, 13);
            h *= Fmix2;
            return h ^ Vector256.ShiftRightLogical(h, 16);
        }
    }

    private readonly struct Lanes128 : IMaskLanes
    {
        public static int Count => Vector128<float>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply(float* src, float* dst, uint first, uint key, int threshold, float keepProbability)
        {
            var h = Mix(Vector128.Create(first) + Vector128<uint>.Indices);
            h = Mix(h ^ Vector128.Create(key));
            var kept = Vector128.GreaterThanOrEqual(Vector128.ShiftRightLogical(h, 8).AsInt32(), Vector128.Create(threshold));
            var v = Vector128.Load(src) / Vector128.Create(keepProbability);
            Vector128.ConditionalSelect(kept.AsSingle(), v, Vector128<float>.Zero).Store(dst);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<uint> Mix(Vector128<uint> h)
        {
            h ^= Vector128.ShiftRightLogical(h, 16);
            h *= Fmix1;
            h ^= Vector128.ShiftRightLogical(h, 13);
            h *= Fmix2;
            return h ^ Vector128.ShiftRightLogical(h, 16);
        }
    }
}

/// <summary>
/// A dropout mask to fuse into another kernel (a GEMM epilogue, a pooling pass): the rate and seed of one dropout
/// layer for one training step. Element <c>i</c> of the masked buffer is kept exactly when
/// <see cref="Dropout.Keep"/>(seed, i, rate) is, so a fused forward and a fused backward pass agree with each other and
/// with <see cref="Dropout.Forward"/>. The default value (<see cref="None"/>) masks nothing.
/// </summary>
public readonly struct DropoutMask
{
    /// <summary>Creates the mask of a dropout layer for one step.</summary>
    /// <param name="rate">Drop probability in [0, 1).</param>
    /// <param name="seed">The step's seed for the layer.</param>
    /// <exception cref="ArgumentOutOfRangeException">The rate is not in [0, 1).</exception>
    public DropoutMask(float rate, ulong seed)
    {
        Dropout.ValidateRate(rate);
        Threshold = Dropout.Threshold(rate);
        (K0, K1) = Dropout.Keys(seed);
        KeepProbability = 1f - rate;
    }

    /// <summary>No mask: kernels given this skip the dropout.</summary>
    public static DropoutMask None => default;

    /// <summary>Whether this is a real mask (not <see cref="None"/>).</summary>
    public bool IsActive => KeepProbability > 0f;

    internal uint K0 { get; }

    internal uint K1 { get; }

    internal int Threshold { get; }

    internal float KeepProbability { get; }
}

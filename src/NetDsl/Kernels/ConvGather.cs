using System.Runtime.CompilerServices;

namespace NetDsl.Kernels;

/// <summary>Where the small-map convolution kernel (<see cref="ConvGatherKernels{TS, TV, TShape}"/>) runs.</summary>
internal static class ConvGather
{
    /// <summary>
    /// Output width up to which the small-map kernel runs. On ResNet-18 at batch 1 (one thread, one run) it took the
    /// 3x3 convolutions from 2.1 to 1.2 ms at 14 x 14 and from 1.25 to 1.15 ms at 28 x 28; at 56 x 56 the two kernels
    /// tied (1.11 / 1.16 ms), and there the row kernel, tuned on large batches, stays.
    /// </summary>
    public const int MaxOutputWidth = 28;

    /// <summary>
    /// Input channels from which the small-map kernel runs: its per-tap pointer set-up is paid back over the channel
    /// run (the reference CNN's 1- and 32-channel convolutions keep their tuned kernels).
    /// </summary>
    public const int MinInputChannels = 64;

    /// <summary>
    /// Floats of the per-part stack scratch a filter block is packed into (576 KB: a 3 x 3 x 512 block of 32 filters);
    /// the worker threads have 2 MB stacks, a caller's thread at least the 1.5 MB of .NET's thread-pool threads.
    /// </summary>
    public const int MaxPackedFloats = 9 * 512 * 32;

    /// <summary>Whether the small-map kernel runs this shape's forward pass at <paramref name="lanes"/> floats per vector.</summary>
    public static bool Applies<TShape>(int lanes)
        where TShape : IConvShape
        => TShape.Filters % (2 * lanes) == 0 && TShape.InC >= MinInputChannels && TShape.OutW <= MaxOutputWidth;
}

/// <summary>
/// The forward pass of a convolution on small feature maps (ResNet's 14 x 14 and 7 x 7 stages), where the row kernel
/// of <see cref="ConvKernels{TS, TV, TShape}"/> loses most of its speed: a 7-pixel row is one 5-pixel tile plus two
/// edge pixels computed one at a time, and each row streams every filter's weights (9.4 MB for 512 x 512 channels)
/// from memory again.
/// </summary>
/// <remarks>
/// A register tile here is any 8 consecutive output pixels of the flattened batch (they may span rows and samples) x
/// 2 vectors of filters; each pixel reads its input through its own pointer per tap, and a tap outside the image
/// reads a row of zeros, so no pixel is an edge case. The work is (filter block, tile) pairs, filter block major, and
/// the parts of a multi-threaded call take consecutive runs of them. When a part meets a new filter block it copies
/// that block's weights (KH x KW x InC rows of 2 vectors) into a contiguous scratch on its stack: read in place they
/// are 128 bytes every <c>4 x Filters</c> bytes (2 KB at 512 filters), a stride that defeats the prefetchers, and on
/// ResNet-18's 7 x 7 x 512 convolutions the copy made the pass 1.25x faster (2.1 -> 1.7 ms at batch 1, one thread).
/// Blocks too large for the scratch (<see cref="ConvGather.MaxPackedFloats"/>) are read in place.
/// Every output element is one accumulator summed in the same order (kernel row, kernel column, channel) whatever
/// the number of parts, the same order as the row kernel's interior pixels; a zero tap adds an exact zero.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class ConvGatherKernels<TS, TV, TShape>
    where TS : ISimd<TV>
    where TV : struct
    where TShape : IConvShape
{
    /// <summary>Pointer slots per tap in the per-tile pointer table (the largest tile).</summary>
    private const int Slots = 8;

    /// <summary>Output pixels per register tile: 8 with 512-bit vectors (32 registers), 6 below (16).</summary>
    private static int MaxRows => TS.Count >= 16 ? 8 : 6;

    /// <summary>Forward pass over part <paramref name="part"/> of the (filter block, tile) pairs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward<TEpi>(float* x, float* w, float* y, int samples, int part, int parts, float* bias, float* aux)
        where TEpi : IEpilogue
    {
        int rowsMax = MaxRows, f = TShape.Filters, c = TShape.InC, taps = TShape.KH * TShape.KW;
        int blockWidth = 2 * TS.Count;
        int blocks = f / blockWidth;
        long total = (long)samples * TShape.OutH * TShape.OutW;
        long tiles = (total + rowsMax - 1) / rowsMax;
        long items = tiles * blocks;
        long first = items * part / parts, end = items * (part + 1) / parts;
        if (first >= end)
        {
            return;
        }

        long rowsK = (long)taps * c;
        bool pack = rowsK * blockWidth <= ConvGather.MaxPackedFloats;
        float* packed = stackalloc float[pack ? (int)(rowsK * blockWidth) : 0];
        float* zeros = stackalloc float[c];
        new Span<float>(zeros, c).Clear();
        nint* table = stackalloc nint[taps * Slots];
        int packedBlock = -1;
        for (long item = first; item < end; item++)
        {
            int block = (int)(item / tiles);
            long tile = item - (block * tiles);
            int f0 = block * blockWidth;
            float* b = w + f0;
            int bStride = f;
            if (pack)
            {
                if (block != packedBlock)
                {
                    Pack(w + f0, packed, rowsK);
                    packedBlock = block;
                }

                b = packed;
                bStride = blockWidth;
            }

            long p0 = tile * rowsMax;
            int rows = (int)Math.Min(rowsMax, total - p0);
            Gather(x, p0, rows, zeros, table);
            long o = (p0 * f) + f0;
            Tiles<TEpi>(rows, table, b, bStride, y + o, bias + f0, aux + o);
        }
    }

    /// <summary>Copies one filter block's 2 vectors of every weight row into consecutive rows of <paramref name="packed"/>.</summary>
    private static void Pack(float* w, float* packed, long rows)
    {
        int vl = TS.Count, f = TShape.Filters;
        for (long k = 0; k < rows; k++)
        {
            TS.Store(packed + (k * 2 * vl), TS.Load(w + (k * f)));
            TS.Store(packed + (k * 2 * vl) + vl, TS.Load(w + (k * f) + vl));
        }
    }

    /// <summary>Fills the pointer table: slot <c>tap * 8 + r</c> is where pixel p0 + r reads tap (kh, kw), or zeros.</summary>
    private static void Gather(float* x, long p0, int rows, float* zeros, nint* table)
    {
        int oh = TShape.OutH, ow = TShape.OutW, c = TShape.InC, kw = TShape.KW;
        long image = (long)TShape.InH * TShape.InW * c;
        for (int r = 0; r < rows; r++)
        {
            long p = p0 + r;
            long row = p / ow;
            int col = (int)(p - (row * ow));
            long n = row / oh;
            int orow = (int)(row - (n * oh));
            int ih0 = (orow * TShape.StrideH) - TShape.PadTop, iw0 = (col * TShape.StrideW) - TShape.PadLeft;
            float* sample = x + (n * image);
            for (int i = 0; i < TShape.KH; i++)
            {
                int ih = ih0 + i;
                for (int j = 0; j < kw; j++)
                {
                    int iw = iw0 + j;
                    bool inside = (uint)ih < (uint)TShape.InH && (uint)iw < (uint)TShape.InW;
                    table[(((i * kw) + j) * Slots) + r] = inside ? (nint)(sample + ((((long)ih * TShape.InW) + iw) * c)) : (nint)zeros;
                }
            }
        }
    }

    private static void Tiles<TEpi>(int rows, nint* table, float* b, int bStride, float* y, float* bias, float* aux)
        where TEpi : IEpilogue
    {
        switch (rows)
        {
            case 1:
                Tile<ConvN1, TEpi>(table, b, bStride, y, bias, aux);
                break;
            case 2:
                Tile<ConvN2, TEpi>(table, b, bStride, y, bias, aux);
                break;
            case 3:
                Tile<ConvN3, TEpi>(table, b, bStride, y, bias, aux);
                break;
            case 4:
                Tile<ConvN4, TEpi>(table, b, bStride, y, bias, aux);
                break;
            case 5:
                Tile<ConvN5, TEpi>(table, b, bStride, y, bias, aux);
                break;
            case 6:
                Tile<ConvN6, TEpi>(table, b, bStride, y, bias, aux);
                break;
            case 7:
                Tile<ConvN7, TEpi>(table, b, bStride, y, bias, aux);
                break;
            default:
                Tile<ConvN8, TEpi>(table, b, bStride, y, bias, aux);
                break;
        }
    }

    /// <summary>
    /// <typeparamref name="TR"/> consecutive output pixels x 2 vectors of filters: per tap, one pointer per pixel and a
    /// run over the input channels with 2 weight loads, one broadcast per pixel and 2 FMAs per pixel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TR, TEpi>(nint* table, float* b, int bStride, float* y, float* bias, float* aux)
        where TR : IConvCount
        where TEpi : IEpilogue
    {
        int rows = TR.Value, vl = TS.Count, f = TShape.Filters, c = TShape.InC, taps = TShape.KH * TShape.KW;
        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero, c30 = TS.Zero, c31 = TS.Zero, c40 = TS.Zero, c41 = TS.Zero, c50 = TS.Zero, c51 = TS.Zero, c60 = TS.Zero, c61 = TS.Zero, c70 = TS.Zero, c71 = TS.Zero;
        for (int k = 0; k < taps; k++)
        {
            nint* slot = table + (k * Slots);
            float* a0 = (float*)slot[0];
            float* a1 = rows > 1 ? (float*)slot[1] : null;
            float* a2 = rows > 2 ? (float*)slot[2] : null;
            float* a3 = rows > 3 ? (float*)slot[3] : null;
            float* a4 = rows > 4 ? (float*)slot[4] : null;
            float* a5 = rows > 5 ? (float*)slot[5] : null;
            float* a6 = rows > 6 ? (float*)slot[6] : null;
            float* a7 = rows > 7 ? (float*)slot[7] : null;
            float* pb = b + ((long)k * c * bStride);
            for (nint i = 0; i < c; i++)
            {
                TV b0 = TS.Load(pb);
                TV b1 = TS.Load(pb + vl);
                TV v = TS.Broadcast(a0[i]);
                c00 = TS.Fma(v, b0, c00);
                c01 = TS.Fma(v, b1, c01);

                if (rows > 1)
                {
                    v = TS.Broadcast(a1[i]);
                    c10 = TS.Fma(v, b0, c10);
                    c11 = TS.Fma(v, b1, c11);
                }

                if (rows > 2)
                {
                    v = TS.Broadcast(a2[i]);
                    c20 = TS.Fma(v, b0, c20);
                    c21 = TS.Fma(v, b1, c21);
                }

                if (rows > 3)
                {
                    v = TS.Broadcast(a3[i]);
                    c30 = TS.Fma(v, b0, c30);
                    c31 = TS.Fma(v, b1, c31);
                }

                if (rows > 4)
                {
                    v = TS.Broadcast(a4[i]);
                    c40 = TS.Fma(v, b0, c40);
                    c41 = TS.Fma(v, b1, c41);
                }

                if (rows > 5)
                {
                    v = TS.Broadcast(a5[i]);
                    c50 = TS.Fma(v, b0, c50);
                    c51 = TS.Fma(v, b1, c51);
                }

                if (rows > 6)
                {
                    v = TS.Broadcast(a6[i]);
                    c60 = TS.Fma(v, b0, c60);
                    c61 = TS.Fma(v, b1, c61);
                }

                if (rows > 7)
                {
                    v = TS.Broadcast(a7[i]);
                    c70 = TS.Fma(v, b0, c70);
                    c71 = TS.Fma(v, b1, c71);
                }

                pb += bStride;
            }
        }

        Finish<TEpi>(y, bias, aux, c00, c01);
        if (rows > 1)
        {
            Finish<TEpi>(y + f, bias, aux + f, c10, c11);
        }

        if (rows > 2)
        {
            Finish<TEpi>(y + (2 * f), bias, aux + (2 * f), c20, c21);
        }

        if (rows > 3)
        {
            Finish<TEpi>(y + (3 * f), bias, aux + (3 * f), c30, c31);
        }

        if (rows > 4)
        {
            Finish<TEpi>(y + (4 * f), bias, aux + (4 * f), c40, c41);
        }

        if (rows > 5)
        {
            Finish<TEpi>(y + (5 * f), bias, aux + (5 * f), c50, c51);
        }

        if (rows > 6)
        {
            Finish<TEpi>(y + (6 * f), bias, aux + (6 * f), c60, c61);
        }

        if (rows > 7)
        {
            Finish<TEpi>(y + (7 * f), bias, aux + (7 * f), c70, c71);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish<TEpi>(float* y, float* bias, float* aux, TV v0, TV v1)
        where TEpi : IEpilogue
    {
        int vl = TS.Count;
        TS.Store(y, TEpi.Apply<TS, TV>(v0, bias, aux));
        TS.Store(y + vl, TEpi.Apply<TS, TV>(v1, bias + vl, aux + vl));
    }
}

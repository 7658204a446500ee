using System.Runtime.CompilerServices;

namespace NetDsl.Kernels;

/// <summary>
/// How an implicit-GEMM convolution pass maps onto its operands. The pass computes output pixels along one row;
/// each reads, for every vertical tap, a contiguous run of A (KW-ish taps x <see cref="TapLen"/> floats) against
/// the same number of consecutive rows of B. The forward pass reads x against w; the input gradient reads dy
/// against the prepared (flipped, transposed) weights, one stride phase at a time.
/// </summary>
internal interface IConvGeometry
{
    /// <summary>Floats per A pixel (the channels A is read in).</summary>
    static abstract int TapLen { get; }

    /// <summary>A pixels per A row.</summary>
    static abstract int AWidth { get; }

    /// <summary>A rows per sample.</summary>
    static abstract int AHeight { get; }

    /// <summary>A pixels between the first taps of consecutive output pixels of a run.</summary>
    static abstract int PixStep { get; }

    /// <summary>Output channels: the length of a B row and of an output pixel.</summary>
    static abstract int NOut { get; }

    /// <summary>Output floats between consecutive output pixels of a run.</summary>
    static abstract int OutPix { get; }
}

/// <summary>The forward pass: A = x, B = w, output = y.</summary>
internal readonly struct ConvForwardGeometry<TShape> : IConvGeometry
    where TShape : IConvShape
{
    public static int TapLen => TShape.InC;

    public static int AWidth => TShape.InW;

    public static int AHeight => TShape.InH;

    public static int PixStep => TShape.StrideW;

    public static int NOut => TShape.Filters;

    public static int OutPix => TShape.Filters;
}

/// <summary>
/// The input gradient, one stride phase: A = dy, B = the prepared weights of the phase, output = every
/// StrideW-th pixel of a dx row (consecutive dy pixels).
/// </summary>
internal readonly struct ConvInputGradientGeometry<TShape> : IConvGeometry
    where TShape : IConvShape
{
    public static int TapLen => TShape.Filters;

    public static int AWidth => TShape.OutW;

    public static int AHeight => TShape.OutH;

    public static int PixStep => 1;

    public static int NOut => TShape.InC;

    public static int OutPix => TShape.StrideW * TShape.InC;
}

/// <summary>The forward pass and the input gradient for one SIMD width and shape.</summary>
internal static unsafe class ConvKernels<TS, TV, TShape>
    where TS : ISimd<TV>
    where TV : struct
    where TShape : IConvShape
{
    /// <summary>Forward pass over part <paramref name="part"/> of the output pixels.</summary>
    public static void Forward<TEpi>(float* x, float* w, float* y, int samples, int part, int parts, float* bias, float* aux)
        where TEpi : IEpilogue
    {
        int oh = TShape.OutH, ow = TShape.OutW, f = TShape.Filters;
        long image = (long)TShape.InH * TShape.InW * TShape.InC;
        long total = (long)samples * oh * ow;
        long pixel = total * part / parts;
        long end = total * (part + 1) / parts;
        long tapStep = (long)TShape.KW * TShape.InC * f;
        while (pixel < end)
        {
            long row = pixel / ow;
            int col = (int)(pixel - row * ow);
            int count = (int)Math.Min(ow - col, end - pixel);
            int n = (int)(row / oh);
            int r = (int)(row - (long)n * oh);
            long at = pixel * f;

            ConvRowKernel<TS, TV, ConvForwardGeometry<TShape>, TEpi>.Row(
                x + n * image, w, tapStep, r * TShape.StrideH - TShape.PadTop, TShape.KH,
                col * TShape.StrideW - TShape.PadLeft, TShape.KW, count, y + at, bias, aux + at);
            pixel += count;
        }
    }

    /// <summary>Input gradient over part <paramref name="part"/> of the pixels of dx.</summary>
    public static void InputGradient<TEpi>(float* dy, float* prepared, float* dx, int samples, int part, int parts, float* aux)
        where TEpi : IEpilogue
    {
        int h = TShape.InH, w = TShape.InW, c = TShape.InC;
        int sh = TShape.StrideH, sw = TShape.StrideW;
        long image = (long)TShape.OutH * TShape.OutW * TShape.Filters;
        long total = (long)samples * h * w;
        long pixel = total * part / parts;
        long end = total * (part + 1) / parts;
        while (pixel < end)
        {
            long row = pixel / w;
            int col = (int)(pixel - row * w);
            int colEnd = (int)Math.Min(w, col + (end - pixel));
            int n = (int)(row / h);
            int ih = (int)(row - (long)n * h);

            // Kernel rows with (ih + PT - kh) divisible by SH contribute, in descending kh = ascending dy row.
            int ch = (ih + TShape.PadTop) % sh;
            int tapsH = ConvPrepare<TShape>.Taps(TShape.KH, sh, ch);
            int q0 = tapsH == 0 ? 0 : (ih + TShape.PadTop - (ch + (sh * (tapsH - 1)))) / sh;
            for (int cw = 0; cw < sw; cw++)
            {
                // The first column of the segment in this horizontal phase; its columns are sw apart.
                int first = col + ((((cw - ((col + TShape.PadLeft) % sw)) % sw) + sw) % sw);
                if (first >= colEnd)
                {
                    continue;
                }

                int count = (colEnd - first + sw - 1) / sw;
                int tapsW = ConvPrepare<TShape>.Taps(TShape.KW, sw, cw);
                int p0 = tapsW == 0 ? 0 : (first + TShape.PadLeft - (cw + (sw * (tapsW - 1)))) / sw;
                long at = (row * w + first) * c;
                ConvRowKernel<TS, TV, ConvInputGradientGeometry<TShape>, TEpi>.Row(
                    dy + n * image, prepared + ConvPrepare<TShape>.PhaseOffset(ch, cw), (long)tapsW * TShape.Filters * c,
                    q0, tapsH, p0, tapsW, count, dx + at, null, aux + at);
            }

            pixel += colEnd - col;
        }
    }
}

/// <summary>
/// The register-blocked core shared by the forward pass and the input gradient: up to 8 output pixels (6 below
/// 512-bit vectors, which have only 16 registers on x64) x 2 vectors of output channels, 16 accumulators, per
/// reduction step 2 loads of B, one broadcast of A per pixel and 2 FMAs per pixel; every A address is a register
/// plus a constant displacement.
/// </summary>
internal static unsafe class ConvRowKernel<TS, TV, TG, TEpi>
    where TS : ISimd<TV>
    where TV : struct
    where TG : IConvGeometry
    where TEpi : IEpilogue
{
    /// <summary>
    /// Reduction steps from which a tile prefetches its output (and aux) lines when it starts: long tiles then find
    /// them in cache at their end (+6% on the reference conv2 at batch 128); short ones (a 3x3 kernel on one channel)
    /// would only pay for the extra instructions.
    /// </summary>
    private const int PrefetchSteps = 32;

    /// <summary>Output pixels per register tile.</summary>
    private static int MaxRows => TS.Count >= 16 ? 8 : 6;

    /// <summary>
    /// Computes <paramref name="count"/> output pixels of one row: pixel t reads, for vertical taps
    /// u in [0, <paramref name="tapsH"/>), A row <c>q0 + u</c> at pixels <c>p0 + t*PixStep + m</c>, m in
    /// [0, <paramref name="tapsW"/>), against B rows <c>u*bTapStep/NOut + m*TapLen + channel</c>; taps outside A
    /// read as zero (they are skipped).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row(float* aImage, float* b, long bTapStep, int q0, int tapsH, int p0, int tapsW, int count, float* y, float* bias, float* aux)
    {
        int tapLen = TG.TapLen, aWidth = TG.AWidth, pixStep = TG.PixStep, outPix = TG.OutPix;
        int uLo = Math.Max(0, -q0);
        int taps = Math.Max(0, Math.Min(tapsH, TG.AHeight - q0) - uLo);
        float* aRow = aImage + ((long)(q0 + uLo) * aWidth * tapLen);
        float* bRow = b + (uLo * bTapStep);

        // Interior pixels read all tapsW taps: p0 + t*pixStep >= 0 and p0 + t*pixStep + tapsW <= aWidth.
        int tLo = p0 >= 0 ? 0 : (-p0 + pixStep - 1) / pixStep;
        int room = aWidth - tapsW - p0;
        int tHi = room < 0 ? 0 : (room / pixStep) + 1;
        tLo = Math.Min(tLo, count);
        tHi = Math.Clamp(tHi, tLo, count);
        for (int t = 0; t < tLo; t++)
        {
            Edge(t, aRow, bRow, bTapStep, taps, p0, tapsW, y, bias, aux);
        }

        int run = tapsW * tapLen;
        for (int t = tLo; t < tHi;)
        {
            int rows = Math.Min(MaxRows, tHi - t);
            long o = (long)t * outPix;
            Tiles(rows, aRow + ((long)(p0 + (t * pixStep)) * tapLen), bRow, run, taps, bTapStep, y + o, bias, aux + o);
            t += rows;
        }

        for (int t = tHi; t < count; t++)
        {
            Edge(t, aRow, bRow, bTapStep, taps, p0, tapsW, y, bias, aux);
        }
    }

    /// <summary>One pixel whose taps are clipped at the left or right edge of A.</summary>
    private static void Edge(int t, float* aRow, float* bRow, long bTapStep, int taps, int p0, int tapsW, float* y, float* bias, float* aux)
    {
        int tapLen = TG.TapLen;
        int p = p0 + (t * TG.PixStep);
        int mLo = Math.Max(0, -p);
        int mHi = Math.Min(tapsW, TG.AWidth - p);
        int run = Math.Max(0, mHi - mLo) * tapLen;
        long o = (long)t * TG.OutPix;
        Tiles(1, aRow + ((long)(p + mLo) * tapLen), bRow + ((long)mLo * tapLen * TG.NOut), run, taps, bTapStep, y + o, bias, aux + o);
    }

    private static void Tiles(int rows, float* a, float* b, int run, int taps, long bTapStep, float* y, float* bias, float* aux)
    {
        switch (rows)
        {
            case 1:
                Single(a, b, run, taps, bTapStep, y, bias, aux);
                break;
            case 2:
                Block<ConvN2>(a, b, run, taps, bTapStep, y, bias, aux);
                break;
            case 3:
                Block<ConvN3>(a, b, run, taps, bTapStep, y, bias, aux);
                break;
            case 4:
                Block<ConvN4>(a, b, run, taps, bTapStep, y, bias, aux);
                break;
            case 5:
                Block<ConvN5>(a, b, run, taps, bTapStep, y, bias, aux);
                break;
            case 6:
                Block<ConvN6>(a, b, run, taps, bTapStep, y, bias, aux);
                break;
            case 7:
                Block<ConvN7>(a, b, run, taps, bTapStep, y, bias, aux);
                break;
            default:
                Block<ConvN8>(a, b, run, taps, bTapStep, y, bias, aux);
                break;
        }
    }

    /// <summary>
    /// All output channels of a single pixel (an edge pixel or a 1-pixel remainder), two vectors at a time, with two
    /// accumulators per vector (even and odd reduction steps) so that FMA latency does not bound it.
    /// </summary>
    private static void Single(float* a, float* b, int run, int taps, long bTapStep, float* y, float* bias, float* aux)
    {
        int nOut = TG.NOut, vl = TS.Count;
        int f = 0;
        for (; nOut - f > vl; f += 2 * vl)
        {
            Single2(a, b + f, run, taps, bTapStep, y + f, bias + f, aux + f, Math.Min(vl, nOut - f - vl));
        }

        if (f < nOut)
        {
            Single1(a, b + f, run, taps, bTapStep, y + f, bias + f, aux + f, nOut - f);
        }
    }

    /// <summary>One pixel x 2 vectors (the second with <paramref name="valid1"/> valid lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Single2(float* a, float* b, int run, int taps, long bTapStep, float* y, float* bias, float* aux, int valid1)
    {
        int vl = TS.Count, nOut = TG.NOut;
        long aTap = (long)TG.AWidth * TG.TapLen;
        TV c0 = TS.Zero, c1 = TS.Zero, d0 = TS.Zero, d1 = TS.Zero;
        for (int u = 0; u < taps; u++)
        {
            float* pa = a;
            float* pb = b;
            int j = 0;
            for (; j + 1 < run; j += 2)
            {
                TV x0 = TS.Broadcast(pa[0]);
                TV x1 = TS.Broadcast(pa[1]);
                c0 = TS.Fma(x0, TS.Load(pb), c0);
                c1 = TS.Fma(x0, TS.Load(pb + vl), c1);
                d0 = TS.Fma(x1, TS.Load(pb + nOut), d0);
                d1 = TS.Fma(x1, TS.Load(pb + nOut + vl), d1);
                pa += 2;
                pb += 2 * nOut;
            }

            if (j < run)
            {
                TV x0 = TS.Broadcast(pa[0]);
                c0 = TS.Fma(x0, TS.Load(pb), c0);
                c1 = TS.Fma(x0, TS.Load(pb + vl), c1);
            }

            a += aTap;
            b += bTapStep;
        }

        Finish2(y, bias, aux, TS.Add(c0, d0), TS.Add(c1, d1), valid1);
    }

    /// <summary>One pixel x 1 vector with <paramref name="valid0"/> valid lanes (four accumulators over the run).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Single1(float* a, float* b, int run, int taps, long bTapStep, float* y, float* bias, float* aux, int valid0)
    {
        int nOut = TG.NOut;
        long aTap = (long)TG.AWidth * TG.TapLen;
        TV c0 = TS.Zero, c1 = TS.Zero, d0 = TS.Zero, d1 = TS.Zero;
        for (int u = 0; u < taps; u++)
        {
            float* pa = a;
            float* pb = b;
            int j = 0;
            for (; j + 3 < run; j += 4)
            {
                c0 = TS.Fma(TS.Broadcast(pa[0]), TS.Load(pb), c0);
                c1 = TS.Fma(TS.Broadcast(pa[1]), TS.Load(pb + nOut), c1);
                d0 = TS.Fma(TS.Broadcast(pa[2]), TS.Load(pb + (2 * nOut)), d0);
                d1 = TS.Fma(TS.Broadcast(pa[3]), TS.Load(pb + (3 * nOut)), d1);
                pa += 4;
                pb += 4 * nOut;
            }

            for (; j < run; j++)
            {
                c0 = TS.Fma(TS.Broadcast(pa[0]), TS.Load(pb), c0);
                pa++;
                pb += nOut;
            }

            a += aTap;
            b += bTapStep;
        }

        Finish1(y, bias, aux, TS.Add(TS.Add(c0, c1), TS.Add(d0, d1)), valid0);
    }

    /// <summary>All output channels of <typeparamref name="TR"/> pixels, two vectors at a time.</summary>
    private static void Block<TR>(float* a, float* b, int run, int taps, long bTapStep, float* y, float* bias, float* aux)
        where TR : IConvCount
    {
        int nOut = TG.NOut, vl = TS.Count;
        int f = 0;
        for (; nOut - f > vl; f += 2 * vl)
        {
            Tile2<TR>(a, b + f, run, taps, bTapStep, y + f, bias + f, aux + f, Math.Min(vl, nOut - f - vl));
        }

        if (f < nOut)
        {
            Tile1<TR>(a, b + f, run, taps, bTapStep, y + f, bias + f, aux + f, nOut - f);
        }
    }

    /// <summary>
    /// <typeparamref name="TR"/> pixels x 2 vectors (the second with <paramref name="valid1"/> valid lanes):
    /// <paramref name="taps"/> vertical taps of <paramref name="run"/> reduction steps each.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile2<TR>(float* a, float* b, int run, int taps, long bTapStep, float* y, float* bias, float* aux, int valid1)
        where TR : IConvCount
    {
        int rows = TR.Value, vl = TS.Count, nOut = TG.NOut, op = TG.OutPix;
        int ap = TG.PixStep * TG.TapLen;
        long aTap = (long)TG.AWidth * TG.TapLen;
        for (int r = 0; r < rows && run * taps >= PrefetchSteps; r++)
        {
            ConvSimd.Prefetch(y + (r * op));
            ConvSimd.Prefetch(y + (r * op) + vl);
            if (TEpi.UsesAux)
            {
                ConvSimd.Prefetch(aux + (r * op));
                ConvSimd.Prefetch(aux + (r * op) + vl);
            }
        }

        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero, c30 = TS.Zero, c31 = TS.Zero, c40 = TS.Zero, c41 = TS.Zero, c50 = TS.Zero, c51 = TS.Zero, c60 = TS.Zero, c61 = TS.Zero, c70 = TS.Zero, c71 = TS.Zero;
        for (int u = 0; u < taps; u++)
        {
            float* pa = a;
            float* pb = b;
            float* pbEnd = b + ((long)run * nOut);
            while (pb < pbEnd)
            {
                TV b0 = TS.Load(pb);
                TV b1 = TS.Load(pb + vl);
                TV x = TS.Broadcast(pa[0]);
                c00 = TS.Fma(x, b0, c00);
                c01 = TS.Fma(x, b1, c01);

                if (rows > 1)
                {
                    x = TS.Broadcast(pa[ap]);
                    c10 = TS.Fma(x, b0, c10);
                    c11 = TS.Fma(x, b1, c11);
                }

                if (rows > 2)
                {
                    x = TS.Broadcast(pa[2 * ap]);
                    c20 = TS.Fma(x, b0, c20);
                    c21 = TS.Fma(x, b1, c21);
                }

                if (rows > 3)
                {
                    x = TS.Broadcast(pa[3 * ap]);
                    c30 = TS.Fma(x, b0, c30);
                    c31 = TS.Fma(x, b1, c31);
                }

                if (rows > 4)
                {
                    x = TS.Broadcast(pa[4 * ap]);
                    c40 = TS.Fma(x, b0, c40);
                    c41 = TS.Fma(x, b1, c41);
                }

                if (rows > 5)
                {
                    x = TS.Broadcast(pa[5 * ap]);
                    c50 = TS.Fma(x, b0, c50);
                    c51 = TS.Fma(x, b1, c51);
                }

                if (rows > 6)
                {
                    x = TS.Broadcast(pa[6 * ap]);
                    c60 = TS.Fma(x, b0, c60);
                    c61 = TS.Fma(x, b1, c61);
                }

                if (rows > 7)
                {
                    x = TS.Broadcast(pa[7 * ap]);
                    c70 = TS.Fma(x, b0, c70);
                    c71 = TS.Fma(x, b1, c71);
                }

                pa++;
                pb += nOut;
            }

            a += aTap;
            b += bTapStep;
        }

        Finish2(y + 0, bias, aux + 0, c00, c01, valid1);

        if (rows > 1)
        {
            Finish2(y + op, bias, aux + op, c10, c11, valid1);
        }

        if (rows > 2)
        {
            Finish2(y + (2 * op), bias, aux + (2 * op), c20, c21, valid1);
        }

        if (rows > 3)
        {
            Finish2(y + (3 * op), bias, aux + (3 * op), c30, c31, valid1);
        }

        if (rows > 4)
        {
            Finish2(y + (4 * op), bias, aux + (4 * op), c40, c41, valid1);
        }

        if (rows > 5)
        {
            Finish2(y + (5 * op), bias, aux + (5 * op), c50, c51, valid1);
        }

        if (rows > 6)
        {
            Finish2(y + (6 * op), bias, aux + (6 * op), c60, c61, valid1);
        }

        if (rows > 7)
        {
            Finish2(y + (7 * op), bias, aux + (7 * op), c70, c71, valid1);
        }
    }

    /// <summary><typeparamref name="TR"/> pixels x 1 vector with <paramref name="valid0"/> valid lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1<TR>(float* a, float* b, int run, int taps, long bTapStep, float* y, float* bias, float* aux, int valid0)
        where TR : IConvCount
    {
        int rows = TR.Value, nOut = TG.NOut, op = TG.OutPix;
        int ap = TG.PixStep * TG.TapLen;
        long aTap = (long)TG.AWidth * TG.TapLen;
        for (int r = 0; r < rows && run * taps >= PrefetchSteps; r++)
        {
            ConvSimd.Prefetch(y + (r * op));
            if (TEpi.UsesAux)
            {
                ConvSimd.Prefetch(aux + (r * op));
            }
        }

        TV c0 = TS.Zero, c1 = TS.Zero, c2 = TS.Zero, c3 = TS.Zero, c4 = TS.Zero, c5 = TS.Zero, c6 = TS.Zero, c7 = TS.Zero;
        for (int u = 0; u < taps; u++)
        {
            float* pa = a;
            float* pb = b;
            float* pbEnd = b + ((long)run * nOut);
            while (pb < pbEnd)
            {
                TV b0 = TS.Load(pb);
                c0 = TS.Fma(TS.Broadcast(pa[0]), b0, c0);

                if (rows > 1)
                {
                    c1 = TS.Fma(TS.Broadcast(pa[ap]), b0, c1);
                }

                if (rows > 2)
                {
                    c2 = TS.Fma(TS.Broadcast(pa[2 * ap]), b0, c2);
                }

                if (rows > 3)
                {
                    c3 = TS.Fma(TS.Broadcast(pa[3 * ap]), b0, c3);
                }

                if (rows > 4)
                {
                    c4 = TS.Fma(TS.Broadcast(pa[4 * ap]), b0, c4);
                }

                if (rows > 5)
                {
                    c5 = TS.Fma(TS.Broadcast(pa[5 * ap]), b0, c5);
                }

                if (rows > 6)
                {
                    c6 = TS.Fma(TS.Broadcast(pa[6 * ap]), b0, c6);
                }

                if (rows > 7)
                {
                    c7 = TS.Fma(TS.Broadcast(pa[7 * ap]), b0, c7);
                }

                pa++;
                pb += nOut;
            }

            a += aTap;
            b += bTapStep;
        }

        Finish1(y + 0, bias, aux + 0, c0, valid0);

        if (rows > 1)
        {
            Finish1(y + op, bias, aux + op, c1, valid0);
        }

        if (rows > 2)
        {
            Finish1(y + (2 * op), bias, aux + (2 * op), c2, valid0);
        }

        if (rows > 3)
        {
            Finish1(y + (3 * op), bias, aux + (3 * op), c3, valid0);
        }

        if (rows > 4)
        {
            Finish1(y + (4 * op), bias, aux + (4 * op), c4, valid0);
        }

        if (rows > 5)
        {
            Finish1(y + (5 * op), bias, aux + (5 * op), c5, valid0);
        }

        if (rows > 6)
        {
            Finish1(y + (6 * op), bias, aux + (6 * op), c6, valid0);
        }

        if (rows > 7)
        {
            Finish1(y + (7 * op), bias, aux + (7 * op), c7, valid0);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish2(float* y, float* bias, float* aux, TV v0, TV v1, int valid1)
    {
        int vl = TS.Count;
        TS.Store(y, TEpi.Apply<TS, TV>(v0, bias, aux));
        ConvSimd.Store<TS, TV>(y + vl, TEpi.Apply<TS, TV>(v1, bias + vl, aux + vl), valid1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish1(float* y, float* bias, float* aux, TV v0, int valid0)
        => ConvSimd.Store<TS, TV>(y, TEpi.Apply<TS, TV>(v0, bias, aux), valid0);
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NetDsl.Threading;

namespace NetDsl.Kernels;

/// <summary>
/// The compile-time constants of one 2-D pooling layer over channels-last (NHWC) samples: the generator emits one
/// struct per layer so every loop bound and stride is a constant for the JIT. Window <c>(oh, ow)</c> covers input rows
/// <c>oh * StrideH - PadTop</c> .. <c>+ PoolH - 1</c> and columns <c>ow * StrideW - PadLeft</c> .. <c>+ PoolW - 1</c>;
/// cells outside the input are padding and are ignored (they never win a max and are not counted in an average).
/// Keras 'valid' is <c>PadTop = PadLeft = 0</c>, <c>OutH = (InH - PoolH) / StrideH + 1</c>; Keras/TF 'same' is
/// <c>OutH = ceil(InH / StrideH)</c>, <c>PadTop = max((OutH - 1) * StrideH + PoolH - InH, 0) / 2</c> (the extra row,
/// if any, at the bottom), and likewise for the width.
/// </summary>
public interface IPoolShape
{
    /// <summary>Input rows.</summary>
    static abstract int InH { get; }
    /// <summary>Input columns.</summary>
    static abstract int InW { get; }
    /// <summary>Channels (the same for input and output).</summary>
    static abstract int C { get; }
    /// <summary>Window rows.</summary>
    static abstract int PoolH { get; }
    /// <summary>Window columns.</summary>
    static abstract int PoolW { get; }
    /// <summary>Rows between the tops of vertically adjacent windows.</summary>
    static abstract int StrideH { get; }
    /// <summary>Columns between the left edges of horizontally adjacent windows.</summary>
    static abstract int StrideW { get; }
    /// <summary>Padding rows above the input (window row 0 starts at input row <c>-PadTop</c>).</summary>
    static abstract int PadTop { get; }
    /// <summary>Padding columns left of the input.</summary>
    static abstract int PadLeft { get; }
    /// <summary>Output rows.</summary>
    static abstract int OutH { get; }
    /// <summary>Output columns.</summary>
    static abstract int OutW { get; }
}

/// <summary>
/// Max and average pooling over channels-last samples (sample n at <c>[n * H * W * C, (n + 1) * H * W * C)</c>,
/// element (h, w, c) at <c>(h * W + w) * C + c</c>), vectorised over channels: whole vectors of channels use SIMD,
/// the remaining <c>C mod width</c> channels (all of them when C is below the vector width) a scalar loop.
/// Forward passes split the <c>samples * OutH</c> output rows between the parts; backward passes split the
/// <c>samples * InH</c> input rows, so that overlapping windows (stride below pool size) never make two parts write
/// the same element of dx. A part recomputes every window that touches one of its rows, in the same order as any
/// other split, so the results are bitwise identical for any number of parts. A window lying entirely in padding
/// (impossible for Keras 'valid' and 'same' shapes) outputs 0 and passes no gradient.
/// </summary>
public static unsafe class Pooling
{
    /// <summary><c>y[n, oh, ow, c]</c> = the maximum of the window's cells inside the input.</summary>
    /// <typeparam name="TShape">The layer's shape.</typeparam>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="x">Offset of the input, <c>samples * InH * InW * C</c> floats.</param>
    /// <param name="y">Offset of the output, <c>samples * OutH * OutW * C</c> floats.</param>
    /// <param name="samples">Samples in the batch.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    /// <param name="dropout">A dropout mask fused into the pass (a Dropout layer right after this one), or <see cref="DropoutMask.None"/>.</param>
    /// <param name="dropoutCopy">With an active <paramref name="dropout"/>: the offset of the dropout's output, laid out like <paramref name="y"/>; <paramref name="y"/> keeps the unmasked values.</param>
    public static void MaxForward<TShape>(Arena arena, long x, long y, int samples, int part, int parts, DropoutMask dropout = default, long dropoutCopy = -1) where TShape : IPoolShape
        => Forward<TShape>(arena, x, y, samples, part, parts, max: true, dropout, dropoutCopy);

    /// <summary>
    /// Gradient of <see cref="MaxForward{TShape}"/>. <paramref name="dx"/> is fully overwritten: each window's
    /// gradient <c>dy[n, oh, ow, c]</c> goes to the first cell, in a row-major scan of the window's cells inside the
    /// input, whose value equals the window's max <c>y[n, oh, ow, c]</c> (so ties go to the top-most, then left-most
    /// cell); cells that win several overlapping windows receive the sum; all other cells get 0. Padding cells never
    /// win. <paramref name="y"/> must be the output of <see cref="MaxForward{TShape}"/> for this <paramref name="x"/>.
    /// </summary>
    /// <typeparam name="TShape">The layer's shape.</typeparam>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="x">Offset of the forward input.</param>
    /// <param name="y">Offset of the forward output.</param>
    /// <param name="dy">Offset of the gradient with respect to the output.</param>
    /// <param name="dx">Offset of the gradient with respect to the input (written; must not overlap the others).</param>
    /// <param name="samples">Samples in the batch.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void MaxBackward<TShape>(Arena arena, long x, long y, long dy, long dx, int samples, int part, int parts) where TShape : IPoolShape
        => MaxBackward<TShape, Act.Linear>(arena, x, y, dy, dx, samples, part, parts);

    /// <summary>
    /// <see cref="MaxBackward{TShape}"/> fused with the derivative of the activation that produced <paramref name="x"/>:
    /// the gradient routed to a window's maximum is <c>TAct.Backward(dy, y)</c>, which is exact because the maximum
    /// cell's value equals <c>y</c> (and every other cell receives zero). Saves the producer a separate pass over its
    /// whole output.
    /// </summary>
    /// <typeparam name="TShape">The layer's shape.</typeparam>
    /// <typeparam name="TAct">The activation applied by the layer that produced <paramref name="x"/>.</typeparam>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="x">Offset of the forward input (the producer's activation output).</param>
    /// <param name="y">Offset of the forward output.</param>
    /// <param name="dy">Offset of the gradient with respect to the output.</param>
    /// <param name="dx">Offset of the gradient with respect to the producer's pre-activation (written).</param>
    /// <param name="samples">Samples in the batch.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void MaxBackward<TShape, TAct>(Arena arena, long x, long y, long dy, long dx, int samples, int part, int parts)
        where TShape : IPoolShape
        where TAct : IActivation
    {
        KernelRange.CheckPart(part, parts);
        var (start, end) = Partition.Range(samples * TShape.InH, part, parts);
        if (start >= end)
        {
            return;
        }

        float* b = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            PoolKernel<Simd512, Vector512<float>, TShape>.Backward<TAct>(b + x, b + y, b + dy, b + dx, start, end, max: true);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            PoolKernel<Simd256, Vector256<float>, TShape>.Backward<TAct>(b + x, b + y, b + dy, b + dx, start, end, max: true);
        }
        else
        {
            PoolKernel<Simd128, Vector128<float>, TShape>.Backward<TAct>(b + x, b + y, b + dy, b + dx, start, end, max: true);
        }
    }

    /// <summary>
    /// <c>y[n, oh, ow, c]</c> = the mean of the window's cells that lie inside the input: padding is excluded from
    /// the count, as in Keras/TF 'same' average pooling.
    /// </summary>
    /// <typeparam name="TShape">The layer's shape.</typeparam>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="x">Offset of the input.</param>
    /// <param name="y">Offset of the output.</param>
    /// <param name="samples">Samples in the batch.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    /// <param name="dropout">A dropout mask fused into the pass (a Dropout layer right after this one), or <see cref="DropoutMask.None"/>.</param>
    /// <param name="dropoutCopy">With an active <paramref name="dropout"/>: the offset of the dropout's output, laid out like <paramref name="y"/>; <paramref name="y"/> keeps the unmasked values.</param>
    public static void AvgForward<TShape>(Arena arena, long x, long y, int samples, int part, int parts, DropoutMask dropout = default, long dropoutCopy = -1) where TShape : IPoolShape
        => Forward<TShape>(arena, x, y, samples, part, parts, max: false, dropout, dropoutCopy);

    /// <summary>
    /// Gradient of <see cref="AvgForward{TShape}"/>: <paramref name="dx"/> is fully overwritten with, for each cell,
    /// the sum over the windows containing it of <c>dy[window] / (cells of that window inside the input)</c>.
    /// </summary>
    /// <typeparam name="TShape">The layer's shape.</typeparam>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="dy">Offset of the gradient with respect to the output.</param>
    /// <param name="dx">Offset of the gradient with respect to the input (written; must not overlap dy).</param>
    /// <param name="samples">Samples in the batch.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void AvgBackward<TShape>(Arena arena, long dy, long dx, int samples, int part, int parts) where TShape : IPoolShape
    {
        KernelRange.CheckPart(part, parts);
        var (start, end) = Partition.Range(samples * TShape.InH, part, parts);
        if (start >= end)
        {
            return;
        }

        float* b = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            PoolKernel<Simd512, Vector512<float>, TShape>.Backward<Act.Linear>(null, null, b + dy, b + dx, start, end, max: false);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            PoolKernel<Simd256, Vector256<float>, TShape>.Backward<Act.Linear>(null, null, b + dy, b + dx, start, end, max: false);
        }
        else
        {
            PoolKernel<Simd128, Vector128<float>, TShape>.Backward<Act.Linear>(null, null, b + dy, b + dx, start, end, max: false);
        }
    }

    /// <summary>The forward pass of either pooling: the part's output rows at the machine's widest vectors.</summary>
    private static void Forward<TShape>(Arena arena, long x, long y, int samples, int part, int parts, bool max, DropoutMask dropout, long dropoutCopy)
        where TShape : IPoolShape
    {
        KernelRange.CheckPart(part, parts);
        var (start, end) = Partition.Range(samples * TShape.OutH, part, parts);
        if (start >= end)
        {
            return;
        }

        float* b = arena.Pointer;
        DropoutMask* mask = dropout.IsActive ? &dropout : null;
        float* masked = dropout.IsActive ? b + dropoutCopy : null;
        if (Vector512.IsHardwareAccelerated)
        {
            PoolKernel<Simd512, Vector512<float>, TShape>.Forward(b + x, b + y, start, end, max, mask, masked);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            PoolKernel<Simd256, Vector256<float>, TShape>.Forward(b + x, b + y, start, end, max, mask, masked);
        }
        else
        {
            PoolKernel<Simd128, Vector128<float>, TShape>.Forward(b + x, b + y, start, end, max, mask, masked);
        }
    }
}

/// <summary>The pooling loops for one SIMD width and shape. See <see cref="Pooling"/>.</summary>
internal static unsafe class PoolKernel<TS, TV, TShape>
    where TS : ISimd<TV>
    where TV : struct
    where TShape : IPoolShape
{
    /// <summary>Forward over global output rows [rowStart, rowEnd) (row = n * OutH + oh).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* x, float* y, int rowStart, int rowEnd, bool max, DropoutMask* mask = null, float* masked = null)
    {
        int ch = TShape.C, inW = TShape.InW, inH = TShape.InH, outW = TShape.OutW, outH = TShape.OutH;
        int vl = TS.Count;
        long pixelStride = ch;
        long rowStride = (long)inW * ch;
        for (int row = rowStart; row < rowEnd; row++)
        {
            int n = row / outH;
            int oh = row - n * outH;
            float* xs = x + (long)n * inH * rowStride;
            float* yr = y + (long)row * outW * ch;
            int h0 = oh * TShape.StrideH - TShape.PadTop;
            int h1 = Math.Min(h0 + TShape.PoolH, inH);
            h0 = Math.Max(h0, 0);
            for (int ow = 0; ow < outW; ow++)
            {
                int w0 = ow * TShape.StrideW - TShape.PadLeft;
                int w1 = Math.Min(w0 + TShape.PoolW, inW);
                w0 = Math.Max(w0, 0);
                float* yp = yr + (long)ow * ch;
                if (h0 >= h1 || w0 >= w1)
                {
                    KernelRange.Zero(yp, ch);
                    continue;
                }

                float* corner = xs + h0 * rowStride + w0 * pixelStride;
                int rows = h1 - h0, cols = w1 - w0;
                int c = 0;
                if (max)
                {
                    for (; c + vl <= ch; c += vl)
                    {
                        TV m = TS.Load(corner + c);
                        for (int kh = 0; kh < rows; kh++)
                        {
                            float* p = corner + kh * rowStride + c;
                            for (int kw = 0; kw < cols; kw++)
                            {
                                m = TS.MaxPropagateNaN(m, TS.Load(p + kw * pixelStride)); // NaN sticks, as PyTorch's max_pool2d
                            }
                        }

                        TS.Store(yp + c, m);
                    }

                    for (; c < ch; c++)
                    {
                        float m = corner[c];
                        for (int kh = 0; kh < rows; kh++)
                        {
                            float* p = corner + kh * rowStride + c;
                            for (int kw = 0; kw < cols; kw++)
                            {
                                m = MathF.Max(m, p[kw * pixelStride]); // IEEE 754:2019 maximum: NaN sticks
                            }
                        }

                        yp[c] = m;
                    }
                }
                else
                {
                    float inv = rows * cols == 0 ? 0f : 1f / (rows * cols); // a window wholly in the padding (ZeroPadding2D's border) is 0
                    TV vinv = TS.Broadcast(inv);
                    for (; c + vl <= ch; c += vl)
                    {
                        TV s = TS.Zero;
                        for (int kh = 0; kh < rows; kh++)
                        {
                            float* p = corner + kh * rowStride + c;
                            for (int kw = 0; kw < cols; kw++)
                            {
                                s = TS.Add(s, TS.Load(p + kw * pixelStride));
                            }
                        }

                        TS.Store(yp + c, TS.Multiply(s, vinv));
                    }

                    for (; c < ch; c++)
                    {
                        float s = 0f;
                        for (int kh = 0; kh < rows; kh++)
                        {
                            float* p = corner + kh * rowStride + c;
                            for (int kw = 0; kw < cols; kw++)
                            {
                                s += p[kw * pixelStride];
                            }
                        }

                        yp[c] = s * inv;
                    }
                }
            }

            if (mask != null)
            {
                // The fused dropout: mask the row just written (still in L1) into the dropout's output.
                long rowAt = (long)row * outW * ch;
                Dropout.Apply(*mask, y, masked, rowAt, rowAt + (long)outW * ch);
            }
        }
    }

    /// <summary>
    /// Backward over global input rows [rowStart, rowEnd) (row = n * InH + ih): zeroes those rows of dx (unless the
    /// windows tile the input exactly, so that every cell is written anyway), then adds (or, for non-overlapping
    /// windows, stores) the gradient of every window touching them, restricted to them. Max routing: a running "not yet
    /// routed" vector <c>r</c> starts as dy; at each cell, <c>take = r</c> where <c>x == y</c> (tested as
    /// <c>!(y - x &gt; 0)</c>, valid because <c>y &gt;= x</c> for every cell of the window) and 0 elsewhere (computed as
    /// <c>r - WherePositive(y - x, r)</c>, so an infinite dy would turn the window's other cells into NaN: non-finite
    /// gradients are not preserved); <c>r -= take</c>. So only the first equal cell of the row-major scan receives dy,
    /// without per-lane branches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<TAct>(float* x, float* y, float* dy, float* dx, int rowStart, int rowEnd, bool max) where TAct : IActivation
    {
        int ch = TShape.C, inW = TShape.InW, inH = TShape.InH, outW = TShape.OutW, outH = TShape.OutH;
        int vl = TS.Count;
        long pixelStride = ch;
        long rowStride = (long)inW * ch;
        long plane = inH * rowStride;

        // Windows that do not overlap give every cell at most one contribution, stored instead of added; windows that
        // also tile the input exactly (the common 2 x 2, stride 2 case on an even input) write every cell, so dx
        // needs no zeroing first. All of this is constant for the JIT.
        bool overlap = TShape.StrideH < TShape.PoolH || TShape.StrideW < TShape.PoolW;
        bool tiles = TShape.StrideH == TShape.PoolH && TShape.StrideW == TShape.PoolW && TShape.PadTop == 0 && TShape.PadLeft == 0
            && TShape.OutH * TShape.StrideH == inH && TShape.OutW * TShape.StrideW == inW;
        if (!tiles)
        {
            KernelRange.Zero(dx + rowStart * rowStride, (rowEnd - rowStart) * rowStride);
        }

        int nFirst = rowStart / inH, nLast = (rowEnd - 1) / inH;
        for (int n = nFirst; n <= nLast; n++)
        {
            int lo = Math.Max(rowStart - n * inH, 0);
            int hi = Math.Min(rowEnd - n * inH, inH);
            float* xs = x + n * plane;
            float* dxs = dx + n * plane;
            for (int oh = 0; oh < outH; oh++)
            {
                int top = oh * TShape.StrideH - TShape.PadTop;
                if (top + TShape.PoolH <= lo)
                {
                    continue;
                }

                if (top >= hi)
                {
                    break;
                }

                int h0 = Math.Max(top, 0), h1 = Math.Min(top + TShape.PoolH, inH);
                long outRow = ((long)n * outH + oh) * outW * ch;
                for (int ow = 0; ow < outW; ow++)
                {
                    int w0 = ow * TShape.StrideW - TShape.PadLeft;
                    int w1 = Math.Min(w0 + TShape.PoolW, inW);
                    w0 = Math.Max(w0, 0);
                    if (h0 >= h1 || w0 >= w1)
                    {
                        continue;
                    }

                    long o = outRow + (long)ow * ch;
                    long corner = h0 * rowStride + w0 * pixelStride;
                    int rows = h1 - h0, cols = w1 - w0;
                    if (max)
                    {
                        MaxWindow<TAct>(xs + corner, dxs + corner, y + o, dy + o, rows, cols, h0, lo, hi, overlap);
                    }
                    else
                    {
                        AvgWindow(dxs + corner, dy + o, rows, cols, h0, lo, hi, 1f / (rows * cols), overlap);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaxWindow<TAct>(float* xc, float* dxc, float* yo, float* dyo, int rows, int cols, int h0, int lo, int hi, bool overlap)
        where TAct : IActivation
    {
        int ch = TShape.C, vl = TS.Count;
        long pixelStride = ch;
        long rowStride = (long)TShape.InW * ch;
        int c = 0;
        for (; c + vl <= ch; c += vl)
        {
            TV yv = TS.Load(yo + c);
            TV r = TAct.Backward<TS, TV>(TS.Load(dyo + c), yv); // the maximum cell's value is y
            for (int kh = 0; kh < rows; kh++)
            {
                bool own = h0 + kh >= lo && h0 + kh < hi;
                float* xp = xc + kh * rowStride + c;
                float* dp = dxc + kh * rowStride + c;
                for (int kw = 0; kw < cols; kw++)
                {
                    TV take = TS.Subtract(r, TS.WherePositive(TS.Subtract(yv, TS.Load(xp + kw * pixelStride)), r));
                    if (own)
                    {
                        float* d = dp + kw * pixelStride;
                        TS.Store(d, overlap ? TS.Add(TS.Load(d), take) : take);
                    }

                    r = TS.Subtract(r, take);
                }
            }
        }

        for (; c < ch; c++)
        {
            float yv = yo[c];
            float r = TAct.Backward(dyo[c], yv);
            for (int kh = 0; kh < rows; kh++)
            {
                bool own = h0 + kh >= lo && h0 + kh < hi;
                float* xp = xc + kh * rowStride + c;
                float* dp = dxc + kh * rowStride + c;
                for (int kw = 0; kw < cols; kw++)
                {
                    float take = yv - xp[kw * pixelStride] > 0f ? 0f : r;
                    if (own)
                    {
                        float* d = dp + kw * pixelStride;
                        *d = overlap ? *d + take : take;
                    }

                    r -= take;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AvgWindow(float* dxc, float* dyo, int rows, int cols, int h0, int lo, int hi, float inv, bool overlap)
    {
        int ch = TShape.C, vl = TS.Count;
        long pixelStride = ch;
        long rowStride = (long)TShape.InW * ch;
        int khStart = Math.Max(lo - h0, 0), khEnd = Math.Min(hi - h0, rows);
        TV vinv = TS.Broadcast(inv);
        int c = 0;
        for (; c + vl <= ch; c += vl)
        {
            TV g = TS.Multiply(TS.Load(dyo + c), vinv);
            for (int kh = khStart; kh < khEnd; kh++)
            {
                float* dp = dxc + kh * rowStride + c;
                for (int kw = 0; kw < cols; kw++)
                {
                    float* d = dp + kw * pixelStride;
                    TS.Store(d, overlap ? TS.Add(TS.Load(d), g) : g);
                }
            }
        }

        for (; c < ch; c++)
        {
            float g = dyo[c] * inv;
            for (int kh = khStart; kh < khEnd; kh++)
            {
                float* dp = dxc + kh * rowStride + c;
                for (int kw = 0; kw < cols; kw++)
                {
                    float* d = dp + kw * pixelStride;
                    *d = overlap ? *d + g : g;
                }
            }
        }
    }
}

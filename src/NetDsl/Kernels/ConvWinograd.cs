using System.Runtime.CompilerServices;

namespace NetDsl.Kernels;

/// <summary>Which algorithm a convolution pass uses (see <see cref="Conv2D"/>).</summary>
public enum ConvAlgorithm
{
    /// <summary>
    /// Winograd F(2x2, 3x3) for the forward pass and the input gradient where it applies
    /// (<see cref="Conv2D.UsesWinograd{TShape}"/>), the direct implicit GEMM everywhere else.
    /// </summary>
    Auto = 0,

    /// <summary>Always the direct implicit GEMM (the reference the Winograd path is measured against).</summary>
    Direct = 1,
}

/// <summary>
/// One Winograd pass as a stride-1 3x3 correlation: input A (NHWC, <c>AH x AW x AC</c> per sample) against
/// transformed filters into an output (<c>OH x OW x NOut</c>); output pixel (oh, ow) meets A pixel
/// <c>(oh - PadTop + i, ow - PadLeft + j)</c> at tap (i, j), A reading as zero outside the image.
/// </summary>
internal interface IWinogradGeometry
{
    static abstract int AH { get; }

    static abstract int AW { get; }

    static abstract int AC { get; }

    static abstract int OH { get; }

    static abstract int OW { get; }

    static abstract int NOut { get; }

    static abstract int PadTop { get; }

    static abstract int PadLeft { get; }
}

/// <summary>The forward pass: A = x, taps w[i, j, c, f], output y.</summary>
internal readonly struct WinogradForward<TShape> : IWinogradGeometry
    where TShape : IConvShape
{
    public static int AH => TShape.InH;

    public static int AW => TShape.InW;

    public static int AC => TShape.InC;

    public static int OH => TShape.OutH;

    public static int OW => TShape.OutW;

    public static int NOut => TShape.Filters;

    public static int PadTop => TShape.PadTop;

    public static int PadLeft => TShape.PadLeft;
}

/// <summary>
/// The input gradient (stride 1): A = dy, taps w[2 - i, 2 - j, c, f] transposed to [f, c], output dx; dy row
/// <c>ih + PadTop - kh</c> meets dx row ih, so the correlation's padding is <c>KH - 1 - PadTop</c>.
/// </summary>
internal readonly struct WinogradInputGradient<TShape> : IWinogradGeometry
    where TShape : IConvShape
{
    public static int AH => TShape.OutH;

    public static int AW => TShape.OutW;

    public static int AC => TShape.Filters;

    public static int OH => TShape.InH;

    public static int OW => TShape.InW;

    public static int NOut => TShape.InC;

    public static int PadTop => TShape.KH - 1 - TShape.PadTop;

    public static int PadLeft => TShape.KW - 1 - TShape.PadLeft;
}

/// <summary>The 16 element-wise products of a chunk as one GEMM each: <c>M[t, n] = V[t, c] · U[c, n]</c>.</summary>
internal readonly struct WinogradGemm<TG> : IGemmShape
    where TG : IWinogradGeometry
{
    public static int N => TG.NOut;

    public static int AStrideM => 16 * TG.AC;

    public static int AStrideP => 1;
}

/// <summary>
/// The weight gradient's 16 products: <c>S[c, f] += Vᵀ[c, t] · Z[t, f]</c> over a chunk's tiles t, with V laid out
/// <c>[t][16][AC]</c> (the forward pass's transformed inputs) and Z <c>[16][t][NOut]</c>.
/// </summary>
internal readonly struct WinogradWeightGemm<TG> : IGemmShape
    where TG : IWinogradGeometry
{
    public static int N => TG.NOut;

    public static int AStrideM => 1;

    public static int AStrideP => 16 * TG.AC;
}

/// <summary>
/// Winograd F(2x2, 3x3) (Lavin and Gray, 2016): each 2x2 block of outputs ("tile") is computed from the 4x4 input
/// patch under it as <c>Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)] A</c>: 16 products per tile and channel pair instead of 36,
/// so the multiply work of a 3x3 convolution drops 2.25x; the transforms are additions (and halvings, exact in
/// float), done once per tile and channel. Applies to stride-1 3x3 convolutions whose channel counts are multiples of
/// 16 (every SIMD width divides them, so no partial vectors); the transformed weights and the per-chunk scratch live
/// on the stack, so the channel product is capped (<see cref="MaxChannelProduct"/>).
/// The weight gradient is the same bilinear form read the other way (its adjoint):
/// <c>dg = Gᵀ [Σ_tiles (A dy Aᵀ) ⊙ (Bᵀ d B)] G</c> per input channel and filter, i.e. 16 GEMMs that reduce over the
/// tiles of the batch, then one 4x4 -> 3x3 transform per weight.
/// </summary>
internal static unsafe class ConvWinograd
{
    /// <summary>
    /// InC x Filters at most: the 16 x InC x Filters transformed weights (forward) or sums (weight gradient), at most
    /// 64 KB, sit on the stack of each part with the chunk scratch (at most ~150 KB in all, for 64 x 16 channels).
    /// </summary>
    public const int MaxChannelProduct = 1024;

    /// <summary>Whether the shape qualifies (see the class remarks).</summary>
    public static bool Applies<TShape>()
        where TShape : IConvShape
        => Applies(TShape.KH, TShape.KW, TShape.StrideH, TShape.StrideW, TShape.InC, TShape.Filters);

    /// <summary>Whether a convolution with these sizes qualifies (see the class remarks).</summary>
    public static bool Applies(int kh, int kw, int strideH, int strideW, int inC, int filters)
        => kh == 3 && kw == 3 && strideH == 1 && strideW == 1
            && inC % 16 == 0 && filters % 16 == 0 && (long)inC * filters <= MaxChannelProduct;

    /// <summary>
    /// Whether the weight gradient of a qualifying shape takes the Winograd path for this part count: the parts split
    /// the input channels in groups of 16, so the groups must divide evenly (else the direct kernel balances better).
    /// </summary>
    public static bool AppliesToWeightGradient<TShape>(int parts)
        where TShape : IConvShape
        => Applies<TShape>() && parts > 0 && TShape.InC / 16 % parts == 0;

    /// <summary>Floats of the input gradient's transformed weights: <c>16 x Filters x InC</c>.</summary>
    public static long PreparedLength<TShape>()
        where TShape : IConvShape
        => 16L * TShape.Filters * TShape.InC;

    /// <summary>Point ξ = 4r + s of the flipped filter's transform: the forward transform's point with 0 and 3 of each axis swapped.</summary>
    public static int Flipped(int xi) => (Swap03(xi / 4) * 4) + Swap03(xi % 4);

    private static int Swap03(int i) => i switch { 0 => 3, 3 => 0, _ => i };
}

/// <summary>The Winograd passes for one SIMD width and geometry (see <see cref="ConvWinograd"/>).</summary>
/// <remarks>
/// The stack scratch is not zeroed (up to ~150 KB per call): every element a pass reads it has written first (the
/// GEMMs read only the chunk's <c>count</c> tiles and the part's channels; the zero row and the sums of an empty
/// batch are cleared explicitly).
/// </remarks>
[SkipLocalsInit]
internal static unsafe class ConvWinogradKernels<TS, TV, TG>
    where TS : ISimd<TV>
    where TV : struct
    where TG : IWinogradGeometry
{
    /// <summary>
    /// Tiles per chunk: one of the GEMM's 8-row register tiles. A chunk's transformed inputs and products (16 KB each
    /// for 32 channels) stay in L1/L2 between the three phases; on the reference conv2 (one thread) chunks of 8, 16
    /// and 32 tiles measured 9.0, 10.4 and 9.8 ms forward, 10.9, 11.4 and 12.4 ms input gradient.
    /// </summary>
    private const int Chunk = 8;

    /// <summary>
    /// Part <paramref name="part"/> of the output, split by chunks of consecutive tiles (sample-major, then tile row,
    /// then tile column), so every output element is computed the same way whatever the number of parts.
    /// </summary>
    /// <param name="a">A, NHWC.</param>
    /// <param name="u">Transformed weights <c>[16][AC][NOut]</c>.</param>
    /// <param name="y">Output, NHWC.</param>
    /// <param name="samples">Samples in the batch.</param>
    /// <param name="part">This call's part.</param>
    /// <param name="parts">Number of parts.</param>
    /// <param name="bias">Bias <c>[NOut]</c> for the epilogue, or null.</param>
    /// <param name="aux">Tensor laid out like y for the epilogue, or null.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TEpi>(float* a, float* u, float* y, int samples, int part, int parts, float* bias, float* aux)
        where TEpi : IEpilogue
    {
        int tilesW = (TG.OW + 1) / 2, tilesH = (TG.OH + 1) / 2;
        long perImage = (long)tilesW * tilesH;
        long total = samples * perImage;
        long chunks = (total + Chunk - 1) / Chunk;
        long first = chunks * part / parts, end = chunks * (part + 1) / parts;
        if (first >= end)
        {
            return;
        }

        int ac = TG.AC, no = TG.NOut;
        float* v = stackalloc float[(16 * Chunk * ac) + TS.Count]; // [Chunk][16][AC]: Bᵀ d B per tile, point, channel
        float* m = stackalloc float[(16 * Chunk * no) + TS.Count]; // [16][Chunk][NOut]: the products
        float* zeros = stackalloc float[ac]; // what A reads outside the image
        new Span<float>(zeros, ac).Clear();
        nint* patch = stackalloc nint[16];
        long aImage = (long)TG.AH * TG.AW * ac, yImage = (long)TG.OH * TG.OW * no;
        for (long chunk = first; chunk < end; chunk++)
        {
            long t0 = chunk * Chunk;
            int count = (int)Math.Min(Chunk, total - t0);
            for (int t = 0; t < count; t++)
            {
                long n = Locate(t0 + t, perImage, tilesW, out int oh0, out int ow0);
                InputTile(a + (n * aImage), oh0 - TG.PadTop, ow0 - TG.PadLeft, v + ((long)t * 16 * ac), zeros, patch, 0, ac);
            }

            for (int xi = 0; xi < 16; xi++)
            {
                GemmKernel<TS, TV, WinogradGemm<TG>, Epilogue.None>.Run(
                    v + ((long)xi * ac), u + ((long)xi * ac * no), m + ((long)xi * Chunk * no), 0, count, ac, null, null);
            }

            for (int t = 0; t < count; t++)
            {
                long n = Locate(t0 + t, perImage, tilesW, out int oh0, out int ow0);
                OutputTile<TEpi>(m + ((long)t * no), y + (n * yImage), aux == null ? null : aux + (n * yImage), oh0, ow0, bias);
            }
        }
    }

    /// <summary>The forward pass: transforms w into stack scratch, then runs the tiles of this part.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward<TEpi>(float* x, float* w, float* y, int samples, int part, int parts, float* bias, float* aux)
        where TEpi : IEpilogue
    {
        float* u = stackalloc float[(16 * TG.AC * TG.NOut) + TS.Count];
        TransformWeights(w, u);
        Run<TEpi>(x, u, y, samples, part, parts, bias, aux);
    }

    /// <summary>
    /// Tiles per chunk of the weight gradient: the reduction length of its 16 GEMMs per chunk (the sums are reloaded
    /// once per chunk).
    /// </summary>
    private const int WeightChunk = 16;

    /// <summary>
    /// Part <paramref name="part"/> of the weight gradient (TG = the forward geometry: A = x, output = dy): the parts
    /// split the input channels in groups of 16, each reducing over every tile of every sample, so every element is
    /// written by exactly one part and no cross-part reduction is needed. Needs the group count divisible by
    /// <paramref name="parts"/> (see <see cref="Conv2D.WeightGradient{TShape}"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightGradient(float* x, float* dy, float* dw, int samples, int part, int parts)
    {
        int c = TG.AC, f = TG.NOut;
        int groups = c / 16;
        int c0 = 16 * (groups * part / parts), c1 = 16 * (groups * (part + 1) / parts);
        if (c0 >= c1)
        {
            return;
        }

        int tilesW = (TG.OW + 1) / 2, tilesH = (TG.OH + 1) / 2;
        long perImage = (long)tilesW * tilesH;
        long total = samples * perImage;
        float* sums = stackalloc float[(16 * c * f) + TS.Count]; // [16][C][F]: Σ_tiles Z ⊙ V per point (rows c0..c1)
        float* v = stackalloc float[(WeightChunk * 16 * c) + TS.Count]; // [t][16][C]: Bᵀ d B (channels c0..c1)
        float* z = stackalloc float[(16 * WeightChunk * f) + TS.Count]; // [16][t][F]: A dy Aᵀ
        float* zeros = stackalloc float[c];
        new Span<float>(zeros, c).Clear();
        if (total == 0)
        {
            new Span<float>(sums, 16 * c * f).Clear();
        }

        nint* patch = stackalloc nint[16];
        long xImage = (long)TG.AH * TG.AW * c, dyImage = (long)TG.OH * TG.OW * f;
        for (long t0 = 0; t0 < total; t0 += WeightChunk)
        {
            int count = (int)Math.Min(WeightChunk, total - t0);
            for (int t = 0; t < count; t++)
            {
                long n = Locate(t0 + t, perImage, tilesW, out int oh0, out int ow0);
                InputTile(x + (n * xImage), oh0 - TG.PadTop, ow0 - TG.PadLeft, v + ((long)t * 16 * c), zeros, patch, c0, c1);
                GradientTile(dy + (n * dyImage), oh0, ow0, z + ((long)t * f));
            }

            for (int xi = 0; xi < 16; xi++)
            {
                GemmKernel<TS, TV, WinogradWeightGemm<TG>, Epilogue.None>.Run(
                    v + ((long)xi * c), z + ((long)xi * WeightChunk * f), sums + ((long)xi * c * f), c0, c1, count, null, null,
                    accumulate: t0 != 0);
            }
        }

        for (int ci = c0; ci < c1; ci++)
        {
            for (int fi = 0; fi < f; fi += TS.Count)
            {
                WeightsFromSums(sums + ((long)ci * f) + fi, dw + ((long)ci * f) + fi);
            }
        }
    }

    /// <summary>
    /// <c>A dy Aᵀ</c> for the 2x2 block of dy at (<paramref name="oh0"/>, <paramref name="ow0"/>) (zero past the
    /// output's edge), A = [[1, 0], [1, 1], [1, -1], [0, -1]]; point ξ of filter f goes to
    /// <c>z + ξ * WeightChunk * NOut + f</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradientTile(float* dy, int oh0, int ow0, float* z)
    {
        int f = TG.NOut;
        bool row1 = oh0 + 1 < TG.OH, col1 = ow0 + 1 < TG.OW;
        float* p00 = dy + ((((long)oh0 * TG.OW) + ow0) * f);
        long rowStep = (long)TG.OW * f, point = (long)WeightChunk * f;
        for (int k = 0; k < f; k += TS.Count)
        {
            TV d00 = TS.Load(p00 + k);
            TV d01 = col1 ? TS.Load(p00 + f + k) : TS.Zero;
            TV d10 = row1 ? TS.Load(p00 + rowStep + k) : TS.Zero;
            TV d11 = row1 && col1 ? TS.Load(p00 + rowStep + f + k) : TS.Zero;

            // Rows of A dy (per column): (d0, d0 + d1, d0 - d1, -d1); then each row times Aᵀ the same way.
            GradientRow(z + k, 0, point, d00, d01);
            GradientRow(z + k, 1, point, TS.Add(d00, d10), TS.Add(d01, d11));
            GradientRow(z + k, 2, point, TS.Subtract(d00, d10), TS.Subtract(d01, d11));
            GradientRow(z + k, 3, point, TS.Subtract(TS.Zero, d10), TS.Subtract(TS.Zero, d11));
        }
    }

    /// <summary>Row r of <c>(A dy) Aᵀ</c> from row r of A dy, stored at points 4r..4r+3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradientRow(float* z, int r, long point, TV e0, TV e1)
    {
        float* p = z + (4 * r * point);
        TS.Store(p, e0);
        TS.Store(p + point, TS.Add(e0, e1));
        TS.Store(p + (2 * point), TS.Subtract(e0, e1));
        TS.Store(p + (3 * point), TS.Subtract(TS.Zero, e1));
    }

    /// <summary>
    /// <c>dg = Gᵀ S G</c> for one input channel and a vector of filters: point ξ of S at <c>sums + ξ * AC * NOut</c>,
    /// tap (i, j) of dg at <c>dw + (3i + j) * AC * NOut</c>. Gᵀ's rows are (1, ½, ½, 0), (0, ½, -½, 0), (0, ½, ½, 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WeightsFromSums(float* sums, float* dw)
    {
        long point = (long)TG.AC * TG.NOut;
        TV half = TS.Broadcast(0.5f);

        // Gᵀ S: three rows, each a combination of S's four rows, per column s.
        SumsColumn(sums, 0, point, half, out TV a0, out TV b0, out TV c0);
        SumsColumn(sums, 1, point, half, out TV a1, out TV b1, out TV c1);
        SumsColumn(sums, 2, point, half, out TV a2, out TV b2, out TV c2);
        SumsColumn(sums, 3, point, half, out TV a3, out TV b3, out TV c3);

        // (Gᵀ S) G: the same combinations along each row.
        WeightsRow(dw, 0, point, half, a0, a1, a2, a3);
        WeightsRow(dw, 1, point, half, b0, b1, b2, b3);
        WeightsRow(dw, 2, point, half, c0, c1, c2, c3);
    }

    /// <summary>Column s of <c>Gᵀ S</c>: (S0 + ½(S1 + S2), ½(S1 - S2), ½(S1 + S2) + S3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SumsColumn(float* sums, int s, long point, TV half, out TV r0, out TV r1, out TV r2)
    {
        TV s0 = TS.Load(sums + (s * point)), s1 = TS.Load(sums + ((4 + s) * point));
        TV s2 = TS.Load(sums + ((8 + s) * point)), s3 = TS.Load(sums + ((12 + s) * point));
        TV mid = TS.Multiply(TS.Add(s1, s2), half);
        r0 = TS.Add(s0, mid);
        r1 = TS.Multiply(TS.Subtract(s1, s2), half);
        r2 = TS.Add(mid, s3);
    }

    /// <summary>Row i of <c>(Gᵀ S) G</c> from row i of Gᵀ S, stored at taps (i, 0..2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WeightsRow(float* dw, int i, long point, TV half, TV t0, TV t1, TV t2, TV t3)
    {
        float* p = dw + (3 * i * point);
        TV mid = TS.Multiply(TS.Add(t1, t2), half);
        TS.Store(p, TS.Add(t0, mid));
        TS.Store(p + point, TS.Multiply(TS.Subtract(t1, t2), half));
        TS.Store(p + (2 * point), TS.Add(mid, t3));
    }

    /// <summary>
    /// Part <paramref name="part"/> of the input gradient's transformed weights, <c>[16][Filters][InC]</c> (TG = the
    /// forward geometry): the transform of the flipped, transposed taps, which is the forward transform
    /// (<see cref="TransformWeights"/>, computed whole by each part on the stack) with points 0 and 3 of each axis
    /// swapped (<c>G J = P G</c> for the reversal J and the swap P) and each point's block transposed. Parts write
    /// disjoint (input channel, filter) ranges.
    /// </summary>
    public static void PrepareInputGradient(float* w, float* prepared, int part, int parts)
    {
        int c = TG.AC, f = TG.NOut;
        long point = (long)c * f;
        float* u = stackalloc float[(16 * c * f) + TS.Count];
        TransformWeights(w, u);
        long start = point * part / parts, end = point * (part + 1) / parts;
        for (long pair = start; pair < end; pair++)
        {
            int ci = (int)(pair / f), fi = (int)(pair - ((long)ci * f));
            for (int xi = 0; xi < 16; xi++)
            {
                prepared[(((long)ConvWinograd.Flipped(xi) * f) + fi) * c + ci] = u[(xi * point) + pair];
            }
        }
    }

    /// <summary>Sample of tile <paramref name="tile"/>, and its first output row and column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Locate(long tile, long perImage, int tilesW, out int oh0, out int ow0)
    {
        long n = tile / perImage;
        int inImage = (int)(tile - (n * perImage));
        int tr = inImage / tilesW;
        oh0 = 2 * tr;
        ow0 = 2 * (inImage - (tr * tilesW));
        return n;
    }

    /// <summary>
    /// <c>U[ξ][c][f] = (G g Gᵀ)[ξ]</c> for the forward taps <c>g[i][j] = w[i, j, c, f]</c>, a vector of filters at
    /// a time: G = [[1, 0, 0], [½, ½, ½], [½, -½, ½], [0, 0, 1]].
    /// </summary>
    private static void TransformWeights(float* w, float* u)
    {
        int c = TG.AC, f = TG.NOut;
        long tap = (long)c * f;
        TV half = TS.Broadcast(0.5f);
        for (int ci = 0; ci < c; ci++)
        {
            for (int fi = 0; fi < f; fi += TS.Count)
            {
                float* g = w + ((long)ci * f) + fi;
                float* o = u + ((long)ci * f) + fi;

                // Rows of G g: G's rows applied to the filter's three rows, per column j.
                TV g00 = TS.Load(g), g01 = TS.Load(g + tap), g02 = TS.Load(g + (2 * tap));
                TV g10 = TS.Load(g + (3 * tap)), g11 = TS.Load(g + (4 * tap)), g12 = TS.Load(g + (5 * tap));
                TV g20 = TS.Load(g + (6 * tap)), g21 = TS.Load(g + (7 * tap)), g22 = TS.Load(g + (8 * tap));
                TV s0 = TS.Add(g00, g20), s1 = TS.Add(g01, g21), s2 = TS.Add(g02, g22);
                FilterRow(o, 0, g00, g01, g02, half);
                FilterRow(o, 1, TS.Multiply(TS.Add(s0, g10), half), TS.Multiply(TS.Add(s1, g11), half), TS.Multiply(TS.Add(s2, g12), half), half);
                FilterRow(o, 2, TS.Multiply(TS.Subtract(s0, g10), half), TS.Multiply(TS.Subtract(s1, g11), half), TS.Multiply(TS.Subtract(s2, g12), half), half);
                FilterRow(o, 3, g20, g21, g22, half);
            }
        }
    }

    /// <summary>Row r of <c>(G g) Gᵀ</c> from row r of G g, stored at points 4r..4r+3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FilterRow(float* o, int r, TV t0, TV t1, TV t2, TV half)
    {
        long point = (long)TG.AC * TG.NOut;
        float* p = o + (4 * r * point);
        TV s = TS.Add(t0, t2);
        TS.Store(p, t0);
        TS.Store(p + point, TS.Multiply(TS.Add(s, t1), half));
        TS.Store(p + (2 * point), TS.Multiply(TS.Subtract(s, t1), half));
        TS.Store(p + (3 * point), t2);
    }

    /// <summary>
    /// <c>Bᵀ d B</c> for the 4x4 patch whose top-left pixel is (<paramref name="ih0"/>, <paramref name="iw0"/>), with
    /// Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]; point ξ goes to <c>v + ξ * AC</c> (a tile's
    /// 16 points are contiguous, so its stores do not alias in L1).
    /// Pixels outside the image read from <paramref name="zeros"/>. Only channels [<paramref name="cStart"/>,
    /// <paramref name="cEnd"/>) are transformed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputTile(float* image, int ih0, int iw0, float* v, float* zeros, nint* patch, int cStart, int cEnd)
    {
        int ac = TG.AC;
        long point = ac;
        if (ih0 >= 0 && ih0 <= TG.AH - 4 && iw0 >= 0 && iw0 <= TG.AW - 4)
        {
            // Interior patch (every tile of a valid convolution): each pixel is the corner plus a constant.
            float* corner = image + ((((long)ih0 * TG.AW) + iw0) * ac);
            for (int c = cStart; c < cEnd; c += TS.Count)
            {
                float* p = corner + c;
                long row = (long)TG.AW * ac;
                Column(TS.Load(p), TS.Load(p + row), TS.Load(p + (2 * row)), TS.Load(p + (3 * row)), out TV a0, out TV b0, out TV c0, out TV d0);
                p += ac;
                Column(TS.Load(p), TS.Load(p + row), TS.Load(p + (2 * row)), TS.Load(p + (3 * row)), out TV a1, out TV b1, out TV c1, out TV d1);
                p += ac;
                Column(TS.Load(p), TS.Load(p + row), TS.Load(p + (2 * row)), TS.Load(p + (3 * row)), out TV a2, out TV b2, out TV c2, out TV d2);
                p += ac;
                Column(TS.Load(p), TS.Load(p + row), TS.Load(p + (2 * row)), TS.Load(p + (3 * row)), out TV a3, out TV b3, out TV c3, out TV d3);
                InputRow(v + c, 0, point, a0, a1, a2, a3);
                InputRow(v + c, 1, point, b0, b1, b2, b3);
                InputRow(v + c, 2, point, c0, c1, c2, c3);
                InputRow(v + c, 3, point, d0, d1, d2, d3);
            }

            return;
        }

        // Edge patch: pixels outside the image read from the zero row.
        for (int r = 0; r < 4; r++)
        {
            bool rowInside = (uint)(ih0 + r) < (uint)TG.AH;
            for (int s = 0; s < 4; s++)
            {
                bool inside = rowInside && (uint)(iw0 + s) < (uint)TG.AW;
                patch[(r * 4) + s] = inside ? (nint)(image + ((((long)(ih0 + r) * TG.AW) + iw0 + s) * ac)) : (nint)zeros;
            }
        }

        for (int c = cStart; c < cEnd; c += TS.Count)
        {
            // Columns of Bᵀ d (the row combinations), per patch column s.
            Column(Pixel(patch, 0, c), Pixel(patch, 4, c), Pixel(patch, 8, c), Pixel(patch, 12, c), out TV a0, out TV b0, out TV c0, out TV d0);
            Column(Pixel(patch, 1, c), Pixel(patch, 5, c), Pixel(patch, 9, c), Pixel(patch, 13, c), out TV a1, out TV b1, out TV c1, out TV d1);
            Column(Pixel(patch, 2, c), Pixel(patch, 6, c), Pixel(patch, 10, c), Pixel(patch, 14, c), out TV a2, out TV b2, out TV c2, out TV d2);
            Column(Pixel(patch, 3, c), Pixel(patch, 7, c), Pixel(patch, 11, c), Pixel(patch, 15, c), out TV a3, out TV b3, out TV c3, out TV d3);

            // Each row of Bᵀ d times B.
            InputRow(v + c, 0, point, a0, a1, a2, a3);
            InputRow(v + c, 1, point, b0, b1, b2, b3);
            InputRow(v + c, 2, point, c0, c1, c2, c3);
            InputRow(v + c, 3, point, d0, d1, d2, d3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Pixel(nint* patch, int i, int c) => TS.Load((float*)patch[i] + c);

    /// <summary>Column s of <c>Bᵀ d</c> from the column's four pixels: (d0 - d2, d1 + d2, d2 - d1, d1 - d3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Column(TV p0, TV p1, TV p2, TV p3, out TV r0, out TV r1, out TV r2, out TV r3)
    {
        r0 = TS.Subtract(p0, p2);
        r1 = TS.Add(p1, p2);
        r2 = TS.Subtract(p2, p1);
        r3 = TS.Subtract(p1, p3);
    }

    /// <summary>Row r of <c>(Bᵀ d) B</c>, stored at points 4r..4r+3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputRow(float* v, int r, long point, TV t0, TV t1, TV t2, TV t3)
    {
        float* p = v + (4 * r * point);
        TS.Store(p, TS.Subtract(t0, t2));
        TS.Store(p + point, TS.Add(t1, t2));
        TS.Store(p + (2 * point), TS.Subtract(t2, t1));
        TS.Store(p + (3 * point), TS.Subtract(t1, t3));
    }

    /// <summary>
    /// <c>Aᵀ m A</c> with Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]] for one tile (point ξ of output channel n at
    /// <c>m + ξ * Chunk * NOut + n</c>), through the epilogue, into the outputs of the tile inside the image.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputTile<TEpi>(float* m, float* y, float* aux, int oh0, int ow0, float* bias)
        where TEpi : IEpilogue
    {
        int no = TG.NOut;
        long point = (long)Chunk * no;
        bool row1 = oh0 + 1 < TG.OH, col1 = ow0 + 1 < TG.OW;
        long at00 = (((long)oh0 * TG.OW) + ow0) * no;
        long rowStep = (long)TG.OW * no;
        for (int k = 0; k < no; k += TS.Count)
        {
            float* p = m + k;

            // Aᵀ m: two rows, each a combination of m's four rows, per column s.
            OutputColumn(p, 0, point, out TV u0, out TV l0);
            OutputColumn(p, 1, point, out TV u1, out TV l1);
            OutputColumn(p, 2, point, out TV u2, out TV l2);
            OutputColumn(p, 3, point, out TV u3, out TV l3);

            Emit<TEpi>(y, aux, at00 + k, TS.Add(TS.Add(u0, u1), u2), bias + k);
            if (col1)
            {
                Emit<TEpi>(y, aux, at00 + no + k, TS.Subtract(TS.Subtract(u1, u2), u3), bias + k);
            }

            if (row1)
            {
                Emit<TEpi>(y, aux, at00 + rowStep + k, TS.Add(TS.Add(l0, l1), l2), bias + k);
                if (col1)
                {
                    Emit<TEpi>(y, aux, at00 + rowStep + no + k, TS.Subtract(TS.Subtract(l1, l2), l3), bias + k);
                }
            }
        }
    }

    /// <summary>Column s of <c>Aᵀ m</c>: (m0 + m1 + m2, m1 - m2 - m3) over m's rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputColumn(float* p, int s, long point, out TV upper, out TV lower)
    {
        TV m0 = TS.Load(p + (s * point)), m1 = TS.Load(p + ((4 + s) * point));
        TV m2 = TS.Load(p + ((8 + s) * point)), m3 = TS.Load(p + ((12 + s) * point));
        upper = TS.Add(TS.Add(m0, m1), m2);
        lower = TS.Subtract(TS.Subtract(m1, m2), m3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Emit<TEpi>(float* y, float* aux, long at, TV value, float* bias)
        where TEpi : IEpilogue
        => TS.Store(y + at, TEpi.Apply<TS, TV>(value, bias, aux == null ? null : aux + at));
}

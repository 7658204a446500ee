using System.Runtime.Intrinsics;

namespace NetDsl.Kernels;

/// <summary>
/// The compile-time constants of one 2-D convolution: the generator emits one struct per convolution layer, so the
/// JIT sees every size and stride as a constant (register + immediate addressing, divisions by constants folded).
/// Activations are channels-last (NHWC); weights are <c>[KH, KW, InC, Filters]</c> (Keras HWIO).
/// </summary>
public interface IConvShape
{
    /// <summary>Input height.</summary>
    static abstract int InH { get; }

    /// <summary>Input width.</summary>
    static abstract int InW { get; }

    /// <summary>Input channels.</summary>
    static abstract int InC { get; }

    /// <summary>Kernel height.</summary>
    static abstract int KH { get; }

    /// <summary>Kernel width.</summary>
    static abstract int KW { get; }

    /// <summary>Vertical stride (at least 1).</summary>
    static abstract int StrideH { get; }

    /// <summary>Horizontal stride (at least 1).</summary>
    static abstract int StrideW { get; }

    /// <summary>Rows of implicit zeros above the input (bottom padding is implied by <see cref="OutH"/>).</summary>
    static abstract int PadTop { get; }

    /// <summary>Columns of implicit zeros left of the input (right padding is implied by <see cref="OutW"/>).</summary>
    static abstract int PadLeft { get; }

    /// <summary>Output height.</summary>
    static abstract int OutH { get; }

    /// <summary>Output width.</summary>
    static abstract int OutW { get; }

    /// <summary>Output channels (filters).</summary>
    static abstract int Filters { get; }
}

/// <summary>
/// 2-D convolution, forward and backward, channels-last, over arena offsets, as implicit GEMMs straight on the NHWC
/// tensors (no im2col buffer, no padded copies).
/// </summary>
/// <remarks>
/// <para>
/// Layouts: activations are NHWC: sample n occupies <c>[n*H*W*C, (n+1)*H*W*C)</c>, element (h, w, c) at
/// <c>(h*W + w)*C + c</c>. Weights are <c>[KH, KW, InC, Filters]</c> row-major, i.e. a <c>[KH*KW*InC, Filters]</c>
/// matrix; the bias is <c>[Filters]</c>. Input positions outside the image read as zero.
/// </para>
/// <para>
/// Every method does part <c>part</c> of <c>parts</c> of the work and may run concurrently with the other parts:
/// the forward pass and the input gradient split the output pixels (sample, row, column) into contiguous,
/// equal ranges (the Winograd path: chunks of 2x2 output tiles, so an element's value never depends on the part
/// count); the weight gradient splits the weight matrix into (weight-row tile, filter block) items, each
/// reduced over every pixel of every sample by exactly one part, so no cross-part reduction is needed.
/// </para>
/// <para>
/// Buffers are read (never written) up to one 512-bit vector past their end, so the arena plan gives each of them
/// that slack (<see cref="Arena.Padded"/>); the prepared-weights scratch and dw (whose partial sums are reloaded)
/// included. Outputs must not overlap the operands they are computed from (y with x, w, bias; dx with dy,
/// prepared; dw with x, dy); an output may be its own aux (an in-place epilogue reads each aux element just before
/// it writes the same element). Offsets need no particular alignment (64-byte-aligned ones are faster).
/// Nothing is allocated per call and nothing throws: shapes are trusted (validated by the generator). The first call
/// for a shape, epilogue and width compiles its kernels (AggressiveOptimization, a few milliseconds).
/// </para>
/// <para>
/// Design: implicit GEMM on the NHWC rows. For one kernel row, the KW*InC inputs of an output pixel are contiguous,
/// so a register tile of up to 8 pixels of one output row x 32 filters (16 accumulators; 6 x 2 vectors below
/// AVX-512) runs over them with every address a register plus a constant; kernel rows outside the image are
/// skipped, and pixels whose kernel columns are clipped by padding get one-pixel tiles with the clipped run. The
/// input gradient is the same kernel over dy with the weights flipped and transposed
/// (<see cref="PrepareInputGradient{TShape}"/>), one stride phase at a time. The weight gradient tiles dw by
/// 12 consecutive rows x 32 filters (24 accumulators) and reduces over the pixels in L2-sized blocks.
/// </para>
/// <para>
/// Winograd: with <see cref="ConvAlgorithm.Auto"/> (the default), stride-1 3x3 convolutions whose input channels
/// and filters are multiples of 16 (<see cref="UsesWinograd{TShape}"/>) run the forward pass and the input gradient
/// as Winograd F(2x2, 3x3): per chunk of 8 output tiles, the 4x4 input patches are transformed (additions only),
/// multiplied by the transformed weights as 16 small GEMMs over the channels (the register-blocked GEMM kernel) and
/// transformed back through the epilogue; 2.25x fewer multiplications. The forward pass transforms the weights
/// itself (on the stack, each part); the input gradient reads them from the prepared scratch. The weight gradient is
/// the same bilinear form's adjoint (16 GEMMs reducing over the tiles, then a 4x4 -> 3x3 transform per weight), its
/// parts splitting the input channels in groups of 16 (so it needs the part count to divide InC / 16; else direct).
/// See the README for the side-by-side measurements.
/// </para>
/// </remarks>
public static unsafe class Conv2D
{
    /// <summary>
    /// <c>y[n,oh,ow,f] = TEpi.Apply(sum over kh,kw,c of x[n, oh*SH+kh-PT, ow*SW+kw-PL, c] * w[kh,kw,c,f],
    /// bias + f, aux + (index of y))</c> for part <paramref name="part"/> of the output pixels of
    /// <paramref name="samples"/> samples. Pass -1 for an unused bias or aux.
    /// </summary>
    /// <param name="arena">The arena all offsets refer to.</param>
    /// <param name="x">Input activations, NHWC.</param>
    /// <param name="w">Weights, <c>[KH*KW*InC, Filters]</c>.</param>
    /// <param name="y">Output, NHWC with <c>Filters</c> channels.</param>
    /// <param name="samples">Samples in the batch.</param>
    /// <param name="part">This call's part, 0..<paramref name="parts"/>-1.</param>
    /// <param name="parts">Number of parts the work is split in.</param>
    /// <param name="bias">Bias <c>[Filters]</c>, or -1.</param>
    /// <param name="aux">Tensor laid out like y for the epilogue, or -1.</param>
    /// <param name="algorithm">Winograd where it applies (the default), or always the direct kernel.</param>
    public static void Forward<TShape, TEpi>(Arena arena, long x, long w, long y, int samples, int part, int parts, long bias = -1, long aux = -1,
        ConvAlgorithm algorithm = ConvAlgorithm.Auto)
        where TShape : IConvShape
        where TEpi : IEpilogue
    {
        float* p = arena.Pointer;
        float* pb = bias >= 0 ? p + bias : null;
        float* pa = aux >= 0 ? p + aux : null;
        if (Winograd<TShape>(algorithm))
        {
            if (Vector512.IsHardwareAccelerated)
            {
                ConvWinogradKernels<Simd512, Vector512<float>, WinogradForward<TShape>>.Forward<TEpi>(p + x, p + w, p + y, samples, part, parts, pb, pa);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                ConvWinogradKernels<Simd256, Vector256<float>, WinogradForward<TShape>>.Forward<TEpi>(p + x, p + w, p + y, samples, part, parts, pb, pa);
            }
            else
            {
                ConvWinogradKernels<Simd128, Vector128<float>, WinogradForward<TShape>>.Forward<TEpi>(p + x, p + w, p + y, samples, part, parts, pb, pa);
            }
        }
        else if (Vector512.IsHardwareAccelerated)
        {
            if (ConvGather.Applies<TShape>(Vector512<float>.Count))
            {
                ConvGatherKernels<Simd512, Vector512<float>, TShape>.Forward<TEpi>(p + x, p + w, p + y, samples, part, parts, pb, pa);
            }
            else
            {
                ConvKernels<Simd512, Vector512<float>, TShape>.Forward<TEpi>(p + x, p + w, p + y, samples, part, parts, pb, pa);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            if (ConvGather.Applies<TShape>(Vector256<float>.Count))
            {
                ConvGatherKernels<Simd256, Vector256<float>, TShape>.Forward<TEpi>(p + x, p + w, p + y, samples, part, parts, pb, pa);
            }
            else
            {
                ConvKernels<Simd256, Vector256<float>, TShape>.Forward<TEpi>(p + x, p + w, p + y, samples, part, parts, pb, pa);
            }
        }
        else
        {
            ConvKernels<Simd128, Vector128<float>, TShape>.Forward<TEpi>(p + x, p + w, p + y, samples, part, parts, pb, pa);
        }
    }

    /// <summary>
    /// <c>dw[kh,kw,c,f] = sum over n,oh,ow of x[n, oh*SH+kh-PT, ow*SW+kw-PL, c] * dy[n,oh,ow,f]</c>: overwrites
    /// part <paramref name="part"/> of dw. Across the parts every element of dw is written exactly once; parts may
    /// run concurrently and return independently.
    /// </summary>
    /// <param name="arena">The arena all offsets refer to.</param>
    /// <param name="x">The forward pass's input activations, NHWC.</param>
    /// <param name="dy">Gradient with respect to the convolution's output (pre-activation), NHWC.</param>
    /// <param name="dw">Weight gradient, <c>[KH*KW*InC, Filters]</c>.</param>
    /// <param name="samples">Samples in the batch.</param>
    /// <param name="part">This call's part, 0..<paramref name="parts"/>-1.</param>
    /// <param name="parts">Number of parts the work is split in.</param>
    /// <param name="algorithm">
    /// Winograd where it applies (the default; for the weight gradient also only when <paramref name="parts"/> divides
    /// the input channels' groups of 16), or always the direct kernel.
    /// </param>
    public static void WeightGradient<TShape>(Arena arena, long x, long dy, long dw, int samples, int part, int parts,
        ConvAlgorithm algorithm = ConvAlgorithm.Auto)
        where TShape : IConvShape
    {
        float* p = arena.Pointer;
        if (algorithm == ConvAlgorithm.Auto && ConvWinograd.AppliesToWeightGradient<TShape>(parts))
        {
            if (Vector512.IsHardwareAccelerated)
            {
                ConvWinogradKernels<Simd512, Vector512<float>, WinogradForward<TShape>>.WeightGradient(p + x, p + dy, p + dw, samples, part, parts);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                ConvWinogradKernels<Simd256, Vector256<float>, WinogradForward<TShape>>.WeightGradient(p + x, p + dy, p + dw, samples, part, parts);
            }
            else
            {
                ConvWinogradKernels<Simd128, Vector128<float>, WinogradForward<TShape>>.WeightGradient(p + x, p + dy, p + dw, samples, part, parts);
            }
        }
        else if (Vector512.IsHardwareAccelerated)
        {
            ConvWeightGradientKernels<Simd512, Vector512<float>, TShape>.Run(p + x, p + dy, p + dw, samples, part, parts);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            ConvWeightGradientKernels<Simd256, Vector256<float>, TShape>.Run(p + x, p + dy, p + dw, samples, part, parts);
        }
        else
        {
            ConvWeightGradientKernels<Simd128, Vector128<float>, TShape>.Run(p + x, p + dy, p + dw, samples, part, parts);
        }
    }

    /// <summary>
    /// Whether <see cref="ConvAlgorithm.Auto"/> runs the forward pass and the input gradient of this shape with
    /// Winograd F(2x2, 3x3): 3x3 kernels, stride 1, input channels and filters multiples of 16 with a product of at
    /// most 1,024 (e.g. 32 x 32). The weight gradient also takes it when the part count divides InC / 16.
    /// </summary>
    /// <returns>True where the Winograd path applies.</returns>
    public static bool UsesWinograd<TShape>()
        where TShape : IConvShape
        => ConvWinograd.Applies<TShape>();

    /// <summary>
    /// Whether the forward pass of <typeparamref name="TShape"/> runs the small-map kernel on this machine's vectors:
    /// at least 64 input channels, an output at most 28 wide and filters a multiple of two vectors, with 512- or 256-bit
    /// vectors (and not the Winograd path). See <c>ConvGatherKernels</c>.
    /// </summary>
    /// <typeparam name="TShape">The convolution's shape.</typeparam>
    /// <returns>True where the small-map kernel runs the forward pass.</returns>
    public static bool UsesSmallMapForward<TShape>()
        where TShape : IConvShape
        => !ConvWinograd.Applies<TShape>() && (Vector512.IsHardwareAccelerated
            ? ConvGather.Applies<TShape>(Vector512<float>.Count)
            : Vector256.IsHardwareAccelerated && ConvGather.Applies<TShape>(Vector256<float>.Count));

    /// <summary>
    /// Whether a call with <paramref name="algorithm"/> takes the Winograd path (forward, prepare and input gradient
    /// alike, so a prepared buffer always matches the input gradient that reads it).
    /// </summary>
    private static bool Winograd<TShape>(ConvAlgorithm algorithm)
        where TShape : IConvShape
        => algorithm == ConvAlgorithm.Auto && ConvWinograd.Applies<TShape>();

    /// <summary>
    /// Floats of scratch <see cref="InputGradient{TShape, TEpi}"/> needs for the re-laid-out weights, for either
    /// algorithm: <c>KH*KW*InC*Filters</c>, or <c>16*InC*Filters</c> where Winograd applies (plan it with
    /// <see cref="Arena.Padded"/>, as it is read one vector past its end).
    /// </summary>
    /// <returns>The length of the prepared-weights buffer, in floats.</returns>
    public static long PreparedWeightsLength<TShape>()
        where TShape : IConvShape
        => Math.Max((long)TShape.KH * TShape.KW * TShape.InC * TShape.Filters,
            ConvWinograd.Applies<TShape>() ? ConvWinograd.PreparedLength<TShape>() : 0);

    /// <summary>
    /// Fills part <paramref name="part"/> of <paramref name="prepared"/> from <paramref name="w"/>: per stride phase,
    /// the kernel taps in reverse order, each tap's <c>[InC, Filters]</c> block transposed to <c>[Filters, InC]</c>.
    /// Run every part (each writes a disjoint range) before any part of <see cref="InputGradient{TShape, TEpi}"/>.
    /// </summary>
    /// <param name="arena">The arena all offsets refer to.</param>
    /// <param name="w">Weights, <c>[KH*KW*InC, Filters]</c>.</param>
    /// <param name="prepared">Scratch of <see cref="PreparedWeightsLength{TShape}"/> floats.</param>
    /// <param name="part">This call's part, 0..<paramref name="parts"/>-1.</param>
    /// <param name="parts">Number of parts the work is split in.</param>
    /// <param name="algorithm">The algorithm the matching <see cref="InputGradient{TShape, TEpi}"/> call uses.</param>
    public static void PrepareInputGradient<TShape>(Arena arena, long w, long prepared, int part, int parts,
        ConvAlgorithm algorithm = ConvAlgorithm.Auto)
        where TShape : IConvShape
    {
        float* p = arena.Pointer;
        if (Winograd<TShape>(algorithm))
        {
            if (Vector512.IsHardwareAccelerated)
            {
                ConvWinogradKernels<Simd512, Vector512<float>, WinogradForward<TShape>>.PrepareInputGradient(p + w, p + prepared, part, parts);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                ConvWinogradKernels<Simd256, Vector256<float>, WinogradForward<TShape>>.PrepareInputGradient(p + w, p + prepared, part, parts);
            }
            else
            {
                ConvWinogradKernels<Simd128, Vector128<float>, WinogradForward<TShape>>.PrepareInputGradient(p + w, p + prepared, part, parts);
            }
        }
        else
        {
            ConvPrepare<TShape>.Run(p + w, p + prepared, part, parts);
        }
    }

    /// <summary>
    /// <c>dx[n,ih,iw,c] = TEpi.Apply(sum over (oh,ow,kh,kw,f) with oh*SH+kh-PT == ih and ow*SW+kw-PL == iw of
    /// dy[n,oh,ow,f] * w[kh,kw,c,f], null, aux + (index of dx))</c> for part <paramref name="part"/> of the pixels
    /// of dx; every element is written (the epilogue of zero where nothing contributes).
    /// </summary>
    /// <param name="arena">The arena all offsets refer to.</param>
    /// <param name="dy">Gradient with respect to the convolution's output (pre-activation), NHWC.</param>
    /// <param name="w">Weights (unused: the kernel reads <paramref name="prepared"/>; kept for the generator's convenience).</param>
    /// <param name="prepared">Weights re-laid out by <see cref="PrepareInputGradient{TShape}"/>.</param>
    /// <param name="dx">Gradient with respect to the convolution's input, NHWC.</param>
    /// <param name="samples">Samples in the batch.</param>
    /// <param name="part">This call's part, 0..<paramref name="parts"/>-1.</param>
    /// <param name="parts">Number of parts the work is split in.</param>
    /// <param name="aux">Tensor laid out like dx for the epilogue (e.g. the previous layer's activation output), or -1.</param>
    /// <param name="algorithm">Winograd where it applies (the default), or always the direct kernel; the same as the
    /// <see cref="PrepareInputGradient{TShape}"/> call that filled <paramref name="prepared"/>.</param>
    public static void InputGradient<TShape, TEpi>(Arena arena, long dy, long w, long prepared, long dx, int samples, int part, int parts, long aux = -1,
        ConvAlgorithm algorithm = ConvAlgorithm.Auto)
        where TShape : IConvShape
        where TEpi : IEpilogue
    {
        float* p = arena.Pointer;
        float* pa = aux >= 0 ? p + aux : null;
        if (Winograd<TShape>(algorithm))
        {
            if (Vector512.IsHardwareAccelerated)
            {
                ConvWinogradKernels<Simd512, Vector512<float>, WinogradInputGradient<TShape>>.Run<TEpi>(p + dy, p + prepared, p + dx, samples, part, parts, null, pa);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                ConvWinogradKernels<Simd256, Vector256<float>, WinogradInputGradient<TShape>>.Run<TEpi>(p + dy, p + prepared, p + dx, samples, part, parts, null, pa);
            }
            else
            {
                ConvWinogradKernels<Simd128, Vector128<float>, WinogradInputGradient<TShape>>.Run<TEpi>(p + dy, p + prepared, p + dx, samples, part, parts, null, pa);
            }
        }
        else if (Vector512.IsHardwareAccelerated)
        {
            ConvKernels<Simd512, Vector512<float>, TShape>.InputGradient<TEpi>(p + dy, p + prepared, p + dx, samples, part, parts, pa);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            ConvKernels<Simd256, Vector256<float>, TShape>.InputGradient<TEpi>(p + dy, p + prepared, p + dx, samples, part, parts, pa);
        }
        else
        {
            ConvKernels<Simd128, Vector128<float>, TShape>.InputGradient<TEpi>(p + dy, p + prepared, p + dx, samples, part, parts, pa);
        }
    }
}

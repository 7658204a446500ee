using System.Runtime.Intrinsics;
using NetDsl.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Numerics;

/// <summary>
/// <see cref="Conv2D"/> (forward, weight gradient, input gradient) against naive double-precision loops written from
/// the documented formulas, over kernel sizes 1x1 to 5x5 (square and not), strides 1, 2, 3x1 and 2x3, valid and Keras
/// 'same' padding (also a kernel larger than the input), 1, 3 and 32 input channels, filters below, at and above one
/// and two 512-bit vectors, 1 to 3 samples, 1 to 3 parts (run one after another, each covering its share) and every
/// epilogue family. Sentinels after each output catch stray writes; outputs are pre-filled with the sentinel so an
/// element no part writes fails the comparison.
/// </summary>
/// <remarks>
/// Tolerance: a float sum of T products, in any order, with or without FMA, is within gamma_T * Σ|terms| of the exact
/// value, gamma_T = T eps / (1 - T eps), eps = 2^-24. T is KH*KW*InC for the forward pass, at most KH*KW*Filters for
/// the input gradient and N*OutH*OutW for the weight gradient; the bias adds one more rounding (T + 1, and |bias| to
/// the magnitude). The epilogues are 1-Lipschitz (ReLU) or scale by y(1 - y) &lt;= 1/4 with a few more roundings of
/// the result, covered by T + 4 and an absolute 1e-6 (which also covers exp's few-ulp error in a sigmoid output).
/// </remarks>
public class ConvTests(ITestOutputHelper output)
{
    private const float Sentinel = -12345.678f;

    public static TheoryData<string> Shapes() =>
    [
        nameof(K1x1Valid_C3F5), nameof(K1x1S2Same_C32F17), nameof(K1x1Same_C1F1), nameof(K3x3Valid_C1F32),
        nameof(K3x3Valid_C32F32), nameof(K3x3Same_C32F33), nameof(K3x3Same_C1F16), nameof(K3x3Same_C3F17_Wide),
        nameof(K3x3S2Same_C3F16), nameof(K3x3S2Valid_C32F1), nameof(K3x3S3x1Same_C3F32), nameof(K3x3S2x3Same_C3F5),
        nameof(K5x5Same_C3F17), nameof(K5x5S2Valid_C1F5), nameof(K5x5Valid_C32F16), nameof(K5x5Same_C3F16_TinyInput),
        nameof(K2x3Same_C32F5), nameof(K2x3S2Valid_C1F33), nameof(K3x1Same_C32F17), nameof(K2x2S2Valid_C32F32),
        nameof(K3x3Same_C16F32), nameof(K3x3Valid_C16F48_TinyOutput), nameof(K3x3Same_C32F16_OneRow),
        nameof(G3x3Same_C64F64_7x7), nameof(G3x3S2Same_C64F32), nameof(G1x1S2Valid_C96F96), nameof(G3x3Valid_C576F32_Unpacked),
    ];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matches_reference_for_every_sample_count_part_count_and_epilogue(string shape)
    {
        int[] counts = [1, 2, 3];
        double worst = shape switch
        {
            nameof(K1x1Valid_C3F5) => Check<ConvSpecShape<K1x1Valid_C3F5>>(counts, counts),
            nameof(K1x1S2Same_C32F17) => Check<ConvSpecShape<K1x1S2Same_C32F17>>(counts, counts),
            nameof(K1x1Same_C1F1) => Check<ConvSpecShape<K1x1Same_C1F1>>(counts, counts),
            nameof(K3x3Valid_C1F32) => Check<ConvSpecShape<K3x3Valid_C1F32>>(counts, counts),
            nameof(K3x3Valid_C32F32) => Check<ConvSpecShape<K3x3Valid_C32F32>>(counts, counts),
            nameof(K3x3Same_C32F33) => Check<ConvSpecShape<K3x3Same_C32F33>>(counts, counts),
            nameof(K3x3Same_C1F16) => Check<ConvSpecShape<K3x3Same_C1F16>>(counts, counts),
            nameof(K3x3Same_C3F17_Wide) => Check<ConvSpecShape<K3x3Same_C3F17_Wide>>(counts, counts),
            nameof(K3x3S2Same_C3F16) => Check<ConvSpecShape<K3x3S2Same_C3F16>>(counts, counts),
            nameof(K3x3S2Valid_C32F1) => Check<ConvSpecShape<K3x3S2Valid_C32F1>>(counts, counts),
            nameof(K3x3S3x1Same_C3F32) => Check<ConvSpecShape<K3x3S3x1Same_C3F32>>(counts, counts),
            nameof(K3x3S2x3Same_C3F5) => Check<ConvSpecShape<K3x3S2x3Same_C3F5>>(counts, counts),
            nameof(K5x5Same_C3F17) => Check<ConvSpecShape<K5x5Same_C3F17>>(counts, counts),
            nameof(K5x5S2Valid_C1F5) => Check<ConvSpecShape<K5x5S2Valid_C1F5>>(counts, counts),
            nameof(K5x5Valid_C32F16) => Check<ConvSpecShape<K5x5Valid_C32F16>>(counts, counts),
            nameof(K5x5Same_C3F16_TinyInput) => Check<ConvSpecShape<K5x5Same_C3F16_TinyInput>>(counts, counts),
            nameof(K2x3Same_C32F5) => Check<ConvSpecShape<K2x3Same_C32F5>>(counts, counts),
            nameof(K2x3S2Valid_C1F33) => Check<ConvSpecShape<K2x3S2Valid_C1F33>>(counts, counts),
            nameof(K3x1Same_C32F17) => Check<ConvSpecShape<K3x1Same_C32F17>>(counts, counts),
            nameof(K2x2S2Valid_C32F32) => Check<ConvSpecShape<K2x2S2Valid_C32F32>>(counts, counts),
            nameof(K3x3Same_C16F32) => Check<ConvSpecShape<K3x3Same_C16F32>>(counts, counts),
            nameof(K3x3Valid_C16F48_TinyOutput) => Check<ConvSpecShape<K3x3Valid_C16F48_TinyOutput>>(counts, counts),
            nameof(K3x3Same_C32F16_OneRow) => Check<ConvSpecShape<K3x3Same_C32F16_OneRow>>(counts, counts),
            nameof(G3x3Same_C64F64_7x7) => Check<ConvSpecShape<G3x3Same_C64F64_7x7>>(counts, counts),
            nameof(G3x3S2Same_C64F32) => Check<ConvSpecShape<G3x3S2Same_C64F32>>(counts, counts),
            nameof(G1x1S2Valid_C96F96) => Check<ConvSpecShape<G1x1S2Valid_C96F96>>(counts, counts),
            nameof(G3x3Valid_C576F32_Unpacked) => Check<ConvSpecShape<G3x3Valid_C576F32_Unpacked>>(counts, counts),
            _ => throw new ArgumentException(shape),
        };
        output.WriteLine($"{shape}: worst error / tolerance = {worst:F4}");
    }

    /// <summary>The reference CNN's two convolutions at 2 samples, split in 1 and 2 parts.</summary>
    [Fact]
    public void Matches_reference_on_the_mnist_cnn_shapes()
    {
        double worst = Math.Max(Check<ConvSpecShape<MnistConv1>>([2], [1, 2]), Check<ConvSpecShape<MnistConv2>>([2], [1, 2]));
        output.WriteLine($"worst error / tolerance = {worst:F4}");
    }

    /// <summary>
    /// The Winograd path takes exactly the stride-1 3x3 shapes with channel counts that are multiples of 16 (and a
    /// channel product of at most 1,024); the shapes above cover both sides, so both paths are checked (the weight
    /// gradient's, which also needs the part count to divide the input channels' groups of 16, at 1 and 2 parts).
    /// </summary>
    [Fact]
    public void Winograd_applies_to_stride_1_3x3_with_16_multiple_channels()
    {
        Assert.True(Conv2D.UsesWinograd<ConvSpecShape<MnistConv2>>());
        Assert.True(Conv2D.UsesWinograd<ConvSpecShape<K3x3Valid_C32F32>>());
        Assert.True(Conv2D.UsesWinograd<ConvSpecShape<K3x3Same_C16F32>>());
        Assert.True(Conv2D.UsesWinograd<ConvSpecShape<K3x3Valid_C16F48_TinyOutput>>());
        Assert.True(Conv2D.UsesWinograd<ConvSpecShape<K3x3Same_C32F16_OneRow>>());
        Assert.False(Conv2D.UsesWinograd<ConvSpecShape<MnistConv1>>()); // one input channel
        Assert.False(Conv2D.UsesWinograd<ConvSpecShape<K3x3Same_C32F33>>()); // 33 filters
        Assert.False(Conv2D.UsesWinograd<ConvSpecShape<K3x3S2Same_C3F16>>()); // stride 2
        Assert.False(Conv2D.UsesWinograd<ConvSpecShape<K5x5Valid_C32F16>>()); // 5x5
        Assert.False(Conv2D.UsesWinograd<ConvSpecShape<K2x2S2Valid_C32F32>>()); // 2x2
    }

    /// <summary>
    /// The small-map forward kernel takes the G shapes with 512- and 256-bit vectors (so the reference checks above run
    /// it there; CI runs this suite at 512, 256 and 128 bits) and none of the others; with 128-bit vectors every shape
    /// keeps the row kernel.
    /// </summary>
    [Fact]
    public void Small_map_kernel_applies_to_wide_inputs_on_small_outputs()
    {
        bool wide = Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated;
        Assert.Equal(wide, Conv2D.UsesSmallMapForward<ConvSpecShape<G3x3Same_C64F64_7x7>>());
        Assert.Equal(wide, Conv2D.UsesSmallMapForward<ConvSpecShape<G3x3S2Same_C64F32>>());
        Assert.Equal(wide, Conv2D.UsesSmallMapForward<ConvSpecShape<G1x1S2Valid_C96F96>>());
        Assert.Equal(wide, Conv2D.UsesSmallMapForward<ConvSpecShape<G3x3Valid_C576F32_Unpacked>>());
        Assert.False(Conv2D.UsesSmallMapForward<ConvSpecShape<MnistConv2>>()); // 32 input channels
        Assert.False(Conv2D.UsesSmallMapForward<ConvSpecShape<K3x3Same_C32F33>>());
        Assert.False(Conv2D.UsesSmallMapForward<ConvSpecShape<K1x1S2Same_C32F17>>());
    }

    /// <summary>
    /// The adjoint identities of a linear operator: with y = conv(x, w), &lt;dy, y&gt; = &lt;InputGradient(dy), x&gt;
    /// = &lt;WeightGradient(x, dy), w&gt;, each side summed in double from the kernels' float outputs. Each side is
    /// within gamma_T * S of the exact value, S = Σ |dy x w| over every (output, tap) pair, T the longest float sum.
    /// </summary>
    [Fact]
    public void Forward_and_backward_satisfy_the_adjoint_identities()
    {
        var results = new[]
        {
            Adjoint<ConvSpecShape<K3x3Same_C32F33>>(3, 2),
            Adjoint<ConvSpecShape<K3x3S2Same_C3F16>>(2, 1),
            Adjoint<ConvSpecShape<K5x5Same_C3F17>>(2, 3),
            Adjoint<ConvSpecShape<K2x3S2Valid_C1F33>>(3, 2),
            Adjoint<ConvSpecShape<K3x3S3x1Same_C3F32>>(2, 2),
            Adjoint<ConvSpecShape<MnistConv2>>(1, 1),
            Adjoint<ConvSpecShape<K3x3Same_C16F32>>(2, 2),
        };
        output.WriteLine($"worst |difference| / tolerance = {results.Max():F4}");
    }

    /// <summary>
    /// Parts running concurrently on threads give bit-identical results to the same parts run one after another:
    /// no part writes (even transiently) an element another part owns. Filters of 33 and 17 put a part's masked
    /// last vector next to another part's elements.
    /// </summary>
    [Fact]
    public void Concurrent_parts_match_sequential_parts_bit_for_bit()
    {
        Concurrent<ConvSpecShape<K2x3S2Valid_C1F33>>(samples: 2, parts: 3);
        Concurrent<ConvSpecShape<K1x1S2Same_C32F17>>(samples: 1, parts: 3);
        Concurrent<ConvSpecShape<K3x3Same_C1F16>>(samples: 1, parts: 2);
        Concurrent<ConvSpecShape<K3x3Same_C16F32>>(samples: 3, parts: 3); // Winograd: parts split chunks of tiles
        Concurrent<ConvSpecShape<K3x3Valid_C32F32>>(samples: 2, parts: 2); // also the Winograd weight gradient (channel groups)
        Concurrent<ConvSpecShape<G3x3Same_C64F64_7x7>>(samples: 3, parts: 3); // small-map kernel: parts split (block, tile) pairs
        Concurrent<ConvSpecShape<G1x1S2Valid_C96F96>>(samples: 2, parts: 2);
    }

    /// <summary>An output may be its own aux (an in-place epilogue): bit-identical to separate buffers.</summary>
    [Fact]
    public void In_place_epilogues_match_separate_aux_buffers()
    {
        InPlace<ConvSpecShape<K3x3Same_C32F33>>(2, 2);
        InPlace<ConvSpecShape<K1x1S2Same_C32F17>>(3, 3);
        InPlace<ConvSpecShape<K3x3Same_C16F32>>(2, 2); // Winograd
    }

    private static void InPlace<TShape>(int n, int parts)
        where TShape : IConvShape
    {
        Dims d = DimsOf<TShape>();
        Data data = RandomData(d, n, seed: 11);
        var l = new Layout(d, n, Conv2D.PreparedWeightsLength<TShape>(), shift: 1);
        using Arena arena = Load(l, data);
        for (int part = 0; part < parts; part++)
        {
            Conv2D.PrepareInputGradient<TShape>(arena, l.W, l.Prepared, part, parts);
        }

        for (int part = 0; part < parts; part++)
        {
            Conv2D.Forward<TShape, Epilogue.ActivationGradient<Act.Sigmoid>>(arena, l.X, l.W, l.Y, n, part, parts, aux: l.AuxY);
            Conv2D.InputGradient<TShape, Epilogue.ActivationGradient<Act.Sigmoid>>(arena, l.Dy, l.W, l.Prepared, l.Dx, n, part, parts, aux: l.AuxX);
        }

        float[] y = arena.GetSpan(l.Y, d.YLen(n)).ToArray();
        float[] dx = arena.GetSpan(l.Dx, d.XLen(n)).ToArray();
        Write(arena, l.Y, data.AuxY);
        Write(arena, l.Dx, data.AuxX);
        for (int part = 0; part < parts; part++)
        {
            Conv2D.Forward<TShape, Epilogue.ActivationGradient<Act.Sigmoid>>(arena, l.X, l.W, l.Y, n, part, parts, aux: l.Y);
            Conv2D.InputGradient<TShape, Epilogue.ActivationGradient<Act.Sigmoid>>(arena, l.Dy, l.W, l.Prepared, l.Dx, n, part, parts, aux: l.Dx);
        }

        Assert.Equal(y, arena.GetSpan(l.Y, y.Length).ToArray());
        Assert.Equal(dx, arena.GetSpan(l.Dx, dx.Length).ToArray());
    }

    /// <summary>After the first (JIT-compiling) call, no kernel allocates on the managed heap (direct and Winograd).</summary>
    [Fact]
    public void Calls_allocate_nothing()
    {
        Assert.Equal(0, AllocatedBySecondRound<ConvSpecShape<K3x3Same_C32F33>>(samples: 2));
        Assert.Equal(0, AllocatedBySecondRound<ConvSpecShape<MnistConv2>>(samples: 1));
        Assert.Equal(0, AllocatedBySecondRound<ConvSpecShape<G3x3Same_C64F64_7x7>>(samples: 2));
    }

    /// <summary>Runs every kernel of a shape in 2 parts twice; returns the bytes the second round allocated.</summary>
    private static long AllocatedBySecondRound<TShape>(int samples)
        where TShape : IConvShape
    {
        Dims d = DimsOf<TShape>();
        var l = new Layout(d, samples, Conv2D.PreparedWeightsLength<TShape>(), shift: 0);
        using Arena arena = Load(l, RandomData(d, samples, seed: 9));
        void All()
        {
            for (int part = 0; part < 2; part++)
            {
                Conv2D.Forward<TShape, Epilogue.BiasActivation<Act.ReLU>>(arena, l.X, l.W, l.Y, samples, part, 2, bias: l.Bias);
                Conv2D.WeightGradient<TShape>(arena, l.X, l.Dy, l.Dw, samples, part, 2);
                Conv2D.PrepareInputGradient<TShape>(arena, l.W, l.Prepared, part, 2);
                Conv2D.InputGradient<TShape, Epilogue.ActivationGradient<Act.ReLU>>(arena, l.Dy, l.W, l.Prepared, l.Dx, samples, part, 2, aux: l.AuxX);
            }
        }

        All();
        long before = GC.GetAllocatedBytesForCurrentThread();
        All();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private sealed record Dims(int InH, int InW, int InC, int KH, int KW, int SH, int SW, int PT, int PL, int OutH, int OutW, int F)
    {
        public int XLen(int n) => n * InH * InW * InC;

        public int YLen(int n) => n * OutH * OutW * F;

        public int WLen => KH * KW * InC * F;

        public int X(int n, int h, int w, int c) => (((n * InH) + h) * InW + w) * InC + c;

        public int Y(int n, int h, int w, int f) => (((n * OutH) + h) * OutW + w) * F + f;

        public int W(int kh, int kw, int c, int f) => (((kh * KW) + kw) * InC + c) * F + f;
    }

    private static Dims DimsOf<TShape>()
        where TShape : IConvShape
        => new(TShape.InH, TShape.InW, TShape.InC, TShape.KH, TShape.KW, TShape.StrideH, TShape.StrideW, TShape.PadTop,
            TShape.PadLeft, TShape.OutH, TShape.OutW, TShape.Filters);

    /// <summary>Offsets of every buffer; each output is followed by its slack and one more guard vector.</summary>
    private sealed class Layout
    {
        public Layout(Dims d, int n, long prepared, int shift)
        {
            long at = shift; // no alignment is required of any offset
            X = Take(ref at, d.XLen(n));
            W = Take(ref at, d.WLen);
            Bias = Take(ref at, d.F);
            AuxY = Take(ref at, d.YLen(n));
            AuxX = Take(ref at, d.XLen(n));
            Dy = Take(ref at, d.YLen(n));
            Y = Take(ref at, d.YLen(n), guard: true);
            Dx = Take(ref at, d.XLen(n), guard: true);
            Dw = Take(ref at, d.WLen, guard: true);
            Prepared = Take(ref at, prepared, guard: true);
            Length = at;
        }

        public long X { get; }

        public long W { get; }

        public long Bias { get; }

        public long AuxY { get; }

        public long AuxX { get; }

        public long Dy { get; }

        public long Y { get; }

        public long Dx { get; }

        public long Dw { get; }

        public long Prepared { get; }

        public long Length { get; }

        private static long Take(ref long at, long length, bool guard = false)
        {
            long start = at;
            at += Arena.Padded(length) + (guard ? Arena.AlignmentFloats : 0);
            return start;
        }
    }

    private sealed record Data(float[] X, float[] W, float[] Bias, float[] AuxY, float[] AuxX, float[] Dy);

    private static Data RandomData(Dims d, int n, int seed)
    {
        var random = new Random(seed);
        float[] Unit(int count)
        {
            var values = new float[count];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = (float)(0.01 + (0.98 * random.NextDouble())); // a sigmoid output in (0, 1)
            }

            return values;
        }

        return new Data(
            NetworkFactory.RandomFloats(random, d.XLen(n)),
            NetworkFactory.RandomFloats(random, d.WLen),
            NetworkFactory.RandomFloats(random, d.F, 0.5f),
            Unit(d.YLen(n)),
            Unit(d.XLen(n)),
            NetworkFactory.RandomFloats(random, d.YLen(n)));
    }

    private static Arena Load(Layout l, Data data)
    {
        var arena = new Arena(l.Length);
        Write(arena, l.X, data.X);
        Write(arena, l.W, data.W);
        Write(arena, l.Bias, data.Bias);
        Write(arena, l.AuxY, data.AuxY);
        Write(arena, l.AuxX, data.AuxX);
        Write(arena, l.Dy, data.Dy);
        return arena;
    }

    /// <summary>Exact sums in double and the sums of the terms' magnitudes, per output element.</summary>
    private sealed record Reference(double[] Y, double[] YMag, double[] Dx, double[] DxMag, double[] Dw, double[] DwMag);

    private static Reference Naive(Dims d, int n, Data data)
    {
        var y = new double[d.YLen(n)];
        var ym = new double[y.Length];
        var dx = new double[d.XLen(n)];
        var dxm = new double[dx.Length];
        var dw = new double[d.WLen];
        var dwm = new double[dw.Length];
        for (int s = 0; s < n; s++)
        {
            for (int oh = 0; oh < d.OutH; oh++)
            {
                for (int ow = 0; ow < d.OutW; ow++)
                {
                    for (int kh = 0; kh < d.KH; kh++)
                    {
                        int ih = (oh * d.SH) + kh - d.PT;
                        if (ih < 0 || ih >= d.InH)
                        {
                            continue;
                        }

                        for (int kw = 0; kw < d.KW; kw++)
                        {
                            int iw = (ow * d.SW) + kw - d.PL;
                            if (iw < 0 || iw >= d.InW)
                            {
                                continue;
                            }

                            for (int c = 0; c < d.InC; c++)
                            {
                                double xv = data.X[d.X(s, ih, iw, c)];
                                int xi = d.X(s, ih, iw, c);
                                for (int f = 0; f < d.F; f++)
                                {
                                    double wv = data.W[d.W(kh, kw, c, f)];
                                    double dyv = data.Dy[d.Y(s, oh, ow, f)];
                                    int yi = d.Y(s, oh, ow, f), wi = d.W(kh, kw, c, f);
                                    y[yi] += xv * wv;
                                    ym[yi] += Math.Abs(xv * wv);
                                    dx[xi] += dyv * wv;
                                    dxm[xi] += Math.Abs(dyv * wv);
                                    dw[wi] += xv * dyv;
                                    dwm[wi] += Math.Abs(xv * dyv);
                                }
                            }
                        }
                    }
                }
            }
        }

        return new Reference(y, ym, dx, dxm, dw, dwm);
    }

    private static double Check<TShape>(int[] sampleCounts, int[] partCounts)
        where TShape : IConvShape
    {
        Dims d = DimsOf<TShape>();
        double worst = 0;
        foreach (int n in sampleCounts)
        {
            Data data = RandomData(d, n, seed: (d.InH * 31) + (d.InW * 7) + (d.InC * 3) + (d.F * 13) + (d.KH * 5) + d.SW + n);
            Reference r = Naive(d, n, data);
            var l = new Layout(d, n, Conv2D.PreparedWeightsLength<TShape>(), shift: n % 2 == 0 ? 0 : 5);
            using Arena arena = Load(l, data);
            bool winograd = Conv2D.UsesWinograd<TShape>();
            WinogradBound? forwardBound = winograd ? WinogradMagnitudes(d, n, data, inputGradient: false) : null;
            WinogradBound? inputBound = winograd ? WinogradMagnitudes(d, n, data, inputGradient: true) : null;
            WinogradBound? weightBound = winograd ? WinogradWeightMagnitudes(d, n, data) : null;
            foreach (int parts in partCounts)
            {
                foreach (var algorithm in winograd ? new[] { ConvAlgorithm.Auto, ConvAlgorithm.Direct } : [ConvAlgorithm.Auto])
                {
                    bool wino = winograd && algorithm == ConvAlgorithm.Auto;
                    string where = $"{typeof(TShape).GenericTypeArguments[0].Name} n={n} parts={parts} {(wino ? "Winograd" : "direct")}";
                    foreach (var e in new[] { EpilogueKind.None, EpilogueKind.BiasReLU, EpilogueKind.SigmoidGradient })
                    {
                        Fill(arena, l.Y, d.YLen(n));
                        for (int part = 0; part < parts; part++)
                        {
                            Forward<TShape>(arena, l, e, n, part, parts, algorithm);
                        }

                        worst = Math.Max(worst, wino
                            ? Compare(arena, l.Y, r.Y, forwardBound!.Magnitude, forwardBound.Terms, e, data.Bias, d.F, data.AuxY, $"{where} forward {e}")
                            : Compare(arena, l.Y, r.Y, r.YMag, d.KH * d.KW * d.InC, e, data.Bias, d.F, data.AuxY, $"{where} forward {e}"));
                    }

                    foreach (var e in new[] { EpilogueKind.None, EpilogueKind.SigmoidGradient })
                    {
                        Fill(arena, l.Dx, d.XLen(n));
                        Fill(arena, l.Prepared, (int)Conv2D.PreparedWeightsLength<TShape>());
                        for (int part = parts - 1; part >= 0; part--)
                        {
                            Conv2D.PrepareInputGradient<TShape>(arena, l.W, l.Prepared, part, parts, algorithm);
                        }

                        for (int part = 0; part < parts; part++)
                        {
                            InputGradient<TShape>(arena, l, e, n, part, parts, algorithm);
                        }

                        worst = Math.Max(worst, wino
                            ? Compare(arena, l.Dx, r.Dx, inputBound!.Magnitude, inputBound.Terms, e, null, d.InC, data.AuxX, $"{where} input gradient {e}")
                            : Compare(arena, l.Dx, r.Dx, r.DxMag, d.KH * d.KW * d.F, e, null, d.InC, data.AuxX, $"{where} input gradient {e}"));
                        AssertGuard(arena, l.Prepared, (int)Conv2D.PreparedWeightsLength<TShape>(), $"{where} prepared weights");
                    }
                }

                // The weight gradient's Winograd path also needs the part count to divide the input channels' groups of 16.
                bool winogradDw = winograd && d.InC / 16 % parts == 0;
                foreach (var algorithm in winogradDw ? new[] { ConvAlgorithm.Auto, ConvAlgorithm.Direct } : [ConvAlgorithm.Auto])
                {
                    bool wino = winogradDw && algorithm == ConvAlgorithm.Auto;
                    string where = $"{typeof(TShape).GenericTypeArguments[0].Name} n={n} parts={parts} {(wino ? "Winograd" : "direct")}";
                    Fill(arena, l.Dw, d.WLen);
                    for (int part = 0; part < parts; part++)
                    {
                        Conv2D.WeightGradient<TShape>(arena, l.X, l.Dy, l.Dw, n, part, parts, algorithm);
                    }

                    worst = Math.Max(worst, wino
                        ? Compare(arena, l.Dw, r.Dw, weightBound!.Magnitude, weightBound.Terms, EpilogueKind.None, null, d.F, null, $"{where} weight gradient")
                        : Compare(arena, l.Dw, r.Dw, r.DwMag, n * d.OutH * d.OutW, EpilogueKind.None, null, d.F, null, $"{where} weight gradient"));
                }
            }
        }

        return worst;
    }

    private static void Forward<TShape>(Arena arena, Layout l, EpilogueKind e, int n, int part, int parts, ConvAlgorithm algorithm)
        where TShape : IConvShape
    {
        switch (e)
        {
            case EpilogueKind.None:
                Conv2D.Forward<TShape, Epilogue.None>(arena, l.X, l.W, l.Y, n, part, parts, algorithm: algorithm);
                break;
            case EpilogueKind.BiasReLU:
                Conv2D.Forward<TShape, Epilogue.BiasActivation<Act.ReLU>>(arena, l.X, l.W, l.Y, n, part, parts, bias: l.Bias, algorithm: algorithm);
                break;
            default:
                Conv2D.Forward<TShape, Epilogue.ActivationGradient<Act.Sigmoid>>(arena, l.X, l.W, l.Y, n, part, parts, aux: l.AuxY, algorithm: algorithm);
                break;
        }
    }

    private static void InputGradient<TShape>(Arena arena, Layout l, EpilogueKind e, int n, int part, int parts, ConvAlgorithm algorithm)
        where TShape : IConvShape
    {
        if (e == EpilogueKind.None)
        {
            Conv2D.InputGradient<TShape, Epilogue.None>(arena, l.Dy, l.W, l.Prepared, l.Dx, n, part, parts, algorithm: algorithm);
        }
        else
        {
            Conv2D.InputGradient<TShape, Epilogue.ActivationGradient<Act.Sigmoid>>(arena, l.Dy, l.W, l.Prepared, l.Dx, n, part, parts, aux: l.AuxX, algorithm: algorithm);
        }
    }

    // The Winograd matrices' absolute values: G (4x3), Gᵀ, Bᵀ (4x4) and Aᵀ (2x4), A (4x2).
    private static readonly double[,] AbsG = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, 0.5, 0.5 }, { 0, 0, 1 } };
    private static readonly double[,] AbsGt = { { 1, 0.5, 0.5, 0 }, { 0, 0.5, 0.5, 0 }, { 0, 0.5, 0.5, 1 } };
    private static readonly double[,] AbsBt = { { 1, 0, 1, 0 }, { 0, 1, 1, 0 }, { 0, 1, 1, 0 }, { 0, 1, 0, 1 } };
    private static readonly double[,] AbsAt = { { 1, 1, 1, 0 }, { 0, 1, 1, 1 } };
    private static readonly double[,] AbsA = { { 1, 0 }, { 1, 1 }, { 1, 1 }, { 0, 1 } };

    /// <summary>Element (r, q) of <c>left · X · rightᵀ</c>: Σ_ij left[r, i] x(i, j) right[q, j].</summary>
    private static double Sandwich(double[,] left, Func<int, int, double> x, double[,] right, int r, int q)
    {
        double sum = 0;
        for (int i = 0; i < left.GetLength(1); i++)
        {
            for (int j = 0; j < right.GetLength(1); j++)
            {
                sum += left[r, i] * x(i, j) * right[q, j];
            }
        }

        return sum;
    }

    /// <summary>The Winograd path's error bound for one pass: gamma_Terms times Magnitude, per output element.</summary>
    private sealed record WinogradBound(double[] Magnitude, int Terms);

    /// <summary>
    /// Winograd F(2x2, 3x3) computes y = Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)] A in float. Rounding happens in the input
    /// transform (2 stages of one addition), the filter transform (2 stages of two additions; the halvings are exact),
    /// the products and their C-term sum, and the output transform (2 stages of two additions): the error is within
    /// gamma_(C+11) of the same expression with every matrix and operand replaced by its absolute value, computed here
    /// in double; Compare adds its own margin for the epilogue. That magnitude is a few times the direct sum's Σ|x w|
    /// (the transforms add and subtract neighbouring inputs), so the bound is looser than the direct path's but still
    /// 2^-24-sized relative to the operands: a wrong transform coefficient or tile misses it by orders of magnitude.
    /// </summary>
    private static WinogradBound WinogradMagnitudes(Dims d, int n, Data data, bool inputGradient)
    {
        // The pass as a stride-1 correlation (see ConvWinograd): A, its channels, the output and the padding.
        int aH = inputGradient ? d.OutH : d.InH, aW = inputGradient ? d.OutW : d.InW, aC = inputGradient ? d.F : d.InC;
        int oH = inputGradient ? d.InH : d.OutH, oW = inputGradient ? d.InW : d.OutW, no = inputGradient ? d.InC : d.F;
        int pt = inputGradient ? d.KH - 1 - d.PT : d.PT, pl = inputGradient ? d.KW - 1 - d.PL : d.PL;
        double A(int s, int h, int w, int c) =>
            h < 0 || h >= aH || w < 0 || w >= aW ? 0
            : Math.Abs((double)(inputGradient ? data.Dy[d.Y(s, h, w, c)] : data.X[d.X(s, h, w, c)]));
        double Tap(int i, int j, int cin, int cout) =>
            Math.Abs((double)(inputGradient ? data.W[d.W(2 - i, 2 - j, cout, cin)] : data.W[d.W(i, j, cin, cout)]));

        var u = new double[aC, no, 4, 4]; // |G| |g| |G|ᵀ
        for (int ci = 0; ci < aC; ci++)
        {
            for (int co = 0; co < no; co++)
            {
                for (int r = 0; r < 4; r++)
                {
                    for (int q = 0; q < 4; q++)
                    {
                        u[ci, co, r, q] = Sandwich(AbsG, (i, j) => Tap(i, j, ci, co), AbsG, r, q);
                    }
                }
            }
        }

        var magnitude = new double[n * oH * oW * no];
        var v = new double[aC, 4, 4]; // |Bᵀ| |d| |B| of one tile
        for (int s = 0; s < n; s++)
        {
            for (int oh0 = 0; oh0 < oH; oh0 += 2)
            {
                for (int ow0 = 0; ow0 < oW; ow0 += 2)
                {
                    for (int ci = 0; ci < aC; ci++)
                    {
                        for (int r = 0; r < 4; r++)
                        {
                            for (int q = 0; q < 4; q++)
                            {
                                v[ci, r, q] = Sandwich(AbsBt, (i, j) => A(s, oh0 - pt + i, ow0 - pl + j, ci), AbsBt, r, q);
                            }
                        }
                    }

                    for (int co = 0; co < no; co++)
                    {
                        var m = new double[4, 4];
                        for (int r = 0; r < 4; r++)
                        {
                            for (int q = 0; q < 4; q++)
                            {
                                for (int ci = 0; ci < aC; ci++)
                                {
                                    m[r, q] += u[ci, co, r, q] * v[ci, r, q];
                                }
                            }
                        }

                        for (int p = 0; p < 2 && oh0 + p < oH; p++)
                        {
                            for (int t = 0; t < 2 && ow0 + t < oW; t++)
                            {
                                magnitude[((((s * oH) + oh0 + p) * oW) + ow0 + t) * no + co] = Sandwich(AbsAt, (r, q) => m[r, q], AbsAt, p, t);
                            }
                        }
                    }
                }
            }
        }

        return new WinogradBound(magnitude, aC + 11);
    }

    /// <summary>
    /// The weight gradient's bound: dg = Gᵀ [Σ_tiles (A dy Aᵀ) ⊙ (Bᵀ d B)] G, rounded in the two transforms of the
    /// operands (2 stages of one addition each), the products and their sum over every tile of the batch, and the
    /// final transform (2 stages of two additions; the halvings are exact): within gamma_(tiles+9) of the same
    /// expression over absolute values (Terms adds 2 more).
    /// </summary>
    private static WinogradBound WinogradWeightMagnitudes(Dims d, int n, Data data)
    {
        double X(int s, int h, int w, int c) =>
            h < 0 || h >= d.InH || w < 0 || w >= d.InW ? 0 : Math.Abs((double)data.X[d.X(s, h, w, c)]);
        double Dy(int s, int h, int w, int f) =>
            h >= d.OutH || w >= d.OutW ? 0 : Math.Abs((double)data.Dy[d.Y(s, h, w, f)]);

        var sums = new double[d.InC, d.F, 4, 4];
        var v = new double[d.InC, 4, 4];
        var z = new double[d.F, 4, 4];
        int tiles = 0;
        for (int s = 0; s < n; s++)
        {
            for (int oh0 = 0; oh0 < d.OutH; oh0 += 2)
            {
                for (int ow0 = 0; ow0 < d.OutW; ow0 += 2)
                {
                    tiles++;
                    for (int r = 0; r < 4; r++)
                    {
                        for (int q = 0; q < 4; q++)
                        {
                            for (int c = 0; c < d.InC; c++)
                            {
                                v[c, r, q] = Sandwich(AbsBt, (i, j) => X(s, oh0 - d.PT + i, ow0 - d.PL + j, c), AbsBt, r, q);
                            }

                            for (int f = 0; f < d.F; f++)
                            {
                                z[f, r, q] = Sandwich(AbsA, (i, j) => Dy(s, oh0 + i, ow0 + j, f), AbsA, r, q);
                            }
                        }
                    }

                    for (int c = 0; c < d.InC; c++)
                    {
                        for (int f = 0; f < d.F; f++)
                        {
                            for (int r = 0; r < 4; r++)
                            {
                                for (int q = 0; q < 4; q++)
                                {
                                    sums[c, f, r, q] += z[f, r, q] * v[c, r, q];
                                }
                            }
                        }
                    }
                }
            }
        }

        var magnitude = new double[d.WLen];
        for (int c = 0; c < d.InC; c++)
        {
            for (int f = 0; f < d.F; f++)
            {
                for (int i = 0; i < 3; i++)
                {
                    for (int j = 0; j < 3; j++)
                    {
                        magnitude[d.W(i, j, c, f)] = Sandwich(AbsGt, (r, q) => sums[c, f, r, q], AbsGt, i, j);
                    }
                }
            }
        }

        return new WinogradBound(magnitude, tiles + 11);
    }

    /// <summary>Compares an output with the reference (after the epilogue) and checks its slack and guard are untouched.</summary>
    private static double Compare(Arena arena, long at, double[] exact, double[] magnitude, int terms, EpilogueKind e,
        float[]? bias, int channels, float[]? aux, string what)
    {
        const double Eps = 1.0 / (1 << 24);
        int t = terms + 4;
        double gamma = t * Eps / (1 - (t * Eps));
        ReadOnlySpan<float> actual = arena.GetSpan(at, exact.Length);
        double worst = 0;
        for (int i = 0; i < exact.Length; i++)
        {
            double expected = exact[i], mag = magnitude[i];
            switch (e)
            {
                case EpilogueKind.BiasReLU:
                    expected = Math.Max(expected + bias![i % channels], 0);
                    mag += Math.Abs(bias[i % channels]);
                    break;
                case EpilogueKind.SigmoidGradient:
                    double yv = aux![i];
                    expected *= yv * (1 - yv);
                    break;
            }

            double tolerance = (gamma * mag) + 1e-6;
            double error = Math.Abs(actual[i] - expected);
            worst = Math.Max(worst, error / tolerance);
            if (!(error <= tolerance))
            {
                Assert.Fail($"{what}: element {i} = {actual[i]:R}, expected {expected:R} (tolerance {tolerance:E2}){(actual[i] == Sentinel ? " - never written" : string.Empty)}");
            }
        }

        AssertGuard(arena, at, exact.Length, what);
        return worst;
    }

    private static void AssertGuard(Arena arena, long at, int length, string what)
    {
        int tail = (int)(Arena.Padded(length) + Arena.AlignmentFloats - length);
        ReadOnlySpan<float> after = arena.GetSpan(at + length, tail);
        for (int i = 0; i < after.Length; i++)
        {
            Assert.True(after[i] == Sentinel, $"{what}: wrote {after[i]} {i} floats past the end of the output.");
        }
    }

    private static void Fill(Arena arena, long at, int length) =>
        arena.GetSpan(at, (int)(Arena.Padded(length) + Arena.AlignmentFloats)).Fill(Sentinel);

    private static void Write(Arena arena, long offset, float[] values) => values.CopyTo(arena.GetSpan(offset, values.Length));

    private static double Adjoint<TShape>(int n, int parts)
        where TShape : IConvShape
    {
        Dims d = DimsOf<TShape>();
        Data data = RandomData(d, n, seed: 77 + n);
        var l = new Layout(d, n, Conv2D.PreparedWeightsLength<TShape>(), shift: 0);
        using Arena arena = Load(l, data);
        for (int part = 0; part < parts; part++)
        {
            Conv2D.Forward<TShape, Epilogue.None>(arena, l.X, l.W, l.Y, n, part, parts);
            Conv2D.PrepareInputGradient<TShape>(arena, l.W, l.Prepared, part, parts);
            Conv2D.WeightGradient<TShape>(arena, l.X, l.Dy, l.Dw, n, part, parts);
        }

        for (int part = 0; part < parts; part++)
        {
            Conv2D.InputGradient<TShape, Epilogue.None>(arena, l.Dy, l.W, l.Prepared, l.Dx, n, part, parts);
        }

        double Dot(long at, float[] other)
        {
            ReadOnlySpan<float> values = arena.GetSpan(at, other.Length);
            double sum = 0;
            for (int i = 0; i < other.Length; i++)
            {
                sum += (double)values[i] * other[i];
            }

            return sum;
        }

        double outputSide = Dot(l.Y, data.Dy), inputSide = Dot(l.Dx, data.X), weightSide = Dot(l.Dw, data.W);

        // S = Σ |dy x w| over every (output element, tap) pair that reads inside the image.
        double s = 0;
        for (int b = 0; b < n; b++)
        {
            for (int oh = 0; oh < d.OutH; oh++)
            {
                for (int ow = 0; ow < d.OutW; ow++)
                {
                    for (int kh = 0; kh < d.KH; kh++)
                    {
                        for (int kw = 0; kw < d.KW; kw++)
                        {
                            int ih = (oh * d.SH) + kh - d.PT, iw = (ow * d.SW) + kw - d.PL;
                            if (ih < 0 || ih >= d.InH || iw < 0 || iw >= d.InW)
                            {
                                continue;
                            }

                            for (int c = 0; c < d.InC; c++)
                            {
                                for (int f = 0; f < d.F; f++)
                                {
                                    s += Math.Abs((double)data.Dy[d.Y(b, oh, ow, f)] * data.X[d.X(b, ih, iw, c)] * data.W[d.W(kh, kw, c, f)]);
                                }
                            }
                        }
                    }
                }
            }
        }

        const double Eps = 1.0 / (1 << 24);
        int t = Math.Max(Math.Max(d.KH * d.KW * d.InC, d.KH * d.KW * d.F), n * d.OutH * d.OutW) + 1;
        double tolerance = (2 * t * Eps / (1 - (t * Eps)) * s) + 1e-9;
        double worst = Math.Max(Math.Abs(outputSide - inputSide), Math.Abs(outputSide - weightSide)) / tolerance;
        Assert.True(worst <= 1, $"{typeof(TShape).GenericTypeArguments[0].Name}: <dy, y> = {outputSide:R}, <dx, x> = {inputSide:R}, <dw, w> = {weightSide:R}, tolerance {tolerance:E2}");
        return worst;
    }

    private static void Concurrent<TShape>(int samples, int parts)
        where TShape : IConvShape
    {
        Dims d = DimsOf<TShape>();
        Data data = RandomData(d, samples, seed: 5);
        var l = new Layout(d, samples, Conv2D.PreparedWeightsLength<TShape>(), shift: 3);
        using Arena arena = Load(l, data);
        void All(int part)
        {
            Conv2D.Forward<TShape, Epilogue.BiasActivation<Act.ReLU>>(arena, l.X, l.W, l.Y, samples, part, parts, bias: l.Bias);
            Conv2D.WeightGradient<TShape>(arena, l.X, l.Dy, l.Dw, samples, part, parts);
            Conv2D.PrepareInputGradient<TShape>(arena, l.W, l.Prepared, part, parts);
        }

        void Backward(int part) =>
            Conv2D.InputGradient<TShape, Epilogue.ActivationGradient<Act.Sigmoid>>(arena, l.Dy, l.W, l.Prepared, l.Dx, samples, part, parts, aux: l.AuxX);

        for (int part = 0; part < parts; part++)
        {
            All(part);
        }

        for (int part = 0; part < parts; part++)
        {
            Backward(part);
        }

        float[] y = arena.GetSpan(l.Y, d.YLen(samples)).ToArray();
        float[] dw = arena.GetSpan(l.Dw, d.WLen).ToArray();
        float[] dx = arena.GetSpan(l.Dx, d.XLen(samples)).ToArray();
        for (int round = 0; round < 30; round++)
        {
            Fill(arena, l.Y, y.Length);
            Fill(arena, l.Dw, dw.Length);
            Fill(arena, l.Dx, dx.Length);
            using (var start = new Barrier(parts))
            {
                var threads = Enumerable.Range(0, parts).Select(part => new Thread(() =>
                {
                    start.SignalAndWait();
                    All(part);
                })).ToArray();
                Array.ForEach(threads, t => t.Start());
                Array.ForEach(threads, t => t.Join());
            }

            using (var start = new Barrier(parts))
            {
                var threads = Enumerable.Range(0, parts).Select(part => new Thread(() =>
                {
                    start.SignalAndWait();
                    Backward(part);
                })).ToArray();
                Array.ForEach(threads, t => t.Start());
                Array.ForEach(threads, t => t.Join());
            }

            Assert.Equal(y, arena.GetSpan(l.Y, y.Length).ToArray());
            Assert.Equal(dw, arena.GetSpan(l.Dw, dw.Length).ToArray());
            Assert.Equal(dx, arena.GetSpan(l.Dx, dx.Length).ToArray());
            AssertGuard(arena, l.Y, y.Length, "concurrent forward");
            AssertGuard(arena, l.Dw, dw.Length, "concurrent weight gradient");
            AssertGuard(arena, l.Dx, dx.Length, "concurrent input gradient");
        }
    }
}

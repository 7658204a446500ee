using NetDsl.Kernels;
using NetDsl.Threading;

namespace NetDsl.Tests.Onnx;

/// <summary>
/// Runs an expressible case through the kernels NetDsl's generated code calls for the corresponding layer, with
/// compile-time shape structs, in an arena laid out as the generator does (each buffer padded with one vector of
/// slack). Inputs are converted from ONNX's NCHW to NetDsl's NHWC on the way in; outputs are converted back with
/// independent index arithmetic. Each kernel is run as <c>parts</c> sequential parts, as the worker pool would
/// split it. The slack after every output buffer is NaN before the run and must still be NaN after it.
/// </summary>
public static class OnnxRunner
{
    /// <summary>Fills outputs before the kernels run, so an element no part writes shows up.</summary>
    public const float Unwritten = -12345.678f;

    /// <summary>The node's outputs, in ONNX layout, as floats (a bool mask as 0/1).</summary>
    public static IReadOnlyList<float[]> Run(OnnxCase c, OnnxPlan plan, OnnxDataSet set, int parts)
    {
        var node = c.Model.Graph.Nodes[0];
        float[] In(int i) => c.Input(set, node.Inputs[i]).AsFloats();
        float[] First() => c.Input(set, c.Model.Graph.Inputs[0].Name).AsFloats();
        return plan switch
        {
            DensePlan p => [Dense(p, In(0), In(1), p.Bias is null ? null : c.Input(set, p.Bias).AsFloats(), parts)],
            ActivationPlan p => [Activation(p, In(0), parts)],
            SoftmaxPlan p => [Softmax(p, First(), parts)],
            DropoutPlan p => Dropout(p, In(0)),
            FlattenPlan p => [Flatten(p, In(0))],
            PoolPlan p => [Pool(p, In(0), parts)],
            ConvPlan p => [Conv(p, In(0), In(1), p.HasBias ? In(2) : null, parts)],
            BatchNormPlan p => BatchNormalization(p, In(0), In(1), In(2), In(3), In(4), parts),
            _ => throw new NotSupportedException($"No runner for {plan}."),
        };
    }

    private static float[] Dense(DensePlan p, float[] a, float[] b, float[]? c, int parts)
    {
        var layout = new ArenaLayout();
        long ao = layout.Add(p.M * p.K), wo = layout.Add(p.K * p.N), bo = layout.Add(p.N), yo = layout.Add(p.M * p.N);
        using var arena = layout.Build();
        Write(arena, ao, a);

        // The Dense weights are [in, out] (Keras); ONNX's B is [K, N], or [N, K] with transB.
        var w = new float[p.K * p.N];
        for (int k = 0; k < p.K; k++)
        {
            for (int n = 0; n < p.N; n++)
            {
                w[k * p.N + n] = p.TransposeB ? b[n * p.K + k] : b[k * p.N + n];
            }
        }

        Write(arena, wo, w);
        if (c is not null)
        {
            Write(arena, bo, c); // [N] or [1, N]: N values either way
        }

        layout.PrepareOutput(arena, yo);
        for (int part = 0; part < parts; part++)
        {
            var (start, end) = Partition.Range(p.M, part, parts);
            TypeInts.With([p.N, p.K, 1], new GemmAction(arena, ao, wo, yo, start, end, p.K, c is null ? -1 : bo));
        }

        return layout.ReadOutput(arena, yo);
    }

    private sealed class GemmAction(Arena arena, long a, long b, long y, int start, int end, int p, long bias) : ITypeIntListAction
    {
        public void Run<TL>() where TL : struct, ITypeIntList
        {
            if (bias < 0)
            {
                Gemm.Run<ListGemmShape<TL>, Epilogue.None>(arena, a, b, y, start, end, p);
            }
            else
            {
                Gemm.Run<ListGemmShape<TL>, Epilogue.BiasActivation<Act.Linear>>(arena, a, b, y, start, end, p, bias: bias);
            }
        }
    }

    private static float[] Activation(ActivationPlan p, float[] x, int parts)
    {
        var layout = new ArenaLayout();
        long xo = layout.Add(p.Count), yo = layout.Add(p.Count);
        using var arena = layout.Build();
        Write(arena, xo, x);
        layout.PrepareOutput(arena, yo);
        for (int part = 0; part < parts; part++)
        {
            switch (p.Function)
            {
                case "Relu": Elementwise.Forward<Act.ReLU>(arena, xo, yo, p.Count, part, parts); break;
                case "Sigmoid": Elementwise.Forward<Act.Sigmoid>(arena, xo, yo, p.Count, part, parts); break;
                case "Tanh": Elementwise.Forward<Act.Tanh>(arena, xo, yo, p.Count, part, parts); break;
                default: throw new NotSupportedException(p.Function);
            }
        }

        return layout.ReadOutput(arena, yo);
    }

    private static float[] Softmax(SoftmaxPlan p, float[] x, int parts)
    {
        var layout = new ArenaLayout();
        long xo = layout.Add(p.Rows * p.Cols), yo = layout.Add(p.Rows * p.Cols);
        using var arena = layout.Build();
        Write(arena, xo, x);
        layout.PrepareOutput(arena, yo);
        for (int part = 0; part < parts; part++)
        {
            var (start, end) = Partition.Range(p.Rows, part, parts);
            RowKernels.Softmax(arena, xo, yo, p.Cols, start, end);
        }

        return layout.ReadOutput(arena, yo);
    }

    /// <summary>
    /// Inference dropout runs no kernel: the generated code aliases the layer's output to its input. The mask ONNX
    /// returns in inference is all true (1).
    /// </summary>
    private static float[][] Dropout(DropoutPlan p, float[] x)
    {
        var layout = new ArenaLayout();
        long xo = layout.Add(p.Count);
        using var arena = layout.Build();
        Write(arena, xo, x);
        long yo = xo; // InferenceAlias: the output buffer is the input buffer
        float[] y = arena.GetSpan(yo, p.Count).ToArray();
        return p.Mask ? [y, Enumerable.Repeat(1f, p.Count).ToArray()] : [y];
    }

    /// <summary>
    /// Flatten is a view in NetDsl: the NHWC batch read as [N, H * W * C], features ordered (h, w, c). ONNX orders them
    /// (c, h, w); the conversion below is the permutation an importer applies to the next Dense layer's weight rows.
    /// </summary>
    private static float[] Flatten(FlattenPlan p, float[] x)
    {
        int features = p.C * p.H * p.W;
        var layout = new ArenaLayout();
        long xo = layout.Add(p.Samples * features);
        using var arena = layout.Build();
        ToChannelsLast(x, arena.GetSpan(xo, p.Samples * features), p.Samples, p.C, p.H, p.W);
        float[] view = arena.GetSpan(xo, p.Samples * features).ToArray();
        var onnx = new float[view.Length];
        for (int n = 0; n < p.Samples; n++)
        {
            for (int c = 0; c < p.C; c++)
            {
                for (int h = 0; h < p.H; h++)
                {
                    for (int w = 0; w < p.W; w++)
                    {
                        onnx[n * features + (c * p.H + h) * p.W + w] = view[n * features + (h * p.W + w) * p.C + c];
                    }
                }
            }
        }

        return onnx;
    }

    private static float[] Pool(PoolPlan p, float[] x, int parts)
    {
        int inCount = p.Samples * p.InH * p.InW * p.C, outCount = p.Samples * p.OutH * p.OutW * p.C;
        var layout = new ArenaLayout();
        long xo = layout.Add(inCount), yo = layout.Add(outCount);
        using var arena = layout.Build();
        ToChannelsLast(x, arena.GetSpan(xo, inCount), p.Samples, p.C, p.InH, p.InW);
        layout.PrepareOutput(arena, yo);
        int[] shape = [p.InH, p.InW, p.C, p.PoolH, p.PoolW, p.StrideH, p.StrideW, p.PadTop, p.PadLeft, p.OutH, p.OutW];
        for (int part = 0; part < parts; part++)
        {
            TypeInts.With(shape, new PoolAction(arena, p.IsMax, xo, yo, p.Samples, part, parts));
        }

        return ToChannelsFirst(layout.ReadOutput(arena, yo), p.Samples, p.C, p.OutH, p.OutW);
    }

    private sealed class PoolAction(Arena arena, bool max, long x, long y, int samples, int part, int parts) : ITypeIntListAction
    {
        public void Run<TL>() where TL : struct, ITypeIntList
        {
            if (max)
            {
                Pooling.MaxForward<ListPoolShape<TL>>(arena, x, y, samples, part, parts);
            }
            else
            {
                Pooling.AvgForward<ListPoolShape<TL>>(arena, x, y, samples, part, parts);
            }
        }
    }

    /// <summary>NCHW to NHWC with the library's conversion (what a caller feeding images does).</summary>
    private static float[] Conv(ConvPlan p, float[] x, float[] w, float[]? bias, int parts)
    {
        int inCount = p.Samples * p.InH * p.InW * p.InC, outCount = p.Samples * p.OutH * p.OutW * p.Filters;
        int weightCount = p.KH * p.KW * p.InC * p.Filters;
        var layout = new ArenaLayout();
        long xo = layout.Add(inCount), wo = layout.Add(weightCount), bo = layout.Add(p.Filters), yo = layout.Add(outCount);
        using var arena = layout.Build();
        ToChannelsLast(x, arena.GetSpan(xo, inCount), p.Samples, p.InC, p.InH, p.InW);

        // ONNX weights [F, C, KH, KW] -> NetDsl (Keras) [KH, KW, C, F].
        var kernel = new float[weightCount];
        for (int f = 0; f < p.Filters; f++)
        {
            for (int c = 0; c < p.InC; c++)
            {
                for (int kh = 0; kh < p.KH; kh++)
                {
                    for (int kw = 0; kw < p.KW; kw++)
                    {
                        kernel[((kh * p.KW + kw) * p.InC + c) * p.Filters + f] = w[((f * p.InC + c) * p.KH + kh) * p.KW + kw];
                    }
                }
            }
        }

        Write(arena, wo, kernel);
        if (bias is not null)
        {
            Write(arena, bo, bias);
        }

        layout.PrepareOutput(arena, yo);
        int[] shape = [p.InH, p.InW, p.InC, p.KH, p.KW, p.StrideH, p.StrideW, p.PadTop, p.PadLeft, p.OutH, p.OutW, p.Filters];
        for (int part = 0; part < parts; part++)
        {
            TypeInts.With(shape, new ConvAction(arena, xo, wo, yo, bias is null ? -1 : bo, p.Samples, part, parts));
        }

        return ToChannelsFirst(layout.ReadOutput(arena, yo), p.Samples, p.Filters, p.OutH, p.OutW);
    }

    private sealed class ConvAction(Arena arena, long x, long w, long y, long bias, int samples, int part, int parts) : ITypeIntListAction
    {
        public void Run<TL>() where TL : struct, ITypeIntList
        {
            if (bias < 0)
            {
                Conv2D.Forward<ListConvShape<TL>, Epilogue.None>(arena, x, w, y, samples, part, parts);
            }
            else
            {
                Conv2D.Forward<ListConvShape<TL>, Epilogue.BiasActivation<Act.Linear>>(arena, x, w, y, samples, part, parts, bias);
            }
        }
    }

    /// <summary>
    /// BatchNorm over rows = N x H x W (NHWC) or N ([N, F]). Training returns (y, running mean, running variance).
    /// NetDsl follows Keras 2 and updates the moving variance with the unbiased batch variance <c>v n / (n - 1)</c>,
    /// ONNX with the biased <c>v</c>; both compute <c>momentum * var + (1 - momentum) * batch</c>, so the ONNX value is
    /// recovered exactly as <c>momentum * var + (moving - momentum * var) (n - 1) / n</c> (a documented convention
    /// converted back, like the layouts).
    /// </summary>
    private static float[][] BatchNormalization(BatchNormPlan p, float[] x, float[] scale, float[] bias, float[] mean, float[] variance, int parts)
    {
        int rows = p.Samples * p.Height * p.Width, count = rows * p.Channels;
        var layout = new ArenaLayout();
        long xo = layout.Add(count), yo = layout.Add(count);
        long go = layout.Add(p.Channels), bo = layout.Add(p.Channels), mo = layout.Add(p.Channels), vo = layout.Add(p.Channels);
        long savedMean = layout.Add(p.Channels), savedInvStd = layout.Add(p.Channels);
        using var arena = layout.Build();
        ToChannelsLast(x, arena.GetSpan(xo, count), p.Samples, p.Channels, p.Height, p.Width);
        Write(arena, go, scale);
        Write(arena, bo, bias);
        Write(arena, mo, mean);
        Write(arena, vo, variance);
        layout.PrepareOutput(arena, yo);
        for (int part = 0; part < parts; part++)
        {
            if (p.Training)
            {
                BatchNorm.TrainingForward(arena, xo, yo, go, bo, savedMean, savedInvStd, mo, vo, rows, p.Channels, p.Momentum, p.Epsilon, part, parts);
            }
            else
            {
                BatchNorm.InferenceForward(arena, xo, yo, go, bo, mo, vo, rows, p.Channels, p.Epsilon, part, parts);
            }
        }

        float[] y = ToChannelsFirst(layout.ReadOutput(arena, yo), p.Samples, p.Channels, p.Height, p.Width);
        if (!p.Training)
        {
            return [y];
        }

        float[] movingMean = layout.ReadOutput(arena, mo);
        float[] movingVar = layout.ReadOutput(arena, vo);
        var onnxVar = new float[p.Channels];
        for (int c = 0; c < p.Channels; c++)
        {
            double carried = (double)p.Momentum * variance[c];
            onnxVar[c] = rows > 1 ? (float)(carried + (movingVar[c] - carried) * (rows - 1) / rows) : movingVar[c];
        }

        return [y, movingMean, onnxVar];
    }

    private static void ToChannelsLast(ReadOnlySpan<float> nchw, Span<float> nhwc, int samples, int channels, int height, int width) =>
        Layout.ChannelsFirstToLast(nchw, nhwc, samples, channels, height, width);

    /// <summary>NHWC to NCHW by index arithmetic (independent of the library's layout helpers).</summary>
    private static float[] ToChannelsFirst(float[] nhwc, int samples, int channels, int height, int width)
    {
        var nchw = new float[nhwc.Length];
        for (int n = 0; n < samples; n++)
        {
            for (int c = 0; c < channels; c++)
            {
                for (int h = 0; h < height; h++)
                {
                    for (int w = 0; w < width; w++)
                    {
                        nchw[((n * channels + c) * height + h) * width + w] = nhwc[((n * height + h) * width + w) * channels + c];
                    }
                }
            }
        }

        return nchw;
    }

    private static void Write(Arena arena, long offset, float[] values) => values.CopyTo(arena.GetSpan(offset, values.Length));

    /// <summary>Buffers placed as the generator places them: each rounded up and followed by one vector of slack.</summary>
    private sealed class ArenaLayout
    {
        private readonly Dictionary<long, int> _lengths = [];
        private long _next;

        public long Add(int length)
        {
            long offset = _next;
            _lengths[offset] = length;
            _next += Arena.Padded(length);
            return offset;
        }

        /// <summary>The arena, every float NaN (slack included) until written.</summary>
        public Arena Build()
        {
            var arena = new Arena(_next + Arena.AlignmentFloats);
            for (long o = 0; o < arena.Length; o += int.MaxValue / 2)
            {
                arena.GetSpan(o, (int)Math.Min(int.MaxValue / 2, arena.Length - o)).Fill(float.NaN);
            }

            return arena;
        }

        public void PrepareOutput(Arena arena, long offset) => arena.GetSpan(offset, _lengths[offset]).Fill(Unwritten);

        /// <summary>The output, after checking its slack was not written.</summary>
        public float[] ReadOutput(Arena arena, long offset)
        {
            int length = _lengths[offset];
            long slackEnd = offset + Arena.Padded(length);
            var slack = arena.GetSpan(offset + length, (int)(slackEnd - offset - length));
            for (int i = 0; i < slack.Length; i++)
            {
                if (!float.IsNaN(slack[i]))
                {
                    throw new InvalidOperationException($"The kernel wrote {slack[i]} {i} floats past the end of its {length}-float output.");
                }
            }

            return arena.GetSpan(offset, length).ToArray();
        }
    }
}

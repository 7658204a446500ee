namespace NetDsl.Onnx;

/// <summary>
/// What export and import agree on about the two layouts: which activation a layer applies, the ONNX op of each
/// activation, the convolution kernel order (ONNX <c>[out, in, kh, kw]</c>, NetDsl <c>[kh, kw, in, out]</c>) and the
/// row order of a dense layer that reads a flattened image (ONNX flattens channels first, NetDsl channels last).
/// </summary>
internal static class OnnxLayout
{
    /// <summary>The activation fused into a layer's own op (convolution, dense, sum); Linear for every other layer.</summary>
    public static Activation FusedActivation(Layer layer) => layer switch
    {
        Conv2DLayer c => c.Activation,
        DenseLayer d => d.Activation,
        MergeLayer { Concatenates: false } m => m.Activation,
        _ => Activation.Linear,
    };

    /// <summary>The activation a layer's output has been through: its fused one, or an Activation layer's.</summary>
    public static Activation OutputActivation(Layer layer) => layer is ActivationLayer a ? a.Activation : FusedActivation(layer);

    /// <summary>The ONNX op computing an activation.</summary>
    public static string OpType(Activation activation) => activation switch
    {
        Activation.Linear => "Identity",
        Activation.ReLU => "Relu",
        Activation.Sigmoid => "Sigmoid",
        Activation.Tanh => "Tanh",
        Activation.Softmax => "Softmax",
        _ => throw new NotSupportedException($"Activation {activation} has no ONNX op."),
    };

    /// <summary>The (channels, height, width) image a dense layer reads through Flatten (and Dropout), or null when it reads features.</summary>
    public static int[]? FlattenedImage(DenseLayer dense)
    {
        var source = dense.Sources[0];
        while (source is FlattenLayer or DropoutLayer)
        {
            source = source.Sources[0];
        }

        return source is not null && source.OutputShape.Length == 3 ? source.OutputShape.ToArray() : null;
    }

    /// <summary>
    /// A dense kernel's rows re-ordered between the two flattening orders of the image it reads (unchanged when it reads
    /// features): <paramref name="toOnnx"/> from NetDsl's (h, w, c) rows to ONNX's (c, h, w), else back.
    /// </summary>
    public static float[] DenseRows(DenseLayer dense, float[] w, bool toOnnx)
    {
        if (FlattenedImage(dense) is not [int c, int h, int wd])
        {
            return w;
        }

        int units = dense.Units;
        var result = new float[w.Length];
        for (int ch = 0; ch < c; ch++)
        {
            for (int y = 0; y < h; y++)
            {
                for (int x = 0; x < wd; x++)
                {
                    long onnx = (long)((ch * h + y) * wd + x) * units, netdsl = (long)((y * wd + x) * c + ch) * units;
                    Array.Copy(w, toOnnx ? netdsl : onnx, result, toOnnx ? onnx : netdsl, units);
                }
            }
        }

        return result;
    }

    /// <summary>A convolution kernel between ONNX's <c>[filters, channels, kh, kw]</c> and NetDsl's <c>[kh, kw, channels, filters]</c>.</summary>
    public static float[] Kernel(ReadOnlySpan<float> w, int filters, int channels, int kh, int kw, bool toOnnx)
    {
        var result = new float[w.Length];
        for (int o = 0; o < filters; o++)
        {
            for (int i = 0; i < channels; i++)
            {
                for (int y = 0; y < kh; y++)
                {
                    for (int x = 0; x < kw; x++)
                    {
                        int onnx = (((o * channels) + i) * kh + y) * kw + x, netdsl = ((((y * kw) + x) * channels) + i) * filters + o;
                        result[toOnnx ? onnx : netdsl] = w[toOnnx ? netdsl : onnx];
                    }
                }
            }
        }

        return result;
    }
}

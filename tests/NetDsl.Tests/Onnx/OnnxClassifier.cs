namespace NetDsl.Tests.Onnx;

/// <summary>How a case maps onto NetDsl's layers (and so onto the kernels their generated code calls).</summary>
public abstract record OnnxPlan(string Layer);

/// <summary>Dense: <c>y[M, N] = x[M, K] · W[K, N] (+ b[N])</c>; W is ONNX's B, transposed when transB = 1.</summary>
public sealed record DensePlan(int M, int K, int N, bool TransposeB, string? Bias) : OnnxPlan("Dense");

/// <summary>Conv2D on NHWC activations with [KH, KW, C, F] weights.</summary>
public sealed record ConvPlan(int Samples, int InC, int InH, int InW, int Filters, int KH, int KW, int StrideH, int StrideW,
    int PadTop, int PadLeft, int OutH, int OutW, bool HasBias, string Padding) : OnnxPlan("Conv2D");

/// <summary>MaxPool2D or AvgPool2D on NHWC activations.</summary>
public sealed record PoolPlan(bool IsMax, int Samples, int C, int InH, int InW, int PoolH, int PoolW, int StrideH, int StrideW,
    int PadTop, int PadLeft, int OutH, int OutW, string Padding) : OnnxPlan(IsMax ? "MaxPool2D" : "AvgPool2D");

/// <summary>BatchNorm over <c>Rows</c> rows of <c>Channels</c> (rows = samples x height x width for images).</summary>
public sealed record BatchNormPlan(int Samples, int Channels, int Height, int Width, float Epsilon, float Momentum, bool Training)
    : OnnxPlan("BatchNorm");

/// <summary>Flatten of an NCHW image batch (NetDsl orders the features (height, width, channels)).</summary>
public sealed record FlattenPlan(int Samples, int C, int H, int W) : OnnxPlan("Flatten");

/// <summary>A standalone activation layer.</summary>
public sealed record ActivationPlan(string Function, int Count) : OnnxPlan("Activation");

/// <summary>Softmax over the last axis of [Rows, Cols].</summary>
public sealed record SoftmaxPlan(int Rows, int Cols, bool Expanded) : OnnxPlan("Softmax");

/// <summary>Dropout in inference: the identity (and, if asked for, an all-true mask).</summary>
public sealed record DropoutPlan(int Count, bool Mask) : OnnxPlan("Dropout");

/// <summary>
/// Decides, from the model alone (and the first data set's input shapes), whether NetDsl's layers can express a
/// case, following the layer attributes' documented semantics (Keras): see each rule below.
/// </summary>
public static class OnnxClassifier
{
    /// <summary>The plan, or null with the reason the case is not expressible.</summary>
    public static (OnnxPlan? Plan, string? Reason) Classify(OnnxCase c)
    {
        var graph = c.Model.Graph;

        // Data tensors and the main output must be float32; a second output (Dropout's mask, MaxPool's indices) is
        // judged by the operator's rule.
        foreach (var value in graph.Inputs.Concat(graph.Outputs.Take(1)))
        {
            if (value.ElementType != OnnxDataType.Float)
            {
                return (null, $"{value.ElementType.ToString().ToLowerInvariant()} tensors (NetDsl computes in float32)");
            }
        }

        if (graph.Nodes.Count > 1)
        {
            return TryExpandedSoftmax(c);
        }

        if (graph.Nodes.Count == 0 || graph.Nodes[0].Inputs.Count == 0)
        {
            return (null, "no operator with an input");
        }

        var node = graph.Nodes[0];
        if (node.Domain is not ("" or "ai.onnx"))
        {
            return (null, $"operator domain '{node.Domain}'");
        }

        long[] x = Dims(c, node.Inputs[0]);
        return node.OpType switch
        {
            "Gemm" => Gemm(c, node, x),
            "Conv" => Conv(c, node, x),
            "MaxPool" or "AveragePool" => Pool(node, x),
            "BatchNormalization" => BatchNorm(c, node, x),
            "Flatten" => Flatten(node, x),
            "Relu" or "Sigmoid" or "Tanh" => (new ActivationPlan(node.OpType, checked((int)Count(x))), null),
            "Softmax" => Softmax(x, node.Int("axis", c.Model.Opset >= 13 ? -1 : 1), expanded: false),
            "Dropout" => Dropout(c, node, x),
            _ => (null, $"operator {node.OpType}"),
        };
    }

    private static long[] Dims(OnnxCase c, string input) => c.Input(c.DataSets[0], input).Dims;

    private static long Count(long[] dims) => dims.Aggregate(1L, (a, d) => a * d);

    private static string Shape(long[] dims) => $"[{string.Join(",", dims)}]";

    /// <summary>
    /// Dense = Gemm with alpha = beta = 1, transA = 0; transB is a property of the stored weights (transposed on load);
    /// C, if present, must be a bias broadcast over rows only: [N] or [1, N].
    /// </summary>
    private static (OnnxPlan?, string?) Gemm(OnnxCase c, OnnxNode node, long[] a)
    {
        var problems = new List<string>();
        float alpha = node.Float("alpha", 1f), beta = node.Float("beta", 1f);
        long transA = node.Int("transA", 0), transB = node.Int("transB", 0);
        bool hasC = node.Inputs.Count > 2 && node.Inputs[2].Length > 0;
        if (alpha != 1f)
        {
            problems.Add($"alpha={alpha}");
        }

        if (beta != 1f && hasC)
        {
            problems.Add($"beta={beta}");
        }

        if (transA != 0)
        {
            problems.Add("transA=1");
        }

        long[] b = Dims(c, node.Inputs[1]);
        if (a.Length != 2 || b.Length != 2)
        {
            return (null, "Gemm operands are not matrices");
        }

        long m = transA != 0 ? a[1] : a[0], k = transA != 0 ? a[0] : a[1], n = transB != 0 ? b[0] : b[1];
        string? bias = null;
        if (hasC)
        {
            long[] cd = Dims(c, node.Inputs[2]);
            long cCount = Count(cd);
            bool perUnit = (cd.Length == 1 && cd[0] == n) || (cd.Length == 2 && cd[0] == 1 && cd[1] == n) || (n == 1 && cCount == 1 && cd.Length <= 2);
            if (!perUnit)
            {
                problems.Add(cd.Length == 0 ? "scalar C" : $"C of shape {Shape(cd)}");
            }

            bias = node.Inputs[2];
        }

        return problems.Count > 0
            ? (null, string.Join(", ", problems))
            : (new DensePlan(checked((int)m), checked((int)k), checked((int)n), transB != 0, bias), null);
    }

    /// <summary>Conv2D: 2-D, group 1, dilation 1, any strides, padding that is Keras 'valid' or 'same' on both axes.</summary>
    private static (OnnxPlan?, string?) Conv(OnnxCase c, OnnxNode node, long[] x)
    {
        if (x.Length != 4)
        {
            return (null, $"{x.Length - 2}-D convolution");
        }

        long[] w = Dims(c, node.Inputs[1]);
        if (node.Int("group", 1) != 1)
        {
            return (null, $"group={node.Int("group", 1)}");
        }

        if (node.Ints("dilations") is { } dil && dil.Any(d => d != 1))
        {
            return (null, $"dilations [{string.Join(",", dil)}]");
        }

        if (w.Length != 4 || w[1] != x[1])
        {
            return (null, $"weights {Shape(w)} do not match input {Shape(x)}");
        }

        var window = Window(node, x, (int)w[2], (int)w[3], ceil: false);
        if (window.Reason is not null)
        {
            return (null, window.Reason);
        }

        bool hasBias = node.Inputs.Count > 2 && node.Inputs[2].Length > 0;
        return (new ConvPlan((int)x[0], (int)x[1], (int)x[2], (int)x[3], (int)w[0], (int)w[2], (int)w[3], window.SH, window.SW,
            window.Top, window.Left, window.OutH, window.OutW, hasBias, window.Padding!), null);
    }

    /// <summary>
    /// MaxPool2D/AvgPool2D: 2-D, no ceil_mode, no dilation, no indices output, averages excluding padding
    /// (count_include_pad = 0), one stride for both axes (or the window size, the Keras default), and padding that is
    /// Keras 'valid' or 'same' on both axes.
    /// </summary>
    private static (OnnxPlan?, string?) Pool(OnnxNode node, long[] x)
    {
        bool isMax = node.OpType == "MaxPool";
        if (x.Length != 4)
        {
            return (null, $"{x.Length - 2}-D pooling");
        }

        var problems = new List<string>();
        if (node.Outputs.Count > 1 && node.Outputs[1].Length > 0)
        {
            problems.Add(node.Int("storage_order", 0) != 0 ? "argmax indices output (storage_order=1)" : "argmax indices output");
        }

        if (node.Int("ceil_mode", 0) != 0)
        {
            problems.Add("ceil_mode=1");
        }

        if (node.Ints("dilations") is { } dil && dil.Any(d => d != 1))
        {
            problems.Add($"dilations [{string.Join(",", dil)}]");
        }

        if (!isMax && node.Int("count_include_pad", 0) != 0)
        {
            problems.Add("count_include_pad=1");
        }

        var kernel = node.Ints("kernel_shape");
        if (kernel is not { Count: 2 })
        {
            return (null, "kernel_shape missing or not 2-D");
        }

        var window = Window(node, x, (int)kernel[0], (int)kernel[1], ceil: node.Int("ceil_mode", 0) != 0);
        if (window.Reason is not null)
        {
            problems.Add(window.Reason);
        }
        else if (window.SH != window.SW && (window.SH, window.SW) != ((int)kernel[0], (int)kernel[1]))
        {
            problems.Add($"strides [{window.SH},{window.SW}] (one stride for both axes, or the window size)");
        }

        return problems.Count > 0
            ? (null, string.Join("; ", problems))
            : (new PoolPlan(isMax, (int)x[0], (int)x[1], (int)x[2], (int)x[3], (int)kernel[0], (int)kernel[1], window.SH, window.SW,
                window.Top, window.Left, window.OutH, window.OutW, window.Padding!), null);
    }

    private readonly record struct WindowInfo(string? Reason, int SH, int SW, int Top, int Left, int OutH, int OutW, string? Padding);

    /// <summary>
    /// The effective placement of a 2-D window: for each axis, the padding before the first cell and the output size
    /// (ONNX semantics for auto_pad NOTSET/VALID/SAME_UPPER/SAME_LOWER), then whether both axes are Keras 'valid' or
    /// both Keras 'same'. Two paddings with the same (before, output size) compute the same values, since the cells
    /// past the last window are never read, so that pair is what is compared: 'valid' is (0, (in - k) / s + 1) with
    /// (in - k) a multiple of s (NetDsl's Padding.Valid requires a whole output size); 'same' is
    /// (floor(total / 2), ceil(in / s)) with total = max((out - 1) s + k - in, 0), the extra cell at the bottom/right.
    /// </summary>
    private static WindowInfo Window(OnnxNode node, long[] x, int kh, int kw, bool ceil)
    {
        var strides = node.Ints("strides") ?? [1, 1];
        var pads = node.Ints("pads") ?? [0, 0, 0, 0];
        string autoPad = node.String("auto_pad", "NOTSET");
        if (strides.Count != 2 || pads.Count != 4)
        {
            return new WindowInfo("strides/pads not 2-D", 0, 0, 0, 0, 0, 0, null);
        }

        int sh = (int)strides[0], sw = (int)strides[1];
        int inH = (int)x[2], inW = (int)x[3];
        var (top, outH) = Axis(inH, kh, sh, autoPad, (int)pads[0], (int)pads[2], ceil);
        var (left, outW) = Axis(inW, kw, sw, autoPad, (int)pads[1], (int)pads[3], ceil);
        var kindsH = Kinds(inH, kh, sh, top, outH);
        var kindsW = Kinds(inW, kw, sw, left, outW);
        var common = kindsH.Intersect(kindsW).ToList();
        if (common.Count > 0)
        {
            return new WindowInfo(null, sh, sw, top, left, outH, outW, common[0]);
        }

        string how = autoPad == "NOTSET" ? $"pads [{string.Join(",", pads)}]" : $"auto_pad {autoPad}";
        if (kindsH.Count > 0 && kindsW.Count > 0)
        {
            return new WindowInfo($"{how}: '{kindsH[0]}' vertically but '{kindsW[0]}' horizontally", sh, sw, top, left, outH, outW, null);
        }

        if (autoPad == "SAME_LOWER")
        {
            return new WindowInfo("auto_pad SAME_LOWER with odd total padding", sh, sw, top, left, outH, outW, null);
        }

        bool validShape = pads.All(p => p == 0) && autoPad is "NOTSET" or "VALID";
        return validShape
            ? new WindowInfo($"'valid' with output {outH}x{outW} not whole ((in - k) not a multiple of the stride)", sh, sw, top, left, outH, outW, null)
            : new WindowInfo($"{how} give {outH}x{outW} from {inH}x{inW}: neither 'valid' nor 'same'", sh, sw, top, left, outH, outW, null);
    }

    private static (int Before, int Out) Axis(int input, int k, int s, string autoPad, int begin, int end, bool ceil)
    {
        switch (autoPad)
        {
            case "VALID":
                return (0, (input - k) / s + 1);
            case "SAME_UPPER":
            case "SAME_LOWER":
                int outSame = (input + s - 1) / s;
                int total = Math.Max((outSame - 1) * s + k - input, 0);
                return (autoPad == "SAME_UPPER" ? total / 2 : total - total / 2, outSame);
            default:
                int span = input + begin + end - k;
                int o = ceil ? (span + s - 1) / s + 1 : span / s + 1;
                return (begin, o);
        }
    }

    private static List<string> Kinds(int input, int k, int s, int before, int output)
    {
        var kinds = new List<string>();
        if (input >= k && (input - k) % s == 0 && before == 0 && output == (input - k) / s + 1)
        {
            kinds.Add("valid");
        }

        int outSame = (input + s - 1) / s;
        int total = Math.Max((outSame - 1) * s + k - input, 0);
        if (before == total / 2 && output == outSame)
        {
            kinds.Add("same");
        }

        return kinds;
    }

    /// <summary>
    /// BatchNorm per channel of an NCHW batch (after a convolution) or per feature of [N, F] (after a dense layer);
    /// inference with given moving statistics, or training (batch statistics, moving statistics updated with momentum).
    /// </summary>
    private static (OnnxPlan?, string?) BatchNorm(OnnxCase c, OnnxNode node, long[] x)
    {
        if (x.Length is not (2 or 4))
        {
            return (null, $"rank-{x.Length} input (NetDsl normalises [N, F] or [N, C, H, W])");
        }

        bool training = node.Int("training_mode", 0) != 0;
        if (c.Model.Opset < 14 && node.Outputs.Count > 1)
        {
            return (null, "pre-opset-14 training outputs (saved mean/variance)");
        }

        if (node.Int("spatial", 1) != 1)
        {
            return (null, "spatial=0");
        }

        int h = x.Length == 4 ? (int)x[2] : 1, w = x.Length == 4 ? (int)x[3] : 1;
        return (new BatchNormPlan((int)x[0], (int)x[1], h, w, node.Float("epsilon", 1e-5f), node.Float("momentum", 0.9f), training), null);
    }

    /// <summary>Flatten with axis = 1 (keep the batch axis) of an [N, C, H, W] batch.</summary>
    private static (OnnxPlan?, string?) Flatten(OnnxNode node, long[] x)
    {
        long axis = node.Int("axis", 1);
        long normalized = axis < 0 ? axis + x.Length : axis;
        if (normalized != 1)
        {
            return (null, $"axis={axis}");
        }

        return x.Length != 4
            ? (null, $"rank-{x.Length} input (NetDsl flattens [N, C, H, W] images)")
            : (new FlattenPlan((int)x[0], (int)x[1], (int)x[2], (int)x[3]), null);
    }

    /// <summary>
    /// Softmax over the last axis of a 2-D [batch, units] input. Before opset 13 Softmax flattens to 2-D around
    /// <c>axis</c> (default 1); from 13 it is over <c>axis</c> (default -1); on 2-D input with the last axis both agree.
    /// </summary>
    private static (OnnxPlan?, string?) Softmax(long[] x, long axis, bool expanded)
    {
        long normalized = axis < 0 ? axis + x.Length : axis;
        if (x.Length != 2)
        {
            return (null, normalized == x.Length - 1 ? $"{x.Length}-D input {Shape(x)}" : $"{x.Length}-D input, softmax over axis {normalized}");
        }

        if (normalized != 1)
        {
            return (null, $"softmax over axis {normalized} of a 2-D input");
        }

        return (new SoftmaxPlan((int)x[0], (int)x[1], expanded), null);
    }

    /// <summary>
    /// The ONNX function expansion of Softmax-13: Constant(axes), ReduceMax(x, axes, keepdims=1), Sub, Exp,
    /// ReduceSum(keepdims=1), Div, wired exactly so (anything else is not recognised).
    /// </summary>
    private static (OnnxPlan?, string?) TryExpandedSoftmax(OnnxCase c)
    {
        var nodes = c.Model.Graph.Nodes;
        string ops = string.Join(",", nodes.Select(n => n.OpType));
        if (ops != "Constant,ReduceMax,Sub,Exp,ReduceSum,Div" || c.Model.Graph.Inputs.Count != 1 || c.Model.Graph.Outputs.Count != 1)
        {
            return (null, $"graph of {nodes.Count} nodes ({ops})");
        }

        var (constant, max, sub, exp, sum, div) = (nodes[0], nodes[1], nodes[2], nodes[3], nodes[4], nodes[5]);
        string x = c.Model.Graph.Inputs[0].Name;
        var axesTensor = constant.Attributes.TryGetValue("value", out var v) ? v.T : null;
        var maxAxes = max.Ints("axes");
        bool wired =
            max.Inputs.Count == 1 && max.Inputs[0] == x && max.Int("keepdims", 1) == 1 &&
            sub.Inputs.SequenceEqual([x, max.Outputs[0]]) &&
            exp.Inputs.SequenceEqual([sub.Outputs[0]]) &&
            sum.Inputs.SequenceEqual([exp.Outputs[0], constant.Outputs[0]]) && sum.Int("keepdims", 1) == 1 &&
            div.Inputs.SequenceEqual([exp.Outputs[0], sum.Outputs[0]]) &&
            div.Outputs[0] == c.Model.Graph.Outputs[0].Name &&
            maxAxes is { Count: 1 } && axesTensor?.Int64s is { Length: 1 } axes && axes[0] == maxAxes[0];
        if (!wired)
        {
            return (null, $"graph of {nodes.Count} nodes ({ops}) not wired as a softmax");
        }

        var (plan, reason) = Softmax(Dims(c, x), maxAxes![0], expanded: true);
        return (plan, reason);
    }

    /// <summary>
    /// Dropout in inference mode, which is the identity (and an all-true mask, if requested): before opset 7 unless
    /// is_test = 0; opsets 7-11 always (training is the runtime's choice, and these tests run inference); from opset
    /// 12 unless a training_mode input is true.
    /// </summary>
    private static (OnnxPlan?, string?) Dropout(OnnxCase c, OnnxNode node, long[] x)
    {
        if (c.Model.Opset < 7 && node.Int("is_test", 0) == 0)
        {
            return (null, "training mode (is_test=0)");
        }

        if (node.Inputs.Count > 2 && node.Inputs[2].Length > 0)
        {
            var mode = c.Input(c.DataSets[0], node.Inputs[2]);
            if (mode.Int32s is not { Length: 1 } m || m[0] != 0)
            {
                return (null, "training_mode=true (random mask)");
            }
        }

        bool mask = node.Outputs.Count > 1 && node.Outputs[1].Length > 0;
        return (new DropoutPlan(checked((int)Count(x)), mask), null);
    }
}

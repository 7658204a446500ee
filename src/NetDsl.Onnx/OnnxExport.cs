using Google.Protobuf;
using NetDsl.IO;
using NetDsl.Onnx.Schema;

namespace NetDsl.Onnx;

/// <summary>
/// Writes a NetDsl network (sequential or graph) as an ONNX model with its weights, computing what
/// <c>Predict</c> computes: inference semantics (BatchNorm on its moving statistics, dropout off) and the
/// output activation the loss implies (class probabilities for a classifier whose head gives logits). The model takes
/// <c>[N, C, H, W]</c> (or <c>[N, features]</c>) with a symbolic batch dimension, uses opset 13 of the default domain,
/// and names every tensor by the layer path (<c>Layer3[1].Conv2.kernel</c>), so the file reads like the declaration.
/// </summary>
public static class OnnxExport
{
    /// <summary>The opset the exporter writes.</summary>
    public const int Opset = 13;

    /// <summary>Writes the network to <paramref name="path"/> (atomically: a previous file stays intact until the new one is complete).</summary>
    public static void ExportOnnx(this Network network, string path)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var model = ToOnnx(network);
        AtomicFile.Write(path, stream => model.WriteTo(stream));
    }

    /// <summary>Writes the network to <paramref name="stream"/> (not closed).</summary>
    public static void ExportOnnx(this Network network, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(stream);
        ToOnnx(network).WriteTo(stream);
    }

    /// <summary>The network as an ONNX model.</summary>
    public static ModelProto ToOnnx(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        var graph = new GraphProto { Name = network.GetType().Name };
        var layers = network.Layers;
        int[] inputShape = InputShape(network);
        graph.Input.Add(Value("input", inputShape));
        var outputs = new string[layers.Count];
        string Source(Layer layer, int i) => layer.Sources[i] is { } s ? outputs[s.Index] : "input";

        foreach (var layer in layers)
        {
            string x = Source(layer, 0);
            string y = layer.Name;
            switch (layer)
            {
                case Conv2DLayer conv:
                {
                    var (top, bottom) = Pads(conv.Padding, conv.PadHeight, inputOf(conv)[1], conv.OutputShape[1], conv.KernelHeight, conv.StrideHeight);
                    var (left, right) = Pads(conv.Padding, conv.PadWidth, inputOf(conv)[2], conv.OutputShape[2], conv.KernelWidth, conv.StrideWidth);
                    graph.Initializer.Add(Tensor($"{layer.Name}.kernel", OnnxLayout.Kernel(conv.Weights, conv.Filters, conv.InputChannels, conv.KernelHeight, conv.KernelWidth, toOnnx: true),
                        conv.Filters, conv.InputChannels, conv.KernelHeight, conv.KernelWidth));
                    var node = Node("Conv", layer.Name, [x, $"{layer.Name}.kernel"], Core(layer, y));
                    if (conv.UseBias)
                    {
                        graph.Initializer.Add(Tensor($"{layer.Name}.bias", conv.Bias.ToArray(), conv.Filters));
                        node.Input.Add($"{layer.Name}.bias");
                    }

                    node.Attribute.Add(Ints("kernel_shape", conv.KernelHeight, conv.KernelWidth));
                    node.Attribute.Add(Ints("strides", conv.StrideHeight, conv.StrideWidth));
                    node.Attribute.Add(Ints("pads", top, left, bottom, right));
                    graph.Node.Add(node);
                    AddActivation(graph, layer, conv.Activation, y);
                    break;
                }

                case BatchNormLayer bn:
                {
                    string[] names = ["gamma", "beta", "moving_mean", "moving_variance"];
                    float[][] values = [bn.Gamma.ToArray(), bn.Beta.ToArray(), bn.MovingMean.ToArray(), bn.MovingVariance.ToArray()];
                    var node = Node("BatchNormalization", layer.Name, [x], y);
                    for (int i = 0; i < 4; i++)
                    {
                        graph.Initializer.Add(Tensor($"{layer.Name}.{names[i]}", values[i], bn.Channels));
                        node.Input.Add($"{layer.Name}.{names[i]}");
                    }

                    node.Attribute.Add(new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = bn.Epsilon });
                    graph.Node.Add(node);
                    break;
                }

                case DenseLayer dense:
                {
                    string flat = x;
                    if (inputOf(dense).Length > 1)
                    {
                        flat = $"{layer.Name}.flattened";
                        graph.Node.Add(Node("Flatten", flat, [x], flat));
                    }

                    graph.Initializer.Add(Tensor($"{layer.Name}.kernel", OnnxLayout.DenseRows(dense, dense.Weights.ToArray(), toOnnx: true), dense.Inputs, dense.Units));
                    var node = Node("Gemm", layer.Name, [flat, $"{layer.Name}.kernel"], Core(layer, y));
                    if (dense.UseBias)
                    {
                        graph.Initializer.Add(Tensor($"{layer.Name}.bias", dense.Bias.ToArray(), dense.Units));
                        node.Input.Add($"{layer.Name}.bias");
                    }

                    graph.Node.Add(node);
                    AddActivation(graph, layer, dense.Activation, y);
                    break;
                }

                case PoolingLayer pool when pool.IsGlobal:
                    if (pool.OutputShape.Length == 1)
                    {
                        // NetDsl's global pool gives C features; ONNX's gives [N, C, 1, 1]: flatten it.
                        graph.Node.Add(Node("GlobalAveragePool", layer.Name, [x], $"{layer.Name}.pooled"));
                        graph.Node.Add(Node("Flatten", $"{layer.Name}.flatten", [$"{layer.Name}.pooled"], y));
                    }
                    else
                    {
                        graph.Node.Add(Node("GlobalAveragePool", layer.Name, [x], y));
                    }

                    break;
                case PoolingLayer pool:
                {
                    var (top, bottom) = Pads(pool.Padding, pool.PadHeight, inputOf(pool)[1], pool.OutputShape[1], pool.PoolHeight, pool.StrideHeight);
                    var (left, right) = Pads(pool.Padding, pool.PadWidth, inputOf(pool)[2], pool.OutputShape[2], pool.PoolWidth, pool.StrideWidth);
                    var node = Node(pool.IsMax ? "MaxPool" : "AveragePool", layer.Name, [x], y);
                    node.Attribute.Add(Ints("kernel_shape", pool.PoolHeight, pool.PoolWidth));
                    node.Attribute.Add(Ints("strides", pool.StrideHeight, pool.StrideWidth));
                    node.Attribute.Add(Ints("pads", top, left, bottom, right));
                    if (pool.CeilMode)
                    {
                        node.Attribute.Add(Int("ceil_mode", 1));
                    }

                    graph.Node.Add(node); // AveragePool's default count_include_pad = 0: padding is not counted, as in NetDsl
                    break;
                }

                case ZeroPaddingLayer pad:
                {
                    graph.Initializer.Add(new TensorProto { Name = $"{layer.Name}.pads", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 8 }, Int64Data = { 0, 0, pad.Top, pad.Left, 0, 0, pad.Bottom, pad.Right } });
                    graph.Node.Add(Node("Pad", layer.Name, [x, $"{layer.Name}.pads"], y));
                    break;
                }

                case LocalResponseNormalizationLayer lrn:
                {
                    var node = Node("LRN", layer.Name, [x], y);
                    node.Attribute.Add(Int("size", lrn.Size));
                    node.Attribute.Add(new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Float, F = lrn.Alpha });
                    node.Attribute.Add(new AttributeProto { Name = "beta", Type = AttributeProto.Types.AttributeType.Float, F = lrn.Beta });
                    node.Attribute.Add(new AttributeProto { Name = "bias", Type = AttributeProto.Types.AttributeType.Float, F = lrn.Bias });
                    graph.Node.Add(node);
                    break;
                }

                case MergeLayer merge:
                {
                    string[] inputs = [.. Enumerable.Range(0, merge.Sources.Count).Select(i => Source(merge, i))];
                    var node = merge.Concatenates
                        ? Node("Concat", layer.Name, inputs, y)
                        : Node("Sum", layer.Name, inputs, Core(layer, y));
                    if (merge.Concatenates)
                    {
                        node.Attribute.Add(Int("axis", 1));
                    }

                    graph.Node.Add(node);
                    if (!merge.Concatenates)
                    {
                        AddActivation(graph, layer, merge.Activation, y);
                    }

                    break;
                }

                case ActivationLayer activation:
                    AddActivation(graph, layer, activation.Activation, y, x);
                    break;
                case FlattenLayer:
                    graph.Node.Add(Node("Flatten", layer.Name, [x], y));
                    break;
                case DropoutLayer:
                    graph.Node.Add(Node("Identity", layer.Name, [x], y)); // inference: dropout is off
                    break;
                default:
                    throw new NotSupportedException($"Layer '{layer.Name}' ({layer.Kind}) has no ONNX export.");
            }

            outputs[layer.Index] = y;
        }

        // Predict's output: the loss's activation on a head that gives logits (a classifier's softmax or sigmoid).
        var last = layers[^1];
        string output = outputs[last.Index];
        var head = HeadActivation(network.Loss, last);
        if (head is { } extra)
        {
            AddActivation(graph, last, extra, "output", output, name: "output");
            output = "output";
        }

        graph.Output.Add(Value(output, [.. last.OutputShape.ToArray()]));
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "NetDsl",
            ProducerVersion = typeof(Network).Assembly.GetName().Version?.ToString() ?? "",
            Graph = graph,
            DocString = $"{network.GetType().FullName}: exported by NetDsl (inference semantics, as Predict).",
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;

        int[] inputOf(Layer layer) => layer.Sources[0] is { } s ? s.OutputShape.ToArray() : inputShape;
    }

    /// <summary>What Predict applies after the last layer, if the last layer does not: softmax or sigmoid for the cross-entropies.</summary>
    internal static Activation? HeadActivation(Loss loss, Layer last)
    {
        var own = OnnxLayout.OutputActivation(last);
        var wanted = loss switch
        {
            Loss.SparseCategoricalCrossEntropy or Loss.CategoricalCrossEntropy => Activation.Softmax,
            Loss.BinaryCrossEntropy => Activation.Sigmoid,
            _ => own,
        };
        return wanted == own ? null : wanted;
    }

    private static int[] InputShape(Network network) => network.InputShape.ToArray();

    /// <summary>The output name of a layer's core op: its own name when no activation follows, else a name for the pre-activation.</summary>
    private static string Core(Layer layer, string y) => HasActivation(layer) ? $"{layer.Name}.preactivation" : y;

    private static bool HasActivation(Layer layer) => OnnxLayout.FusedActivation(layer) != Activation.Linear;

    private static void AddActivation(GraphProto graph, Layer layer, Activation activation, string y, string? input = null, string? name = null)
    {
        input ??= Core(layer, y);
        if (input == y)
        {
            return; // no activation: the core op wrote y
        }

        string op = OnnxLayout.OpType(activation);
        var node = Node(op, name ?? $"{layer.Name}.{op.ToLowerInvariant()}", [input], y);
        if (activation == Activation.Softmax)
        {
            node.Attribute.Add(Int("axis", layer.OutputShape.Length == 1 ? 1 : -1));
        }

        graph.Node.Add(node);
    }

    /// <summary>ONNX <c>pads</c> (begin, end) for one dimension: Keras 'same' from the shapes (the extra row at the end), else the symmetric amount.</summary>
    private static (int Begin, int End) Pads(Padding padding, int explicitPad, int input, int output, int window, int stride)
    {
        if (padding == Padding.Same)
        {
            int total = Math.Max((output - 1) * stride + window - input, 0);
            return (total / 2, total - total / 2);
        }

        return (explicitPad, explicitPad);
    }

    private static NodeProto Node(string op, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static TensorProto Tensor(string name, float[] values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length); // little-endian on every platform .NET runs NetDsl on
        tensor.RawData = ByteString.CopyFrom(bytes);
        return tensor;
    }

    private static ValueInfoProto Value(string name, int[] shape)
    {
        var type = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = new TensorShapeProto() };
        type.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        foreach (int d in shape)
        {
            type.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = type } };
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }
}

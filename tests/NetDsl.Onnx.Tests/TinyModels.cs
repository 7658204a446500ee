using Google.Protobuf;
using NetDsl.Onnx.Schema;
using DataType = NetDsl.Onnx.Schema.TensorProto.Types.DataType;

namespace NetDsl.Onnx.Tests;

/// <summary>Small valid ONNX models built in code: every kind of thing the reader checks appears at least once.</summary>
internal static class TinyModels
{
    /// <summary>Conv (raw_data weights, float_data bias) -> BatchNormalization (float_data) -> Relu -> GlobalAveragePool,
    /// plus a Constant with a tensor attribute, an INT64 initializer and an If whose branches read an outer name.</summary>
    public static ModelProto ConvNet()
    {
        var graph = new GraphProto { Name = "tiny" };
        graph.Input.Add(TensorInfo("x", 1, 2, 5, 5));
        graph.Initializer.Add(RawFloats("conv.W", [3, 2, 3, 3], seed: 1));
        graph.Initializer.Add(Floats("conv.B", [3], 0.1f, -0.2f, 0.3f));
        graph.Initializer.Add(Floats("bn.scale", [3], 1f, 2f, 0.5f));
        graph.Initializer.Add(Floats("bn.B", [3], 0f, 0.1f, 0.2f));
        graph.Initializer.Add(Floats("bn.mean", [3], 0.01f, 0.02f, 0.03f));
        graph.Initializer.Add(Floats("bn.var", [3], 1f, 1.5f, 2f));
        var shape = new TensorProto { Name = "shape", DataType = (int)DataType.Int64 };
        shape.Dims.Add(2);
        shape.Int64Data.Add([1, 3]);
        graph.Initializer.Add(shape);

        graph.Node.Add(Node("Conv", "conv1", ["x", "conv.W", "conv.B"], ["c"],
            Ints("kernel_shape", 3, 3), Ints("strides", 1, 1), Ints("pads", 1, 1, 1, 1)));
        graph.Node.Add(Node("BatchNormalization", "bn1", ["c", "bn.scale", "bn.B", "bn.mean", "bn.var"], ["n"],
            new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = 1e-5f }));
        graph.Node.Add(Node("Relu", "relu1", ["n"], ["r"]));
        graph.Node.Add(Node("GlobalAveragePool", "", ["r"], ["g"]));
        graph.Node.Add(Node("Reshape", "flat", ["g", "shape"], ["f"]));
        graph.Node.Add(Node("Constant", "one", [], ["k"],
            new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = Floats("", [1], 1f) }));
        graph.Node.Add(Node("Greater", "", ["k", "k"], ["cond"]));
        graph.Node.Add(Node("If", "branch", ["cond"], ["y"],
            new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("then", "Identity") },
            new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("else", "Neg") }));
        graph.Output.Add(TensorInfo("y", 1, 3));

        var model = new ModelProto { IrVersion = 8, ProducerName = "NetDsl.Onnx.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model;
    }

    public static byte[] ConvNetBytes() => ConvNet().ToByteArray();

    public static TensorProto RawFloats(string name, long[] dims, int seed)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float };
        t.Dims.Add(dims);
        long count = dims.Aggregate(1L, (a, b) => a * b);
        var values = new float[count];
        var random = new Random(seed);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(random.NextDouble() - 0.5);
        }

        var bytes = new byte[count * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        t.RawData = ByteString.CopyFrom(bytes);
        return t;
    }

    public static TensorProto Floats(string name, long[] dims, params float[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)DataType.Float };
        t.Dims.Add(dims);
        t.FloatData.Add(values);
        return t;
    }

    public static ValueInfoProto TensorInfo(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = shape } },
        };
    }

    public static NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        node.Attribute.Add(attributes);
        return node;
    }

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(values);
        return a;
    }

    /// <summary>A branch reading the outer graph's <c>f</c>.</summary>
    private static GraphProto Branch(string name, string op)
    {
        var g = new GraphProto { Name = name };
        g.Node.Add(Node(op, "", ["f"], [name + "_out"]));
        g.Output.Add(TensorInfo(name + "_out", 1, 3));
        return g;
    }
}

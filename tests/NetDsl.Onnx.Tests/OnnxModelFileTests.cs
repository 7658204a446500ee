using Google.Protobuf;
using NetDsl.Onnx.Schema;
using Xunit;
using DataType = NetDsl.Onnx.Schema.TensorProto.Types.DataType;

namespace NetDsl.Onnx.Tests;

public class OnnxModelFileTests
{
    [Fact]
    public void Reads_a_valid_model_and_its_floats()
    {
        var file = OnnxModelFile.Read(TinyModels.ConvNetBytes(), "tiny.onnx");

        Assert.Equal(13, file.OpsetVersion);
        Assert.Equal(["Conv", "BatchNormalization", "Relu", "GlobalAveragePool", "Reshape", "Constant", "Greater", "If"],
            file.Graph.Node.Select(n => n.OpType));
        Assert.Equal([3L, 2, 3, 3], OnnxModelFile.Dims(file.Initializer("conv.W")));
        Assert.Equal(54, OnnxModelFile.ReadFloats(file.Initializer("conv.W")).Length);
        Assert.Equal([1f, 2f, 0.5f], OnnxModelFile.ReadFloats(file.Initializer("bn.scale")));
        Assert.Equal(TinyModels.ConvNet().Graph.Initializer[0].RawData.ToByteArray(),
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(OnnxModelFile.ReadFloats(file.Initializer("conv.W")).AsSpan()).ToArray());
        Assert.Throws<KeyNotFoundException>(() => file.Initializer("nope"));
    }

    [Fact]
    public void Reads_from_files_and_unseekable_streams()
    {
        byte[] bytes = TinyModels.ConvNetBytes();
        string path = Path.Combine(Path.GetTempPath(), $"netdsl-onnx-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        try
        {
            Assert.Equal(8, OnnxModelFile.Read(path).Graph.Node.Count);
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Equal(8, OnnxModelFile.Read(new TrickleStream(bytes), "trickle").Graph.Node.Count);
    }

    [Fact]
    public void Refuses_files_above_the_size_limit_before_parsing()
    {
        byte[] bytes = TinyModels.ConvNetBytes();
        var options = new OnnxReadOptions { MaxBytes = bytes.Length - 1 };
        Assert.Contains("above the limit", Assert.Throws<InvalidDataException>(() => OnnxModelFile.Read(bytes, "m", options)).Message);
        Assert.Contains("above the limit", Assert.Throws<InvalidDataException>(() => OnnxModelFile.Read(new MemoryStream(bytes), "m", options)).Message);
        Assert.Contains($"more than {bytes.Length - 1} bytes",
            Assert.Throws<InvalidDataException>(() => OnnxModelFile.Read(new TrickleStream(bytes), "m", options)).Message);
    }

    [Fact]
    public void Refuses_nesting_beyond_the_recursion_limit()
    {
        // Graphs in If attributes in graphs: each level is three protobuf messages deep.
        var model = TinyModels.ConvNet();
        var inner = model.Graph.Node.Last().Attribute[0].G;
        for (int i = 0; i < 40; i++)
        {
            var wrapper = new GraphProto { Name = $"level{i}" };
            wrapper.Node.Add(TinyModels.Node("If", "", ["cond"], [$"o{i}"],
                new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = inner }));
            wrapper.Output.Add(TinyModels.TensorInfo($"o{i}", 1, 3));
            inner = wrapper;
        }

        model.Graph.Node.Last().Attribute[0].G = inner;
        byte[] bytes = model.ToByteArray();
        var protobuf = Assert.Throws<InvalidDataException>(() => OnnxModelFile.Read(bytes, "deep"));
        Assert.Contains("malformed protobuf", protobuf.Message);
        var graphs = Assert.Throws<InvalidDataException>(() => OnnxModelFile.Read(bytes, "deep", new OnnxReadOptions { MaxRecursionDepth = 1000 }));
        Assert.Contains("above the limit of 16 (OnnxReadOptions.MaxGraphDepth)", graphs.Message);
    }

    public static TheoryData<string, string> Broken => new()
    {
        { "negative dim", "initializer 'conv.W' has a negative dimension: dims [3, -2, 3, 3]" },
        { "short raw_data", "initializer 'conv.W': raw_data has 212 bytes, but dims [3, 2, 3, 3] of FLOAT need 216" },
        { "float_data count", "initializer 'bn.var': float_data has 2 values, but dims [3] of FLOAT need 3" },
        { "two data fields", "initializer 'bn.B' has data in both raw_data and float_data" },
        { "wrong typed field", "initializer 'shape' is INT64 but has its data in float_data (expected int64_data or raw_data)" },
        { "unknown data type", "initializer 'bn.mean' has unknown data_type 99" },
        { "external data", "initializer 'conv.W' keeps its data in an external file (location 'weights.bin')" },
        { "huge dims", "initializer 'conv.W' has dims [4294967296, 4294967296], more elements than any model file can hold" },
        { "duplicate initializer", "initializer 'bn.B' is defined twice" },
        { "undefined input", "node #1 ('BatchNormalization' named 'bn1') reads 'missing', which no graph input, initializer or earlier node defines" },
        { "nodes out of order", "node #1 ('Relu' named 'relu1') reads 'n', which no graph input, initializer or earlier node defines" },
        { "output twice", "node #2 ('Relu' named 'relu1') writes 'c', which is already defined" },
        { "attribute without value", "node #0 ('Conv' named 'conv1'), attribute 'strides' is declared INT but has no such value" },
        { "tensor attribute", "node #5 ('Constant' named 'one'), attribute 'value' (tensor) has no data, but dims [1] of FLOAT need 1 values" },
        { "subgraph reads unknown", "attribute 'else_branch' (graph): node #0 ('Neg' writing 'else_out') reads 'nowhere'" },
        { "no ir_version", "it has no ir_version" },
        { "future ir_version", "ir_version 99 is outside the versions this reader knows (3..13" },
        { "no default opset", "opset_import has no entry for the default ONNX domain" },
        { "no graph", "it has no graph" },
        { "dangling output", "output 'ghost' is produced by no node, input or initializer" },
        { "negative input dim", "input 'x' has a negative dimension (-5)" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Rejects_a_broken_model_naming_what_is_wrong(string breakage, string expected)
    {
        var model = TinyModels.ConvNet();
        var g = model.Graph;
        TensorProto Init(string name) => g.Initializer.Single(t => t.Name == name);
        switch (breakage)
        {
            case "negative dim": Init("conv.W").Dims[1] = -2; break;
            case "short raw_data": Init("conv.W").RawData = ByteString.CopyFrom(new byte[212]); break;
            case "float_data count": Init("bn.var").FloatData.RemoveAt(2); break;
            case "two data fields": Init("bn.B").RawData = ByteString.CopyFrom(new byte[12]); break;
            case "wrong typed field": Init("shape").Int64Data.Clear(); Init("shape").FloatData.Add([1f, 3f]); break;
            case "unknown data type": Init("bn.mean").DataType = 99; break;
            case "external data":
                Init("conv.W").DataLocation = TensorProto.Types.DataLocation.External;
                Init("conv.W").ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
                break;
            case "huge dims": Init("conv.W").Dims.Clear(); Init("conv.W").Dims.Add([1L << 32, 1L << 32]); break;
            case "duplicate initializer": g.Initializer.Add(Init("bn.B").Clone()); break;
            case "undefined input": g.Node[1].Input[0] = "missing"; break;
            case "nodes out of order": (g.Node[1], g.Node[2]) = (g.Node[2], g.Node[1]); break;
            case "output twice": g.Node[2].Output[0] = "c"; break;
            case "attribute without value": g.Node[0].Attribute[1].Type = AttributeProto.Types.AttributeType.Int; break;
            case "tensor attribute": g.Node[5].Attribute[0].T.FloatData.Clear(); break;
            case "subgraph reads unknown": g.Node[7].Attribute[1].G.Node[0].Input[0] = "nowhere"; break;
            case "no ir_version": model.ClearIrVersion(); break;
            case "future ir_version": model.IrVersion = 99; break;
            case "no default opset": model.OpsetImport[0].Domain = "com.example"; break;
            case "no graph": model.Graph = null; break;
            case "dangling output": g.Output.Add(TinyModels.TensorInfo("ghost", 1)); break;
            case "negative input dim": g.Input[0].Type.TensorType.Shape.Dim[2].DimValue = -5; break;
            default: throw new ArgumentException(breakage);
        }

        var e = Assert.Throws<InvalidDataException>(() => OnnxModelFile.Read(model.ToByteArray(), "broken.onnx"));
        Assert.StartsWith("'broken.onnx' is not a valid ONNX model: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Rejects_bytes_that_are_not_protobuf()
    {
        var e = Assert.Throws<InvalidDataException>(() => OnnxModelFile.Read("not an onnx model at all"u8.ToArray(), "text"));
        Assert.StartsWith("'text' is not a valid ONNX model: ", e.Message);
        Assert.Contains("it has no ir_version", Assert.Throws<InvalidDataException>(() => OnnxModelFile.Read([], "empty")).Message);
    }

    /// <summary>An unseekable stream that hands out at most 7 bytes per read.</summary>
    internal sealed class TrickleStream(byte[] bytes) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(Math.Min(count, 7), bytes.Length - _position);
            Array.Copy(bytes, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

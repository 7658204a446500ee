using System.Buffers.Binary;

namespace NetDsl.Tests.Onnx;

/// <summary>ONNX <c>TensorProto.DataType</c> values this harness names.</summary>
public enum OnnxDataType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
}

/// <summary>ONNX <c>AttributeProto.AttributeType</c>.</summary>
public enum OnnxAttributeType
{
    Undefined = 0,
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Graph = 5,
    Floats = 6,
    Ints = 7,
    Strings = 8,
    Tensors = 9,
    Graphs = 10,
    SparseTensor = 11,
    SparseTensors = 12,
    TypeProto = 13,
    TypeProtos = 14,
}

/// <summary>A decoded <c>TensorProto</c>: dims, element type and the values of the supported types.</summary>
public sealed class OnnxTensor
{
    public string Name { get; init; } = "";

    public long[] Dims { get; init; } = [];

    public OnnxDataType DataType { get; init; }

    /// <summary>The values of a FLOAT tensor (from float_data or raw_data).</summary>
    public float[]? Floats { get; init; }

    /// <summary>The values of an INT64 tensor.</summary>
    public long[]? Int64s { get; init; }

    /// <summary>The values of a BOOL, INT8, UINT8, INT16, UINT16 or INT32 tensor, widened.</summary>
    public int[]? Int32s { get; init; }

    /// <summary>The values of a DOUBLE tensor.</summary>
    public double[]? Doubles { get; init; }

    /// <summary>The number of elements the dims describe (1 for a scalar).</summary>
    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);

    /// <summary>The float values; throws for any other element type.</summary>
    public float[] AsFloats() => Floats ?? throw new InvalidOperationException($"Tensor '{Name}' is {DataType}, not FLOAT.");
}

/// <summary>A graph input or output: name, element type and dims (null for a symbolic dim).</summary>
public sealed record OnnxValueInfo(string Name, OnnxDataType ElementType, long?[]? Dims);

/// <summary>A decoded <c>AttributeProto</c> (graph and sparse payloads are only noted, not decoded).</summary>
public sealed class OnnxAttribute
{
    public string Name { get; init; } = "";

    public OnnxAttributeType Type { get; init; }

    public float F { get; init; }

    public long I { get; init; }

    public string S { get; init; } = "";

    public OnnxTensor? T { get; init; }

    public IReadOnlyList<float> Floats { get; init; } = [];

    public IReadOnlyList<long> Ints { get; init; } = [];

    public IReadOnlyList<string> Strings { get; init; } = [];

    public override string ToString() => Type switch
    {
        OnnxAttributeType.Float => $"{Name}={F}",
        OnnxAttributeType.Int => $"{Name}={I}",
        OnnxAttributeType.String => $"{Name}=\"{S}\"",
        OnnxAttributeType.Floats => $"{Name}=[{string.Join(",", Floats)}]",
        OnnxAttributeType.Ints => $"{Name}=[{string.Join(",", Ints)}]",
        OnnxAttributeType.Strings => $"{Name}=[{string.Join(",", Strings)}]",
        _ => $"{Name}:{Type}",
    };
}

/// <summary>A decoded <c>NodeProto</c>.</summary>
public sealed class OnnxNode
{
    public string OpType { get; init; } = "";

    public string Domain { get; init; } = "";

    public string Name { get; init; } = "";

    /// <summary>Input names; an empty name is an omitted optional input.</summary>
    public IReadOnlyList<string> Inputs { get; init; } = [];

    public IReadOnlyList<string> Outputs { get; init; } = [];

    public IReadOnlyDictionary<string, OnnxAttribute> Attributes { get; init; } = new Dictionary<string, OnnxAttribute>();

    public long Int(string name, long fallback) => Attributes.TryGetValue(name, out var a) ? a.I : fallback;

    public float Float(string name, float fallback) => Attributes.TryGetValue(name, out var a) ? a.F : fallback;

    public string String(string name, string fallback) => Attributes.TryGetValue(name, out var a) ? a.S : fallback;

    public IReadOnlyList<long>? Ints(string name) => Attributes.TryGetValue(name, out var a) ? a.Ints : null;

    /// <summary>The inputs actually given (omitted optional inputs have empty names).</summary>
    public int GivenInputs => Inputs.Count(i => i.Length > 0);

    public override string ToString() =>
        $"{OpType}({string.Join(", ", Inputs)}) -> ({string.Join(", ", Outputs)}) {{{string.Join(", ", Attributes.Values)}}}";
}

/// <summary>A decoded <c>GraphProto</c>.</summary>
public sealed class OnnxGraph
{
    public string Name { get; init; } = "";

    public IReadOnlyList<OnnxNode> Nodes { get; init; } = [];

    public IReadOnlyList<OnnxTensor> Initializers { get; init; } = [];

    public IReadOnlyList<OnnxValueInfo> Inputs { get; init; } = [];

    public IReadOnlyList<OnnxValueInfo> Outputs { get; init; } = [];
}

/// <summary>A decoded <c>ModelProto</c>: the IR version, the operator-set imports and the graph.</summary>
public sealed class OnnxModel
{
    public long IrVersion { get; init; }

    /// <summary>Operator-set version per domain ("" is the default ONNX domain).</summary>
    public IReadOnlyDictionary<string, long> Opsets { get; init; } = new Dictionary<string, long>();

    public OnnxGraph Graph { get; init; } = new();

    /// <summary>The default-domain operator-set version (ONNX semantics of Softmax, Dropout, ... depend on it).</summary>
    public long Opset => Opsets.TryGetValue("", out long v) ? v : Opsets.TryGetValue("ai.onnx", out v) ? v : 0;
}

/// <summary>
/// Decodes the subset of onnx.proto the conformance harness needs from the protobuf wire format. Field numbers follow
/// onnx.proto (IR version 8); unknown fields are skipped, as protobuf requires.
/// </summary>
public static class OnnxDecoder
{
    /// <summary>Reads a ModelProto file.</summary>
    public static OnnxModel LoadModel(string path) => DecodeModel(File.ReadAllBytes(path), path);

    /// <summary>Reads a TensorProto file (a test_data_set input or output).</summary>
    public static OnnxTensor LoadTensor(string path) => DecodeTensor(File.ReadAllBytes(path), path);

    public static OnnxModel DecodeModel(ReadOnlySpan<byte> bytes, string source)
    {
        var r = new ProtoReader(bytes, source);
        long ir = 0;
        var opsets = new Dictionary<string, long>();
        OnnxGraph? graph = null;
        while (r.TryReadTag(out int field, out WireType wt))
        {
            switch (field)
            {
                case 1:
                    r.Expect(wt, WireType.Varint, "ModelProto.ir_version");
                    ir = r.ReadInt64();
                    break;
                case 7:
                    r.Expect(wt, WireType.LengthDelimited, "ModelProto.graph");
                    var g = r.ReadMessage();
                    graph = ReadGraph(ref g);
                    break;
                case 8:
                    r.Expect(wt, WireType.LengthDelimited, "ModelProto.opset_import");
                    var o = r.ReadMessage();
                    var (domain, version) = ReadOpset(ref o);
                    opsets[domain] = version;
                    break;
                default:
                    r.Skip(wt);
                    break;
            }
        }

        if (graph is null)
        {
            throw new InvalidDataException($"{source}: the ModelProto has no graph.");
        }

        return new OnnxModel { IrVersion = ir, Opsets = opsets, Graph = graph };
    }

    public static OnnxTensor DecodeTensor(ReadOnlySpan<byte> bytes, string source)
    {
        var r = new ProtoReader(bytes, source);
        return ReadTensor(ref r);
    }

    private static (string Domain, long Version) ReadOpset(ref ProtoReader r)
    {
        string domain = "";
        long version = 0;
        while (r.TryReadTag(out int field, out WireType wt))
        {
            switch (field)
            {
                case 1:
                    r.Expect(wt, WireType.LengthDelimited, "OperatorSetIdProto.domain");
                    domain = r.ReadString();
                    break;
                case 2:
                    r.Expect(wt, WireType.Varint, "OperatorSetIdProto.version");
                    version = r.ReadInt64();
                    break;
                default:
                    r.Skip(wt);
                    break;
            }
        }

        return (domain, version);
    }

    private static OnnxGraph ReadGraph(ref ProtoReader r)
    {
        string name = "";
        var nodes = new List<OnnxNode>();
        var initializers = new List<OnnxTensor>();
        var inputs = new List<OnnxValueInfo>();
        var outputs = new List<OnnxValueInfo>();
        while (r.TryReadTag(out int field, out WireType wt))
        {
            switch (field)
            {
                case 1:
                    r.Expect(wt, WireType.LengthDelimited, "GraphProto.node");
                    var n = r.ReadMessage();
                    nodes.Add(ReadNode(ref n));
                    break;
                case 2:
                    r.Expect(wt, WireType.LengthDelimited, "GraphProto.name");
                    name = r.ReadString();
                    break;
                case 5:
                    r.Expect(wt, WireType.LengthDelimited, "GraphProto.initializer");
                    var t = r.ReadMessage();
                    initializers.Add(ReadTensor(ref t));
                    break;
                case 11:
                case 12:
                    r.Expect(wt, WireType.LengthDelimited, "GraphProto.input/output");
                    var v = r.ReadMessage();
                    (field == 11 ? inputs : outputs).Add(ReadValueInfo(ref v));
                    break;
                default:
                    r.Skip(wt);
                    break;
            }
        }

        return new OnnxGraph { Name = name, Nodes = nodes, Initializers = initializers, Inputs = inputs, Outputs = outputs };
    }

    private static OnnxNode ReadNode(ref ProtoReader r)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attributes = new Dictionary<string, OnnxAttribute>();
        string opType = "", domain = "", name = "";
        while (r.TryReadTag(out int field, out WireType wt))
        {
            switch (field)
            {
                case 1:
                case 2:
                case 3:
                case 4:
                case 7:
                    r.Expect(wt, WireType.LengthDelimited, "a NodeProto string");
                    string s = r.ReadString();
                    switch (field)
                    {
                        case 1: inputs.Add(s); break;
                        case 2: outputs.Add(s); break;
                        case 3: name = s; break;
                        case 4: opType = s; break;
                        default: domain = s; break;
                    }

                    break;
                case 5:
                    r.Expect(wt, WireType.LengthDelimited, "NodeProto.attribute");
                    long at = r.Offset;
                    var a = r.ReadMessage();
                    var attribute = ReadAttribute(ref a);
                    if (!attributes.TryAdd(attribute.Name, attribute))
                    {
                        throw r.Error($"duplicate attribute '{attribute.Name}'", at);
                    }

                    break;
                default:
                    r.Skip(wt);
                    break;
            }
        }

        return new OnnxNode { OpType = opType, Domain = domain, Name = name, Inputs = inputs, Outputs = outputs, Attributes = attributes };
    }

    private static OnnxAttribute ReadAttribute(ref ProtoReader r)
    {
        string name = "", s = "";
        var type = OnnxAttributeType.Undefined;
        float f = 0;
        long i = 0;
        OnnxTensor? t = null;
        var floats = new List<float>();
        var ints = new List<long>();
        var strings = new List<string>();
        while (r.TryReadTag(out int field, out WireType wt))
        {
            switch (field)
            {
                case 1:
                    r.Expect(wt, WireType.LengthDelimited, "AttributeProto.name");
                    name = r.ReadString();
                    break;
                case 2:
                    r.Expect(wt, WireType.Fixed32, "AttributeProto.f");
                    f = r.ReadFloat();
                    break;
                case 3:
                    r.Expect(wt, WireType.Varint, "AttributeProto.i");
                    i = r.ReadInt64();
                    break;
                case 4:
                    r.Expect(wt, WireType.LengthDelimited, "AttributeProto.s");
                    s = r.ReadString();
                    break;
                case 5:
                    r.Expect(wt, WireType.LengthDelimited, "AttributeProto.t");
                    var tr = r.ReadMessage();
                    t = ReadTensor(ref tr);
                    break;
                case 7:
                    r.ReadRepeatedFloat(wt, floats);
                    break;
                case 8:
                    r.ReadRepeatedInt64(wt, ints);
                    break;
                case 9:
                    r.Expect(wt, WireType.LengthDelimited, "AttributeProto.strings");
                    strings.Add(r.ReadString());
                    break;
                case 20:
                    r.Expect(wt, WireType.Varint, "AttributeProto.type");
                    type = (OnnxAttributeType)r.ReadInt32();
                    break;
                default:
                    r.Skip(wt);
                    break;
            }
        }

        return new OnnxAttribute { Name = name, Type = type, F = f, I = i, S = s, T = t, Floats = floats, Ints = ints, Strings = strings };
    }

    private static OnnxValueInfo ReadValueInfo(ref ProtoReader r)
    {
        string name = "";
        OnnxDataType elementType = OnnxDataType.Undefined;
        long?[]? dims = null;
        while (r.TryReadTag(out int field, out WireType wt))
        {
            if (field == 1)
            {
                r.Expect(wt, WireType.LengthDelimited, "ValueInfoProto.name");
                name = r.ReadString();
            }
            else if (field == 2)
            {
                r.Expect(wt, WireType.LengthDelimited, "ValueInfoProto.type");
                var type = r.ReadMessage();
                while (type.TryReadTag(out int tf, out WireType twt))
                {
                    if (tf != 1)
                    {
                        type.Skip(twt); // sequence, map, optional, sparse: not needed
                        continue;
                    }

                    type.Expect(twt, WireType.LengthDelimited, "TypeProto.tensor_type");
                    var tensor = type.ReadMessage();
                    while (tensor.TryReadTag(out int ef, out WireType ewt))
                    {
                        if (ef == 1)
                        {
                            tensor.Expect(ewt, WireType.Varint, "TypeProto.Tensor.elem_type");
                            elementType = (OnnxDataType)tensor.ReadInt32();
                        }
                        else if (ef == 2)
                        {
                            tensor.Expect(ewt, WireType.LengthDelimited, "TypeProto.Tensor.shape");
                            var shape = tensor.ReadMessage();
                            dims = ReadShape(ref shape);
                        }
                        else
                        {
                            tensor.Skip(ewt);
                        }
                    }
                }
            }
            else
            {
                r.Skip(wt);
            }
        }

        return new OnnxValueInfo(name, elementType, dims);
    }

    private static long?[] ReadShape(ref ProtoReader r)
    {
        var dims = new List<long?>();
        while (r.TryReadTag(out int field, out WireType wt))
        {
            if (field != 1)
            {
                r.Skip(wt);
                continue;
            }

            r.Expect(wt, WireType.LengthDelimited, "TensorShapeProto.dim");
            var d = r.ReadMessage();
            long? value = null;
            while (d.TryReadTag(out int df, out WireType dwt))
            {
                if (df == 1)
                {
                    d.Expect(dwt, WireType.Varint, "Dimension.dim_value");
                    value = d.ReadInt64();
                }
                else
                {
                    d.Skip(dwt); // dim_param, denotation
                }
            }

            dims.Add(value);
        }

        return [.. dims];
    }

    private static OnnxTensor ReadTensor(ref ProtoReader r)
    {
        long start = r.Offset;
        string source = r.Source;
        var dims = new List<long>();
        var dataType = OnnxDataType.Undefined;
        var floatData = new List<float>();
        var int32Data = new List<long>();
        var int64Data = new List<long>();
        var doubleData = new List<double>();
        byte[]? raw = null;
        string name = "";
        long dataLocation = 0;
        while (r.TryReadTag(out int field, out WireType wt))
        {
            switch (field)
            {
                case 1: r.ReadRepeatedInt64(wt, dims); break;
                case 2:
                    r.Expect(wt, WireType.Varint, "TensorProto.data_type");
                    dataType = (OnnxDataType)r.ReadInt32();
                    break;
                case 4: r.ReadRepeatedFloat(wt, floatData); break;
                case 5: r.ReadRepeatedInt64(wt, int32Data); break;
                case 7: r.ReadRepeatedInt64(wt, int64Data); break;
                case 8:
                    r.Expect(wt, WireType.LengthDelimited, "TensorProto.name");
                    name = r.ReadString();
                    break;
                case 9:
                    r.Expect(wt, WireType.LengthDelimited, "TensorProto.raw_data");
                    raw = r.ReadBytes().ToArray();
                    break;
                case 10: r.ReadRepeatedDouble(wt, doubleData); break;
                case 14:
                    r.Expect(wt, WireType.Varint, "TensorProto.data_location");
                    dataLocation = r.ReadInt64();
                    break;
                default:
                    r.Skip(wt);
                    break;
            }
        }

        if (dims.Any(d => d < 0))
        {
            throw r.Error($"tensor '{name}' has a negative dim [{string.Join(",", dims)}]", start);
        }

        if (dataLocation != 0)
        {
            throw r.Error($"tensor '{name}' keeps its data externally, which is not supported", start);
        }

        long count = 1;
        foreach (long d in dims)
        {
            count = d == 0 ? 0 : count > int.MaxValue / d ? throw r.Error($"tensor '{name}' is too large", start) : count * d;
        }

        float[]? floats = null;
        long[]? int64s = null;
        int[]? int32s = null;
        double[]? doubles = null;
        switch (dataType)
        {
            case OnnxDataType.Float:
                floats = raw is null ? [.. floatData] : FromRaw(raw, 4, b => BinaryPrimitives.ReadSingleLittleEndian(b));
                Check(floats.Length);
                break;
            case OnnxDataType.Int64:
                int64s = raw is null ? [.. int64Data] : FromRaw(raw, 8, b => BinaryPrimitives.ReadInt64LittleEndian(b));
                Check(int64s.Length);
                break;
            case OnnxDataType.Double:
                doubles = raw is null ? [.. doubleData] : FromRaw(raw, 8, b => BinaryPrimitives.ReadDoubleLittleEndian(b));
                Check(doubles.Length);
                break;
            case OnnxDataType.Bool:
            case OnnxDataType.UInt8:
                int32s = raw is null ? [.. int32Data.Select(v => (int)v)] : FromRaw(raw, 1, b => (int)b[0]);
                Check(int32s.Length);
                break;
            case OnnxDataType.Int8:
                int32s = raw is null ? [.. int32Data.Select(v => (int)v)] : FromRaw(raw, 1, b => (int)(sbyte)b[0]);
                Check(int32s.Length);
                break;
            case OnnxDataType.Int32:
                int32s = raw is null ? [.. int32Data.Select(v => (int)v)] : FromRaw(raw, 4, b => BinaryPrimitives.ReadInt32LittleEndian(b));
                Check(int32s.Length);
                break;
            default:
                break; // other element types: dims and type only
        }

        return new OnnxTensor { Name = name, Dims = [.. dims], DataType = dataType, Floats = floats, Int64s = int64s, Int32s = int32s, Doubles = doubles };

        T[] FromRaw<T>(byte[] bytes, int size, Func<byte[], T> read)
        {
            if (bytes.Length % size != 0)
            {
                throw new InvalidDataException($"{source}: tensor '{name}' has {bytes.Length} raw bytes, not a multiple of {size}.");
            }

            var values = new T[bytes.Length / size];
            var one = new byte[size];
            for (int i = 0; i < values.Length; i++)
            {
                Array.Copy(bytes, i * size, one, 0, size);
                values[i] = read(one);
            }

            return values;
        }

        void Check(int length)
        {
            if (length != count)
            {
                throw new InvalidDataException(
                    $"{source}: tensor '{name}' of dims [{string.Join(",", dims)}] ({count} elements) holds {length} {dataType} values.");
            }
        }
    }
}

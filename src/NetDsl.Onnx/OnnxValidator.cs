using NetDsl.Onnx.Schema;
using DataType = NetDsl.Onnx.Schema.TensorProto.Types.DataType;
using AttributeType = NetDsl.Onnx.Schema.AttributeProto.Types.AttributeType;

namespace NetDsl.Onnx;

/// <summary>The checks <see cref="OnnxModelFile"/> runs on a parsed model (see its remarks). Linear in the model's
/// size: names are looked up in hash sets, and a subgraph sees its outer scopes through a chain (no copies).</summary>
internal sealed class OnnxValidator
{
    /// <summary>The most elements a tensor may have (any real one fits a 2 GiB file, far fewer).</summary>
    private const long MaxElements = 1L << 40;

    private readonly string _source;
    private readonly OnnxReadOptions _options;

    public OnnxValidator(string source, OnnxReadOptions options)
    {
        _source = source;
        _options = options;
    }

    /// <summary>Validates the model; returns the default-domain opset version and the main graph's initializers.</summary>
    public long ValidateModel(ModelProto model, out Dictionary<string, TensorProto> initializers)
    {
        if (!model.HasIrVersion)
        {
            throw Fail("it has no ir_version (not an ONNX model, or an empty file)");
        }

        if (model.IrVersion < OnnxModelFile.MinIrVersion || model.IrVersion > OnnxModelFile.MaxIrVersion)
        {
            throw Fail($"ir_version {model.IrVersion} is outside the versions this reader knows ({OnnxModelFile.MinIrVersion}..{OnnxModelFile.MaxIrVersion}, ONNX v1.22.0's schema)");
        }

        long opset = -1;
        var domains = new HashSet<string>(StringComparer.Ordinal);
        foreach (var import in model.OpsetImport)
        {
            string domain = import.Domain is "ai.onnx" ? "" : import.Domain;
            if (!domains.Add(domain))
            {
                throw Fail($"opset_import lists domain {OnnxModelFile.Quote(import.Domain)} twice");
            }

            if (import.Version < 1)
            {
                throw Fail($"opset_import of domain {OnnxModelFile.Quote(import.Domain)} has version {import.Version}");
            }

            if (domain.Length == 0)
            {
                opset = import.Version;
            }
        }

        if (opset < 0)
        {
            throw Fail("opset_import has no entry for the default ONNX domain, so the meaning of its ops is unknown");
        }

        if (model.Functions.Count > 0)
        {
            throw Fail($"it defines {model.Functions.Count} model-local function(s) (first: {OnnxModelFile.Quote(model.Functions[0].Name)}), which this reader does not support");
        }

        if (model.Graph is null)
        {
            throw Fail("it has no graph");
        }

        initializers = ValidateGraph(model.Graph, "the main graph", depth: 0, outer: null);
        return opset;
    }

    /// <summary>An element count from validated dimensions, or <paramref name="fail"/>'s exception.</summary>
    public static long ElementCount(TensorProto tensor, string what, Func<string, Exception> fail)
    {
        bool empty = false;
        foreach (long dim in tensor.Dims)
        {
            if (dim < 0)
            {
                throw fail($"{what} has a negative dimension: dims {OnnxModelFile.FormatShape(tensor.Dims)}");
            }

            empty |= dim == 0;
        }

        if (empty)
        {
            return 0;
        }

        // Any real tensor fits in a 2 GiB file, so a count above 2^40 is nonsense; the bound keeps every product exact.
        long count = 1;
        foreach (long dim in tensor.Dims)
        {
            if (count > MaxElements / dim)
            {
                throw fail($"{what} has dims {OnnxModelFile.FormatShape(tensor.Dims)}, more elements than any model file can hold");
            }

            count *= dim;
        }

        return count;
    }

    private Dictionary<string, TensorProto> ValidateGraph(GraphProto graph, string where, int depth, Scope? outer)
    {
        if (depth > _options.MaxGraphDepth)
        {
            throw Fail($"{where} is nested {depth} graphs deep, above the limit of {_options.MaxGraphDepth} (OnnxReadOptions.MaxGraphDepth)");
        }

        var scope = new Scope(outer);
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var tensor in graph.Initializer)
        {
            if (string.IsNullOrEmpty(tensor.Name))
            {
                throw Fail($"{where}: initializer #{initializers.Count} has no name");
            }

            string what = $"{where}: initializer {OnnxModelFile.Quote(tensor.Name)}";
            if (!initializers.TryAdd(tensor.Name, tensor))
            {
                throw Fail($"{what} is defined twice");
            }

            ValidateTensor(tensor, what);
            scope.Names.Add(tensor.Name);
        }

        if (graph.SparseInitializer.Count > 0)
        {
            throw Fail($"{where} has {graph.SparseInitializer.Count} sparse initializer(s), which this reader does not support");
        }

        var inputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in graph.Input)
        {
            string what = $"{where}: input {OnnxModelFile.Quote(input.Name)}";
            if (string.IsNullOrEmpty(input.Name))
            {
                throw Fail($"{where}: input #{inputs.Count} has no name");
            }

            if (!inputs.Add(input.Name))
            {
                throw Fail($"{what} is listed twice");
            }

            ValidateValueInfo(input, what);
            scope.Names.Add(input.Name); // an input may share its name with an initializer (its default value)
        }

        for (int n = 0; n < graph.Node.Count; n++)
        {
            var node = graph.Node[n];
            string what = $"{where}: node #{n} ({Describe(node)})";
            if (string.IsNullOrEmpty(node.OpType))
            {
                throw Fail($"{what} has no op_type");
            }

            foreach (string name in node.Input)
            {
                if (name.Length > 0 && !scope.Contains(name))
                {
                    throw Fail($"{what} reads {OnnxModelFile.Quote(name)}, which no graph input, initializer or earlier node defines (nodes must be in topological order)");
                }
            }

            ValidateAttributes(node, what, depth, scope);

            foreach (string name in node.Output)
            {
                if (name.Length > 0 && !scope.Names.Add(name))
                {
                    throw Fail($"{what} writes {OnnxModelFile.Quote(name)}, which is already defined (ONNX names are assigned once)");
                }
            }
        }

        var outputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var output in graph.Output)
        {
            string what = $"{where}: output {OnnxModelFile.Quote(output.Name)}";
            if (string.IsNullOrEmpty(output.Name))
            {
                throw Fail($"{where}: output #{outputs.Count} has no name");
            }

            if (!outputs.Add(output.Name))
            {
                throw Fail($"{what} is listed twice");
            }

            if (!scope.Contains(output.Name))
            {
                throw Fail($"{what} is produced by no node, input or initializer");
            }

            ValidateValueInfo(output, what);
        }

        foreach (var info in graph.ValueInfo)
        {
            ValidateValueInfo(info, $"{where}: value_info {OnnxModelFile.Quote(info.Name)}");
        }

        return initializers;
    }

    private void ValidateAttributes(NodeProto node, string what, int depth, Scope scope)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var attribute in node.Attribute)
        {
            if (string.IsNullOrEmpty(attribute.Name))
            {
                throw Fail($"{what} has an attribute without a name");
            }

            string at = $"{what}, attribute {OnnxModelFile.Quote(attribute.Name)}";
            if (!names.Add(attribute.Name))
            {
                throw Fail($"{at} is given twice");
            }

            if (!string.IsNullOrEmpty(attribute.RefAttrName))
            {
                throw Fail($"{at} refers to a function attribute ({OnnxModelFile.Quote(attribute.RefAttrName)}) outside a function");
            }

            bool present = attribute.Type switch
            {
                AttributeType.Float => attribute.HasF,
                AttributeType.Int => attribute.HasI,
                AttributeType.String => attribute.HasS,
                AttributeType.Tensor => attribute.T is not null,
                AttributeType.Graph => attribute.G is not null,
                AttributeType.SparseTensor => attribute.SparseTensor is not null,
                AttributeType.TypeProto => attribute.Tp is not null,
                AttributeType.Floats or AttributeType.Ints or AttributeType.Strings or AttributeType.Tensors
                    or AttributeType.Graphs or AttributeType.SparseTensors or AttributeType.TypeProtos => true,
                _ => throw Fail($"{at} has type {(int)attribute.Type}, not a known attribute type"),
            };
            if (!present)
            {
                throw Fail($"{at} is declared {attribute.Type.ToString().ToUpperInvariant()} but has no such value");
            }

            if (attribute.Type is AttributeType.SparseTensor or AttributeType.SparseTensors)
            {
                throw Fail($"{at} holds a sparse tensor, which this reader does not support");
            }

            if (attribute.T is not null)
            {
                ValidateTensor(attribute.T, $"{at} (tensor)");
            }

            for (int i = 0; i < attribute.Tensors.Count; i++)
            {
                ValidateTensor(attribute.Tensors[i], $"{at} (tensor #{i})");
            }

            if (attribute.G is not null)
            {
                ValidateGraph(attribute.G, $"{at} (graph)", depth + 1, scope);
            }

            for (int i = 0; i < attribute.Graphs.Count; i++)
            {
                ValidateGraph(attribute.Graphs[i], $"{at} (graph #{i})", depth + 1, scope);
            }
        }
    }

    private void ValidateValueInfo(ValueInfoProto info, string what)
    {
        if (info.Type?.TensorType?.Shape is { } shape)
        {
            foreach (var dim in shape.Dim)
            {
                if (dim.HasDimValue && dim.DimValue < 0)
                {
                    throw Fail($"{what} has a negative dimension ({dim.DimValue})");
                }
            }
        }
    }

    private void ValidateTensor(TensorProto tensor, string what)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
        {
            string location = tensor.ExternalData.FirstOrDefault(e => e.Key == "location")?.Value ?? "(not given)";
            throw Fail($"{what} keeps its data in an external file (location {OnnxModelFile.Quote(location)}); only self-contained models are read " +
                "(save the model with its data inside: onnx.save_model(model, path, save_as_external_data=False))");
        }

        if (tensor.Segment is not null)
        {
            throw Fail($"{what} is a segment of a larger tensor, which this reader does not support");
        }

        int type = tensor.DataType;
        if (!tensor.HasDataType || !Enum.IsDefined((DataType)type) || type == (int)DataType.Undefined)
        {
            throw Fail($"{what} has {(tensor.HasDataType ? $"unknown data_type {type}" : "no data_type")}");
        }

        long count = ElementCount(tensor, what, problem => Fail(problem));
        var dataType = (DataType)type;

        // Which fields hold data: exactly one may, and it must be raw_data or the typed field of this type.
        var filled = new List<string>(2);
        if (tensor.RawData.Length > 0) filled.Add("raw_data");
        if (tensor.FloatData.Count > 0) filled.Add("float_data");
        if (tensor.Int32Data.Count > 0) filled.Add("int32_data");
        if (tensor.Int64Data.Count > 0) filled.Add("int64_data");
        if (tensor.DoubleData.Count > 0) filled.Add("double_data");
        if (tensor.Uint64Data.Count > 0) filled.Add("uint64_data");
        if (tensor.StringData.Count > 0) filled.Add("string_data");
        string shape = $"dims {OnnxModelFile.FormatShape(tensor.Dims)} of {OnnxModelFile.DataTypeName(type)}";
        if (filled.Count > 1)
        {
            throw Fail($"{what} has data in both {filled[0]} and {filled[1]}");
        }

        if (filled.Count == 0)
        {
            if (count != 0)
            {
                throw Fail($"{what} has no data, but {shape} need {count} values");
            }

            return;
        }

        var (typedField, perField) = TypedField(dataType, count);
        if (filled[0] == "raw_data")
        {
            if (dataType == DataType.String)
            {
                throw Fail($"{what} is STRING, which cannot use raw_data");
            }

            long need = RawBytes(dataType, count);
            if (tensor.RawData.Length != need)
            {
                throw Fail($"{what}: raw_data has {tensor.RawData.Length} bytes, but {shape} need {need}");
            }

            return;
        }

        if (filled[0] != typedField)
        {
            throw Fail($"{what} is {OnnxModelFile.DataTypeName(type)} but has its data in {filled[0]} (expected {typedField} or raw_data)");
        }

        int entries = filled[0] switch
        {
            "float_data" => tensor.FloatData.Count,
            "int32_data" => tensor.Int32Data.Count,
            "int64_data" => tensor.Int64Data.Count,
            "double_data" => tensor.DoubleData.Count,
            "uint64_data" => tensor.Uint64Data.Count,
            _ => tensor.StringData.Count,
        };
        if (entries != perField)
        {
            throw Fail($"{what}: {typedField} has {entries} values, but {shape} need {perField}");
        }
    }

    /// <summary>The typed field a data type uses and how many entries <paramref name="count"/> elements take there.</summary>
    private static (string Field, long Entries) TypedField(DataType type, long count) => type switch
    {
        DataType.Float => ("float_data", count),
        DataType.Complex64 => ("float_data", 2 * count),
        DataType.Double => ("double_data", count),
        DataType.Complex128 => ("double_data", 2 * count),
        DataType.Int64 => ("int64_data", count),
        DataType.Uint32 or DataType.Uint64 => ("uint64_data", count),
        DataType.String => ("string_data", count),
        DataType.Uint4 or DataType.Int4 or DataType.Float4E2M1 => ("int32_data", (count + 1) / 2),
        DataType.Uint2 or DataType.Int2 => ("int32_data", (count + 3) / 4),
        _ => ("int32_data", count), // INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16, the FLOAT8 types
    };

    /// <summary>The bytes <paramref name="count"/> elements take in raw_data (sub-byte types packed, rounded up).</summary>
    private static long RawBytes(DataType type, long count) => type switch
    {
        DataType.Uint4 or DataType.Int4 or DataType.Float4E2M1 => (count + 1) / 2,
        DataType.Uint2 or DataType.Int2 => (count + 3) / 4,
        DataType.Uint8 or DataType.Int8 or DataType.Bool or DataType.Float8E4M3Fn or DataType.Float8E4M3Fnuz
            or DataType.Float8E5M2 or DataType.Float8E5M2Fnuz or DataType.Float8E8M0 => count,
        DataType.Uint16 or DataType.Int16 or DataType.Float16 or DataType.Bfloat16 => 2 * count,
        DataType.Float or DataType.Int32 or DataType.Uint32 => 4 * count,
        DataType.Int64 or DataType.Uint64 or DataType.Double or DataType.Complex64 => 8 * count,
        DataType.Complex128 => 16 * count,
        _ => throw new InvalidOperationException($"no raw size for {type}"),
    };

    private static string Describe(NodeProto node)
    {
        string op = OnnxModelFile.Quote(node.OpType);
        if (!string.IsNullOrEmpty(node.Name))
        {
            return $"{op} named {OnnxModelFile.Quote(node.Name)}";
        }

        return node.Output.Count > 0 ? $"{op} writing {OnnxModelFile.Quote(node.Output[0])}" : op;
    }

    private InvalidDataException Fail(string problem) => OnnxModelFile.Invalid(_source, problem);

    /// <summary>The names defined in a graph, chained to those of the graphs around it.</summary>
    private sealed class Scope(Scope? outer)
    {
        public HashSet<string> Names { get; } = new(StringComparer.Ordinal);

        public bool Contains(string name)
        {
            for (var s = this; s is not null; s = s.Outer)
            {
                if (s.Names.Contains(name))
                {
                    return true;
                }
            }

            return false;
        }

        private Scope? Outer => outer;
    }
}

using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using NetDsl.Onnx.Schema;

namespace NetDsl.Onnx;

/// <summary>
/// An ONNX model file (https://onnx.ai), read and fully validated: the protobuf <see cref="ModelProto"/> of the ONNX
/// project's own schema (<c>Schema/onnx.proto</c>, ONNX v1.22.0) plus lookups the weight import needs.
/// </summary>
/// <remarks>
/// Every file is treated as hostile. The reader refuses a file longer than <see cref="OnnxReadOptions.MaxBytes"/>
/// before reading it, parses with Google.Protobuf's bounded <see cref="CodedInputStream"/> (size and recursion limits;
/// length prefixes are checked against the bytes present before anything is allocated), and then checks what
/// protobuf cannot: a supported IR version and the default-domain opset; a main graph whose nodes only read names
/// defined before them (graph inputs, initializers, earlier outputs, outer scopes for subgraphs) and whose names are
/// assigned once; every tensor (initializers and tensor attributes) with a known element type, non-negative
/// dimensions whose product does not overflow, and exactly the data its shape needs in exactly one field
/// (<c>raw_data</c> of count x element size bytes, or the typed field the type uses); attributes with a name, a type
/// and that type's field; subgraphs at most <see cref="OnnxReadOptions.MaxGraphDepth"/> deep. Data kept in external
/// files, segments, sparse initializers and model-local functions are refused. Every violation is an
/// <see cref="InvalidDataException"/> naming the file and the initializer, node or attribute; nothing else escapes
/// (the fuzz test checks it).
/// </remarks>
public sealed class OnnxModelFile
{
    /// <summary>The newest IR version the vendored schema describes (<c>Version.IR_VERSION</c> of ONNX v1.22.0).</summary>
    public const long MaxIrVersion = (long)Schema.Version.IrVersion;

    /// <summary>The oldest IR version read: 3 introduced <c>opset_import</c>, which fixes what each op means.</summary>
    public const long MinIrVersion = 3;

    private readonly Dictionary<string, TensorProto> _initializers;

    private OnnxModelFile(string source, ModelProto model, Dictionary<string, TensorProto> initializers, long opset)
    {
        Source = source;
        Model = model;
        _initializers = initializers;
        OpsetVersion = opset;
    }

    /// <summary>What error messages call the file (its path, or the name given with a stream).</summary>
    public string Source { get; }

    /// <summary>The parsed model. Mutating it bypasses the validation: treat it as read-only.</summary>
    public ModelProto Model { get; }

    /// <summary>The main graph.</summary>
    public GraphProto Graph => Model.Graph;

    /// <summary>The main graph's initializers by name (validated: unique, non-empty names).</summary>
    public IReadOnlyDictionary<string, TensorProto> Initializers => _initializers;

    /// <summary>The version of the default ONNX operator set (<c>""</c> / <c>ai.onnx</c>) the model imports.</summary>
    public long OpsetVersion { get; }

    /// <summary>Reads and validates the ONNX model at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid ONNX model, or breaks a bound of <paramref name="options"/>.</exception>
    public static OnnxModelFile Read(string path, OnnxReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= OnnxReadOptions.Default;
        options.Validate();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        return Read(stream, path, options);
    }

    /// <summary>Reads and validates an ONNX model from the current position of <paramref name="stream"/> to its end.</summary>
    /// <param name="stream">The model's bytes; read to its end, not closed.</param>
    /// <param name="source">What error messages call the model.</param>
    /// <param name="options">The bounds (default <see cref="OnnxReadOptions.Default"/>).</param>
    /// <exception cref="InvalidDataException">The content is not a valid ONNX model, or breaks a bound of <paramref name="options"/>.</exception>
    public static OnnxModelFile Read(Stream stream, string source = "stream", OnnxReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(source);
        options ??= OnnxReadOptions.Default;
        options.Validate();
        byte[] bytes = ReadBounded(stream, source, options.MaxBytes, out int length);
        return Parse(bytes, length, source, options);
    }

    /// <summary>Reads and validates an ONNX model held in memory.</summary>
    /// <exception cref="InvalidDataException">The content is not a valid ONNX model, or breaks a bound of <paramref name="options"/>.</exception>
    public static OnnxModelFile Read(byte[] bytes, string source = "bytes", OnnxReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(source);
        options ??= OnnxReadOptions.Default;
        options.Validate();
        if (bytes.Length > options.MaxBytes)
        {
            throw Invalid(source, $"it has {bytes.Length} bytes, above the limit of {options.MaxBytes} (OnnxReadOptions.MaxBytes)");
        }

        return Parse(bytes, bytes.Length, source, options);
    }

    /// <summary>An initializer by name.</summary>
    /// <exception cref="KeyNotFoundException">The main graph has no initializer of that name.</exception>
    public TensorProto Initializer(string name) =>
        _initializers.TryGetValue(name, out var tensor)
            ? tensor
            : throw new KeyNotFoundException($"'{Source}' has no initializer named {Quote(name)}.");

    /// <summary>A tensor's dimensions, outermost first.</summary>
    public static long[] Dims(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return [.. tensor.Dims];
    }

    /// <summary>A tensor's dimensions as <c>[a, b, c]</c>.</summary>
    public static string FormatShape(IEnumerable<long> dims) => "[" + string.Join(", ", dims) + "]";

    /// <summary>The values of a FLOAT tensor in row-major order, from <c>raw_data</c> (little-endian) or <c>float_data</c>.</summary>
    /// <exception cref="InvalidDataException">The tensor is not FLOAT, or its data does not match its dimensions.</exception>
    public static float[] ReadFloats(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        string what = $"tensor {Quote(tensor.Name)}";
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new InvalidDataException($"{what} is {DataTypeName(tensor.DataType)}, not FLOAT.");
        }

        long count = OnnxValidator.ElementCount(tensor, what, problem => new InvalidDataException($"{problem}."));
        if (tensor.HasRawData && tensor.RawData.Length > 0)
        {
            ReadOnlySpan<byte> raw = tensor.RawData.Span;
            if (raw.Length != count * sizeof(float))
            {
                throw new InvalidDataException($"{what}: raw_data has {raw.Length} bytes, dims {FormatShape(tensor.Dims)} of FLOAT need {count * sizeof(float)}.");
            }

            var values = new float[count];
            if (BitConverter.IsLittleEndian)
            {
                raw.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
            }
            else
            {
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * sizeof(float)));
                }
            }

            return values;
        }

        if (tensor.FloatData.Count != count)
        {
            throw new InvalidDataException($"{what}: float_data has {tensor.FloatData.Count} values, dims {FormatShape(tensor.Dims)} need {count}.");
        }

        return [.. tensor.FloatData];
    }

    /// <summary>The name ONNX gives an element type (<c>FLOAT</c>, <c>INT64</c>, ...), or the number when unknown.</summary>
    public static string DataTypeName(int dataType) =>
        Enum.IsDefined((TensorProto.Types.DataType)dataType)
            ? ((TensorProto.Types.DataType)dataType) switch
            {
                TensorProto.Types.DataType.Float => "FLOAT",
                TensorProto.Types.DataType.Double => "DOUBLE",
                TensorProto.Types.DataType.Int64 => "INT64",
                TensorProto.Types.DataType.Int32 => "INT32",
                var t => t.ToString().ToUpperInvariant(),
            }
            : $"data type {dataType}";

    /// <summary>A name as error messages show it: quoted, control characters escaped, cut to 120 characters.</summary>
    internal static string Quote(string? name)
    {
        if (name is null)
        {
            return "(none)";
        }

        var sb = new StringBuilder(Math.Min(name.Length, 120) + 2).Append('\'');
        foreach (char c in name.Length > 120 ? name.AsSpan(0, 120) : name.AsSpan())
        {
            if (char.IsControl(c) || c == '\'')
            {
                sb.Append($"\\u{(int)c:x4}");
            }
            else
            {
                sb.Append(c);
            }
        }

        if (name.Length > 120)
        {
            sb.Append("...");
        }

        return sb.Append('\'').ToString();
    }

    internal static InvalidDataException Invalid(string source, string problem, Exception? inner = null) =>
        new($"'{source}' is not a valid ONNX model: {problem}.", inner);

    private static OnnxModelFile Parse(byte[] bytes, int length, string source, OnnxReadOptions options)
    {
        ModelProto model;
        try
        {
            using var memory = new MemoryStream(bytes, 0, length, writable: false);
            var input = CodedInputStream.CreateWithLimits(memory, sizeLimit: Math.Max(length, 1), options.MaxRecursionDepth);
            model = ModelProto.Parser.ParseFrom(input);
            if (!input.IsAtEnd)
            {
                // The message stopped at a stray end-group tag: the rest of the bytes were never parsed.
                throw Invalid(source, $"protobuf parsing stopped at byte {input.Position} of {length} (a stray end-group tag)");
            }
        }
        catch (InvalidProtocolBufferException e)
        {
            throw Invalid(source, $"malformed protobuf ({e.Message.TrimEnd('.')})", e);
        }
        catch (DecoderFallbackException e)
        {
            throw Invalid(source, "a string field is not valid UTF-8", e);
        }

        var validator = new OnnxValidator(source, options);
        long opset = validator.ValidateModel(model, out var initializers);
        return new OnnxModelFile(source, model, initializers, opset);
    }

    private static byte[] ReadBounded(Stream stream, string source, long maxBytes, out int length)
    {
        if (stream.CanSeek)
        {
            long available = Math.Max(0, stream.Length - stream.Position);
            if (available > maxBytes || available > Array.MaxLength)
            {
                throw Invalid(source, $"it has {available} bytes, above the limit of {maxBytes} (OnnxReadOptions.MaxBytes)");
            }

            var exact = new byte[available];
            int got = stream.ReadAtLeast(exact, exact.Length, throwOnEndOfStream: false);
            if (got != exact.Length)
            {
                throw Invalid(source, $"only {got} of its {available} bytes could be read");
            }

            length = got;
            return exact;
        }

        // Unknown length: grow only as bytes arrive, and stop one byte past the limit.
        long cap = Math.Min(maxBytes + 1, Array.MaxLength);
        var buffer = new byte[Math.Min(cap, 1 << 20)];
        length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length >= cap)
                {
                    throw Invalid(source, $"it has more than {length - 1} bytes, above the limit of {maxBytes} (OnnxReadOptions.MaxBytes)");
                }

                Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, cap));
            }

            int read = stream.Read(buffer, length, buffer.Length - length);
            if (read == 0)
            {
                return buffer;
            }

            length += read;
            if (length > maxBytes)
            {
                throw Invalid(source, $"it has more than {maxBytes} bytes, the limit (OnnxReadOptions.MaxBytes)");
            }
        }
    }
}

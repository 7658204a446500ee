using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace NetDsl.Serialization;

/// <summary>Produces a tensor's floats when the writer gets to it (a view into an arena, typically).</summary>
internal delegate ReadOnlySpan<float> TensorData();

/// <summary>A float32 tensor to write: its name, its shape and where its values come from.</summary>
internal readonly record struct TensorToWrite(string Name, int[] Shape, TensorData Data);

/// <summary>One tensor entry of a validated safetensors header.</summary>
/// <param name="Name">The tensor's name (a key of the header object).</param>
/// <param name="DType">The element type as the file names it (<c>F32</c>, <c>F16</c>, ...).</param>
/// <param name="Shape">The dimensions, outermost first.</param>
/// <param name="Begin">Start of the data, in bytes from the start of the data section.</param>
/// <param name="End">One past the end of the data.</param>
internal sealed record SafetensorsTensor(string Name, string DType, ulong[] Shape, long Begin, long End)
{
    /// <summary>The shape as <c>[a, b]</c>.</summary>
    public string ShapeText => Safetensors.FormatShape(Shape);

    /// <summary>Whether the shape is exactly <paramref name="shape"/>.</summary>
    public bool HasShape(ReadOnlySpan<int> shape)
    {
        if (Shape.Length != shape.Length)
        {
            return false;
        }

        for (int i = 0; i < shape.Length; i++)
        {
            if (Shape[i] != (ulong)shape[i])
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>A safetensors file read into memory and fully validated: its tensors, its metadata and its data section.</summary>
internal sealed class SafetensorsContent
{
    private readonly byte[] _data;

    internal SafetensorsContent(string source, List<SafetensorsTensor> tensors, Dictionary<string, string> metadata, byte[] data)
    {
        Source = source;
        Tensors = tensors;
        ByName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Metadata = metadata;
        _data = data;
    }

    /// <summary>What error messages call the file.</summary>
    public string Source { get; }

    /// <summary>The tensors, in data order.</summary>
    public IReadOnlyList<SafetensorsTensor> Tensors { get; }

    /// <summary>The tensors by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsTensor> ByName { get; }

    /// <summary>The <c>__metadata__</c> map (empty without one).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The index of the first NaN or infinite value of F32 tensor <paramref name="tensor"/>, or -1 when all are finite.</summary>
    /// <param name="tensor">A tensor of this file.</param>
    /// <param name="value">The value found (0 when none).</param>
    /// <returns>The element index, or -1.</returns>
    public long FirstNonFinite(SafetensorsTensor tensor, out float value)
    {
        value = 0f;
        if (tensor.DType != Safetensors.F32)
        {
            return -1;
        }

        ReadOnlySpan<byte> bytes = _data.AsSpan((int)tensor.Begin, (int)(tensor.End - tensor.Begin));
        long count = bytes.Length / sizeof(float);
        for (int i = 0; i < count; i++)
        {
            float x = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * sizeof(float)));
            if (!float.IsFinite(x))
            {
                value = x;
                return i;
            }
        }

        return -1;
    }

    /// <summary>Copies an F32 tensor's little-endian values into <paramref name="destination"/> (exactly as long as the tensor).</summary>
    public void CopyTo(SafetensorsTensor tensor, Span<float> destination)
    {
        if (tensor.DType != Safetensors.F32 || tensor.End - tensor.Begin != (long)destination.Length * sizeof(float))
        {
            throw new InvalidOperationException($"Tensor '{tensor.Name}' ({tensor.DType}, {tensor.End - tensor.Begin} bytes) does not fit {destination.Length} floats.");
        }

        ReadOnlySpan<byte> bytes = _data.AsSpan((int)tensor.Begin, (int)(tensor.End - tensor.Begin));
        if (BitConverter.IsLittleEndian)
        {
            bytes.CopyTo(MemoryMarshal.AsBytes(destination));
            return;
        }

        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i * sizeof(float)));
        }
    }
}

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length <c>N</c>, <c>N</c> bytes of UTF-8 JSON mapping each tensor name to
/// <c>{"dtype", "shape", "data_offsets": [begin, end]}</c> (offsets relative to the data section) plus an optional
/// <c>"__metadata__"</c> string-to-string map, then the data section: row-major little-endian tensors.
/// </summary>
/// <remarks>
/// The reader enforces the rules of the reference implementation and treats every file as hostile: the header is at
/// most <see cref="MaxHeaderBytes"/> and must fit in the file; it must be valid UTF-8 and one JSON object without
/// duplicate keys; every tensor has a known dtype, a shape of non-negative integers and two offsets whose difference
/// is exactly the shape's element count times the dtype size (computed without overflow); sorted by offset, the
/// tensors cover the data section exactly, without holes or overlaps; the file ends with the data. Nothing is
/// allocated before the length asking for it has been checked against the bytes really present, so a file cannot
/// make the reader allocate (much) more than its own size. Every violation raises
/// <see cref="InvalidDataException"/> naming the file and the problem.
/// </remarks>
internal static class Safetensors
{
    /// <summary>The largest header accepted (the reference implementation's limit).</summary>
    public const int MaxHeaderBytes = 100_000_000;

    /// <summary>The dtype of 32-bit IEEE floats.</summary>
    public const string F32 = "F32";

    /// <summary>The metadata key of the JSON header.</summary>
    public const string MetadataKey = "__metadata__";

    private const int InitialChunk = 1 << 20;
    private const int MaxProblemText = 60;

    /// <summary>Reads and validates a whole safetensors file from the current position of <paramref name="stream"/> to its end.</summary>
    /// <exception cref="InvalidDataException">The content is not a valid safetensors file.</exception>
    public static SafetensorsContent Read(Stream stream, string source)
    {
        long? available = stream.CanSeek ? Math.Max(0, stream.Length - stream.Position) : null;
        Span<byte> prefix = stackalloc byte[8];
        int got = stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
        if (got < prefix.Length)
        {
            throw Invalid(source, $"it has {got} bytes, fewer than the 8-byte header length every safetensors file starts with");
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
        {
            throw Invalid(source, $"the header length field says {headerLength} bytes, above the limit of {MaxHeaderBytes} (not a safetensors file, or a corrupt one)");
        }

        long remaining = available is long a ? a - prefix.Length : long.MaxValue;
        if ((long)headerLength > remaining)
        {
            throw Invalid(source, $"the header length field says {headerLength} bytes, but only {remaining} bytes follow it (truncated or corrupt)");
        }

        byte[] header = ReadExactly(stream, (long)headerLength, available.HasValue, source, "header");
        var (tensors, metadata) = ParseHeader(header, source);
        long dataAvailable = available is long b ? b - prefix.Length - (long)headerLength : long.MaxValue;
        long dataLength = CheckLayout(tensors, dataAvailable, source);
        if (available.HasValue && dataLength != dataAvailable)
        {
            throw Invalid(source, $"the tensors cover {dataLength} data bytes, but {dataAvailable} bytes follow the header (trailing bytes after the last tensor)");
        }

        if (dataLength > Array.MaxLength)
        {
            throw Invalid(source, $"its tensors hold {dataLength} bytes, more than can be loaded at once ({Array.MaxLength})");
        }

        byte[] data = ReadExactly(stream, dataLength, available.HasValue, source, "data section");
        if (!available.HasValue && stream.ReadByte() >= 0)
        {
            throw Invalid(source, $"bytes follow the last tensor (the tensors cover {dataLength} data bytes)");
        }

        return new SafetensorsContent(source, tensors, metadata, data);
    }

    /// <summary>
    /// Writes float32 tensors in the given order, tightly packed, with an optional metadata map; the header is padded
    /// with spaces to a multiple of 8 bytes so that the data section starts 8-byte aligned.
    /// </summary>
    public static void Write(Stream stream, IReadOnlyList<TensorToWrite> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var buffer = new ArrayBufferWriter<byte>(256 + 96 * tensors.Count);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var tensor in tensors)
            {
                if (tensor.Name == MetadataKey || !names.Add(tensor.Name))
                {
                    throw new ArgumentException($"Tensor name '{tensor.Name}' is reserved or used twice.", nameof(tensors));
                }

                long count = 1;
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", F32);
                json.WriteStartArray("shape");
                foreach (int dimension in tensor.Shape)
                {
                    ArgumentOutOfRangeException.ThrowIfNegative(dimension);
                    json.WriteNumberValue(dimension);
                    count = checked(count * dimension);
                }

                json.WriteEndArray();
                long end = checked(offset + count * sizeof(float));
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }

            json.WriteEndObject();
        }

        int padding = (8 - buffer.WrittenCount % 8) % 8;
        Span<byte> spaces = buffer.GetSpan(padding)[..padding];
        spaces.Fill((byte)' ');
        buffer.Advance(padding);

        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)buffer.WrittenCount);
        stream.Write(prefix);
        stream.Write(buffer.WrittenSpan);

        byte[]? swap = BitConverter.IsLittleEndian ? null : new byte[4096];
        foreach (var tensor in tensors)
        {
            ReadOnlySpan<float> values = tensor.Data();
            long expected = 1;
            foreach (int dimension in tensor.Shape)
            {
                expected *= dimension;
            }

            if (values.Length != expected)
            {
                throw new InvalidOperationException($"Tensor '{tensor.Name}' has {values.Length} values but its shape {FormatShape(tensor.Shape)} needs {expected}.");
            }

            if (swap is null)
            {
                stream.Write(MemoryMarshal.AsBytes(values));
                continue;
            }

            for (int start = 0; start < values.Length; start += swap.Length / sizeof(float))
            {
                int count = Math.Min(swap.Length / sizeof(float), values.Length - start);
                for (int i = 0; i < count; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(swap.AsSpan(i * sizeof(float)), values[start + i]);
                }

                stream.Write(swap, 0, count * sizeof(float));
            }
        }
    }

    /// <summary>A shape as <c>[a, b, c]</c>.</summary>
    public static string FormatShape(ulong[] shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>A shape as <c>[a, b, c]</c>.</summary>
    public static string FormatShape(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>Bits per element of a safetensors dtype; 0 for an unknown one.</summary>
    private static int BitSize(string dtype) => dtype switch
    {
        "F4" => 4,
        "F6_E2M3" or "F6_E3M2" => 6,
        "BOOL" or "U8" or "I8" or "F8_E5M2" or "F8_E4M3" or "F8_E8M0" => 8,
        "I16" or "U16" or "F16" or "BF16" => 16,
        "I32" or "U32" or "F32" => 32,
        "I64" or "U64" or "F64" or "C64" => 64,
        _ => 0,
    };

    private static InvalidDataException Invalid(string source, string problem) =>
        new($"'{source}' is not a valid safetensors file: {problem}.");

    /// <summary>Reads exactly <paramref name="count"/> bytes. With a known length the caller has checked them to be
    /// present; otherwise the buffer grows only as bytes arrive, so a lying length cannot force a large allocation.</summary>
    private static byte[] ReadExactly(Stream stream, long count, bool lengthKnown, string source, string what)
    {
        if (count == 0)
        {
            return [];
        }

        byte[] buffer = new byte[lengthKnown ? count : Math.Min(count, InitialChunk)];
        int filled = 0;
        while (true)
        {
            int read = stream.Read(buffer, filled, buffer.Length - filled);
            if (read == 0)
            {
                throw Invalid(source, $"it ends after {filled} of the {count} bytes of its {what} (truncated)");
            }

            filled += read;
            if (filled == count)
            {
                return buffer;
            }

            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(count, 2L * buffer.Length));
            }
        }
    }

    private static (List<SafetensorsTensor> Tensors, Dictionary<string, string> Metadata) ParseHeader(byte[] header, string source)
    {
        if (!Utf8.IsValid(header))
        {
            throw Invalid(source, "its header is not valid UTF-8");
        }

        var tensors = new List<SafetensorsTensor>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(header, new JsonReaderOptions { MaxDepth = 16 });
            Next(ref reader, source);
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw Invalid(source, $"its header is not a JSON object (it starts with a {reader.TokenType})");
            }

            while (true)
            {
                Next(ref reader, source);
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    break;
                }

                string key = reader.GetString()!;
                if (!keys.Add(key))
                {
                    throw Invalid(source, $"its header names '{Clip(key)}' twice (duplicate keys are not allowed)");
                }

                Next(ref reader, source);
                if (key == MetadataKey)
                {
                    ParseMetadata(ref reader, metadata, source);
                }
                else
                {
                    tensors.Add(ParseTensor(ref reader, key, source));
                }
            }

            if (reader.Read())
            {
                throw Invalid(source, "its header has content after the JSON object");
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{source}' is not a valid safetensors file: its header is not valid JSON ({e.Message}).", e);
        }
        catch (InvalidOperationException e)
        {
            // GetString on a string whose escapes decode to invalid UTF-16 (a lone surrogate, e.g. "\ud800")
            throw new InvalidDataException($"'{source}' is not a valid safetensors file: its header holds an invalid string ({e.Message}).", e);
        }

        return (tensors, metadata);
    }

    private static void Next(ref Utf8JsonReader reader, string source)
    {
        if (!reader.Read())
        {
            throw Invalid(source, "its header JSON ends early");
        }
    }

    private static void ParseMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, string source)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Invalid(source, $"its {MetadataKey} is a {reader.TokenType}, not an object of strings");
        }

        while (true)
        {
            Next(ref reader, source);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return;
            }

            string key = reader.GetString()!;
            Next(ref reader, source);
            if (reader.TokenType != JsonTokenType.String)
            {
                throw Invalid(source, $"its {MetadataKey} entry '{Clip(key)}' is a {reader.TokenType}, not a string");
            }

            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                throw Invalid(source, $"its {MetadataKey} names '{Clip(key)}' twice");
            }
        }
    }

    private static SafetensorsTensor ParseTensor(ref Utf8JsonReader reader, string name, string source)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Invalid(source, $"tensor '{Clip(name)}' is described by a {reader.TokenType}, not an object");
        }

        string? dtype = null;
        ulong[]? shape = null, offsets = null;
        while (true)
        {
            Next(ref reader, source);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }

            string field = reader.GetString()!;
            Next(ref reader, source);
            switch (field)
            {
                case "dtype":
                    if (dtype is not null || reader.TokenType != JsonTokenType.String)
                    {
                        throw Invalid(source, $"tensor '{Clip(name)}' has a duplicate or non-string dtype");
                    }

                    dtype = reader.GetString()!;
                    break;
                case "shape":
                    if (shape is not null)
                    {
                        throw Invalid(source, $"tensor '{Clip(name)}' has two shapes");
                    }

                    shape = ReadIntegers(ref reader, name, field, source);
                    break;
                case "data_offsets":
                    if (offsets is not null)
                    {
                        throw Invalid(source, $"tensor '{Clip(name)}' has two data_offsets");
                    }

                    offsets = ReadIntegers(ref reader, name, field, source);
                    break;
                default:
                    reader.Skip(); // unknown fields are ignored, as the reference implementation does
                    break;
            }
        }

        if (dtype is null || shape is null || offsets is null)
        {
            throw Invalid(source, $"tensor '{Clip(name)}' lacks {(dtype is null ? "a dtype" : shape is null ? "a shape" : "data_offsets")}");
        }

        int bits = BitSize(dtype);
        if (bits == 0)
        {
            throw Invalid(source, $"tensor '{Clip(name)}' has the unknown dtype '{Clip(dtype)}'");
        }

        if (offsets.Length != 2)
        {
            throw Invalid(source, $"tensor '{Clip(name)}' has {offsets.Length} data_offsets instead of 2 (begin, end)");
        }

        ulong begin = offsets[0], end = offsets[1];
        if (end < begin)
        {
            throw Invalid(source, $"tensor '{Clip(name)}' has data_offsets [{begin}, {end}] that end before they begin");
        }

        if (end > long.MaxValue)
        {
            throw Invalid(source, $"tensor '{Clip(name)}' has data_offsets [{begin}, {end}] beyond any file");
        }

        UInt128 count = 1;
        foreach (ulong dimension in shape)
        {
            count *= dimension;
            if (count > ulong.MaxValue)
            {
                throw Invalid(source, $"tensor '{Clip(name)}' has a shape {Clip(FormatShape(shape))} whose element count overflows");
            }
        }

        UInt128 totalBits = count * (uint)bits;
        if (totalBits % 8 != 0)
        {
            throw Invalid(source, $"tensor '{Clip(name)}' ({dtype}, shape {Clip(FormatShape(shape))}) does not fill whole bytes");
        }

        if (totalBits / 8 != end - begin)
        {
            throw Invalid(source, $"tensor '{Clip(name)}' ({dtype}, shape {Clip(FormatShape(shape))}) needs {totalBits / 8} bytes, but its data_offsets [{begin}, {end}] span {end - begin}");
        }

        return new SafetensorsTensor(name, dtype, shape, (long)begin, (long)end);
    }

    private static ulong[] ReadIntegers(ref Utf8JsonReader reader, string name, string field, string source)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw Invalid(source, $"tensor '{Clip(name)}' has a {field} that is a {reader.TokenType}, not an array");
        }

        var values = new List<ulong>();
        while (true)
        {
            Next(ref reader, source);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                return [.. values];
            }

            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out ulong value))
            {
                string text = reader.TokenType == JsonTokenType.Number ? Encoding.UTF8.GetString(reader.ValueSpan) : reader.TokenType.ToString();
                throw Invalid(source, $"tensor '{Clip(name)}' has a {field} entry '{Clip(text)}' that is not a non-negative 64-bit integer");
            }

            values.Add(value);
        }
    }

    /// <summary>Sorts the tensors by offset and checks that they tile <c>[0, end)</c> exactly; returns the end.</summary>
    private static long CheckLayout(List<SafetensorsTensor> tensors, long dataAvailable, string source)
    {
        tensors.Sort((x, y) => x.Begin != y.Begin ? x.Begin.CompareTo(y.Begin) : x.End.CompareTo(y.End));
        long position = 0;
        string? previous = null;
        foreach (var tensor in tensors)
        {
            if (tensor.End > dataAvailable)
            {
                throw Invalid(source, $"tensor '{Clip(tensor.Name)}' has data_offsets [{tensor.Begin}, {tensor.End}] past the end of the {dataAvailable}-byte data section");
            }

            if (tensor.Begin != position)
            {
                string where = previous is null ? "the start of the data section" : $"the end of tensor '{Clip(previous)}'";
                throw Invalid(source, tensor.Begin > position
                    ? $"tensor '{Clip(tensor.Name)}' starts at data byte {tensor.Begin}, leaving a hole after {where} (byte {position})"
                    : $"tensor '{Clip(tensor.Name)}' starts at data byte {tensor.Begin}, overlapping {where} (byte {position})");
            }

            position = tensor.End;
            previous = tensor.Name;
        }

        return position;
    }

    /// <summary>Shortens text from a file for an error message (a hostile file could hold megabyte-long names).</summary>
    internal static string Clip(string text) => text.Length <= MaxProblemText ? text : string.Concat(text.AsSpan(0, MaxProblemText), "...");
}

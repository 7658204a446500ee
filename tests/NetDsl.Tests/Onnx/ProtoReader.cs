using System.Buffers.Binary;

namespace NetDsl.Tests.Onnx;

/// <summary>The protobuf wire types (groups, 3 and 4, are deprecated and rejected).</summary>
public enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// A minimal, bounds-checked protobuf wire-format reader over a byte span. Every read checks the remaining length;
/// anything malformed (truncated varint or field, varint longer than 10 bytes, length past the end, field number 0,
/// group or unknown wire type) throws <see cref="InvalidDataException"/> naming the source and the byte offset.
/// Nested messages are read with a reader over the field's bytes (<see cref="ReadMessage"/>), which keeps absolute
/// offsets for the messages.
/// </summary>
public ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly string _source;
    private readonly long _baseOffset;
    private int _position;

    /// <summary>Reads <paramref name="data"/>; <paramref name="source"/> (a file name) appears in every error.</summary>
    public ProtoReader(ReadOnlySpan<byte> data, string source, long baseOffset = 0)
    {
        _data = data;
        _source = source;
        _baseOffset = baseOffset;
        _position = 0;
    }

    /// <summary>Whether every byte was consumed.</summary>
    public readonly bool AtEnd => _position >= _data.Length;

    /// <summary>The source named in errors.</summary>
    public readonly string Source => _source;

    /// <summary>Offset of the next byte from the start of the outermost message.</summary>
    public readonly long Offset => _baseOffset + _position;

    /// <summary>Reads the next field key; false at the end of the message.</summary>
    public bool TryReadTag(out int field, out WireType wireType)
    {
        if (AtEnd)
        {
            field = 0;
            wireType = default;
            return false;
        }

        long at = Offset;
        ulong key = ReadVarint();
        ulong number = key >> 3;
        int type = (int)(key & 7);
        if (number == 0 || number > (1u << 29) - 1)
        {
            throw Error($"invalid field number {number}", at);
        }

        if (type is 3 or 4)
        {
            throw Error($"field {number} uses a deprecated group wire type ({type})", at);
        }

        if (type > 5)
        {
            throw Error($"field {number} has an unknown wire type {type}", at);
        }

        field = (int)number;
        wireType = (WireType)type;
        return true;
    }

    /// <summary>A base-128 varint of at most 10 bytes.</summary>
    public ulong ReadVarint()
    {
        long at = Offset;
        ulong result = 0;
        for (int shift = 0, i = 0; i < 10; i++, shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw Error("truncated varint", at);
            }

            byte b = _data[_position++];
            if (i == 9 && b > 1)
            {
                throw Error("varint overflows 64 bits", at);
            }

            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw Error("varint longer than 10 bytes", at);
    }

    /// <summary>A varint interpreted as a (two's complement) int64, as protobuf's int64.</summary>
    public long ReadInt64() => (long)ReadVarint();

    /// <summary>A varint interpreted as int32 (protobuf encodes negative int32 as 10-byte varints; the value is truncated).</summary>
    public int ReadInt32() => (int)ReadVarint();

    /// <summary>Eight little-endian bytes.</summary>
    public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, "fixed64"));

    /// <summary>Four little-endian bytes.</summary>
    public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "fixed32"));

    /// <summary>A little-endian IEEE single.</summary>
    public float ReadFloat() => BitConverter.UInt32BitsToSingle(ReadFixed32());

    /// <summary>A little-endian IEEE double.</summary>
    public double ReadDouble() => BitConverter.UInt64BitsToDouble(ReadFixed64());

    /// <summary>The payload of a length-delimited field.</summary>
    public ReadOnlySpan<byte> ReadBytes()
    {
        long at = Offset;
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw Error($"length {length} runs past the end of the message ({_data.Length - _position} bytes left)", at);
        }

        return Take((int)length, "bytes");
    }

    /// <summary>A UTF-8 string field.</summary>
    public string ReadString()
    {
        long at = Offset;
        ReadOnlySpan<byte> bytes = ReadBytes();
        try
        {
            return new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (ArgumentException e)
        {
            throw Error($"invalid UTF-8 in a string ({e.Message})", at);
        }
    }

    /// <summary>A reader over an embedded message.</summary>
    public ProtoReader ReadMessage()
    {
        ReadOnlySpan<byte> bytes = ReadBytes();
        return new ProtoReader(bytes, _source, Offset - bytes.Length);
    }

    /// <summary>Skips a field's value of the given wire type.</summary>
    public void Skip(WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed64: Take(8, "fixed64"); break;
            case WireType.Fixed32: Take(4, "fixed32"); break;
            case WireType.LengthDelimited: ReadBytes(); break;
            default: throw Error($"cannot skip wire type {(int)wireType}", Offset);
        }
    }

    /// <summary>
    /// Appends a repeated varint field's values: one value (unpacked) or a packed run (length-delimited), as
    /// protobuf parsers must accept both.
    /// </summary>
    public void ReadRepeatedInt64(WireType wireType, List<long> into)
    {
        if (wireType == WireType.Varint)
        {
            into.Add(ReadInt64());
            return;
        }

        Expect(wireType, WireType.LengthDelimited, "a repeated varint");
        ProtoReader packed = ReadMessage();
        while (!packed.AtEnd)
        {
            into.Add(packed.ReadInt64());
        }
    }

    /// <summary>Appends a repeated float field's values (unpacked fixed32 or packed).</summary>
    public void ReadRepeatedFloat(WireType wireType, List<float> into)
    {
        if (wireType == WireType.Fixed32)
        {
            into.Add(ReadFloat());
            return;
        }

        Expect(wireType, WireType.LengthDelimited, "a repeated float");
        long at = Offset;
        ReadOnlySpan<byte> bytes = ReadBytes();
        if (bytes.Length % 4 != 0)
        {
            throw Error($"packed floats of {bytes.Length} bytes (not a multiple of 4)", at);
        }

        for (int i = 0; i < bytes.Length; i += 4)
        {
            into.Add(BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i, 4)));
        }
    }

    /// <summary>Appends a repeated double field's values (unpacked fixed64 or packed).</summary>
    public void ReadRepeatedDouble(WireType wireType, List<double> into)
    {
        if (wireType == WireType.Fixed64)
        {
            into.Add(ReadDouble());
            return;
        }

        Expect(wireType, WireType.LengthDelimited, "a repeated double");
        long at = Offset;
        ReadOnlySpan<byte> bytes = ReadBytes();
        if (bytes.Length % 8 != 0)
        {
            throw Error($"packed doubles of {bytes.Length} bytes (not a multiple of 8)", at);
        }

        for (int i = 0; i < bytes.Length; i += 8)
        {
            into.Add(BinaryPrimitives.ReadDoubleLittleEndian(bytes.Slice(i, 8)));
        }
    }

    /// <summary>Throws unless a field has the wire type its schema gives it.</summary>
    public readonly void Expect(WireType actual, WireType expected, string what)
    {
        if (actual != expected)
        {
            throw Error($"{what} has wire type {actual}, expected {expected}", Offset);
        }
    }

    /// <summary>An error at <paramref name="offset"/> in this reader's source.</summary>
    public readonly InvalidDataException Error(string message, long offset) =>
        new($"{_source}: malformed protobuf at byte {offset}: {message}.");

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count > _data.Length - _position)
        {
            throw Error($"truncated {what} (needs {count} bytes, {_data.Length - _position} left)", Offset);
        }

        ReadOnlySpan<byte> slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }
}

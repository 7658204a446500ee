using System.Buffers.Binary;
using Xunit;

namespace NetDsl.Tests.Onnx;

/// <summary><see cref="ProtoReader"/> and <see cref="OnnxDecoder"/> on hand-built wire-format bytes, malformed ones included.</summary>
public class ProtoReaderTests
{
    private const string Source = "hand-built.pb";

    [Fact]
    public void Reads_each_wire_type()
    {
        // field 1 varint 150; field 2 "abc"; field 3 fixed64 0x0102030405060708; field 4 fixed32 1.5f; field 5 varint -1 (10 bytes)
        byte[] bytes =
        [
            0x08, 0x96, 0x01,
            0x12, 0x03, (byte)'a', (byte)'b', (byte)'c',
            0x19, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
            0x25, .. BitConverter.GetBytes(1.5f),
            0x28, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
        ];
        var r = new ProtoReader(bytes, Source);
        Assert.True(r.TryReadTag(out int f, out WireType wt));
        Assert.Equal((1, WireType.Varint), (f, wt));
        Assert.Equal(150UL, r.ReadVarint());
        Assert.True(r.TryReadTag(out f, out wt));
        Assert.Equal((2, WireType.LengthDelimited), (f, wt));
        Assert.Equal("abc", r.ReadString());
        Assert.True(r.TryReadTag(out f, out wt));
        Assert.Equal((3, WireType.Fixed64), (f, wt));
        Assert.Equal(0x0102030405060708UL, r.ReadFixed64());
        Assert.True(r.TryReadTag(out f, out wt));
        Assert.Equal((4, WireType.Fixed32), (f, wt));
        Assert.Equal(1.5f, r.ReadFloat());
        Assert.True(r.TryReadTag(out f, out wt));
        Assert.Equal(-1L, r.ReadInt64());
        Assert.True(r.AtEnd);
        Assert.False(r.TryReadTag(out _, out _));
    }

    [Fact]
    public void Skips_unknown_fields_of_every_wire_type()
    {
        byte[] bytes = [0x08, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1A, 0x02, 9, 9, 0x25, 1, 2, 3, 4, 0x30, 0x2A];
        var r = new ProtoReader(bytes, Source);
        int last = 0;
        while (r.TryReadTag(out int f, out WireType wt))
        {
            if (f == 6)
            {
                last = (int)r.ReadVarint();
            }
            else
            {
                r.Skip(wt);
            }
        }

        Assert.Equal(42, last);
    }

    [Fact]
    public void Packed_and_unpacked_repeated_fields_read_the_same()
    {
        var packed = new List<long>();
        var unpacked = new List<long>();
        byte[] p = [0x0A, 0x04, 0x03, 0x8E, 0x02, 0x07];      // field 1, packed [3, 270, 7]
        byte[] u = [0x08, 0x03, 0x08, 0x8E, 0x02, 0x08, 0x07]; // field 1 three times
        var rp = new ProtoReader(p, Source);
        while (rp.TryReadTag(out _, out WireType wt))
        {
            rp.ReadRepeatedInt64(wt, packed);
        }

        var ru = new ProtoReader(u, Source);
        while (ru.TryReadTag(out _, out WireType wt))
        {
            ru.ReadRepeatedInt64(wt, unpacked);
        }

        Assert.Equal([3L, 270L, 7L], packed);
        Assert.Equal(packed, unpacked);
    }

    public static TheoryData<string, byte[]> Malformed() => new()
    {
        { "truncated varint", [0x08, 0x96] },
        { "truncated key", [0x96] },
        { "varint of 11 bytes", [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01] },
        { "varint over 64 bits", [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02] },
        { "length past the end", [0x12, 0x05, 0x61, 0x62] },
        { "huge length", [0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x61] },
        { "truncated fixed32", [0x25, 0x00, 0x00] },
        { "truncated fixed64", [0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00] },
        { "field number 0", [0x00, 0x01] },
        { "start group", [0x0B, 0x0C] },
        { "end group", [0x0C] },
        { "wire type 6", [0x0E, 0x00] },
        { "wire type 7", [0x0F, 0x00] },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_input_throws_InvalidDataException_naming_the_source(string what, byte[] bytes)
    {
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            var r = new ProtoReader(bytes, Source);
            while (r.TryReadTag(out _, out WireType wt))
            {
                r.Skip(wt);
            }
        });
        Assert.True(e.Message.Contains(Source, StringComparison.Ordinal), $"{what}: '{e.Message}' does not name the source.");
    }

    [Fact]
    public void Invalid_utf8_in_a_string_throws()
    {
        byte[] bytes = [0x0A, 0x02, 0xC3, 0x28];
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            var r = new ProtoReader(bytes, Source);
            r.TryReadTag(out _, out _);
            r.ReadString();
        });
        Assert.Contains(Source, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decodes_a_tensor_from_raw_data_or_float_data()
    {
        float[] values = [1f, -2.5f, 3.25f, 1e-8f];
        byte[] raw = new byte[16];
        for (int i = 0; i < 4; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        }

        byte[] fromRaw = [.. W.Packed(1, [2, 2]), .. W.Varint(2, 1), .. W.Bytes(8, "t"u8.ToArray()), .. W.Bytes(9, raw)];
        byte[] fromFloats = [.. W.Varint(1, 2), .. W.Varint(1, 2), .. W.Varint(2, 1), .. W.Bytes(4, raw)];
        foreach (var bytes in new[] { fromRaw, fromFloats })
        {
            var t = OnnxDecoder.DecodeTensor(bytes, Source);
            Assert.Equal([2L, 2L], t.Dims);
            Assert.Equal(OnnxDataType.Float, t.DataType);
            Assert.Equal(values, t.AsFloats());
        }

        var named = OnnxDecoder.DecodeTensor(fromRaw, Source);
        Assert.Equal("t", named.Name);
    }

    [Fact]
    public void Decodes_int64_and_bool_tensors()
    {
        byte[] int64 = [.. W.Packed(1, [3]), .. W.Varint(2, 7), .. W.Packed(7, [5, unchecked((ulong)-1L), 300])];
        Assert.Equal([5L, -1L, 300L], OnnxDecoder.DecodeTensor(int64, Source).Int64s!);
        byte[] boolean = [.. W.Packed(1, [2]), .. W.Varint(2, 9), .. W.Bytes(9, [1, 0])];
        Assert.Equal([1, 0], OnnxDecoder.DecodeTensor(boolean, Source).Int32s!);
        byte[] scalar = [.. W.Varint(2, 1), .. W.Bytes(9, BitConverter.GetBytes(3.14f))];
        var s = OnnxDecoder.DecodeTensor(scalar, Source);
        Assert.Empty(s.Dims);
        Assert.Equal([3.14f], s.AsFloats());
    }

    [Fact]
    public void A_tensor_whose_data_does_not_match_its_dims_throws()
    {
        byte[] bytes = [.. W.Packed(1, [2, 3]), .. W.Varint(2, 1), .. W.Bytes(9, new byte[20])];
        var e = Assert.Throws<InvalidDataException>(() => OnnxDecoder.DecodeTensor(bytes, Source));
        Assert.Contains(Source, e.Message, StringComparison.Ordinal);
        byte[] ragged = [.. W.Packed(1, [1]), .. W.Varint(2, 1), .. W.Bytes(9, new byte[3])];
        Assert.Throws<InvalidDataException>(() => OnnxDecoder.DecodeTensor(ragged, Source));
    }

    [Fact]
    public void Decodes_a_model_with_a_node_and_its_attributes()
    {
        byte[] model = HandBuiltModel();
        var m = OnnxDecoder.DecodeModel(model, Source);
        Assert.Equal(8, m.IrVersion);
        Assert.Equal(13, m.Opset);
        var node = Assert.Single(m.Graph.Nodes);
        Assert.Equal("Conv", node.OpType);
        Assert.Equal(["x", "w", ""], node.Inputs);
        Assert.Equal(2, node.GivenInputs);
        Assert.Equal(["y"], node.Outputs);
        Assert.Equal([1L, 2L, 1L, 2L], node.Ints("pads"));
        Assert.Equal(2, node.Int("group", 1));
        Assert.Equal(0.5f, node.Float("alpha", 1f));
        Assert.Equal("SAME_UPPER", node.String("auto_pad", "NOTSET"));
        Assert.Equal([0.25f, 4f], node.Attributes["scales"].Floats);
        var input = Assert.Single(m.Graph.Inputs);
        Assert.Equal("x", input.Name);
        Assert.Equal(OnnxDataType.Float, input.ElementType);
        Assert.Equal([1L, null, 5L], input.Dims!);
        Assert.Equal("init", Assert.Single(m.Graph.Initializers).Name);
    }

    /// <summary>
    /// Every proper prefix of a model either throws <see cref="InvalidDataException"/> naming the source or, when cut at a
    /// top-level field boundary, decodes to a shorter model; nothing else (no other exception type, no hang).
    /// </summary>
    [Fact]
    public void Every_truncation_of_a_model_throws_InvalidDataException_or_ends_at_a_field_boundary()
    {
        byte[] model = HandBuiltModel();
        int decoded = 0;
        for (int length = 0; length < model.Length; length++)
        {
            try
            {
                OnnxDecoder.DecodeModel(model.AsSpan(0, length), Source);
                decoded++;
            }
            catch (InvalidDataException e)
            {
                Assert.Contains(Source, e.Message, StringComparison.Ordinal);
            }
        }

        // ir_version, graph, opset_import: only the prefix ending right after the graph is a complete model with a graph.
        Assert.Equal(1, decoded);
    }

    private static byte[] HandBuiltModel()
    {
        byte[] Attr(string name, int type, byte[] payload) => W.Bytes(5, [.. W.Bytes(1, Utf8(name)), .. W.Varint(20, (ulong)type), .. payload]);
        byte[] node =
        [
            .. W.Bytes(1, Utf8("x")), .. W.Bytes(1, Utf8("w")), .. W.Bytes(1, []), .. W.Bytes(2, Utf8("y")),
            .. W.Bytes(4, Utf8("Conv")),
            .. Attr("pads", 7, W.Packed(8, [1, 2, 1, 2])),
            .. Attr("group", 2, W.Varint(3, 2)),
            .. Attr("alpha", 1, [0x15, .. BitConverter.GetBytes(0.5f)]),
            .. Attr("auto_pad", 3, W.Bytes(4, Utf8("SAME_UPPER"))),
            .. Attr("scales", 6, [0x3D, .. BitConverter.GetBytes(0.25f), 0x3D, .. BitConverter.GetBytes(4f)]),
        ];
        byte[] Dim(ulong? value) => W.Bytes(1, value is { } v ? W.Varint(1, v) : W.Bytes(2, Utf8("batch")));
        byte[] shape = [.. Dim(1), .. Dim(null), .. Dim(5)];
        byte[] tensorType = [.. W.Varint(1, 1), .. W.Bytes(2, shape)];
        byte[] valueInfo = [.. W.Bytes(1, Utf8("x")), .. W.Bytes(2, W.Bytes(1, tensorType))];
        byte[] initializer = [.. W.Packed(1, [1]), .. W.Varint(2, 1), .. W.Bytes(8, Utf8("init")), .. W.Bytes(9, new byte[4])];
        byte[] graph = [.. W.Bytes(1, node), .. W.Bytes(2, Utf8("g")), .. W.Bytes(5, initializer), .. W.Bytes(11, valueInfo)];
        byte[] opset = [.. W.Bytes(1, []), .. W.Varint(2, 13)];
        return [.. W.Varint(1, 8), .. W.Bytes(7, graph), .. W.Bytes(8, opset)];
    }

    private static byte[] Utf8(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    /// <summary>A tiny protobuf writer for building test inputs.</summary>
    private static class W
    {
        public static byte[] Raw(ulong v)
        {
            var bytes = new List<byte>();
            do
            {
                byte b = (byte)(v & 0x7F);
                v >>= 7;
                bytes.Add(v != 0 ? (byte)(b | 0x80) : b);
            }
            while (v != 0);
            return [.. bytes];
        }

        public static byte[] Varint(int field, ulong v) => [.. Raw((ulong)field << 3), .. Raw(v)];

        public static byte[] Bytes(int field, byte[] payload) => [.. Raw(((ulong)field << 3) | 2), .. Raw((ulong)payload.Length), .. payload];

        public static byte[] Packed(int field, ulong[] values) => Bytes(field, [.. values.SelectMany(Raw)]);
    }
}

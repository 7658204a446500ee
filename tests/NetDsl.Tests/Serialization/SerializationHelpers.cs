using System.Buffers.Binary;
using System.Text;

namespace NetDsl.Tests.Serialization;

/// <summary>
/// CnnTiny's feature extractor (same Conv1 and Conv2) with a wider hidden layer and a new five-class head: (1, 10, 10)
/// -> Conv 4@3x3 ReLU -> Conv 4@3x3 ReLU -> MaxPool 2 -> Flatten (36) -> Dense 16 ReLU (Hidden: 8 units in CnnTiny)
/// -> Dense 5 Softmax (Head: CnnTiny's head is Output, 3 units). The transfer-learning target of the partial-load tests.
/// </summary>
[Network]
[Input(1, 10, 10)]
public partial class CnnTinyTransfer
{
    [Conv2D(4, 3, Activation.ReLU)] public partial Conv2DLayer Conv1 { get; }

    [Conv2D(4, 3, Activation.ReLU)] public partial Conv2DLayer Conv2 { get; }

    [MaxPool2D(2)] public partial PoolingLayer Pool { get; }

    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(16, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    [Dense(5, Activation.Softmax)] public partial DenseLayer Head { get; }
}

/// <summary>One tensor of a hand-built file.</summary>
public sealed record HandTensor(string Name, int[] Shape, float[] Values, string DType = "F32");

/// <summary>
/// Builds safetensors files byte by byte from the format description (8-byte little-endian header length, JSON
/// header written as text, little-endian data), independently of the library's writer, so the tests check the
/// format against the spec rather than against itself.
/// </summary>
public static class HandBuilt
{
    /// <summary>Length prefix + header bytes + data.</summary>
    public static byte[] File(byte[] header, ReadOnlySpan<byte> data, ulong? declaredHeaderLength = null)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredHeaderLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes.AsSpan(8 + header.Length));
        return bytes;
    }

    /// <summary>Length prefix + UTF-8 header text + data.</summary>
    public static byte[] File(string header, ReadOnlySpan<byte> data) => File(Encoding.UTF8.GetBytes(header), data);

    /// <summary>Little-endian float32 bytes.</summary>
    public static byte[] Floats(IEnumerable<float> values)
    {
        var list = values.ToArray();
        var bytes = new byte[list.Length * 4];
        for (int i = 0; i < list.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), list[i]);
        }

        return bytes;
    }

    /// <summary>The JSON entry of one tensor.</summary>
    public static string Entry(string name, string dtype, IEnumerable<long> shape, long begin, long end) =>
        $"\"{name}\": {{\"dtype\": \"{dtype}\", \"shape\": [{string.Join(", ", shape)}], \"data_offsets\": [{begin}, {end}]}}";

    /// <summary>
    /// A file holding <paramref name="tensors"/>: data in the given order, tightly packed; header entries in
    /// reverse order unless <paramref name="reverseHeaderOrder"/> is false (JSON order must not matter); optional metadata JSON
    /// object text; optional padding spaces after the JSON.
    /// </summary>
    public static byte[] FromTensors(IReadOnlyList<HandTensor> tensors, string? metadataJson = null, int padding = 0, bool reverseHeaderOrder = true)
    {
        var entries = new List<string>();
        var data = new List<byte>();
        foreach (var tensor in tensors)
        {
            byte[] bytes = tensor.DType switch
            {
                "F32" => Floats(tensor.Values),
                "F64" => tensor.Values.SelectMany(v => BitConverter.GetBytes((double)v)).ToArray(),
                "F16" => tensor.Values.SelectMany(v => BitConverter.GetBytes((Half)v)).ToArray(),
                _ => throw new ArgumentException(tensor.DType),
            };
            entries.Add(Entry(tensor.Name, tensor.DType, tensor.Shape.Select(d => (long)d), data.Count, data.Count + bytes.Length));
            data.AddRange(bytes);
        }

        if (reverseHeaderOrder)
        {
            entries.Reverse();
        }

        if (metadataJson is not null)
        {
            entries.Insert(entries.Count / 2, $"\"__metadata__\": {metadataJson}");
        }

        string header = "{" + string.Join(", ", entries) + "}" + new string(' ', padding);
        return File(header, data.ToArray());
    }

    /// <summary>
    /// A network's tensors read through the typed layer API (not through <see cref="Layer.Tensors"/>), named and shaped
    /// as the issue specifies: Dense kernel [inputs, units], Conv2D kernel [kh, kw, in, filters], BatchNorm gamma, beta,
    /// moving_mean, moving_variance.
    /// </summary>
    public static List<HandTensor> Expected(Network network)
    {
        var tensors = new List<HandTensor>();
        foreach (var layer in network.Layers)
        {
            switch (layer)
            {
                case DenseLayer d:
                    tensors.Add(new($"{d.Name}.kernel", [d.Inputs, d.Units], d.Weights.ToArray()));
                    if (d.UseBias)
                    {
                        tensors.Add(new($"{d.Name}.bias", [d.Units], d.Bias.ToArray()));
                    }

                    break;
                case Conv2DLayer c:
                    tensors.Add(new($"{c.Name}.kernel", [c.KernelHeight, c.KernelWidth, c.InputChannels, c.Filters], c.Weights.ToArray()));
                    if (c.UseBias)
                    {
                        tensors.Add(new($"{c.Name}.bias", [c.Filters], c.Bias.ToArray()));
                    }

                    break;
                case BatchNormLayer b:
                    tensors.Add(new($"{b.Name}.gamma", [b.Channels], b.Gamma.ToArray()));
                    tensors.Add(new($"{b.Name}.beta", [b.Channels], b.Beta.ToArray()));
                    tensors.Add(new($"{b.Name}.moving_mean", [b.Channels], b.MovingMean.ToArray()));
                    tensors.Add(new($"{b.Name}.moving_variance", [b.Channels], b.MovingVariance.ToArray()));
                    break;
            }
        }

        return tensors;
    }

    /// <summary>Fills every tensor of <paramref name="network"/> with random values (biases and statistics included).</summary>
    public static void Randomize(Network network, int seed)
    {
        var random = new Random(seed);
        foreach (var tensor in network.Layers.SelectMany(l => l.Tensors))
        {
            var values = tensor.Values;
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = tensor.Name == "moving_variance" ? (float)(0.5 + random.NextDouble()) : (float)(2 * random.NextDouble() - 1);
            }
        }
    }

    /// <summary>Asserts two float spans are bitwise equal, naming the first difference.</summary>
    public static void AssertBitEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Xunit.Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}");
            }
        }
    }
}

/// <summary>A read-only stream that cannot seek (its length is unknown to the reader), over a byte array.</summary>
public sealed class NonSeekableStream(byte[] bytes) : Stream
{
    private readonly MemoryStream _inner = new(bytes, writable: false);

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7)); // short reads on purpose
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

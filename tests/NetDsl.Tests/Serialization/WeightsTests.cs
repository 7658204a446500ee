using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using NetDsl.Serialization;
using NetDsl.Tests.Numerics;
using Xunit;

namespace NetDsl.Tests.Serialization;

/// <summary>
/// Weight files: the bytes follow the safetensors spec (checked by parsing them here, and by loading files built
/// here by hand), round trips are exact, strict loads reject every mismatch by name, partial loads serve transfer
/// learning, and saves are atomic.
/// </summary>
public sealed class WeightsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("netdsl-weights-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    public static TheoryData<string> AllNetworks()
    {
        var data = new TheoryData<string>();
        foreach (string name in NetworkFactory.Names.Concat(CnnNetworkFactory.Names).Append(nameof(CnnDropout)))
        {
            data.Add(name);
        }

        return data;
    }

    private static Network Create(string name, int seed, int batch = 4) =>
        NetworkFactory.Names.Contains(name) ? NetworkFactory.Create(name, batch, seed) : CnnNetworkFactory.Create(name, batch, seed);

    [Fact]
    public void Layers_enumerate_their_named_tensors_in_the_documented_layouts()
    {
        using var net = new CnnBatchNorm(2, seed: 1, threads: 1);
        var tensors = net.Layers.SelectMany(l => l.Tensors).ToList();
        Assert.Equal(
            ["Conv.kernel", "ConvNorm.gamma", "ConvNorm.beta", "ConvNorm.moving_mean", "ConvNorm.moving_variance", "Hidden.kernel",
             "HiddenNorm.gamma", "HiddenNorm.beta", "HiddenNorm.moving_mean", "HiddenNorm.moving_variance", "Logits.kernel", "Logits.bias"],
            tensors.Select(t => t.FullName));
        Assert.Equal([3, 3, 2, 6], tensors[0].Shape.ToArray());
        Assert.Equal([96, 10], tensors[5].Shape.ToArray());
        Assert.Equal(4, tensors.Count(t => t.Name.StartsWith("moving_")));
        Assert.All(tensors.Where(t => t.Name.StartsWith("moving_")), t => Assert.False(t.Trainable, t.FullName));
        Assert.All(tensors.Where(t => !t.Name.StartsWith("moving_")), t => Assert.True(t.Trainable, t.FullName));
        Assert.Equal(net.ParameterCount, tensors.Sum(t => (long)t.Length));
        Assert.Empty(net.Pool.Tensors);
        Assert.Same(net.Conv, tensors[0].Layer);

        // Values are the layer's own spans.
        tensors[0].Values[5] = 42f;
        Assert.Equal(42f, net.Conv.Weights[5]);
        Assert.True(net.ConvNorm.MovingVariance.SequenceEqual(tensors[4].Values));
        Assert.Equal("Logits.bias [3]", tensors[^1].ToString());
    }

    /// <summary>
    /// The saved bytes, parsed here with the spec in hand: u64 little-endian header length, header padded with
    /// spaces to a multiple of 8, a JSON object with <c>__metadata__</c> and one entry per tensor (F32, the
    /// documented shape, offsets tightly packed from 0 in layer order), then exactly the little-endian values and
    /// nothing else (no alignment padding: 4 bytes per parameter).
    /// </summary>
    [Theory]
    [MemberData(nameof(AllNetworks))]
    public void Saved_file_follows_the_safetensors_spec(string name)
    {
        using var net = Create(name, seed: 5);
        HandBuilt.Randomize(net, 6);
        var stream = new MemoryStream();
        net.SaveWeights(stream);
        byte[] bytes = stream.ToArray();

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, headerLength % 8);
        byte[] header = bytes.AsSpan(8, (int)headerLength).ToArray();
        string text = new UTF8Encoding(false, true).GetString(header);
        Assert.Equal('{', text[0]);
        Assert.Matches(@"^\{.*\} *$", text);
        var expected = HandBuilt.Expected(net);
        Assert.Equal(8 + (long)headerLength + 4 * net.ParameterCount, bytes.Length);

        using var json = JsonDocument.Parse(header);
        var properties = json.RootElement.EnumerateObject().ToList();
        var metadata = properties.Single(p => p.Name == "__metadata__").Value;
        Assert.Equal("1", metadata.GetProperty("netdsl.format_version").GetString());
        Assert.Equal("weights", metadata.GetProperty("netdsl.kind").GetString());
        Assert.Equal(net.GetType().FullName, metadata.GetProperty("netdsl.network").GetString());
        Assert.All(metadata.EnumerateObject(), p => Assert.Equal(JsonValueKind.String, p.Value.ValueKind));

        var entries = properties.Where(p => p.Name != "__metadata__").ToList();
        Assert.Equal(expected.Select(t => t.Name), entries.Select(e => e.Name));
        long offset = 0;
        byte[] data = bytes[(8 + (int)headerLength)..];
        for (int i = 0; i < expected.Count; i++)
        {
            var entry = entries[i].Value;
            Assert.Equal("F32", entry.GetProperty("dtype").GetString());
            Assert.Equal(expected[i].Shape.Select(d => (long)d), entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
            long[] offsets = entry.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            Assert.Equal([offset, offset + 4L * expected[i].Values.Length], offsets);
            float[] stored = Enumerable.Range(0, expected[i].Values.Length)
                .Select(k => BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan((int)offset + 4 * k))).ToArray();
            HandBuilt.AssertBitEqual(expected[i].Values, stored, expected[i].Name);
            offset = offsets[1];
        }

        Assert.Equal(data.Length, offset);
    }

    /// <summary>Save to a file, load into a network of another seed: every parameter (padding included) and every prediction is bit-identical.</summary>
    [Theory]
    [MemberData(nameof(AllNetworks))]
    public void Round_trip_through_a_file_is_exact(string name)
    {
        using var source = Create(name, seed: 1);
        HandBuilt.Randomize(source, 2);
        string path = PathOf(name + ".safetensors");
        source.SaveWeights(path);

        using var target = Create(name, seed: 2);
        var report = target.LoadWeights(path);
        HandBuilt.AssertBitEqual(source.Parameters, target.Parameters, name);
        Assert.Equal(source.Layers.SelectMany(l => l.Tensors).Select(t => t.FullName), report.Loaded);
        Assert.Empty(report.Skipped);
        Assert.Equal("weights", report.Metadata["netdsl.kind"]);

        int samples = 5;
        var x = NetworkFactory.RandomFloats(new Random(3), samples * source.InputSize);
        float[] a = new float[samples * source.OutputSize], b = new float[a.Length];
        source.Predict(x, a);
        target.Predict(x, b);
        HandBuilt.AssertBitEqual(a, b, name + " predictions");
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
    }

    [Fact]
    public void Round_trip_through_seekable_and_non_seekable_streams()
    {
        using var source = new CnnBatchNorm(3, seed: 1, threads: 1);
        HandBuilt.Randomize(source, 4);
        var buffer = new MemoryStream();
        buffer.Write([1, 2, 3]); // the stream is read from its position
        source.SaveWeights(buffer);
        byte[] bytes = buffer.ToArray();

        using var seekable = new CnnBatchNorm(3, seed: 2, threads: 1);
        var stream = new MemoryStream(bytes) { Position = 3 };
        seekable.LoadWeights(stream);
        HandBuilt.AssertBitEqual(source.Parameters, seekable.Parameters, "seekable");

        using var nonSeekable = new CnnBatchNorm(3, seed: 2, threads: 1);
        nonSeekable.LoadWeights(new NonSeekableStream(bytes[3..]), sourceName: "pipe");
        HandBuilt.AssertBitEqual(source.Parameters, nonSeekable.Parameters, "non-seekable");
    }

    /// <summary>
    /// A file written here byte by byte from the spec (header entries in another order than the data, metadata in
    /// the middle, padding spaces, escaped characters in a metadata string) loads into the network, value for value.
    /// </summary>
    [Fact]
    public void Hand_built_file_loads_correctly()
    {
        using var reference = new CnnBatchNorm(2, seed: 9, threads: 1);
        HandBuilt.Randomize(reference, 10);
        var tensors = HandBuilt.Expected(reference);
        byte[] file = HandBuilt.FromTensors(tensors, "{\"format\": \"np\", \"note\": \"caf\\u00e9 \\\"quoted\\\"\"}", padding: 5);
        string path = PathOf("hand.safetensors");
        File.WriteAllBytes(path, file);

        using var net = new CnnBatchNorm(2, seed: 1, threads: 1);
        var report = net.LoadWeights(path);
        HandBuilt.AssertBitEqual(reference.Parameters, net.Parameters, "hand-built");
        Assert.Equal("café \"quoted\"", report.Metadata["note"]);
        Assert.Equal(12, report.Loaded.Count);

        // Data order different from layer order, header in layer order: offsets, not positions, locate the data.
        var shuffled = tensors.ToList();
        (shuffled[0], shuffled[^1]) = (shuffled[^1], shuffled[0]);
        (shuffled[3], shuffled[7]) = (shuffled[7], shuffled[3]);
        using var other = new CnnBatchNorm(2, seed: 1, threads: 1);
        other.LoadWeights(new MemoryStream(HandBuilt.FromTensors(shuffled, reverseHeaderOrder: false)));
        HandBuilt.AssertBitEqual(reference.Parameters, other.Parameters, "reordered data");
    }

    /// <summary>The spec allows scalars (shape []) and empty tensors (a zero dimension, no data): valid files, extra tensors to this network.</summary>
    [Fact]
    public void Scalars_and_empty_tensors_are_valid_extra_tensors()
    {
        using var reference = new Net1x5x2(2, seed: 4, threads: 1);
        var tensors = HandBuilt.Expected(reference);
        tensors.Insert(1, new HandTensor("step", [], [7f]));
        tensors.Insert(2, new HandTensor("empty", [0, 3], []));
        tensors.Add(new HandTensor("empty_f16", [4, 0], [], "F16"));
        byte[] file = HandBuilt.FromTensors(tensors);

        using var net = new Net1x5x2(2, seed: 1, threads: 1);
        var error = Assert.Throws<InvalidDataException>(() => net.LoadWeights(new MemoryStream(file), sourceName: "extras.safetensors"));
        Assert.Contains("extras.safetensors", error.Message);
        Assert.Contains("'step' (shape [])", error.Message);
        Assert.Contains("'empty' (shape [0, 3])", error.Message);

        var report = net.LoadWeights(new MemoryStream(file), WeightLoadOptions.PartialLoad);
        Assert.Equal(4, report.Loaded.Count);
        Assert.Equal(["step", "empty", "empty_f16"], report.Skipped.Select(s => s.Name));
        Assert.All(report.Skipped, s => Assert.Equal(WeightSkipReason.NotInNetwork, s.Reason));
        HandBuilt.AssertBitEqual(reference.Parameters, net.Parameters, "partial");
    }

    /// <summary>
    /// The format allows NaN and infinities, but weights holding them are refused (naming the tensor, the index and the
    /// value) and nothing is loaded: training on them would only skip every step. Subnormals and -0 load as stored.
    /// </summary>
    [Theory]
    [InlineData(float.NaN, 0, "NaN")]
    [InlineData(float.PositiveInfinity, 3, "Infinity")]
    [InlineData(float.NegativeInfinity, 4, "-Infinity")]
    public void Non_finite_values_are_refused_and_nothing_is_loaded(float bad, int index, string shown)
    {
        using var net = new Net1x5x2(2, seed: 1, threads: 1);
        var before = net.Parameters.ToArray();
        var tensors = HandBuilt.Expected(net);
        float[] values = [1f, 2f, -0f, float.Epsilon, 5f];
        values[index] = bad;
        tensors[1] = tensors[1] with { Values = values };
        var error = Assert.Throws<InvalidDataException>(() => net.LoadWeights(new MemoryStream(HandBuilt.FromTensors(tensors)), sourceName: "bad.safetensors"));
        Assert.Contains($"'bad.safetensors': tensor 'Hidden.bias' (shape [5]) holds {shown} at flat index {index}", error.Message);
        Assert.Contains("Nothing was loaded", error.Message);
        Assert.Equal(before, net.Parameters.ToArray());

        values[index] = 7f;
        tensors[1] = tensors[1] with { Values = values };
        net.LoadWeights(new MemoryStream(HandBuilt.FromTensors(tensors)));
        HandBuilt.AssertBitEqual(values, net.Hidden.Bias, "bias");
    }

    private static byte[] Without(Network net, string tensor) => HandBuilt.FromTensors(HandBuilt.Expected(net).Where(t => t.Name != tensor).ToList());

    [Fact]
    public void Strict_load_names_a_missing_tensor_and_changes_nothing()
    {
        using var source = new Net13x7x5(2, seed: 1, threads: 1);
        using var net = new Net13x7x5(2, seed: 2, threads: 1);
        float[] before = net.Parameters.ToArray();
        var error = Assert.Throws<InvalidDataException>(() => net.LoadWeights(new MemoryStream(Without(source, "Hidden.bias")), sourceName: "missing.safetensors"));
        Assert.Contains("'missing.safetensors' does not match Net13x7x5 (1 problem)", error.Message);
        Assert.Contains("tensor 'Hidden.bias' (shape [7]) is missing from the file", error.Message);
        Assert.Contains("PartialLoad", error.Message);
        HandBuilt.AssertBitEqual(before, net.Parameters, "after a failed load");
    }

    [Fact]
    public void Strict_load_names_an_extra_tensor()
    {
        using var net = new Net13x7x5(2, seed: 2, threads: 1);
        var tensors = HandBuilt.Expected(net);
        tensors.Add(new HandTensor("Extra.kernel", [2, 2], [1, 2, 3, 4]));
        var error = Assert.Throws<InvalidDataException>(() => net.LoadWeights(new MemoryStream(HandBuilt.FromTensors(tensors)), sourceName: "extra.safetensors"));
        Assert.Contains("'extra.safetensors'", error.Message);
        Assert.Contains("tensor 'Extra.kernel' (shape [2, 2]) in the file matches no tensor of the network", error.Message);
    }

    [Fact]
    public void Strict_load_names_a_wrongly_shaped_tensor_with_both_shapes()
    {
        using var net = new Net13x7x5(2, seed: 2, threads: 1);
        float[] before = net.Parameters.ToArray();
        var tensors = HandBuilt.Expected(net);
        tensors[0] = tensors[0] with { Shape = [7, 13] }; // transposed: same size, wrong layout
        var error = Assert.Throws<InvalidDataException>(() => net.LoadWeights(new MemoryStream(HandBuilt.FromTensors(tensors)), sourceName: "shape.safetensors"));
        Assert.Contains("tensor 'Hidden.kernel' has shape [7, 13] in the file but [13, 7] in the network", error.Message);
        HandBuilt.AssertBitEqual(before, net.Parameters, "after a failed load");
    }

    [Fact]
    public void Strict_load_names_a_tensor_of_another_dtype()
    {
        using var net = new Net13x7x5(2, seed: 2, threads: 1);
        var tensors = HandBuilt.Expected(net);
        tensors[3] = tensors[3] with { DType = "F64" };
        var error = Assert.Throws<InvalidDataException>(() => net.LoadWeights(new MemoryStream(HandBuilt.FromTensors(tensors)), sourceName: "f64.safetensors"));
        Assert.Contains("tensor 'Output.bias' is F64 in the file; only F32 tensors can be loaded", error.Message);
    }

    [Fact]
    public void Strict_load_lists_every_problem_of_another_architecture()
    {
        using var source = new CnnTiny(2, seed: 1, threads: 1);
        string path = PathOf("tiny.safetensors");
        source.SaveWeights(path);
        using var target = new CnnTinyTransfer(2, seed: 2, threads: 1);
        float[] before = target.Parameters.ToArray();
        var error = Assert.Throws<InvalidDataException>(() => target.LoadWeights(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("(6 problems)", error.Message);
        Assert.Contains("tensor 'Hidden.kernel' has shape [36, 8] in the file but [36, 16] in the network", error.Message);
        Assert.Contains("tensor 'Hidden.bias' has shape [8] in the file but [16] in the network", error.Message);
        Assert.Contains("tensor 'Head.kernel' (shape [16, 5]) is missing from the file", error.Message);
        Assert.Contains("tensor 'Output.bias' (shape [3]) in the file matches no tensor of the network", error.Message);
        HandBuilt.AssertBitEqual(before, target.Parameters, "after a failed load");
    }

    /// <summary>
    /// Transfer learning: CnnTiny's weights into <see cref="CnnTinyTransfer"/> (same convolutions, wider hidden layer,
    /// new head). The convolutions load; the hidden layer (other shape), the new head (not in the file) and the old
    /// head (not in the network) are reported with their reasons, and the skipped tensors keep their values.
    /// </summary>
    [Fact]
    public void Partial_load_transfers_the_shared_layers_and_reports_the_rest()
    {
        using var source = new CnnTiny(2, seed: 1, threads: 1);
        HandBuilt.Randomize(source, 3);
        string path = PathOf("tiny.safetensors");
        source.SaveWeights(path);

        using var target = new CnnTinyTransfer(2, seed: 2, threads: 1);
        float[] hidden = target.Hidden.Weights.ToArray(), head = target.Head.Weights.ToArray();
        var report = target.LoadWeights(path, new WeightLoadOptions { Partial = true });

        Assert.Equal(["Conv1.kernel", "Conv1.bias", "Conv2.kernel", "Conv2.bias"], report.Loaded);
        Assert.Equal(
            [
                ("Hidden.kernel", WeightSkipReason.ShapeMismatch), ("Hidden.bias", WeightSkipReason.ShapeMismatch),
                ("Head.kernel", WeightSkipReason.NotInFile), ("Head.bias", WeightSkipReason.NotInFile),
                ("Output.kernel", WeightSkipReason.NotInNetwork), ("Output.bias", WeightSkipReason.NotInNetwork),
            ],
            report.Skipped.Select(s => (s.Name, s.Reason)));
        Assert.Contains("[36, 8] in the file but [36, 16]", report.Skipped[0].Message);
        HandBuilt.AssertBitEqual(source.Conv1.Weights, target.Conv1.Weights, "Conv1.kernel");
        HandBuilt.AssertBitEqual(source.Conv2.Bias, target.Conv2.Bias, "Conv2.bias");
        HandBuilt.AssertBitEqual(hidden, target.Hidden.Weights, "Hidden.kernel (skipped)");
        HandBuilt.AssertBitEqual(head, target.Head.Weights, "Head.kernel (skipped)");

        // The transferred features compute what they computed in the source network.
        target.Conv1.Trainable = false;
        target.Conv2.Trainable = false;
        var x = NetworkFactory.RandomFloats(new Random(1), 2 * 100);
        target.TrainStep(x, [0, 4], new Optimizers.Sgd(0.1f));
        HandBuilt.AssertBitEqual(source.Conv1.Weights, target.Conv1.Weights, "frozen Conv1 after a step");
    }

    /// <summary>A partial load still rejects a file that is not valid safetensors.</summary>
    [Fact]
    public void Partial_load_still_rejects_malformed_files()
    {
        using var net = new Net13x7x5(2, seed: 2, threads: 1);
        Assert.Throws<InvalidDataException>(() => net.LoadWeights(new MemoryStream(HandBuilt.File("{\"a\": 1}", [])), WeightLoadOptions.PartialLoad));
    }

    /// <summary>
    /// A save that fails after the header was written (the network's arena is gone, so the first tensor cannot be
    /// read) leaves the previous file byte-identical and no temporary file behind.
    /// </summary>
    [Fact]
    public void A_save_failing_midway_leaves_the_previous_file_intact()
    {
        string path = PathOf("keep.safetensors");
        using (var first = new Net13x7x5(2, seed: 1, threads: 1))
        {
            first.SaveWeights(path);
        }

        byte[] before = File.ReadAllBytes(path);
        var net = new Net13x7x5(2, seed: 2, threads: 1);
        net.Dispose();
        Assert.Throws<ObjectDisposedException>(() => net.SaveWeights(path));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_directory));

        // The stream overload shows that the header had been written when it failed.
        var stream = new MemoryStream();
        Assert.Throws<ObjectDisposedException>(() => net.SaveWeights(stream));
        Assert.True(stream.Length > 8, "the writer failed before writing anything");
    }

    [Fact]
    public void Unsupported_format_version_is_rejected()
    {
        using var net = new Net1x5x2(2, seed: 1, threads: 1);
        byte[] file = HandBuilt.FromTensors(HandBuilt.Expected(net), "{\"netdsl.format_version\": \"2\"}");
        var error = Assert.Throws<InvalidDataException>(() => net.LoadWeights(new MemoryStream(file), sourceName: "v2.safetensors"));
        Assert.Contains("'v2.safetensors' has NetDsl format version '2'", error.Message);
    }

    [Fact]
    public void Argument_errors_are_not_data_errors()
    {
        using var net = new Net1x5x2(2, seed: 1, threads: 1);
        Assert.Throws<ArgumentNullException>(() => net.SaveWeights((string)null!));
        Assert.Throws<ArgumentException>(() => net.SaveWeights(""));
        Assert.Throws<ArgumentNullException>(() => net.LoadWeights((Stream)null!));
        Assert.Throws<FileNotFoundException>(() => net.LoadWeights(PathOf("absent.safetensors")));
    }
}

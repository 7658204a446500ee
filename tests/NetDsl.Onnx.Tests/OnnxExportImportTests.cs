using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using NetDsl.Onnx.Schema;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Onnx.Tests;

/// <summary>
/// NetDsl networks written as ONNX (<see cref="OnnxExport"/>) and read back (<see cref="OnnxWeights"/>): ONNX Runtime
/// runs the exported file and gives Predict's outputs; an import into a network of the same declaration with other
/// weights gives the same predictions bit for bit; mismatches are reported naming the node, the layer and the shapes,
/// and leave the network unchanged.
/// </summary>
public class OnnxExportImportTests(ITestOutputHelper output)
{
    public static TheoryData<string> Networks() => new() { nameof(ExportTransferCnn), nameof(ExportResNetBlocks), nameof(ExportInception) };

    [Theory]
    [MemberData(nameof(Networks))]
    public void OnnxRuntime_runs_the_export_and_gives_Predicts_outputs(string name)
    {
        using var network = Create(name, seed: 3);
        Randomize(network, new Random(5));
        var file = new MemoryStream();
        network.ExportOnnx(file);

        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(file.ToArray(), options);
        var random = new Random(7);
        foreach (int rows in new[] { 1, 4 })
        {
            float[] x = [.. Enumerable.Range(0, rows * network.InputSize).Select(_ => (float)(random.NextDouble() * 2 - 1))];
            float[] expected = new float[rows * network.OutputSize];
            network.Predict(x, expected);
            int[] dims = [rows, .. network.InputShape.ToArray()];
            using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(x, dims))]);
            float[] actual = [.. results[0].AsEnumerable<float>()];
            Assert.Equal(expected.Length, actual.Length);
            double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            output.WriteLine($"{name}, {rows} rows: max |NetDsl - ONNX Runtime| = {worst:E2}");
            // Both compute in float32 with sums of at most a few thousand terms in different orders; outputs are
            // probabilities (at most 1), so 1e-5 absolute is ~100 float32 ulps at 1.
            Assert.True(worst <= 1e-5, $"{name}: outputs differ by {worst:E2}");
        }
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void An_export_imports_into_the_same_declaration_bit_for_bit(string name)
    {
        using var source = Create(name, seed: 3);
        Randomize(source, new Random(11));
        var file = new MemoryStream();
        source.ExportOnnx(file);
        var model = OnnxModelFile.Read(file.ToArray(), "export");

        using var target = Create(name, seed: 99);
        var mappings = target.LoadOnnxWeights(model);
        Assert.Equal(target.Layers.Count(l => l.ParameterCount > 0), mappings.Count);
        foreach (var mapping in mappings)
        {
            Assert.StartsWith($"node '{mapping.Layer}'", mapping.Node); // the exporter names nodes by layer path: every pair is the right one
        }

        Assert.Equal(source.Parameters.ToArray(), target.Parameters.ToArray());
        var random = new Random(13);
        float[] x = [.. Enumerable.Range(0, 3 * source.InputSize).Select(_ => (float)random.NextDouble())];
        float[] a = new float[3 * source.OutputSize], b = new float[3 * source.OutputSize];
        source.Predict(x, a);
        target.Predict(x, b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void A_shortcut_listed_before_the_main_path_still_pairs_by_structure()
    {
        // CNTK's ResNet export lists a block's projection before its main path; the import follows the data flow.
        using var source = Create(nameof(ExportResNetBlocks), seed: 3);
        Randomize(source, new Random(17));
        var model = OnnxExport.ToOnnx(source);
        var nodes = model.Graph.Node.ToList();
        int down = nodes.FindIndex(n => n.Name == "Stage2Down[0].Downsample"), bn = nodes.FindIndex(n => n.Name == "Stage2Down[0].DownsampleBn");
        int first = nodes.FindIndex(n => n.Name.StartsWith("Stage2Down[0].", StringComparison.Ordinal));
        var moved = new[] { nodes[down], nodes[bn] };
        nodes.RemoveAt(bn);
        nodes.RemoveAt(down);
        nodes.InsertRange(first, moved);
        foreach (var node in nodes)
        {
            if (node.OpType == "Sum")
            {
                (node.Input[0], node.Input[1]) = (node.Input[1], node.Input[0]); // the residual sums list the shortcut first
            }

            node.Name = ""; // and no names to go by
        }

        model.Graph.Node.Clear();
        model.Graph.Node.AddRange(nodes);
        using var target = Create(nameof(ExportResNetBlocks), seed: 99);
        target.LoadOnnxWeights(OnnxModelFile.Read(Bytes(model), "reordered"));
        Assert.Equal(source.Parameters.ToArray(), target.Parameters.ToArray());
    }

    [Fact]
    public void A_wrong_shape_names_the_node_the_layer_and_both_shapes_and_changes_nothing()
    {
        using var source = Create(nameof(ExportTransferCnn), seed: 3);
        var model = OnnxExport.ToOnnx(source);
        var kernel = model.Graph.Initializer.Single(t => t.Name == "Conv2.kernel");
        kernel.Dims.Clear();
        kernel.Dims.AddRange([16, 32, 3, 3]);
        kernel.RawData = Google.Protobuf.ByteString.CopyFrom(new byte[16 * 32 * 9 * 4]);
        var node = model.Graph.Node.Single(n => n.Name == "Conv2");

        using var target = Create(nameof(ExportTransferCnn), seed: 99);
        float[] before = target.Parameters.ToArray();
        var e = Assert.Throws<InvalidDataException>(() => target.LoadOnnxWeights(OnnxModelFile.Read(Bytes(model), "wrong.onnx")));
        output.WriteLine(e.Message);
        Assert.Contains("'wrong.onnx'", e.Message);
        Assert.Contains("Conv2", e.Message);
        Assert.Contains("[16, 32, 3, 3]", e.Message);
        Assert.Contains("[32, 32, 3, 3]", e.Message);
        Assert.Equal(before, target.Parameters.ToArray());
    }

    [Fact]
    public void Another_architecture_is_refused_with_the_first_difference()
    {
        using var source = Create(nameof(ExportInception), seed: 3);
        var model = OnnxExport.ToOnnx(source);
        using var target = Create(nameof(ExportTransferCnn), seed: 99);
        float[] before = target.Parameters.ToArray();
        var e = Assert.Throws<InvalidDataException>(() => target.LoadOnnxWeights(OnnxModelFile.Read(Bytes(model), "inception.onnx")));
        output.WriteLine(e.Message);
        Assert.Contains("does not have ExportTransferCnn's structure", e.Message);
        Assert.Equal(before, target.Parameters.ToArray());
    }

    internal static Network Create(string name, int seed) => name switch
    {
        nameof(ExportTransferCnn) => new ExportTransferCnn(4, seed, threads: 1),
        nameof(ExportResNetBlocks) => new ExportResNetBlocks(4, seed, threads: 1),
        nameof(ExportInception) => new ExportInception(4, seed, threads: 1),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>Random biases and BatchNorm statistics too (they start at 0 and 1, where a swapped tensor could hide).</summary>
    internal static void Randomize(Network network, Random random)
    {
        foreach (var layer in network.Layers)
        {
            foreach (var tensor in layer.Tensors)
            {
                var values = tensor.Values;
                bool variance = tensor.FullName.EndsWith("moving_variance", StringComparison.Ordinal);
                for (int i = 0; i < values.Length; i++)
                {
                    values[i] = variance ? (float)(0.5 + random.NextDouble()) : values[i] + (float)((random.NextDouble() - 0.5) * 0.2);
                }
            }
        }
    }

    private static byte[] Bytes(ModelProto model)
    {
        var stream = new MemoryStream();
        Google.Protobuf.MessageExtensions.WriteTo(model, stream);
        return stream.ToArray();
    }
}

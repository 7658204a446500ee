using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Onnx.Tests;

/// <summary>The real pretrained models of NuGet's Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0, read strictly.</summary>
public class ResNet18OnnxTests(ITestOutputHelper output)
{
    [SkippableFact]
    public void Reads_the_pretrained_ResNet18()
    {
        Skip.IfNot(File.Exists(TestData.ResNet18Path), TestData.ModelMissing(TestData.ResNet18Path));
        var file = OnnxModelFile.Read(TestData.ResNet18Path);
        string text = GraphText.Describe(file);
        output.WriteLine(text);
        WriteArtifact("ResNet18.onnx.txt", text);

        Assert.Equal(1, file.Graph.Input.Count(i => !file.Initializers.ContainsKey(i.Name)));
        Assert.Single(file.Graph.Output);
        // Stages of 2, 2, 2 and 3 basic blocks (not torchvision's 2, 2, 2, 2): 1 + 2 x 9 + 3 projections = 22 convolutions.
        Assert.Equal(22, file.Graph.Node.Count(n => n.OpType == "Conv"));
        Assert.Equal(22, file.Graph.Node.Count(n => n.OpType == "BatchNormalization"));
        Assert.Equal(9, file.Graph.Node.Count(n => n.OpType == "Add"));
        Assert.Equal("AveragePool", file.Graph.Node[^1].OpType);
        long parameters = file.Graph.Initializer.Where(t => t.DataType == 1).Sum(t => t.Dims.Aggregate(1L, (a, b) => a * b));
        Assert.Equal(15_908_800, parameters);

        // Every BatchNormalization: epsilon 1e-5, and moving variances that are non-negative (so folding is safe).
        foreach (var bn in file.Graph.Node.Where(n => n.OpType == "BatchNormalization"))
        {
            Assert.Equal(1e-5f, bn.Attribute.Single(a => a.Name == "epsilon").F);
            Assert.All(OnnxModelFile.ReadFloats(file.Initializer(bn.Input[4])), v => Assert.True(v >= 0, $"{bn.Name}: variance {v}"));
        }

        // No convolution has a bias.
        Assert.All(file.Graph.Node.Where(n => n.OpType == "Conv"), c => Assert.Equal(2, c.Input.Count));
    }

    [SkippableFact]
    public void Reads_the_ResNet_preprocessing_model()
    {
        Skip.IfNot(File.Exists(TestData.PreprocessPath), TestData.ModelMissing(TestData.PreprocessPath));
        var file = OnnxModelFile.Read(TestData.PreprocessPath);
        string text = GraphText.Describe(file);
        foreach (var t in file.Graph.Initializer.Where(t => t.DataType == 1))
        {
            float[] v = OnnxModelFile.ReadFloats(t);
            var distinct = v.Distinct().Take(8).ToArray();
            text += $"initializer {t.Name} {OnnxModelFile.FormatShape(t.Dims)}: min {v.Min()}, max {v.Max()}, first distinct [{string.Join(", ", distinct)}]\n";
            if (t.Dims.Count >= 3 && t.Dims[^3] == 3)
            {
                int plane = v.Length / 3;
                for (int c = 0; c < 3; c++)
                {
                    var p = v.AsSpan(c * plane, plane).ToArray();
                    text += $"  channel {c}: mean {p.Average():F4}, min {p.Min()}, max {p.Max()}\n";
                }
            }
        }

        output.WriteLine(text);
        WriteArtifact("ResNetPreprocess.onnx.txt", text);
        Assert.NotEmpty(file.Graph.Node);
    }

    /// <summary>Leaves the text in the test output folder too (the test console cuts long outputs).</summary>
    private static void WriteArtifact(string name, string text) =>
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, name), text);
}

public class CntkResNet18TrunkTests(ITestOutputHelper output)
{
    [Fact]
    public void The_declared_trunk_has_the_onnx_files_parameter_count()
    {
        output.WriteLine(CntkResNet18Trunk.Summary);

        // 15,908,800 floats in ResNet18.onnx's initializers: weights, BatchNorm scales and shifts, and the 11,648 moving
        // means and variances, which NetDsl counts as non-trainable parameters (as Keras does).
        Assert.Contains("Total params: 15,908,800", CntkResNet18Trunk.Summary);
        Assert.Contains("Non-trainable params: 11,648", CntkResNet18Trunk.Summary);
    }
}

namespace NetDsl.Generators.Tests;

/// <summary>
/// The GPU backend's generated code: emitted as a second file only when the compilation references NetDsl.Gpu, compiled
/// without warnings, and compared with checked-in baselines (Baselines/*.Gpu.g.cs.txt) like the CPU code.
/// </summary>
public class GpuSnapshotTests
{
    /// <summary>The reference CNN: convolutions, max pooling with its dropout fused, dense layers, sparse cross-entropy.</summary>
    [Fact]
    public void TransferCnn() => Verify("TransferCnn.Gpu", TestNetworks.TransferCnn, "MnistTransfer.TransferCnn");

    [Fact]
    public void MnistMlp() => Verify("MnistMlp.Gpu", TestNetworks.MnistMlp, "MnistMlp.DigitsMlp");

    /// <summary>Same padding, stride 2, average pooling, BatchNorm on image channels.</summary>
    [Fact]
    public void SameStrided() => Verify("SameStrided.Gpu", TestNetworks.SameStrided, "Tests.Cnn.SameStrided");

    /// <summary>BatchNorm after Dense, a standalone Tanh, dropout before the head.</summary>
    [Fact]
    public void DenseBatchNormTanh() => Verify("DenseBatchNormTanh.Gpu", TestNetworks.DenseBatchNormTanh, "Tests.Norm.NormTanh");

    /// <summary>Float targets (mean squared error on a Linear head).</summary>
    [Fact]
    public void Regression() => Verify("Regression.Gpu", TestNetworks.Regression, "Tests.Regression.HousePrices");

    /// <summary>A hidden softmax (its own row kernels forward and backward).</summary>
    [Fact]
    public void HiddenSoftmax() => Verify("HiddenSoftmax.Gpu", TestNetworks.HiddenSoftmax, "Tests.Softmax.AttentionLike");

    /// <summary>Graphs: a residual block and an Inception module.</summary>
    [Fact]
    public void ResidualBlock() => Verify("ResidualBlock.Gpu", TestNetworks.ResidualBlock, "Tests.Graphs.ResidualBlock");

    [Fact]
    public void InceptionModule() => Verify("InceptionModule.Gpu", TestNetworks.InceptionModule, "Tests.Graphs.InceptionModule");

    /// <summary>The CPU file is byte for byte the one a project without NetDsl.Gpu gets: the GPU backend only adds a file.</summary>
    [Fact]
    public void TheCpuFileIsUnchangedByTheGpuBackend()
    {
        var cpu = GeneratorHarness.Run(TestNetworks.TransferCnn).SingleSource;
        var gpu = GeneratorHarness.Run(GeneratorHarness.CreateGpuCompilation(TestNetworks.TransferCnn));
        Assert.Equal(2, gpu.GeneratedSources.Count);
        Assert.Equal(cpu.Text, gpu.GeneratedSources.Single(s => s.HintName == cpu.HintName).Text);
    }

    private static void Verify(string name, string source, string hintStem)
    {
        var run = GeneratorHarness.Run(GeneratorHarness.CreateGpuCompilation(source));
        GeneratorHarness.AssertCleanOutput(run);
        var files = run.GeneratedSources;
        Assert.Equal(new[] { hintStem + ".g.cs", hintStem + ".Gpu.g.cs" }, files.Select(f => f.HintName).OrderBy(n => n.Length));
        Baseline.AssertMatches(name, files.Single(f => f.HintName == hintStem + ".Gpu.g.cs").Text);
    }
}

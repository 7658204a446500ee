namespace NetDsl.Generators.Tests;

/// <summary>
/// The generated code of representative networks, compared with checked-in baselines (Baselines/*.g.cs.txt).
/// Regenerate with <see cref="Baseline.RegenerateCommand"/>.
/// </summary>
public class SnapshotTests
{
    [Fact]
    public void MnistMlp() => Verify(nameof(MnistMlp), TestNetworks.MnistMlp, "MnistMlp.DigitsMlp.g.cs");

    [Fact]
    public void MixedActivationsNoBias() => Verify(nameof(MixedActivationsNoBias), TestNetworks.MixedActivations, "Tests.Mixed.MixedNet.g.cs");

    [Fact]
    public void HiddenSoftmax() => Verify(nameof(HiddenSoftmax), TestNetworks.HiddenSoftmax, "Tests.Softmax.AttentionLike.g.cs");

    [Fact]
    public void OddSizes() => Verify(nameof(OddSizes), TestNetworks.OddSizes, "Tests.Odd.OddNet.g.cs");

    [Fact]
    public void GlobalNamespace() => Verify(nameof(GlobalNamespace), TestNetworks.GlobalNamespace, "GlobalNet.g.cs");

    [Fact]
    public void InternalNetwork() => Verify(nameof(InternalNetwork), TestNetworks.InternalNetwork, "Tests.Internal.HiddenNet.g.cs");

    [Fact]
    public void SingleLayer() => Verify(nameof(SingleLayer), TestNetworks.SingleLayer, "Tests.Single.SoftmaxRegression.g.cs");

    /// <summary>The reference CNN (samples/MnistTransfer): valid convolutions, max pooling, dropout, flatten, dense head.</summary>
    [Fact]
    public void TransferCnn() => Verify(nameof(TransferCnn), TestNetworks.TransferCnn, "MnistTransfer.TransferCnn.g.cs");

    /// <summary>Padding.Same with stride 2, Same average pooling, BatchNorm on image channels, linear logits.</summary>
    [Fact]
    public void SameStrided() => Verify(nameof(SameStrided), TestNetworks.SameStrided, "Tests.Cnn.SameStrided.g.cs");

    /// <summary>BatchNorm after a bias-less Dense, a standalone Tanh layer and dropout before the head.</summary>
    [Fact]
    public void DenseBatchNormTanh() => Verify(nameof(DenseBatchNormTanh), TestNetworks.DenseBatchNormTanh, "Tests.Norm.NormTanh.g.cs");

    /// <summary>Dense(10) then [Activation(Softmax)]: the loss fuses the standalone softmax.</summary>
    [Fact]
    public void ActivationSoftmaxHead() => Verify(nameof(ActivationSoftmaxHead), TestNetworks.ActivationSoftmaxHead, "Tests.Head.SoftmaxHead.g.cs");

    /// <summary>Mean squared error on a Linear head: float targets, the loss kernel on the raw outputs, a dropout fused around Hidden.</summary>
    [Fact]
    public void Regression() => Verify(nameof(Regression), TestNetworks.Regression, "Tests.Regression.HousePrices.g.cs");

    /// <summary>Binary cross-entropy: the sigmoid fused into the loss, Predict applying it alone.</summary>
    [Fact]
    public void MultiLabel() => Verify(nameof(MultiLabel), TestNetworks.MultiLabel, "Tests.MultiLabel.Tagger.g.cs");

    /// <summary>A graph: a ResNet basic block with its identity shortcut (gradients of the Add shared, then summed).</summary>
    [Fact]
    public void ResidualBlock() => Verify(nameof(ResidualBlock), TestNetworks.ResidualBlock, "Tests.Graphs.ResidualBlock.g.cs");

    /// <summary>A graph: an Inception module (four branches of the input, concatenated along the channels).</summary>
    [Fact]
    public void InceptionModule() => Verify(nameof(InceptionModule), TestNetworks.InceptionModule, "Tests.Graphs.InceptionModule.g.cs");

    private static void Verify(string name, string source, string expectedHintName)
    {
        var run = GeneratorHarness.Run(source);
        GeneratorHarness.AssertCleanOutput(run);
        var file = run.SingleSource;
        Assert.Equal(expectedHintName, file.HintName);
        Baseline.AssertMatches(name, file.Text);
    }
}

using NetDsl.Models;
using Xunit;

namespace NetDsl.Tests.Models;

/// <summary>
/// The model table (src/NetDsl.Models) against its references: each declaration's trainable parameter count (the
/// generated summary, computed at compile time; nothing is allocated) equals torchvision's. PyTorch counts trainable
/// tensors only (a BatchNorm's running statistics are buffers), which is NetDsl's "Trainable params" line.
/// </summary>
public class ModelTableTests
{
    public static TheoryData<string, string, long> Counts() => new()
    {
        { "ResNet18", ResNet18.Summary, 11_689_512 },
        { "ResNet50", ResNet50.Summary, 25_557_032 },
        { "ResNet101", ResNet101.Summary, 44_549_160 },
        { "ResNet152", ResNet152.Summary, 60_192_808 },
        { "Vgg16", Vgg16.Summary, 138_357_544 },
        { "Vgg19", Vgg19.Summary, 143_667_240 },
        { "AlexNet", AlexNet.Summary, 61_100_840 },
        { "GoogLeNet", GoogLeNet.Summary, 6_624_904 },
    };

    /// <summary>The feature maps follow torchvision's (ceil-mode pools and all): the shapes before the global pooling.</summary>
    [Fact]
    public void Output_shapes_before_the_head_equal_torchvision()
    {
        Assert.Contains("(None, 64, 56, 56)", Row(ResNet50.Summary, "Stem[0].MaxPool"));
        Assert.Contains("(None, 2048, 7, 7)", Row(ResNet152.Summary, "Layer4[1].Sum"));
        Assert.Contains("(None, 512, 7, 7)", Row(Vgg16.Summary, "Pool5"));
        Assert.Contains("(None, 256, 6, 6)", Row(AlexNet.Summary, "Pool5"));
        Assert.Contains("(None, 64, 56, 56)", Row(GoogLeNet.Summary, "MaxPool1"));   // ceil mode: 112 -> 56 (floor would give 55)
        Assert.Contains("(None, 480, 14, 14)", Row(GoogLeNet.Summary, "MaxPool3"));
        Assert.Contains("(None, 1024, 7, 7)", Row(GoogLeNet.Summary, "Inception5b[0].Mixed"));
    }

    private static string Row(string summary, string layer) => summary.Split('\n').Single(l => l.TrimStart().StartsWith(layer + " (", StringComparison.Ordinal));

    [Theory]
    [MemberData(nameof(Counts))]
    public void Parameter_counts_equal_torchvision(string name, string summary, long expected)
    {
        string line = summary.Split('\n').Single(l => l.StartsWith("Trainable params: ", StringComparison.Ordinal));
        long actual = long.Parse(line["Trainable params: ".Length..].Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(actual == expected, $"{name}: {actual:N0} trainable parameters, torchvision {expected:N0}");
    }
}

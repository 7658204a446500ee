namespace NetDsl.Models;

// torchvision's ResNet-152; see ResNet.cs.

/// <summary>ResNet-152 (torchvision <c>resnet152</c>: 60,192,808 parameters).</summary>
[Network]
[Input(3, 224, 224)]
public partial class ResNet152
{
    [Blocks(typeof(ResNetStem), 1)] public partial BlockList<ResNetStem> Stem { get; }
    [Blocks(typeof(BottleneckDown), 1, 64, 256, 1)] public partial BlockList<BottleneckDown> Layer1Down { get; }
    [Blocks(typeof(Bottleneck), 2, 64, 256)] public partial BlockList<Bottleneck> Layer1 { get; }
    [Blocks(typeof(BottleneckDown), 1, 128, 512, 2)] public partial BlockList<BottleneckDown> Layer2Down { get; }
    [Blocks(typeof(Bottleneck), 7, 128, 512)] public partial BlockList<Bottleneck> Layer2 { get; }
    [Blocks(typeof(BottleneckDown), 1, 256, 1024, 2)] public partial BlockList<BottleneckDown> Layer3Down { get; }
    [Blocks(typeof(Bottleneck), 35, 256, 1024)] public partial BlockList<Bottleneck> Layer3 { get; }
    [Blocks(typeof(BottleneckDown), 1, 512, 2048, 2)] public partial BlockList<BottleneckDown> Layer4Down { get; }
    [Blocks(typeof(Bottleneck), 2, 512, 2048)] public partial BlockList<Bottleneck> Layer4 { get; }
    [GlobalAveragePooling2D] public partial PoolingLayer AvgPool { get; }
    [Dense(1000)] public partial DenseLayer Fc { get; }
}

namespace NetDsl.Models;

// torchvision's ResNets (He et al. 2015, table 1; torchvision/models/resnet.py): a 7x7 stride-2 stem, a 3x3 stride-2
// max pooling, four stages, global average pooling and a 1,000-class linear head (logits; the loss fuses the softmax).
// Each stage is its first block (which projects the shortcut) and the rest.

/// <summary>ResNet-18 (torchvision <c>resnet18</c>: 11,689,512 parameters).</summary>
[Network]
[Input(3, 224, 224)]
public partial class ResNet18
{
    [Blocks(typeof(ResNetStem), 1)] public partial BlockList<ResNetStem> Stem { get; }
    [Blocks(typeof(BasicBlock), 2, 64)] public partial BlockList<BasicBlock> Layer1 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 128, 2)] public partial BlockList<BasicDownBlock> Layer2Down { get; }
    [Blocks(typeof(BasicBlock), 1, 128)] public partial BlockList<BasicBlock> Layer2 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 256, 2)] public partial BlockList<BasicDownBlock> Layer3Down { get; }
    [Blocks(typeof(BasicBlock), 1, 256)] public partial BlockList<BasicBlock> Layer3 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 512, 2)] public partial BlockList<BasicDownBlock> Layer4Down { get; }
    [Blocks(typeof(BasicBlock), 1, 512)] public partial BlockList<BasicBlock> Layer4 { get; }
    [GlobalAveragePooling2D] public partial PoolingLayer AvgPool { get; }
    [Dense(1000)] public partial DenseLayer Fc { get; }
}

/// <summary>ResNet-50 (torchvision <c>resnet50</c>: 25,557,032 parameters).</summary>
[Network]
[Input(3, 224, 224)]
public partial class ResNet50
{
    [Blocks(typeof(ResNetStem), 1)] public partial BlockList<ResNetStem> Stem { get; }
    [Blocks(typeof(BottleneckDown), 1, 64, 256, 1)] public partial BlockList<BottleneckDown> Layer1Down { get; }
    [Blocks(typeof(Bottleneck), 2, 64, 256)] public partial BlockList<Bottleneck> Layer1 { get; }
    [Blocks(typeof(BottleneckDown), 1, 128, 512, 2)] public partial BlockList<BottleneckDown> Layer2Down { get; }
    [Blocks(typeof(Bottleneck), 3, 128, 512)] public partial BlockList<Bottleneck> Layer2 { get; }
    [Blocks(typeof(BottleneckDown), 1, 256, 1024, 2)] public partial BlockList<BottleneckDown> Layer3Down { get; }
    [Blocks(typeof(Bottleneck), 5, 256, 1024)] public partial BlockList<Bottleneck> Layer3 { get; }
    [Blocks(typeof(BottleneckDown), 1, 512, 2048, 2)] public partial BlockList<BottleneckDown> Layer4Down { get; }
    [Blocks(typeof(Bottleneck), 2, 512, 2048)] public partial BlockList<Bottleneck> Layer4 { get; }
    [GlobalAveragePooling2D] public partial PoolingLayer AvgPool { get; }
    [Dense(1000)] public partial DenseLayer Fc { get; }
}

/// <summary>ResNet-101 (torchvision <c>resnet101</c>: 44,549,160 parameters).</summary>
[Network]
[Input(3, 224, 224)]
public partial class ResNet101
{
    [Blocks(typeof(ResNetStem), 1)] public partial BlockList<ResNetStem> Stem { get; }
    [Blocks(typeof(BottleneckDown), 1, 64, 256, 1)] public partial BlockList<BottleneckDown> Layer1Down { get; }
    [Blocks(typeof(Bottleneck), 2, 64, 256)] public partial BlockList<Bottleneck> Layer1 { get; }
    [Blocks(typeof(BottleneckDown), 1, 128, 512, 2)] public partial BlockList<BottleneckDown> Layer2Down { get; }
    [Blocks(typeof(Bottleneck), 3, 128, 512)] public partial BlockList<Bottleneck> Layer2 { get; }
    [Blocks(typeof(BottleneckDown), 1, 256, 1024, 2)] public partial BlockList<BottleneckDown> Layer3Down { get; }
    [Blocks(typeof(Bottleneck), 22, 256, 1024)] public partial BlockList<Bottleneck> Layer3 { get; }
    [Blocks(typeof(BottleneckDown), 1, 512, 2048, 2)] public partial BlockList<BottleneckDown> Layer4Down { get; }
    [Blocks(typeof(Bottleneck), 2, 512, 2048)] public partial BlockList<Bottleneck> Layer4 { get; }
    [GlobalAveragePooling2D] public partial PoolingLayer AvgPool { get; }
    [Dense(1000)] public partial DenseLayer Fc { get; }
}

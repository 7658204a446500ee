namespace NetDsl.Models;

// The residual blocks of torchvision's ResNets (torchvision/models/resnet.py, "ResNet v1.5": the stride of a bottleneck
// is on its 3x3 convolution). Convolutions have no bias (a BatchNorm follows); BatchNorm uses PyTorch's epsilon 1e-5 and
// momentum 0.1 (0.9 in Keras' convention, which NetDsl uses). A stage's first block, which changes the width or the
// resolution, projects its shortcut (1x1 convolution + BatchNorm): it is its own block class, since a block's layers are
// fixed.

/// <summary>Every ResNet's stem (the paper's conv1 row): 7x7 stride-2 convolution, BatchNorm, ReLU, 3x3 stride-2 max pooling.</summary>
[Block]
public partial class ResNetStem : Block
{
    [Conv2D(64, 7, Stride = 2, Pad = 3, UseBias = false)] public partial Conv2DLayer Conv1 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn1 { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Relu { get; }
    [MaxPool2D(3, Stride = 2, Pad = 1)] public partial PoolingLayer MaxPool { get; }
}

/// <summary>ResNet-18/34's basic block: 3x3, 3x3, identity shortcut.</summary>
[Block]
public partial class BasicBlock : Block
{
    /// <summary>Channels of both convolutions (and of the block's input and output).</summary>
    public const int Filters = BlockParameter.P0;

    [Conv2D(Filters, 3, Pad = 1, UseBias = false)] public partial Conv2DLayer Conv1 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn1 { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Relu1 { get; }
    [Conv2D(Filters, 3, Pad = 1, UseBias = false)] public partial Conv2DLayer Conv2 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn2 { get; }
    [Add(nameof(Bn2), LayerAttribute.NetworkInput, Activation = Activation.ReLU)] public partial MergeLayer Sum { get; }
}

/// <summary>ResNet-18/34's first block of a stage: the first 3x3 convolution and the projected shortcut are strided.</summary>
[Block]
public partial class BasicDownBlock : Block
{
    /// <summary>Output channels.</summary>
    public const int Filters = BlockParameter.P0;

    /// <summary>Stride of the first convolution and of the projection.</summary>
    public const int Stride = BlockParameter.P1;

    [Conv2D(Filters, 3, Stride = Stride, Pad = 1, UseBias = false)] public partial Conv2DLayer Conv1 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn1 { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Relu1 { get; }
    [Conv2D(Filters, 3, Pad = 1, UseBias = false)] public partial Conv2DLayer Conv2 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn2 { get; }
    [Conv2D(Filters, 1, Stride = Stride, UseBias = false, Input = LayerAttribute.NetworkInput)] public partial Conv2DLayer Downsample { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer DownsampleBn { get; }
    [Add(nameof(Bn2), nameof(DownsampleBn), Activation = Activation.ReLU)] public partial MergeLayer Sum { get; }
}

/// <summary>ResNet-50/101/152's bottleneck: 1x1 (width), 3x3 (width), 1x1 (4 x width), identity shortcut.</summary>
[Block]
public partial class Bottleneck : Block
{
    /// <summary>Channels of the 1x1 and 3x3 convolutions.</summary>
    public const int Width = BlockParameter.P0;

    /// <summary>Output channels (4 x width).</summary>
    public const int Out = BlockParameter.P1;

    [Conv2D(Width, 1, UseBias = false)] public partial Conv2DLayer Conv1 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn1 { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Relu1 { get; }
    [Conv2D(Width, 3, Pad = 1, UseBias = false)] public partial Conv2DLayer Conv2 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn2 { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Relu2 { get; }
    [Conv2D(Out, 1, UseBias = false)] public partial Conv2DLayer Conv3 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn3 { get; }
    [Add(nameof(Bn3), LayerAttribute.NetworkInput, Activation = Activation.ReLU)] public partial MergeLayer Sum { get; }
}

/// <summary>A stage's first bottleneck: the 3x3 convolution is strided, the shortcut projected (1x1, strided).</summary>
[Block]
public partial class BottleneckDown : Block
{
    /// <summary>Channels of the 1x1 and 3x3 convolutions.</summary>
    public const int Width = BlockParameter.P0;

    /// <summary>Output channels (4 x width).</summary>
    public const int Out = BlockParameter.P1;

    /// <summary>Stride of the 3x3 convolution and of the projection.</summary>
    public const int Stride = BlockParameter.P2;

    [Conv2D(Width, 1, UseBias = false)] public partial Conv2DLayer Conv1 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn1 { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Relu1 { get; }
    [Conv2D(Width, 3, Stride = Stride, Pad = 1, UseBias = false)] public partial Conv2DLayer Conv2 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn2 { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Relu2 { get; }
    [Conv2D(Out, 1, UseBias = false)] public partial Conv2DLayer Conv3 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn3 { get; }
    [Conv2D(Out, 1, Stride = Stride, UseBias = false, Input = LayerAttribute.NetworkInput)] public partial Conv2DLayer Downsample { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer DownsampleBn { get; }
    [Add(nameof(Bn3), nameof(DownsampleBn), Activation = Activation.ReLU)] public partial MergeLayer Sum { get; }
}

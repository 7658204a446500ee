namespace NetDsl.Tests.Numerics;

/// <summary>
/// A residual block and an Inception-style split: the stem feeds both the block and its shortcut (two gradient
/// contributions), the Add passes one gradient to a BatchNorm (which must not change it in place) and to the stem, the
/// block's output feeds two branches (summed gradients, then the Add's ReLU derivative), and a Concat joins them.
/// </summary>
[Network]
[Input(2, 6, 6)]
public partial class GraphResidual : Network
{
    [Conv2D(4, 3, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Stem { get; }
    [Conv2D(4, 3, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Conv1 { get; }
    [Conv2D(4, 3, Padding = Padding.Same, UseBias = false)] public partial Conv2DLayer Conv2 { get; }
    [BatchNorm] public partial BatchNormLayer Norm { get; }
    [Add(nameof(Norm), nameof(Stem), Activation = Activation.ReLU)] public partial MergeLayer Sum { get; }
    [Conv2D(3, 1, Activation.ReLU, Input = nameof(Sum))] public partial Conv2DLayer Branch1 { get; }
    [Conv2D(2, 1, Activation.ReLU, Input = nameof(Sum))] public partial Conv2DLayer Branch2a { get; }
    [Conv2D(3, 3, Activation.Tanh, Padding = Padding.Same)] public partial Conv2DLayer Branch2b { get; }
    [Concat(nameof(Branch1), nameof(Branch2b))] public partial MergeLayer Mixed { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool { get; }
    [Flatten] public partial FlattenLayer Flat { get; }
    [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>
/// Vectors: two dense layers read the network's input, their sum and one of them are concatenated (that one is read
/// twice), and a standalone activation and a dropout sit on the merged values.
/// </summary>
[Network]
[Input(8)]
public partial class GraphDense : Network
{
    [Dense(6, Activation.Tanh)] public partial DenseLayer A { get; }
    [Dense(6, Activation.ReLU, Input = LayerAttribute.NetworkInput)] public partial DenseLayer B { get; }
    [Add(nameof(A), nameof(B))] public partial MergeLayer Sum { get; }
    [Concat(nameof(Sum), nameof(A))] public partial MergeLayer Joined { get; }
    [Activation(Activation.Sigmoid)] public partial ActivationLayer Squash { get; }
    [Dense(4, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>A ResNet basic block: two 3x3 convolutions with BatchNorm, the identity shortcut, Add + ReLU.</summary>
[Block]
public partial class TinyBasicBlock : Block
{
    public const int Filters = BlockParameter.P0;

    [Conv2D(Filters, 3, Padding = Padding.Same, UseBias = false)] public partial Conv2DLayer Conv1 { get; }
    [BatchNorm] public partial BatchNormLayer Norm1 { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Relu { get; }
    [Conv2D(Filters, 3, Padding = Padding.Same, UseBias = false)] public partial Conv2DLayer Conv2 { get; }
    [BatchNorm] public partial BatchNormLayer Norm2 { get; }
    [Add(nameof(Norm2), LayerAttribute.NetworkInput, Activation = Activation.ReLU)] public partial MergeLayer Sum { get; }
}

/// <summary>A ResNet downsampling block: the first convolution and a 1x1 projection of the shortcut are strided.</summary>
[Block]
public partial class TinyDownBlock : Block
{
    public const int Filters = BlockParameter.P0;
    public const int Stride = BlockParameter.P1;

    [Conv2D(Filters, 3, Stride = Stride, Pad = 1, UseBias = false)] public partial Conv2DLayer Conv1 { get; }
    [BatchNorm] public partial BatchNormLayer Norm1 { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Relu { get; }
    [Conv2D(Filters, 3, Padding = Padding.Same, UseBias = false)] public partial Conv2DLayer Conv2 { get; }
    [BatchNorm] public partial BatchNormLayer Norm2 { get; }
    [Conv2D(Filters, 1, Stride = Stride, UseBias = false, Input = LayerAttribute.NetworkInput)] public partial Conv2DLayer Project { get; }
    [BatchNorm] public partial BatchNormLayer ProjectNorm { get; }
    [Add(nameof(Norm2), nameof(ProjectNorm), Activation = Activation.ReLU)] public partial MergeLayer Sum { get; }
}

/// <summary>A small ResNet declared with blocks: a stem, two basic blocks, one downsampling block, global pooling, the head.</summary>
[Network]
[Input(2, 8, 8)]
public partial class TinyResNet
{
    [Conv2D(4, 3, Activation.ReLU, Pad = 1)] public partial Conv2DLayer Stem { get; }
    [Blocks(typeof(TinyBasicBlock), 2, 4)] public partial BlockList<TinyBasicBlock> Stage1 { get; }
    [Blocks(typeof(TinyDownBlock), 1, 6, 2)] public partial BlockList<TinyDownBlock> Stage2 { get; }
    [GlobalAveragePooling2D] public partial PoolingLayer Gap { get; }
    [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
}

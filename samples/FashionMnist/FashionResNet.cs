using NetDsl;
using NetDsl.Models;

namespace FashionMnist;

/// <summary>
/// A small ResNet for 1x28x28 images (14 weight layers, 176,090 parameters), built from the model table's ResNet-18
/// blocks (src/NetDsl.Models/ResNetBlocks.cs: BasicBlock, BasicDownBlock): a 3x3 stem at full resolution written as
/// plain layers (ResNetStem's 64-filter 7x7 stride-2 convolution and max pooling would shrink a 28x28 image to 7x7 at
/// once), then two basic blocks per stage at 16 channels (28x28), 32 (14x14) and 64 (7x7), each later stage opening
/// with a strided block that projects its shortcut, global average pooling and the head.
/// </summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(1, 28, 28)]
public partial class FashionResNet
{
    /// <summary>16 filters over the 28x28 image (no bias: a BatchNorm follows).</summary>
    [Conv2D(16, 3, Pad = 1, UseBias = false)] public partial Conv2DLayer StemConv { get; }

    /// <summary>The stem's BatchNorm (the blocks' momentum and epsilon).</summary>
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer StemBn { get; }

    /// <summary>The stem's ReLU.</summary>
    [Activation(Activation.ReLU)] public partial ActivationLayer StemRelu { get; }

    /// <summary>Two basic blocks, 16 channels at 28x28.</summary>
    [Blocks(typeof(BasicBlock), 2, 16)] public partial BlockList<BasicBlock> Stage1 { get; }

    /// <summary>To 32 channels at 14x14 (projected shortcut).</summary>
    [Blocks(typeof(BasicDownBlock), 1, 32, 2)] public partial BlockList<BasicDownBlock> Stage2Down { get; }

    /// <summary>A basic block at 32 channels.</summary>
    [Blocks(typeof(BasicBlock), 1, 32)] public partial BlockList<BasicBlock> Stage2 { get; }

    /// <summary>To 64 channels at 7x7 (projected shortcut).</summary>
    [Blocks(typeof(BasicDownBlock), 1, 64, 2)] public partial BlockList<BasicDownBlock> Stage3Down { get; }

    /// <summary>A basic block at 64 channels.</summary>
    [Blocks(typeof(BasicBlock), 1, 64)] public partial BlockList<BasicBlock> Stage3 { get; }

    /// <summary>64 features.</summary>
    [GlobalAveragePooling2D] public partial PoolingLayer Gap { get; }

    /// <summary>Ten class probabilities.</summary>
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

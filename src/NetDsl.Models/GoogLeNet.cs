namespace NetDsl.Models;

// torchvision's GoogLeNet (Szegedy et al. 2014, Inception v1; torchvision/models/googlenet.py, without the auxiliary
// classifiers): every convolution is torchvision's BasicConv2d (convolution without bias, BatchNorm with epsilon 0.001,
// ReLU), the max poolings round up (ceil_mode), and, as in torchvision (whose weights were trained so), the "5x5" branch
// of an Inception module uses a 3x3 convolution.

/// <summary>torchvision's BasicConv2d: a convolution without bias, BatchNorm (epsilon 0.001) and ReLU.</summary>
[Block]
public partial class BasicConv : Block
{
    /// <summary>Output channels.</summary>
    public const int Filters = BlockParameter.P0;

    /// <summary>Kernel size.</summary>
    public const int Kernel = BlockParameter.P1;

    /// <summary>Stride.</summary>
    public const int Stride = BlockParameter.P2;

    /// <summary>Padding on every side.</summary>
    public const int Padding = BlockParameter.P3;

    [Conv2D(Filters, Kernel, Stride = Stride, Pad = Padding, UseBias = false)] public partial Conv2DLayer Conv { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 0.001)] public partial BatchNormLayer Bn { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Relu { get; }
}

/// <summary>An Inception module: 1x1; 1x1 then 3x3; 1x1 then 3x3; 3x3 max pooling then 1x1; concatenated.</summary>
[Block]
public partial class Inception : Block
{
    /// <summary>Channels of the 1x1 branch.</summary>
    public const int Ch1x1 = BlockParameter.P0;

    /// <summary>Channels of the 3x3 branch's reduction.</summary>
    public const int Ch3x3Reduce = BlockParameter.P1;

    /// <summary>Channels of the 3x3 branch.</summary>
    public const int Ch3x3 = BlockParameter.P2;

    /// <summary>Channels of the second branch's reduction (the paper's 5x5 branch).</summary>
    public const int Ch5x5Reduce = BlockParameter.P3;

    /// <summary>Channels of the second 3x3 branch.</summary>
    public const int Ch5x5 = BlockParameter.P4;

    /// <summary>Channels of the pooling branch's projection.</summary>
    public const int PoolProj = BlockParameter.P5;

    [Conv2D(Ch1x1, 1, UseBias = false)] public partial Conv2DLayer Branch1 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 0.001)] public partial BatchNormLayer Branch1Bn { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Branch1Relu { get; }
    [Conv2D(Ch3x3Reduce, 1, UseBias = false, Input = LayerAttribute.NetworkInput)] public partial Conv2DLayer Branch2Reduce { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 0.001)] public partial BatchNormLayer Branch2ReduceBn { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Branch2ReduceRelu { get; }
    [Conv2D(Ch3x3, 3, Pad = 1, UseBias = false)] public partial Conv2DLayer Branch2 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 0.001)] public partial BatchNormLayer Branch2Bn { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Branch2Relu { get; }
    [Conv2D(Ch5x5Reduce, 1, UseBias = false, Input = LayerAttribute.NetworkInput)] public partial Conv2DLayer Branch3Reduce { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 0.001)] public partial BatchNormLayer Branch3ReduceBn { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Branch3ReduceRelu { get; }
    [Conv2D(Ch5x5, 3, Pad = 1, UseBias = false)] public partial Conv2DLayer Branch3 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 0.001)] public partial BatchNormLayer Branch3Bn { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Branch3Relu { get; }
    [MaxPool2D(3, Stride = 1, Pad = 1, CeilMode = true, Input = LayerAttribute.NetworkInput)] public partial PoolingLayer Branch4Pool { get; }
    [Conv2D(PoolProj, 1, UseBias = false)] public partial Conv2DLayer Branch4 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 0.001)] public partial BatchNormLayer Branch4Bn { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Branch4Relu { get; }
    [Concat(nameof(Branch1Relu), nameof(Branch2Relu), nameof(Branch3Relu), nameof(Branch4Relu))] public partial MergeLayer Mixed { get; }
}

/// <summary>GoogLeNet (torchvision <c>googlenet</c> without the auxiliary classifiers: 6,624,904 parameters).</summary>
[Network]
[Input(3, 224, 224)]
public partial class GoogLeNet
{
    [Blocks(typeof(BasicConv), 1, 64, 7, 2, 3)] public partial BlockList<BasicConv> Conv1 { get; }                 // 112 x 112
    [MaxPool2D(3, Stride = 2, CeilMode = true)] public partial PoolingLayer MaxPool1 { get; }                      // 56 x 56
    [Blocks(typeof(BasicConv), 1, 64, 1, 1, 0)] public partial BlockList<BasicConv> Conv2 { get; }
    [Blocks(typeof(BasicConv), 1, 192, 3, 1, 1)] public partial BlockList<BasicConv> Conv3 { get; }
    [MaxPool2D(3, Stride = 2, CeilMode = true)] public partial PoolingLayer MaxPool2 { get; }                      // 28 x 28
    [Blocks(typeof(Inception), 1, 64, 96, 128, 16, 32, 32)] public partial BlockList<Inception> Inception3a { get; }
    [Blocks(typeof(Inception), 1, 128, 128, 192, 32, 96, 64)] public partial BlockList<Inception> Inception3b { get; }
    [MaxPool2D(3, Stride = 2, CeilMode = true)] public partial PoolingLayer MaxPool3 { get; }                      // 14 x 14
    [Blocks(typeof(Inception), 1, 192, 96, 208, 16, 48, 64)] public partial BlockList<Inception> Inception4a { get; }
    [Blocks(typeof(Inception), 1, 160, 112, 224, 24, 64, 64)] public partial BlockList<Inception> Inception4b { get; }
    [Blocks(typeof(Inception), 1, 128, 128, 256, 24, 64, 64)] public partial BlockList<Inception> Inception4c { get; }
    [Blocks(typeof(Inception), 1, 112, 144, 288, 32, 64, 64)] public partial BlockList<Inception> Inception4d { get; }
    [Blocks(typeof(Inception), 1, 256, 160, 320, 32, 128, 128)] public partial BlockList<Inception> Inception4e { get; }
    [MaxPool2D(2, Stride = 2, CeilMode = true)] public partial PoolingLayer MaxPool4 { get; }                      // 7 x 7
    [Blocks(typeof(Inception), 1, 256, 160, 320, 32, 128, 128)] public partial BlockList<Inception> Inception5a { get; }
    [Blocks(typeof(Inception), 1, 384, 192, 384, 48, 128, 128)] public partial BlockList<Inception> Inception5b { get; }
    [GlobalAveragePooling2D] public partial PoolingLayer AvgPool { get; }
    [Dropout(0.2)] public partial DropoutLayer Dropout { get; }
    [Dense(1000)] public partial DenseLayer Fc { get; }
}

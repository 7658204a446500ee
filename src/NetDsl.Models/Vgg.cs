namespace NetDsl.Models;

// torchvision's VGG (Simonyan and Zisserman 2014, configurations D and E; torchvision/models/vgg.py, without BatchNorm):
// 3x3 convolutions with padding 1 and ReLU, 2x2 max pooling, then three dense layers with dropout. torchvision's
// adaptive 7x7 average pooling is the identity at 224 x 224 and is left out. NetDsl flattens (height, width, channels),
// torchvision (channels, height, width): the first dense layer's rows are the same weights in another order.

/// <summary>A 3x3 convolution with padding 1 and ReLU (VGG's only convolution).</summary>
[Block]
public partial class Conv3x3 : Block
{
    /// <summary>Output channels.</summary>
    public const int Filters = BlockParameter.P0;

    [Conv2D(Filters, 3, Activation.ReLU, Pad = 1)] public partial Conv2DLayer Conv { get; }
}

/// <summary>VGG's classifier: flatten, two 4,096-unit ReLU layers with dropout 0.5, the 1,000-class linear head.</summary>
[Block]
public partial class VggClassifier : Block
{
    [Flatten] public partial FlattenLayer Flatten { get; }
    [Dense(4096, Activation.ReLU)] public partial DenseLayer Fc1 { get; }
    [Dropout(0.5)] public partial DropoutLayer Drop1 { get; }
    [Dense(4096, Activation.ReLU)] public partial DenseLayer Fc2 { get; }
    [Dropout(0.5)] public partial DropoutLayer Drop2 { get; }
    [Dense(1000)] public partial DenseLayer Fc3 { get; }
}

/// <summary>VGG16 (torchvision <c>vgg16</c>: 138,357,544 parameters).</summary>
[Network]
[Input(3, 224, 224)]
public partial class Vgg16
{
    [Blocks(typeof(Conv3x3), 2, 64)] public partial BlockList<Conv3x3> Block1 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool1 { get; }
    [Blocks(typeof(Conv3x3), 2, 128)] public partial BlockList<Conv3x3> Block2 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool2 { get; }
    [Blocks(typeof(Conv3x3), 3, 256)] public partial BlockList<Conv3x3> Block3 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool3 { get; }
    [Blocks(typeof(Conv3x3), 3, 512)] public partial BlockList<Conv3x3> Block4 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool4 { get; }
    [Blocks(typeof(Conv3x3), 3, 512)] public partial BlockList<Conv3x3> Block5 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool5 { get; }
    [Blocks(typeof(VggClassifier), 1)] public partial BlockList<VggClassifier> Classifier { get; }
}

/// <summary>VGG19 (torchvision <c>vgg19</c>: 143,667,240 parameters).</summary>
[Network]
[Input(3, 224, 224)]
public partial class Vgg19
{
    [Blocks(typeof(Conv3x3), 2, 64)] public partial BlockList<Conv3x3> Block1 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool1 { get; }
    [Blocks(typeof(Conv3x3), 2, 128)] public partial BlockList<Conv3x3> Block2 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool2 { get; }
    [Blocks(typeof(Conv3x3), 4, 256)] public partial BlockList<Conv3x3> Block3 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool3 { get; }
    [Blocks(typeof(Conv3x3), 4, 512)] public partial BlockList<Conv3x3> Block4 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool4 { get; }
    [Blocks(typeof(Conv3x3), 4, 512)] public partial BlockList<Conv3x3> Block5 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool5 { get; }
    [Blocks(typeof(VggClassifier), 1)] public partial BlockList<VggClassifier> Classifier { get; }
}

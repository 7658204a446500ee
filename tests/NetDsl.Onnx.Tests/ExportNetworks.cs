using NetDsl;

namespace NetDsl.Onnx.Tests;

/// <summary>The reference CNN (Keras' mnist_transfer_cnn, as samples/MnistTransfer declares it).</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(1, 28, 28)]
public partial class ExportTransferCnn
{
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv1 { get; }
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv2 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool { get; }
    [Dropout(0.25)] public partial DropoutLayer FeatureDropout { get; }
    [Flatten] public partial FlattenLayer Flatten { get; }
    [Dense(128, Activation.ReLU)] public partial DenseLayer Hidden { get; }
    [Dropout(0.5)] public partial DropoutLayer HiddenDropout { get; }
    [Dense(5, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>A ResNet block network: the model table's stem-less blocks (a projected and an identity basic block) on a small image, global average pooling, a logits head (Predict applies the softmax).</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(3, 16, 16)]
public partial class ExportResNetBlocks
{
    [Conv2D(8, 3, Pad = 1, UseBias = false)] public partial Conv2DLayer StemConv { get; }
    [BatchNorm(Epsilon = 1e-5)] public partial BatchNormLayer StemBn { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer StemRelu { get; }
    [MaxPool2D(3, Stride = 2, Pad = 1)] public partial PoolingLayer StemPool { get; }
    [Blocks(typeof(NetDsl.Models.BasicBlock), 1, 8)] public partial BlockList<NetDsl.Models.BasicBlock> Stage1 { get; }
    [Blocks(typeof(NetDsl.Models.BasicDownBlock), 1, 16, 2)] public partial BlockList<NetDsl.Models.BasicDownBlock> Stage2Down { get; }
    [GlobalAveragePooling2D] public partial PoolingLayer Gap { get; }
    [Dense(7)] public partial DenseLayer Logits { get; }
}

/// <summary>An Inception module (four branches: 1x1, 1x1 -> 3x3, 1x1 -> 5x5, 3x3 max pool -> 1x1, concatenated) with LRN and a ceil-mode pool.</summary>
[Network]
[Input(8, 12, 12)]
public partial class ExportInception
{
    [Conv2D(4, 1, Activation.ReLU)] public partial Conv2DLayer Branch1 { get; }
    [Conv2D(3, 1, Activation.ReLU, Input = LayerAttribute.NetworkInput)] public partial Conv2DLayer Branch2Reduce { get; }
    [Conv2D(6, 3, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Branch2 { get; }
    [Conv2D(2, 1, Activation.ReLU, Input = LayerAttribute.NetworkInput)] public partial Conv2DLayer Branch3Reduce { get; }
    [Conv2D(3, 5, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Branch3 { get; }
    [MaxPool2D(3, Stride = 1, Padding = Padding.Same, Input = LayerAttribute.NetworkInput)] public partial PoolingLayer Branch4Pool { get; }
    [Conv2D(3, 1, Activation.ReLU)] public partial Conv2DLayer Branch4 { get; }
    [Concat(nameof(Branch1), nameof(Branch2), nameof(Branch3), nameof(Branch4))] public partial MergeLayer Mixed { get; }
    [LocalResponseNormalization(5)] public partial LocalResponseNormalizationLayer Norm { get; }
    [MaxPool2D(3, Stride = 2, CeilMode = true)] public partial PoolingLayer Pool { get; }
    [Flatten] public partial FlattenLayer Flat { get; }
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

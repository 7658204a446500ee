namespace NetDsl.TorchBenchmarks;

// NetDsl's side of every case. TorchNetworks.cs declares the same shapes for LibTorch.

/// <summary>The reference CNN, Keras' mnist_transfer_cnn (samples/MnistTransfer/TransferCnn.cs), as in NetDsl.Benchmarks.</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(1, 28, 28)]
public partial class SbsCnn
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

/// <summary>MLP 784-128-128-10.</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy), Input(784)]
public partial class SbsMlp128
{
    [Dense(128, Activation.ReLU)] public partial DenseLayer Hidden1 { get; }
    [Dense(128, Activation.ReLU)] public partial DenseLayer Hidden2 { get; }
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>MLP 784-256-256-10.</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy), Input(784)]
public partial class SbsMlp256
{
    [Dense(256, Activation.ReLU)] public partial DenseLayer Hidden1 { get; }
    [Dense(256, Activation.ReLU)] public partial DenseLayer Hidden2 { get; }
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>MLP 784-512-512-10 (the MLP).</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy), Input(784)]
public partial class SbsMlp512
{
    [Dense(512, Activation.ReLU)] public partial DenseLayer Hidden1 { get; }
    [Dense(512, Activation.ReLU)] public partial DenseLayer Hidden2 { get; }
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>MLP 784-1024-1024-10.</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy), Input(784)]
public partial class SbsMlp1024
{
    [Dense(1024, Activation.ReLU)] public partial DenseLayer Hidden1 { get; }
    [Dense(1024, Activation.ReLU)] public partial DenseLayer Hidden2 { get; }
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>MLP 784-2048-2048-10.</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy), Input(784)]
public partial class SbsMlp2048
{
    [Dense(2048, Activation.ReLU)] public partial DenseLayer Hidden1 { get; }
    [Dense(2048, Activation.ReLU)] public partial DenseLayer Hidden2 { get; }
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>
/// A small ResNet on 32x32x3 (CIFAR-sized), the shape of samples/FashionMnist's FashionResNet: a 3x3 16-filter stem,
/// two basic blocks per stage at 16 (32x32), 32 (16x16) and 64 channels (8x8), each later stage opening with a strided
/// block with a projected shortcut, global average pooling, 10 classes. The blocks are the model table's (torchvision's)
/// BasicBlock and BasicDownBlock, declared again below: the generator expands only blocks of its own compilation.
/// </summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(3, 32, 32)]
public partial class SbsResNet
{
    [Conv2D(16, 3, Pad = 1, UseBias = false)] public partial Conv2DLayer StemConv { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer StemBn { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer StemRelu { get; }
    [Blocks(typeof(SbsBasicBlock), 2, 16)] public partial BlockList<SbsBasicBlock> Stage1 { get; }
    [Blocks(typeof(SbsDownBlock), 1, 32, 2)] public partial BlockList<SbsDownBlock> Stage2Down { get; }
    [Blocks(typeof(SbsBasicBlock), 1, 32)] public partial BlockList<SbsBasicBlock> Stage2 { get; }
    [Blocks(typeof(SbsDownBlock), 1, 64, 2)] public partial BlockList<SbsDownBlock> Stage3Down { get; }
    [Blocks(typeof(SbsBasicBlock), 1, 64)] public partial BlockList<SbsBasicBlock> Stage3 { get; }
    [GlobalAveragePooling2D] public partial PoolingLayer Gap { get; }
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>torchvision's BasicBlock (src/NetDsl.Models/ResNetBlocks.cs).</summary>
[Block]
public partial class SbsBasicBlock : Block
{
    public const int Filters = BlockParameter.P0;
    [Conv2D(Filters, 3, Pad = 1, UseBias = false)] public partial Conv2DLayer Conv1 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn1 { get; }
    [Activation(Activation.ReLU)] public partial ActivationLayer Relu1 { get; }
    [Conv2D(Filters, 3, Pad = 1, UseBias = false)] public partial Conv2DLayer Conv2 { get; }
    [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Bn2 { get; }
    [Add(nameof(Bn2), LayerAttribute.NetworkInput, Activation = Activation.ReLU)] public partial MergeLayer Sum { get; }
}

/// <summary>A stage's first block: strided 3x3 and a projected (1x1, strided) shortcut (BasicDownBlock).</summary>
[Block]
public partial class SbsDownBlock : Block
{
    public const int Filters = BlockParameter.P0;
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

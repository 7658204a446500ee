using NetDsl;
using NetDsl.Models;

namespace TransferResNet18;

// The trunk of ResNet18.onnx (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0, exported from CNTK), declared with
// the model table's blocks exactly as tests/NetDsl.Onnx.Tests/CntkResNet18Trunk.cs does: torchvision's ResNet-18 with
// three blocks in the last stage, ending at the global average pool (512 features), closed by a linear Activation (a
// network needs a loss and a Dense or Activation last; see src/NetDsl.Onnx/RESNET18_ONNX.md).
//
// The same declaration at three input sizes. The weights do not depend on the image size (convolution kernels and
// BatchNorm statistics only; global average pooling makes the trunk size-agnostic), but LoadOnnxWeights checks that
// the file's final 7x7 AveragePool is a *global* pool of the layer's input, which holds at 224 only. So the file is
// imported into the 224 trunk and its weights are copied by name into the smaller one (SaveWeights/LoadWeights,
// strict: every tensor by name and shape). At 64 and 96 every map before a stride-2 layer has an even size
// (64: 32, 16, 8, 4, 2; 96: 48, 24, 12, 6, 3), so CNTK's asymmetric pads [1,1,0,0] and NetDsl's symmetric Pad = 1 still
// give the same windows, as at 224.

/// <summary>The trunk at the ONNX file's own input size: only to import the file.</summary>
[Network(Loss = Loss.MeanSquaredError)]
[Input(3, 224, 224)]
public partial class ResNet18Trunk224
{
    [Blocks(typeof(ResNetStem), 1)] public partial BlockList<ResNetStem> Stem { get; }
    [Blocks(typeof(BasicBlock), 2, 64)] public partial BlockList<BasicBlock> Layer1 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 128, 2)] public partial BlockList<BasicDownBlock> Layer2Down { get; }
    [Blocks(typeof(BasicBlock), 1, 128)] public partial BlockList<BasicBlock> Layer2 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 256, 2)] public partial BlockList<BasicDownBlock> Layer3Down { get; }
    [Blocks(typeof(BasicBlock), 1, 256)] public partial BlockList<BasicBlock> Layer3 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 512, 2)] public partial BlockList<BasicDownBlock> Layer4Down { get; }
    [Blocks(typeof(BasicBlock), 2, 512)] public partial BlockList<BasicBlock> Layer4 { get; }
    [GlobalAveragePooling2D] public partial PoolingLayer AvgPool { get; }
    [Activation(Activation.Linear)] public partial ActivationLayer Features { get; }
}

/// <summary>The trunk at 64x64 (the default: final map 2x2, ~12x fewer multiply-adds than at 224).</summary>
[Network(Loss = Loss.MeanSquaredError)]
[Input(3, 64, 64)]
public partial class ResNet18Trunk64
{
    [Blocks(typeof(ResNetStem), 1)] public partial BlockList<ResNetStem> Stem { get; }
    [Blocks(typeof(BasicBlock), 2, 64)] public partial BlockList<BasicBlock> Layer1 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 128, 2)] public partial BlockList<BasicDownBlock> Layer2Down { get; }
    [Blocks(typeof(BasicBlock), 1, 128)] public partial BlockList<BasicBlock> Layer2 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 256, 2)] public partial BlockList<BasicDownBlock> Layer3Down { get; }
    [Blocks(typeof(BasicBlock), 1, 256)] public partial BlockList<BasicBlock> Layer3 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 512, 2)] public partial BlockList<BasicDownBlock> Layer4Down { get; }
    [Blocks(typeof(BasicBlock), 2, 512)] public partial BlockList<BasicBlock> Layer4 { get; }
    [GlobalAveragePooling2D] public partial PoolingLayer AvgPool { get; }
    [Activation(Activation.Linear)] public partial ActivationLayer Features { get; }
}

/// <summary>The trunk at 96x96 (final map 3x3, ~5.4x fewer multiply-adds than at 224).</summary>
[Network(Loss = Loss.MeanSquaredError)]
[Input(3, 96, 96)]
public partial class ResNet18Trunk96
{
    [Blocks(typeof(ResNetStem), 1)] public partial BlockList<ResNetStem> Stem { get; }
    [Blocks(typeof(BasicBlock), 2, 64)] public partial BlockList<BasicBlock> Layer1 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 128, 2)] public partial BlockList<BasicDownBlock> Layer2Down { get; }
    [Blocks(typeof(BasicBlock), 1, 128)] public partial BlockList<BasicBlock> Layer2 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 256, 2)] public partial BlockList<BasicDownBlock> Layer3Down { get; }
    [Blocks(typeof(BasicBlock), 1, 256)] public partial BlockList<BasicBlock> Layer3 { get; }
    [Blocks(typeof(BasicDownBlock), 1, 512, 2)] public partial BlockList<BasicDownBlock> Layer4Down { get; }
    [Blocks(typeof(BasicBlock), 2, 512)] public partial BlockList<BasicBlock> Layer4 { get; }
    [GlobalAveragePooling2D] public partial PoolingLayer AvgPool { get; }
    [Activation(Activation.Linear)] public partial ActivationLayer Features { get; }
}

/// <summary>The new head, trained on the 512 cached (standardised) features: one hidden layer, ten class probabilities.</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(512)]
public partial class FeatureHead
{
    [Dense(128, Activation.ReLU)] public partial DenseLayer Hidden { get; }
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

using NetDsl.Models;

namespace NetDsl.Onnx.Tests;

/// <summary>
/// The trunk of ResNet18.onnx (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0, exported from CNTK) declared with
/// the model table's blocks: torchvision's ResNet-18 but with three blocks in the last stage, ending at the global
/// average pool (512 features). The network needs a loss and a Dense or Activation layer last, so a linear Activation
/// closes it (see RESNET18_ONNX.md). Only declared here, to check that it compiles and has the file's parameter count;
/// loading the weights is issue 11.
/// </summary>
[Network(Loss = Loss.MeanSquaredError)]
[Input(3, 224, 224)]
public partial class CntkResNet18Trunk
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

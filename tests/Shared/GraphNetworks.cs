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

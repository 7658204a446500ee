namespace NetDsl.Tests.Numerics;

// Networks declared in the test project so the generator emits them here. Sizes are deliberately odd: N not a
// multiple of a SIMD vector (4/8/16 floats), sizes below and above one or two vectors, M not a multiple of the 8-row
// register tile, plus every activation on hidden layers, Linear and Softmax last layers, layers without bias and
// 3-4 layers.

/// <summary>13 -> 7 ReLU -> 5 Softmax.</summary>
[Network]
[Input(13)]
public partial class Net13x7x5
{
    [Dense(7, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    [Dense(5, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>33 -> 17 Sigmoid -> 3 Linear (logits).</summary>
[Network]
[Input(33)]
public partial class Net33x17x3
{
    [Dense(17, Activation.Sigmoid)] public partial DenseLayer Hidden { get; }

    [Dense(3)] public partial DenseLayer Output { get; }
}

/// <summary>1 -> 5 Tanh -> 2 Softmax.</summary>
[Network]
[Input(1)]
public partial class Net1x5x2
{
    [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; }

    [Dense(2, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>40 -> 130 ReLU -> 10 Softmax (N = 130: 8 full AVX-512 vectors and a ragged 2).</summary>
[Network]
[Input(40)]
public partial class Net40x130x10
{
    [Dense(130, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>20 -> 33 Tanh -> 19 ReLU (no bias) -> 9 Sigmoid -> 4 Linear.</summary>
[Network]
[Input(20)]
public partial class Deep4
{
    [Dense(33, Activation.Tanh)] public partial DenseLayer L1 { get; }

    [Dense(19, Activation.ReLU, UseBias = false)] public partial DenseLayer L2 { get; }

    [Dense(9, Activation.Sigmoid)] public partial DenseLayer L3 { get; }

    [Dense(4, Activation.Linear)] public partial DenseLayer L4 { get; }
}

/// <summary>11 -> 6 Softmax (hidden) -> 12 Linear -> 3 Softmax.</summary>
[Network]
[Input(11)]
public partial class HiddenSoftmaxNet
{
    [Dense(6, Activation.Softmax)] public partial DenseLayer Gate { get; }

    [Dense(12, Activation.Linear)] public partial DenseLayer Mix { get; }

    [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>17 -> 48 Linear -> 31 ReLU -> 6 Softmax (no bias).</summary>
[Network]
[Input(17)]
public partial class LinearHiddenNet
{
    [Dense(48, Activation.Linear)] public partial DenseLayer A { get; }

    [Dense(31, Activation.ReLU)] public partial DenseLayer B { get; }

    [Dense(6, Activation.Softmax, UseBias = false)] public partial DenseLayer Output { get; }
}

/// <summary>70 -> 64 Sigmoid (no bias) -> 16 Tanh -> 10 Linear.</summary>
[Network]
[Input(70)]
public partial class NoBiasFirstNet
{
    [Dense(64, Activation.Sigmoid, UseBias = false)] public partial DenseLayer A { get; }

    [Dense(16, Activation.Tanh)] public partial DenseLayer B { get; }

    [Dense(10)] public partial DenseLayer Output { get; }
}

/// <summary>9 -> 100 ReLU -> 2 Linear: a single wide hidden layer, two classes.</summary>
[Network]
[Input(9)]
public partial class Wide9x100x2
{
    [Dense(100, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    [Dense(2)] public partial DenseLayer Output { get; }
}

using NetDsl;

namespace MnistMlp;

/// <summary>A two-layer perceptron for 28x28 digits: the NetDsl declaration the sample trains.</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(784)]
public partial class DigitsMlp
{
    /// <summary>Hidden layer.</summary>
    [Dense(256, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    /// <summary>One probability per digit.</summary>
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

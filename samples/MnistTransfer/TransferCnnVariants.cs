using NetDsl;

namespace MnistTransfer;

// The same network with the other losses the sample offers (--loss). In NetDsl the loss is part of the declaration
// (the generator fuses it into the last layer's backward pass), so each loss is its own class; the layers, and so the
// weight files, are identical to TransferCnn's.

/// <summary><see cref="TransferCnn"/> with categorical cross-entropy on one-hot targets: Keras' example verbatim.</summary>
[Network(Loss = Loss.CategoricalCrossEntropy)]
[Input(1, 28, 28)]
public partial class TransferCnnCategorical
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

/// <summary><see cref="TransferCnn"/> trained with the mean squared error between its probabilities and one-hot targets.</summary>
[Network(Loss = Loss.MeanSquaredError)]
[Input(1, 28, 28)]
public partial class TransferCnnMse
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

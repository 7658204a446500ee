using NetDsl;

namespace MnistTransfer;

/// <summary>
/// Keras' mnist_transfer_cnn: two 3x3 convolutions, max-pooling and dropout (the "feature" layers), then a dense
/// classifier (the "classification" layers) with 5 outputs: digits 0-4 in phase 1, 5-9 in phase 2.
/// </summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(1, 28, 28)]
public partial class TransferCnn
{
    /// <summary>32 filters over the 28x28 digit.</summary>
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv1 { get; }

    /// <summary>32 filters over conv1's 26x26x32 output.</summary>
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv2 { get; }

    /// <summary>2x2 max-pooling to 12x12x32.</summary>
    [MaxPool2D(2)] public partial PoolingLayer Pool { get; }

    /// <summary>Dropout 0.25 after the features.</summary>
    [Dropout(0.25)] public partial DropoutLayer FeatureDropout { get; }

    /// <summary>4,608 features.</summary>
    [Flatten] public partial FlattenLayer Flatten { get; }

    /// <summary>Dense 128 with ReLU.</summary>
    [Dense(128, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    /// <summary>Dropout 0.5 before the classifier.</summary>
    [Dropout(0.5)] public partial DropoutLayer HiddenDropout { get; }

    /// <summary>Five class probabilities.</summary>
    [Dense(5, Activation.Softmax)] public partial DenseLayer Output { get; }
}

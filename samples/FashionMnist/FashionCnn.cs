using NetDsl;

namespace FashionMnist;

/// <summary>The mnist_transfer_cnn architecture with 10 outputs, for the 10 Fashion-MNIST classes.</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(1, 28, 28)]
public partial class FashionCnn
{
    /// <summary>32 filters over the 28x28 image.</summary>
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv1 { get; }

    /// <summary>32 filters over conv1's output.</summary>
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv2 { get; }

    /// <summary>2x2 max-pooling.</summary>
    [MaxPool2D(2)] public partial PoolingLayer Pool { get; }

    /// <summary>Dropout 0.25.</summary>
    [Dropout(0.25)] public partial DropoutLayer FeatureDropout { get; }

    /// <summary>4,608 features.</summary>
    [Flatten] public partial FlattenLayer Flatten { get; }

    /// <summary>Dense 128 with ReLU.</summary>
    [Dense(128, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    /// <summary>Dropout 0.5.</summary>
    [Dropout(0.5)] public partial DropoutLayer HiddenDropout { get; }

    /// <summary>Ten class probabilities.</summary>
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

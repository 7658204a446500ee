using NetDsl;

namespace NetDslTrainer;

/// <summary>
/// The network this trainer trains: a small CNN for 28 x 28 grey-scale images in 10 classes (MNIST digits by
/// default). Change the layers here; the rest of the trainer only needs the input shape (1, 28, 28) and 10 classes.
/// </summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(1, 28, 28)]
public partial class TrainerNetwork
{
    /// <summary>32 filters of 3 x 3 over the image: 26 x 26 x 32.</summary>
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv1 { get; }

    /// <summary>2 x 2 max-pooling: 13 x 13 x 32.</summary>
    [MaxPool2D(2)] public partial PoolingLayer Pool1 { get; }

    /// <summary>32 filters of 3 x 3: 11 x 11 x 32.</summary>
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv2 { get; }

    /// <summary>2 x 2 max-pooling (the last odd row and column dropped, as Keras): 5 x 5 x 32.</summary>
    [MaxPool2D(2)] public partial PoolingLayer Pool2 { get; }

    /// <summary>800 features.</summary>
    [Flatten] public partial FlattenLayer Flatten { get; }

    /// <summary>Dense 64 with ReLU.</summary>
    [Dense(64, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    /// <summary>Dropout 0.25 while training (its masks follow the seed and the step, so a resumed run draws the same ones).</summary>
    [Dropout(0.25)] public partial DropoutLayer HiddenDropout { get; }

    /// <summary>One probability per class (softmax, fused with the cross-entropy loss).</summary>
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

namespace NetDsl.Models;

/// <summary>
/// AlexNet as torchvision defines it (<c>alexnet</c>, "One weird trick" single-tower variant, no local response
/// normalisation: 61,100,840 parameters). The adaptive 6x6 average pooling is the identity at 224 x 224 and is left out.
/// </summary>
[Network]
[Input(3, 224, 224)]
public partial class AlexNet
{
    [Conv2D(64, 11, Activation.ReLU, Stride = 4, Pad = 2)] public partial Conv2DLayer Conv1 { get; }   // 55 x 55 (floor of 55.25)
    [MaxPool2D(3, Stride = 2)] public partial PoolingLayer Pool1 { get; }                              // 27 x 27
    [Conv2D(192, 5, Activation.ReLU, Pad = 2)] public partial Conv2DLayer Conv2 { get; }
    [MaxPool2D(3, Stride = 2)] public partial PoolingLayer Pool2 { get; }                              // 13 x 13
    [Conv2D(384, 3, Activation.ReLU, Pad = 1)] public partial Conv2DLayer Conv3 { get; }
    [Conv2D(256, 3, Activation.ReLU, Pad = 1)] public partial Conv2DLayer Conv4 { get; }
    [Conv2D(256, 3, Activation.ReLU, Pad = 1)] public partial Conv2DLayer Conv5 { get; }
    [MaxPool2D(3, Stride = 2)] public partial PoolingLayer Pool5 { get; }                              // 6 x 6
    [Flatten] public partial FlattenLayer Flatten { get; }
    [Dropout(0.5)] public partial DropoutLayer Drop1 { get; }
    [Dense(4096, Activation.ReLU)] public partial DenseLayer Fc1 { get; }
    [Dropout(0.5)] public partial DropoutLayer Drop2 { get; }
    [Dense(4096, Activation.ReLU)] public partial DenseLayer Fc2 { get; }
    [Dense(1000)] public partial DenseLayer Fc3 { get; }
}

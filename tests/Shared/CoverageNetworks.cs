namespace NetDsl.Tests.Numerics;

// The coverage networks, declared once and compiled into each test project that needs them (tests/NetDsl.Tests for the
// CPU backend against the double reference, tests/NetDsl.Gpu.Tests for the GPU backend against the CPU backend), so
// the generator emits their code in each.

// CNNs. Between them they cover: Valid and Same
// padding (odd and even kernels, a kernel larger than its input), strides 1, 2 and 3 (also different per direction,
// and above the kernel size), square, 2x3, 2x1 and 5x4 kernels, max and average pooling (non-overlapping,
// overlapping, Same-padded), one- and multi-channel inputs (C = 3 and 2, so the channels-first to channels-last
// staging matters), filter counts below, at and above a SIMD vector (4 to 8, 17, 33), BatchNorm on the input, after a
// convolution and after a dense layer, standalone Activation layers (ReLU, Tanh, a hidden Softmax and a final
// Softmax), Dropout on images and vectors, layers without bias, and every place an activation derivative can be
// applied (fused into a convolution's or a dense layer's input gradient, or as a phase of its own), and the Winograd
// convolutions (CnnWinograd) next to the direct ones.

/// <summary>The reference network in miniature: (1, 10, 10) -> Conv 4@3x3 ReLU -> Conv 4@3x3 ReLU -> MaxPool 2 -> Flatten (36) -> Dense 8 ReLU -> Dense 3 Softmax.</summary>
[Network]
[Input(1, 10, 10)]
public partial class CnnTiny
{
    [Conv2D(4, 3, Activation.ReLU)] public partial Conv2DLayer Conv1 { get; }

    [Conv2D(4, 3, Activation.ReLU)] public partial Conv2DLayer Conv2 { get; }

    [MaxPool2D(2)] public partial PoolingLayer Pool { get; }

    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(8, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>
/// Odd shapes: (3, 11, 9) -> Conv 5@2x3 stride 2 Same Tanh (5, 6, 5) -> MaxPool 2 Same (5, 3, 3) -> Conv 17@3x3 Same
/// Sigmoid (17, 3, 3) -> Conv 6@2x1 stride 1x2 Valid ReLU (6, 2, 2) -> Flatten (24) -> Dense 7 Linear -> Softmax
/// (hidden, standalone) -> Dense 4 Linear (logits).
/// </summary>
[Network]
[Input(3, 11, 9)]
public partial class CnnOdd
{
    [Conv2D(5, 2, 3, Activation.Tanh, Stride = 2, Padding = Padding.Same)] public partial Conv2DLayer Conv1 { get; }

    [MaxPool2D(2, Padding = Padding.Same)] public partial PoolingLayer Pool { get; }

    [Conv2D(17, 3, Activation.Sigmoid, Padding = Padding.Same)] public partial Conv2DLayer Conv2 { get; }

    [Conv2D(6, 2, 1, Activation.ReLU, StrideHeight = 1, StrideWidth = 2)] public partial Conv2DLayer Conv3 { get; }

    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(7)] public partial DenseLayer Mix { get; }

    [Activation(Activation.Softmax)] public partial ActivationLayer Gate { get; }

    [Dense(4)] public partial DenseLayer Output { get; }
}

/// <summary>
/// BatchNorm after a convolution and after a dense layer, overlapping Same average pooling, final standalone Softmax:
/// (2, 9, 9) -> Conv 6@3x3 no bias (6, 7, 7) -> BatchNorm -> ReLU -> AvgPool 3 stride 2 Same (6, 4, 4) -> Flatten (96)
/// -> Dense 10 no bias -> BatchNorm (momentum 0.9, epsilon 0.01) -> Tanh -> Dense 3 -> Softmax.
/// </summary>
[Network]
[Input(2, 9, 9)]
public partial class CnnBatchNorm
{
    [Conv2D(6, 3, UseBias = false)] public partial Conv2DLayer Conv { get; }

    [BatchNorm] public partial BatchNormLayer ConvNorm { get; }

    [Activation(Activation.ReLU)] public partial ActivationLayer ConvAct { get; }

    [AvgPool2D(3, Stride = 2, Padding = Padding.Same)] public partial PoolingLayer Pool { get; }

    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(10, UseBias = false)] public partial DenseLayer Hidden { get; }

    [BatchNorm(Momentum = 0.9, Epsilon = 0.01)] public partial BatchNormLayer HiddenNorm { get; }

    [Activation(Activation.Tanh)] public partial ActivationLayer HiddenAct { get; }

    [Dense(3)] public partial DenseLayer Logits { get; }

    [Activation(Activation.Softmax)] public partial ActivationLayer Output { get; }
}

/// <summary>
/// Dropout on an image and on a vector: (2, 8, 8) -> Conv 5@3x3 ReLU (5, 6, 6) -> Dropout 0.25 -> AvgPool 2 (5, 3, 3)
/// -> Flatten (45) -> Dense 12 Sigmoid -> Dropout 0.5 -> Dense 3 Softmax. Sigmoid (never exactly 0, derivative never 0)
/// makes a dropped hidden unit recognisable from the gradients alone.
/// </summary>
[Network]
[Input(2, 8, 8)]
public partial class CnnDropout
{
    [Conv2D(5, 3, Activation.ReLU)] public partial Conv2DLayer Conv { get; }

    [Dropout(0.25)] public partial DropoutLayer ConvDrop { get; }

    [AvgPool2D(2)] public partial PoolingLayer Pool { get; }

    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(12, Activation.Sigmoid)] public partial DenseLayer Hidden { get; }

    [Dropout(0.5)] public partial DropoutLayer HiddenDrop { get; }

    [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>
/// The dropout placements of the reference network, where the masks are fused into neighbouring kernels: (2, 10, 10) ->
/// Conv 4@3x3 ReLU (4, 8, 8) -> MaxPool 2 (4, 4, 4) -> Dropout 0.3 (fused into the pooling pass and, through Flatten,
/// into Hidden's input-gradient GEMM) -> Flatten (64) -> Dense 10 Tanh -> Dropout 0.5 (fused into Hidden's forward
/// GEMM and, with Tanh's derivative, into Output's input-gradient GEMM) -> Dense 3 Softmax.
/// </summary>
[Network]
[Input(2, 10, 10)]
public partial class CnnPoolDropout
{
    [Conv2D(4, 3, Activation.ReLU)] public partial Conv2DLayer Conv { get; }

    [MaxPool2D(2)] public partial PoolingLayer Pool { get; }

    [Dropout(0.3)] public partial DropoutLayer PoolDrop { get; }

    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(10, Activation.Tanh)] public partial DenseLayer Hidden { get; }

    [Dropout(0.5)] public partial DropoutLayer HiddenDrop { get; }

    [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary><see cref="CnnDropout"/> with rate 0: training must then be exactly the network without dropout.</summary>
[Network]
[Input(2, 8, 8)]
public partial class CnnDropoutZero
{
    [Conv2D(5, 3, Activation.ReLU)] public partial Conv2DLayer Conv { get; }

    [Dropout(0)] public partial DropoutLayer ConvDrop { get; }

    [AvgPool2D(2)] public partial PoolingLayer Pool { get; }

    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(12, Activation.Sigmoid)] public partial DenseLayer Hidden { get; }

    [Dropout(0)] public partial DropoutLayer HiddenDrop { get; }

    [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>
/// Strides and windows in the middle of the network (input gradients through them): (2, 15, 14) -> BatchNorm of the
/// input channels (first layer) -> Conv 6@5x4 Linear (6, 11, 11) -> Tanh (standalone, its derivative fused into the
/// next convolution's input gradient) -> Conv 33@3x3 stride 2 Same ReLU (33, 6, 6) -> MaxPool 3 stride 1, overlapping
/// (33, 4, 4) -> Conv 7@5x5 Same Tanh (7, 4, 4), a kernel larger than its input (2 padding cells each side) -> Conv
/// 8@2x2 Same Linear (8, 4, 4), an even kernel (padding only after) -> Conv 5@2x2 stride 3 Same Sigmoid (5, 2, 2),
/// stride above kernel: input cells no window touches -> Conv 4@1x1 Sigmoid (4, 2, 2) -> Flatten (16) -> Dense 3 Softmax.
/// </summary>
[Network]
[Input(2, 15, 14)]
public partial class CnnStrided
{
    [BatchNorm] public partial BatchNormLayer InputNorm { get; }

    [Conv2D(6, 5, 4)] public partial Conv2DLayer Conv1 { get; }

    [Activation(Activation.Tanh)] public partial ActivationLayer Act1 { get; }

    [Conv2D(33, 3, Activation.ReLU, Stride = 2, Padding = Padding.Same)] public partial Conv2DLayer Conv2 { get; }

    [MaxPool2D(3, Stride = 1)] public partial PoolingLayer Pool { get; }

    [Conv2D(7, 5, Activation.Tanh, Padding = Padding.Same)] public partial Conv2DLayer ConvBig { get; }

    [Conv2D(8, 2, Padding = Padding.Same)] public partial Conv2DLayer ConvEven { get; }

    [Conv2D(5, 2, Activation.Sigmoid, Stride = 3, Padding = Padding.Same)] public partial Conv2DLayer Conv3 { get; }

    [Conv2D(4, 1, Activation.Sigmoid)] public partial Conv2DLayer Conv4 { get; }

    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>
/// The Winograd path through generated code: (2, 9, 8) -> Conv 16@3x3 Same ReLU (16, 9, 8), direct (2 input channels)
/// -> Conv 32@3x3 Same Tanh (32, 9, 8), Winograd with padding and partial tiles (its weight gradient too on 1 thread;
/// 16 input channels are one group) -> Conv 16@3x3 Valid ReLU (16, 7, 6), Winograd on interior patches (weight
/// gradient on 1 and 2 threads), its input gradient carrying Tanh's derivative -> Flatten (672) -> Dense 5 Softmax.
/// </summary>
[Network]
[Input(2, 9, 8)]
public partial class CnnWinograd
{
    [Conv2D(16, 3, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Conv1 { get; }

    [Conv2D(32, 3, Activation.Tanh, Padding = Padding.Same)] public partial Conv2DLayer Conv2 { get; }

    [Conv2D(16, 3, Activation.ReLU)] public partial Conv2DLayer Conv3 { get; }

    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(5, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>An image flattened straight from the input (staging and flatten order only): (3, 4, 5) -> Flatten (60) -> Dense 6 ReLU -> BatchNorm -> Dense 3.</summary>
[Network]
[Input(3, 4, 5)]
public partial class CnnFlatInput
{
    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(6, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    [BatchNorm] public partial BatchNormLayer Norm { get; }

    [Dense(3)] public partial DenseLayer Output { get; }
}

// Every loss on a small MLP (4 -> 5 Tanh -> head), the head activation as each loss pairs with it.

[Network(Loss = Loss.MeanSquaredError)][Input(4)]
public partial class LossMse { [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; } [Dense(3)] public partial DenseLayer Head { get; } }

[Network(Loss = Loss.MeanAbsoluteError)][Input(4)]
public partial class LossMae { [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; } [Dense(3, Activation.Tanh)] public partial DenseLayer Head { get; } }

[Network(Loss = Loss.MeanAbsolutePercentageError)][Input(4)]
public partial class LossMape { [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; } [Dense(2, Activation.Sigmoid)] public partial DenseLayer Head { get; } }

[Network(Loss = Loss.MeanSquaredLogarithmicError)][Input(4)]
public partial class LossMsle { [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; } [Dense(3, Activation.Sigmoid)] public partial DenseLayer Head { get; } }

[Network(Loss = Loss.Hinge)][Input(4)]
public partial class LossHinge { [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; } [Dense(3, Activation.Tanh)] public partial DenseLayer Head { get; } }

[Network(Loss = Loss.SquaredHinge)][Input(4)]
public partial class LossSquaredHinge { [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; } [Dense(1)] public partial DenseLayer Head { get; } }

[Network(Loss = Loss.CategoricalCrossEntropy)][Input(4)]
public partial class LossCce { [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; } [Dense(3, Activation.Softmax)] public partial DenseLayer Head { get; } }

[Network(Loss = Loss.CategoricalCrossEntropy)][Input(4)]
public partial class LossCceLogits { [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; } [Dense(4)] public partial DenseLayer Head { get; } }

[Network(Loss = Loss.BinaryCrossEntropy)][Input(4)]
public partial class LossBce { [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; } [Dense(2, Activation.Sigmoid)] public partial DenseLayer Head { get; } }

[Network(Loss = Loss.BinaryCrossEntropy)][Input(4)]
public partial class LossBceLogits { [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; } [Dense(1)] public partial DenseLayer Head { get; } }

/// <summary>
/// ResNet's stem shapes on odd sizes: a 7x7 stride-2 convolution with explicit padding 3, a 3x3 stride-2 max pooling with
/// padding 1 (both floor: the last column the stride cannot reach is dropped) with a local response normalisation
/// between them (a large alpha, so that it matters), a strided 1x1 convolution, an asymmetric
/// zero padding, an average
/// pooling with padding, a Same convolution, a ceil-mode max pooling (a last, partial window), and a global average
/// pooling before the head.
/// </summary>
[Network]
[Input(3, 11, 10)]
public partial class CnnPadded
{
    [Conv2D(4, 7, Activation.ReLU, Stride = 2, Pad = 3)] public partial Conv2DLayer Stem { get; }          // (4, 6, 5): W (10 + 6 - 7) / 2 + 1 = 5.5 floors
    [LocalResponseNormalization(3, Alpha = 0.6, Beta = 0.75, Bias = 2)] public partial LocalResponseNormalizationLayer Lrn { get; } // (4, 6, 5)
    [MaxPool2D(3, Stride = 2, Pad = 1)] public partial PoolingLayer StemPool { get; }                      // (4, 3, 3)
    [Conv2D(6, 1, Stride = 2)] public partial Conv2DLayer Reduce { get; }                                  // (6, 2, 2)
    [ZeroPadding2D(1, 0, 2, 1)] public partial ZeroPaddingLayer Border { get; }                           // (6, 3, 5)
    [AvgPool2D(2, Stride = 1, Pad = 1)] public partial PoolingLayer Smooth { get; }                        // (6, 4, 6)
    [Conv2D(5, 3, Activation.Tanh, Padding = Padding.Same)] public partial Conv2DLayer Conv { get; }       // (5, 4, 6)
    [MaxPool2D(3, Stride = 2, CeilMode = true)] public partial PoolingLayer CeilPool { get; }              // (5, 2, 3): ceil(1.5), ceil(2.5)
    [GlobalAveragePooling2D] public partial PoolingLayer Gap { get; }                                      // (5)
    [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>
/// The non-finite tests' CNN, the shape: (1, 8, 8) -> Conv 20@3x3 ReLU -> BatchNorm -> MaxPool 2 -> Flatten (180)
/// -> Dense 10 Softmax. 20 channels: whole vectors and a scalar tail at every SIMD width.
/// </summary>
[Network]
[Input(1, 8, 8)]
public partial class CnnNonFinite
{
    [Conv2D(20, 3, Activation.ReLU)] public partial Conv2DLayer Conv { get; }

    [BatchNorm] public partial BatchNormLayer Norm { get; }

    [MaxPool2D(2)] public partial PoolingLayer Pool { get; }

    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>Max pooling straight on the input, (20, 4, 4) -> MaxPool 2 -> Flatten (80) -> Dense 3 Softmax: a NaN in any cell of a window must reach the loss.</summary>
[Network]
[Input(20, 4, 4)]
public partial class PoolNonFinite
{
    [MaxPool2D(2)] public partial PoolingLayer Pool { get; }

    [Flatten] public partial FlattenLayer Flatten { get; }

    [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
}

namespace NetDsl.Generators.Tests;

/// <summary>Valid network declarations shared by the tests.</summary>
public static class TestNetworks
{
    /// <summary>A copy of samples/MnistMlp/MnistMlp.cs (copied, so the snapshot does not move when the sample does).</summary>
    public const string MnistMlp = """
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
        """;

    /// <summary>Three layers mixing Sigmoid, Tanh (without bias) and Linear logits.</summary>
    public const string MixedActivations = """
        using NetDsl;

        namespace Tests.Mixed;

        [Network]
        [Input(20)]
        public partial class MixedNet
        {
            [Dense(16, Activation.Sigmoid)] public partial DenseLayer First { get; }

            [Dense(12, Activation.Tanh, UseBias = false)] public partial DenseLayer Second { get; }

            [Dense(4, Activation.Linear)] public partial DenseLayer Logits2 { get; }
        }
        """;

    /// <summary>A softmax inside the network (not fused with the loss), then a softmax output.</summary>
    public const string HiddenSoftmax = """
        using NetDsl;

        namespace Tests.Softmax;

        [Network(Loss = Loss.SparseCategoricalCrossEntropy)]
        [Input(32)]
        public partial class AttentionLike
        {
            [Dense(24, Activation.ReLU)] public partial DenseLayer Encode { get; }

            [Dense(8, Activation.Softmax)] public partial DenseLayer Gate { get; }

            [Dense(3, Activation.Softmax)] public partial DenseLayer Classes { get; }
        }
        """;

    /// <summary>Sizes that are multiples of no vector width: 13 -> 7 -> 5.</summary>
    public const string OddSizes = """
        using NetDsl;

        namespace Tests.Odd;

        [Network]
        [Input(13)]
        public partial class OddNet
        {
            [Dense(7, Activation.Tanh)] public partial DenseLayer Narrow { get; }

            [Dense(5, Activation.Softmax)] public partial DenseLayer Out { get; }
        }
        """;

    /// <summary>A network in the global namespace (with a using alias in scope).</summary>
    public const string GlobalNamespace = """
        using NetDsl;

        [Network]
        [Input(4)]
        public partial class GlobalNet
        {
            [Dense(3, Activation.ReLU)] public partial DenseLayer Hidden { get; }

            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """;

    /// <summary>An internal class with an internal and a public layer, block-scoped namespace.</summary>
    public const string InternalNetwork = """
        using NetDsl;

        namespace Tests.Internal
        {
            [Network]
            [Input(6)]
            internal partial class HiddenNet
            {
                [Dense(5, Activation.Sigmoid)] internal partial DenseLayer Inner { get; }

                [Dense(2, Activation.Softmax)] public partial DenseLayer Output { get; }
            }
        }
        """;

    /// <summary>One layer only: softmax regression (no input gradient, one gradient slot).</summary>
    public const string SingleLayer = """
        using NetDsl;

        namespace Tests.Single;

        [Network]
        [Input(784)]
        public sealed partial class SoftmaxRegression
        {
            [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
        }
        """;

    /// <summary>Regression: mean squared error on a Linear head after dropout (the loss reads the raw outputs).</summary>
    public const string Regression = """
        using NetDsl;

        namespace Tests.Regression;

        [Network(Loss = Loss.MeanSquaredError)]
        [Input(13)]
        public sealed partial class HousePrices
        {
            [Dense(32, Activation.ReLU)] public partial DenseLayer Hidden { get; }

            [Dropout(0.2)] public partial DropoutLayer Drop { get; }

            [Dense(1)] public partial DenseLayer Price { get; }
        }
        """;

    /// <summary>Multi-label classification: binary cross-entropy with the sigmoid fused (computed from the logits).</summary>
    public const string MultiLabel = """
        using NetDsl;

        namespace Tests.MultiLabel;

        [Network(Loss = Loss.BinaryCrossEntropy)]
        [Input(20)]
        public sealed partial class Tagger
        {
            [Dense(16, Activation.Tanh)] public partial DenseLayer Hidden { get; }

            [Dense(5, Activation.Sigmoid)] public partial DenseLayer Tags { get; }
        }
        """;

    /// <summary>
    /// A copy of samples/MnistTransfer/TransferCnn.cs, the reference CNN (Keras' mnist_transfer_cnn): copied, so the
    /// snapshot does not move when the sample does.
    /// </summary>
    public const string TransferCnn = """
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
        """;

    /// <summary>
    /// Padding.Same with stride 2 on an even size (32 -> 16, padding 0 top / 1 bottom), then Same average pooling on an
    /// even size, BatchNorm over image channels, Flatten and linear logits.
    /// </summary>
    public const string SameStrided = """
        using NetDsl;

        namespace Tests.Cnn;

        [Network]
        [Input(3, 32, 32)]
        public partial class SameStrided
        {
            [Conv2D(8, 3, Activation.ReLU, Stride = 2, Padding = Padding.Same)] public partial Conv2DLayer Conv { get; }

            [AvgPool2D(2, Padding = Padding.Same)] public partial PoolingLayer Pool { get; }

            [BatchNorm] public partial BatchNormLayer Norm { get; }

            [Flatten] public partial FlattenLayer Flat { get; }

            [Dense(10)] public partial DenseLayer Classifier { get; }
        }
        """;

    /// <summary>
    /// A ResNet basic block (conv-BN-ReLU-conv-BN, the identity shortcut from the network's input, Add + ReLU), then
    /// pooling and a softmax head.
    /// </summary>
    public const string ResidualBlock = """
        using NetDsl;

        namespace Tests.Graphs;

        [Network]
        [Input(8, 8, 8)]
        public partial class ResidualBlock
        {
            [Conv2D(8, 3, Padding = Padding.Same, UseBias = false)] public partial Conv2DLayer Conv1 { get; }
            [BatchNorm] public partial BatchNormLayer Norm1 { get; }
            [Activation(Activation.ReLU)] public partial ActivationLayer Relu1 { get; }
            [Conv2D(8, 3, Padding = Padding.Same, UseBias = false)] public partial Conv2DLayer Conv2 { get; }
            [BatchNorm] public partial BatchNormLayer Norm2 { get; }
            [Add(nameof(Norm2), LayerAttribute.NetworkInput, Activation = Activation.ReLU)] public partial MergeLayer Sum { get; }
            [AvgPool2D(2)] public partial PoolingLayer Pool { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
        }
        """;

    /// <summary>An Inception (v1) module: 1x1, 1x1-3x3, 1x1-5x5 and pool-1x1 branches of the input, concatenated.</summary>
    public const string InceptionModule = """
        using NetDsl;

        namespace Tests.Graphs;

        [Network]
        [Input(8, 12, 12)]
        public partial class InceptionModule
        {
            [Conv2D(4, 1, Activation.ReLU)] public partial Conv2DLayer Branch1 { get; }
            [Conv2D(3, 1, Activation.ReLU, Input = LayerAttribute.NetworkInput)] public partial Conv2DLayer Branch2Reduce { get; }
            [Conv2D(6, 3, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Branch2 { get; }
            [Conv2D(2, 1, Activation.ReLU, Input = LayerAttribute.NetworkInput)] public partial Conv2DLayer Branch3Reduce { get; }
            [Conv2D(3, 5, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Branch3 { get; }
            [MaxPool2D(3, Stride = 1, Padding = Padding.Same, Input = LayerAttribute.NetworkInput)] public partial PoolingLayer Branch4Pool { get; }
            [Conv2D(3, 1, Activation.ReLU)] public partial Conv2DLayer Branch4 { get; }
            [Concat(nameof(Branch1), nameof(Branch2), nameof(Branch3), nameof(Branch4))] public partial MergeLayer Mixed { get; }
            [MaxPool2D(2)] public partial PoolingLayer Pool { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
        }
        """;

    /// <summary>BatchNorm over dense features (no bias before it), a standalone Tanh layer, dropout, softmax head.</summary>
    public const string DenseBatchNormTanh = """
        using NetDsl;

        namespace Tests.Norm;

        [Network]
        [Input(20)]
        public partial class NormTanh
        {
            [Dense(12, UseBias = false)] public partial DenseLayer Hidden { get; }

            [BatchNorm(Momentum = 0.9, Epsilon = 1e-5)] public partial BatchNormLayer Norm { get; }

            [Activation(Activation.Tanh)] public partial ActivationLayer Squash { get; }

            [Dropout(0.2)] public partial DropoutLayer Drop { get; }

            [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
        }
        """;

    /// <summary>Linear logits, then a standalone Softmax layer that the loss fuses (the MLP as Keras often writes it).</summary>
    public const string ActivationSoftmaxHead = """
        using NetDsl;

        namespace Tests.Head;

        [Network]
        [Input(16)]
        public partial class SoftmaxHead
        {
            [Dense(32, Activation.Sigmoid)] public partial DenseLayer Hidden { get; }

            [Dense(10)] public partial DenseLayer Scores { get; }

            [Activation(Activation.Softmax)] public partial ActivationLayer Probs { get; }
        }
        """;

    /// <summary>The smallest CNN with every window feature on odd sizes: Same convolution, Same max pooling (7 -> 4 rows, 6 -> 3 columns).</summary>
    public const string TinyCnn = """
        using NetDsl;

        namespace Tests.Tiny;

        [Network]
        [Input(2, 7, 6)]
        public partial class TinyCnn
        {
            [Conv2D(3, 3, Activation.Tanh, Padding = Padding.Same)] public partial Conv2DLayer Conv { get; }

            [MaxPool2D(2, Padding = Padding.Same)] public partial PoolingLayer Pool { get; }

            [Flatten] public partial FlattenLayer Flat { get; }

            [Dense(4, Activation.Softmax)] public partial DenseLayer Output { get; }
        }
        """;

    /// <summary>
    /// Two convolutions (the second 2x3, strided, Same, reading the first's Tanh through its fused input-gradient
    /// epilogue), overlapping Same average pooling with left padding (3x3 stride 2 on 4x3), BatchNorm on an image and a
    /// standalone Softmax head.
    /// </summary>
    public const string DeepTinyCnn = """
        using NetDsl;

        namespace Tests.Tiny;

        [Network]
        [Input(2, 7, 6)]
        public partial class DeepTinyCnn
        {
            [Conv2D(3, 3, Activation.Tanh, Padding = Padding.Same)] public partial Conv2DLayer Conv1 { get; }

            [Conv2D(4, 2, 3, Activation.Sigmoid, Stride = 2, Padding = Padding.Same)] public partial Conv2DLayer Conv2 { get; }

            [AvgPool2D(3, Stride = 2, Padding = Padding.Same)] public partial PoolingLayer Pool { get; }

            [BatchNorm] public partial BatchNormLayer Norm { get; }

            [Flatten] public partial FlattenLayer Flat { get; }

            [Dense(4)] public partial DenseLayer Scores { get; }

            [Activation(Activation.Softmax)] public partial ActivationLayer Probs { get; }
        }
        """;
}

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
}

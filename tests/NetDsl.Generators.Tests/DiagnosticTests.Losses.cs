using Xunit;

namespace NetDsl.Generators.Tests;

/// <summary>Loss / last-layer pairings: every nonsense pairing is an error at the last layer's attribute, with the reason.</summary>
public partial class DiagnosticTests
{
    [Theory]
    [InlineData("CategoricalCrossEntropy", "ReLU", "Softmax (or Linear logits")]
    [InlineData("CategoricalCrossEntropy", "Sigmoid", "Softmax (or Linear logits")]
    [InlineData("BinaryCrossEntropy", "Softmax", "independent probability")]
    [InlineData("BinaryCrossEntropy", "Tanh", "must be Sigmoid")]
    [InlineData("BinaryCrossEntropy", "ReLU", "must be Sigmoid")]
    [InlineData("Hinge", "Softmax", "raw scores with -1/+1 targets")]
    [InlineData("Hinge", "Sigmoid", "never negative")]
    [InlineData("SquaredHinge", "ReLU", "use Linear or Tanh")]
    [InlineData("MeanSquaredLogarithmicError", "Linear", "can be negative")]
    [InlineData("MeanSquaredLogarithmicError", "Tanh", "no gradient")]
    public void NDSL0004_LossAndLastActivationDoNotFit(string loss, string activation, string reason) => DiagnosticAssert.Verify($$"""
        using NetDsl;

        namespace Tests;

        [Network(Loss = Loss.{{loss}})]
        [Input(6)]
        public partial class Mismatch
        {
            [Dense(5, Activation.Tanh)] public partial DenseLayer Hidden { get; }

            [{|NDSL0004:Dense(3, Activation.{{activation}})|}] public partial DenseLayer Head { get; }
        }
        """, new Expected("NDSL0004", "'Head'", activation, loss, reason));

    [Theory]
    [InlineData("BinaryCrossEntropy", "Softmax")]
    [InlineData("Hinge", "Sigmoid")]
    public void NDSL0004_LossAndFinalActivationLayerDoNotFit(string loss, string activation) => DiagnosticAssert.Verify($$"""
        using NetDsl;

        namespace Tests;

        [Network(Loss = Loss.{{loss}})]
        [Input(6)]
        public partial class MismatchLayer
        {
            [Dense(3)] public partial DenseLayer Scores { get; }

            [{|NDSL0004:Activation(Activation.{{activation}})|}] public partial ActivationLayer Head { get; }
        }
        """, new Expected("NDSL0004", "'Head'", activation, loss));

    [Fact]
    public void NDSL0004_SoftmaxOverOneRegressionOutput() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network(Loss = Loss.MeanSquaredError)]
        [Input(6)]
        public partial class OneSoftmax
        {
            [{|NDSL0004:Dense(1, Activation.Softmax)|}] public partial DenseLayer Head { get; }
        }
        """, new Expected("NDSL0004", "'Head'", "Softmax", "MeanSquaredError", "always 1"));

    [Fact]
    public void NDSL0011_CategoricalCrossEntropyNeedsTwoClasses() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network(Loss = Loss.CategoricalCrossEntropy)]
        [Input(6)]
        public partial class OneClassCategorical
        {
            [{|NDSL0011:Dense(1, Activation.Softmax)|}] public partial DenseLayer Head { get; }
        }
        """, new Expected("NDSL0011", "'Head'", "1 unit(s)", "CategoricalCrossEntropy", "at least 2"));

    [Theory]
    [InlineData("MeanSquaredError", "Linear")]
    [InlineData("MeanAbsoluteError", "ReLU")]
    [InlineData("MeanAbsolutePercentageError", "Sigmoid")]
    [InlineData("MeanSquaredLogarithmicError", "ReLU")]
    [InlineData("BinaryCrossEntropy", "Sigmoid")]
    [InlineData("BinaryCrossEntropy", "Linear")]
    [InlineData("Hinge", "Tanh")]
    [InlineData("SquaredHinge", "Linear")]
    [InlineData("CategoricalCrossEntropy", "Linear")]
    [InlineData("MeanSquaredError", "Softmax")]
    public void Sensible_pairings_compile_even_with_one_output(string loss, string activation) => DiagnosticAssert.Verify($$"""
        using NetDsl;

        namespace Tests;

        [Network(Loss = Loss.{{loss}})]
        [Input(6)]
        public partial class Fine
        {
            [Dense(4, Activation.Tanh)] public partial DenseLayer Hidden { get; }

            [Dense({{(activation == "Softmax" || loss == "CategoricalCrossEntropy" ? 3 : 1)}}, Activation.{{activation}})] public partial DenseLayer Head { get; }
        }
        """);

    [Fact]
    public void NDSL0020_RegressionNeedsAFlatOutput() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network(Loss = Loss.MeanSquaredError)]
        [Input(1, 6, 6)]
        public partial class ImageOut
        {
            [{|NDSL0020:Conv2D(2, 3)|}] public partial Conv2DLayer Conv { get; }
        }
        """, new Expected("NDSL0020", "'Conv'", "(2, 4, 4)", "MeanSquaredError", "one value per target"));
}

using System.Reflection;
using NetDsl.Generators.Diagnostics;
using NetDsl.Generators.Shapes;

namespace NetDsl.Generators.Tests;

/// <summary>
/// One test (at least) per diagnostic id, named after it; each checks the id, the exact span (from the markers
/// in the source) and the numbers and names in the message. Layer attributes are reported at the attribute
/// (inside the brackets), class problems at the class identifier, property problems at the property name.
/// </summary>
public partial class DiagnosticTests
{
    // ----- NDSL0001 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0001_ClassNotPartial() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(4)]
        public class {|NDSL0001:Plain|}
        {
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0001", "'Plain'", "partial"));

    // ----- NDSL0002 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0002_MissingInput() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [{|NDSL0002:Network(Loss = Loss.SparseCategoricalCrossEntropy)|}]
        public partial class NoInput
        {
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0002", "'NoInput'", "[Input(...)]"));

    [Fact]
    public void NDSL0002_MissingInput_AttributeWithoutArguments() => DiagnosticAssert.Verify("""
        using NetDsl;

        [{|NDSL0002:NetDsl.Network|}, System.Serializable]
        public partial class NoInput2
        {
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0002", "'NoInput2'"));

    // ----- NDSL0003 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0003_DenseZeroUnits() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class ZeroUnits
        {
            [{|NDSL0003:Dense(0)|}] public partial DenseLayer Hidden { get; }

            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0003", "Dense layer 'Hidden'", "is 0", "positive"));

    [Fact]
    public void NDSL0003_DenseNegativeUnits() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class NegativeUnits
        {
            [Dense(4, Activation.ReLU)] public partial DenseLayer Hidden { get; }

            [{|NDSL0003:Dense(-3, Activation.Softmax)|}] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0003", "Dense layer 'Output'", "is -3"));

    [Fact]
    public void NDSL0003_InputZero() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [{|NDSL0003:Input(0)|}]
        public partial class ZeroInput
        {
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0003", "Input dimension 0", "is 0"));

    [Fact]
    public void NDSL0003_InputSecondDimensionZero() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [{|NDSL0003:Input(784, 0)|}]
        public partial class ZeroSecondDimension
        {
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0003", "Input dimension 1", "is 0"));

    [Fact]
    public void NDSL0003_InputWithoutDimensions() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [{|NDSL0003:Input()|}]
        public partial class RankZero
        {
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0003", "rank", "is 0"));

    // ----- NDSL0004 -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("ReLU")]
    [InlineData("Sigmoid")]
    [InlineData("Tanh")]
    public void NDSL0004_LastLayerActivationDoesNotFitCrossEntropy(string activation) => DiagnosticAssert.Verify($$"""
        using NetDsl;

        namespace Tests;

        [Network(Loss = Loss.SparseCategoricalCrossEntropy)]
        [Input(16)]
        public partial class WrongHead
        {
            [Dense(8, Activation.{{activation}})] public partial DenseLayer Hidden { get; }

            [{|NDSL0004:Dense(10, Activation.{{activation}})|}] public partial DenseLayer Head { get; }
        }
        """, new Expected("NDSL0004", "'Head'", activation, "SparseCategoricalCrossEntropy", "Softmax"));

    // ----- NDSL0005 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0005_PartialPropertyWithoutLayerAttribute() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class StrayProperty
        {
            [Dense(2)] public partial DenseLayer Output { get; }

            public partial DenseLayer {|NDSL0005:Extra|} { get; }

            public int NotALayer => 3;
        }
        """, new Expected("NDSL0005", "'Extra'", "'StrayProperty'"));

    [Fact]
    public void NDSL0005_UnknownLayerAttribute() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        public sealed class MysteryAttribute : LayerAttribute
        {
        }

        [Network]
        [Input(8)]
        public partial class MysteryLayer
        {
            [Mystery] public partial DenseLayer {|NDSL0005:Strange|} { get; }

            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0005", "'Strange'", "'MysteryLayer'"));

    // ----- NDSL0006 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0006_NoLayers() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [{|NDSL0006:Network|}]
        [Input(8)]
        public partial class Empty
        {
            public int Count => 3;

            public DenseLayer? NotALayer { get; set; }
        }
        """, new Expected("NDSL0006", "'Empty'", "no layers"));

    // ----- NDSL0007 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0007_LayerPropertyOfWrongType() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class WrongType
        {
            [Dense(10)] public partial {|NDSL0007:int|} X { get; }
        }
        """, new Expected("NDSL0007", "'X'", "[Dense]", "DenseLayer", "not int"));

    [Fact]
    public void NDSL0007_LayerPropertyOfBaseLayerType() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class BaseType
        {
            [Dense(10)]
            public partial {|NDSL0007:global::NetDsl.Layer|} Output { get; }
        }
        """, new Expected("NDSL0007", "'Output'", "not Layer"));

    // ----- NDSL0008 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0008_LayerPropertyNotPartial() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class NotPartialLayer
        {
            [Dense(10)] public DenseLayer? {|NDSL0008:Output|} { get; }
        }
        """, new Expected("NDSL0008", "'Output'", "partial", "public partial DenseLayer Output { get; }"));

    [Fact]
    public void NDSL0008_LayerPropertyWithSetter() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class SettableLayer
        {
            [Dense(10)] public partial DenseLayer {|NDSL0008:Output|} { get; set; }
        }
        """, new Expected("NDSL0008", "'Output'", "only a getter"));

    [Fact]
    public void NDSL0008_StaticLayerProperty() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class StaticLayer
        {
            [Dense(10)] public static partial DenseLayer {|NDSL0008:Output|} { get; }
        }
        """, new Expected("NDSL0008", "'Output'", "instance property"));

    // ----- NDSL0009 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0009_NestedClass() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        public partial class Outer
        {
            [Network]
            [Input(8)]
            public partial class {|NDSL0009:Inner|}
            {
                [Dense(2)] public partial DenseLayer Output { get; }
            }
        }
        """, new Expected("NDSL0009", "'Inner'", "nested"));

    [Fact]
    public void NDSL0009_GenericClass() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class {|NDSL0009:Generic|}<T>
        {
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0009", "'Generic'", "generic"));

    [Fact]
    public void NDSL0009_AbstractClass() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public abstract partial class {|NDSL0009:Abstract|}
        {
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0009", "'Abstract'", "abstract"));

    [Fact]
    public void NDSL0009_StaticClass() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public static partial class {|NDSL0009:Static|}
        {
        }
        """, new Expected("NDSL0009", "'Static'", "static"));

    [Fact]
    public void NDSL0009_OtherBaseClass() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        public class Base
        {
        }

        [Network]
        [Input(8)]
        public partial class {|NDSL0009:Derived|} : Base
        {
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0009", "'Derived'", "'Tests.Base'", "NetDsl.Network"));

    // ----- NDSL0010 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0010_DenseAfterImageInput() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(1, 28, 28)]
        public partial class ImageMlp
        {
            [{|NDSL0010:Dense(128, Activation.ReLU)|}] public partial DenseLayer Hidden { get; }

            [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0010", "'Hidden'", "(1, 28, 28)", "1-D"));

    // ----- NDSL0011 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0011_SingleUnitClassifier() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class OneClass
        {
            [Dense(4, Activation.Tanh)] public partial DenseLayer Hidden { get; }

            [{|NDSL0011:Dense(1)|}] public partial DenseLayer Score { get; }
        }
        """, new Expected("NDSL0011", "'Score'", "1 unit(s)", "SparseCategoricalCrossEntropy", "at least 2"));

    // ----- NDSL0012 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0012_UnknownActivation() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class OddActivation
        {
            [{|NDSL0012:Dense(4, (Activation)42)|}] public partial DenseLayer Hidden { get; }

            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0012", "'Hidden'", "42", "NetDsl.Activation"));

    [Fact]
    public void NDSL0012_UnknownLoss() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [{|NDSL0012:Network(Loss = (Loss)77)|}]
        [Input(8)]
        public partial class OddLoss
        {
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0012", "Loss", "value 77", "NetDsl.Loss"));

    // ----- NDSL0013 -------------------------------------------------------------------------------------------

    [Fact]
    public void NDSL0013_NetworkTooLarge()
    {
        const int inputs = 100_000, hidden = 10_000, classes = 10;
        long total = (long)inputs * hidden + hidden + (long)hidden * classes + classes;
        Assert.True(total > ShapeInference.MaxParameters);
        DiagnosticAssert.Verify($$"""
            using NetDsl;

            namespace Tests;

            [{|NDSL0013:Network|}]
            [Input({{inputs}})]
            public partial class Huge
            {
                [Dense({{hidden}}, Activation.ReLU)] public partial DenseLayer Hidden { get; }

                [Dense({{classes}}, Activation.Softmax)] public partial DenseLayer Output { get; }
            }
            """, new Expected("NDSL0013", "'Huge'", total.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ShapeInference.MaxParameters.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>2^29 - 1 = 256,999 x 2,089: a network of exactly the maximum size is fine, one bias more is not.</summary>
    [Fact]
    public void NDSL0013_Boundary()
    {
        const int inputs = 256_999, units = 2_089;
        Assert.Equal(ShapeInference.MaxParameters, (long)inputs * units);
        string Source(bool bias, string network) => $$"""
            using NetDsl;

            namespace Tests;

            [{{network}}]
            [Input({{inputs}})]
            public partial class AtTheLimit
            {
                [Dense({{units}}, UseBias = {{(bias ? "true" : "false")}})] public partial DenseLayer Output { get; }
            }
            """;

        GeneratorHarness.AssertCleanOutput(GeneratorHarness.Run(Source(bias: false, "Network")));
        DiagnosticAssert.Verify(Source(bias: true, "{|NDSL0013:Network|}"),
            new Expected("NDSL0013", "'AtTheLimit'", (ShapeInference.MaxParameters + units).ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    // ----- NDSL0014 -------------------------------------------------------------------------------------------

    /// <summary>Layer names that would collide with generated or inherited members are rejected at their attribute.</summary>
    [Theory]
    [InlineData("Summary")]
    [InlineData("Arena")]
    [InlineData("TrainStep")]
    [InlineData("Hidden_W")]
    [InlineData("_HiddenLayer")]
    public void NDSL0014_ReservedLayerName(string name)
    {
        DiagnosticAssert.Verify($$"""
            using NetDsl;

            namespace Tests;

            [Network]
            [Input(4)]
            public partial class Reserved
            {
                [Dense(3, Activation.ReLU)] public partial DenseLayer Hidden { get; }

                [{|NDSL0014:Dense(2)|}] public partial DenseLayer {{name}} { get; }
            }
            """, new Expected("NDSL0014", $"'{name}'"));
    }

    // ----- NDSL9999 and coverage --------------------------------------------------------------------------------

    /// <summary>NDSL9999 means the generator failed; no declaration in this suite (see also the fuzz tests) may cause it.</summary>
    [Fact]
    public void NDSL9999_IsNeverReported()
    {
        Assert.Equal("NDSL9999", DiagnosticDescriptors.InternalError.Id);
        foreach (var source in new[] { TestNetworks.MnistMlp, TestNetworks.MixedActivations, TestNetworks.HiddenSoftmax, TestNetworks.OddSizes, TestNetworks.GlobalNamespace, TestNetworks.InternalNetwork, TestNetworks.SingleLayer,
            TestNetworks.TransferCnn, TestNetworks.SameStrided, TestNetworks.DenseBatchNormTanh, TestNetworks.ActivationSoftmaxHead, TestNetworks.TinyCnn, TestNetworks.DeepTinyCnn })
        {
            var run = GeneratorHarness.Run(source);
            GeneratorHarness.AssertGeneratorHealthy(run);
        }
    }

    [Fact]
    public void EveryDiagnosticIdHasATest()
    {
        var tested = typeof(DiagnosticTests).GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.GetCustomAttributes<FactAttribute>().Any())
            .Select(m => m.Name.Split('_')[0])
            .ToHashSet();
        var ids = DiagnosticDescriptors.ById.Keys.ToList();
        Assert.Contains("NDSL0001", ids);
        var untested = ids.Where(id => !tested.Contains(id)).ToList();
        Assert.True(untested.Count == 0, "diagnostics without a test: " + string.Join(", ", untested));
    }

    [Fact]
    public void DescriptorsAreConsistent()
    {
        var fields = typeof(DiagnosticDescriptors).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(Microsoft.CodeAnalysis.DiagnosticDescriptor))
            .Select(f => (Microsoft.CodeAnalysis.DiagnosticDescriptor)f.GetValue(null)!)
            .ToList();
        Assert.Equal(fields.Count, DiagnosticDescriptors.ById.Count);
        Assert.All(fields, d =>
        {
            Assert.Matches("^NDSL[0-9]{4}$", d.Id);
            Assert.Same(d, DiagnosticDescriptors.ById[d.Id]);
            Assert.Equal(Microsoft.CodeAnalysis.DiagnosticSeverity.Error, d.DefaultSeverity);
            Assert.True(d.IsEnabledByDefault);
        });
    }

    // ----- no diagnostics / several diagnostics -------------------------------------------------------------------

    public static TheoryData<string> ValidNetworks() => new()
    {
        TestNetworks.MnistMlp,
        TestNetworks.MixedActivations,
        TestNetworks.HiddenSoftmax,
        TestNetworks.OddSizes,
        TestNetworks.GlobalNamespace,
        TestNetworks.InternalNetwork,
        TestNetworks.SingleLayer,
        // Deriving from NetDsl.Network explicitly is allowed.
        """
        using NetDsl;
        namespace Tests;
        [Network, Input(3)]
        public partial class Explicit : Network
        {
            [Dense(2)] protected internal partial DenseLayer Output { get; }
        }
        """,
        // Layers spread over two partial declarations, normal members beside them.
        """
        using NetDsl;
        namespace Tests;
        [Network]
        [Input(3)]
        public partial class Spread
        {
            [Dense(5, Activation.Tanh)] public partial DenseLayer A { get; }
            public int Answer => 42;
        }
        public partial class Spread
        {
            [Dense(2, Activation.Softmax)] public partial DenseLayer B { get; }
        }
        """,
    };

    [Theory]
    [MemberData(nameof(ValidNetworks))]
    public void ValidNetwork_HasNoDiagnostics(string source)
    {
        var run = GeneratorHarness.Run(source);
        GeneratorHarness.AssertCleanOutput(run);
        Assert.Single(run.GeneratedSources);
    }

    [Fact]
    public void TwoNetworksInOneCompilation_GetOneFileEach()
    {
        var compilation = GeneratorHarness.CreateCompilation(
            GeneratorHarness.Parse(TestNetworks.MnistMlp, "/src/Mnist.cs"),
            GeneratorHarness.Parse(TestNetworks.OddSizes, "/src/Odd.cs"));
        var run = GeneratorHarness.Run(compilation);
        GeneratorHarness.AssertCleanOutput(run);
        Assert.Equal(new[] { "MnistMlp.DigitsMlp.g.cs", "Tests.Odd.OddNet.g.cs" }, run.GeneratedSources.Select(s => s.HintName).OrderBy(s => s, StringComparer.Ordinal));
    }

    [Fact]
    public void SeveralLayerErrors_AreAllReported() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(16)]
        public partial class ManyProblems
        {
            [{|NDSL0003:Dense(0)|}] public partial DenseLayer A { get; }

            [{|NDSL0003,NDSL0012:Dense(-3, (Activation)42)|}] public partial DenseLayer B { get; }

            [Dense(4)] public partial DenseLayer C { get; }
        }
        """,
        new Expected("NDSL0003", "'A'", "is 0"),
        new Expected("NDSL0003", "'B'", "is -3"),
        new Expected("NDSL0012", "'B'", "42"));

    /// <summary>
    /// Regression test (fixed): an undefined Loss value used to hide every layer error, because ShapeInference.Infer
    /// reported the loss with the same 'before' counter that guards the input checks (now 'inputBefore').
    /// </summary>
    [Fact]
    public void SeveralShapeErrors_UnknownLossDoesNotHideLayerErrors() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [{|NDSL0012:Network(Loss = (Loss)77)|}]
        [Input(16)]
        public partial class ManyProblems
        {
            [{|NDSL0003:Dense(0)|}] public partial DenseLayer A { get; }

            [{|NDSL0003,NDSL0012:Dense(-3, (Activation)42)|}] public partial DenseLayer B { get; }

            [Dense(4)] public partial DenseLayer C { get; }
        }
        """,
        new Expected("NDSL0012", "Loss", "77"),
        new Expected("NDSL0003", "'A'", "is 0"),
        new Expected("NDSL0003", "'B'", "is -3"),
        new Expected("NDSL0012", "'B'", "42"));

    [Fact]
    public void SeveralDeclarationErrors_AreAllReported() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        public class Base
        {
        }

        [Network]
        [Input(16)]
        public partial class {|NDSL0009:Broken|} : Base
        {
            [Dense(4)] public DenseLayer? {|NDSL0008:A|} { get; }

            public partial DenseLayer {|NDSL0005:B|} { get; }

            [Dense(4)] public partial {|NDSL0007:string|} C { get; }

            [Dense(2)] public partial DenseLayer D { get; }
        }
        """,
        new Expected("NDSL0009", "'Broken'", "Tests.Base"),
        new Expected("NDSL0008", "'A'"),
        new Expected("NDSL0005", "'B'"),
        new Expected("NDSL0007", "'C'", "not string"));

    [Fact]
    public void BadHead_ReportsActivationAndClassCount() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(16)]
        public partial class BadHead
        {
            [{|NDSL0004,NDSL0011:Dense(1, Activation.ReLU)|}] public partial DenseLayer Head { get; }
        }
        """,
        new Expected("NDSL0004", "'Head'", "ReLU"),
        new Expected("NDSL0011", "'Head'", "1 unit(s)"));

    [Fact]
    public void InputErrors_ReportEveryBadDimension() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [{|NDSL0003,NDSL0003:Input(0, 5, -2)|}]
        public partial class BadDims
        {
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """,
        new Expected("NDSL0003", "dimension 0", "is 0"),
        new Expected("NDSL0003", "dimension 2", "is -2"));
}

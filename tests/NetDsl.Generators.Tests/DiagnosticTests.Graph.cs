namespace NetDsl.Generators.Tests;

/// <summary>
/// The diagnostics of graph declarations (named inputs, Add, Concat): NDSL0022-NDSL0026. Same conventions as the rest
/// of <see cref="DiagnosticTests"/>: the exact span comes from the markers, the message names the layers and numbers.
/// </summary>
public partial class DiagnosticTests
{
    [Fact]
    public void NDSL0022_UnknownInput() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class Typo
        {
            [Dense(6)] public partial DenseLayer Hidden { get; }
            [{|NDSL0022:Dense(2, Input = "Hiden")|}] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0022", "'Output'", "'Hiden'", "'Typo'", "Hidden"));

    [Fact]
    public void NDSL0023_SelfReference() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class Self
        {
            [Dense(6)] public partial DenseLayer Hidden { get; }
            [{|NDSL0023:Dense(2, Input = nameof(Output))|}] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0023", "'Output'", "itself"));

    [Fact]
    public void NDSL0023_Cycle() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class Loop
        {
            [{|NDSL0023:Dense(6, Input = nameof(B))|}] public partial DenseLayer A { get; }
            [Dense(6)] public partial DenseLayer B { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0023", "'A'", "'B'", "a cycle: A -> B -> A"));

    [Fact]
    public void NDSL0024_UnusedBranch() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class Dangling
        {
            [Dense(6)] public partial DenseLayer Hidden { get; }
            [{|NDSL0024:Dense(6)|}] public partial DenseLayer Forgotten { get; }
            [Dense(2, Input = nameof(Hidden))] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0024", "'Forgotten'", "'Output'"));

    [Fact]
    public void NDSL0025_AddShapes() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(3, 9, 9)]
        public partial class BadResidual
        {
            [Conv2D(4, 3, Padding = Padding.Same)] public partial Conv2DLayer Shortcut { get; }
            [Conv2D(8, 3, Stride = 2)] public partial Conv2DLayer Conv2b { get; }
            [{|NDSL0025:Add(nameof(Shortcut), nameof(Conv2b))|}] public partial MergeLayer Sum { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0025", "Add 'Sum'", "'Shortcut' is (4, 9, 9)", "'Conv2b' is (8, 4, 4)"));

    [Fact]
    public void NDSL0025_ConcatSizes() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(3, 8, 8)]
        public partial class BadInception
        {
            [Conv2D(4, 1)] public partial Conv2DLayer Branch1 { get; }
            [Conv2D(2, 3, Input = LayerAttribute.NetworkInput)] public partial Conv2DLayer Branch2 { get; }
            [{|NDSL0025:Concat(nameof(Branch1), nameof(Branch2))|}] public partial MergeLayer Mixed { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0025", "Concat 'Mixed'", "'Branch1' is (4, 8, 8)", "'Branch2' is (2, 6, 6)", "same height and width"));

    [Fact]
    public void NDSL0026_MergeOfOne() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class Lonely
        {
            [Dense(6)] public partial DenseLayer Hidden { get; }
            [{|NDSL0026:Add(nameof(Hidden))|}] public partial MergeLayer Sum { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0026", "Add 'Sum'", "names 1 input"));

    [Fact]
    public void NDSL0026_MergeWithInputProperty() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class Confused
        {
            [Dense(6)] public partial DenseLayer A { get; }
            [Dense(6, Input = LayerAttribute.NetworkInput)] public partial DenseLayer B { get; }
            [{|NDSL0026:Concat(nameof(A), nameof(B), Input = nameof(A))|}] public partial MergeLayer Joined { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0026", "Concat 'Joined'", "remove Input"));

    [Fact]
    public void NDSL0026_SameInputTwice() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class Twice
        {
            [Dense(6)] public partial DenseLayer A { get; }
            [{|NDSL0026:Add(nameof(A), nameof(A))|}] public partial MergeLayer Sum { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0026", "'A' more than once"));

    /// <summary>Naming the previous layer explicitly is the same network: byte-identical generated code.</summary>
    [Fact]
    public void ExplicitInputsOfAChainGenerateTheSameCode()
    {
        const string implicitSource = """
            using NetDsl;
            namespace Tests;
            [Network]
            [Input(1, 8, 8)]
            public partial class Chain
            {
                [Conv2D(4, 3, Activation.ReLU)] public partial Conv2DLayer Conv { get; }
                [MaxPool2D(2)] public partial PoolingLayer Pool { get; }
                [Flatten] public partial FlattenLayer Flat { get; }
                [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
            }
            """;
        string explicitSource = implicitSource
            .Replace("[Conv2D(4, 3, Activation.ReLU)]", "[Conv2D(4, 3, Activation.ReLU, Input = LayerAttribute.NetworkInput)]")
            .Replace("[MaxPool2D(2)]", "[MaxPool2D(2, Input = nameof(Conv))]")
            .Replace("[Flatten]", "[Flatten(Input = nameof(Pool))]")
            .Replace("[Dense(3, Activation.Softmax)]", "[Dense(3, Activation.Softmax, Input = nameof(Flat))]");
        var a = GeneratorHarness.Run(implicitSource);
        var b = GeneratorHarness.Run(explicitSource);
        GeneratorHarness.AssertCleanOutput(a);
        GeneratorHarness.AssertCleanOutput(b);
        Assert.Equal(a.GeneratedSources.Select(s => s.Text), b.GeneratedSources.Select(s => s.Text));
    }
}

/// <summary>The model table's window options: explicit padding, floor semantics, global average pooling.</summary>
public partial class DiagnosticTests
{
    [Fact]
    public void NDSL0019_PadWithSamePadding() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(3, 16, 16)]
        public partial class BothPaddings
        {
            [{|NDSL0019:Conv2D(4, 3, Padding = Padding.Same, Pad = 1)|}] public partial Conv2DLayer Conv { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0019", "explicit padding", "'Conv'", "Padding.Same"));

    [Fact]
    public void NDSL0019_PadLargerThanHalfTheWindow() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(3, 16, 16)]
        public partial class WidePad
        {
            [{|NDSL0019:MaxPool2D(3, PadWidth = 2)|}] public partial PoolingLayer Pool { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0019", "width padding of MaxPool2D layer 'Pool'", "is 2", "[0, 1]"));

    [Fact]
    public void NDSL0015_GlobalPoolingOnAVector() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(16)]
        public partial class FlatGap
        {
            [{|NDSL0015:GlobalAveragePooling2D|}] public partial PoolingLayer Gap { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0015", "GlobalAveragePooling2D", "'Gap'", "(16)"));

    /// <summary>Windows floor by default (Keras, PyTorch): ResNet's stem, (224 + 2 x 3 - 7) / 2 + 1 = 112.5, gives 112.</summary>
    [Fact]
    public void WindowsFloorUnlessExactWindowsIsAsked()
    {
        const string source = """
            using NetDsl;
            namespace Tests;
            [Network]
            [Input(3, 224, 224)]
            public partial class Stem
            {
                [Conv2D(64, 7, Activation.ReLU, Stride = 2, Pad = 3, UseBias = false)] public partial Conv2DLayer Conv1 { get; }
                [MaxPool2D(3, Stride = 2, Pad = 1)] public partial PoolingLayer Pool { get; }
                [GlobalAveragePooling2D] public partial PoolingLayer Gap { get; }
                [Dense(1000, Activation.Softmax)] public partial DenseLayer Output { get; }
            }
            """;
        var run = GeneratorHarness.Run(source);
        GeneratorHarness.AssertCleanOutput(run);
        string summary = run.SingleSource.Text;
        Assert.Contains("(None, 64, 112, 112)", summary);
        Assert.Contains("(None, 64, 56, 56)", summary);
        Assert.Contains("(None, 64)", summary);
        var exact = GeneratorHarness.Run(source.Replace("[Network]", "[Network(ExactWindows = true)]"));
        Assert.Equal(new[] { "NDSL0017", "NDSL0017" }, exact.GeneratorDiagnostics.Select(d => d.Id));
    }
}

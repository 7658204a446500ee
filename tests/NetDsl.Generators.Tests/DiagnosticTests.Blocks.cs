namespace NetDsl.Generators.Tests;

/// <summary>
/// Block declarations and uses (NDSL0027, and the ordinary diagnostics of a block's layers, reported at the use with
/// the layer's path).
/// </summary>
public partial class DiagnosticTests
{
    private const string BlockSource = """
        using NetDsl;

        namespace Tests;

        [Block]
        public partial class Pair : Block
        {
            public const int Filters = BlockParameter.P0;
            public const int Kernel = BlockParameter.P1;
            [Conv2D(Filters, Kernel, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Conv { get; }
            [Conv2D(Filters, 1)] public partial Conv2DLayer Mix { get; }
        }

        """;

    [Fact]
    public void NDSL0027_WrongArgumentCount() => DiagnosticAssert.Verify(BlockSource + """
        [Network]
        [Input(3, 8, 8)]
        public partial class Net
        {
            [{|NDSL0027:Blocks(typeof(Pair), 2, 16)|}] public partial BlockList<Pair> Stage { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0027", "'Stage'", "Pair takes 2 argument(s) (Filters, Kernel), but the use gives 1"));

    [Fact]
    public void NDSL0027_NotABlockClass() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        public partial class Plain : Block
        {
            public Plain(Layer[] layers) : base(layers) { }
        }

        [Network]
        [Input(8)]
        public partial class Net
        {
            [{|NDSL0027:Blocks(typeof(Plain), 1)|}] public partial BlockList<Plain> Stage { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0027", "'Stage'", "'Tests.Plain' is not a usable [Block] class"));

    [Fact]
    public void NDSL0027_ArithmeticOnAParameter() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Block]
        public partial class Wide : Block
        {
            public const int Filters = BlockParameter.P0;
            [Conv2D(Filters + 1, 3)] public partial Conv2DLayer Conv { get; }
        }

        [Network]
        [Input(3, 8, 8)]
        public partial class Net
        {
            [{|NDSL0027:Blocks(typeof(Wide), 1, 8)|}] public partial BlockList<Wide> Stage { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0027", "Wide.Conv's size is computed from a block parameter"));

    /// <summary>A mistake that only shows with a use's shapes is reported at that use, naming the block's layer by its path.</summary>
    [Fact]
    public void NDSL0016_InsideABlockPointsAtTheUse() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Block]
        public partial class Pair : Block
        {
            public const int Filters = BlockParameter.P0;
            public const int Kernel = BlockParameter.P1;
            [Conv2D(Filters, Kernel, Activation.ReLU)] public partial Conv2DLayer Conv { get; }
            [Conv2D(Filters, 1)] public partial Conv2DLayer Mix { get; }
        }

        [Network]
        [Input(3, 4, 4)]
        public partial class Net
        {
            [Conv2D(4, 3)] public partial Conv2DLayer Stem { get; }
            [{|NDSL0016:Blocks(typeof(Pair), 1, 8, 5)|}] public partial BlockList<Pair> Stage { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0016", "'Stage[0].Conv'"));

    /// <summary>One mistake inside a block used in many copies is one error for the use (the first copy's), not one per copy.</summary>
    [Fact]
    public void NDSL0019_InsideABlockIsReportedOncePerUse() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Block]
        public partial class Leaky : Block
        {
            public const int Filters = BlockParameter.P0;
            [Conv2D(Filters, 3, Padding = Padding.Same)] public partial Conv2DLayer Conv { get; }
            [Dropout(1.5)] public partial DropoutLayer Drop { get; }
        }

        [Network]
        [Input(3, 8, 8)]
        public partial class Net
        {
            [{|NDSL0019:Blocks(typeof(Leaky), 10, 4)|}] public partial BlockList<Leaky> Stage { get; }
            [{|NDSL0019:Blocks(typeof(Leaky), 3, 4)|}] public partial BlockList<Leaky> Other { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0019", "'Stage[0].Drop'", "1.5"), new Expected("NDSL0019", "'Other[0].Drop'", "1.5"));

    /// <summary>Blocks in a row: each reads the one before; views and weight names follow the paths.</summary>
    [Fact]
    public void BlocksExpandInARowWithPathNames()
    {
        var run = GeneratorHarness.Run(BlockSource + """
            [Network]
            [Input(3, 8, 8)]
            public partial class Net
            {
                [Blocks(typeof(Pair), 3, 16, 3)] public partial BlockList<Pair> Stage { get; }
                [GlobalAveragePooling2D] public partial PoolingLayer Gap { get; }
                [Dense(2, Input = nameof(Gap))] public partial DenseLayer Output { get; }
            }
            """);
        GeneratorHarness.AssertCleanOutput(run);
        var network = run.GeneratedSources.Single(s => s.HintName == "Tests.Net.g.cs").Text;
        Assert.Contains("Stage[2].Mix (Conv2D)", network);
        Assert.Contains("new global::Tests.Pair(new global::NetDsl.Layer[] { _Stage_1_ConvLayer, _Stage_1_MixLayer })", network);
        Assert.Contains("Forward multiply-adds per sample: ", network);
        Assert.Contains(run.GeneratedSources, s => s.HintName == "Tests.Pair.Block.g.cs");
    }
}

/// <summary>ZeroPadding2D's diagnostics.</summary>
public partial class DiagnosticTests
{
    [Fact]
    public void NDSL0003_NegativeZeroPadding() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(3, 8, 8)]
        public partial class Shrink
        {
            [{|NDSL0003:ZeroPadding2D(1, -1, 0, 0)|}] public partial ZeroPaddingLayer Pad { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0003", "ZeroPadding2D layer 'Pad'", "-1"));

    [Fact]
    public void NDSL0015_ZeroPaddingOnAVector() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class FlatPad
        {
            [{|NDSL0015:ZeroPadding2D(1)|}] public partial ZeroPaddingLayer Pad { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0015", "ZeroPadding2D", "'Pad'", "(8)"));
}

/// <summary>LocalResponseNormalization's diagnostics.</summary>
public partial class DiagnosticTests
{
    [Fact]
    public void NDSL0019_LrnWithoutBias() => DiagnosticAssert.Verify("""
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8, 6, 6)]
        public partial class Lrn
        {
            [{|NDSL0019:LocalResponseNormalization(5, Bias = 0)|}] public partial LocalResponseNormalizationLayer Norm { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(2)] public partial DenseLayer Output { get; }
        }
        """, new Expected("NDSL0019", "'Norm'", "Bias > 0"));
}

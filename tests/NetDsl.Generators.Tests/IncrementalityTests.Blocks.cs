using Microsoft.CodeAnalysis;
using static NetDsl.Generators.NetworkGenerator;

namespace NetDsl.Generators.Tests;

/// <summary>Caching with blocks: the block lives in its own file; edits there reach the networks that use it, and only then.</summary>
public partial class IncrementalityTests
{
    private const string BlockFile = """
        using NetDsl;

        namespace Tests.Blocks;

        [Block]
        public partial class Basic : Block
        {
            public const int Filters = BlockParameter.P0;
            [Conv2D(Filters, 3, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Conv1 { get; }
            [Conv2D(Filters, 3, Padding = Padding.Same)] public partial Conv2DLayer Conv2 { get; }
            [Add(nameof(Conv2), LayerAttribute.NetworkInput, Activation = Activation.ReLU)] public partial MergeLayer Sum { get; }
        }
        """;

    private const string BlockNetworkFile = """
        using NetDsl;

        namespace Tests.Blocks;

        [Network]
        [Input(4, 8, 8)]
        public partial class Stacked
        {
            [Conv2D(8, 1)] public partial Conv2DLayer Stem { get; }
            [Blocks(typeof(Basic), 3, 8)] public partial BlockList<Basic> Stage { get; }
            [GlobalAveragePooling2D] public partial PoolingLayer Gap { get; }
            [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
        }
        """;

    private static (GeneratorDriver Driver, Microsoft.CodeAnalysis.CSharp.CSharpCompilation Compilation, SyntaxTree Block, SyntaxTree Network) FirstBlockRun()
    {
        var block = GeneratorHarness.Parse(BlockFile, "/src/Basic.cs");
        var network = GeneratorHarness.Parse(BlockNetworkFile, "/src/Stacked.cs");
        var compilation = GeneratorHarness.CreateCompilation(block, network);
        var run = GeneratorHarness.Run(compilation);
        GeneratorHarness.AssertCleanOutput(run);
        return (run.Driver, compilation, block, network);
    }

    [Fact]
    public void BlockNetwork_UnrelatedFile_LeavesLaterStagesCached()
    {
        var (driver, compilation, _, _) = FirstBlockRun();
        var result = driver.RunGenerators(compilation.AddSyntaxTrees(GeneratorHarness.Parse(UnrelatedFile, "/src/Unrelated.cs"))).GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        AssertCached(result, LaterSteps);
    }

    [Fact]
    public void BlockNetwork_CommentInTheBlockFile_LeavesLaterStagesCached()
    {
        var (driver, compilation, block, _) = FirstBlockRun();
        string edited = ReplaceOnce(BlockFile, "public const int Filters", "// The block's width.\n    public const int Filters");
        var result = driver.RunGenerators(compilation.ReplaceSyntaxTree(block, GeneratorHarness.Parse(edited, "/src/Basic.cs"))).GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        AssertCached(result, LaterSteps);
    }

    [Fact]
    public void BlockNetwork_EditingTheBlock_ModifiesTheNetworkThatUsesIt()
    {
        var (driver, compilation, block, _) = FirstBlockRun();
        string edited = ReplaceOnce(BlockFile, "[Conv2D(Filters, 3, Activation.ReLU, Padding = Padding.Same)]", "[Conv2D(Filters, 5, Activation.ReLU, Padding = Padding.Same)]");
        var result = driver.RunGenerators(compilation.ReplaceSyntaxTree(block, GeneratorHarness.Parse(edited, "/src/Basic.cs"))).GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        Assert.True(Outputs(result, TrackingNames.Emit).All(o => o.Reason == IncrementalStepRunReason.Modified), Reasons(result));
        string network = result.GeneratedSources.Single(s => s.HintName == "Tests.Blocks.Stacked.g.cs").SourceText.ToString();
        Assert.Contains("Stage[2].Conv1: 8x8x8 -> 8x8x8 (channels last), window 5x5", network, StringComparison.Ordinal);
    }
}

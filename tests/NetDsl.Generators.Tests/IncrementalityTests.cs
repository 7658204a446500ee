using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using static NetDsl.Generators.NetworkGenerator;

namespace NetDsl.Generators.Tests;

/// <summary>
/// The pipeline's caching: an edit that does not change a network must leave its later stages cached, and an
/// edit that does must flow through to the emitted code.
/// </summary>
public partial class IncrementalityTests
{
    private static readonly string[] LaterSteps = { TrackingNames.Shapes, TrackingNames.Lowering, TrackingNames.Emit };

    private const string UnrelatedFile = """
        namespace Tests.Unrelated;

        public static class Helpers
        {
            public static int Twice(int x) => 2 * x;
        }
        """;

    private static (GeneratorDriver Driver, CSharpCompilation Compilation, SyntaxTree Tree) FirstRun(string source)
    {
        var tree = GeneratorHarness.Parse(source);
        var compilation = GeneratorHarness.CreateCompilation(tree);
        var run = GeneratorHarness.Run(compilation);
        GeneratorHarness.AssertCleanOutput(run);
        foreach (var step in LaterSteps.Prepend(TrackingNames.Parse))
        {
            Assert.True(run.Result.TrackedSteps.ContainsKey(step), $"step {step} was not tracked");
            Assert.True(Outputs(run.Result, step).All(o => o.Reason == IncrementalStepRunReason.New), Reasons(run.Result));
        }

        return (run.Driver, compilation, tree);
    }

    private static List<(object Value, IncrementalStepRunReason Reason)> Outputs(GeneratorRunResult result, string step)
    {
        Assert.True(result.TrackedSteps.TryGetValue(step, out var runs), $"step {step} did not run; tracked: {string.Join(", ", result.TrackedSteps.Keys)}");
        var outputs = runs.SelectMany(r => r.Outputs).ToList();
        Assert.NotEmpty(outputs);
        return outputs;
    }

    private static string Reasons(GeneratorRunResult result) => string.Join(", ",
        LaterSteps.Prepend(TrackingNames.Parse).Select(s => result.TrackedSteps.TryGetValue(s, out var runs)
            ? $"{s}: [{string.Join(" ", runs.SelectMany(r => r.Outputs).Select(o => o.Reason))}]"
            : $"{s}: (not run)"));

    private static void AssertCached(GeneratorRunResult result, IEnumerable<string> steps)
    {
        var bad = steps
            .SelectMany(step => Outputs(result, step).Select(o => (Step: step, o.Reason)))
            .Where(x => x.Reason is not (IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged))
            .ToList();
        Assert.True(bad.Count == 0,
            $"expected Cached or Unchanged, but {string.Join(", ", bad.Select(b => $"{b.Step} was {b.Reason}"))}. All steps: {Reasons(result)}");
    }

    [Fact]
    public void AddingAnUnrelatedFile_LeavesLaterStagesCached()
    {
        var (driver, compilation, _) = FirstRun(TestNetworks.MnistMlp);
        var second = driver.RunGenerators(compilation.AddSyntaxTrees(GeneratorHarness.Parse(UnrelatedFile, "/src/Unrelated.cs")));
        var result = second.GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        AssertCached(result, LaterSteps);
        Assert.Single(result.GeneratedSources);
    }

    [Fact]
    public void ChangingUnitCount_ModifiesEmittedCode()
    {
        var (driver, compilation, tree) = FirstRun(Baseline.Normalize(TestNetworks.MnistMlp));
        string edited = TestNetworks.MnistMlp.Replace("[Dense(256, Activation.ReLU)]", "[Dense(128, Activation.ReLU)]", StringComparison.Ordinal);
        Assert.NotEqual(TestNetworks.MnistMlp, edited);
        var second = driver.RunGenerators(compilation.ReplaceSyntaxTree(tree, GeneratorHarness.Parse(edited)));
        var result = second.GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        foreach (var step in LaterSteps)
        {
            Assert.True(Outputs(result, step).All(o => o.Reason == IncrementalStepRunReason.Modified), $"{step} should be Modified: {Reasons(result)}");
        }

        string text = result.GeneratedSources.Single().SourceText.ToString();
        Assert.Contains("Dense 784 -> 128, ReLU", text, StringComparison.Ordinal);
        Assert.DoesNotContain("-> 256", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ChangingActivation_ModifiesEmittedCode()
    {
        var (driver, compilation, tree) = FirstRun(Baseline.Normalize(TestNetworks.MnistMlp));
        string edited = TestNetworks.MnistMlp.Replace("Activation.ReLU", "Activation.Tanh", StringComparison.Ordinal);
        var second = driver.RunGenerators(compilation.ReplaceSyntaxTree(tree, GeneratorHarness.Parse(edited)));
        var result = second.GetRunResult().Results.Single();
        Assert.True(Outputs(result, TrackingNames.Emit).All(o => o.Reason == IncrementalStepRunReason.Modified), Reasons(result));
        Assert.Contains("Epilogue.BiasActivation<global::NetDsl.Kernels.Act.Tanh>", result.GeneratedSources.Single().SourceText.ToString(), StringComparison.Ordinal);
    }

    /// <summary>An edit at the end of the class body moves no declaration: everything stays cached.</summary>
    [Fact]
    public void CommentAtEndOfClass_LeavesLaterStagesCached()
    {
        var (driver, compilation, tree) = FirstRun(Baseline.Normalize(TestNetworks.MnistMlp));
        string edited = ReplaceOnce(TestNetworks.MnistMlp, "Output { get; }\n}", "Output { get; }\n\n    // A note about the output layer.\n}");
        var second = driver.RunGenerators(compilation.ReplaceSyntaxTree(tree, GeneratorHarness.Parse(edited)));
        var result = second.GetRunResult().Results.Single();
        AssertCached(result, LaterSteps);
    }

    public static TheoryData<string, string, string> EditsThatMoveLayers() => new()
    {
        { "doc comment text", "/// <summary>Hidden layer.</summary>", "/// <summary>The hidden layer: 256 rectified units.</summary>" },
        { "blank lines between layers", "Hidden { get; }\n", "Hidden { get; }\n\n\n" },
        { "comment before the first layer", "public partial class DigitsMlp\n{\n", "public partial class DigitsMlp\n{\n    // Layers, in order.\n" },
        { "spaces inside an attribute", "[Dense(10, Activation.Softmax)]", "[Dense( 10,  Activation.Softmax )]" },
    };

    /// <summary>
    /// Comment/whitespace edits inside the class that shift a layer's position. GENERATOR BUG (fails): Parse stores
    /// source locations (LocationInfo) in LayerSpec.Attribute and NetworkSpec.NetworkAttribute/InputAttribute, and that
    /// spec is carried inside ShapedNetwork and ExecutionPlan, so the Shapes and Lowering outputs compare unequal after
    /// any edit that moves a declaration: both stages and the emitter re-run on every keystroke in the class.
    /// </summary>
    [Theory]
    [MemberData(nameof(EditsThatMoveLayers))]
    public void TriviaEditInsideClass_LeavesLaterStagesCached(string edit, string find, string replace)
    {
        var (driver, compilation, tree) = FirstRun(Baseline.Normalize(TestNetworks.MnistMlp));
        string edited = ReplaceOnce(TestNetworks.MnistMlp, find, replace);
        var second = driver.RunGenerators(compilation.ReplaceSyntaxTree(tree, GeneratorHarness.Parse(edited)));
        var result = second.GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        Assert.Equal(GeneratorHarness.Run(edited).SingleSource.Text, result.GeneratedSources.Single().SourceText.ToString());
        AssertCached(result, LaterSteps);
        _ = edit;
    }

    /// <summary>
    /// What can be cached today: the emitted file itself never changes for a trivia edit (its text has no
    /// positions), so the Emit step's output is Unchanged and no source is re-added.
    /// </summary>
    [Theory]
    [MemberData(nameof(EditsThatMoveLayers))]
    public void TriviaEditInsideClass_LeavesEmitOutputUnchanged(string edit, string find, string replace)
    {
        var (driver, compilation, tree) = FirstRun(Baseline.Normalize(TestNetworks.MnistMlp));
        var second = driver.RunGenerators(compilation.ReplaceSyntaxTree(tree, GeneratorHarness.Parse(ReplaceOnce(TestNetworks.MnistMlp, find, replace))));
        var result = second.GetRunResult().Results.Single();
        AssertCached(result, new[] { TrackingNames.Emit });
        _ = edit;
    }

    /// <summary>Diagnostics must move with the code: after inserting lines, NDSL0003 is reported at the new position.</summary>
    [Fact]
    public void DiagnosticLocationsFollowEdits()
    {
        string source = Baseline.Normalize("""
            using NetDsl;
            namespace Tests;
            [Network]
            [Input(8)]
            public partial class Moving
            {
                [Dense(0)] public partial DenseLayer Hidden { get; }
                [Dense(2)] public partial DenseLayer Output { get; }
            }
            """);
        var (driver, compilation, tree) = (GeneratorHarness.CreateDriver(), GeneratorHarness.CreateCompilation(GeneratorHarness.Parse(source)), default(SyntaxTree));
        tree = compilation.SyntaxTrees.Single();
        driver = driver.RunGenerators(compilation);
        var first = driver.GetRunResult().Diagnostics.Single();
        Assert.Equal(6, first.Location.GetLineSpan().StartLinePosition.Line);

        string edited = source.Replace("{\n    [Dense(0)]", "{\n\n\n    [Dense(0)]", StringComparison.Ordinal);
        Assert.NotEqual(source, edited);
        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(tree, GeneratorHarness.Parse(edited)));
        var second = driver.GetRunResult().Diagnostics.Single();
        Assert.Equal("NDSL0003", second.Id);
        Assert.Equal(8, second.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Equal(edited.IndexOf("Dense(0)", StringComparison.Ordinal), second.Location.SourceSpan.Start);
    }

    private static string ReplaceOnce(string text, string find, string replace)
    {
        text = Baseline.Normalize(text);
        int at = text.IndexOf(find, StringComparison.Ordinal);
        Assert.True(at >= 0, $"test bug: '{find}' not found");
        return text.Substring(0, at) + replace + text.Substring(at + find.Length);
    }
}

using System.Runtime.Loader;
using Microsoft.CodeAnalysis;

namespace NetDsl.Generators.Tests;

/// <summary>
/// NDSL0028 (a layer declared in two partial declarations), the error stub (what a network with errors compiles to),
/// and blocks used many times: one mistake gives its NDSL error(s) and no C# errors besides them.
/// </summary>
public partial class DiagnosticTests
{
    private const string FirstPart = """
        using NetDsl;

        namespace Tests;

        [Network]
        [Input(8)]
        public partial class Twice
        {
            [Dense(4, Activation.ReLU)] public partial DenseLayer Hidden { get; }
            [Dense(2, Activation.Softmax)] public partial DenseLayer Output { get; }
        }
        """;

    private const string SecondPart = """
        using NetDsl;

        namespace Tests;

        public partial class Twice
        {
            [Dense(4, Activation.ReLU)] public partial DenseLayer Hidden { get; }
        }
        """;

    /// <summary>
    /// The same layer property in two files: NDSL0028 once, at the second declaration's attribute, naming the first;
    /// C#'s own two errors on that declaration (CS9250, CS0102); nothing from the generated file (it used to add 22
    /// CS0102 such as 'Hidden_Forward' already defined).
    /// </summary>
    [Fact]
    public void NDSL0028_LayerDeclaredInTwoPartialDeclarations()
    {
        var withoutGenerator = GeneratorHarness.CreateCompilation(GeneratorHarness.Parse(FirstPart), GeneratorHarness.Parse(SecondPart, "/src/Twice2.cs"));
        var run = GeneratorHarness.Run(withoutGenerator);
        GeneratorHarness.AssertGeneratorHealthy(run);

        var ndsl = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("NDSL0028", ndsl.Id);
        var span = ndsl.Location.GetLineSpan();
        Assert.Equal("/src/Twice2.cs", span.Path);
        Assert.Equal("Dense(4, Activation.ReLU)", SecondPart.ReplaceLineEndings("\n").Substring(ndsl.Location.SourceSpan.Start, ndsl.Location.SourceSpan.Length));
        Assert.Equal("The layer 'Hidden' of 'Twice' is already declared at Network.cs(9,59); a layer property is declared once, in one partial declaration of the class",
            ndsl.GetMessage(System.Globalization.CultureInfo.InvariantCulture));

        // C# alone: the duplicate (CS9250, CS0102) and a missing implementation per property (CS9248).
        string[] Errors(IEnumerable<Diagnostic> diagnostics) => diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => $"{d.Id} {Path.GetFileName(d.Location.GetLineSpan().Path)}({d.Location.GetLineSpan().StartLinePosition.Line + 1},{d.Location.GetLineSpan().StartLinePosition.Character + 1})").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "CS0102 Twice2.cs(7,59)", "CS9248 Network.cs(10,62)", "CS9248 Network.cs(9,59)", "CS9250 Twice2.cs(7,59)" }, Errors(withoutGenerator.GetDiagnostics()));
        // With it: the same duplicate, NDSL0028, and nothing else.
        Assert.Equal(new[] { "CS0102 Twice2.cs(7,59)", "CS9250 Twice2.cs(7,59)", "NDSL0028 Twice2.cs(7,6)" },
            Errors(run.OutputDiagnostics.Concat(run.GeneratorDiagnostics)));
        var stub = Assert.Single(run.GeneratedSources);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(stub.Text, @"DenseLayer Hidden \{"));
    }

    /// <summary>The stub of a network with an error: pinned, so a change to what it offers is deliberate.</summary>
    [Fact]
    public void ErrorStubSnapshot()
    {
        var run = GeneratorHarness.Run(StubbedNetwork);
        DiagnosticAssert.AssertNoCascade(run);
        Assert.Equal("NDSL0016", Assert.Single(run.GeneratorDiagnostics).Id);
        Baseline.AssertMatches("ErrorStub.NotGenerated", Assert.Single(run.GeneratedSources).Text);
    }

    private const string StubbedNetwork = """
        using NetDsl;

        namespace Tests.Stubbed;

        [Network(Loss = Loss.SparseCategoricalCrossEntropy)]
        [Input(1, 4, 4)]
        public partial class Small
        {
            [Conv2D(8, 5, Activation.ReLU)] public partial Conv2DLayer Conv { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
        }
        """;

    /// <summary>
    /// User code written against the valid network (constructor, ForInference, Summary, TrainStep, Predict, a layer's
    /// weights, Dispose) still compiles while the declaration has an error, and running it throws an
    /// InvalidOperationException that names the diagnostic, where and why.
    /// </summary>
    [Fact]
    public void UserCodeCompilesAgainstTheStubAndGetsTheErrorWhenItRuns()
    {
        const string user = """
            using System;
            using NetDsl;
            using NetDsl.Optimizers;

            namespace Tests.Stubbed;

            public static class User
            {
                public static string Summary() => Small.Summary;

                public static void Train()
                {
                    using var model = new Small(batchSize: 4, seed: 1);
                    var images = new float[16];
                    float loss = model.TrainStep(images, new int[] { 1 }, new Sgd(0.1f));
                    model.Predict(images, new float[3]);
                    Span<float> weights = model.Output.Weights;
                    model.Conv.Trainable = false;
                    using var inference = Small.ForInference(1);
                }
            }
            """;
        var run = GeneratorHarness.Run(GeneratorHarness.CreateCompilation(GeneratorHarness.Parse(StubbedNetwork), GeneratorHarness.Parse(user, "/src/User.cs")));
        DiagnosticAssert.AssertNoCascade(run);
        Assert.Equal("NDSL0016", Assert.Single(run.GeneratorDiagnostics).Id);
        var errors = run.OutputDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, GeneratorRun.Describe(errors));

        using var stream = new MemoryStream();
        var emitted = run.OutputCompilation.Emit(stream);
        Assert.True(emitted.Success, GeneratorRun.Describe(emitted.Diagnostics));
        var context = new AssemblyLoadContext("stub", isCollectible: true);
        try
        {
            stream.Position = 0;
            var type = context.LoadFromStream(stream).GetType("Tests.Stubbed.User")!;
            const string expected = "Network 'Small' was not generated: NDSL0016 at Network.cs(9,6): The Conv2D layer 'Conv' has a 5x5 window, larger than its 4x4 input. Fix the declaration and rebuild.";
            foreach (string method in new[] { "Summary", "Train" })
            {
                var thrown = Assert.Throws<System.Reflection.TargetInvocationException>(() => type.GetMethod(method)!.Invoke(null, null));
                var inner = Assert.IsType<InvalidOperationException>(thrown.InnerException);
                Assert.Equal(expected, inner.Message);
            }
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>With NetDsl.Gpu referenced the stub also has ToGpu and the Gpu session class, so GPU user code compiles too.</summary>
    [Fact]
    public void GpuUserCodeCompilesAgainstTheStub()
    {
        const string user = """

            public static class GpuUser
            {
                public static float Step(Small model, NetDsl.Gpu.GpuDevice device)
                {
                    using Small.Gpu session = model.ToGpu(device);
                    return session.TrainStep(new float[16], new int[] { 1 }, new NetDsl.Optimizers.Sgd(0.1f));
                }
            }
            """;
        var compilation = GeneratorHarness.CreateGpuCompilation(StubbedNetwork + user);
        var run = GeneratorHarness.Run(compilation);
        DiagnosticAssert.AssertNoCascade(run);
        Assert.Equal("NDSL0016", Assert.Single(run.GeneratorDiagnostics).Id);
        var errors = run.OutputDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, GeneratorRun.Describe(errors));
        Assert.Contains("public sealed class Gpu : global::NetDsl.Gpu.GpuSession", Assert.Single(run.GeneratedSources).Text, StringComparison.Ordinal);
    }

    private const string TenUses = """
            [Blocks(typeof(B), 10, 4)] public partial BlockList<B> Stage0 { get; }
            [Blocks(typeof(B), 1, 4)] public partial BlockList<B> Stage1 { get; }
            [Blocks(typeof(B), 1, 4)] public partial BlockList<B> Stage2 { get; }
            [Blocks(typeof(B), 1, 4)] public partial BlockList<B> Stage3 { get; }
            [Blocks(typeof(B), 1, 4)] public partial BlockList<B> Stage4 { get; }
            [Blocks(typeof(B), 1, 4)] public partial BlockList<B> Stage5 { get; }
            [Blocks(typeof(B), 1, 4)] public partial BlockList<B> Stage6 { get; }
            [Blocks(typeof(B), 1, 4)] public partial BlockList<B> Stage7 { get; }
            [Blocks(typeof(B), 1, 4)] public partial BlockList<B> Stage8 { get; }
            [Blocks(typeof(B), 1, 4)] public partial BlockList<B> Stage9 { get; }
            [Flatten] public partial FlattenLayer Flat { get; }
            [Dense(2, Activation.Softmax)] public partial DenseLayer Output { get; }
        """;

    private static string TenUsesOf(string blockLayers) => $$"""
        using NetDsl;

        namespace Tests;

        [Block]
        public partial class B : Block
        {
            public const int Filters = BlockParameter.P0;
            [Conv2D(Filters, 3, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Conv { get; }
        {{blockLayers}}
        }

        [Network]
        [Input(4, 6, 6)]
        public partial class Net
        {
        {{TenUses}}
        }
        """;

    /// <summary>
    /// A mistake a block's layer makes with its use's numbers is reported at each use, once (not per copy), naming the
    /// layer by the use's path: ten uses (the first with ten copies) give ten errors, no C# errors.
    /// </summary>
    [Fact]
    public void BlockUsedTenTimes_ALayerMistakeIsOneErrorPerUse()
    {
        string source = TenUsesOf("    [Dropout(1.5)] public partial DropoutLayer Drop { get; }");
        var run = GeneratorHarness.Run(source);
        DiagnosticAssert.AssertNoCascade(run);
        var errors = run.GeneratorDiagnostics;
        Assert.Equal(10, errors.Length);
        for (int i = 0; i < 10; i++)
        {
            var d = errors.Single(e => e.GetMessage().Contains($"'Stage{i}[0].Drop'", StringComparison.Ordinal));
            Assert.Equal("NDSL0019", d.Id);
            Assert.Equal($"Blocks(typeof(B), {(i == 0 ? 10 : 1)}, 4)", source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
            Assert.Equal(16 + i, d.Location.GetLineSpan().StartLinePosition.Line);
        }

        Assert.Empty(run.OutputDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error && !d.Id.StartsWith("NDSL", StringComparison.Ordinal)));
    }

    /// <summary>
    /// A mistake in the block's own declaration (here a layer property of the wrong type) is one error, at the block:
    /// the ten uses add nothing (no NDSL0027 each), the block and the network get stubs, and C# reports nothing.
    /// </summary>
    [Fact]
    public void BlockUsedTenTimes_ADeclarationMistakeIsOneErrorAtTheBlock()
    {
        var run = GeneratorHarness.Run(TenUsesOf("    [BatchNorm] public partial DenseLayer Norm { get; }"));
        GeneratorHarness.AssertGeneratorHealthy(run);
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("NDSL0007", d.Id);
        Assert.Equal(9, d.Location.GetLineSpan().StartLinePosition.Line);
        var errors = run.OutputDiagnostics.Where(e => e.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, GeneratorRun.Describe(errors));
        var network = run.GeneratedSources.Single(s => s.HintName == "Tests.Net.NotGenerated.g.cs");
        Assert.Contains("NDSL0007 at Network.cs(10,", network.Text, StringComparison.Ordinal);
        var block = run.GeneratedSources.Single(s => s.HintName == "Tests.B.NotGenerated.g.cs");
        Assert.Contains("\"Block 'B' was not generated: NDSL0007 at Network.cs(10,", block.Text, StringComparison.Ordinal);
    }
}

using Microsoft.CodeAnalysis;

namespace NetDsl.Generators.Tests;

/// <summary>
/// Declarations that are legal C# (or nearly) must either generate code that compiles or get an NDSL
/// diagnostic: never a generator crash, never silently broken or silently missing output. The tests marked
/// GENERATOR BUG fail against the current generator; see each one's comment.
/// </summary>
public class RobustnessTests
{
    private static GeneratorRun RunFiles(params (string Path, string Text)[] files)
        => GeneratorHarness.Run(GeneratorHarness.CreateCompilation(files.Select(f => GeneratorHarness.Parse(f.Text, f.Path)).ToArray()));

    /// <summary>Either an NDSL error explains the problem, or code was generated and the whole compilation has no errors.</summary>
    /// <param name="run">The generator's run.</param>
    /// <param name="stubPossible">Whether a generated part can complete the class when it is diagnosed (then no C# error
    /// may come with the NDSL one); false for a file-local class, which no other file can extend.</param>
    private static void AssertGeneratedOrDiagnosed(GeneratorRun run, bool stubPossible = true)
    {
        GeneratorHarness.AssertGeneratorHealthy(run);
        if (run.GeneratorDiagnostics.Any(d => d.Id.StartsWith("NDSL", StringComparison.Ordinal) && d.Severity == DiagnosticSeverity.Error))
        {
            if (stubPossible)
            {
                DiagnosticAssert.AssertNoCascade(run); // the error stub completes the class and adds no error of its own
            }

            return;
        }

        Assert.True(run.GeneratedSources.Count > 0, "no NDSL diagnostic, yet nothing was generated; the compiler reports:\n" +
            GeneratorRun.Describe(run.OutputDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        var errors = run.OutputDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, $"no NDSL diagnostic, but the generated code does not compile ({errors.Count} errors):\n" + GeneratorRun.Describe(errors.Take(5)));
    }

    private static string Network(string layers, string classHeader = "public partial class Net", string extra = "") => $$"""
        using NetDsl;

        namespace Tests.Robust;

        [Network]
        [Input(4)]
        {{classHeader}}
        {
        {{layers}}
        }
        {{extra}}
        """;

    /// <summary>
    /// GENERATOR BUG (fails): [Network] on two partial declarations of one class (CS0579 for the user) makes
    /// ForAttributeWithMetadataName yield two targets, both emit "Tests.Robust.Net.g.cs", and the second
    /// AddSource throws ArgumentException (duplicate hint name): the generator crashes (CS8785) and drops the
    /// output of every network in the project.
    /// </summary>
    [Fact]
    public void NetworkAttributeOnTwoPartialDeclarations_DoesNotCrashTheGenerator()
    {
        var run = RunFiles(
            ("/src/A.cs", Network("    [Dense(2)] public partial DenseLayer Output { get; }")),
            ("/src/B.cs", "using NetDsl;\nnamespace Tests.Robust;\n[Network]\npublic partial class Net\n{\n}\n"));
        GeneratorHarness.AssertGeneratorHealthy(run);
    }

    /// <summary>
    /// GENERATOR BUG (fails): the generated file uses the aliases 'K' and 'Partition' declared at compilation-unit
    /// level, outside its namespace; a type with that name in the network's namespace wins the lookup, and every
    /// 'Partition.Range(...)' / 'K.Gemm...' in the generated file breaks. Emitting fully qualified
    /// global::NetDsl.Kernels.* / global::NetDsl.Threading.Partition names avoids it.
    /// </summary>
    [Theory]
    [InlineData("Partition")]
    [InlineData("K")]
    public void UserTypeNamedLikeAnAlias_DoesNotBreakGeneratedCode(string typeName)
    {
        var run = GeneratorHarness.Run(Network("    [Dense(3, Activation.ReLU)] public partial DenseLayer Hidden { get; }\n    [Dense(2)] public partial DenseLayer Output { get; }",
            extra: $"public sealed class {typeName} {{ }}"));
        AssertGeneratedOrDiagnosed(run);
    }

    /// <summary>
    /// GENERATOR BUG (fails): CpuEmitter.Field lower-cases the first letter, so layers 'x' and 'X' both get the field
    /// '_xLayer' (CS0102), and Local() collides the same way for the activation-plan locals.
    /// </summary>
    [Fact]
    public void LayersWhoseNamesDifferOnlyInCase_AreGeneratedOrDiagnosed()
        => AssertGeneratedOrDiagnosed(GeneratorHarness.Run(Network(
            "    [Dense(3, Activation.Tanh)] public partial DenseLayer x { get; }\n    [Dense(2)] public partial DenseLayer X { get; }")));

    /// <summary>
    /// GENERATOR BUG (fails): a layer may be named like a member the generator emits or uses unqualified
    /// (Summary, ParameterLength, the inherited Arena ...): the generated code then does not compile
    /// (CS0102 duplicate member, or 'Arena' binding to the layer; for 'Arena' the user also has to write 'new',
    /// which the generated implementation does not repeat: CS8800). Such names need a diagnostic, or generated
    /// members need collision-free names and 'base.' qualification.
    /// </summary>
    [Theory]
    [InlineData("Summary", "")]
    [InlineData("ParameterLength", "")]
    [InlineData("Arena", "new ")]
    public void LayerNamedLikeAGeneratedMember_IsGeneratedOrDiagnosed(string layerName, string modifier)
        => AssertGeneratedOrDiagnosed(GeneratorHarness.Run(Network(
            $"    [Dense(3, Activation.Tanh)] public {modifier}partial DenseLayer {layerName} {{ get; }}\n    [Dense(2)] public partial DenseLayer Output {{ get; }}")));

    /// <summary>
    /// GENERATOR BUG (fails): names are emitted from ISymbol.Name without escaping, so a class '@class' or a layer
    /// '@int' produce 'partial class class' and 'DenseLayer int { ... }' (dozens of syntax errors in the generated file).
    /// </summary>
    [Fact]
    public void KeywordIdentifiers_AreGeneratedOrDiagnosed()
        => AssertGeneratedOrDiagnosed(GeneratorHarness.Run(Network(
            "    [Dense(3)] public partial DenseLayer @int { get; }\n    [Dense(2)] public partial DenseLayer @event { get; }",
            classHeader: "public partial class @class")));

    /// <summary>
    /// GENERATOR BUG (fails): [Dense] on a partial indexer (AttributeTargets.Property allows it) is taken as a
    /// layer named 'this[]', and the generated file is full of syntax errors. NetworkParser should report it
    /// (e.g. NDSL0008) when property.IsIndexer.
    /// </summary>
    [Fact]
    public void LayerAttributeOnAnIndexer_IsDiagnosed()
        => AssertGeneratedOrDiagnosed(GeneratorHarness.Run(Network("    [Dense(2)] public partial DenseLayer this[int i] { get; }")));

    /// <summary>
    /// GENERATOR BUG (fails): a 'file' class is generated as a plain 'partial class' in another file, i.e. a
    /// different type, so the layer properties never get implemented (CS9248/CS9249). It needs NDSL0009 (or the
    /// generator must emit into the same file, which it cannot).
    /// </summary>
    [Fact]
    public void FileLocalNetworkClass_IsGeneratedOrDiagnosed()
        => AssertGeneratedOrDiagnosed(GeneratorHarness.Run(Network("    [Dense(2)] public partial DenseLayer Output { get; }", classHeader: "file partial class Net")), stubPossible: false);

    /// <summary>
    /// GENERATOR BUG (fails): [Network] on a 'partial record' (AttributeTargets.Class allows it) is ignored
    /// without a word: the predicate in NetworkGenerator.Initialize accepts only ClassDeclarationSyntax, so the
    /// user sees only CS9248 'partial property must have an implementation'. It needs NDSL0009.
    /// </summary>
    [Fact]
    public void RecordNetwork_IsGeneratedOrDiagnosed()
        => AssertGeneratedOrDiagnosed(GeneratorHarness.Run(Network("    [Dense(2)] public partial DenseLayer Output { get; }", classHeader: "public partial record Net")));

    /// <summary>Cases that work today and must keep working.</summary>
    [Theory]
    [InlineData("    [Dense(3)] public partial DenseLayer Input { get; }\n    [Dense(2)] public partial DenseLayer Logits { get; }", "")]
    [InlineData("    [Dense(3)] public partial DenseLayer Grad0 { get; }\n    [Dense(2)] public partial DenseLayer Probabilities { get; }", "")]
    [InlineData("    [Dense(2)] public partial DenseLayer Output { get; }", "public static class NetDsl { public sealed class Network { } public sealed class Kernels { } }")]
    [InlineData("    [Dense(2)] public partial DenseLayer Output { get; }", "public static class Extensions { public static int Dispatch(this object o, int job) => job; }")]
    public void UnusualButValidDeclarations_Compile(string layers, string extra)
    {
        var run = GeneratorHarness.Run(Network(layers, extra: extra));
        GeneratorHarness.AssertCleanOutput(run);
    }
}

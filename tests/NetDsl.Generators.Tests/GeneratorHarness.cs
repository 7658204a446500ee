using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using NetDsl.Generators;

namespace NetDsl.Generators.Tests;

/// <summary>One generated file: its hint name and its text.</summary>
public sealed record GeneratedFile(string HintName, string Text);

/// <summary>Everything one generator run produced.</summary>
public sealed class GeneratorRun
{
    public required CSharpCompilation InputCompilation { get; init; }

    public required Compilation OutputCompilation { get; init; }

    public required GeneratorDriver Driver { get; init; }

    public required GeneratorDriverRunResult RunResult { get; init; }

    /// <summary>The diagnostics the generator reported (NDSL...), plus anything the driver reported about it.</summary>
    public required ImmutableArray<Diagnostic> GeneratorDiagnostics { get; init; }

    /// <summary>The diagnostics of the compilation with the generated files added.</summary>
    public ImmutableArray<Diagnostic> OutputDiagnostics => OutputCompilation.GetDiagnostics();

    public GeneratorRunResult Result => RunResult.Results.Single();

    public IReadOnlyList<GeneratedFile> GeneratedSources =>
        Result.GeneratedSources.Select(s => new GeneratedFile(s.HintName, s.SourceText.ToString())).ToList();

    /// <summary>The single generated file (fails when there is not exactly one).</summary>
    public GeneratedFile SingleSource
    {
        get
        {
            var sources = GeneratedSources;
            Assert.True(sources.Count == 1, $"expected exactly one generated file, got {sources.Count}: {string.Join(", ", sources.Select(s => s.HintName))}\n{Describe(GeneratorDiagnostics)}");
            return sources[0];
        }
    }

    public static string Describe(IEnumerable<Diagnostic> diagnostics)
    {
        var list = diagnostics.ToList();
        return list.Count == 0 ? "(no diagnostics)" : string.Join("\n", list.Select(d => d.ToString()));
    }
}

/// <summary>
/// Compiles C# sources in-process against the running runtime's own assemblies plus NetDsl, and runs the NetDsl
/// generator over them (no downloads, no MSBuild). Settings mirror a real project of this repository: latest
/// language version, nullable enabled, XML documentation diagnosed (CS1591 suppressed as the repository does),
/// no unsafe code.
/// </summary>
public static class GeneratorHarness
{
    /// <summary>The file path every single-file test source gets.</summary>
    public const string DefaultPath = "/src/Network.cs";

    public static readonly CSharpParseOptions ParseOptions = new CSharpParseOptions(LanguageVersion.Preview, DocumentationMode.Diagnose);

    public static readonly CSharpCompilationOptions CompilationOptions = new CSharpCompilationOptions(
            OutputKind.DynamicallyLinkedLibrary,
            nullableContextOptions: NullableContextOptions.Enable,
            allowUnsafe: false,
            deterministic: true)
        .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic>
        {
            // Missing XML comments on the test declarations themselves (the repository sets NoWarn CS1591 outside src/).
            ["CS1591"] = ReportDiagnostic.Suppress,
        });

    private static readonly Lazy<ImmutableArray<MetadataReference>> LazyReferences = new(() => LoadReferences(gpu: false));

    private static readonly Lazy<ImmutableArray<MetadataReference>> LazyGpuReferences = new(() => LoadReferences(gpu: true));

    /// <summary>Every trusted platform assembly of this process, plus NetDsl.</summary>
    public static ImmutableArray<MetadataReference> References => LazyReferences.Value;

    /// <summary>A warmed-up empty compilation: derived compilations share its bound references.</summary>
    private static readonly Lazy<CSharpCompilation> LazyEmpty = new(() =>
    {
        var compilation = CSharpCompilation.Create("NetDslGeneratorTests", Array.Empty<SyntaxTree>(), References, CompilationOptions);
        _ = compilation.GetTypeByMetadataName("NetDsl.NetworkAttribute") ?? throw new InvalidOperationException("NetDsl is not referenced.");
        return compilation;
    });

    /// <summary>The references of a project that also references NetDsl.Gpu (and so ILGPU): the generator adds the GPU backend.</summary>
    public static ImmutableArray<MetadataReference> GpuReferences => LazyGpuReferences.Value;

    private static readonly Lazy<CSharpCompilation> LazyGpuEmpty = new(() =>
        CSharpCompilation.Create("NetDslGeneratorGpuTests", Array.Empty<SyntaxTree>(), GpuReferences, CompilationOptions));

    private static ImmutableArray<MetadataReference> LoadReferences(bool gpu)
    {
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        var trusted = (string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? throw new InvalidOperationException("TRUSTED_PLATFORM_ASSEMBLIES is not set.");
        foreach (var path in trusted.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            // This test project references NetDsl.Gpu (for the GPU compilations), so it and ILGPU are trusted assemblies
            // of the process; a plain compilation must not see them, or the generator would add the GPU backend.
            string file = Path.GetFileName(path);
            if (file.StartsWith("ILGPU", StringComparison.Ordinal) || file == "NetDsl.Gpu.dll")
            {
                continue;
            }

            paths.Add(path);
        }

        paths.Add(typeof(NetDsl.Network).Assembly.Location);
        if (gpu)
        {
            paths.Add(typeof(NetDsl.Gpu.GpuSession).Assembly.Location);
            paths.Add(typeof(ILGPU.Context).Assembly.Location);
        }

        return paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    }

    public static SyntaxTree Parse(string source, string path = DefaultPath)
        => CSharpSyntaxTree.ParseText(SourceText.From(source, System.Text.Encoding.UTF8), ParseOptions, path);

    public static CSharpCompilation CreateCompilation(params SyntaxTree[] trees) => LazyEmpty.Value.AddSyntaxTrees(trees);

    public static CSharpCompilation CreateCompilation(string source, string path = DefaultPath) => CreateCompilation(Parse(source, path));

    /// <summary>A compilation that references NetDsl.Gpu as well.</summary>
    public static CSharpCompilation CreateGpuCompilation(string source, string path = DefaultPath) => LazyGpuEmpty.Value.AddSyntaxTrees(Parse(source, path));

    public static GeneratorDriver CreateDriver() => CSharpGeneratorDriver.Create(
        new[] { new NetworkGenerator().AsSourceGenerator() },
        parseOptions: ParseOptions,
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    public static GeneratorRun Run(string source, string path = DefaultPath) => Run(CreateCompilation(source, path));

    public static GeneratorRun Run(CSharpCompilation compilation, GeneratorDriver? driver = null)
    {
        driver = (driver ?? CreateDriver()).RunGeneratorsAndUpdateCompilation(compilation, out var output, out var driverDiagnostics);
        var runResult = driver.GetRunResult();
        return new GeneratorRun
        {
            InputCompilation = compilation,
            OutputCompilation = output,
            Driver = driver,
            RunResult = runResult,
            GeneratorDiagnostics = runResult.Diagnostics.AddRange(driverDiagnostics.Where(d => !runResult.Diagnostics.Contains(d))),
        };
    }

    /// <summary>Asserts the generator itself did not fail (threw, or reported its internal-error diagnostic).</summary>
    public static void AssertGeneratorHealthy(GeneratorRun run)
    {
        Assert.True(run.Result.Exception is null, $"the generator threw: {run.Result.Exception}");
        Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id == "NDSL9999" || d.Id == "CS8785");
    }

    /// <summary>Asserts that the compilation with the generated code has no errors and no warnings.</summary>
    public static void AssertCleanOutput(GeneratorRun run)
    {
        AssertGeneratorHealthy(run);
        Assert.True(run.GeneratorDiagnostics.IsEmpty, "generator diagnostics:\n" + GeneratorRun.Describe(run.GeneratorDiagnostics));
        var problems = run.OutputDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(problems.Count == 0, "the generated code does not compile cleanly:\n" + GeneratorRun.Describe(problems));
    }
}

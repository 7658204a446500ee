using System.Collections.Immutable;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NetDsl.Generators;

// Generator time on the model table (src/NetDsl.Models): the whole generator pipeline (parse, block expansion, shapes,
// lowering, CPU emission) for one model's source plus the block classes it uses, from a cold driver; and an edit that
// only moves code (a comment added), which must leave every stage after parsing cached.
//   dotnet run -c Release --project tests/NetDsl.GeneratorBenchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(GeneratorBenchmarks).Assembly).Run(args);

[MemoryDiagnoser]
[ShortRunJob]
public class GeneratorBenchmarks
{
    private CSharpCompilation _compilation = null!;
    private CSharpCompilation _edited = null!;
    private GeneratorDriver _warm = null!;

    [Params("ResNet152.cs", "ResNet.cs", "Vgg.cs", "GoogLeNet.cs", "All")]
    public string Model { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "NetDsl.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("NetDsl.sln not found above " + AppContext.BaseDirectory);
        }

        string models = Path.Combine(root, "src", "NetDsl.Models");
        var files = Directory.GetFiles(models, "*.cs").Where(f => !f.Contains("/obj/", StringComparison.Ordinal)).ToList();
        var chosen = Model switch
        {
            "All" => files,
            "ResNet152.cs" or "ResNet.cs" => files.Where(f => f.EndsWith("/" + Model, StringComparison.Ordinal) || f.EndsWith("/ResNetBlocks.cs", StringComparison.Ordinal)).ToList(),
            _ => files.Where(f => f.EndsWith("/" + Model, StringComparison.Ordinal)).ToList(),
        };
        var trees = chosen.Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Preview), f)).ToList();
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(p => MetadataReference.CreateFromFile(p))
            .Append(MetadataReference.CreateFromFile(typeof(NetDsl.Network).Assembly.Location));
        _compilation = CSharpCompilation.Create("Models", trees, references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var first = trees[0];
        _edited = _compilation.ReplaceSyntaxTree(first, first.WithChangedText(first.GetText().WithChanges(new Microsoft.CodeAnalysis.Text.TextChange(new Microsoft.CodeAnalysis.Text.TextSpan(first.Length, 0), "\n// an edit that moves nothing\n"))));
        _warm = NewDriver().RunGenerators(_compilation);
    }

    private static GeneratorDriver NewDriver() => CSharpGeneratorDriver.Create(new[] { new NetworkGenerator().AsSourceGenerator() },
        driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: false));

    /// <summary>The whole pipeline from a cold driver.</summary>
    [Benchmark]
    public int Cold() => NewDriver().RunGenerators(_compilation).GetRunResult().GeneratedTrees.Length;

    /// <summary>An edit that moves no declaration, on a warm driver (every later stage cached).</summary>
    [Benchmark]
    public int WarmEdit() => _warm.RunGenerators(_edited).GetRunResult().GeneratedTrees.Length;
}

using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NetDsl.Generators.Diagnostics;

namespace NetDsl.Generators.Tests;

/// <summary>
/// One mistake, one error: a declaration with an NDSL error gets a stub (every member throws) instead of nothing, so
/// the build shows the NDSL errors and no C# errors besides them. One malformed declaration per error id.
/// </summary>
public class CascadeTests
{
    private static string Net(string body, string attributes = "[Network]\n[Input(8)]", string loss = "") => $$"""
        using NetDsl;

        namespace Tests;

        {{(loss.Length > 0 ? $"[Network(Loss = Loss.{loss})]\n[Input(8)]" : attributes)}}
        public partial class Net
        {
        {{body}}
        }
        """;

    private const string Output = "    [Dense(2, Activation.Softmax)] public partial DenseLayer Output { get; }";

    private const string Leaky = """
        [Block]
        public partial class Leaky : Block
        {
            public const int Filters = BlockParameter.P0;
            [Conv2D(Filters, 3, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Conv { get; }
        }

        """;

    /// <summary>
    /// One declaration per error id: its sources (a second file after "// FILE2"), and the C# errors the user's own
    /// code has whatever NetDsl generates (C#'s, reported on the user's declarations, not on generated code).
    /// </summary>
    public static readonly Dictionary<string, (string Source, string[] CSharpErrors)> Cases = new()
    {
        // A class without 'partial' cannot take a generated part: C# reports its partial properties (CS0751 and the
        // missing implementation, CS9248) itself.
        ["NDSL0001"] = ("using NetDsl;\n[Network]\n[Input(8)]\npublic class Net\n{\n" + Output + "\n}", new[] { "CS0751", "CS9248" }),
        ["NDSL0002"] = (Net(Output, "[Network]"), []),
        ["NDSL0003"] = (Net("    [Dense(0)] public partial DenseLayer Hidden { get; }\n" + Output), []),
        ["NDSL0004"] = (Net("    [Dense(2, Activation.ReLU)] public partial DenseLayer Output { get; }"), []),
        ["NDSL0005"] = (Net(Output + "\n    public partial DenseLayer Extra { get; }"), []),
        ["NDSL0006"] = (Net(""), []),
        ["NDSL0007"] = (Net("    [Dense(4)] public partial Conv2DLayer Hidden { get; }\n" + Output), []),
        ["NDSL0008"] = (Net("    [Dense(2, Activation.Softmax)] public partial DenseLayer Output { get; set; }"), []),
        ["NDSL0009"] = (Net(Output).Replace("public partial class Net", "public abstract partial class Net"), []),
        ["NDSL0010"] = (Net(Output, "[Network]\n[Input(1, 4, 4)]"), []),
        ["NDSL0011"] = (Net("    [Dense(1, Activation.Softmax)] public partial DenseLayer Output { get; }"), []),
        ["NDSL0012"] = (Net(Output, "[Network(Loss = (Loss)99)]\n[Input(8)]"), []),
        ["NDSL0013"] = (Net("    [Dense(100000, Activation.ReLU)] public partial DenseLayer Hidden { get; }\n" + Output, "[Network]\n[Input(100000)]"), []),
        ["NDSL0014"] = (Net("    [Dense(4)] public partial DenseLayer Summary { get; }\n" + Output), []),
        ["NDSL0015"] = (Net("    [Conv2D(2, 3)] public partial Conv2DLayer Conv { get; }\n" + Output), []),
        ["NDSL0016"] = (Net("    [Conv2D(2, 5)] public partial Conv2DLayer Conv { get; }\n    [Flatten] public partial FlattenLayer Flat { get; }\n" + Output, "[Network]\n[Input(1, 4, 4)]"), []),
        ["NDSL0017"] = (Net("    [Conv2D(2, 2, Stride = 2)] public partial Conv2DLayer Conv { get; }\n    [Flatten] public partial FlattenLayer Flat { get; }\n" + Output, "[Network(ExactWindows = true)]\n[Input(1, 5, 5)]"), []),
        ["NDSL0018"] = (Net("    [Flatten] public partial FlattenLayer Flat { get; }\n" + Output), []),
        ["NDSL0019"] = (Net("    [Dense(4)] public partial DenseLayer Hidden { get; }\n    [Dropout(1.5)] public partial DropoutLayer Drop { get; }\n" + Output), []),
        ["NDSL0020"] = (Net("    [Conv2D(2, 3)] public partial Conv2DLayer Conv { get; }", "[Network(Loss = Loss.MeanSquaredError)]\n[Input(1, 4, 4)]"), []),
        ["NDSL0021"] = (Net("    [Activation(Activation.Sigmoid)] public partial ActivationLayer Act { get; }", "[Network(Loss = Loss.MeanSquaredError)]\n[Input(8)]"), []),
        ["NDSL0022"] = (Net("    [Dense(2, Activation.Softmax, Input = \"Hiden\")] public partial DenseLayer Output { get; }"), []),
        ["NDSL0023"] = (Net("    [Dense(2, Activation.Softmax, Input = nameof(Output))] public partial DenseLayer Output { get; }"), []),
        ["NDSL0024"] = (Net("    [Dense(4)] public partial DenseLayer A { get; }\n    [Dense(4, Input = LayerAttribute.NetworkInput)] public partial DenseLayer B { get; }\n" + Output), []),
        ["NDSL0025"] = (Net("    [Dense(4)] public partial DenseLayer A { get; }\n    [Add(nameof(A), LayerAttribute.NetworkInput)] public partial MergeLayer Sum { get; }\n" + Output), []),
        ["NDSL0026"] = (Net("    [Dense(4)] public partial DenseLayer A { get; }\n    [Add(nameof(A))] public partial MergeLayer Sum { get; }\n" + Output), []),
        ["NDSL0027"] = (Net("    [Blocks(typeof(Leaky), 2, 4, 4)] public partial BlockList<Leaky> Stage { get; }\n    [Flatten] public partial FlattenLayer Flat { get; }\n" + Output, "[Network]\n[Input(3, 8, 8)]") + "\n" + Leaky, []),
        // The same layer in two partial declarations: C# reports the second definition (CS9250, CS0102); NetDsl reports NDSL0028
        // there and the stub implements the property once.
        ["NDSL0028"] = (Net(Output) + "\n// FILE2\nusing NetDsl;\nnamespace Tests;\npublic partial class Net\n{\n" + Output + "\n}", new[] { "CS0102", "CS9250" }),
    };

    /// <summary>Error ids no declaration can produce alone.</summary>
    private static readonly Dictionary<string, string> Unproducible = new()
    {
        ["NDSL9999"] = "the generator's internal error: no declaration should produce it (FuzzTests and RobustnessTests check that none does)",
    };

    public static IEnumerable<object[]> Ids() => Cases.Keys.Order(StringComparer.Ordinal).Select(id => new object[] { id });

    [Fact]
    public void EveryErrorDescriptorHasACase()
    {
        var errors = typeof(DiagnosticDescriptors).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .Where(d => d.DefaultSeverity == DiagnosticSeverity.Error)
            .Select(d => d.Id)
            .ToList();
        Assert.Contains("NDSL0028", errors);
        var missing = errors.Where(id => !Cases.ContainsKey(id) && !Unproducible.ContainsKey(id)).ToList();
        Assert.True(missing.Count == 0, "error descriptors without a case in CascadeTests.Cases: " + string.Join(", ", missing));
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void OnlyTheNdslErrors(string id)
    {
        var (source, csharp) = Cases[id];
        var run = Run(source);
        GeneratorHarness.AssertGeneratorHealthy(run);
        var ndsl = run.GeneratorDiagnostics.Select(d => d.Id).Distinct().ToList();
        Assert.True(ndsl.SequenceEqual(new[] { id }), $"expected only {id}, got:\n{GeneratorRun.Describe(run.GeneratorDiagnostics)}");
        var others = run.OutputDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error && !d.Id.StartsWith("NDSL", StringComparison.Ordinal)).ToList();
        Assert.True(others.Select(d => d.Id).Distinct().Order(StringComparer.Ordinal).SequenceEqual(csharp.Order(StringComparer.Ordinal)),
            $"expected C# errors [{string.Join(", ", csharp)}] (the user's own), got:\n{GeneratorRun.Describe(others)}\ngenerated:\n"
            + string.Join("\n", run.GeneratedSources.Select(s => "// " + s.HintName + "\n" + s.Text)));
        Assert.DoesNotContain(others, d => d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true);
    }

    /// <summary>The issue's example: a ten-layer network with one wrong kernel size is one error in all, not one plus ten.</summary>
    [Fact]
    public void TenLayersOneWrongKernel_IsOneErrorInAll()
    {
        var run = Run(Net("""
                [Conv2D(8, 3, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Conv1 { get; }
                [BatchNorm] public partial BatchNormLayer Norm1 { get; }
                [Conv2D(8, 3, Activation.ReLU, Padding = Padding.Same)] public partial Conv2DLayer Conv2 { get; }
                [MaxPool2D(2)] public partial PoolingLayer Pool1 { get; }
                [Conv2D(16, 5, Activation.ReLU)] public partial Conv2DLayer Conv3 { get; }
                [MaxPool2D(2)] public partial PoolingLayer Pool2 { get; }
                [Flatten] public partial FlattenLayer Flat { get; }
                [Dense(32, Activation.ReLU)] public partial DenseLayer Hidden { get; }
                [Dropout(0.5)] public partial DropoutLayer Drop { get; }
                [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
            """, "[Network]\n[Input(1, 8, 8)]"));
        GeneratorHarness.AssertGeneratorHealthy(run);
        var all = run.GeneratorDiagnostics.Concat(run.OutputDiagnostics).Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        var only = Assert.Single(all);
        Assert.Equal("NDSL0016", only.Id);
        Assert.Contains("'Conv3' has a 5x5 window, larger than its 4x4 input", only.GetMessage(), StringComparison.Ordinal);
    }

    internal static GeneratorRun Run(string source)
    {
        var files = source.Split("// FILE2\n");
        return GeneratorHarness.Run(GeneratorHarness.CreateCompilation(
            files.Select((text, i) => GeneratorHarness.Parse(text, i == 0 ? GeneratorHarness.DefaultPath : $"/src/Network{i + 1}.cs")).ToArray()));
    }
}

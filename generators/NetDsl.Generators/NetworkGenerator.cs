using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;
using NetDsl.Generators.Diagnostics;
using NetDsl.Generators.Emit;
using NetDsl.Generators.Lowering;
using NetDsl.Generators.Model;
using NetDsl.Generators.Parsing;
using NetDsl.Generators.Shapes;

namespace NetDsl.Generators;

/// <summary>
/// The NetDsl source generator: [Network] classes -> equatable spec -> shapes and diagnostics -> execution plan
/// -> C#. Each stage is a named, cached pipeline step; everything after <see cref="TrackingNames.Parse"/> is
/// plain data, so an edit that does not change a network leaves its later stages cached.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class NetworkGenerator : IIncrementalGenerator
{
    /// <summary>Names of the pipeline steps (for incrementality tests and diagnostics of the generator itself).</summary>
    public static class TrackingNames
    {
        public const string Parse = nameof(Parse);
        public const string Shapes = nameof(Shapes);
        public const string Lowering = nameof(Lowering);
        public const string Emit = nameof(Emit);
    }

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                NetworkParser.NetworkAttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (ctx, ct) => NetworkParser.Parse(ctx, ct))
            .WithTrackingName(TrackingNames.Parse);

        var shaped = parsed.Select(static (p, _) => ShapeInference.Run(p)).WithTrackingName(TrackingNames.Shapes);
        var lowered = shaped.Select(static (s, _) => Lowerer.Run(s)).WithTrackingName(TrackingNames.Lowering);
        var emitted = lowered.Select(static (l, _) => CpuEmitter.Run(l)).WithTrackingName(TrackingNames.Emit);

        context.RegisterSourceOutput(emitted, static (spc, result) =>
        {
            foreach (var diagnostic in result.Diagnostics)
            {
                var descriptor = DiagnosticDescriptors.ById.TryGetValue(diagnostic.Id, out var d) ? d : DiagnosticDescriptors.InternalError;
                spc.ReportDiagnostic(Diagnostic.Create(descriptor, diagnostic.Location?.ToLocation() ?? Location.None, diagnostic.Arguments.Cast<object>().ToArray()));
            }

            if (result.Source is { } source)
            {
                spc.AddSource(source.HintName, SourceText.From(source.Text, System.Text.Encoding.UTF8));
            }
        });
    }
}

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
        public const string ParseBlocks = nameof(ParseBlocks);
        public const string Expand = nameof(Expand);
        public const string Shapes = nameof(Shapes);
        public const string Lowering = nameof(Lowering);
        public const string Emit = nameof(Emit);
        public const string EmitGpu = nameof(EmitGpu);
    }

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                NetworkParser.NetworkAttributeName,
                static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax,
                static (ctx, ct) => NetworkParser.Parse(ctx, ct))
            .WithTrackingName(TrackingNames.Parse);

        // Block classes: their own generated half, and their specs for expanding the networks that use them.
        var blocks = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                BlockParser.BlockAttributeName,
                static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax,
                static (ctx, ct) => BlockParser.Parse(ctx, ct))
            .WithTrackingName(TrackingNames.ParseBlocks);
        context.RegisterSourceOutput(blocks.Select(static (b, _) => b.Diagnostics), static (spc, diagnostics) => Report(spc, diagnostics));
        context.RegisterSourceOutput(
            blocks.Select(static (b, _) => b.Spec is null ? ErrorStubEmitter.Run(b.Stub, b.Diagnostics) : BlockEmitter.Run(b.Spec)),
            static (spc, result) => AddSource(spc, result));
        var expanded = parsed.Combine(blocks.Collect())
            .Select(static (pair, _) => BlockExpansion.Expand(pair.Left, pair.Right)).WithTrackingName(TrackingNames.Expand);

        // The GPU backend: emitted only when the compilation references NetDsl.Gpu (ILGPU); a project without it compiles
        // exactly the CPU code below. The flag is a bool, so the GPU branch stays cached across edits.
        var gpuReferenced = context.CompilationProvider
            .Select(static (compilation, _) => compilation.GetTypeByMetadataName(GpuEmitter.SessionTypeName) is not null);

        // Diagnostics carry locations and are reported from their own branch; the network model that flows on
        // has none, so an edit that only moves code leaves lowering and emission cached.
        var shaped = expanded.Select(static (p, _) => ShapeInference.Run(p)).WithTrackingName(TrackingNames.Shapes);
        context.RegisterSourceOutput(shaped.Select(static (s, _) => s.Diagnostics), static (spc, diagnostics) => Report(spc, diagnostics));

        // A network with errors gets a stub instead (every member throws), so the build shows its NDSL errors alone.
        context.RegisterSourceOutput(shaped.Combine(gpuReferenced).Select(static (pair, _) => ErrorStubEmitter.Run(pair.Left, pair.Right)),
            static (spc, result) => AddSource(spc, result));

        var lowered = shaped.Select(static (s, _) => Lowerer.Run(s.Network)).WithTrackingName(TrackingNames.Lowering);
        var emitted = lowered.Select(static (l, _) => CpuEmitter.Run(l)).WithTrackingName(TrackingNames.Emit);
        context.RegisterSourceOutput(emitted, static (spc, result) => AddSource(spc, result));

        var emittedGpu = lowered.Combine(gpuReferenced)
            .Select(static (pair, _) => GpuEmitter.Run(pair.Left, pair.Right)).WithTrackingName(TrackingNames.EmitGpu);
        context.RegisterSourceOutput(emittedGpu, static (spc, result) => AddSource(spc, result));
    }

    private static void AddSource(SourceProductionContext spc, EmitResult result)
    {
        Report(spc, result.Diagnostics);
        if (result.Source is { } source)
        {
            try
            {
                spc.AddSource(source.HintName, SourceText.From(source.Text, System.Text.Encoding.UTF8));
            }
            catch (System.ArgumentException e)
            {
                spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalError, Location.None, source.HintName, e.Message));
            }
        }
    }

    private static void Report(SourceProductionContext context, EquatableArray<DiagnosticInfo> diagnostics)
    {
        foreach (var diagnostic in diagnostics)
        {
            var descriptor = DiagnosticDescriptors.ById.TryGetValue(diagnostic.Id, out var d) ? d : DiagnosticDescriptors.InternalError;
            context.ReportDiagnostic(Diagnostic.Create(descriptor, diagnostic.Location?.ToLocation() ?? Location.None, diagnostic.Arguments.Cast<object>().ToArray()));
        }
    }
}

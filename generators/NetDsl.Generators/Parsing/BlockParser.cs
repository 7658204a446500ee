using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NetDsl.Generators.Diagnostics;
using NetDsl.Generators.Model;

namespace NetDsl.Generators.Parsing;

/// <summary>
/// Stage 1 for block classes: a <c>[Block]</c> partial class becomes a <see cref="BlockSpec"/>: its parameters (the
/// <c>const int</c> fields set to <c>BlockParameter.P0..P7</c>, by position) and its layers, read like a network's.
/// </summary>
public static class BlockParser
{
    public const string BlockAttributeName = "NetDsl.BlockAttribute";
    private const string BlockBaseName = "NetDsl.Block";

    /// <summary>Mirrors NetDsl.BlockParameter.P0; P0 + i is parameter i.</summary>
    public const int FirstPlaceholder = -2_000_000_000;

    /// <summary>Placeholders NetDsl.BlockParameter declares.</summary>
    public const int Placeholders = 8;

    /// <summary>Whether <paramref name="value"/> is (or is near) a placeholder: arithmetic on one lands near it.</summary>
    public static bool LooksLikePlaceholder(int value) => value >= FirstPlaceholder - 1_000_000 && value < FirstPlaceholder + 1_000_000;

    public static BlockParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var node = (TypeDeclarationSyntax)context.TargetNode;
        var diagnostics = new List<DiagnosticInfo>();
        var classLocation = LocationInfo.From(node.Identifier.GetLocation());
        try
        {
            // A block declared in several partial parts is read once, from its first declaration.
            var first = type.DeclaringSyntaxReferences.OrderBy(r => r.SyntaxTree.FilePath, System.StringComparer.Ordinal).ThenBy(r => r.Span.Start).First();
            if (first.SyntaxTree != node.SyntaxTree || first.Span != node.Span)
            {
                return new BlockParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
            }

            bool canGenerate = NetworkParser.AllDeclarationsPartial(type, diagnostics, cancellationToken);
            string? unsupported = NetworkParser.UnsupportedShape(type, "block", BlockBaseName);
            if (unsupported is not null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedClassShape, classLocation, type.Name, unsupported));
                canGenerate = false;
            }

            // Parameters: the placeholder constants, by position.
            var parameters = new string?[Placeholders];
            foreach (var field in type.GetMembers().OfType<IFieldSymbol>().Where(f => f.IsConst && f.HasConstantValue && f.ConstantValue is int))
            {
                int position = (int)field.ConstantValue! - FirstPlaceholder;
                if (position >= 0 && position < Placeholders)
                {
                    parameters[position] ??= field.Name;
                }
            }

            int count = 0;
            while (count < Placeholders && parameters[count] is not null)
            {
                count++;
            }

            var layers = NetworkParser.ReadLayers(type, diagnostics, ref canGenerate, cancellationToken);
            if (layers.Count == 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NoLayers, classLocation, type.Name));
                canGenerate = false;
            }

            if (!canGenerate)
            {
                return new BlockParseResult(null, diagnostics.ToEquatableArray(), type.ToDisplayString(), StubReader.Read(type, BlockBaseName, cancellationToken));
            }

            var attribute = type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == BlockAttributeName);
            var spec = new BlockSpec(
                type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString(),
                type.Name,
                type.ToDisplayString(),
                NetworkParser.AccessibilityKeywords(type.DeclaredAccessibility),
                parameters.Take(count).Select(p => p!).ToEquatableArray(),
                layers.ToEquatableArray(),
                attribute is null ? classLocation : LocationInfo.From(attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken)) ?? classLocation);
            return new BlockParseResult(spec, diagnostics.ToEquatableArray());
        }
        catch (System.OperationCanceledException)
        {
            throw;
        }
        catch (System.Exception e)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, classLocation, type.Name, e.GetType().Name + ": " + e.Message));
            return new BlockParseResult(null, diagnostics.ToEquatableArray(), type.ToDisplayString());
        }
    }
}

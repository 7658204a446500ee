using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NetDsl.Generators.Diagnostics;
using NetDsl.Generators.Model;

namespace NetDsl.Generators.Parsing;

/// <summary>
/// Stage 1: reads a [Network] class through the semantic model and returns plain equatable data. This is the
/// only stage that touches symbols and syntax; nothing from Roslyn survives past it.
/// </summary>
public static class NetworkParser
{
    public const string NetworkAttributeName = "NetDsl.NetworkAttribute";
    private const string InputAttributeName = "NetDsl.InputAttribute";
    private const string LayerAttributeBaseName = "NetDsl.LayerAttribute";
    private const string DenseAttributeName = "NetDsl.DenseAttribute";
    private const string DenseLayerTypeName = "NetDsl.DenseLayer";
    private const string NetworkBaseName = "NetDsl.Network";

    public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var node = (TypeDeclarationSyntax)context.TargetNode;
        var diagnostics = new List<DiagnosticInfo>();
        var classLocation = LocationInfo.From(node.Identifier.GetLocation());
        try
        {
            return ParseCore(context, type, node, classLocation, diagnostics, cancellationToken);
        }
        catch (System.OperationCanceledException)
        {
            throw;
        }
        catch (System.Exception e)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, classLocation, type.Name, e.GetType().Name + ": " + e.Message));
            return new ParseResult(null, diagnostics.ToEquatableArray());
        }
    }

    private static ParseResult ParseCore(GeneratorAttributeSyntaxContext context, INamedTypeSymbol type, TypeDeclarationSyntax node,
        LocationInfo? classLocation, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        // [Network] written on several partial declarations (CS0579): only the first one generates.
        var firstNetwork = type.GetAttributes()
            .Where(a => a.AttributeClass?.ToDisplayString() == NetworkAttributeName && a.ApplicationSyntaxReference is not null)
            .Select(a => a.ApplicationSyntaxReference!)
            .OrderBy(r => r.SyntaxTree.FilePath, System.StringComparer.Ordinal)
            .ThenBy(r => r.Span.Start)
            .FirstOrDefault();
        if (firstNetwork is not null && (firstNetwork.SyntaxTree != node.SyntaxTree || !node.Span.Contains(firstNetwork.Span)))
        {
            return new ParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
        }

        bool canGenerate = true;
        foreach (var reference in type.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(cancellationToken) is TypeDeclarationSyntax declaration
                && !declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ClassNotPartial, LocationInfo.From(declaration.Identifier.GetLocation()), type.Name));
                canGenerate = false;
            }
        }

        string? unsupported =
            type.IsRecord ? "records are not supported; declare a partial class" :
            type.IsFileLocal ? "file-local classes are not supported" :
            type.ContainingType is not null ? "nested classes are not supported; declare it at namespace level" :
            type.TypeParameters.Length > 0 ? "generic classes are not supported" :
            type.IsStatic ? "a network cannot be static" :
            type.IsAbstract ? "a network cannot be abstract" :
            type.BaseType is { SpecialType: not SpecialType.System_Object } baseType && baseType.ToDisplayString() != NetworkBaseName
                ? $"it derives from '{baseType.ToDisplayString()}', but a generated network derives from NetDsl.Network"
                : null;
        if (unsupported is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedClassShape, classLocation, type.Name, unsupported));
            canGenerate = false;
        }

        var networkAttribute = context.Attributes[0];
        var networkLocation = AttributeLocation(networkAttribute, cancellationToken) ?? classLocation;
        int loss = 0;
        foreach (var named in networkAttribute.NamedArguments)
        {
            if (named.Key == "Loss" && named.Value.Value is int lossValue)
            {
                loss = lossValue;
            }
        }

        // [Input(...)]
        bool hasInput = false;
        var inputShape = new List<int>();
        LocationInfo? inputLocation = null;
        foreach (var attribute in type.GetAttributes())
        {
            if (attribute.AttributeClass?.ToDisplayString() != InputAttributeName)
            {
                continue;
            }

            hasInput = true;
            inputLocation = AttributeLocation(attribute, cancellationToken);
            foreach (var argument in attribute.ConstructorArguments)
            {
                if (argument.Kind == TypedConstantKind.Array && !argument.IsNull)
                {
                    inputShape.AddRange(argument.Values.Select(v => v.Value is int i ? i : 0));
                }
                else if (argument.Value is int single)
                {
                    inputShape.Add(single);
                }
            }
        }

        // Layers, in declaration order.
        var layers = new List<LayerSpec>();
        var properties = type.GetMembers().OfType<IPropertySymbol>()
            .Where(p => p.Locations.Length > 0 && p.Locations[0].IsInSource)
            .OrderBy(p => p.Locations[0].SourceTree?.FilePath, System.StringComparer.Ordinal)
            .ThenBy(p => p.Locations[0].SourceSpan.Start);
        foreach (var property in properties)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var layerAttributes = property.GetAttributes().Where(a => DerivesFrom(a.AttributeClass, LayerAttributeBaseName)).ToList();
            var propertyLocation = LocationInfo.From(property.Locations[0]);
            if (layerAttributes.Count == 0)
            {
                if (property.IsPartialDefinition && property.PartialImplementationPart is null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnknownMember, propertyLocation, property.Name, type.Name));
                    canGenerate = false;
                }

                continue;
            }

            var attribute = layerAttributes[0];
            var attributeLocation = AttributeLocation(attribute, cancellationToken) ?? propertyLocation;
            string attributeName = attribute.AttributeClass!.ToDisplayString();
            if (attributeName != DenseAttributeName)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnknownMember, propertyLocation, property.Name, type.Name));
                canGenerate = false;
                continue;
            }

            if (!property.IsPartialDefinition || property.SetMethod is not null || property.IsStatic || property.IsIndexer || property.PartialImplementationPart is not null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LayerNotPartial, propertyLocation, property.Name));
                canGenerate = false;
                continue;
            }

            string propertyType = property.Type.ToDisplayString();
            if (propertyType != DenseLayerTypeName)
            {
                var typeSyntax = (property.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken) as PropertyDeclarationSyntax)?.Type;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LayerTypeMismatch,
                    LocationInfo.From(typeSyntax) ?? propertyLocation, property.Name, "Dense", "DenseLayer", property.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)));
                canGenerate = false;
                continue;
            }

            int units = attribute.ConstructorArguments.Length > 0 && attribute.ConstructorArguments[0].Value is int u ? u : 0;
            int activation = attribute.ConstructorArguments.Length > 1 && attribute.ConstructorArguments[1].Value is int a ? a : 0;
            bool useBias = true;
            foreach (var named in attribute.NamedArguments)
            {
                if (named.Key == "UseBias" && named.Value.Value is bool b)
                {
                    useBias = b;
                }
            }

            layers.Add(new LayerSpec(property.Name, LayerKind.Dense, units, activation, useBias, propertyType,
                AccessibilityKeywords(property.DeclaredAccessibility), attributeLocation));
        }

        if (!canGenerate)
        {
            return new ParseResult(null, diagnostics.ToEquatableArray());
        }

        var spec = new NetworkSpec(
            type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString(),
            type.Name,
            AccessibilityKeywords(type.DeclaredAccessibility),
            loss,
            networkLocation,
            inputShape.ToEquatableArray(),
            hasInput,
            inputLocation,
            layers.ToEquatableArray());
        return new ParseResult(spec, diagnostics.ToEquatableArray());
    }

    private static LocationInfo? AttributeLocation(AttributeData attribute, CancellationToken cancellationToken)
        => LocationInfo.From(attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken));

    private static bool DerivesFrom(INamedTypeSymbol? type, string baseName)
    {
        for (var t = type; t is not null; t = t.BaseType)
        {
            if (t.ToDisplayString() == baseName)
            {
                return true;
            }
        }

        return false;
    }

    private static string AccessibilityKeywords(Accessibility accessibility) => accessibility switch
    {
        Accessibility.Public => "public",
        Accessibility.Internal => "internal",
        Accessibility.Protected => "protected",
        Accessibility.ProtectedOrInternal => "protected internal",
        Accessibility.ProtectedAndInternal => "private protected",
        _ => "private",
    };
}

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
    /// <summary>Layer attribute -> (kind, required property type).</summary>
    private static readonly Dictionary<string, (LayerKind Kind, string Type)> LayerAttributes = new()
    {
        ["NetDsl.DenseAttribute"] = (LayerKind.Dense, "NetDsl.DenseLayer"),
        ["NetDsl.Conv2DAttribute"] = (LayerKind.Conv2D, "NetDsl.Conv2DLayer"),
        ["NetDsl.MaxPool2DAttribute"] = (LayerKind.MaxPool2D, "NetDsl.PoolingLayer"),
        ["NetDsl.AvgPool2DAttribute"] = (LayerKind.AvgPool2D, "NetDsl.PoolingLayer"),
        ["NetDsl.FlattenAttribute"] = (LayerKind.Flatten, "NetDsl.FlattenLayer"),
        ["NetDsl.DropoutAttribute"] = (LayerKind.Dropout, "NetDsl.DropoutLayer"),
        ["NetDsl.BatchNormAttribute"] = (LayerKind.BatchNorm, "NetDsl.BatchNormLayer"),
        ["NetDsl.ActivationAttribute"] = (LayerKind.Activation, "NetDsl.ActivationLayer"),
        ["NetDsl.AddAttribute"] = (LayerKind.Add, "NetDsl.MergeLayer"),
        ["NetDsl.ConcatAttribute"] = (LayerKind.Concat, "NetDsl.MergeLayer"),
        ["NetDsl.GlobalAveragePooling2DAttribute"] = (LayerKind.GlobalAveragePooling2D, "NetDsl.PoolingLayer"),
        ["NetDsl.BlocksAttribute"] = (LayerKind.Blocks, "NetDsl.BlockList"),
        ["NetDsl.ZeroPadding2DAttribute"] = (LayerKind.ZeroPadding2D, "NetDsl.ZeroPaddingLayer"),
        ["NetDsl.LocalResponseNormalizationAttribute"] = (LayerKind.LocalResponseNormalization, "NetDsl.LocalResponseNormalizationLayer"),
    };
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

        var stub = StubReader.Read(type, NetworkBaseName, cancellationToken);
        bool canGenerate = AllDeclarationsPartial(type, diagnostics, cancellationToken);
        string? unsupported = UnsupportedShape(type, "network", NetworkBaseName);
        if (unsupported is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedClassShape, classLocation, type.Name, unsupported));
            canGenerate = false;
        }

        var networkAttribute = context.Attributes[0];
        var networkLocation = AttributeLocation(networkAttribute, cancellationToken) ?? classLocation;
        int loss = 0;
        bool exactWindows = false;
        foreach (var named in networkAttribute.NamedArguments)
        {
            if (named.Key == "Loss" && named.Value.Value is int lossValue)
            {
                loss = lossValue;
            }

            if (named.Key == "ExactWindows" && named.Value.Value is bool exact)
            {
                exactWindows = exact;
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
        var layers = ReadLayers(type, diagnostics, ref canGenerate, cancellationToken);

        if (!canGenerate)
        {
            return new ParseResult(null, diagnostics.ToEquatableArray(), stub);
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
            layers.ToEquatableArray(),
            exactWindows);
        return new ParseResult(spec, diagnostics.ToEquatableArray(), stub);
    }

    /// <summary>Reports NDSL0001 at every declaration of <paramref name="type"/> without <c>partial</c>; false if there was one.</summary>
    internal static bool AllDeclarationsPartial(INamedTypeSymbol type, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
    {
        bool partial = true;
        foreach (var reference in type.DeclaringSyntaxReferences)
        {
            if (reference.GetSyntax(cancellationToken) is TypeDeclarationSyntax declaration
                && !declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ClassNotPartial, LocationInfo.From(declaration.Identifier.GetLocation()), type.Name));
                partial = false;
            }
        }

        return partial;
    }

    /// <summary>Why a network or block class (<paramref name="what"/>) cannot be generated, or null.</summary>
    internal static string? UnsupportedShape(INamedTypeSymbol type, string what, string baseName) =>
        type.IsRecord ? "records are not supported; declare a partial class" :
        type.IsFileLocal ? "file-local classes are not supported" :
        type.ContainingType is not null ? "nested classes are not supported; declare it at namespace level" :
        type.TypeParameters.Length > 0 ? "generic classes are not supported" :
        type.IsStatic ? $"a {what} cannot be static" :
        type.IsAbstract ? $"a {what} cannot be abstract" :
        type.BaseType is { SpecialType: not SpecialType.System_Object } baseType && baseType.ToDisplayString() != baseName
            ? $"it derives from '{baseType.ToDisplayString()}', but a generated {what} derives from {baseName}"
            : null;

    /// <summary>The layers of a network or block class: its partial properties with a layer attribute, in declaration order.</summary>
    internal static List<LayerSpec> ReadLayers(INamedTypeSymbol type, List<DiagnosticInfo> diagnostics, ref bool canGenerate, CancellationToken cancellationToken)
    {
        var layers = new List<LayerSpec>();
        var properties = type.GetMembers().OfType<IPropertySymbol>()
            .Where(p => p.Locations.Length > 0 && p.Locations[0].IsInSource)
            .OrderBy(p => p.Locations[0].SourceTree?.FilePath, System.StringComparer.Ordinal)
            .ThenBy(p => p.Locations[0].SourceSpan.Start);
        var declared = new Dictionary<string, Location>(System.StringComparer.Ordinal);
        foreach (var property in properties)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var layerAttributes = property.GetAttributes().Where(a => DerivesFrom(a.AttributeClass, LayerAttributeBaseName)).ToList();
            var propertyLocation = LocationInfo.From(property.Locations[0]);

            // The same property declared in two partial declarations (C# reports the duplicate too): once, here, at the
            // second declaration, and the layer is read from the first only.
            if (declared.TryGetValue(property.Name, out var first))
            {
                var firstSpan = first.GetLineSpan();
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DuplicateLayer,
                    layerAttributes.Count > 0 ? AttributeLocation(layerAttributes[0], cancellationToken) ?? propertyLocation : propertyLocation,
                    property.Name, type.Name, $"{System.IO.Path.GetFileName(firstSpan.Path)}({firstSpan.StartLinePosition.Line + 1},{firstSpan.StartLinePosition.Character + 1})"));
                canGenerate = false;
                continue;
            }

            declared[property.Name] = property.Locations[0];
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
            if (!LayerAttributes.TryGetValue(attributeName, out var known))
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
            string expectedType = known.Type;
            if (known.Kind == LayerKind.Blocks)
            {
                // A block use's property is a BlockList of the block class it names.
                var blockType = attribute.ConstructorArguments.Length > 0 ? attribute.ConstructorArguments[0].Value as INamedTypeSymbol : null;
                expectedType = $"NetDsl.BlockList<{blockType?.ToDisplayString() ?? "?"}>";
            }

            if (propertyType != expectedType)
            {
                var typeSyntax = (property.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken) as PropertyDeclarationSyntax)?.Type;
                string shortAttribute = attribute.AttributeClass!.Name.EndsWith("Attribute", System.StringComparison.Ordinal)
                    ? attribute.AttributeClass.Name.Substring(0, attribute.AttributeClass.Name.Length - "Attribute".Length)
                    : attribute.AttributeClass.Name;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LayerTypeMismatch,
                    LocationInfo.From(typeSyntax) ?? propertyLocation, property.Name, shortAttribute, expectedType.Substring("NetDsl.".Length),
                    property.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)));
                canGenerate = false;
                continue;
            }

            layers.Add(ReadLayer(property.Name, known.Kind, attribute, propertyType, AccessibilityKeywords(property.DeclaredAccessibility), attributeLocation));
        }

        return layers;
    }

    /// <summary>Reads a layer attribute's arguments by constructor parameter name and named property.</summary>
    private static LayerSpec ReadLayer(string name, LayerKind kind, AttributeData attribute, string propertyType, string accessibility, LocationInfo? location)
    {
        var values = new Dictionary<string, object?>(System.StringComparer.Ordinal);
        var parameters = attribute.AttributeConstructor?.Parameters ?? ImmutableArray<IParameterSymbol>.Empty;
        for (int i = 0; i < attribute.ConstructorArguments.Length && i < parameters.Length; i++)
        {
            values[parameters[i].Name] = attribute.ConstructorArguments[i].Kind == TypedConstantKind.Array ? null : attribute.ConstructorArguments[i].Value;
        }

        foreach (var named in attribute.NamedArguments)
        {
            values[named.Key] = named.Value.Kind == TypedConstantKind.Array ? null : named.Value.Value;
        }

        int Int(string key, int fallback) => values.TryGetValue(key, out var v) && v is int i ? i : fallback;
        double Double(string key, double fallback) => values.TryGetValue(key, out var v) ? v switch { double d => d, float f => f, int i => i, _ => fallback } : fallback;
        bool Bool(string key, bool fallback) => values.TryGetValue(key, out var v) && v is bool b ? b : fallback;

        int window = Int("kernelSize", Int("poolSize", 0));
        // ZeroPadding2D(p), (height, width) or (top, bottom, left, right): side i of (top, bottom, left, right).
        int ZeroPad(string side, int i) => values.ContainsKey(side) ? Int(side, 0)
            : values.ContainsKey("height") ? Int(i < 2 ? "height" : "width", 0)
            : Int("padding", 0);
        string? blockType = null;
        var arguments = new List<int>();
        if (kind == LayerKind.Blocks)
        {
            blockType = (attribute.ConstructorArguments.Length > 0 ? attribute.ConstructorArguments[0].Value as INamedTypeSymbol : null)?.ToDisplayString();
            if (attribute.ConstructorArguments.Length > 2 && attribute.ConstructorArguments[2].Kind == TypedConstantKind.Array)
            {
                arguments.AddRange(attribute.ConstructorArguments[2].Values.Select(v => v.Value is int i ? i : 0));
            }
        }

        // Inputs: a merge's constructor array, or the Input property (a string; null entries for anything else).
        var inputs = new List<string>();
        bool hasInput = attribute.NamedArguments.Any(a => a.Key == "Input" && a.Value.Value is not null);
        bool merge = kind is LayerKind.Add or LayerKind.Concat;
        if (merge)
        {
            foreach (var argument in attribute.ConstructorArguments)
            {
                if (argument.Kind == TypedConstantKind.Array && !argument.IsNull)
                {
                    inputs.AddRange(argument.Values.Select(v => v.Value as string ?? ""));
                }
            }
        }
        else if (hasInput)
        {
            inputs.Add(attribute.NamedArguments.First(a => a.Key == "Input").Value.Value as string ?? "");
        }

        int stride = Int("Stride", kind == LayerKind.Conv2D ? 1 : 0);
        return new LayerSpec(
            name,
            kind,
            Units: Int("units", Int("filters", Int("count", Int("size", 0)))),
            Activation: Int("activation", Int("Activation", 0)),
            UseBias: Bool("UseBias", true),
            PropertyType: propertyType,
            Accessibility: accessibility,
            Attribute: location,
            WindowHeight: Int("kernelHeight", Int("poolHeight", window)),
            WindowWidth: Int("kernelWidth", Int("poolWidth", window)),
            StrideHeight: Int("StrideHeight", 0) is var sh and not 0 ? sh : stride,
            StrideWidth: Int("StrideWidth", 0) is var sw and not 0 ? sw : stride,
            Padding: Int("Padding", 0),
            Rate: Double("rate", 0),
            Momentum: Double("Momentum", 0.99),
            Epsilon: Double("Epsilon", 0.001),
            Inputs: inputs.ToEquatableArray(),
            MergeSetsInput: merge && hasInput,
            PadHeight: kind == LayerKind.ZeroPadding2D ? ZeroPad("top", 0) : Int("PadHeight", 0) is var ph and not 0 ? ph : Int("Pad", 0),
            PadWidth: kind == LayerKind.ZeroPadding2D ? ZeroPad("left", 2) : Int("PadWidth", 0) is var pw and not 0 ? pw : Int("Pad", 0),
            CeilMode: Bool("CeilMode", false),
            Alpha: Double("Alpha", 1e-4),
            Beta: Double("Beta", 0.75),
            Bias: Double("Bias", 1.0),
            PadBottom: kind == LayerKind.ZeroPadding2D ? ZeroPad("bottom", 1) : 0,
            PadRight: kind == LayerKind.ZeroPadding2D ? ZeroPad("right", 3) : 0,
            BlockType: blockType,
            Arguments: arguments.ToEquatableArray());
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

    internal static string AccessibilityKeywords(Accessibility accessibility) => accessibility switch
    {
        Accessibility.Public => "public",
        Accessibility.Internal => "internal",
        Accessibility.Protected => "protected",
        Accessibility.ProtectedOrInternal => "protected internal",
        Accessibility.ProtectedAndInternal => "private protected",
        _ => "private",
    };
}

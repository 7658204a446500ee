using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NetDsl.Generators.Model;

namespace NetDsl.Generators.Parsing;

/// <summary>
/// Reads what an error stub needs from a network or block class: where the class is, how it is declared and its
/// partial properties without an implementation. Null when no generated part can compile (a declaration without
/// <c>partial</c>, a file-local class, a non-partial containing type): C# then reports its own errors there.
/// </summary>
internal static class StubReader
{
    private static readonly SymbolDisplayFormat TypeFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    public static ErrorStubSpec? Read(INamedTypeSymbol type, string baseName, CancellationToken cancellationToken)
    {
        if (type.IsFileLocal || !IsPartial(type, cancellationToken))
        {
            return null;
        }

        var containers = new List<string>();
        for (var outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
        {
            if (outer.IsFileLocal || !IsPartial(outer, cancellationToken))
            {
                return null;
            }

            containers.Insert(0, Header(outer));
        }

        // The members of the base only for a class that can derive from it: a record, a static or abstract class, or
        // one with another base gets its properties only.
        bool derives = !type.IsRecord && !type.IsStatic && !type.IsAbstract
            && (type.BaseType is null or { SpecialType: SpecialType.System_Object } || type.BaseType.ToDisplayString() == baseName);
        var stubBase = !derives ? StubBase.None : baseName == "NetDsl.Network" ? StubBase.Network : StubBase.Block;
        var properties = new List<StubProperty>();
        var names = new HashSet<string>(System.StringComparer.Ordinal);
        foreach (var property in type.GetMembers().OfType<IPropertySymbol>()
            .Where(p => p.IsPartialDefinition && p.PartialImplementationPart is null && p.Locations.Length > 0)
            .OrderBy(p => p.Locations[0].SourceTree?.FilePath, System.StringComparer.Ordinal)
            .ThenBy(p => p.Locations[0].SourceSpan.Start))
        {
            // A static class cannot take instance members (C# reports that on the declaration); an unknown type
            // would only repeat C#'s error about it.
            // An indexer is named by its parameters: this[global::System.Int32 i].
            string name = property.IsIndexer
                ? "this[" + string.Join(", ", property.Parameters.Select(p => p.Type.ToDisplayString(TypeFormat) + " " + Naming.Identifier(p.Name))) + "]"
                : Naming.Identifier(property.Name);
            if ((type.IsStatic && !property.IsStatic) || property.Type.TypeKind == TypeKind.Error || !names.Add(name)
                || property.DeclaringSyntaxReferences.FirstOrDefault()?.GetSyntax(cancellationToken) is not BasePropertyDeclarationSyntax syntax)
            {
                continue;
            }

            var accessors = syntax.AccessorList?.Accessors
                .Select(a => string.Join(" ", a.Modifiers.Select(m => m.Text).Concat(new[] { a.Keyword.Text })))
                .ToEquatableArray() ?? EquatableArray<string>.Empty;
            properties.Add(new StubProperty(name, property.Type.ToDisplayString(TypeFormat),
                string.Join(" ", syntax.Modifiers.Select(m => m.Text)), accessors));
        }

        return new ErrorStubSpec(
            type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString(),
            type.Name,
            containers.ToEquatableArray(),
            Header(type),
            stubBase,
            properties.ToEquatableArray(),
            What: baseName == "NetDsl.Network" ? "Network" : "Block");
    }

    private static bool IsPartial(INamedTypeSymbol type, CancellationToken cancellationToken) =>
        type.DeclaringSyntaxReferences.All(r => r.GetSyntax(cancellationToken) is TypeDeclarationSyntax d && d.Modifiers.Any(SyntaxKind.PartialKeyword));

    /// <summary><c>partial class Name&lt;T&gt;</c>, <c>partial record Name</c>, ... (no accessibility: the other parts have it).</summary>
    private static string Header(INamedTypeSymbol type)
    {
        string keyword = type.IsRecord ? (type.IsValueType ? "record struct" : "record")
            : type.TypeKind == TypeKind.Struct ? "struct" : type.TypeKind == TypeKind.Interface ? "interface" : "class";
        string parameters = type.TypeParameters.Length == 0 ? "" : "<" + string.Join(", ", type.TypeParameters.Select(p => Naming.Identifier(p.Name))) + ">";
        return $"partial {keyword} {Naming.Identifier(type.Name)}{parameters}";
    }
}

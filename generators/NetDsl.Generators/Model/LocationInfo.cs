using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace NetDsl.Generators.Model;

/// <summary>A source location as plain data (file, span, line span), so models never hold a <see cref="Location"/>.</summary>
public sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(Location? location)
    {
        if (location is null || location.SourceTree is null)
        {
            return null;
        }

        return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }

    public static LocationInfo? From(SyntaxNode? node) => node is null ? null : From(node.GetLocation());
}

/// <summary>A diagnostic as plain data: the descriptor id, its message arguments and where it goes.</summary>
public sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params object[] arguments)
        => new(descriptor.Id, location, System.Linq.Enumerable.Select(arguments, a => a?.ToString() ?? string.Empty).ToEquatableArray());
}

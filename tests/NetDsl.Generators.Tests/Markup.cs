using System.Text;
using Microsoft.CodeAnalysis.Text;

namespace NetDsl.Generators.Tests;

/// <summary>A span marked in test source: <c>{|NDSL0003:text|}</c> (with the expected id) or <c>[|text|]</c> (id given elsewhere).</summary>
public sealed record MarkedSpan(string? Id, TextSpan Span);

/// <summary>
/// Strips span markers from test source. <c>{|ID:text|}</c> marks where diagnostic ID must be reported,
/// <c>[|text|]</c> marks a span without an id. Markers may not nest.
/// </summary>
public static class Markup
{
    public static (string Source, IReadOnlyList<MarkedSpan> Spans) Parse(string markup)
    {
        var text = new StringBuilder(markup.Length);
        var spans = new List<MarkedSpan>();
        string? openId = null;
        int openStart = -1;
        char closer = '\0';
        for (int i = 0; i < markup.Length; i++)
        {
            if (openStart < 0 && i + 1 < markup.Length && markup[i] == '{' && markup[i + 1] == '|')
            {
                int colon = markup.IndexOf(':', i + 2);
                if (colon < 0)
                {
                    throw new FormatException($"'{{|' at {i} has no ':' after the id.");
                }

                openId = markup.Substring(i + 2, colon - i - 2);
                openStart = text.Length;
                closer = '}';
                i = colon;
                continue;
            }

            if (openStart < 0 && i + 1 < markup.Length && markup[i] == '[' && markup[i + 1] == '|')
            {
                openId = null;
                openStart = text.Length;
                closer = ']';
                i++;
                continue;
            }

            if (openStart >= 0 && i + 1 < markup.Length && markup[i] == '|' && markup[i + 1] == closer)
            {
                spans.Add(new MarkedSpan(openId, TextSpan.FromBounds(openStart, text.Length)));
                openStart = -1;
                i++;
                continue;
            }

            text.Append(markup[i]);
        }

        if (openStart >= 0)
        {
            throw new FormatException("An opened span marker is never closed.");
        }

        return (text.ToString(), spans);
    }
}

using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace NetDsl.Generators.Tests;

/// <summary>What one reported diagnostic must look like, besides its id and span (which come from the markup).</summary>
/// <param name="Id">The diagnostic id; the marker's id must agree when it has one.</param>
/// <param name="MessageFragments">Texts the formatted message must contain (the bad value, the names involved).</param>
public sealed record Expected(string Id, params string[] MessageFragments);

public static class DiagnosticAssert
{
    /// <summary>
    /// Runs the generator on <paramref name="markup"/> and asserts that it reports exactly the marked diagnostics:
    /// same ids, same file, same span and line/column span, error severity, message containing the fragments.
    /// Markers: <c>{|NDSL0003:text|}</c> (several ids separated by commas when diagnostics share a span) or
    /// <c>[|text|]</c>. <paramref name="expected"/> lists the diagnostics in marker order (ids in the order written).
    /// </summary>
    public static GeneratorRun Verify(string markup, params Expected[] expected)
    {
        var (source, spans) = Markup.Parse(markup);
        var expectations = new List<(string Id, TextSpan Span)>();
        foreach (var span in spans)
        {
            foreach (var id in (span.Id ?? "").Split(','))
            {
                expectations.Add((id.Trim(), span.Span));
            }
        }

        Assert.True(expectations.Count == expected.Length,
            $"test bug: {expectations.Count} marked diagnostics but {expected.Length} expectations");
        var joined = expectations.Zip(expected, (m, e) =>
        {
            Assert.True(m.Id.Length == 0 || m.Id == e.Id, $"test bug: marker id {m.Id} but expectation {e.Id}");
            return (Expected: e, m.Span);
        }).OrderBy(x => x.Span.Start).ThenBy(x => x.Expected.Id, StringComparer.Ordinal).ToList();

        var run = GeneratorHarness.Run(source);
        GeneratorHarness.AssertGeneratorHealthy(run);
        var text = SourceText.From(source);
        var actual = run.GeneratorDiagnostics
            .OrderBy(d => d.Location.SourceSpan.Start).ThenBy(d => d.Id, StringComparer.Ordinal).ToList();

        string Listing() =>
            "expected:\n" + string.Join("\n", joined.Select(j => $"  {j.Expected.Id} at {Format(text, j.Span)} '{source.Substring(j.Span.Start, j.Span.Length)}'")) +
            "\nactual:\n" + string.Join("\n", actual.Select(d => $"  {d.Id} at {Format(text, d.Location.SourceSpan)} '{Covered(source, d.Location.SourceSpan)}': {d.GetMessage()}"));

        Assert.True(actual.Count == joined.Count, $"wrong number of diagnostics.\n{Listing()}");
        for (int i = 0; i < joined.Count; i++)
        {
            var (e, span) = joined[i];
            var d = actual[i];
            Assert.True(d.Id == e.Id, $"diagnostic {i}: id {d.Id}, expected {e.Id}.\n{Listing()}");
            Assert.Equal(DiagnosticSeverity.Error, d.Severity);
            Assert.True(d.Location.IsInSource || d.Location.Kind == LocationKind.ExternalFile, $"{d.Id} has no source location: {d.Location.Kind}");
            var lineSpan = d.Location.GetLineSpan();
            Assert.Equal(GeneratorHarness.DefaultPath, lineSpan.Path);
            Assert.True(d.Location.SourceSpan == span,
                $"{d.Id} is at {Format(text, d.Location.SourceSpan)} '{Covered(source, d.Location.SourceSpan)}', expected {Format(text, span)} '{source.Substring(span.Start, span.Length)}'.\n{Listing()}");
            Assert.Equal(text.Lines.GetLinePositionSpan(span), lineSpan.Span);
            string message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
            foreach (var fragment in e.MessageFragments)
            {
                Assert.True(message.Contains(fragment, StringComparison.Ordinal), $"{d.Id} message \"{message}\" does not contain \"{fragment}\"");
            }

            Assert.False(System.Text.RegularExpressions.Regex.IsMatch(message, @"\{\d+\}"), $"{d.Id} message has an unfilled placeholder: {message}");
        }

        AssertNoCascade(run);
        return run;
    }

    /// <summary>
    /// One mistake, one error: the compilation with the generated code (a stub when the declaration has errors) has no
    /// error the user's code did not already have on its own, and none of C#'s "partial property must have an
    /// implementation part" (CS9248) is left, except where C# itself says the class cannot take a generated part.
    /// </summary>
    public static void AssertNoCascade(GeneratorRun run)
    {
        static string Key(Diagnostic d) => d.Id + " " + d.Location.GetLineSpan();
        var before = run.InputCompilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        bool cannotHostAPart = before.Any(d => CannotHostAPart.Contains(d.Id));
        var allowed = new HashSet<string>(before.Where(d => d.Id != "CS9248" || cannotHostAPart).Select(Key));
        var added = run.OutputDiagnostics
            .Where(d => d.Severity == DiagnosticSeverity.Error && !d.Id.StartsWith("NDSL", StringComparison.Ordinal) && !allowed.Contains(Key(d)))
            .ToList();
        Assert.True(added.Count == 0, "errors besides the NDSL ones (a cascade):\n" + GeneratorRun.Describe(added)
            + "\ngenerated:\n" + string.Join("\n", run.GeneratedSources.Select(s => "// " + s.HintName + "\n" + s.Text)));
    }

    /// <summary>C#'s own errors on a class no generated part can complete (then its CS9248 stay, from C#, not NetDsl).</summary>
    private static readonly HashSet<string> CannotHostAPart = new(StringComparer.Ordinal)
    {
        "CS0751", // a partial member in a non-partial type (NDSL0001)
    };

    private static string Format(SourceText text, TextSpan span)
    {
        var s = text.Lines.GetLinePositionSpan(span);
        return $"({s.Start.Line + 1},{s.Start.Character + 1})-({s.End.Line + 1},{s.End.Character + 1})";
    }

    private static string Covered(string source, TextSpan span)
        => span.End <= source.Length ? source.Substring(span.Start, span.Length) : "<outside the source>";
}

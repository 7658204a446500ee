using System.Runtime.CompilerServices;

namespace NetDsl.Generators.Tests;

/// <summary>
/// Snapshot comparison against checked-in baseline files, <c>Baselines/&lt;name&gt;.g.cs.txt</c>. Baselines are read
/// from the test output directory (the project copies them there), so a fresh clone works with no source path.
/// They are only ever written with the explicit opt-in <c>NETDSL_UPDATE_BASELINES=1</c>, which writes them into the
/// source tree and still fails the test, so a run can never accept new output silently.
/// </summary>
public static class Baseline
{
    public const string UpdateVariable = "NETDSL_UPDATE_BASELINES";

    public const string RegenerateCommand =
        "NETDSL_UPDATE_BASELINES=1 dotnet test tests/NetDsl.Generators.Tests -c Release  (then review the diff of tests/NetDsl.Generators.Tests/Baselines and re-run without the variable)";

    public static bool UpdateRequested => Environment.GetEnvironmentVariable(UpdateVariable) == "1";

    public static string Normalize(string text) => text.Replace("\r\n", "\n").Replace('\r', '\n');

    public static void AssertMatches(string name, string actual, [CallerFilePath] string callerFile = "")
    {
        string fileName = name + ".g.cs.txt";
        actual = Normalize(actual);
        string outputPath = Path.Combine(AppContext.BaseDirectory, "Baselines", fileName);
        string? expected = File.Exists(outputPath) ? Normalize(File.ReadAllText(outputPath)) : null;

        if (UpdateRequested)
        {
            string directory = Path.Combine(SourceDirectory(callerFile), "Baselines");
            Directory.CreateDirectory(directory);
            string sourcePath = Path.Combine(directory, fileName);
            string? current = File.Exists(sourcePath) ? Normalize(File.ReadAllText(sourcePath)) : null;
            if (current != actual)
            {
                File.WriteAllText(sourcePath, actual);
            }

            Assert.Fail($"baseline updated; re-run without {UpdateVariable} to verify. ({sourcePath}{(current == actual ? ", content unchanged" : "")})");
        }

        if (expected is null)
        {
            Assert.Fail($"The baseline Baselines/{fileName} is missing. To create it, run:\n  {RegenerateCommand}");
        }

        if (expected != actual)
        {
            Assert.Fail($"The generated code differs from Baselines/{fileName}.\n{FirstDifference(expected, actual)}\nIf the change is intended, regenerate the baselines:\n  {RegenerateCommand}");
        }
    }

    /// <summary>A short diff: the first differing line, with one line of context before it.</summary>
    public static string FirstDifference(string expected, string actual)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        for (int i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            string? el = i < e.Length ? e[i] : null;
            string? al = i < a.Length ? a[i] : null;
            if (el != al)
            {
                string context = i > 0 && i - 1 < e.Length ? $"   {i,4}: {e[i - 1]}\n" : "";
                return $"First difference at line {i + 1} (baseline has {e.Length} lines, generated {a.Length}):\n{context}" +
                       $" - {i + 1,4}: {el ?? "<end of file>"}\n + {i + 1,4}: {al ?? "<end of file>"}";
            }
        }

        return "(no line differs)";
    }

    /// <summary>
    /// The test project's source directory: where the caller's file is when that path exists here, otherwise found
    /// by walking up from the output directory (deterministic CI builds map source paths to /_/).
    /// </summary>
    private static string SourceDirectory(string callerFile)
    {
        string? fromCaller = Path.GetDirectoryName(callerFile);
        if (fromCaller is not null && File.Exists(Path.Combine(fromCaller, "NetDsl.Generators.Tests.csproj")))
        {
            return fromCaller;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NetDsl.Generators.Tests.csproj")))
            {
                return dir.FullName;
            }

            string nested = Path.Combine(dir.FullName, "tests", "NetDsl.Generators.Tests");
            if (File.Exists(Path.Combine(nested, "NetDsl.Generators.Tests.csproj")))
            {
                return nested;
            }
        }

        throw new InvalidOperationException($"Cannot find the source directory of NetDsl.Generators.Tests (caller file '{callerFile}').");
    }
}

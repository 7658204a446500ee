using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Packaging.Tests;

/// <summary>
/// NetDsl the way users meet it: packed, then referenced by version from a fresh project outside the repository
/// (no project references, none of the repository's build settings), built with every warning an error, run, and
/// published as a Native-AOT binary that runs too.
/// </summary>
[Collection(PackagesCollection.Name)]
public sealed partial class PackagingTests(PackagesFixture packages, ITestOutputHelper output)
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(10);

    [Fact]
    public void Packages_hold_the_generator_the_build_settings_and_complete_metadata()
    {
        using (var netdsl = Open("NetDsl"))
        {
            var names = netdsl.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains("lib/net10.0/NetDsl.dll", names);
            Assert.Contains("lib/net10.0/NetDsl.xml", names);
            Assert.Contains("analyzers/dotnet/cs/NetDsl.Generators.dll", names);
            Assert.Contains("build/NetDsl.targets", names);
            Assert.Contains("buildTransitive/NetDsl.targets", names);
            Assert.Contains("README.md", names);
            Assert.DoesNotContain(names, n => n.StartsWith("lib/", StringComparison.Ordinal) && n.Contains("Generators", StringComparison.Ordinal));

            // The generator runs inside the compiler, which provides netstandard and Roslyn and nothing else: a reference to
            // any other assembly would load in the repository (where the build puts it next to the generator) but not from
            // the package, the classic failure.
            using var generator = new MemoryStream();
            using (var entry = netdsl.GetEntry("analyzers/dotnet/cs/NetDsl.Generators.dll")!.Open())
            {
                entry.CopyTo(generator);
            }

            generator.Position = 0;
            using var pe = new PEReader(generator);
            var metadata = pe.GetMetadataReader();
            string[] references = [.. metadata.AssemblyReferences.Select(h => metadata.GetString(metadata.GetAssemblyReference(h).Name))];
            output.WriteLine($"generator references: {string.Join(", ", references)}");
            Assert.All(references, r => Assert.True(r is "netstandard" || r.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal)
                || r.StartsWith("System.Collections.Immutable", StringComparison.Ordinal), $"the generator references {r}, which the compiler does not provide"));
        }

        foreach (string id in new[] { "NetDsl", "NetDsl.Datasets", "NetDsl.Gpu" })
        {
            XElement nuspec = Nuspec(id);
            XNamespace ns = nuspec.Name.Namespace;
            XElement meta = nuspec.Element(ns + "metadata")!;
            Assert.Equal(id, meta.Element(ns + "id")!.Value);
            Assert.Equal(packages.Version, meta.Element(ns + "version")!.Value);
            Assert.False(string.IsNullOrWhiteSpace(meta.Element(ns + "description")?.Value), $"{id} has no description");
            Assert.False(string.IsNullOrWhiteSpace(meta.Element(ns + "authors")?.Value), $"{id} has no authors");
            Assert.Equal("MIT", meta.Element(ns + "license")?.Value);
            Assert.Equal("expression", meta.Element(ns + "license")?.Attribute("type")?.Value);
            Assert.Equal("README.md", meta.Element(ns + "readme")?.Value);
            XElement repository = meta.Element(ns + "repository") ?? throw new Xunit.Sdk.XunitException($"{id} has no repository element");
            Assert.Equal("git", repository.Attribute("type")?.Value);
            Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? string.Empty);
            Assert.True(File.Exists(Path.Combine(packages.Feed, $"{id}.{packages.Version}.snupkg")), $"{id} has no symbols package");
        }

        Assert.Contains(("NetDsl", packages.Version), Dependencies("NetDsl.Datasets"));
        var gpu = Dependencies("NetDsl.Gpu");
        Assert.Contains(("NetDsl", packages.Version), gpu);
        Assert.Contains(gpu, d => d.Id == "ILGPU");
        Assert.Empty(Dependencies("NetDsl")); // the generator is inside the package, not a dependency
    }

    [Fact]
    public void A_fresh_project_builds_with_warnings_as_errors_trains_and_predicts()
    {
        string project = packages.CreateConsumer("Consumer");
        var (code, log) = Tool.Run("dotnet", "build -c Release", project, Long);
        Assert.True(code == 0, $"build failed:\n{log}");
        Assert.DoesNotMatch(WarningLine(), log);

        (code, log) = Tool.Run("dotnet", "run -c Release --no-build", project, Long);
        Assert.True(code == 0, $"run failed:\n{log}");
        CheckTraining(log);
    }

    [Fact]
    public void The_fresh_project_publishes_as_a_Native_AOT_binary_without_warnings_that_runs()
    {
        string project = packages.CreateConsumer("AotConsumer");
        var (code, log) = Tool.Run("dotnet", "publish -c Release -r linux-x64 -o out", project, Long);
        Assert.True(code == 0, $"publish failed:\n{log}");
        Assert.DoesNotMatch(WarningLine(), log);
        string binary = Path.Combine(project, "out", "AotConsumer");
        Assert.True(File.Exists(binary), $"no native binary at {binary}:\n{log}");
        Assert.False(File.Exists(Path.Combine(project, "out", "AotConsumer.dll")), "the publish produced IL, not a native binary");
        output.WriteLine($"AOT binary: {new FileInfo(binary).Length / 1e6:F1} MB");

        (code, log) = Tool.Run(binary, string.Empty, project, Long);
        Assert.True(code == 0, $"the AOT binary failed:\n{log}");
        CheckTraining(log);

        // The package's build settings chose an instruction set with AVX2 (without one the AOT compiler targets SSE and
        // the kernels run without vectors); this machine and CI's have AVX2.
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
        {
            Assert.Contains("vector256=True", log);
        }
    }

    /// <summary>
    /// The consumer's line: 40 Adam steps on 64 digits each must lower the loss and classify the held-out digits far
    /// above chance (0.1; the same network reaches ~0.9 here), with finite numbers.
    /// </summary>
    private void CheckTraining(string log)
    {
        output.WriteLine(log.Trim());
        Match m = ResultLine().Match(log);
        Assert.True(m.Success, $"no result line in:\n{log}");
        double first = double.Parse(m.Groups["first"].Value, System.Globalization.CultureInfo.InvariantCulture);
        double last = double.Parse(m.Groups["last"].Value, System.Globalization.CultureInfo.InvariantCulture);
        double accuracy = double.Parse(m.Groups["accuracy"].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(double.IsFinite(first) && double.IsFinite(last), log);
        Assert.True(last < first * 0.7, $"the loss did not fall: {first} -> {last}");
        Assert.InRange(accuracy, 0.6, 1.0);
    }

    private ZipArchive Open(string id) => ZipFile.OpenRead(Path.Combine(packages.Feed, $"{id}.{packages.Version}.nupkg"));

    private XElement Nuspec(string id)
    {
        using var zip = Open(id);
        using var stream = zip.GetEntry($"{id}.nuspec")!.Open();
        return XElement.Load(stream);
    }

    private List<(string Id, string Version)> Dependencies(string id)
    {
        XElement nuspec = Nuspec(id);
        XNamespace ns = nuspec.Name.Namespace;
        return [.. nuspec.Descendants(ns + "dependency").Select(d => (d.Attribute("id")!.Value, d.Attribute("version")!.Value))];
    }

    [GeneratedRegex(@"loss_first=(?<first>\S+) loss_last=(?<last>\S+) accuracy=(?<accuracy>\S+)")]
    private static partial Regex ResultLine();

    /// <summary>A compiler, analyzer, trimming or AOT warning line (<c>warning CS8618</c>, <c>warning IL2026</c>, ...).</summary>
    [GeneratedRegex(@"(?i)\bwarning [A-Z]+[0-9]+")]
    internal static partial Regex WarningLine();
}

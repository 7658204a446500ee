using System.Reflection;
using Xunit;

namespace NetDsl.Packaging.Tests;

/// <summary>
/// Packs NetDsl, NetDsl.Datasets and NetDsl.Gpu once, as a release would (<c>dotnet pack -c Release</c>), into a
/// temporary local feed. The build goes to its own artifacts folder, so it never touches the repository's bin/obj
/// (other test assemblies run from them meanwhile). The version is unique per run: NuGet caches a package by id and
/// version in the global packages folder, so a reused version would silently test an older build; the fixture removes
/// its versions from that folder when it is done.
/// </summary>
public sealed class PackagesFixture : IDisposable
{
    public static readonly string[] PackedProjects =
        ["src/NetDsl/NetDsl.csproj", "src/NetDsl.Datasets/NetDsl.Datasets.csproj", "src/NetDsl.Gpu/NetDsl.Gpu.csproj", "templates/NetDsl.Templates/NetDsl.Templates.csproj"];

    public PackagesFixture()
    {
        RepositoryRoot = typeof(PackagesFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "RepositoryRoot").Value!;
        Root = Directory.CreateTempSubdirectory("netdsl-packaging-").FullName;
        Feed = Path.Combine(Root, "feed");
        Version = $"0.1.0-pkgtest.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var log = new System.Text.StringBuilder();
        foreach (string project in PackedProjects)
        {
            var (code, output) = Tool.Run("dotnet",
                $"pack \"{Path.Combine(RepositoryRoot, project)}\" -c Release -o \"{Feed}\" --artifacts-path \"{Path.Combine(Root, "artifacts")}\" -p:Version={Version}",
                RepositoryRoot, TimeSpan.FromMinutes(10));
            log.AppendLine(output);
            if (code != 0)
            {
                throw new InvalidOperationException($"dotnet pack {project} failed ({code}):\n{output}");
            }
        }

        PackLog = log.ToString();
    }

    /// <summary>The repository's root folder.</summary>
    public string RepositoryRoot { get; }

    /// <summary>The temporary folder holding the feed, the artifacts and the consumer projects.</summary>
    public string Root { get; }

    /// <summary>The local feed with the packed .nupkg and .snupkg files.</summary>
    public string Feed { get; }

    /// <summary>The version every package was packed with.</summary>
    public string Version { get; }

    /// <summary>What the pack commands printed.</summary>
    public string PackLog { get; }

    /// <summary>Where NuGet extracts packages for this user.</summary>
    public static string GlobalPackages => Environment.GetEnvironmentVariable("NUGET_PACKAGES")
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>
    /// A fresh consumer folder outside the repository: the Consumer sources, the project file with this run's version,
    /// and a nuget.config that adds the local feed to the user's own sources (this run's version exists nowhere else).
    /// </summary>
    public string CreateConsumer(string name)
    {
        string dir = Path.Combine(Root, name);
        Directory.CreateDirectory(dir);
        string source = Path.Combine(AppContext.BaseDirectory, "Consumer");
        File.Copy(Path.Combine(source, "Program.cs"), Path.Combine(dir, "Program.cs"));
        File.WriteAllText(Path.Combine(dir, $"{name}.csproj"),
            File.ReadAllText(Path.Combine(source, "Consumer.csproj.txt")).Replace("$NETDSL_VERSION$", Version));
        WriteNuGetConfig(dir);
        return dir;
    }

    /// <summary>A nuget.config that adds the local feed to the user's own sources (this run's version exists nowhere else).</summary>
    public void WriteNuGetConfig(string dir)
    {
        File.WriteAllText(Path.Combine(dir, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="netdsl-local" value="{Feed}" />
              </packageSources>
            </configuration>
            """);
    }

    public void Dispose()
    {
        foreach (string id in new[] { "netdsl", "netdsl.datasets", "netdsl.gpu", "netdsl.templates" })
        {
            string cached = Path.Combine(GlobalPackages, id, Version);
            if (Directory.Exists(cached))
            {
                Directory.Delete(cached, recursive: true);
            }
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is harmless.
        }
    }
}

/// <summary>The tests that share one packing of the packages (xunit runs a collection's classes one after another).</summary>
[CollectionDefinition(Name)]
public sealed class PackagesCollection : ICollectionFixture<PackagesFixture>
{
    public const string Name = "Packed NetDsl";
}

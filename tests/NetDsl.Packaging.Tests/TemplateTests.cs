using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Packaging.Tests;

/// <summary>
/// <c>dotnet new netdsl-trainer</c> from the packed NetDsl.Templates (installed into a private template hive, so the
/// user's own template list is untouched): the scaffolded trainer builds with every warning an error against the
/// packed NetDsl, trains on the embedded digits and reports as documented, under the JIT and as a Native-AOT binary.
/// </summary>
[Collection(PackagesCollection.Name)]
public sealed class TemplateTests(PackagesFixture packages, ITestOutputHelper output)
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(10);

    [Fact]
    public void The_trainer_template_builds_trains_reports_and_publishes_as_Native_AOT()
    {
        string hive = Path.Combine(packages.Root, "template-hive");
        string nupkg = Path.Combine(packages.Feed, $"NetDsl.Templates.{packages.Version}.nupkg");
        var (code, log) = Tool.Run("dotnet", $"new install \"{nupkg}\" --debug:custom-hive \"{hive}\"", packages.Root, Long);
        Assert.True(code == 0, $"dotnet new install failed:\n{log}");

        string project = Path.Combine(packages.Root, "MyTrainer");
        (code, log) = Tool.Run("dotnet", $"new netdsl-trainer -o \"{project}\" --debug:custom-hive \"{hive}\"", packages.Root, Long);
        Assert.True(code == 0, $"dotnet new netdsl-trainer failed:\n{log}");
        Assert.True(File.Exists(Path.Combine(project, "MyTrainer.csproj")), "the project is not named after the output folder");
        Assert.DoesNotContain(Directory.EnumerateFiles(project, "*.cs"), f => File.ReadAllText(f).Contains("namespace NetDslTrainer", StringComparison.Ordinal));
        packages.WriteNuGetConfig(project);

        (code, log) = Tool.Run("dotnet", "build -c Release", project, Long);
        Assert.True(code == 0, $"build failed:\n{log}");
        Assert.DoesNotMatch(PackagingTests.WarningLine(), log);
        string dll = Path.Combine(project, "bin", "Release", "net10.0", "MyTrainer.dll");
        CheckReport(Tool.Run("dotnet", $"\"{dll}\" --epochs 1 --limit 2000 --json --quiet", project, Long));

        // The documented exit codes: usage errors 2, data errors 3 (naming the file).
        (code, log) = Tool.Run("dotnet", $"\"{dll}\" --no-such-option", project, Long);
        Assert.True(code == 2, $"an unknown option exited {code}:\n{log}");
        string missing = Path.Combine(project, "no-such-images.idx");
        (code, log) = Tool.Run("dotnet", $"\"{dll}\" --train-images \"{missing}\" --train-labels \"{missing}\" --quiet", project, Long);
        Assert.True(code == 3, $"a missing data file exited {code}:\n{log}");
        Assert.Contains("no-such-images.idx", log);

        (code, log) = Tool.Run("dotnet", "publish -c Release -r linux-x64 -o out", project, Long);
        Assert.True(code == 0, $"publish failed:\n{log}");
        Assert.DoesNotMatch(PackagingTests.WarningLine(), log);
        string binary = Path.Combine(project, "out", "MyTrainer");
        Assert.True(File.Exists(binary), $"no native binary:\n{log}");
        output.WriteLine($"AOT trainer: {new FileInfo(binary).Length / 1e6:F1} MB");
        CheckReport(Tool.Run(binary, "--epochs 1 --limit 2000 --json --quiet", project, Long));
    }

    /// <summary>
    /// One epoch on 2,000 digits: the last stdout line is JSON with test_accuracy far above chance (0.1; this CNN reaches
    /// ~0.9 on these settings).
    /// </summary>
    private void CheckReport((int Code, string Log) run)
    {
        output.WriteLine(run.Log.Trim());
        Assert.True(run.Code == 0, $"the trainer exited {run.Code}:\n{run.Log}");
        string last = run.Log.Trim().Split('\n')[^1];
        using var report = JsonDocument.Parse(last);
        double accuracy = report.RootElement.GetProperty("test_accuracy").GetDouble();
        Assert.InRange(accuracy, 0.6, 1.0);
    }
}

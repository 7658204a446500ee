using System.Text.Json;

[assembly: CollectionBehavior(DisableTestParallelization = true)] // the tests time processes on few cores

namespace NetDsl.Trainer.Tests;

/// <summary>The trainer's options: --help, argument errors (exit 2 with the usage), --json.</summary>
public sealed class CommandLineTests
{
    internal static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    [Fact]
    public void Help_ListsEveryOption_AndExitsZero()
    {
        using var run = TrainerProcess.Run(Timeout, "--help");
        Assert.True(run.ExitCode == 0, run.Describe());
        foreach (string option in new[]
        {
            "--epochs", "--batch-size", "--optimizer", "--learning-rate", "--seed", "--threads", "--train-images", "--train-labels",
            "--test-images", "--test-labels", "--validation-split", "--checkpoint-dir", "--checkpoint-every", "--keep", "--resume",
            "--json", "--quiet", "--save-weights", "--limit",
        })
        {
            Assert.Contains(option, run.Stdout, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("--test-write-delay-ms", run.Stdout, StringComparison.Ordinal); // hidden
    }

    [Theory]
    [InlineData("Unrecognized command or argument '--bogus'", "--bogus")]
    [InlineData("--epochs must be at least 1", "--epochs", "0")]
    [InlineData("Cannot parse argument 'many' for option '--epochs'", "--epochs", "many")]
    [InlineData("Argument 'lbfgs' not recognized", "--optimizer", "lbfgs")]
    [InlineData("--validation-split must be in [0, 1)", "--validation-split", "1.5")]
    [InlineData("--learning-rate -1", "--learning-rate", "-1")]
    [InlineData("--resume needs --checkpoint-dir", "--resume")]
    [InlineData("--train-images and --train-labels go together", "--train-images", "a.idx")]
    [InlineData("--keep must be at least 1", "--keep", "0")]
    public void ArgumentError_PrintsTheErrorAndTheUsage_AndExitsTwo(string message, params string[] args)
    {
        using var run = TrainerProcess.Run(Timeout, args);
        Assert.True(run.ExitCode == 2, run.Describe());
        Assert.Contains("error: " + message, run.Stderr, StringComparison.Ordinal);
        Assert.Contains("Usage:", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("--checkpoint-dir", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public void Json_PrintsOneParseableLine_WithTheResults()
    {
        using var run = TrainerProcess.Run(Timeout, "--epochs", "1", "--limit", "1280", "--threads", "2", "--json");
        Assert.True(run.ExitCode == 0, run.Describe());
        string[] lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        using var json = JsonDocument.Parse(lines[0]);
        var root = json.RootElement;
        double accuracy = root.GetProperty("test_accuracy").GetDouble();
        Assert.InRange(accuracy, 0.3, 1.0); // 20 steps of a CNN on real digits already beat chance (0.1)
        Assert.Equal(1, root.GetProperty("epochs").GetInt32());
        Assert.Equal(20, root.GetProperty("steps").GetInt64());
        Assert.True(root.GetProperty("train_seconds").GetDouble() > 0);
        Assert.True(root.GetProperty("images_per_s").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("resumed_from_step").ValueKind);
        Assert.Contains("Epoch 1/1", run.Stderr, StringComparison.Ordinal); // the progress goes to stderr with --json
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Xunit.Abstractions;

namespace NetDsl.Trainer.Tests;

/// <summary>The weights of an uninterrupted run with <see cref="CrashResumeTests.Settings"/>, computed once.</summary>
public sealed class ReferenceRun : IDisposable
{
    private readonly TempDirectory _temp = new();

    public ReferenceRun()
    {
        using var run = TrainerProcess.Run(CommandLineTests.Timeout, [.. CrashResumeTests.Settings, "--save-weights", _temp["reference.safetensors"], "--json"]);
        Assert.True(run.ExitCode == 0, run.Describe());
        Weights = File.ReadAllBytes(_temp["reference.safetensors"]);
        using var json = JsonDocument.Parse(run.Stdout);
        Steps = json.RootElement.GetProperty("steps").GetInt64();
        Seconds = json.RootElement.GetProperty("train_seconds").GetDouble();
    }

    /// <summary>The final weights file (safetensors), byte for byte.</summary>
    public byte[] Weights { get; }

    /// <summary>The steps of the whole run.</summary>
    public long Steps { get; }

    /// <summary>Its training time (for the record).</summary>
    public double Seconds { get; }

    public void Dispose() => _temp.Dispose();
}

/// <summary>
/// The trainer survives crashes: killed (SIGKILL) at random moments, during checkpoint writes among them, and resumed
/// with --resume each time, it ends with exactly the weights of an uninterrupted run; SIGINT and SIGTERM stop it after
/// the step in progress with a checkpoint (exit 130 / 143), and the resumed run ends with the same weights too.
/// </summary>
public sealed class CrashResumeTests(ReferenceRun reference, ITestOutputHelper output) : IClassFixture<ReferenceRun>
{
    /// <summary>2 epochs of 1,800 digits (2,000 less a 10% validation split, evaluated after each epoch), batch 64: 29 steps an epoch, 58 in all; dropout and Adam's two state slots.</summary>
    internal static readonly string[] Settings =
        ["--epochs", "2", "--limit", "2000", "--validation-split", "0.1", "--batch-size", "64", "--threads", "2", "--seed", "7", "--quiet"];

    /// <summary>Checkpoint every 3 steps, keep 3.</summary>
    private static readonly string[] Checkpointing = ["--checkpoint-every", "3", "--keep", "3"];

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void KilledAtRandomMoments_AndResumed_EndsWithTheUninterruptedWeights_BitForBit()
    {
        const int Kills = 24;
        using var temp = new TempDirectory();
        string directory = temp["ckpt"], weights = temp["final.safetensors"];
        // The checkpoint writes pause half-way (hidden --test-write-delay-ms) so that kills land inside them too.
        string[] args = [.. Settings, .. Checkpointing, "--checkpoint-dir", directory, "--resume", "--save-weights", weights, "--test-write-delay-ms", "25"];
        int seed = Environment.GetEnvironmentVariable("NETDSL_TRAINER_KILL_SEED") is { } text ? int.Parse(text, CultureInfo.InvariantCulture) : Random.Shared.Next();
        var random = new Random(seed);
        output.WriteLine($"kill schedule seed {seed} (NETDSL_TRAINER_KILL_SEED={seed} repeats it); {reference.Steps} steps, reference trained in {reference.Seconds:F2} s");
        var clock = Stopwatch.StartNew();
        int kills = 0, duringWrites = 0, finished = 0;
        for (int attempt = 0; kills < Kills; attempt++)
        {
            Assert.True(attempt < 4 * Kills, $"only {kills} kills in {attempt} attempts");
            long newest = NewestStep(directory);
            long remaining = reference.Steps - newest;

            // "write" kills inside the first checkpoint write, which then never completes: no progress. It is chosen
            // more often as the steps left run short of the kills left (about 3 steps a kill otherwise), and always
            // near the end, so that the run cannot finish before every kill is done; once it has (a late kill may
            // let it), kills land anywhere.
            double standStill = Math.Clamp(1 - remaining / (3.0 * (Kills - kills)), 0.15, 1);
            string mode = newest >= reference.Steps ? "time"
                : remaining <= 12 || random.NextDouble() < standStill ? "write"
                : random.Next(3) switch { 0 => "time", 1 => "next-write", _ => "after-checkpoint" };
            using var process = TrainerProcess.Start(args);
            var started = Stopwatch.StartNew();
            bool sawWrite = false;
            string? when = null;
            TimeSpan delay = TimeSpan.FromMilliseconds(random.Next(0, mode == "time" ? 1500 : 60));
            TimeSpan? since = null;
            while (!process.HasExited && started.Elapsed < Timeout)
            {
                bool writing = Directory.Exists(directory) && Directory.EnumerateFiles(directory, $".ckpt-*.tmp-{process.Id}").Any();
                long now = NewestStep(directory);
                bool fire = mode switch
                {
                    "time" => started.Elapsed >= delay || now >= newest + 9, // at a random moment (at most 3 checkpoints on)
                    "write" => writing,                                      // inside the first checkpoint write
                    "next-write" => writing && now > newest,                 // inside the second checkpoint write
                    _ => (since ??= now > newest ? started.Elapsed : null) is { } t && started.Elapsed >= t + delay, // a random moment after a checkpoint
                };
                if (fire)
                {
                    sawWrite = writing;
                    process.Signal(TrainerProcess.SigKill);
                    when = $"{started.Elapsed.TotalMilliseconds:F0} ms";
                    break;
                }

                Thread.Sleep(1);
            }

            process.WaitForExit(Timeout);
            if (when is not null && process.ExitCode == 137)
            {
                kills++;
                duringWrites += sawWrite ? 1 : 0;
                output.WriteLine($"kill {kills,2}: {mode,-16} at {when,7}{(sawWrite ? " (mid-write)" : "")}, newest checkpoint {newest} -> {NewestStep(directory)}");
            }
            else
            {
                // It ended before the kill: only a finished run may do that.
                Assert.True(process.ExitCode == 0, process.Describe());
                finished++;
                output.WriteLine($"run ended by itself (exit 0) before the {mode} kill; newest checkpoint {NewestStep(directory)}");
            }

            Assert.DoesNotContain("error", process.Stderr, StringComparison.OrdinalIgnoreCase);
        }

        using (var last = TrainerProcess.Run(Timeout, [.. args, "--json"]))
        {
            Assert.True(last.ExitCode == 0, last.Describe());
            output.WriteLine($"final run: {last.Stdout.Trim()}");
        }

        output.WriteLine($"{kills} kills ({duringWrites} during checkpoint writes), {finished} runs that ended by themselves, {clock.Elapsed.TotalSeconds:F1} s in all");
        Assert.True(kills >= 20);
        Assert.True(duringWrites >= 3, $"only {duringWrites} kills landed inside a checkpoint write");
        Assert.True(reference.Weights.AsSpan().SequenceEqual(File.ReadAllBytes(weights)), "the resumed run's final weights differ from the uninterrupted run's");
        Assert.Empty(Directory.EnumerateFiles(directory, ".*")); // the temporary files of killed writes are gone
        Assert.InRange(CheckpointTests.CheckpointNames(directory).Length, 1, 3); // --keep 3
    }

    [Theory]
    [InlineData(TrainerProcess.SigInt, 130, "SIGINT")]
    [InlineData(TrainerProcess.SigTerm, 143, "SIGTERM")]
    public void Signal_StopsAfterTheStep_WithACheckpoint_AndTheResumedRunEndsWithTheUninterruptedWeights(int signal, int exitCode, string name)
    {
        using var temp = new TempDirectory();
        string directory = temp["ckpt"];
        string[] args = [.. Settings.Where(a => a != "--quiet"), .. Checkpointing, "--checkpoint-dir", directory, "--resume"];
        long step;
        using (var run = TrainerProcess.Start(args))
        {
            // Signal as soon as the first checkpoint (step 3 of 58) is there: in the middle of training, however fast.
            var clock = Stopwatch.StartNew();
            while (NewestStep(directory) < 0 && !run.HasExited && clock.Elapsed < Timeout)
            {
                Thread.Sleep(1);
            }

            run.Signal(signal);
            run.WaitForExit(Timeout);
            Assert.True(run.ExitCode == exitCode, run.Describe());
            Assert.Contains($"{name}: stopping after the step in progress and writing a checkpoint", run.Stderr, StringComparison.Ordinal);
            var stopped = System.Text.RegularExpressions.Regex.Match(run.Stdout, @"Stopped after step (\d+); the newest checkpoint is (\S+) \(continue with --resume\)");
            Assert.True(stopped.Success, run.Describe());
            step = long.Parse(stopped.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.Equal(Path.Combine(directory, $"ckpt-{step:D10}.safetensors"), stopped.Groups[2].Value);
            output.WriteLine($"{name}: stopped after step {step}");
        }

        Assert.InRange(step, 3, reference.Steps - 1);
        Assert.Equal(step, NewestStep(directory));

        using var resumed = TrainerProcess.Run(Timeout, [.. args, "--save-weights", temp["final.safetensors"], "--json", "--quiet"]);
        Assert.True(resumed.ExitCode == 0, resumed.Describe());
        using (var json = JsonDocument.Parse(resumed.Stdout))
        {
            Assert.Equal(step, json.RootElement.GetProperty("resumed_from_step").GetInt64());
        }

        Assert.True(reference.Weights.AsSpan().SequenceEqual(File.ReadAllBytes(temp["final.safetensors"])), "the resumed run's final weights differ from the uninterrupted run's");
    }

    /// <summary>The step of the newest checkpoint file in <paramref name="directory"/> (by name), -1 for none.</summary>
    private static long NewestStep(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return -1;
        }

        long newest = -1;
        foreach (string path in Directory.EnumerateFiles(directory, "ckpt-*.safetensors"))
        {
            string name = Path.GetFileName(path);
            if (long.TryParse(name.AsSpan(5, name.Length - 5 - ".safetensors".Length), NumberStyles.None, CultureInfo.InvariantCulture, out long step))
            {
                newest = Math.Max(newest, step);
            }
        }

        return newest;
    }
}

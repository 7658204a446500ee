using System.Diagnostics;
using System.Text.Json;

namespace NetDsl.Trainer.Tests;

/// <summary>
/// The checkpoint directory: damaged and foreign files skipped by name and never touched, unwritable and full
/// directories (exit 4, nothing half-written), one trainer per directory, no training over another run's files.
/// </summary>
public sealed class CheckpointTests
{
    /// <summary>10 steps per epoch (640 digits, batch 64), a checkpoint every 2 steps.</summary>
    private static readonly string[] Small = ["--limit", "640", "--batch-size", "64", "--threads", "2", "--checkpoint-every", "2", "--keep", "3", "--seed", "3", "--quiet"];

    [Fact]
    public void DamagedAndForeignCheckpoints_AreSkippedByName_LeftAlone_AndThePreviousOneResumesExactly()
    {
        using var temp = new TempDirectory();
        string directory = temp["ckpt"];
        using (var first = TrainerProcess.Run(CommandLineTests.Timeout, [.. Small, "--epochs", "1", "--checkpoint-dir", directory]))
        {
            Assert.True(first.ExitCode == 0, first.Describe());
        }

        Assert.Equal(["ckpt-0000000006.safetensors", "ckpt-0000000008.safetensors", "ckpt-0000000010.safetensors"], CheckpointNames(directory));

        // The newest is damaged (one bit of its data), a newer file is not a checkpoint at all, and the newest of all
        // is a valid checkpoint of another run (batch size 32: 20 steps per epoch).
        string damaged = Path.Combine(directory, "ckpt-0000000010.safetensors");
        byte[] bytes = File.ReadAllBytes(damaged);
        bytes[^1000] ^= 0x10;
        File.WriteAllBytes(damaged, bytes);
        string garbage = Path.Combine(directory, "ckpt-0000000011.safetensors");
        File.WriteAllText(garbage, "not a checkpoint");
        string otherDirectory = temp["other"];
        using (var other = TrainerProcess.Run(CommandLineTests.Timeout, [.. Small.Select(a => a == "64" ? "32" : a), "--epochs", "1", "--checkpoint-dir", otherDirectory]))
        {
            Assert.True(other.ExitCode == 0, other.Describe());
        }

        string foreign = Path.Combine(directory, "ckpt-0000000020.safetensors");
        File.Copy(Path.Combine(otherDirectory, "ckpt-0000000020.safetensors"), foreign);
        var before = new[] { damaged, garbage, foreign }.ToDictionary(p => p, File.ReadAllBytes);

        using var resumed = TrainerProcess.Run(CommandLineTests.Timeout, [.. Small, "--epochs", "2", "--checkpoint-dir", directory, "--resume", "--json", "--save-weights", temp["resumed.safetensors"]]);
        Assert.True(resumed.ExitCode == 0, resumed.Describe());
        Assert.Contains($"skipping checkpoint '{foreign}': it belongs to another run: trainer.batch_size is '32' there but '64' here", resumed.Stderr, StringComparison.Ordinal);
        Assert.Contains($"skipping checkpoint '{garbage}': it declares a", resumed.Stderr, StringComparison.Ordinal);
        Assert.Contains($"skipping checkpoint '{damaged}': its content does not match its SHA-256 seal", resumed.Stderr, StringComparison.Ordinal);
        using (var json = JsonDocument.Parse(resumed.Stdout))
        {
            Assert.Equal(8, json.RootElement.GetProperty("resumed_from_step").GetInt64());
            Assert.Equal(20, json.RootElement.GetProperty("steps").GetInt64());
        }

        // Steps 10 and 20 are taken by files that are not this run's: not overwritten, with a warning each.
        Assert.Contains($"not writing checkpoint '{damaged}'", resumed.Stderr, StringComparison.Ordinal);
        Assert.Contains($"not writing checkpoint '{foreign}'", resumed.Stderr, StringComparison.Ordinal);
        foreach (var (path, content) in before)
        {
            Assert.True(File.Exists(path), $"{path} was deleted");
            Assert.True(content.AsSpan().SequenceEqual(File.ReadAllBytes(path)), $"{path} was changed");
        }

        // Resumed from step 8 after the skips, the run ends where an uninterrupted one does, bit for bit.
        using var straight = TrainerProcess.Run(CommandLineTests.Timeout, [.. Small, "--epochs", "2", "--save-weights", temp["straight.safetensors"]]);
        Assert.True(straight.ExitCode == 0, straight.Describe());
        Assert.Equal(File.ReadAllBytes(temp["straight.safetensors"]), File.ReadAllBytes(temp["resumed.safetensors"]));
    }

    [Fact]
    public void ExistingCheckpoints_WithoutResume_AreRefused_AndLeftAlone()
    {
        using var temp = new TempDirectory();
        string directory = temp["ckpt"];
        Directory.CreateDirectory(directory);
        string existing = Path.Combine(directory, "ckpt-0000000004.safetensors");
        File.WriteAllText(existing, "someone's checkpoint");
        using var run = TrainerProcess.Run(CommandLineTests.Timeout, [.. Small, "--epochs", "1", "--checkpoint-dir", directory]);
        Assert.True(run.ExitCode == 2, run.Describe());
        Assert.Contains("already holds checkpoints (ckpt-0000000004.safetensors, ...): pass --resume", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("someone's checkpoint", File.ReadAllText(existing));
    }

    [SkippableFact]
    public void ReadOnlyCheckpointDirectory_ExitsFour_NamingIt_BeforeTraining()
    {
        using var temp = new TempDirectory();
        string directory = temp["ckpt"];
        Directory.CreateDirectory(directory);
        string[] args = [.. Small, "--epochs", "1", "--checkpoint-dir", directory];
        TrainerProcess run;
        if (!IsRoot)
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            run = TrainerProcess.Start(args);
        }
        else
        {
            // root writes through permissions: a read-only file system instead (a tmpfs in a private mount namespace).
            Skip.IfNot(Tmpfs.Available, "root, and no unshare to mount a read-only file system");
            run = Tmpfs.Start("ro,size=1m", directory, temp.Path, args);
        }

        using (run)
        {
            run.WaitForExit(CommandLineTests.Timeout);
            Assert.True(run.ExitCode == 4, run.Describe());
            Assert.Contains($"error: Cannot use the checkpoint directory '{directory}': ", run.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Epoch", run.Stderr + run.Stdout, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public void FullDisk_ExitsFour_NamingTheDirectory_LeavesNoPartialFile_AndThePreviousCheckpointResumes()
    {
        Skip.IfNot(Tmpfs.Available, "no unshare to mount a small file system");
        using var temp = new TempDirectory();
        string directory = temp["ckpt"], saved = temp["saved"];
        Directory.CreateDirectory(directory);
        Directory.CreateDirectory(saved);

        // 1,100 KiB: the first checkpoint (about 741 KB with Adam's two state slots) fits, the second does not.
        using (var run = Tmpfs.Start("size=1100k", directory, saved, [.. Small, "--epochs", "1", "--checkpoint-dir", directory]))
        {
            run.WaitForExit(CommandLineTests.Timeout);
            Assert.True(run.ExitCode == 4, run.Describe());
            Assert.Contains($"error: Cannot write checkpoint ckpt-0000000004.safetensors to the directory '{directory}': No space left on device", run.Stderr, StringComparison.Ordinal);
        }

        string[] listing = File.ReadAllLines(Path.Combine(saved, "listing.txt"));
        Assert.Equal([".", "..", "ckpt-0000000002.safetensors", "trainer.lock"], listing); // no temporary file left

        using var resumed = TrainerProcess.Run(CommandLineTests.Timeout, [.. Small, "--epochs", "1", "--checkpoint-dir", saved, "--resume", "--json"]);
        Assert.True(resumed.ExitCode == 0, resumed.Describe());
        using var json = JsonDocument.Parse(resumed.Stdout);
        Assert.Equal(2, json.RootElement.GetProperty("resumed_from_step").GetInt64());
    }

    [Fact]
    public void SecondTrainer_OnTheSameDirectory_ExitsFour()
    {
        using var temp = new TempDirectory();
        string directory = temp["ckpt"];
        using var first = TrainerProcess.Start("--epochs", "50", "--threads", "1", "--checkpoint-dir", directory);
        Assert.True(first.WaitForLine("Training:", CommandLineTests.Timeout), first.Describe());
        using var second = TrainerProcess.Run(CommandLineTests.Timeout, "--epochs", "1", "--checkpoint-dir", directory, "--resume");
        Assert.True(second.ExitCode == 4, second.Describe());
        Assert.Contains($"Cannot use the checkpoint directory '{directory}'", second.Stderr, StringComparison.Ordinal);
        Assert.Contains("used by another process", second.Stderr, StringComparison.Ordinal);
    }

    internal static string[] CheckpointNames(string directory) =>
        [.. Directory.EnumerateFiles(directory, "ckpt-*").Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal)];

    private static bool IsRoot => Environment.UserName == "root";

    /// <summary>Runs the trainer with a tmpfs mounted on its checkpoint directory, in a private mount namespace (unshare).</summary>
    private static class Tmpfs
    {
        private const string Script = """
            mount -t tmpfs -o "$1" tmpfs "$2" || exit 90
            dir=$2; out=$3; shift 3
            "$@"; rc=$?
            ls -a "$dir" > "$out/listing.txt"
            for f in "$dir"/ckpt-*; do [ -e "$f" ] && cp "$f" "$out/"; done
            exit $rc
            """;

        public static bool Available { get; } = Probe();

        /// <summary>Mounts a tmpfs with <paramref name="options"/> on <paramref name="directory"/>, runs the trainer, then lists the directory and copies its checkpoints to <paramref name="saved"/>.</summary>
        public static TrainerProcess Start(string options, string directory, string saved, IEnumerable<string> args) =>
            TrainerProcess.StartProgram("unshare", ["-rm", "sh", "-c", Script, "sh", options, directory, saved, .. TrainerCommand.Line(args)]);

        private static bool Probe()
        {
            try
            {
                using var probe = Process.Start(new ProcessStartInfo("unshare", ["-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"]) { RedirectStandardError = true });
                probe!.WaitForExit();
                return probe.ExitCode == 0;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return false;
            }
        }
    }
}

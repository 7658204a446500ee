using System.Diagnostics;
using System.Reflection;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Distributed.Tests;

/// <summary>
/// Data-parallel training under <c>mpirun</c> on this machine (oversubscribed, loopback): N ranks training shards of
/// each global batch end with identical parameters equal to one process training on the combined batches (the worker
/// checks and states its tolerance), and a rank that dies or hangs stops the job with an error instead of a hang. Skipped where
/// OpenMPI is not installed (Debian: openmpi-bin; .ci/run installs it).
/// </summary>
public sealed class MpiTests(ITestOutputHelper output)
{
    /// <summary>How long a job may take before the test calls it hung: the 12-step job takes ~2 s.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [SkippableTheory]
    [InlineData(2)]
    [InlineData(3)] // unequal shards: 10, 11 and 11 of 32 rows
    [InlineData(4)]
    public void Ranks_end_identical_and_equal_to_one_process_on_the_combined_batches(int ranks)
    {
        var (code, log, _) = Run(ranks, string.Empty);
        Assert.True(code == 0, $"mpirun -np {ranks} exited {code}:\n{log}");
        Assert.Equal(ranks, log.Split('\n').Count(l => l.Contains("ranks_differing=0", StringComparison.Ordinal)));
        Assert.Contains("ok=True", log);
    }

    [SkippableTheory]
    [InlineData(2, 3)]
    [InlineData(4, 2)]
    public void Fit_on_ranks_matches_one_process_and_resumes_from_its_checkpoint_on_another_rank_count(int ranks, int resumeRanks)
    {
        string directory = Directory.CreateTempSubdirectory("netdsl-mpi-fit-").FullName;
        try
        {
            var (code, log, _) = Run(ranks, $"--fit \"{directory}\"");
            Assert.True(code == 0, $"mpirun -np {ranks} --fit exited {code}:\n{log}");
            Assert.Equal(ranks, log.Split('\n').Count(l => l.Contains("ok=True", StringComparison.Ordinal)));
            Assert.True(File.Exists(Path.Combine(directory, "epoch-1.safetensors")), "rank 0 wrote no checkpoint");

            var (resumedCode, resumedLog, _) = Run(resumeRanks, $"--fit-resume \"{directory}\"");
            Assert.True(resumedCode == 0, $"mpirun -np {resumeRanks} --fit-resume exited {resumedCode}:\n{resumedLog}");
            Assert.Equal(resumeRanks, resumedLog.Split('\n').Count(l => l.Contains("initial_epoch=1", StringComparison.Ordinal) && l.Contains("ok=True", StringComparison.Ordinal)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [SkippableFact]
    public void Ranks_that_disagree_on_the_data_all_stop_with_an_error_naming_it()
    {
        string directory = Directory.CreateTempSubdirectory("netdsl-mpi-fit-").FullName;
        try
        {
            var (code, log, elapsed) = Run(2, $"--fit-mismatch \"{directory}\"");
            Assert.NotEqual(0, code);
            Assert.Contains("the ranks disagree on the number of training samples", log);
            Assert.True(elapsed < TimeSpan.FromSeconds(60), $"the job took {elapsed} to stop");
            Assert.DoesNotContain("ok=True", log);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A NaN pixel in one rank's shard: the reduced gradients are NaN everywhere, so every rank skips that step together.</summary>
    [SkippableTheory]
    [InlineData(2)]
    [InlineData(3)]
    public void A_NaN_in_one_shard_makes_every_rank_skip_the_same_step(int ranks)
    {
        var (code, log, _) = Run(ranks, "--nan-at 5");
        Assert.True(code == 0, $"mpirun -np {ranks} exited {code}:\n{log}");
        Assert.Equal(ranks, log.Split('\n').Count(l => l.Contains("ranks_differing=0 skipped=1", StringComparison.Ordinal)));
        Assert.Contains("ok=True", log);
    }

    [SkippableFact]
    public void A_rank_that_dies_stops_the_job_with_an_error_instead_of_hanging()
    {
        var (code, log, elapsed) = Run(2, "--die-at 5");
        Assert.NotEqual(0, code);
        Assert.True(elapsed < TimeSpan.FromSeconds(60), $"the job took {elapsed} to stop");
        Assert.Contains("dying at step 5", log);
        Assert.DoesNotContain("ok=True", log);
    }

    [SkippableFact]
    public void A_rank_that_hangs_makes_the_others_abort_the_job_after_the_timeout()
    {
        var (code, log, elapsed) = Run(2, "--hang-at 5");
        Assert.NotEqual(0, code);
        Assert.Contains("hanging at step 5", log);
        Assert.Contains("did not complete within 5 s; another rank is hung or gone. Aborting the job.", log);
        Assert.True(elapsed > TimeSpan.FromSeconds(5) && elapsed < TimeSpan.FromSeconds(60), $"the job took {elapsed} to stop");
        Assert.DoesNotContain("ok=True", log);
    }

    private (int Code, string Log, TimeSpan Elapsed) Run(int ranks, string arguments)
    {
        string? mpirun = FindOnPath("mpirun");
        Skip.If(mpirun is null, "mpirun is not installed (Debian: openmpi-bin)");
        string worker = typeof(MpiTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "WorkerAssembly").Value!;
        Assert.True(File.Exists(worker), $"the worker is not built: {worker}");
        var start = new ProcessStartInfo(mpirun!, $"--allow-run-as-root --oversubscribe -np {ranks} dotnet \"{worker}\" {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["OMPI_MCA_btl"] = "self,tcp"; // loopback only, no shared-memory transport assumptions
        start.Environment["OMPI_MCA_btl_tcp_if_include"] = "lo";
        start.Environment["OMPI_MCA_oob_tcp_if_include"] = "lo";
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mpirun -np {ranks} {arguments} hung for {Limit}");
        }

        process.WaitForExit();
        string log = stdout.Result + stderr.Result;
        output.WriteLine(log);
        return (process.ExitCode, log, watch.Elapsed);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':')
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}

using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using Perfolizer.Horology;

namespace NetDsl.TorchBenchmarks;

// One BenchmarkDotNet run (scripts/torch-side-by-side.sh: --filter '*' --join) holds every class below: the cases side by
// side on 1 and 2 threads, the scaling with batch size and width on 2 threads, and the FP32 peak. The timed operation
// is Run(): one full training step (forward, loss, backward, update) or one inference forward of one batch.

/// <summary>One workload per benchmark process: built in the global setup, <see cref="Run"/> timed, disposed after.</summary>
public abstract class WorkloadBenchmark
{
    private IWorkload _workload = null!;

    [GlobalSetup]
    public void Setup() => _workload = Create();

    [GlobalCleanup]
    public void Cleanup() => _workload.Dispose();

    [Benchmark]
    public void Run() => _workload.Run();

    /// <summary>The workload of this benchmark's parameters.</summary>
    protected abstract IWorkload Create();
}

/// <summary>The cases of the issue, NetDsl's side (the process as is: NetDsl allocates nothing per step).</summary>
[Config(typeof(Jobs.NetDslConfig))]
public class SideBySideNetDsl : WorkloadBenchmark
{
    [ParamsSource(typeof(Cases), nameof(Cases.SideBySide))]
    public string Case { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    protected override IWorkload Create() => Workloads.NetDsl(Case, Threads);
}

/// <summary>The same cases on LibTorch, with glibc's malloc as it comes and tuned (two jobs).</summary>
[Config(typeof(Jobs.LibTorchConfig))]
public class SideBySideLibTorch : WorkloadBenchmark
{
    [ParamsSource(typeof(Cases), nameof(Cases.SideBySide))]
    public string Case { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    protected override IWorkload Create() => Workloads.LibTorch(Case, Threads);
}

/// <summary>How cost grows, NetDsl: the reference CNN over batch sizes 1..1024, the MLP over widths 128..2048; 2 threads.</summary>
[Config(typeof(Jobs.NetDslConfig))]
public class ScalingNetDsl : WorkloadBenchmark
{
    [ParamsSource(typeof(Cases), nameof(Cases.Scaling))]
    public string Case { get; set; } = "";

    protected override IWorkload Create() => Workloads.NetDsl(Case, 2);
}

/// <summary>The same scaling on LibTorch with the tuned malloc; 2 threads.</summary>
[Config(typeof(Jobs.LibTorchTunedConfig))]
public class ScalingLibTorch : WorkloadBenchmark
{
    [ParamsSource(typeof(Cases), nameof(Cases.Scaling))]
    public string Case { get; set; } = "";

    protected override IWorkload Create() => Workloads.LibTorch(Case, 2);
}

/// <summary>
/// The machine's FP32 ceiling in the same run: tests/NetDsl.Benchmarks' <c>PeakBenchmarks.FmaPeak512</c> (the file is
/// compiled in), 384 MFLOP a call: GFLOP/s = 384 / (ms) for one thread (x 2 for two).
/// </summary>
[Config(typeof(Jobs.NetDslConfig))]
public class Peak : NetDsl.Benchmarks.PeakBenchmarks
{
}

/// <summary>The case names (see <see cref="NetDsl.TorchBenchmarks.Case"/>).</summary>
public static class Cases
{
    /// <summary>The cases: the reference CNN (training batch 128 with Adadelta, inference batch 128 and 1), the MLP 784-512-512-10, the small ResNet on 32x32x3, ResNet-18 at 224x224.</summary>
    public static IEnumerable<string> SideBySide() => Only(
        ["cnn-train-128", "cnn-infer-128", "cnn-infer-1", "mlp512-train-128", "mlp512-infer-128", "resnet-train-128", "resnet-infer-128", "resnet18-infer-1"]);

    /// <summary>Batch 1..1024 (powers of 4) for the CNN's training step and inference; widths 128, 512, 2048 for the MLP's training step at batch 128.</summary>
    public static IEnumerable<string> Scaling() => Only(
        new[] { 1, 4, 16, 64, 256, 1024 }.SelectMany(b => new[] { $"cnn-train-{b}", $"cnn-infer-{b}" })
            .Concat(new[] { 128, 512, 2048 }.Select(w => $"mlp{w}-train-128")));

    /// <summary>NETDSL_TORCH_CASES (comma-separated case names) keeps only those: a quick check of the setup.</summary>
    private static IEnumerable<string> Only(IEnumerable<string> cases)
    {
        string? only = Environment.GetEnvironmentVariable("NETDSL_TORCH_CASES");
        return only is null ? cases : cases.Where(c => only.Split(',').Contains(c));
    }
}

/// <summary>Short jobs (the whole comparison has to fit in ~25 minutes on 2 cores).</summary>
public static class Jobs
{
    /// <summary>glibc malloc tuned for LibTorch: no dynamic mmap threshold (32 MiB, the largest glibc accepts on 64-bit) and no trimming, so the step's large tensors reuse heap pages instead of fresh zeroed mmaps.</summary>
    public const string Tunables = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296";

    private static Job Short(string id, params EnvironmentVariable[] variables) => Job.Default.WithId(id)
        .WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5).WithUnrollFactor(1)
        .WithIterationTime(TimeInterval.FromMilliseconds(250))
        // Every kernel fully optimised from its first call, as in NetDsl.Benchmarks' model-table runs (ResNet-18 has
        // many kernels called once per pass); LibTorch's time is native code either way.
        .WithEnvironmentVariables([new EnvironmentVariable("DOTNET_TieredCompilation", "0"), .. variables]);

    private static ManualConfig Base() => ManualConfig.CreateEmpty()
        .AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default)
        .AddColumn(StatisticColumn.Median)
        // Building the generated project rebuilds NetDsl and its generator without the compiler server: minutes on a busy 2-core machine.
        .WithBuildTimeout(TimeSpan.FromMinutes(15));

    public sealed class NetDslConfig : ManualConfig
    {
        public NetDslConfig() => Add(Base().AddJob(Short("NetDsl")));
    }

    public sealed class LibTorchConfig : ManualConfig
    {
        public LibTorchConfig() => Add(Base().AddJob(Short("LibTorch"), Short("LibTorchTuned", new EnvironmentVariable("GLIBC_TUNABLES", Tunables))));
    }

    public sealed class LibTorchTunedConfig : ManualConfig
    {
        public LibTorchTunedConfig() => Add(Base().AddJob(Short("LibTorchTuned", new EnvironmentVariable("GLIBC_TUNABLES", Tunables))));
    }
}

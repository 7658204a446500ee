using System.Diagnostics;
using BenchmarkDotNet.Running;
using NetDsl.TorchBenchmarks;

// Everything, one BenchmarkDotNet run: scripts/torch-side-by-side.sh (or --filter '*' here).
// A quick in-process check of one case, outside BenchmarkDotNet:
//   dotnet run -c Release --project tests/NetDsl.TorchBenchmarks -- --probe netdsl|libtorch cnn-train-128 2 [steps]
if (args.Length > 0 && args[0] == "--probe")
{
    int threads = int.Parse(args[3]);
    int steps = args.Length > 4 ? int.Parse(args[4]) : 20;
    using IWorkload workload = args[1] == "netdsl" ? Workloads.NetDsl(args[2], threads) : Workloads.LibTorch(args[2], threads);
    for (int i = 0; i < 3; i++)
    {
        workload.Run();
    }

    var watch = Stopwatch.StartNew();
    for (int i = 0; i < steps; i++)
    {
        workload.Run();
    }

    double ms = watch.Elapsed.TotalMilliseconds / steps;
    int batch = Case.Parse(args[2]).Batch;
    Console.WriteLine($"{args[1]} {args[2]} {threads} threads: {ms:F3} ms, {batch * 1000 / ms:F0} images/s (GLIBC_TUNABLES={Environment.GetEnvironmentVariable("GLIBC_TUNABLES")})");
    return;
}

Console.WriteLine("// " + LibStdCxxCompat.EnsurePatched());
BenchmarkSwitcher.FromAssembly(typeof(Workloads).Assembly).Run(args);

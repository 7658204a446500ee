using BenchmarkDotNet.Running;
using NetDsl.Benchmarks;

// Run all:   dotnet run -c Release --project tests/NetDsl.Benchmarks -- --filter '*'
// One class: dotnet run -c Release --project tests/NetDsl.Benchmarks -- --filter '*MlpBenchmarks*'
// A per-phase (per-layer) profile of a model-table network's inference:
//            dotnet run -c Release --project tests/NetDsl.Benchmarks -- --profile ResNet18 [batch] [threads]
if (args.Length > 0 && args[0] == "--profile")
{
    Profile.Run(args.Length > 1 ? args[1] : "ResNet18", args.Length > 2 ? int.Parse(args[2]) : 1, args.Length > 3 ? int.Parse(args[3]) : 1);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(MlpBenchmarks).Assembly).Run(args);

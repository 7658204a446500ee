using BenchmarkDotNet.Running;

// Run all:   dotnet run -c Release --project tests/NetDsl.Benchmarks -- --filter '*'
// One class: dotnet run -c Release --project tests/NetDsl.Benchmarks -- --filter '*MlpBenchmarks*'
BenchmarkSwitcher.FromAssembly(typeof(NetDsl.Benchmarks.MlpBenchmarks).Assembly).Run(args);

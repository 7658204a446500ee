using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using NetDsl.Models;
using NetDsl.Optimizers;

namespace NetDsl.Benchmarks;

/// <summary>
/// The model table (src/NetDsl.Models) on the CPU at 224 x 224 x 3, 2 threads (the CI machine's cores): inference at
/// batch 1 and batch 32 (networks built with <c>ForInference</c>: BatchNorm, activation and residual Add fused into the
/// convolutions, the arena planned from inference lifetimes) and one SGD training step at batch 32. One call is one
/// batch, seconds long for the big models, so the job measures single calls (3 after 1 warm-up), with tiered
/// compilation off: a big model's kernels are generic instantiations called once per pass (GoogLeNet has ~60 distinct
/// convolution shapes), which would otherwise still run their unoptimised first tier after a few calls (as a Native-AOT
/// trainer never does).
/// images/s = batch / mean time; GFLOP/s = 2 x the summary's multiply-adds per image x images/s (x 3 for a training
/// step: forward, input gradient, weight gradient); compare with <see cref="PeakBenchmarks"/> from the same run
/// (x 2 threads). Run with
/// <c>dotnet run -c Release --project tests/NetDsl.Benchmarks -- --filter '*ModelTable*' '*FmaPeak512*'</c>.
/// </summary>
[Config(typeof(FullyOptimized))]
public class ModelTableBenchmarks
{
    private const int Threads = 2;
    private Network _model = null!;
    private float[] _input = null!;
    private float[] _output = null!;
    private int[] _labels = null!;
    private readonly Sgd _sgd = new(0.001f, momentum: 0.9f);

    [Params("ResNet18", "ResNet50", "ResNet101", "ResNet152", "Vgg16", "Vgg19", "AlexNet", "GoogLeNet")]
    public string Model { get; set; } = "";

    [GlobalSetup(Target = nameof(InferenceBatch1))]
    public void SetupBatch1() => Setup(1, inferenceOnly: true);

    [GlobalSetup(Target = nameof(InferenceBatch32))]
    public void SetupBatch32() => Setup(32, inferenceOnly: true);

    [GlobalSetup(Target = nameof(TrainStepBatch32))]
    public void SetupTraining() => Setup(32, inferenceOnly: false);

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    /// <summary>One image through the network (BatchNorm on moving statistics, dropout off).</summary>
    [Benchmark]
    public float InferenceBatch1()
    {
        _model.Predict(_input, _output);
        return _output[0];
    }

    /// <summary>32 images through the network.</summary>
    [Benchmark]
    public float InferenceBatch32()
    {
        _model.Predict(_input, _output);
        return _output[0];
    }

    /// <summary>One training step on 32 images: forward, loss, backward, SGD with momentum.</summary>
    [Benchmark]
    public float TrainStepBatch32() => _model.TrainStep(_input, _labels, _sgd);

    private void Setup(int batch, bool inferenceOnly)
    {
        _model = Create(Model, batch, inferenceOnly);
        var random = new Random(1);
        _input = new float[batch * _model.InputSize];
        for (int i = 0; i < _input.Length; i++)
        {
            _input[i] = (float)random.NextDouble();
        }

        _labels = Enumerable.Range(0, batch).Select(_ => random.Next(_model.OutputSize)).ToArray();
        _output = new float[batch * _model.OutputSize];
        Console.WriteLine($"// {Model}: arena {_model.ArenaBytes / (1024.0 * 1024):N1} MiB at batch {batch}{(inferenceOnly ? " (inference only)" : "")}");
    }

    /// <summary>Single calls (3 after 1 warm-up), every method compiled fully optimised at its first call.</summary>
    internal sealed class FullyOptimized : ManualConfig
    {
        public FullyOptimized() => AddJob(Job.Default.WithStrategy(RunStrategy.Monitoring).WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(3)
            .WithEnvironmentVariables(new EnvironmentVariable("DOTNET_TieredCompilation", "0")));
    }

    private static Network Create(string model, int batch, bool inferenceOnly) => (model, inferenceOnly) switch
    {
        ("ResNet18", true) => ResNet18.ForInference(batch, seed: 1, threads: Threads),
        ("ResNet18", false) => new ResNet18(batch, seed: 1, threads: Threads),
        ("ResNet50", true) => ResNet50.ForInference(batch, seed: 1, threads: Threads),
        ("ResNet50", false) => new ResNet50(batch, seed: 1, threads: Threads),
        ("ResNet101", true) => ResNet101.ForInference(batch, seed: 1, threads: Threads),
        ("ResNet101", false) => new ResNet101(batch, seed: 1, threads: Threads),
        ("ResNet152", true) => ResNet152.ForInference(batch, seed: 1, threads: Threads),
        ("ResNet152", false) => new ResNet152(batch, seed: 1, threads: Threads),
        ("Vgg16", true) => Vgg16.ForInference(batch, seed: 1, threads: Threads),
        ("Vgg16", false) => new Vgg16(batch, seed: 1, threads: Threads),
        ("Vgg19", true) => Vgg19.ForInference(batch, seed: 1, threads: Threads),
        ("Vgg19", false) => new Vgg19(batch, seed: 1, threads: Threads),
        ("AlexNet", true) => AlexNet.ForInference(batch, seed: 1, threads: Threads),
        ("AlexNet", false) => new AlexNet(batch, seed: 1, threads: Threads),
        ("GoogLeNet", true) => GoogLeNet.ForInference(batch, seed: 1, threads: Threads),
        ("GoogLeNet", false) => new GoogLeNet(batch, seed: 1, threads: Threads),
        _ => throw new ArgumentException(model),
    };
}

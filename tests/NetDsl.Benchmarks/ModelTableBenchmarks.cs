using BenchmarkDotNet.Attributes;
using NetDsl.Models;

namespace NetDsl.Benchmarks;

/// <summary>
/// The model table (src/NetDsl.Models) on the CPU: inference of one 224 x 224 x 3 image on 2 threads (the CI machine's
/// cores). images/s = 1 / mean time; GFLOP/s = 2 x the summary's multiply-adds per image x images/s; compare with
/// <see cref="PeakBenchmarks"/> from the same run (x 2 threads). Run with
/// <c>dotnet run -c Release --project tests/NetDsl.Benchmarks -- --filter '*ModelTable*' '*Peak*' --job short</c>.
/// </summary>
public class ModelTableBenchmarks
{
    private Network _model = null!;
    private float[] _input = null!;
    private float[] _output = null!;

    [Params("ResNet18", "ResNet50", "Vgg16", "AlexNet", "GoogLeNet")]
    public string Model { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _model = Model switch
        {
            "ResNet18" => new ResNet18(1, seed: 1, threads: 2),
            "ResNet50" => new ResNet50(1, seed: 1, threads: 2),
            "Vgg16" => new Vgg16(1, seed: 1, threads: 2),
            "AlexNet" => new AlexNet(1, seed: 1, threads: 2),
            "GoogLeNet" => new GoogLeNet(1, seed: 1, threads: 2),
            _ => throw new ArgumentException(Model),
        };
        var random = new Random(1);
        _input = new float[_model.InputSize];
        for (int i = 0; i < _input.Length; i++)
        {
            _input[i] = (float)random.NextDouble();
        }

        _output = new float[_model.OutputSize];
        _model.Predict(_input, _output);
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    /// <summary>One image through the network (inference: BatchNorm on moving statistics, dropout off).</summary>
    [Benchmark]
    public float InferenceBatch1()
    {
        _model.Predict(_input, _output);
        return _output[0];
    }
}

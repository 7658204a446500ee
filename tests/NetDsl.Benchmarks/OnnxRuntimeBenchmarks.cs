using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using NetDsl.Models;
using NetDsl.Onnx;

namespace NetDsl.Benchmarks;

/// <summary>
/// ResNet-18 inference at 224 x 224 x 3, NetDsl against ONNX Runtime in the same run: the same network (the model
/// table's torchvision ResNet-18, its random weights exported with <see cref="OnnxExport"/>, so both run the same
/// function) at batch 1 and 32 on 1 and 2 threads. ONNX Runtime runs with its default graph optimisations (all
/// levels, which fold BatchNorm and fuse Conv + ReLU / Add) and its intra-op thread pool pinned to the same count;
/// NetDsl with <c>ForInference</c>. images/s = batch / mean time; the ratio NetDsl/ONNX Runtime is read off one run. Run with
/// <c>dotnet run -c Release --project tests/NetDsl.Benchmarks -- --filter '*OnnxRuntime*' '*FmaPeak512*'</c>.
/// </summary>
[Config(typeof(ModelTableBenchmarks.FullyOptimized))]
public class OnnxRuntimeBenchmarks
{
    private Network _netdsl = null!;
    private InferenceSession _ort = null!;
    private OrtValue _ortInput = null!;
    private OrtValue _ortOutput = null!;
    private RunOptions _runOptions = null!;
    private float[] _input = null!;
    private float[] _output = null!;

    [Params(1, 32)]
    public int Batch { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _netdsl = ResNet18.ForInference(Batch, seed: 1, threads: Threads);
        var random = new Random(1);
        _input = [.. Enumerable.Range(0, Batch * _netdsl.InputSize).Select(_ => (float)random.NextDouble())];
        _output = new float[Batch * _netdsl.OutputSize];
        using var file = new MemoryStream();
        _netdsl.ExportOnnx(file);
        var options = new SessionOptions { IntraOpNumThreads = Threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        _ort = new InferenceSession(file.ToArray(), options);
        _ortInput = OrtValue.CreateTensorValueFromMemory(_input, [Batch, 3, 224, 224]);
        _ortOutput = OrtValue.CreateTensorValueFromMemory(new float[Batch * _netdsl.OutputSize], [Batch, _netdsl.OutputSize]);
        _runOptions = new RunOptions();

        // Both compute the same function: check once, so the benchmark compares like with like.
        _netdsl.Predict(_input, _output);
        OnnxRuntime();
        float[] ort = _ortOutput.GetTensorDataAsSpan<float>().ToArray();
        double worst = _output.Zip(ort, (a, b) => Math.Abs(a - b)).Max();
        Console.WriteLine($"// ResNet-18 batch {Batch}, {Threads} threads: max |NetDsl - ONNX Runtime| = {worst:E2}");
        if (worst > 1e-4)
        {
            throw new InvalidOperationException($"NetDsl and ONNX Runtime disagree by {worst:E2}");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _netdsl.Dispose();
        _ort.Dispose();
        _ortInput.Dispose();
        _ortOutput.Dispose();
        _runOptions.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => _ort.Run(_runOptions, [_ort.InputNames[0]], [_ortInput], [_ort.OutputNames[0]], [_ortOutput]);

    [Benchmark]
    public void NetDsl() => _netdsl.Predict(_input, _output);
}

using BenchmarkDotNet.Attributes;
using NetDsl.Optimizers;

namespace NetDsl.Benchmarks;

/// <summary>The MnistMlp sample's architecture (784 -> 256 ReLU -> 10 softmax).</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(784)]
public partial class BenchMlp
{
    [Dense(256, Activation.ReLU)] public partial DenseLayer Hidden { get; }
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>
/// Training step and inference of the sample MLP. At batch 128 the forward pass is
/// 2 x 128 x (784 x 256 + 256 x 10) = 52.0 MFLOP, the weight gradients the same again, and the input gradient
/// (Output layer only: nothing below the first layer needs one) 2 x 128 x 2,560 = 0.7 MFLOP: 104.7 MFLOP a step.
/// </summary>
[MemoryDiagnoser]
public class MlpBenchmarks
{
    private BenchMlp _model = null!;
    private BenchMlp _single = null!;
    private float[] _inputs = null!;
    private int[] _labels = null!;
    private float[] _outputs = null!;
    private Sgd _optimizer = null!;

    /// <summary>Threads per step (the CI machines have 2 cores).</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        const int batch = 128;
        _model = new BenchMlp(batch, seed: 1, threads: Threads);
        _single = new BenchMlp(1, seed: 1, threads: Threads);
        var random = new DeterministicRandom(7);
        _inputs = new float[batch * 784];
        for (int i = 0; i < _inputs.Length; i++)
        {
            _inputs[i] = random.NextSingle();
        }

        _labels = new int[batch];
        for (int i = 0; i < batch; i++)
        {
            _labels[i] = random.NextInt(10);
        }

        _outputs = new float[batch * 10];
        _optimizer = new Sgd(0.01f, 0.9f);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _model.Dispose();
        _single.Dispose();
    }

    /// <summary>Forward + backward + SGD-momentum update, batch 128.</summary>
    [Benchmark]
    public float TrainStep128() => _model.TrainStep(_inputs, _labels, _optimizer);

    /// <summary>Inference, batch 128.</summary>
    [Benchmark]
    public void Predict128() => _model.Predict(_inputs, _outputs);

    /// <summary>Inference of one sample.</summary>
    [Benchmark]
    public void Predict1() => _single.Predict(_inputs.AsSpan(0, 784), _outputs.AsSpan(0, 10));
}

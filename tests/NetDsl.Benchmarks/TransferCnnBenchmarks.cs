using BenchmarkDotNet.Attributes;
using NetDsl.Optimizers;

namespace NetDsl.Benchmarks;

/// <summary>The reference network, Keras' mnist_transfer_cnn (samples/MnistTransfer/TransferCnn.cs), declared again here.</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(1, 28, 28)]
public partial class BenchTransferCnn
{
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv1 { get; }
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv2 { get; }
    [MaxPool2D(2)] public partial PoolingLayer Pool { get; }
    [Dropout(0.25)] public partial DropoutLayer FeatureDropout { get; }
    [Flatten] public partial FlattenLayer Flatten { get; }
    [Dense(128, Activation.ReLU)] public partial DenseLayer Hidden { get; }
    [Dropout(0.5)] public partial DropoutLayer HiddenDropout { get; }
    [Dense(5, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>
/// Training step (forward + backward + Adadelta) and inference of the reference network. One forward pass is
/// 12.2 MFLOP per image, a training step 36.2 MFLOP per image (the first convolution needs no input gradient):
/// images/s = batch / mean time; GFLOP/s = 36.2e-3 x images/s for training, 12.2e-3 x images/s for inference.
/// Compare with <see cref="PeakBenchmarks"/> from the same run (x threads).
/// </summary>
[MemoryDiagnoser]
public class TransferCnnBenchmarks
{
    private const int Batch = 128;
    private BenchTransferCnn _model = null!;
    private BenchTransferCnn _single = null!;
    private float[] _inputs = null!;
    private int[] _labels = null!;
    private float[] _outputs = null!;
    private Adadelta _optimizer = null!;

    /// <summary>Threads per step (CI machines have 2 cores).</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = new BenchTransferCnn(Batch, seed: 1, threads: Threads);
        _single = new BenchTransferCnn(1, seed: 1, threads: Threads);
        var random = new DeterministicRandom(11);
        _inputs = new float[Batch * 784];
        for (int i = 0; i < _inputs.Length; i++)
        {
            _inputs[i] = random.NextSingle();
        }

        _labels = new int[Batch];
        for (int i = 0; i < Batch; i++)
        {
            _labels[i] = random.NextInt(5);
        }

        _outputs = new float[Batch * 5];
        _optimizer = new Adadelta(1.0f, 0.95f, 1e-6f);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _model.Dispose();
        _single.Dispose();
    }

    /// <summary>Forward + backward + Adadelta, batch 128 (4.63 GFLOP).</summary>
    [Benchmark]
    public float TrainStep128() => _model.TrainStep(_inputs, _labels, _optimizer);

    /// <summary>Inference, batch 128 (1.56 GFLOP).</summary>
    [Benchmark]
    public void Predict128() => _model.Predict(_inputs, _outputs);

    /// <summary>Inference of one image (12.2 MFLOP).</summary>
    [Benchmark]
    public void Predict1() => _single.Predict(_inputs.AsSpan(0, 784), _outputs.AsSpan(0, 5));
}

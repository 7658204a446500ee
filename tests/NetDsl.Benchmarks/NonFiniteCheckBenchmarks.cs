using BenchmarkDotNet.Attributes;
using NetDsl.Optimizers;

namespace NetDsl.Benchmarks;

/// <summary>
/// What the non-finite gradient check costs: the reference network's training step (batch 128, Adadelta) with the
/// check on (the default) and off (<c>Network.CheckFiniteGradients</c>, an internal switch), side by side in one run.
/// The check is one vectorised pass over the trainable gradients (~600K floats, split over the threads as the update is)
/// plus a copy of the BatchNorm moving statistics (none here).
/// </summary>
[MemoryDiagnoser]
public class NonFiniteCheckBenchmarks
{
    private const int Batch = 128;
    private BenchTransferCnn _model = null!;
    private float[] _inputs = null!;
    private int[] _labels = null!;
    private Adadelta _optimizer = null!;

    /// <summary>Threads per step.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Whether the step scans the gradients for NaN and infinity before the update.</summary>
    [Params(true, false)]
    public bool Check { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = new BenchTransferCnn(Batch, seed: 1, threads: Threads) { CheckFiniteGradients = Check };
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

        _optimizer = new Adadelta(1.0f, 0.95f, 1e-6f);
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    /// <summary>Forward + backward + (check) + Adadelta, batch 128.</summary>
    [Benchmark]
    public float TrainStep128() => _model.TrainStep(_inputs, _labels, _optimizer);
}

/// <summary>The check alone, single-threaded: the scan over as many floats as the reference network's trainable gradients.</summary>
public unsafe class NonFiniteScanBenchmarks
{
    private float[] _gradients = null!;

    [GlobalSetup]
    public void Setup()
    {
        using var model = new BenchTransferCnn(1, seed: 1);
        _gradients = new float[model.Parameters.Length];
        var random = new DeterministicRandom(3);
        for (int i = 0; i < _gradients.Length; i++)
        {
            _gradients[i] = random.NextSingle() - 0.5f;
        }
    }

    /// <summary>One scan of every gradient (~2.4 MB).</summary>
    [Benchmark]
    public bool Scan()
    {
        fixed (float* p = _gradients)
        {
            return NetDsl.Kernels.Finite.AnyNonFinite(p, _gradients.Length);
        }
    }
}

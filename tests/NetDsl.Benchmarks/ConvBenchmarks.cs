using BenchmarkDotNet.Attributes;
using NetDsl.Kernels;
using NetDsl.Threading;

namespace NetDsl.Benchmarks;

/// <summary>
/// The convolution kernels on the reference CNN (Keras mnist_transfer_cnn) at batch 128, on 1 thread and split in
/// 2 parts on 2 threads (a <see cref="WorkerPool"/>, the caller taking part 0):
/// conv1 28x28x1 -> 26x26x32 (3x3 valid): 2 x 128 x 676 x 32 x 9 = 49.84 MFLOP per pass;
/// conv2 26x26x32 -> 24x24x32 (3x3 valid): 2 x 128 x 576 x 32 x 288 = 1358.95 MFLOP per pass (forward, weight
/// gradient and input gradient alike). conv2's forward pass, input gradient and weight gradient run Winograd
/// F(2x2, 3x3) (2.25x fewer multiplications; the *Direct benchmarks run the direct kernels side by side), so for them
/// MFLOP / (time in µs) is an effective rate, the direct algorithm's FLOPs per second of Winograd time. GFLOP/s = MFLOP / (time in µs); compare with
/// <see cref="PeakBenchmarks.FmaPeak512"/> from the same run (384 MFLOP per call, one thread; two threads have twice
/// that peak). On a shared, noisy machine the Min column is the better estimate of what the kernel can do.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
public class ConvBenchmarks
{
    private const int Batch = 128;

    // Every benchmark writes only its own output, so the inputs keep their values across iterations.
    private static readonly long X1 = 0;
    private static readonly long W1 = X1 + Arena.Padded(Batch * 28 * 28);
    private static readonly long B1 = W1 + Arena.Padded(9 * 32);
    private static readonly long Y1 = B1 + Arena.Padded(32); // conv1's output = conv2's input
    private static readonly long Dy1 = Y1 + Arena.Padded(Batch * 26 * 26 * 32);
    private static readonly long Dw1 = Dy1 + Arena.Padded(Batch * 26 * 26 * 32);
    private static readonly long W2 = Dw1 + Arena.Padded(9 * 32);
    private static readonly long B2 = W2 + Arena.Padded(288 * 32);
    private static readonly long Y2 = B2 + Arena.Padded(32);
    private static readonly long Dy2 = Y2 + Arena.Padded(Batch * 24 * 24 * 32);
    private static readonly long Dw2 = Dy2 + Arena.Padded(Batch * 24 * 24 * 32);
    private static readonly long Prepared2 = Dw2 + Arena.Padded(288 * 32);
    private static readonly long PreparedDirect2 = Prepared2 + Arena.Padded(Conv2D.PreparedWeightsLength<Conv2Shape>());
    private static readonly long Dx2 = PreparedDirect2 + Arena.Padded(Conv2D.PreparedWeightsLength<Conv2Shape>());
    private static readonly long End = Dx2 + Arena.Padded(Batch * 26 * 26 * 32);

    private Arena _arena = null!;
    private WorkerPool _pool = null!;
    private Job _job = null!;

    private enum Kernel
    {
        Conv1Forward,
        Conv1WeightGradient,
        Conv2Forward,
        Conv2WeightGradient,
        Conv2InputGradient,
        Conv2ForwardDirect,
        Conv2InputGradientDirect,
        Conv2WeightGradientDirect,
    }

    /// <summary>conv1 of the reference CNN.</summary>
    private readonly struct Conv1Shape : IConvShape
    {
        public static int InH => 28;
        public static int InW => 28;
        public static int InC => 1;
        public static int KH => 3;
        public static int KW => 3;
        public static int StrideH => 1;
        public static int StrideW => 1;
        public static int PadTop => 0;
        public static int PadLeft => 0;
        public static int OutH => 26;
        public static int OutW => 26;
        public static int Filters => 32;
    }

    /// <summary>conv2 of the reference CNN.</summary>
    private readonly struct Conv2Shape : IConvShape
    {
        public static int InH => 26;
        public static int InW => 26;
        public static int InC => 32;
        public static int KH => 3;
        public static int KW => 3;
        public static int StrideH => 1;
        public static int StrideW => 1;
        public static int PadTop => 0;
        public static int PadLeft => 0;
        public static int OutH => 24;
        public static int OutW => 24;
        public static int Filters => 32;
    }

    private sealed class Job(ConvBenchmarks owner) : IParallelJob
    {
        public void Execute(int job, int part, int parts) => owner.Run((Kernel)job, part, parts);
    }

    [GlobalSetup]
    public void Setup()
    {
        _arena = new Arena(End);
        var random = new DeterministicRandom(7);
        Span<float> all = _arena.GetSpan(0, (int)End);
        for (int i = 0; i < all.Length; i++)
        {
            all[i] = random.NextSingle() - 0.5f;
        }

        _pool = new WorkerPool(2);
        _job = new Job(this);
        Conv2D.PrepareInputGradient<Conv2Shape>(_arena, W2, Prepared2, 0, 1);
        Conv2D.PrepareInputGradient<Conv2Shape>(_arena, W2, PreparedDirect2, 0, 1, ConvAlgorithm.Direct);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.Dispose();
        _arena.Dispose();
    }

    /// <summary>conv1 forward with bias + ReLU, 1 thread (49.84 MFLOP).</summary>
    [Benchmark]
    public void Conv1Forward1T() => Run(Kernel.Conv1Forward, 0, 1);

    /// <summary>conv1 forward with bias + ReLU, 2 threads (49.84 MFLOP).</summary>
    [Benchmark]
    public void Conv1Forward2T() => _pool.Run(_job, (int)Kernel.Conv1Forward);

    /// <summary>conv1 weight gradient, 1 thread (49.84 MFLOP).</summary>
    [Benchmark]
    public void Conv1WeightGradient1T() => Run(Kernel.Conv1WeightGradient, 0, 1);

    /// <summary>conv1 weight gradient, 2 threads (49.84 MFLOP).</summary>
    [Benchmark]
    public void Conv1WeightGradient2T() => _pool.Run(_job, (int)Kernel.Conv1WeightGradient);

    /// <summary>conv2 forward with bias + ReLU, 1 thread (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2Forward1T() => Run(Kernel.Conv2Forward, 0, 1);

    /// <summary>conv2 forward with bias + ReLU, 2 threads (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2Forward2T() => _pool.Run(_job, (int)Kernel.Conv2Forward);

    /// <summary>conv2 weight gradient, 1 thread (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2WeightGradient1T() => Run(Kernel.Conv2WeightGradient, 0, 1);

    /// <summary>conv2 weight gradient, 2 threads (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2WeightGradient2T() => _pool.Run(_job, (int)Kernel.Conv2WeightGradient);

    /// <summary>conv2 input gradient with the ReLU-derivative epilogue (aux = conv1's output), 1 thread (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2InputGradient1T() => Run(Kernel.Conv2InputGradient, 0, 1);

    /// <summary>conv2 input gradient with the ReLU-derivative epilogue, 2 threads (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2InputGradient2T() => _pool.Run(_job, (int)Kernel.Conv2InputGradient);

    /// <summary>conv2 forward with the direct implicit GEMM instead of Winograd, 1 thread (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2ForwardDirect1T() => Run(Kernel.Conv2ForwardDirect, 0, 1);

    /// <summary>conv2 forward with the direct implicit GEMM, 2 threads (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2ForwardDirect2T() => _pool.Run(_job, (int)Kernel.Conv2ForwardDirect);

    /// <summary>conv2 input gradient with the direct implicit GEMM instead of Winograd, 1 thread (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2InputGradientDirect1T() => Run(Kernel.Conv2InputGradientDirect, 0, 1);

    /// <summary>conv2 input gradient with the direct implicit GEMM, 2 threads (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2InputGradientDirect2T() => _pool.Run(_job, (int)Kernel.Conv2InputGradientDirect);

    /// <summary>conv2 weight gradient with the direct kernel instead of Winograd, 1 thread (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2WeightGradientDirect1T() => Run(Kernel.Conv2WeightGradientDirect, 0, 1);

    /// <summary>conv2 weight gradient with the direct kernel, 2 threads (1358.95 MFLOP).</summary>
    [Benchmark]
    public void Conv2WeightGradientDirect2T() => _pool.Run(_job, (int)Kernel.Conv2WeightGradientDirect);

    private void Run(Kernel kernel, int part, int parts)
    {
        switch (kernel)
        {
            case Kernel.Conv1Forward:
                Conv2D.Forward<Conv1Shape, Epilogue.BiasActivation<Act.ReLU>>(_arena, X1, W1, Y1, Batch, part, parts, bias: B1);
                break;
            case Kernel.Conv1WeightGradient:
                Conv2D.WeightGradient<Conv1Shape>(_arena, X1, Dy1, Dw1, Batch, part, parts);
                break;
            case Kernel.Conv2Forward:
                Conv2D.Forward<Conv2Shape, Epilogue.BiasActivation<Act.ReLU>>(_arena, Y1, W2, Y2, Batch, part, parts, bias: B2);
                break;
            case Kernel.Conv2WeightGradient:
                Conv2D.WeightGradient<Conv2Shape>(_arena, Y1, Dy2, Dw2, Batch, part, parts);
                break;
            case Kernel.Conv2ForwardDirect:
                Conv2D.Forward<Conv2Shape, Epilogue.BiasActivation<Act.ReLU>>(_arena, Y1, W2, Y2, Batch, part, parts, bias: B2, algorithm: ConvAlgorithm.Direct);
                break;
            case Kernel.Conv2WeightGradientDirect:
                Conv2D.WeightGradient<Conv2Shape>(_arena, Y1, Dy2, Dw2, Batch, part, parts, ConvAlgorithm.Direct);
                break;
            case Kernel.Conv2InputGradientDirect:
                Conv2D.InputGradient<Conv2Shape, Epilogue.ActivationGradient<Act.ReLU>>(_arena, Dy2, W2, PreparedDirect2, Dx2, Batch, part, parts, aux: Y1, algorithm: ConvAlgorithm.Direct);
                break;
            default:
                Conv2D.InputGradient<Conv2Shape, Epilogue.ActivationGradient<Act.ReLU>>(_arena, Dy2, W2, Prepared2, Dx2, Batch, part, parts, aux: Y1);
                break;
        }
    }
}

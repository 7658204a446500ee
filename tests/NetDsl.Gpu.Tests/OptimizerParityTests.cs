using ILGPU;
using ILGPU.Runtime;
using NetDsl.Optimizers;
using Xunit.Abstractions;

namespace NetDsl.Gpu.Tests;

/// <summary>One CPU-accelerator device and its <see cref="GpuOptimizer"/> (kernels loaded once) for every parity test.</summary>
public sealed class OptimizerFixture : IDisposable
{
    public OptimizerFixture()
    {
        Device = GpuDevice.CreateCpuAccelerator(2);
        Optimizer = new GpuOptimizer(Device);
    }

    public GpuDevice Device { get; }

    public GpuOptimizer Optimizer { get; }

    public void Dispose()
    {
        Optimizer.Dispose();
        Device.Dispose();
    }
}

/// <summary>
/// <see cref="GpuOptimizer"/> against the CPU optimizers' own <see cref="IOptimizer.Update"/> on the same arena layout:
/// every built-in optimizer and variant, with every <see cref="OptimizerOptions"/> feature, 5 steps with fresh random
/// gradients, comparing parameters and both state slots.
/// </summary>
public sealed class OptimizerParityTests(OptimizerFixture fixture, ITestOutputHelper output) : IClassFixture<OptimizerFixture>
{
    private const int P = 256;
    private const int Steps = 5;

    // Tolerance: the device kernels repeat the CPU rules' scalar arithmetic operation by operation (same FMAs, same
    // order), so on ILGPU's CPU accelerator (which runs the kernels as .NET code) they agree to the bit in practice; the
    // tolerance is for what may legitimately differ: the device's gradient-norm reduction sums in a different order (and
    // the global norm is assembled from per-tensor norms rounded to float), which moves a clipping factor by a few ulps,
    // and on a GPU the sqrt/division implementations and the compiler's contraction of mul+add into FMA may differ in
    // the last bit. A few float ulps compound over 5 steps to well under 1e-5 relative; the absolute floor covers
    // values that cancel to near zero (w − u, v − mg²), where relative error is meaningless.
    private const double Relative = 1e-5;
    private const double Absolute = 1e-6;

    /// <summary>Three trainable tensors of odd sizes, regions padded to 16 floats, and a frozen one between them.</summary>
    private static readonly GpuTensor A = new(0, 48, 37);
    private static readonly GpuTensor B = new(48, 16, 5);
    private static readonly GpuTensor Frozen = new(64, 32, 20);
    private static readonly GpuTensor C = new(96, 144, 130);
    private static readonly GpuTensor[] Trainable = [A, B, C];

    private static readonly Dictionary<string, Func<OptimizerOptions?, IOptimizer>> Optimizers = new()
    {
        ["Sgd"] = o => new Sgd(0.05f, options: o),
        ["Sgd momentum"] = o => new Sgd(0.05f, momentum: 0.9f, options: o),
        ["Sgd Nesterov"] = o => new Sgd(0.05f, momentum: 0.8f, nesterov: true, options: o),
        ["Sgd time decay"] = o => new Sgd(0.05f, momentum: 0.5f, decay: 0.3f, options: o),
        ["Sgd time decay, no momentum"] = o => new Sgd(0.05f, decay: 0.3f, options: o),
        ["Adadelta"] = o => new Adadelta(1.0f, rho: 0.9f, options: o),
        ["Adagrad"] = o => new Adagrad(0.05f, initialAccumulatorValue: 0.1f, options: o),
        ["Adagrad zero accumulator"] = o => new Adagrad(0.05f, initialAccumulatorValue: 0f, epsilon: 1e-3f, options: o),
        ["RmsProp"] = o => new RmsProp(0.01f, options: o),
        ["RmsProp momentum"] = o => new RmsProp(0.01f, momentum: 0.7f, options: o),
        ["RmsProp centered"] = o => new RmsProp(0.01f, rho: 0.8f, centered: true, options: o),
        ["Adam"] = o => new Adam(0.01f, options: o),
        ["AdamW"] = o => new AdamW(0.01f, weightDecay: 0.05f, options: o),
    };

    private static readonly Dictionary<string, OptimizerOptions?> Options = new()
    {
        ["none"] = null,
        ["decoupled weight decay"] = new OptimizerOptions { WeightDecay = 0.1f },
        ["coupled weight decay"] = new OptimizerOptions { WeightDecay = 0.1f, WeightDecayMode = WeightDecayMode.Coupled },
        ["ClipValue"] = new OptimizerOptions { ClipValue = 0.5f },
        // Uniform gradients in [-1, 1]: norms about 3.5 (A), 1.3 (B), 6.6 (C), so 2 clips A and C but not B.
        ["ClipNorm"] = new OptimizerOptions { ClipNorm = 2f },
        ["GlobalClipNorm"] = new OptimizerOptions { GlobalClipNorm = 5f },
        ["schedule"] = new OptimizerOptions { Schedule = new ExponentialDecay(0.5, 2) },
        ["schedule, decoupled decay, ClipNorm"] = new OptimizerOptions { Schedule = new CosineDecay(10, warmupSteps: 2), WeightDecay = 0.2f, ClipNorm = 3f },
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string optimizer in Optimizers.Keys)
        {
            foreach (var (name, options) in Options)
            {
                // AdamW takes its decay from its own argument and refuses one in the options.
                if (optimizer == "AdamW" && options is { WeightDecay: > 0f })
                {
                    continue;
                }

                data.Add(optimizer, name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheCpuOptimizer(string optimizer, string options)
    {
        var make = Optimizers[optimizer];
        var o = Options[options];
        RunAndCompare(make(o), make(o), seed: optimizer.GetHashCode(StringComparison.Ordinal) ^ options.Length);
    }

    [Fact]
    public void ATensorFrozenMidRunIsLeftAloneAndTheOthersStillMatch()
    {
        // The device table changes after step 2 (and the per-tensor clipping factors move to other scratch slots).
        var options = new OptimizerOptions { ClipNorm = 2f };
        RunAndCompare(new Adam(0.01f, options: options), new Adam(0.01f, options: options), seed: 7,
            trainableAt: step => step < 2 ? Trainable : [A, C]);
    }

    public static TheoryData<string> CustomOptions() => ["none", "ClipValue", "ClipNorm", "GlobalClipNorm", "schedule"];

    [Theory]
    [MemberData(nameof(CustomOptions))]
    public void ACustomOptimizerGoesThroughTheHostFallbackAndMatches(string options)
    {
        var o = Options[options] ?? OptimizerOptions.Default;
        RunAndCompare(new SignMomentum(o), new SignMomentum(o), seed: 11);
    }

    [Theory]
    [InlineData("ClipNorm")]
    [InlineData("GlobalClipNorm")]
    public void ANonFiniteGradientNormMakesTheParametersNaNAsOnTheCpu(string options)
    {
        var o = Options[options];
        var (gpu, cpu) = RunAndCompare(new Adam(0.01f, options: o), new Adam(0.01f, options: o), seed: 5,
            poison: (step, gradients) =>
            {
                if (step == 3)
                {
                    gradients[(int)A.Offset + 4] = float.PositiveInfinity;
                }
            });

        // Clipped per tensor, only A's region turns NaN; with one global norm, every trainable parameter does.
        Assert.True(float.IsNaN(cpu[(int)A.Offset]));
        Assert.True(float.IsNaN(gpu[(int)A.Offset]));
        Assert.Equal(options == "GlobalClipNorm", float.IsNaN(gpu[(int)C.Offset]));
    }

    [Fact]
    public void TheUpdateKernelsReadNoScratchWithoutNormClipping()
    {
        // Without ClipNorm/GlobalClipNorm the scratch view is not needed at all: an empty one is accepted.
        var accelerator = fixture.Device.Accelerator;
        using var arena = accelerator.Allocate1D<float>(4 * P);
        arena.MemSetToZero();
        fixture.Optimizer.Step(accelerator.DefaultStream, arena.View, P, Trainable, new Adam(), default);
        accelerator.Synchronize();
    }

    /// <summary>
    /// Runs <see cref="Steps"/> steps of <paramref name="gpuOptimizer"/> through <see cref="GpuOptimizer.Step"/> and of
    /// <paramref name="cpuOptimizer"/> through its own <see cref="IOptimizer.Update"/> per tensor region on a host arena,
    /// as the network does; compares every block and checks the frozen tensor. Returns both final parameter blocks.
    /// </summary>
    private (float[] Gpu, float[] Cpu) RunAndCompare(
        IOptimizer gpuOptimizer, IOptimizer cpuOptimizer, int seed,
        Func<int, GpuTensor[]>? trainableAt = null, Action<int, float[]>? poison = null)
    {
        trainableAt ??= _ => Trainable;
        var random = new Random(seed);
        var cpu = new float[4 * P];
        for (int i = 0; i < P; i++)
        {
            cpu[i] = random.NextSingle() * 2f - 1f;
        }

        var accelerator = fixture.Device.Accelerator;
        var stream = accelerator.DefaultStream;
        using var arena = accelerator.Allocate1D<float>(4 * P);
        using var scratch = accelerator.Allocate1D<float>(Trainable.Length + 1);
        arena.View.CopyFromCPU(cpu);
        var gradients = new float[P];
        for (int step = 0; step < Steps; step++)
        {
            for (int i = 0; i < P; i++)
            {
                gradients[i] = random.NextSingle() * 2f - 1f;
            }

            poison?.Invoke(step, gradients);
            gradients.CopyTo(cpu, P);
            arena.View.SubView(P, P).CopyFromCPU(gradients);
            var trainable = trainableAt(step);
            fixture.Optimizer.Step(stream, arena.View, P, trainable, gpuOptimizer, scratch.View);
            CpuStep(cpu, trainable, cpuOptimizer);
        }

        stream.Synchronize();
        var gpu = arena.GetAsArray1D();
        Assert.Equal(cpuOptimizer.Iterations, gpuOptimizer.Iterations);

        // The frozen tensor's region (parameters, gradients, state) is never touched: the CPU side never updates it either,
        // so bit-for-bit equality of the whole arena region checks the device kernels left it alone.
        for (int block = 0; block < 4; block++)
        {
            for (long i = Frozen.Offset; i < Frozen.Offset + Frozen.Length; i++)
            {
                long at = block * P + i;
                Assert.True(BitConverter.SingleToInt32Bits(cpu[at]) == BitConverter.SingleToInt32Bits(gpu[at]), $"frozen float {at} changed: {cpu[at]} -> {gpu[at]}");
            }
        }

        double worst = 0;
        for (int i = 0; i < 4 * P; i++)
        {
            double expected = cpu[i], actual = gpu[i];
            if (double.IsNaN(expected) || double.IsNaN(actual))
            {
                Assert.True(double.IsNaN(expected) && double.IsNaN(actual), $"block {i / P}, float {i % P}: CPU {expected}, device {actual}");
                continue;
            }

            double error = Math.Abs(actual - expected);
            worst = Math.Max(worst, error / Math.Max(Math.Abs(expected), Absolute / Relative));
            Assert.True(error <= Relative * Math.Abs(expected) + Absolute, $"block {i / P}, float {i % P}: CPU {expected}, device {actual}");
        }

        output.WriteLine($"worst relative difference {worst:E2}");
        return (gpu[..P], cpu[..P]);
    }

    /// <summary>The CPU side: the network's norm-clipping factors (norms in double), BeginStep, Update per region.</summary>
    private static void CpuStep(float[] arena, GpuTensor[] trainable, IOptimizer optimizer)
    {
        var options = optimizer.Options;
        var scales = new float[trainable.Length];
        Array.Fill(scales, 1f);
        if (options.ClipNorm is not null || options.GlobalClipNorm is not null)
        {
            var sums = new double[trainable.Length];
            for (int t = 0; t < trainable.Length; t++)
            {
                for (int k = 0; k < trainable[t].Count; k++)
                {
                    double g = arena[P + trainable[t].Offset + k];
                    sums[t] += g * g;
                }
            }

            if (options.GlobalClipNorm is float global)
            {
                Array.Fill(scales, Factor(Math.Sqrt(sums.Sum()), global));
            }
            else
            {
                for (int t = 0; t < trainable.Length; t++)
                {
                    scales[t] = Factor(Math.Sqrt(sums[t]), options.ClipNorm!.Value);
                }
            }
        }

        optimizer.BeginStep();
        int slots = optimizer.StateSlots;
        for (int t = 0; t < trainable.Length; t++)
        {
            int at = (int)trainable[t].Offset, n = trainable[t].Length;
            optimizer.Update(new ParameterSlice(
                arena.AsSpan(at, n),
                arena.AsSpan(P + at, n),
                slots > 0 ? arena.AsSpan(2 * P + at, n) : default,
                slots > 1 ? arena.AsSpan(3 * P + at, n) : default,
                scales[t]));
        }
    }

    /// <summary>The network's factor: <c>c / max(norm, c)</c>, NaN for a non-finite norm.</summary>
    private static float Factor(double norm, float clip) => double.IsFinite(norm) ? (float)(clip / Math.Max(norm, clip)) : float.NaN;

    /// <summary>
    /// A user's own rule (not a NetDsl <see cref="Optimizer"/>): momentum on the clipped gradient's sign,
    /// <c>m = 0.5·m + sign(clamp(scale·g))·0.01·Factor(s); w −= m</c>, two state slots (the second counts updates).
    /// </summary>
    private sealed class SignMomentum(OptimizerOptions options) : IOptimizer
    {
        public int StateSlots => 2;

        public float LearningRate { get; set; } = 0.01f;

        public long Iterations { get; set; }

        public OptimizerOptions Options { get; } = options;

        public void BeginStep() => Iterations++;

        public void Update(in ParameterSlice slice)
        {
            float lr = (float)(LearningRate * (Options.Schedule?.Factor(Iterations - 1) ?? 1.0));
            float clip = Options.ClipValue ?? float.PositiveInfinity;
            var w = slice.Values;
            var m = slice.State(0);
            var count = slice.State(1);
            for (int i = 0; i < w.Length; i++)
            {
                float g = Math.Clamp(slice.Gradients[i] * slice.GradientScale, -clip, clip);
                m[i] = 0.5f * m[i] + (float.IsNaN(g) ? float.NaN : MathF.Sign(g)) * lr * (1f + MathF.Abs(g));
                w[i] -= m[i];
                count[i] += 1f;
            }
        }
    }
}

using NetDsl.Optimizers;

namespace NetDsl.Gpu.Tests;

/// <summary>One CPU accelerator shared by the tests of a class (kernels are compiled per accelerator).</summary>
public sealed class DeviceFixture : IDisposable
{
    public GpuDevice Device { get; } = GpuDevice.CreateCpuAccelerator();

    public void Dispose() => Device.Dispose();
}

/// <summary>A CPU accelerator that runs the tiled (CUDA) form of the hot kernels: groups of up to 256 emulated threads.</summary>
public sealed class TiledDeviceFixture : IDisposable
{
    public GpuDevice Device { get; } = GpuDevice.CreateCpuAccelerator(form: GpuKernelForm.Tiled);

    public void Dispose() => Device.Dispose();
}

/// <summary>The parity tests with the per-element kernels (what the CPU accelerator runs by default).</summary>
public sealed class SessionParityTests(DeviceFixture fixture) : SessionParityTestsBase(fixture.Device), IClassFixture<DeviceFixture>
{
    [Fact]
    public void TheDeviceRunsPerElementKernels() => Assert.Equal(GpuKernelForm.PerElement, fixture.Device.KernelForm);
}

/// <summary>
/// The parity tests with the tiled kernels CUDA runs (shared-memory tiles, barriers, 4 x 4 register blocks), emulated on the
/// CPU accelerator: the tiles' edges (M, N or K not a multiple of the tile), split reductions and fused epilogues checked
/// against the CPU backend without a GPU.
/// </summary>
public sealed class TiledSessionParityTests(TiledDeviceFixture fixture) : SessionParityTestsBase(fixture.Device), IClassFixture<TiledDeviceFixture>
{
    [Fact]
    public void TheDeviceRunsTiledKernels() => Assert.Equal(GpuKernelForm.Tiled, fixture.Device.KernelForm);
}

/// <summary>
/// The GPU backend against the CPU backend, on ILGPU's CPU accelerator (no GPU needed): for every coverage network,
/// the loss, every gradient and the parameters after optimizer steps of a GPU session equal those of the CPU network
/// built with the same seed, and so do the inference outputs. The CPU backend is itself checked against an independent
/// double-precision reference (tests/NetDsl.Tests), so agreement here checks the GPU kernels against that reference too.
/// </summary>
/// <remarks>
/// Tolerance: both backends compute in float but sum in different orders (the CPU's SIMD lanes and register blocks,
/// Winograd transforms for some convolutions; the GPU's one running sum per thread, BatchNorm statistics in double). A
/// sum of n float terms in two orders differs by at most about 2n·ε·Σ|terms| (ε = 6e-8); over the few hundred to few
/// thousand terms of these networks, with a few layers of back-propagation, the typical difference is far below that
/// (measured on the CPU accelerator: at most 1.6e-6 of a tensor's largest magnitude, BatchNorm and the MLP's 784-term
/// sums the worst), so every tensor is compared by its largest difference relative to its largest magnitude with bound
/// 1e-4: room for CUDA's own exp/log and fused multiply-adds, while a wrong index, a missed padding cell or a dropped
/// mask moves whole elements (errors of order 1 relative).
/// </remarks>
public abstract class SessionParityTestsBase
{
    private const double Tolerance = 1e-4;
    private const int Batch = 5;
    private readonly GpuDevice _device;

    protected SessionParityTestsBase(GpuDevice device) => _device = device;

    public static TheoryData<string> Networks => new(ParityNetworks.Names);

    /// <summary>One training step from identical weights: loss, gradients, the updated parameters, the BatchNorm moving statistics.</summary>
    [Theory]
    [MemberData(nameof(Networks))]
    public void OneStepMatchesTheCpu(string name)
    {
        using var cpu = ParityNetworks.Create(name, Batch, seed: 7);
        using var host = ParityNetworks.Create(name, Batch, seed: 7);
        using var gpu = ParityNetworks.ToGpu(host, _device);
        var (inputs, labels, targets) = ParityNetworks.Batch(cpu, Batch, new Random(11));

        float cpuLoss = Step(cpu, inputs, labels, targets, new Sgd(0.1f, momentum: 0.9f));
        float gpuLoss = Step(gpu, inputs, labels, targets, new Sgd(0.1f, momentum: 0.9f));
        gpu.CopyToHost();

        Assert.True(Math.Abs(cpuLoss - gpuLoss) <= Tolerance * Math.Max(1, Math.Abs(cpuLoss)), $"{name}: loss CPU {cpuLoss}, GPU {gpuLoss}");
        AssertClose(name + " gradients", cpu.Gradients, host.Gradients);
        AssertClose(name + " parameters after the step", cpu.Parameters, host.Parameters);
        Assert.Equal(cpu.Steps, host.Steps);
    }

    /// <summary>Inference (dropout off, moving statistics) after a few steps with Adam: outputs of Predict.</summary>
    [Theory]
    [MemberData(nameof(Networks))]
    public void SeveralStepsAndPredictMatchTheCpu(string name)
    {
        using var cpu = ParityNetworks.Create(name, Batch, seed: 3);
        using var host = ParityNetworks.Create(name, Batch, seed: 3);
        using var gpu = ParityNetworks.ToGpu(host, _device);
        var random = new Random(5);
        var cpuAdam = new Adam(0.01f);
        var gpuAdam = new Adam(0.01f);
        for (int step = 0; step < 3; step++)
        {
            var (inputs, labels, targets) = ParityNetworks.Batch(cpu, Batch, random);
            Step(cpu, inputs, labels, targets, cpuAdam);
            Step(gpu, inputs, labels, targets, gpuAdam);
        }

        var (x, _, _) = ParityNetworks.Batch(cpu, 7, random); // more samples than the batch: Predict works in chunks
        var expected = new float[7 * cpu.OutputSize];
        var actual = new float[7 * cpu.OutputSize];
        cpu.Predict(x, expected);
        gpu.Predict(x, actual);
        AssertClose(name + " predictions", expected, actual);
        gpu.CopyToHost();
        AssertClose(name + " parameters after 3 Adam steps", cpu.Parameters, host.Parameters);
    }

    /// <summary>Weights loaded into the network move to the session, and the session's move back.</summary>
    [Fact]
    public void WeightsMoveBothWays()
    {
        using var network = new CnnTiny(4, seed: 1);
        using var gpu = network.ToGpu(_device);
        var (inputs, labels, _) = ParityNetworks.Batch(network, 4, new Random(2));
        var before = network.Parameters.ToArray();
        gpu.TrainStep(inputs, labels, new Sgd(0.5f));
        Assert.Equal(before, network.Parameters.ToArray()); // the host copy is untouched until asked
        gpu.CopyToHost();
        Assert.NotEqual(before, network.Parameters.ToArray());

        before.CopyTo(network.Parameters);
        gpu.CopyFromHost();
        var outputs = new float[4 * 3];
        var expected = new float[4 * 3];
        gpu.Predict(inputs, outputs);
        network.Predict(inputs, expected);
        AssertClose("predictions from the restored weights", expected, outputs);
    }

    /// <summary>Freezing a layer on the network stops its update on the device too.</summary>
    [Fact]
    public void FrozenLayersAreNotUpdated()
    {
        using var network = new CnnTiny(4, seed: 1);
        using var gpu = network.ToGpu(_device);
        network.Conv1.Trainable = false;
        var conv1 = network.Conv1.Weights.ToArray();
        var hidden = network.Hidden.Weights.ToArray();
        var (inputs, labels, _) = ParityNetworks.Batch(network, 4, new Random(2));
        gpu.TrainStep(inputs, labels, new Sgd(0.5f));
        gpu.CopyToHost();
        Assert.Equal(conv1, network.Conv1.Weights.ToArray());
        Assert.NotEqual(hidden, network.Hidden.Weights.ToArray());
    }

    internal static float Step(Model model, float[] inputs, int[]? labels, float[]? targets, IOptimizer optimizer) =>
        labels is not null ? model.TrainStep(inputs, labels, optimizer) : model.TrainStep(inputs, targets!, optimizer);

    internal static void AssertClose(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 0, worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            double difference = Math.Abs((double)expected[i] - actual[i]);
            if (!(difference <= worst))
            {
                worst = difference;
                at = i;
            }
        }

        Assert.True(worst <= Tolerance * Math.Max(scale, 1e-3),
            $"{what}: largest difference {worst:G3} at {at} (CPU {(at >= 0 ? expected[at] : 0)}, GPU {(at >= 0 ? actual[at] : 0)}), scale {scale:G3}");
    }
}

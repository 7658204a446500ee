using NetDsl.Optimizers;

namespace NetDsl.Gpu.Tests;

/// <summary>
/// Every optimizer and option on the device (the fused update kernels, the norm reduction and clipping factors, and the
/// host fallback for a user's own rule) against the CPU optimizers, through whole networks: parameters and both optimizer
/// state slots after four steps from identical weights. Same bound and reasoning as <see cref="SessionParityTests"/>.
/// </summary>
public class OptimizerSessionTests : IClassFixture<DeviceFixture>
{
    private readonly GpuDevice _device;

    public OptimizerSessionTests(DeviceFixture fixture) => _device = fixture.Device;

    public static TheoryData<string> Optimizers => new(Factories.Keys);

    private static readonly Dictionary<string, Func<IOptimizer>> Factories = new()
    {
        ["sgd"] = () => new Sgd(0.1f),
        ["sgd-momentum"] = () => new Sgd(0.1f, momentum: 0.9f),
        ["sgd-nesterov-decay"] = () => new Sgd(0.1f, momentum: 0.8f, nesterov: true, decay: 0.5f),
        ["adadelta"] = () => new Adadelta(),
        ["adagrad"] = () => new Adagrad(0.05f),
        ["rmsprop"] = () => new RmsProp(0.01f),
        ["rmsprop-momentum"] = () => new RmsProp(0.01f, momentum: 0.9f),
        ["rmsprop-centered"] = () => new RmsProp(0.01f, centered: true),
        ["adam"] = () => new Adam(0.01f),
        ["adamw"] = () => new AdamW(0.01f, weightDecay: 0.05f),
        ["adam-coupled-decay"] = () => new Adam(0.01f, options: new OptimizerOptions { WeightDecay = 0.01f, WeightDecayMode = WeightDecayMode.Coupled }),
        ["sgd-decoupled-decay"] = () => new Sgd(0.1f, options: new OptimizerOptions { WeightDecay = 0.1f }),
        ["adam-clip-value"] = () => new Adam(0.01f, options: new OptimizerOptions { ClipValue = 0.01f }),
        ["sgd-clip-norm"] = () => new Sgd(0.5f, momentum: 0.5f, options: new OptimizerOptions { ClipNorm = 0.05f }),
        ["adadelta-global-clip-norm"] = () => new Adadelta(options: new OptimizerOptions { GlobalClipNorm = 0.1f }),
        ["adam-exponential-schedule"] = () => new Adam(0.02f, options: new OptimizerOptions { Schedule = new ExponentialDecay(0.5, 2) }),
        ["custom-rule-on-the-host"] = () => new HalfStep(),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void FourStepsMatchTheCpu(string name)
    {
        using var cpu = new CnnBatchNorm(6, seed: 2);
        using var host = new CnnBatchNorm(6, seed: 2);
        using var gpu = host.ToGpu(_device);
        var cpuOptimizer = Factories[name]();
        var gpuOptimizer = Factories[name]();
        var random = new Random(8);
        for (int step = 0; step < 4; step++)
        {
            var (inputs, labels, _) = ParityNetworks.Batch(cpu, 6, random);
            cpu.TrainStep(inputs, labels!, cpuOptimizer);
            gpu.TrainStep(inputs, labels!, gpuOptimizer);
        }

        gpu.CopyToHost();
        int p = cpu.Parameters.Length;
        SessionParityTestsBase.AssertClose(name + " parameters", cpu.Parameters, host.Parameters);
        for (int slot = 0; slot < cpuOptimizer.StateSlots; slot++)
        {
            SessionParityTestsBase.AssertClose($"{name} state slot {slot}", cpu.Arena.GetSpan((2 + slot) * (long)p, p), host.Arena.GetSpan((2 + slot) * (long)p, p));
        }

        Assert.Equal(cpuOptimizer.Iterations, gpuOptimizer.Iterations);
    }

    /// <summary>
    /// A gradient that is not finite (so is the norm) skips the clipped step, as on the CPU: before, it made every
    /// parameter NaN (Keras does that); now nothing is written and the step is reported.
    /// </summary>
    [Fact]
    public void ANonFiniteNormWithClippingSkipsTheStep()
    {
        using var host = new DigitsMlpSmall(2, seed: 1);
        using var gpu = host.ToGpu(_device);
        var before = host.Parameters.ToArray();
        var inputs = new float[2 * 784];
        inputs[5] = float.PositiveInfinity;
        var optimizer = new Sgd(0.1f, options: new OptimizerOptions { GlobalClipNorm = 1f });
        Assert.True(float.IsNaN(gpu.TrainStep(inputs, new[] { 1, 2 }, optimizer)));
        Assert.True(gpu.LastStepSkipped);
        Assert.Equal(0, optimizer.Iterations);
        gpu.CopyToHost();
        Assert.Equal(before, host.Parameters.ToArray());
    }

    /// <summary>A user's own rule (not one of the built-in kernels): w -= g / 2, no state.</summary>
    private sealed class HalfStep : IOptimizer
    {
        public int StateSlots => 0;

        public float LearningRate { get; set; } = 0.5f;

        public long Iterations { get; set; }

        public OptimizerOptions Options { get; } = OptimizerOptions.Default;

        public void BeginStep() => Iterations++;

        public void Update(in ParameterSlice slice)
        {
            for (int i = 0; i < slice.Values.Length; i++)
            {
                slice.Values[i] -= LearningRate * slice.Gradients[i] * slice.GradientScale;
            }
        }
    }
}

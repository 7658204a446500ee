using NetDsl.Data;
using NetDsl.Optimizers;
using NetDsl.Training;

namespace NetDsl.Gpu.Tests;

/// <summary>
/// A NaN is never silent on the GPU backend either (ILGPU's CPU accelerator here; the kernels avoid max.f32, which drops
/// NaN on a real device): NaN and infinity in the inputs reach the loss through ReLU and max pooling, the device-side
/// check skips the update (no parameter or optimizer state is written, the step count is undone), and Fit stops naming
/// the step.
/// </summary>
public class NonFiniteSessionTests(DeviceFixture fixture) : IClassFixture<DeviceFixture>
{
    private const int Batch = 4;
    private readonly GpuDevice _device = fixture.Device;

    public static TheoryData<float> NonFiniteValues => new() { float.NaN, float.PositiveInfinity, float.NegativeInfinity };

    private static float[] RandomInputs(Network network, int rows, int seed)
    {
        var random = new Random(seed);
        var inputs = new float[rows * network.InputSize];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = (float)random.NextDouble();
        }

        return inputs;
    }

    private static int[] Labels(int rows, int classes) => [.. Enumerable.Range(0, rows).Select(i => i % classes)];

    /// <summary>Every parameter (BatchNorm's moving statistics included), as the host copy holds them.</summary>
    private static float[] TrainableAndState(CnnNonFinite host) => host.Parameters.ToArray();

    [Theory]
    [MemberData(nameof(NonFiniteValues))]
    public void ANonFiniteInputPixelSkipsTheStepOnTheDevice(float bad)
    {
        using var host = new CnnNonFinite(Batch, seed: 3);
        using var gpu = host.ToGpu(_device);
        var optimizer = new Adam(0.01f);
        var inputs = RandomInputs(host, Batch, 1);
        var labels = Labels(Batch, host.OutputSize);
        Assert.True(float.IsFinite(gpu.TrainStep(inputs, labels, optimizer)));
        gpu.CopyToHost();
        var before = TrainableAndState(host);
        long iterations = optimizer.Iterations;

        inputs[2 * host.InputSize + 27] = bad;
        float loss = gpu.TrainStep(inputs, labels, optimizer);
        Assert.True(float.IsNaN(loss), $"loss {loss}");
        Assert.True(gpu.LastStepSkipped);
        Assert.Equal(1, gpu.SkippedSteps);
        Assert.Equal(iterations, optimizer.Iterations);
        gpu.CopyToHost();
        Assert.Equal(before, TrainableAndState(host));

        inputs[2 * host.InputSize + 27] = 0.5f;
        Assert.True(float.IsFinite(gpu.TrainStep(inputs, labels, optimizer)));
        Assert.False(gpu.LastStepSkipped);
        gpu.CopyToHost();
        Assert.NotEqual(before, TrainableAndState(host));
        Assert.All(TrainableAndState(host), v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>A NaN in any cell of a max-pooling window reaches the loss (the running maximum keeps it).</summary>
    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(0, 1, 1)]
    [InlineData(19, 0, 1)]
    [InlineData(7, 2, 3)]
    public void MaxPoolingKeepsANaNOnTheDevice(int channel, int row, int col)
    {
        using var host = new PoolNonFinite(Batch, seed: 5);
        using var gpu = host.ToGpu(_device);
        var inputs = RandomInputs(host, Batch, 2);
        inputs[3 * host.InputSize + channel * 16 + row * 4 + col] = float.NaN;
        var before = host.Parameters.ToArray();
        Assert.True(float.IsNaN(gpu.TrainStep(inputs, Labels(Batch, host.OutputSize), new Sgd(0.1f))));
        Assert.True(gpu.LastStepSkipped);
        gpu.CopyToHost();
        Assert.Equal(before, host.Parameters.ToArray());
    }

    [Fact]
    public void ADivergingLearningRateStopsFitOnTheDevice()
    {
        using var host = new CnnNonFinite(Batch, seed: 3);
        using var gpu = host.ToGpu(_device);
        var data = new MemoryDataSource(RandomInputs(host, 32, 4), Labels(32, host.OutputSize), host.InputSize);
        var error = Assert.Throws<NonFiniteTrainingException>(() =>
            gpu.Fit(data, new Sgd(1e30f), new FitOptions { Epochs = 50, BatchSize = Batch, Verbose = Verbosity.Silent }));
        Assert.Contains($"epoch {error.Epoch + 1}/50, step {error.Step + 1}/8", error.Message, StringComparison.Ordinal);
        Assert.All(host.Parameters.ToArray(), v => Assert.True(float.IsFinite(v))); // Fit copied the weights back when it stopped
    }
}

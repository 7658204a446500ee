using NetDsl.Datasets;
using NetDsl.Optimizers;
using NetDsl.Training;

namespace NetDsl.Gpu.Tests;

/// <summary>The Keras-level API on a GPU session (ILGPU's CPU accelerator here): Fit, Evaluate, Predict, callbacks, History.</summary>
public class SessionTrainingTests : IClassFixture<DeviceFixture>
{
    private readonly GpuDevice _device;

    public SessionTrainingTests(DeviceFixture fixture) => _device = fixture.Device;

    /// <summary>
    /// A short Fit on real MNIST digits: the session reaches the CPU backend's test accuracy within a point (same seed,
    /// same shuffles, same masks; the two differ only in float rounding).
    /// </summary>
    [Fact]
    public void FitOnRealDigitsReachesTheCpuAccuracy()
    {
        var (train, test) = MnistDigits.Load();
        train = Sample(train, 2048); // the split is ordered by digit: a random subset has every class
        using var cpu = new DigitsMlpSmall(32, seed: 4);
        using var host = new DigitsMlpSmall(32, seed: 4);
        using var gpu = host.ToGpu(_device);
        var options = new FitOptions { Epochs = 2, BatchSize = 32, Verbose = Verbosity.Silent };
        var cpuHistory = cpu.Fit(train, new Sgd(0.05f, momentum: 0.9f), options);
        var gpuHistory = gpu.Fit(train, new Sgd(0.05f, momentum: 0.9f), options);

        double cpuAccuracy = cpu.Evaluate(test)["accuracy"];
        double gpuAccuracy = gpu.Evaluate(test)["accuracy"];
        Assert.True(cpuAccuracy > 0.80, $"the CPU run itself should learn (accuracy {cpuAccuracy:P2})");
        Assert.True(Math.Abs(cpuAccuracy - gpuAccuracy) <= 0.01, $"CPU {cpuAccuracy:P2}, GPU {gpuAccuracy:P2}");
        Assert.Equal(2, gpuHistory.Count);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            Assert.True(Math.Abs(cpuHistory.Loss[epoch] - gpuHistory.Loss[epoch]) <= 1e-3 * cpuHistory.Loss[epoch],
                $"epoch {epoch}: loss CPU {cpuHistory.Loss[epoch]}, GPU {gpuHistory.Loss[epoch]}");
        }
    }

    /// <summary>Callbacks see the session's weights at epoch ends (a checkpoint written from the host network), and the
    /// weights a callback restores (EarlyStopping's best) go back to the device.</summary>
    [Fact]
    public void CallbacksSeeAndChangeTheDeviceWeights()
    {
        var (train, test) = MnistDigits.Load();
        train = Sample(train, 256);
        using var host = new DigitsMlpSmall(32, seed: 9);
        using var gpu = host.ToGpu(_device);
        string file = Path.Combine(Path.GetTempPath(), $"netdsl-gpu-{Guid.NewGuid():N}.safetensors");
        try
        {
            var probe = new WeightProbe();
            gpu.Fit(train, new Sgd(0.05f), new FitOptions
            {
                Epochs = 2,
                BatchSize = 32,
                Verbose = Verbosity.Silent,
                Callbacks = [probe, new ModelCheckpoint(file)],
            });

            // The probe saw different weights after each epoch: the device's, copied down.
            Assert.Equal(2, probe.Snapshots.Count);
            Assert.NotEqual(probe.Snapshots[0], probe.Snapshots[1]);

            // A fresh network loading the checkpoint predicts like the session.
            using var restored = new DigitsMlpSmall(32, seed: 1);
            restored.LoadWeights(file);
            var expected = restored.Predict(test.Take(40));
            var actual = gpu.Predict(test.Take(40));
            SessionParityTestsBase.AssertClose("predictions of the saved weights", expected, actual);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static NetDsl.Data.Dataset Sample(NetDsl.Data.Dataset data, int count)
    {
        var indices = Enumerable.Range(0, data.Count).ToArray();
        new Random(1).Shuffle(indices);
        return data.Subset(indices.AsSpan(0, count));
    }

    private sealed class WeightProbe : Callback
    {
        public List<float[]> Snapshots { get; } = [];

        public override void OnEpochEnd(int epoch, Logs logs) => Snapshots.Add(Context.Network.Parameters.ToArray());
    }
}

using System.Runtime.Intrinsics;
using NetDsl.Data;
using NetDsl.Kernels;
using NetDsl.Optimizers;
using NetDsl.Training;
using Xunit;

namespace NetDsl.Tests.Numerics;

/// <summary>
/// A NaN is never silent: NaN and infinity in the inputs, in loaded weights, or from a learning rate that makes training
/// diverge, are reported, and no parameter turns non-finite. In the Numerics namespace, so CI runs them at every SIMD
/// width (DOTNET_EnableAVX512=0 for 256 bits, DOTNET_EnableAVX2=0 as well for 128); the lane-level tests below also call
/// each width the machine accelerates directly.
/// </summary>
public class NonFiniteTests
{
    private const int Batch = 4;

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

    private static void AssertAllFinite(Network network, string when)
    {
        var parameters = network.Parameters;
        for (int i = 0; i < parameters.Length; i++)
        {
            Assert.True(float.IsFinite(parameters[i]), $"{when}: parameter {i} is {parameters[i]}");
        }
    }

    [Fact]
    public void ReLUPropagatesNaNAtEveryAcceleratedWidth()
    {
        Assert.True(float.IsNaN(Act.ReLU.Forward(float.NaN)));
        Assert.Equal(0f, Act.ReLU.Forward(-3f));
        Assert.Equal(2f, Act.ReLU.Forward(2f));
        Assert.Equal(float.PositiveInfinity, Act.ReLU.Forward(float.PositiveInfinity));
        Assert.Equal(0f, Act.ReLU.Forward(float.NegativeInfinity));
        Check<Simd128, Vector128<float>>(Vector128.IsHardwareAccelerated);
        Check<Simd256, Vector256<float>>(Vector256.IsHardwareAccelerated);
        Check<Simd512, Vector512<float>>(Vector512.IsHardwareAccelerated);

        static unsafe void Check<TS, TV>(bool accelerated) where TS : ISimd<TV> where TV : struct
        {
            if (!accelerated)
            {
                return;
            }

            int n = TS.Count;
            var x = new float[n];
            var y = new float[n];
            for (int lane = 0; lane < n; lane++)
            {
                for (int i = 0; i < n; i++)
                {
                    x[i] = i % 3 == 0 ? -1f - i : i;
                }

                x[lane] = float.NaN;
                fixed (float* px = x, py = y)
                {
                    TS.Store(py, Act.ReLU.Forward<TS, TV>(TS.Load(px)));
                }

                for (int i = 0; i < n; i++)
                {
                    float expected = i == lane ? float.NaN : Math.Max(x[i], 0f);
                    Assert.True(expected.Equals(y[i]), $"{typeof(TV).Name} lane {i} (NaN in lane {lane}): {y[i]}, expected {expected}");
                }
            }
        }
    }

    /// <summary>The report: one NaN (or infinite) pixel, one step. Before: a finite loss and NaN parameters.</summary>
    [Theory]
    [MemberData(nameof(NonFiniteValues))]
    public void ANonFiniteInputPixelSkipsTheStepAndIsReported(float bad)
    {
        using var network = new CnnNonFinite(Batch, seed: 3);
        var optimizer = new Adam(0.01f);
        var inputs = RandomInputs(network, Batch, 1);
        var labels = Labels(Batch, network.OutputSize);
        Assert.True(float.IsFinite(network.TrainStep(inputs, labels, optimizer)));
        Assert.False(network.LastStepSkipped);
        var before = network.Parameters.ToArray();
        long iterations = optimizer.Iterations;

        inputs[2 * network.InputSize + 27] = bad; // sample 2, pixel (3, 3)
        float loss = network.TrainStep(inputs, labels, optimizer);

        Assert.True(float.IsNaN(loss), $"loss {loss}");
        Assert.True(network.LastStepSkipped);
        Assert.Equal(1, network.SkippedSteps);
        Assert.Equal(iterations, optimizer.Iterations);
        Assert.Equal(before, network.Parameters.ToArray()); // weights, BatchNorm moving statistics, all bit for bit
        AssertAllFinite(network, "after the skipped step");

        inputs[2 * network.InputSize + 27] = 0.5f;
        Assert.True(float.IsFinite(network.TrainStep(inputs, labels, optimizer)));
        Assert.False(network.LastStepSkipped);
        Assert.NotEqual(before, network.Parameters.ToArray());
        AssertAllFinite(network, "after the next clean step");
    }

    /// <summary>Without the check the forward pass alone must carry the NaN to the loss (ReLU and max pooling propagate it).</summary>
    [Fact]
    public void ANaNInputReachesTheLossThroughReLUBatchNormAndPooling()
    {
        using var network = new CnnNonFinite(Batch, seed: 3);
        network.CheckFiniteGradients = false;
        var inputs = RandomInputs(network, Batch, 1);
        inputs[1 * network.InputSize + 36] = float.NaN;
        float loss = network.ComputeGradients(inputs, Labels(Batch, network.OutputSize));
        Assert.True(float.IsNaN(loss), $"loss {loss}");
    }

    /// <summary>A NaN in any cell of a max-pooling window (first, middle or last in the running maximum), in a vector lane or the scalar tail.</summary>
    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(0, 0, 1)]
    [InlineData(0, 1, 0)]
    [InlineData(0, 1, 1)]
    [InlineData(19, 0, 0)]
    [InlineData(19, 1, 1)]
    [InlineData(7, 2, 3)]
    public void MaxPoolingKeepsANaNFromAnyCellOfItsWindow(int channel, int row, int col)
    {
        using var network = new PoolNonFinite(Batch, seed: 5);
        network.CheckFiniteGradients = false;
        var inputs = RandomInputs(network, Batch, 2);
        inputs[3 * network.InputSize + channel * 16 + row * 4 + col] = float.NaN; // sample 3, channels-first input
        float loss = network.ComputeGradients(inputs, Labels(Batch, network.OutputSize));
        Assert.True(float.IsNaN(loss), $"loss {loss}");

        network.CheckFiniteGradients = true;
        var before = network.Parameters.ToArray();
        Assert.True(float.IsNaN(network.TrainStep(inputs, Labels(Batch, network.OutputSize), new Sgd(0.1f))));
        Assert.True(network.LastStepSkipped);
        Assert.Equal(before, network.Parameters.ToArray());
    }

    [Theory]
    [MemberData(nameof(NonFiniteValues))]
    public void WeightsWithNaNOrInfinityAreRefusedWhenLoaded(float bad)
    {
        using var source = new CnnNonFinite(Batch, seed: 3);
        source.Conv.Weights[17] = bad;
        using var stream = new MemoryStream();
        source.SaveWeights(stream);

        using var target = new CnnNonFinite(Batch, seed: 9);
        var before = target.Parameters.ToArray();
        stream.Position = 0;
        var error = Assert.Throws<InvalidDataException>(() => target.LoadWeights(stream, sourceName: "bad.safetensors"));
        Assert.Contains("Conv.kernel", error.Message, StringComparison.Ordinal);
        Assert.Contains("index", error.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was loaded", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, target.Parameters.ToArray());
    }

    [Fact]
    public void ACheckpointWithNaNIsRefusedAndChangesNothing()
    {
        using var source = new CnnNonFinite(Batch, seed: 3);
        var adam = new Adam(0.01f);
        source.TrainStep(RandomInputs(source, Batch, 1), Labels(Batch, source.OutputSize), adam);
        source.Output.Bias[1] = float.NaN;
        using var stream = new MemoryStream();
        source.SaveCheckpoint(stream, adam, new NetDsl.Serialization.TrainingProgress(1));

        using var target = new CnnNonFinite(Batch, seed: 3);
        var fresh = new Adam(0.01f) { LearningRate = 0.5f };
        var before = target.Parameters.ToArray();
        stream.Position = 0;
        var error = Assert.Throws<InvalidDataException>(() => target.LoadCheckpoint(stream, fresh));
        Assert.Contains("'Output.bias' (shape [10]) holds NaN at flat index 1", error.Message, StringComparison.Ordinal);
        Assert.Equal(0.5f, fresh.LearningRate);
        Assert.Equal(0, fresh.Iterations);
        Assert.Equal(before, target.Parameters.ToArray());
    }

    /// <summary>A learning rate far too high: the loss overflows within a few steps; Fit stops naming the step, weights finite.</summary>
    [Fact]
    public void ADivergingLearningRateStopsFitWithAMessageNamingTheStep()
    {
        using var network = new CnnNonFinite(Batch, seed: 3);
        var data = new MemoryDataSource(RandomInputs(network, 64, 4), Labels(64, network.OutputSize), network.InputSize);
        var error = Assert.Throws<NonFiniteTrainingException>(() =>
            network.Fit(data, new Sgd(1e30f), new FitOptions { Epochs = 50, BatchSize = Batch, Verbose = Verbosity.Silent }));

        Assert.Contains($"epoch {error.Epoch + 1}/50, step {error.Step + 1}/16", error.Message, StringComparison.Ordinal);
        Assert.True(network.LastStepSkipped);
        AssertAllFinite(network, "after Fit stopped");
    }

    [Fact]
    public void FitNamesTheSampleAndFeatureOfANonFiniteInput()
    {
        using var network = new CnnNonFinite(Batch, seed: 3);
        var features = RandomInputs(network, 16, 4);
        features[9 * network.InputSize + 5] = float.PositiveInfinity;
        var data = new MemoryDataSource(features, Labels(16, network.OutputSize), network.InputSize);
        var error = Assert.Throws<NonFiniteTrainingException>(() =>
            network.Fit(data, new Adam(0.01f), new FitOptions { Epochs = 2, BatchSize = Batch, ShuffleSeed = 7, Verbose = Verbosity.Silent }));
        Assert.Equal(0, error.Epoch);
        Assert.Contains("Sample 9 of the training data has Infinity at feature 5", error.Message, StringComparison.Ordinal);
        AssertAllFinite(network, "after Fit stopped");
    }

    [Fact]
    public void TerminateOnNaNFiresOnASkippedStep()
    {
        using var network = new CnnNonFinite(Batch, seed: 3);
        var features = RandomInputs(network, 16, 4);
        features[9 * network.InputSize + 5] = float.NaN; // sample 9: batch 2 of 4 (no shuffle)
        var data = new MemoryDataSource(features, Labels(16, network.OutputSize), network.InputSize);
        var terminate = new TerminateOnNaN();
        var history = network.Fit(data, new Adam(0.01f), new FitOptions { Epochs = 3, BatchSize = Batch, Shuffle = false, Verbose = Verbosity.Silent, Callbacks = [terminate] });

        Assert.Equal((0, 2), terminate.TerminatedAt);
        Assert.Equal(1, network.SkippedSteps);
        Assert.Single(history.Epochs);
        AssertAllFinite(network, "after TerminateOnNaN");
    }

    [Fact]
    public void TheScanFindsEveryNonFiniteValueAtEveryPosition()
    {
        foreach (int length in new[] { 1, 3, 15, 16, 17, 63, 64, 65, 200 })
        {
            var values = new float[length];
            Assert.False(Scan(values));
            for (int at = 0; at < length; at++)
            {
                foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                {
                    values[at] = bad;
                    Assert.True(Scan(values), $"length {length}, {bad} at {at}");
                }

                values[at] = float.MaxValue;
                Assert.False(Scan(values));
                values[at] = 0f;
            }
        }

        static unsafe bool Scan(float[] values)
        {
            fixed (float* p = values)
            {
                return Finite.AnyNonFinite(p, values.Length);
            }
        }
    }
}

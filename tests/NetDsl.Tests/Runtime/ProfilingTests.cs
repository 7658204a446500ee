using NetDsl.Optimizers;
using NetDsl.Tests.Numerics;
using Xunit;

namespace NetDsl.Tests.Runtime;

/// <summary><see cref="Network.Profiling"/>: every dispatched phase counted and timed under its generated name.</summary>
public class ProfilingTests
{
    [Fact]
    public void Every_phase_of_every_pass_is_counted_under_its_name()
    {
        using var network = GraphTests.Create("TinyResNet", 4, threads: 2);
        var random = new Random(3);
        float[] x = [.. Enumerable.Range(0, 4 * network.InputSize).Select(_ => (float)random.NextDouble())];
        int[] labels = NetworkFactory.RandomLabels(random, 4, network.OutputSize);
        float[] y = new float[4 * network.OutputSize];
        network.Predict(x, y);
        Assert.Empty(network.PhaseTimings()); // off by default

        network.Profiling = true;
        var sgd = new Sgd(0.01f);
        for (int i = 0; i < 3; i++)
        {
            network.TrainStep(x, labels, sgd);
        }

        network.Predict(x, y);
        network.Predict(x, y);
        var timings = network.PhaseTimings();
        Assert.Contains(timings, t => t.Phase == "Loss" && t.Calls == 3);
        Assert.Contains(timings, t => t.Phase.StartsWith("Backward_", StringComparison.Ordinal) && t.Calls == 3);
        Assert.Contains(timings, t => t.Phase.StartsWith("Infer_", StringComparison.Ordinal) && t.Calls == 2 && t.Description.Contains("fused", StringComparison.Ordinal));
        Assert.Contains(timings, t => t.Phase.StartsWith("Forward_", StringComparison.Ordinal) && t.Calls == 5); // a phase both programs share
        Assert.All(timings, t => Assert.True(t.Total > TimeSpan.Zero, t.Phase));
        Assert.Equal(timings.OrderByDescending(t => t.Total).Select(t => t.Phase), timings.Select(t => t.Phase));

        network.Profiling = true; // again: from zero
        Assert.Empty(network.PhaseTimings());
        network.Profiling = false;
        network.Predict(x, y);
        Assert.Empty(network.PhaseTimings());
    }
}

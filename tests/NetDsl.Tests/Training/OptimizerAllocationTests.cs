using NetDsl.Optimizers;
using NetDsl.Tests.Numerics;
using NetDsl.Tests.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Training;

/// <summary>
/// The clipping path of a training step (the parallel gradient-norm reduction, the per-tensor or global scales, the
/// scheduled, weight-decayed update of every optimizer) allocates nothing on the managed heap once warm, measured as
/// <see cref="AllocationTests"/> does: the calling thread and every worker thread exactly 0 bytes, and at least one of up
/// to 24 windows of about 30 ms (at most 200 steps) with 0 bytes process-wide (a non-zero window is tolerated only while thread-pool work
/// items of the test host completed in it; see <see cref="AllocationTests"/>). Runs in the same non-parallel collection.
/// </summary>
[Collection(AllocationCollection.Name)]
public class OptimizerAllocationTests(ITestOutputHelper output)
{
    private const int Batch = 16;

    public static TheoryData<string, int, string> Cases() => new()
    {
        { nameof(Net40x130x10), 1, "adamw-global" },
        { nameof(Net40x130x10), 2, "adamw-global" },
        { nameof(Net40x130x10), 2, "rmsprop-per-tensor" },
        { nameof(CnnBatchNorm), 2, "sgd-per-tensor" },
        { nameof(Deep4), 2, "adagrad-clip-value" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Clipped_scheduled_training_steps_allocate_nothing_after_warm_up(string name, int threads, string optimizerName)
    {
        using var net = OptimizerClippingTests.Create(name, Batch, threads);
        var random = new Random(5);
        float[] full = NetworkFactory.RandomFloats(random, Batch * net.InputSize);
        int[] fullLabels = NetworkFactory.RandomLabels(random, Batch, net.OutputSize);
        float[] partial = NetworkFactory.RandomFloats(random, 7 * net.InputSize);
        int[] partialLabels = NetworkFactory.RandomLabels(random, 7, net.OutputSize);
        var schedule = new CosineDecay(1000, alpha: 0.1, warmupSteps: 50, warmupStartFactor: 0.1);
        IOptimizer inner = optimizerName switch
        {
            "adamw-global" => new AdamW(1e-3f, options: new OptimizerOptions { GlobalClipNorm = 0.5f, Schedule = schedule }),
            "rmsprop-per-tensor" => new RmsProp(1e-3f, centered: true, options: new OptimizerOptions { ClipNorm = 0.1f, WeightDecay = 1e-4f, WeightDecayMode = WeightDecayMode.Coupled }),
            "sgd-per-tensor" => new Sgd(0.01f, 0.9f, nesterov: true, decay: 1e-3f, options: new OptimizerOptions { ClipNorm = 0.2f, Schedule = new StepDecay(0.5, 30) }),
            "adagrad-clip-value" => new Adagrad(0.01f, options: new OptimizerOptions { ClipValue = 0.01f, WeightDecay = 1e-3f, Schedule = new ExponentialDecay(0.9, 10) }),
            _ => throw new ArgumentException(optimizerName),
        };
        var probe = new ThreadProbeOptimizer(inner);

        void Work(int iterations)
        {
            for (int i = 0; i < iterations; i++)
            {
                net.TrainStep(full, fullLabels, probe);
                net.TrainStep(partial, partialLabels, probe);
            }
        }

        Work(60); // JIT and tier-1 recompilation, the optimizer switch, the tensor table of the first clipped step
        Thread.Sleep(100);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Work(60);

        // Windows of about 30 ms: the host's own allocation comes about every 100 ms, so a longer window (the CNN's
        // steps are slower) would never be clean process-wide. The per-thread counters catch any NetDsl allocation
        // whatever the window length.
        int perWindow = Math.Clamp((int)(0.03 / (clock.Elapsed.TotalSeconds / 60)), 10, 100);

        Assert.True(net.SkippedSteps == 0, $"{net.SkippedSteps} steps were skipped as non-finite"); // a skipped step runs no update to probe
        string log = probe.AssertWindowsAllocateNothing(threads, () => Work(perWindow));
        output.WriteLine($"{name}, threads {threads}, {optimizerName} ({perWindow} x 2 steps per window): {log}");
        if (optimizerName != "adagrad-clip-value")
        {
            Assert.True(double.IsFinite(net.LastGradientNorm) && net.LastGradientNorm > 0, $"no gradient norm was measured ({net.LastGradientNorm})");
        }

        Assert.All(net.Parameters.ToArray(), v => Assert.True(float.IsFinite(v)));
    }
}

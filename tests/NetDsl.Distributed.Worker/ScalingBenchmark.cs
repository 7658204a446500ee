using System.Diagnostics;
using System.Globalization;
using NetDsl;
using NetDsl.Distributed;
using NetDsl.Optimizers;

/// <summary>
/// The scaling numbers in the README (<c>mpirun -np N dotnet NetDsl.Distributed.Worker.dll --bench THREADS [blocking]</c>): the
/// reference CNN (mnist_transfer_cnn), a global batch of 128 split over the ranks, Adadelta; the mean step time over 30
/// steps after 10 warm-up steps, the time of the gradient Allreduce alone, and the arena it reduces.
/// </summary>
internal static class ScalingBenchmark
{
    private const int GlobalBatch = 128, Warmup = 10, Steps = 30, Rounds = 3;

    public static int Run(MpiCommunicator world, int threads, bool blocking)
    {
        int rows = GlobalBatch / world.Size;
        using var network = new ReferenceCnn(rows, seed: 1, threads);
        world.Timeout = blocking ? Timeout.InfiniteTimeSpan : TimeSpan.FromMinutes(5);
        var trainer = new DataParallel(network, world);
        var optimizer = new Adadelta(1f);
        var random = new Random(world.Rank);
        float[] inputs = [.. Enumerable.Range(0, rows * network.InputSize).Select(_ => (float)random.NextDouble())];
        int[] labels = [.. Enumerable.Range(0, rows).Select(_ => random.Next(10))];
        for (int i = 0; i < Warmup; i++)
        {
            trainer.TrainStep(inputs, labels, optimizer);
        }

        // The reduction after the backward pass and the one overlapped with it, alternating in rounds (the machine's
        // speed drifts): the mean step time of each.
        const int Modes = 3; // reduce after the backward pass; overlap with tests between phases; overlap with the progress thread
        var stepMsByMode = new double[Modes];
        var waitMsByMode = new double[Modes];
        var watch = new Stopwatch();
        for (int round = 0; round < Rounds; round++)
        {
            for (int mode = 0; mode < Modes; mode++)
            {
                trainer.Overlap = mode > 0;
                world.BackgroundProgress = mode == 2;
                trainer.GradientWait = TimeSpan.Zero;
                world.Barrier();
                watch.Restart();
                for (int i = 0; i < Steps; i++)
                {
                    trainer.TrainStep(inputs, labels, optimizer);
                }

                world.Barrier();
                stepMsByMode[mode] += watch.Elapsed.TotalMilliseconds / Steps / Rounds;
                waitMsByMode[mode] += trainer.GradientWait.TotalMilliseconds / Steps / Rounds;
            }
        }

        double stepMs = stepMsByMode[2];

        watch.Restart();
        for (int i = 0; i < Steps; i++)
        {
            world.AllreduceSum(network.Gradients);
        }

        world.Barrier();
        double reduceMs = watch.Elapsed.TotalMilliseconds / Steps;

        watch.Restart();
        for (int i = 0; i < Steps; i++)
        {
            network.ComputeGradients(inputs, labels);
        }

        double computeMs = watch.Elapsed.TotalMilliseconds / Steps;
        if (world.IsRoot)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ranks={world.Size} threads_per_rank={threads} reduction={(blocking ? "blocking" : "polled")} rows_per_rank={rows} step_ms={stepMs:F2} images_per_s={GlobalBatch / stepMs * 1000:F0} wait_ms={waitMsByMode[2]:F2} step_ms_overlap_tests_only={stepMsByMode[1]:F2} wait_ms_overlap_tests_only={waitMsByMode[1]:F2} step_ms_reduce_after_backward={stepMsByMode[0]:F2} images_per_s_reduce_after_backward={GlobalBatch / stepMsByMode[0] * 1000:F0} wait_ms_reduce_after_backward={waitMsByMode[0]:F2} compute_ms={computeMs:F2} allreduce_ms={reduceMs:F3} gradient_mb={network.Gradients.Length * 4 / 1e6:F2}"));
        }

        return 0;
    }
}

/// <summary>Keras' mnist_transfer_cnn, the reference workload.</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(1, 28, 28)]
public partial class ReferenceCnn
{
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv1 { get; }
    [Conv2D(32, 3, Activation.ReLU)] public partial Conv2DLayer Conv2 { get; }
    [MaxPool2D(2)]                   public partial PoolingLayer Pool { get; }
    [Dropout(0.25)]                  public partial DropoutLayer FeatureDropout { get; }
    [Flatten]                        public partial FlattenLayer Flatten { get; }
    [Dense(128, Activation.ReLU)]    public partial DenseLayer Hidden { get; }
    [Dropout(0.5)]                   public partial DropoutLayer HiddenDropout { get; }
    [Dense(10, Activation.Softmax)]  public partial DenseLayer Output { get; }
}

using NetDsl.Data;
using NetDsl.Optimizers;
using NetDsl.Training;
using Xunit;

namespace NetDsl.Tests.Fit;

/// <summary>
/// Data-parallel <c>Fit</c> (<see cref="FitOptions.Distributed"/>) with the ranks as threads of this process (the MPI
/// tests in NetDsl.Distributed.Tests run the same under mpirun): the ranks end identical and equal to one process
/// training on the global batches, only rank 0 prints and runs root-only callbacks, a stop asked on one rank stops all,
/// and ranks given different data all fail.
/// </summary>
public sealed class DistributedFitTests
{
    private const int GlobalBatch = 16;

    [Fact]
    public void One_rank_is_bit_identical_to_training_alone()
    {
        var data = FitTestData.Blobs(100);
        using var alone = new FitMlp(GlobalBatch, seed: 3, threads: 1);
        using var ranked = new FitMlp(GlobalBatch, seed: 3, threads: 1);
        var expected = alone.Fit(data, new Sgd(0.1f, momentum: 0.9f), Options(2, null));
        var history = ranked.Fit(data, new Sgd(0.1f, momentum: 0.9f), Options(2, new ThreadGroup(1).Rank(0)));
        Assert.Equal(alone.Parameters.ToArray(), ranked.Parameters.ToArray());
        Assert.Equal(expected.Loss, history.Loss);
        Assert.Equal(expected["val_accuracy"], history["val_accuracy"]);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)] // unequal shards of 16 rows: 5, 5 and 6
    public void Ranks_end_identical_and_equal_to_one_process_on_the_global_batches(int ranks)
    {
        var data = FitTestData.Blobs(100);
        using var alone = new FitMlp(GlobalBatch, seed: 3, threads: 1);
        var expected = alone.Fit(data, new Sgd(0.1f, momentum: 0.9f), Options(3, null));

        var group = new ThreadGroup(ranks);
        var outputs = new StringWriter[ranks];
        var recorders = new Recorder[ranks];
        var results = RunRanks(ranks, rank =>
        {
            outputs[rank] = new StringWriter();
            recorders[rank] = new Recorder();
            var network = new FitMlp((GlobalBatch + ranks - 1) / ranks, seed: rank == 0 ? 3 : 100 + rank, threads: 1); // other seeds elsewhere: rank 0's weights must be broadcast
            var history = network.Fit(data, new Sgd(0.1f, momentum: 0.9f), Options(3, group.Rank(rank)) with { Output = outputs[rank], Verbose = Verbosity.EpochLines, Callbacks = [recorders[rank]] });
            return (network, history);
        });

        float[] reference = alone.Parameters.ToArray();
        for (int rank = 0; rank < ranks; rank++)
        {
            var (network, history) = results[rank];
            Assert.Equal(results[0].Network.Parameters.ToArray(), network.Parameters.ToArray());
            // Tolerance: shard means weighted by rows and summed across ranks change the order of the float sums, a
            // few ulps per step; 21 momentum steps keep the weights within 1e-5 of the largest (an unaveraged or
            // double-counted shard moves them by ~1e-2 of it).
            float largest = reference.Max(Math.Abs);
            Assert.All(reference.Zip(network.Parameters.ToArray()), p => Assert.InRange(Math.Abs(p.First - p.Second), 0, 1e-5f * largest));
            Assert.Equal(expected.Loss.Count, history.Loss.Count);
            for (int epoch = 0; epoch < expected.Loss.Count; epoch++)
            {
                Assert.Equal(expected.Loss[epoch], history.Loss[epoch], 1e-5);
                Assert.Equal(expected["accuracy"][epoch], history["accuracy"][epoch], 0.011); // one sample of 80
                Assert.Equal(expected["val_loss"][epoch], history["val_loss"][epoch], 1e-5);
            }

            Assert.Equal(rank == 0, outputs[rank].ToString().Contains("Epoch 3/3", StringComparison.Ordinal));
            Assert.Equal(rank == 0 ? 3 : 0, recorders[rank].Epochs); // root-only callbacks run on rank 0 alone
        }

        foreach (var (network, _) in results)
        {
            network.Dispose();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Gradients_reduced_in_buckets_during_the_backward_pass_match_one_process(bool overlap)
    {
        // 8 -> 600 -> 16 -> 4: the last two layers' gradients (9,684 floats) form a bucket started while the first
        // layer's backward pass still has to run; a bucket started before its gradients were final would be reduced
        // half-written, and the weights would differ.
        var data = FitTestData.Blobs(96);
        using var alone = new WideMlp(GlobalBatch, seed: 3, threads: 1);
        var optimizer = new Sgd(0.05f, momentum: 0.9f);
        var batcher = new Batcher(data, GlobalBatch, seed: 1);
        var group = new ThreadGroup(2);
        var results = new WideMlp[2];
        var steps = new DataParallelStep[2];
        for (int rank = 0; rank < 2; rank++)
        {
            results[rank] = new WideMlp(GlobalBatch / 2, seed: 3, threads: 1);
            steps[rank] = new DataParallelStep(results[rank], group.Rank(rank)) { Overlap = overlap };
        }

        var optimizers = new[] { new Sgd(0.05f, momentum: 0.9f), new Sgd(0.05f, momentum: 0.9f) };
        batcher.StartEpoch(0);
        while (batcher.MoveNext())
        {
            alone.TrainStep(batcher.Features, batcher.Labels, optimizer);
            var threads = Enumerable.Range(0, 2).Select(rank => new Thread(() => steps[rank].TrainStep(batcher, classLabels: true, optimizers[rank]))).ToArray();
            Array.ForEach(threads, t => t.Start());
            Array.ForEach(threads, t => Assert.True(t.Join(TimeSpan.FromMinutes(1))));
        }

        float[] expected = alone.Parameters.ToArray();
        float largest = expected.Max(Math.Abs);
        foreach (var network in results)
        {
            Assert.Equal(results[0].Parameters.ToArray(), network.Parameters.ToArray());
            Assert.All(expected.Zip(network.Parameters.ToArray()), p => Assert.InRange(Math.Abs(p.First - p.Second), 0, 1e-5f * largest));
        }

        Array.ForEach(results, n => n.Dispose());
    }

    [Fact]
    public void A_stop_asked_on_one_rank_stops_every_rank_after_the_same_batch()
    {
        var data = FitTestData.Blobs(100);
        var group = new ThreadGroup(2);
        var results = RunRanks(2, rank =>
        {
            var network = new FitMlp(8, seed: 3, threads: 1);
            Callback[] callbacks = rank == 0 ? [new StopAt(3)] : [];
            var history = network.Fit(data, new Sgd(0.1f), Options(5, group.Rank(rank)) with { Callbacks = callbacks });
            return (network, history);
        });

        try
        {
            Assert.Equal(1, results[0].History.Count); // stopped during the first epoch, on both ranks
            Assert.Equal(1, results[1].History.Count);
            Assert.Equal(results[0].Network.Parameters.ToArray(), results[1].Network.Parameters.ToArray());
            Assert.Equal(4, results[1].Network.Steps); // batches 0 to 3
        }
        finally
        {
            Array.ForEach(results, r => r.Network.Dispose());
        }
    }

    [Fact]
    public void Ranks_given_different_data_all_fail_naming_what_differs()
    {
        var group = new ThreadGroup(2);
        var errors = new Exception?[2];
        RunRanks(2, rank =>
        {
            using var network = new FitMlp(8, seed: 3, threads: 1);
            errors[rank] = Record.Exception(() => network.Fit(FitTestData.Blobs(rank == 0 ? 100 : 96), new Sgd(0.1f), Options(1, group.Rank(rank))));
            return (network, new History());
        });

        Assert.All(errors, e => Assert.Contains("the ranks disagree on the number of training samples", Assert.IsType<InvalidOperationException>(e).Message));
    }

    [Fact]
    public void A_global_batch_larger_than_the_ranks_can_hold_is_refused()
    {
        using var network = new FitMlp(8, seed: 3, threads: 1);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => network.Fit(FitTestData.Blobs(100), new Sgd(0.1f), Options(1, new ThreadGroup(1).Rank(0)) with { BatchSize = 9 }));
        Assert.Contains("1 ranks of 8", error.Message);
    }

    private static FitOptions Options(int epochs, IProcessGroup? group) => new()
    {
        Epochs = epochs,
        BatchSize = GlobalBatch,
        ValidationSplit = 0.2,
        ShuffleSeed = 3,
        Verbose = Verbosity.Silent,
        Distributed = group,
    };

    private static (FitMlp Network, History History)[] RunRanks(int ranks, Func<int, (FitMlp, History)> body)
    {
        var results = new (FitMlp, History)[ranks];
        var failures = new Exception?[ranks];
        var threads = Enumerable.Range(0, ranks).Select(rank => new Thread(() =>
        {
            try
            {
                results[rank] = body(rank);
            }
            catch (Exception e)
            {
                failures[rank] = e;
            }
        })).ToArray();
        foreach (var thread in threads)
        {
            thread.Start();
        }

        foreach (var thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromMinutes(2)), "a rank hung");
        }

        Assert.All(failures, e => Assert.True(e is null, e?.ToString()));
        return results;
    }

    /// <summary>A root-only callback counting epochs.</summary>
    private sealed class Recorder : Callback
    {
        public int Epochs { get; private set; }

        public override bool RootRankOnly => true;

        public override void OnEpochEnd(int epoch, Logs logs) => Epochs++;
    }

    /// <summary>Stops training after batch <c>batch</c> (on the rank that has it).</summary>
    private sealed class StopAt(int batch) : Callback
    {
        public override void OnBatchEnd(int b, Logs logs)
        {
            if (b == batch)
            {
                StopTraining();
            }
        }
    }
}

/// <summary>8 -> 600 -> 16 -> 4: large enough for the gradients to be reduced in more than one bucket.</summary>
[Network]
[Input(8)]
public partial class WideMlp
{
    [Dense(600, Activation.ReLU)] public partial DenseLayer Wide { get; }

    [Dense(16, Activation.ReLU)] public partial DenseLayer Narrow { get; }

    [Dense(4, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>
/// Ranks as threads: each collective copies every rank's contribution into a shared slot, waits for all, and combines
/// the slots in rank order (a deterministic sum), then waits again before the slots are reused.
/// </summary>
internal sealed class ThreadGroup(int size)
{
    private readonly Barrier _barrier = new(size);
    private readonly double[][] _slots = new double[size][];

    public IProcessGroup Rank(int rank) => new Member(this, rank);

    private void Exchange(int rank, ReadOnlySpan<double> mine, Action<double[][]> combine)
    {
        _slots[rank] = mine.ToArray();
        Assert.True(_barrier.SignalAndWait(TimeSpan.FromMinutes(1)), "a rank did not reach the collective");
        combine(_slots);
        Assert.True(_barrier.SignalAndWait(TimeSpan.FromMinutes(1)), "a rank did not leave the collective");
    }

    private sealed class Member(ThreadGroup group, int rank) : IProcessGroup
    {
        public int Rank => rank;

        public int Size => group._slots.Length;

        public void Broadcast(Span<float> values, int root)
        {
            var copy = values.ToArray().Select(v => (double)v).ToArray();
            float[] result = [];
            group.Exchange(rank, copy, slots => result = [.. slots[root].Select(v => (float)v)]);
            result.CopyTo(values);
        }

        public void AllreduceSum(Span<float> values, string what, long step)
        {
            var copy = values.ToArray().Select(v => (double)v).ToArray();
            float[] result = [];
            group.Exchange(rank, copy, slots => result = [.. Enumerable.Range(0, copy.Length).Select(i => slots.Aggregate(0f, (sum, s) => sum + (float)s[i]))]);
            result.CopyTo(values);
        }

        public void AllreduceSum(Span<double> values, string what, long step)
        {
            var copy = values.ToArray();
            double[] result = [];
            group.Exchange(rank, copy, slots => result = [.. Enumerable.Range(0, copy.Length).Select(i => slots.Sum(s => s[i]))]);
            result.CopyTo(values);
        }

        public void Allgather(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts, string what, long step)
        {
            Assert.Equal(counts[rank], mine.Length);
            var copy = mine.ToArray().Select(v => (double)v).ToArray();
            float[] result = [];
            group.Exchange(rank, copy, slots => result = [.. slots.SelectMany(s => s).Select(v => (float)v)]);
            result.CopyTo(all);
        }
    }
}

using NetDsl.Data;
using NetDsl.Metrics;
using NetDsl.Optimizers;
using NetDsl.Tests.Numerics;
using NetDsl.Training;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Fit;

public class FitTests(ITestOutputHelper output)
{
    private static FitOptions Quiet(int epochs) => new() { Epochs = epochs, Verbose = Verbosity.Silent };

    /// <summary>
    /// 800 samples of 4 separated blobs, the last 20% held out; 10 epochs of plain SGD(0.01), batch 32 (small steps,
    /// so learning is visible over several epochs). Measured (AVX-512, 1 thread): loss 1.55, 1.22, 0.98, ... 0.26
    /// (falling every epoch); accuracy 0.03 untrained-ish in epoch 0, validation accuracy 0.13, 0.49, 0.93, then 1.0
    /// from epoch 3. The thresholds (loss falling every epoch to below a third of the first, final training and
    /// validation accuracy at least 0.97) fail for a Fit that does not train, trains on the wrong labels or
    /// evaluates the wrong data, and leave room for other SIMD widths.
    /// </summary>
    [Fact]
    public void Fit_reduces_the_loss_and_separates_the_blobs()
    {
        var data = FitTestData.Blobs(800);
        using var net = new FitMlp(32, seed: 3, threads: 1);
        double before = Evaluation.Accuracy(net, data);
        var history = net.Fit(data, new Sgd(0.01f), Quiet(10) with { ValidationSplit = 0.2 });

        output.WriteLine(history.ToCsv());
        Assert.Equal(10, history.Count);
        Assert.Equal(Enumerable.Range(0, 10), history.Epochs);
        Assert.Equal(["loss", "accuracy", "val_loss", "val_accuracy", "lr", History.SecondsKey, History.ImagesPerSecondKey], history.Keys);
        Assert.True(history.Loss[^1] < history.Loss[0] / 3, $"loss {history.Loss[0]} -> {history.Loss[^1]}");
        Assert.All(history.Loss.Skip(1).Zip(history.Loss), p => Assert.True(p.First < p.Second, "the loss falls every epoch"));
        Assert.True(history["val_accuracy"][^1] >= 0.97, $"val_accuracy {history["val_accuracy"][^1]} (untrained {before})");
        Assert.True(history["accuracy"][^1] >= 0.97);
        Assert.All(history["lr"], lr => Assert.Equal(0.01, lr));
        Assert.All(history[History.SecondsKey], s => Assert.True(s > 0));
        Assert.All(history[History.ImagesPerSecondKey], r => Assert.True(r > 0));
        Assert.True(before < 0.6, $"untrained accuracy {before}");
    }

    [Fact]
    public void Keras_style_overload_matches_the_options_overload()
    {
        var data = FitTestData.Blobs(200);
        using var a = new FitMlp(16, seed: 5, threads: 1);
        using var b = new FitMlp(16, seed: 5, threads: 1);
        var h1 = a.Fit(data, new Sgd(0.05f), epochs: 3, batchSize: 10, validationSplit: 0.25, verbose: Verbosity.Silent);
        var h2 = b.Fit(data, new Sgd(0.05f), Quiet(3) with { BatchSize = 10, ValidationSplit = 0.25 });
        Assert.Equal(FitTestData.Values(h1), FitTestData.Values(h2));
        Assert.Equal(a.Parameters.ToArray(), b.Parameters.ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Same_seed_gives_identical_history_and_weights(bool shuffle)
    {
        var data = FitTestData.Blobs(300);
        History Run(ulong? seed, out float[] weights)
        {
            using var net = new FitMlp(24, seed: 9, threads: 2);
            var history = net.Fit(data, new Sgd(0.03f, 0.9f, nesterov: true),
                Quiet(4) with { ValidationSplit = 0.1, Shuffle = shuffle, ShuffleSeed = seed, BatchSize = 20 });
            weights = net.Parameters.ToArray();
            return history;
        }

        var h1 = Run(42, out var w1);
        var h2 = Run(42, out var w2);
        Assert.Equal(FitTestData.Values(h1), FitTestData.Values(h2));
        Assert.Equal(w1, w2);

        var h3 = Run(43, out var w3);
        if (shuffle)
        {
            Assert.NotEqual(w1, w3); // the seed matters
            Assert.NotEqual(FitTestData.Values(h1)["loss"], FitTestData.Values(h3)["loss"]);
        }
        else
        {
            Assert.Equal(w1, w3); // without shuffling the seed is irrelevant
        }
    }

    [Fact]
    public void Dropout_cnn_training_is_deterministic()
    {
        var random = new Random(4);
        using var probe = new CnnDropout(8, seed: 1, threads: 1);
        var data = new Dataset(NetworkFactory.RandomFloats(random, 40 * probe.InputSize), NetworkFactory.RandomLabels(random, 40, 3), 2, 8, 8);
        float[] Run()
        {
            using var net = new CnnDropout(8, seed: 1, threads: 2);
            net.Fit(data, new Sgd(0.05f), Quiet(2) with { ValidationSplit = 0.2 });
            return net.Parameters.ToArray();
        }

        Assert.Equal(Run(), Run());
    }

    /// <summary>Two epochs, then a second Fit resumed at epoch 2 with the same optimizer, equals four epochs in one go:
    /// the shuffle of an epoch depends only on the seed and the epoch number.</summary>
    [Fact]
    public void Resuming_at_an_initial_epoch_reproduces_an_uninterrupted_run()
    {
        var data = FitTestData.Blobs(160);
        using var once = new FitMlp(16, seed: 2, threads: 1);
        var full = once.Fit(data, new Sgd(0.05f, 0.9f), Quiet(4));

        using var twice = new FitMlp(16, seed: 2, threads: 1);
        var sgd = new Sgd(0.05f, 0.9f);
        var first = twice.Fit(data, sgd, Quiet(2));
        var second = twice.Fit(data, sgd, Quiet(4) with { InitialEpoch = 2 });

        Assert.Equal([2, 3], second.Epochs);
        Assert.Equal(full.Loss.ToArray(), first.Loss.Concat(second.Loss).ToArray());
        Assert.Equal(once.Parameters.ToArray(), twice.Parameters.ToArray());
    }

    /// <summary>
    /// The held-out samples have NaN features: training on even one of them would make weights NaN (the control run
    /// without a split shows it). 10 samples with split 0.25 keep floor(7.5) = 7 for training (Keras), so the last 3
    /// are held out; 50 with 0.1 keep 45; 41 with 0.5 keep 20. A recording source shows each epoch reading the training
    /// part in shuffled order, then exactly the held-out part, in order, for validation.
    /// </summary>
    [Theory]
    [InlineData(10, 0.25, 7)]
    [InlineData(50, 0.1, 45)]
    [InlineData(41, 0.5, 20)]
    public void Validation_split_holds_out_the_last_fraction_and_never_trains_on_it(int count, double split, int trainCount)
    {
        var clean = FitTestData.Blobs(count);
        float[] features = (float[])clean.Features.Clone();
        features.AsSpan(trainCount * clean.SampleSize).Fill(float.NaN);
        var source = new ArraySource(features, clean.Labels, clean.SampleSize) { Record = true };
        var recorder = new RecordingCallback();
        using var net = new FitMlp(4, seed: 1, threads: 1);
        var history = net.Fit(source, new Sgd(0.05f), Quiet(3) with { ValidationSplit = split, Callbacks = [recorder] });

        Assert.Equal(trainCount, recorder.Context.TrainingSamples);
        Assert.Equal(count - trainCount, recorder.Context.ValidationSamples);
        Assert.Equal((trainCount + 3) / 4, recorder.Context.StepsPerEpoch);
        Assert.All(history.Loss, l => Assert.True(double.IsFinite(l)));
        Assert.All(net.Parameters.ToArray(), w => Assert.True(float.IsFinite(w)));
        Assert.Equal(3 * count, source.Reads.Count);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var reads = source.Reads.Skip(epoch * count).Take(count).ToArray();
            Assert.Equal(Enumerable.Range(0, trainCount), reads.Take(trainCount).Order());
            Assert.Equal(Enumerable.Range(trainCount, count - trainCount), reads.Skip(trainCount));
        }

        // Training on the NaN rows instead is reported, and skipped: the weights stay finite.
        using var control = new FitMlp(4, seed: 1, threads: 1);
        Assert.Throws<NetDsl.Training.NonFiniteTrainingException>(() => control.Fit(source, new Sgd(0.05f), Quiet(1)));
        Assert.True(control.LastStepSkipped);
        Assert.All(control.Parameters.ToArray(), w => Assert.True(float.IsFinite(w)));
    }

    [Fact]
    public void A_user_data_source_trains_exactly_like_a_dataset_and_is_read_in_shuffled_order()
    {
        var data = FitTestData.Blobs(90);
        var source = new ArraySource(data.Features, data.Labels, data.SampleSize);
        using var a = new FitMlp(16, seed: 4, threads: 1);
        using var b = new FitMlp(16, seed: 4, threads: 1);
        var ha = a.Fit(data, new Sgd(0.05f), Quiet(2) with { ValidationSplit = 0.2 });
        source.Record = true;
        var hb = b.Fit(source, new Sgd(0.05f), Quiet(2) with { ValidationSplit = 0.2 });
        Assert.Equal(FitTestData.Values(ha), FitTestData.Values(hb));
        Assert.Equal(a.Parameters.ToArray(), b.Parameters.ToArray());

        // Epoch 0: 72 training reads in some shuffled order, then 18 validation reads in order.
        Assert.Equal(2 * 90, source.Reads.Count);
        Assert.Equal(Enumerable.Range(0, 72), source.Reads.Take(72).Order());
        Assert.NotEqual(Enumerable.Range(0, 72), source.Reads.Take(72));
        Assert.Equal(Enumerable.Range(72, 18), source.Reads.Skip(72).Take(18));
    }

    [Fact]
    public void Validation_data_is_evaluated_every_epoch_with_the_final_weights_of_the_epoch()
    {
        var data = FitTestData.Blobs(120);
        var validation = FitTestData.Blobs(37, seed: 99);
        var recorder = new RecordingCallback();
        using var net = new FitMlp(16, seed: 4, threads: 1);
        net.Fit(data, new Sgd(0.05f), Quiet(3) with { ValidationData = validation, Callbacks = [recorder], Metrics = [new Accuracy(), new TopKAccuracy(2)] });

        using var twin = new FitMlp(16, seed: 4, threads: 1);
        for (int e = 0; e < 3; e++)
        {
            recorder.EpochEndWeights[e].CopyTo(twin.Parameters);
            var expected = twin.Evaluate(validation, [new Accuracy(), new TopKAccuracy(2)]);
            Assert.Equal(expected.Loss, recorder.EpochLogs[e]["val_loss"]);
            Assert.Equal(expected["accuracy"], recorder.EpochLogs[e]["val_accuracy"]);
            Assert.Equal(expected["top_2_accuracy"], recorder.EpochLogs[e]["val_top_2_accuracy"]);
        }
    }

    /// <summary>
    /// One epoch, one full batch, no shuffling: the logged training loss and accuracy are those of the forward pass
    /// before the update, i.e. of the untrained network (Keras semantics), not of the network after the step.
    /// </summary>
    [Fact]
    public void Training_loss_and_accuracy_come_from_the_training_forward_pass()
    {
        var data = FitTestData.Blobs(32);
        using var twin = new FitMlp(32, seed: 8, threads: 1);
        var before = twin.Evaluate(data);
        float stepLoss = twin.ComputeGradients(data.Features, data.Labels);

        using var net = new FitMlp(32, seed: 8, threads: 1);
        var history = net.Fit(data, new Sgd(0.5f), Quiet(1) with { Shuffle = false });
        Assert.Equal(stepLoss, (float)history.Loss[0]);
        Assert.Equal(before["accuracy"], history["accuracy"][0]);
        Assert.Equal(before.Loss, history.Loss[0], 5); // evaluation's loss from probabilities agrees with the kernel's
        Assert.NotEqual(before["accuracy"], net.Evaluate(data)["accuracy"]); // the step changed the network
    }

    /// <summary>
    /// ComputeGradients then ApplyGradients is TrainStep, bit for bit, over several steps with a stateful optimizer; and
    /// gradients changed in between are what the update uses (halving them is not the same step).
    /// </summary>
    [Fact]
    public void ComputeGradients_then_ApplyGradients_is_TrainStep_bit_for_bit()
    {
        var data = FitTestData.Blobs(32);
        using var stepped = new FitMlp(32, seed: 4, threads: 2);
        using var split = new FitMlp(32, seed: 4, threads: 2);
        using var halved = new FitMlp(32, seed: 4, threads: 2);
        var a = new Adam(0.01f);
        var b = new Adam(0.01f);
        var c = new Adam(0.01f);
        for (int step = 0; step < 3; step++)
        {
            float loss = stepped.TrainStep(data.Features, data.Labels, a);
            Assert.Equal(loss, split.ComputeGradients(data.Features, data.Labels));
            split.ApplyGradients(b);
            halved.ComputeGradients(data.Features, data.Labels);
            foreach (ref float g in halved.Gradients)
            {
                g *= 0.5f;
            }

            halved.ApplyGradients(c);
        }

        Assert.Equal(stepped.Parameters.ToArray(), split.Parameters.ToArray());
        Assert.NotEqual(stepped.Parameters.ToArray(), halved.Parameters.ToArray());
    }

    [Fact]
    public void Epoch_loss_is_the_sample_weighted_mean_of_the_batch_losses()
    {
        var data = FitTestData.Blobs(50); // batches of 16, 16, 16, 2
        using var twin = new FitMlp(16, seed: 6, threads: 1);
        var sgd = new Sgd(0.05f);
        double sum = 0;
        for (int start = 0; start < 50; start += 16)
        {
            int rows = Math.Min(16, 50 - start);
            sum += rows * (double)twin.TrainStep(data.Features.AsSpan(start * 8, rows * 8), data.Labels.AsSpan(start, rows), sgd);
        }

        using var net = new FitMlp(16, seed: 6, threads: 1);
        var history = net.Fit(data, new Sgd(0.05f), Quiet(1) with { Shuffle = false });
        Assert.Equal(sum / 50, history.Loss[0], 12);
        Assert.Equal(twin.Parameters.ToArray(), net.Parameters.ToArray());
    }

    [Fact]
    public void Callback_events_come_in_keras_order_and_stop_training_ends_the_epoch_after_the_batch()
    {
        var data = FitTestData.Blobs(40);
        var recorder = new RecordingCallback();
        var stopper = new StopAt(epoch: 1, batch: 2);
        using var net = new FitMlp(8, seed: 1, threads: 1);
        var history = net.Fit(data, new Sgd(0.05f), Quiet(5) with { Callbacks = [recorder, stopper], ValidationSplit = 0.2 });

        Assert.Equal(["train_begin", "epoch_begin 0", "epoch_end 0", "epoch_begin 1", "epoch_end 1", "train_end"], recorder.Events);
        Assert.Equal(2, history.Count);
        Assert.Equal(4 + 3, net.Steps); // epoch 0: 32 samples / 8; epoch 1: batches 0, 1, 2
        Assert.True(double.IsFinite(history["val_loss"][1])); // the stopped epoch is still validated
    }

    [Fact]
    public void Cancellation_finishes_the_current_batch_then_throws()
    {
        var data = FitTestData.Blobs(40);
        using var cts = new CancellationTokenSource();
        var recorder = new RecordingCallback { OnBatch = (epoch, batch) => { if (epoch == 1 && batch == 2) cts.Cancel(); } };
        var writer = new StringWriter();
        using var net = new FitMlp(8, seed: 1, threads: 1);
        float[]? afterBatch = null;
        var snapshot = new SnapshotAfterBatch(1, 2, w => afterBatch = w);
        Assert.ThrowsAny<OperationCanceledException>(() =>
            net.Fit(data, new Sgd(0.05f), new FitOptions { Epochs = 5, Callbacks = [recorder, snapshot], Verbose = Verbosity.ProgressBar, Output = writer }, cts.Token));

        Assert.Equal(5 + 3, net.Steps); // all 5 batches of epoch 0, then batches 0-2 of epoch 1
        Assert.Equal(["train_begin", "epoch_begin 0", "epoch_end 0", "epoch_begin 1"], recorder.Events);
        Assert.Equal(afterBatch, net.Parameters.ToArray()); // the network holds the weights after the finished batch
        Assert.EndsWith("\n", writer.ToString()); // the progress line was ended
    }

    [Fact]
    public void Cancelled_before_the_start_trains_nothing()
    {
        using var net = new FitMlp(8, seed: 1, threads: 1);
        float[] before = net.Parameters.ToArray();
        Assert.ThrowsAny<OperationCanceledException>(() => net.Fit(FitTestData.Blobs(40), new Sgd(0.05f), Quiet(2), new CancellationToken(true)));
        Assert.Equal(0, net.Steps);
        Assert.Equal(before, net.Parameters.ToArray());
    }

    [Fact]
    public void Invalid_arguments_are_rejected()
    {
        var data = FitTestData.Blobs(40);
        using var net = new FitMlp(8, seed: 1, threads: 1);
        var sgd = new Sgd(0.05f);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Fit(data, sgd, Quiet(1) with { BatchSize = 9 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Fit(data, sgd, Quiet(1) with { BatchSize = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Fit(data, sgd, Quiet(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Fit(data, sgd, Quiet(1) with { ValidationSplit = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Fit(data, sgd, Quiet(1) with { ValidationSplit = double.NaN }));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Fit(FitTestData.Blobs(1), sgd, Quiet(1) with { ValidationSplit = 0.5 }));
        Assert.Throws<ArgumentException>(() => net.Fit(data, sgd, Quiet(1) with { ValidationSplit = 0.1, ValidationData = data }));
        Assert.Throws<ArgumentException>(() => net.Fit(new Dataset(new float[70], new int[10], 7), sgd, Quiet(1)));
        Assert.Throws<ArgumentException>(() => net.Fit(new Dataset([], [], 8), sgd, Quiet(1)));
        Assert.Throws<ArgumentException>(() => net.Fit(data, sgd, Quiet(1) with { Metrics = [new Accuracy(), new Accuracy()] }));
        Assert.Throws<ArgumentException>(() => net.Fit(data, sgd, Quiet(1) with { Metrics = [new Accuracy("loss")] }));
        Assert.Contains("takes class labels", Assert.Throws<ArgumentException>(() => net.Fit(new MemoryDataSource(new float[16], new float[8], 8, 4), sgd, Quiet(1))).Message);
        Assert.Throws<ArgumentException>(() => net.Fit(MemoryDataSource.Unlabeled(new float[16], 8), sgd, Quiet(1)));
        Assert.Equal(0, net.Steps);
    }

    [Fact]
    public void Zero_epochs_or_an_initial_epoch_at_the_end_trains_nothing_but_runs_the_train_events()
    {
        using var net = new FitMlp(8, seed: 1, threads: 1);
        var recorder = new RecordingCallback();
        var history = net.Fit(FitTestData.Blobs(16), new Sgd(0.05f), Quiet(3) with { InitialEpoch = 3, Callbacks = [recorder] });
        Assert.Equal(0, history.Count);
        Assert.Equal(["train_begin", "train_end"], recorder.Events);
        Assert.Equal(0, net.Steps);
    }

    /// <summary>
    /// The inner loop allocates nothing per batch: a callback reads the thread's allocation counter at the end of
    /// every batch of epochs 3 and 4 (after two warm-up epochs) into a preallocated array; consecutive readings must be
    /// equal. Covers batch gathering, TrainStep, the metrics, the batch logs and the callback dispatch, for a Dataset and
    /// a user source, with and without per-epoch output.
    /// </summary>
    [Theory]
    [InlineData(false, Verbosity.Silent)]
    [InlineData(true, Verbosity.Silent)]
    [InlineData(false, Verbosity.EpochLines)]
    public void The_batch_loop_allocates_nothing(bool userSource, Verbosity verbosity)
    {
        var data = FitTestData.Blobs(400);
        IDataSource source = userSource ? new ArraySource(data.Features, data.Labels, 8) : data;
        var probe = new AllocationProbe(firstEpoch: 2, epochs: 2, batches: 23);
        using var net = new FitMlp(16, seed: 1, threads: 1);
        net.Fit(source, new Sgd(0.01f, 0.9f), new FitOptions
        {
            Epochs = 4, Verbose = verbosity, Output = TextWriter.Null, ValidationSplit = 0.1,
            Metrics = [new Accuracy(), new TopKAccuracy(2), new TopKError(1)], Callbacks = [probe, new TerminateOnNaN()],
        });

        long[] deltas = probe.Deltas;
        output.WriteLine(string.Join(" ", deltas));
        Assert.Equal(2 * 22, deltas.Length); // 360 training samples in 23 batches of 16, two epochs
        Assert.True(deltas.Count(d => d != 0) == 0, $"allocations between batches: {string.Join(", ", deltas.Where(d => d != 0))} bytes");
    }

    private sealed class StopAt(int epoch, int batch) : Callback
    {
        private int _epoch;

        public override void OnEpochBegin(int e, Logs logs) => _epoch = e;

        public override void OnBatchEnd(int b, Logs logs)
        {
            if (_epoch == epoch && b == batch)
            {
                StopTraining();
            }
        }
    }

    private sealed class SnapshotAfterBatch(int epoch, int batch, Action<float[]> take) : Callback
    {
        private int _epoch;

        public override void OnEpochBegin(int e, Logs logs) => _epoch = e;

        public override void OnBatchEnd(int b, Logs logs)
        {
            if (_epoch == epoch && b == batch)
            {
                take(Context.Network.Parameters.ToArray());
            }
        }
    }

    /// <summary>Reads the allocation counter at each batch end of epochs from <c>firstEpoch</c> on, into arrays allocated up front.</summary>
    private sealed class AllocationProbe(int firstEpoch, int epochs, int batches) : Callback
    {
        private readonly long[][] _readings = Enumerable.Range(0, epochs).Select(_ => new long[batches]).ToArray();
        private readonly int[] _counts = new int[epochs];
        private int _epoch;

        /// <summary>Differences between consecutive batch ends within each epoch.</summary>
        public long[] Deltas => _readings.SelectMany((r, e) => r.Take(_counts[e]).Skip(1).Zip(r, (b, a) => b - a)).ToArray();

        public override void OnEpochBegin(int epoch, Logs logs) => _epoch = epoch - firstEpoch;

        public override void OnBatchEnd(int batch, Logs logs)
        {
            if (_epoch >= 0 && _epoch < _readings.Length && _counts[_epoch] < batches)
            {
                _readings[_epoch][_counts[_epoch]++] = GC.GetAllocatedBytesForCurrentThread();
            }
        }
    }
}

using NetDsl.Metrics;
using NetDsl.Optimizers;
using NetDsl.Training;
using Xunit;

namespace NetDsl.Tests.Fit;

/// <summary>The built-in callbacks on scripted logs (driven directly, as Fit would) and inside real runs.</summary>
public sealed class CallbackTests : IDisposable
{
    private readonly FitMlp _net = new(4, seed: 1, threads: 1);
    private readonly Sgd _sgd = new(1.0f);
    private readonly StringWriter _log = new();

    public void Dispose() => _net.Dispose();

    private TrainingContext Attach(Callback callback, params Metric[] metrics)
    {
        var context = new TrainingContext { Network = _net, Optimizer = _sgd, Epochs = 100, Log = _log, Metrics = metrics };
        callback.SetContext(context);
        callback.OnTrainBegin(new Logs());
        return context;
    }

    private static Logs Log(string key, double value) => new() { [key] = value };

    /// <summary>Feeds one value per epoch; returns the epoch at whose end training was stopped, or -1.</summary>
    private int Drive(Callback callback, string key, double[] values, params Metric[] metrics)
    {
        var context = Attach(callback, metrics);
        for (int epoch = 0; epoch < values.Length; epoch++)
        {
            callback.OnEpochEnd(epoch, Log(key, values[epoch]));
            if (context.StopTraining)
            {
                return epoch;
            }
        }

        return -1;
    }

    // EarlyStopping, traced by hand with Keras 3's rule: wait += 1; an improvement (current < best - minDelta) sets
    // best and resets the wait; otherwise stop once wait >= patience (and epoch > 0).
    [Theory]
    [InlineData(new[] { 1.0, 0.8, 0.85, 0.9, 0.7 }, 2, 0.0, 3, 1)] // improves at 1, then 2 epochs without
    [InlineData(new[] { 1.0, 1.1 }, 0, 0.0, 1, 0)]                 // patience 0: the first epoch without improvement
    [InlineData(new[] { 1.0, 0.9, 0.9 }, 0, 0.0, 2, 1)]            // equal is not better
    [InlineData(new[] { 1.0, 0.95, 0.85, 0.84, 0.84 }, 2, 0.1, 4, 2)] // 0.95 and 0.84 are within minDelta
    [InlineData(new[] { 1.0, 0.95, 0.85, 0.84, 0.84 }, 2, 0.0, -1, 3)]
    [InlineData(new[] { 5.0, 4.0, 3.0, 2.0, 1.0 }, 1, 0.0, -1, 4)]
    public void EarlyStopping_minimising(double[] losses, int patience, double minDelta, int stoppedAt, int bestEpoch)
    {
        var stopper = new EarlyStopping("val_loss", minDelta: minDelta, patience: patience);
        Assert.Equal(stoppedAt, Drive(stopper, "val_loss", losses));
        Assert.Equal(stoppedAt, stopper.StoppedEpoch);
        Assert.Equal(bestEpoch, stopper.BestEpoch);
        Assert.Equal(losses[bestEpoch], stopper.Best);
    }

    [Theory]
    [InlineData(MonitorMode.Auto, 3)] // accuracy is maximised: best 0.6 at epoch 1, stop after 2 more
    [InlineData(MonitorMode.Max, 3)]
    [InlineData(MonitorMode.Min, 2)]  // minimising, 0.5 stays best from epoch 0
    public void EarlyStopping_mode_decides_the_direction(MonitorMode mode, int stoppedAt)
    {
        double[] accuracy = [0.5, 0.6, 0.55, 0.58, 0.59];
        Assert.Equal(stoppedAt, Drive(new EarlyStopping("val_accuracy", patience: 2, mode: mode), "val_accuracy", accuracy));
    }

    [Fact]
    public void EarlyStopping_auto_mode_uses_the_metric_direction()
    {
        // top_1_error is minimised (a metric of the run says so); a key unknown to the run containing "acc" is maximised.
        double[] error = [0.5, 0.4, 0.45, 0.46];
        Assert.Equal(3, Drive(new EarlyStopping("val_top_1_error", patience: 2), "val_top_1_error", error, new TopKError(1)));
        Assert.Equal(-1, Drive(new EarlyStopping("val_my_acc", patience: 2), "val_my_acc", [0.1, 0.2, 0.3, 0.4]));
    }

    [Fact]
    public void EarlyStopping_baseline_keeps_the_wait_running_until_beaten()
    {
        double[] losses = [0.9, 0.8, 0.7, 0.6, 0.65];
        Assert.Equal(4, Drive(new EarlyStopping("loss", patience: 2, baseline: 0.5), "loss", losses));
        Assert.Equal(-1, Drive(new EarlyStopping("loss", patience: 2), "loss", losses));
        Assert.Equal(-1, Drive(new EarlyStopping("loss", patience: 2, baseline: 0.95), "loss", losses));
    }

    [Fact]
    public void EarlyStopping_ignores_epochs_before_start_from_epoch()
    {
        double[] rising = [1, 2, 3, 4, 5];
        Assert.Equal(1, Drive(new EarlyStopping("loss", patience: 1), "loss", rising));
        Assert.Equal(3, Drive(new EarlyStopping("loss", patience: 1, startFromEpoch: 2), "loss", rising));
    }

    [Fact]
    public void EarlyStopping_missing_key_warns_once_and_never_stops()
    {
        var stopper = new EarlyStopping("val_loss");
        Assert.Equal(-1, Drive(stopper, "loss", [1, 2, 3, 4]));
        Assert.Single(_log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("'val_loss' is not in the logs", _log.ToString());
    }

    [Fact]
    public void EarlyStopping_state_resets_on_train_begin()
    {
        var stopper = new EarlyStopping("loss", patience: 1);
        Assert.Equal(1, Drive(stopper, "loss", [1, 2]));
        Assert.Equal(2, Drive(stopper, "loss", [3, 1, 2])); // a fresh best of 3, not the old 1
    }

    /// <summary>Each epoch leaves different random weights; the callback must restore exactly those of the best epoch
    /// when training ends, whether it stopped early or not.</summary>
    [Theory]
    [InlineData(new[] { 1.0, 0.5, 0.7, 0.8, 0.9 }, 1)] // stops at epoch 3, best 1
    [InlineData(new[] { 1.0, 0.5, 0.4, 0.45 }, 2)]     // never stops, best 2 (Keras 3 restores anyway)
    [InlineData(new[] { 1.0 }, 0)]
    public void EarlyStopping_restores_the_exact_best_weights(double[] losses, int best)
    {
        var stopper = new EarlyStopping("val_loss", patience: 2, restoreBestWeights: true);
        var context = Attach(stopper);
        var random = new Random(3);
        var snapshots = new List<float[]>();
        for (int epoch = 0; epoch < losses.Length && !context.StopTraining; epoch++)
        {
            var weights = _net.Parameters;
            for (int i = 0; i < weights.Length; i++)
            {
                weights[i] = (float)random.NextDouble();
            }

            snapshots.Add(weights.ToArray());
            stopper.OnEpochEnd(epoch, Log("val_loss", losses[epoch]));
        }

        stopper.OnTrainEnd(new Logs());
        Assert.Equal(best, stopper.BestEpoch);
        Assert.Equal(snapshots[best], _net.Parameters.ToArray());
    }

    [Fact]
    public void EarlyStopping_verbose_prints_keras_messages()
    {
        var stopper = new EarlyStopping("loss", patience: 1, restoreBestWeights: true, verbose: true);
        Drive(stopper, "loss", [1, 2]);
        stopper.OnTrainEnd(new Logs());
        Assert.Equal("Epoch 2: early stopping\nRestoring model weights from the end of the best epoch: 1.\n", _log.ToString().ReplaceLineEndings("\n"));
    }

    /// <summary>In a real run, with a scripted score written into the logs by an earlier callback: training stops at
    /// the expected epoch and the network ends with the weights it had at the end of the best epoch, bit for bit.</summary>
    [Fact]
    public void EarlyStopping_inside_fit_stops_and_restores()
    {
        double[] score = [0.9, 0.7, 0.8, 0.75, 0.72, 0.1];
        var recorder = new RecordingCallback();
        var stopper = new EarlyStopping("score", patience: 3, restoreBestWeights: true);
        using var net = new FitMlp(8, seed: 2, threads: 1);
        var history = net.Fit(FitTestData.Blobs(64), new Sgd(0.05f), new FitOptions
        {
            Epochs = 10, Verbose = Verbosity.Silent, Callbacks = [new Script("score", score), stopper, recorder],
        });

        Assert.Equal(5, history.Count); // epochs 0-4: best at 1, then 3 without improvement
        Assert.Equal(4, stopper.StoppedEpoch);
        Assert.Equal(score.Take(5), history["score"]);
        Assert.Equal(recorder.EpochEndWeights[1], net.Parameters.ToArray());
        Assert.NotEqual(recorder.EpochEndWeights[4], net.Parameters.ToArray());
    }

    // ReduceLROnPlateau, traced by hand with Keras' rule (factor 0.5, patience 2, cooldown 1, minLr 0.2, lr 1):
    // e0 best; e1 wait 1; e2 wait 2 -> 0.5, cooldown; e3 cooldown ends, wait 1; e4 -> 0.25; e5 wait 1; e6 -> 0.2
    // (clamped); e7 improves; e8, e9, e10 wait, but lr is at the minimum.
    [Fact]
    public void ReduceLROnPlateau_follows_keras()
    {
        var reducer = new ReduceLROnPlateau("val_loss", factor: 0.5, patience: 2, minDelta: 0, cooldown: 1, minLearningRate: 0.2f, verbose: true);
        var context = Attach(reducer);
        double[] losses = [1, 1, 1, 1, 1, 1, 1, 0.5, 0.6, 0.6, 0.6];
        float[] expected = [1, 1, 0.5f, 0.5f, 0.25f, 0.25f, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f];
        var rates = new List<float>();
        for (int epoch = 0; epoch < losses.Length; epoch++)
        {
            reducer.OnEpochEnd(epoch, Log("val_loss", losses[epoch]));
            rates.Add(context.Optimizer.LearningRate);
        }

        Assert.Equal(expected, rates);
        Assert.False(context.StopTraining);
        Assert.Contains("Epoch 3: ReduceLROnPlateau reducing learning rate to 0.5.", _log.ToString());
        Assert.Equal(3, _log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void ReduceLROnPlateau_min_delta_and_max_mode()
    {
        // Improvements smaller than minDelta do not count: 0.1 steps with minDelta 0.2, patience 1.
        var reducer = new ReduceLROnPlateau("loss", factor: 0.1, patience: 1, minDelta: 0.2);
        var context = Attach(reducer);
        reducer.OnEpochEnd(0, Log("loss", 1.0));
        reducer.OnEpochEnd(1, Log("loss", 0.9));
        Assert.Equal(0.1f, context.Optimizer.LearningRate, 6);

        // Accuracy going up is an improvement in Auto mode.
        _sgd.LearningRate = 1;
        var up = new ReduceLROnPlateau("val_accuracy", factor: 0.1, patience: 1, minDelta: 0);
        Attach(up, new Accuracy());
        up.OnEpochEnd(0, Log("val_accuracy", 0.5));
        up.OnEpochEnd(1, Log("val_accuracy", 0.6));
        Assert.Equal(1f, _sgd.LearningRate);
        up.OnEpochEnd(2, Log("val_accuracy", 0.55));
        Assert.Equal(0.1f, _sgd.LearningRate, 6);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReduceLROnPlateau(factor: 1));
    }

    [Fact]
    public void LearningRateScheduler_sets_the_rate_each_epoch_and_fit_logs_it()
    {
        var epochsSeen = new List<int>();
        var scheduler = new LearningRateScheduler((epoch, lr) =>
        {
            epochsSeen.Add(epoch);
            return epoch < 2 ? 0.1f : lr * 0.5f;
        });
        using var net = new FitMlp(8, seed: 2, threads: 1);
        var sgd = new Sgd(0.01f);
        var history = net.Fit(FitTestData.Blobs(32), sgd, new FitOptions { Epochs = 4, Verbose = Verbosity.Silent, Callbacks = [scheduler] });
        Assert.Equal([0, 1, 2, 3], epochsSeen);
        Assert.Equal([0.1f, 0.1f, 0.05f, 0.025f], history["lr"].Select(v => (float)v));

        var resumed = net.Fit(FitTestData.Blobs(32), sgd, new FitOptions { Epochs = 6, InitialEpoch = 4, Verbose = Verbosity.Silent, Callbacks = [scheduler] });
        Assert.Equal([0.0125f, 0.00625f], resumed["lr"].Select(v => (float)v));

        var bad = new LearningRateScheduler((_, _) => float.NaN);
        Assert.Throws<InvalidOperationException>(() => net.Fit(FitTestData.Blobs(32), sgd, new FitOptions { Verbose = Verbosity.Silent, Callbacks = [bad] }));
    }

    [Fact]
    public void TerminateOnNaN_stops_on_a_non_finite_loss()
    {
        var terminator = new TerminateOnNaN();
        var context = Attach(terminator);
        terminator.OnEpochBegin(0, new Logs());
        terminator.OnBatchEnd(0, Log("loss", 1.5));
        Assert.False(context.StopTraining);
        terminator.OnBatchEnd(1, Log("loss", double.PositiveInfinity));
        Assert.True(context.StopTraining);
        Assert.Equal((0, 1), terminator.TerminatedAt);
        Assert.Equal("Batch 1: Invalid loss, terminating training\n", _log.ToString().ReplaceLineEndings("\n"));
    }

    /// <summary>A NaN input propagates through tanh to the loss (a ReLU network would swallow it: max(0, NaN) is 0 in
    /// the SIMD kernels), so training stops after the batch that holds it.</summary>
    [Fact]
    public void TerminateOnNaN_inside_fit_stops_after_the_first_bad_batch()
    {
        float[] x = Enumerable.Range(0, 40).Select(i => i / 40f).ToArray();
        int[] y = Enumerable.Range(0, 40).Select(i => i % 2).ToArray();
        x[9] = float.NaN; // sample 9, in the third batch of 4
        var data = new NetDsl.Data.Dataset(x, y, 1);
        var terminator = new TerminateOnNaN();
        using var net = new Numerics.Net1x5x2(4, seed: 2, threads: 1);
        var history = net.Fit(data, new Sgd(0.05f), new FitOptions { Epochs = 3, Shuffle = false, Verbose = Verbosity.Silent, Callbacks = [terminator] });
        Assert.Equal(3, net.Steps);
        Assert.Equal(1, history.Count);
        Assert.True(double.IsNaN(history.Loss[0]));
        Assert.Equal((0, 2), terminator.TerminatedAt);
    }

    [Fact]
    public void Callback_without_a_run_has_no_context()
    {
        Assert.Throws<InvalidOperationException>(() => new TerminateOnNaN().Context);
    }

    /// <summary>Writes scripted values into the epoch logs under a key.</summary>
    private sealed class Script(string key, double[] values) : Callback
    {
        public override void OnEpochEnd(int epoch, Logs logs) => logs[key] = values[epoch];
    }
}

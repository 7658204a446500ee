using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using NetDsl;
using NetDsl.Optimizers;
using NetDsl.Serialization;

namespace NetDslTrainer;

/// <summary>
/// A request to stop after the step in progress (SIGINT, SIGTERM): set from a signal handler, read by the loop
/// between steps, so a step is never cut in half.
/// </summary>
internal sealed class StopRequest
{
    private int _exitCode;

    /// <summary>Whether a stop was requested.</summary>
    public bool IsRequested => Volatile.Read(ref _exitCode) != 0;

    /// <summary>The exit code of the first request (130 for SIGINT, 143 for SIGTERM), 0 without one.</summary>
    public int ExitCode => Volatile.Read(ref _exitCode);

    /// <summary>Records a request; true for the first one.</summary>
    public bool Request(int exitCode) => Interlocked.CompareExchange(ref _exitCode, exitCode, 0) == 0;
}

/// <summary>
/// Where a run stands between two steps, beyond what the network and the optimizer hold (weights, optimizer state and
/// iterations, the learning rate, the dropout position <c>Network.Steps</c>: all in the NetDsl checkpoint).
/// </summary>
/// <param name="Step">Steps done in all (the global step; the checkpoint's name).</param>
/// <param name="Epoch">The epoch in progress (0-based), or the next one when <paramref name="StepInEpoch"/> is 0.</param>
/// <param name="StepInEpoch">Steps done in that epoch.</param>
/// <param name="EpochLossSum">The sum of the loss times the batch rows over those steps (so a resumed epoch reports the same mean loss).</param>
/// <param name="EpochSamples">The samples of those steps.</param>
/// <param name="TrainSeconds">Seconds spent training so far, over every run that led here (reporting only).</param>
internal sealed record TrainingState(long Step, int Epoch, int StepInEpoch, double EpochLossSum, long EpochSamples, double TrainSeconds)
{
    /// <summary>The state before the first step.</summary>
    public static TrainingState Start { get; } = new(0, 0, 0, 0, 0, 0);
}

/// <summary>How a run ended and what it measured.</summary>
internal sealed record TrainingResult(
    bool Stopped,
    TrainingState Final,
    long? ResumedFromStep,
    double Seconds,
    long Images,
    double? LastEpochLoss,
    double? ValidationLoss,
    double? ValidationAccuracy,
    int CheckpointsWritten,
    string? LastCheckpoint);

/// <summary>
/// The training loop: one <c>TrainStep</c> per mini-batch of a per-epoch shuffle, checkpoints every N steps (or at
/// each epoch end), resumable at any step, bit for bit.
/// </summary>
/// <remarks>
/// <para><b>Why its own loop.</b> <c>Network.Fit</c> resumes at epoch boundaries only (<c>InitialEpoch</c>); a crash
/// mid-epoch would lose up to an epoch and, worse, a resumed run would not repeat the uninterrupted run's steps. Here
/// every step is a pure function of the state before it, and all of that state is in the checkpoint:</para>
/// <list type="bullet">
/// <item>the weights, the optimizer's state slots, its iteration count and learning rate, and <c>Network.Steps</c>,
/// which positions the dropout masks (they are hashed from the seed and the step, not drawn from a stream): NetDsl's
/// own checkpoint (<c>Network.SaveCheckpoint</c>, the <c>netdsl.*</c> metadata);</item>
/// <item>the data order: epoch <c>e</c> visits the training samples in a Fisher-Yates shuffle drawn from a generator
/// seeded with <see cref="EpochSeed"/>(seed, e) alone, so it depends on nothing before it, and step <c>s</c> of the
/// epoch takes samples <c>s * batch ..</c> of that order. The position is (<c>trainer.epoch</c>,
/// <c>trainer.step_in_epoch</c>); there is no generator state to save (<c>TrainingProgress.ShuffleState</c> stays
/// empty);</item>
/// <item>the running loss of the epoch in progress (<c>trainer.epoch_loss_sum</c>, <c>trainer.epoch_samples</c>),
/// only for what is printed.</item>
/// </list>
/// <para>A checkpoint also records what must not change for a resume to continue the same training
/// (<see cref="Fingerprint"/>: the network type, seed, optimizer and learning rate, batch size, the training data's
/// SHA-256 and the shuffle rule); a checkpoint that differs is another run's and is skipped. The thread count is
/// recorded too: NetDsl is bit-identical for a given count, so resuming with another count continues correctly but
/// not bit for bit (a warning says so); the same for the vector width (<c>trainer.vector_bits</c>: another CPU, or a
/// Native-AOT build for another instruction set).</para>
/// <para>Nothing depends on the clock or on thread timing: the kernels split work by a fixed partition of the thread
/// count, and the times measured are only printed. Validation and test evaluation run in inference mode and change
/// no training state.</para>
/// </remarks>
internal sealed class TrainingLoop(
    TrainerNetwork network,
    IOptimizer optimizer,
    TrainerData data,
    TrainerOptions options,
    CheckpointStore? store,
    StopRequest stop,
    TextWriter progress,
    TextWriter warnings)
{
    private const string FormatVersion = "1";
    private const string ShuffleRule = "fisher-yates(xoshiro128**, splitmix64(seed, epoch)) v1";

    private readonly int _stepsPerEpoch = (data.Train.Count + options.BatchSize - 1) / options.BatchSize;
    private long _lastCheckpointStep = -1;
    private int _checkpointsWritten;
    private string? _lastCheckpoint;
    private double _secondsBefore;

    /// <summary>
    /// Seconds from the process's start to the end of this run's first training step (start-up, data, the network's
    /// construction and the first step's JIT or none under Native AOT), or null before it.
    /// </summary>
    public double? FirstStepSeconds { get; private set; }
    private long _started;

    /// <summary>What a checkpoint of this run records and a resume requires unchanged.</summary>
    private IReadOnlyList<KeyValuePair<string, string>> Fingerprint { get; } =
    [
        new("trainer.network", typeof(TrainerNetwork).FullName!),
        new("trainer.seed", options.Seed.ToString(CultureInfo.InvariantCulture)),
        new("trainer.optimizer", options.DescribeOptimizer()),
        new("trainer.batch_size", options.BatchSize.ToString(CultureInfo.InvariantCulture)),
        new("trainer.training_samples", data.Train.Count.ToString(CultureInfo.InvariantCulture)),
        new("trainer.data_sha256", TrainerData.Fingerprint(data.Train)),
        new("trainer.shuffle", ShuffleRule),
    ];

    /// <summary>Trains from the newest valid checkpoint (with <c>--resume</c>) or from the start, up to <c>--epochs</c>.</summary>
    /// <exception cref="CheckpointStoreException">A checkpoint could not be written.</exception>
    public TrainingResult Run()
    {
        var state = TrainingState.Start;
        long? resumedFrom = null;
        if (store is not null)
        {
            store.Accept = Foreign;
            if (options.Resume)
            {
                if (store.LoadNewest(Restore) is var (path, restored))
                {
                    state = restored;
                    resumedFrom = state.Step;
                    _lastCheckpointStep = state.Step;
                    _lastCheckpoint = path;
                    progress.WriteLine($"Resumed from {path}: epoch {state.Epoch + 1}, step {state.StepInEpoch} of {_stepsPerEpoch} ({state.Step} steps done).");
                }
                else
                {
                    progress.WriteLine($"No valid checkpoint in {store.Directory}: starting from the beginning.");
                }
            }
            else if (store.List().Count > 0)
            {
                // Checked by Program before training; here for callers that construct the loop themselves.
                throw new InvalidOperationException($"{store.Directory} already holds checkpoints; resume from them or use another directory.");
            }
        }

        _secondsBefore = state.TrainSeconds;
        _started = Stopwatch.GetTimestamp();
        int n = data.Train.Count, batch = options.BatchSize, size = data.Train.SampleSize;
        var order = new int[n];
        var features = new float[batch * size];
        var labels = new int[batch];
        long images = 0;
        double? lastLoss = null, validationLoss = null, validationAccuracy = null;
        for (int epoch = state.Epoch; epoch < options.Epochs; epoch++)
        {
            EpochOrder(order, (ulong)options.Seed, epoch);
            int first = epoch == state.Epoch ? state.StepInEpoch : 0;
            double lossSum = epoch == state.Epoch ? state.EpochLossSum : 0;
            long seen = epoch == state.Epoch ? state.EpochSamples : 0;
            long epochStarted = Stopwatch.GetTimestamp();
            long epochImages = 0;
            for (int s = first; s < _stepsPerEpoch; s++)
            {
                int start = s * batch, rows = Math.Min(batch, n - start);
                for (int r = 0; r < rows; r++)
                {
                    int index = order[start + r];
                    data.Train.Features.AsSpan(index * size, size).CopyTo(features.AsSpan(r * size, size));
                    labels[r] = data.Train.Labels[index];
                }

                float loss = network.TrainStep(features.AsSpan(0, rows * size), labels.AsSpan(0, rows), optimizer);
                FirstStepSeconds ??= (DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime).TotalSeconds;
                lossSum += (double)loss * rows;
                seen += rows;
                epochImages += rows;
                bool last = s == _stepsPerEpoch - 1;
                state = last
                    ? new TrainingState(state.Step + 1, epoch + 1, 0, 0, 0, Elapsed())
                    : new TrainingState(state.Step + 1, epoch, s + 1, lossSum, seen, Elapsed());
                if (options.CheckpointEvery > 0 && state.Step % options.CheckpointEvery == 0)
                {
                    Checkpoint(state);
                }

                if (stop.IsRequested)
                {
                    images += epochImages;
                    Checkpoint(state);
                    return Result(true, state, resumedFrom, images, lastLoss, validationLoss, validationAccuracy);
                }
            }

            images += epochImages;
            double seconds = Stopwatch.GetElapsedTime(epochStarted).TotalSeconds;
            lastLoss = seen > 0 ? lossSum / seen : double.NaN;
            string line = string.Create(CultureInfo.InvariantCulture, $"Epoch {epoch + 1}/{options.Epochs}: loss {lastLoss:F4}");
            if (data.Validation is { } validation)
            {
                var evaluation = network.Evaluate(validation);
                validationLoss = evaluation.Loss;
                validationAccuracy = evaluation["accuracy"];
                line += string.Create(CultureInfo.InvariantCulture, $", val_loss {validationLoss:F4}, val_accuracy {validationAccuracy:F4}");
            }

            progress.WriteLine(line + string.Create(CultureInfo.InvariantCulture,
                $", {seconds:F1} s, {(seconds > 0 ? epochImages / seconds : 0):N0} images/s{(first > 0 ? $" (resumed at step {first} of {_stepsPerEpoch})" : "")}"));
            if (options.CheckpointEvery == 0 || epoch == options.Epochs - 1 || stop.IsRequested)
            {
                Checkpoint(state); // each epoch end (--checkpoint-every 0), the end of training, a stop during validation
            }

            if (stop.IsRequested)
            {
                return Result(true, state, resumedFrom, images, lastLoss, validationLoss, validationAccuracy);
            }
        }

        return Result(false, state, resumedFrom, images, lastLoss, validationLoss, validationAccuracy);
    }

    /// <summary>Writes the checkpoint of <paramref name="state"/> (nothing without a directory, or when the newest checkpoint is already of this step).</summary>
    public void Checkpoint(TrainingState state)
    {
        if (store is null || state.Step == _lastCheckpointStep)
        {
            return;
        }

        using var buffer = new MemoryStream();
        network.SaveCheckpoint(buffer, optimizer, new TrainingProgress(state.Epoch));
        var invariant = CultureInfo.InvariantCulture;
        KeyValuePair<string, string>[] entries =
        [
            .. Fingerprint,
            new("trainer.format", FormatVersion),
            new("trainer.step", state.Step.ToString(invariant)),
            new("trainer.epoch", state.Epoch.ToString(invariant)),
            new("trainer.step_in_epoch", state.StepInEpoch.ToString(invariant)),
            new("trainer.steps_per_epoch", _stepsPerEpoch.ToString(invariant)),
            new("trainer.epoch_loss_sum", state.EpochLossSum.ToString("R", invariant)),
            new("trainer.epoch_samples", state.EpochSamples.ToString(invariant)),
            new("trainer.train_seconds", state.TrainSeconds.ToString("R", invariant)),
            new("trainer.threads", network.Threads.ToString(invariant)),
            new("trainer.vector_bits", VectorBits),
        ];
        string? written = store.Write(state.Step, CheckpointStore.Seal(buffer.ToArray(), entries));
        _lastCheckpointStep = state.Step;
        if (written is not null)
        {
            _checkpointsWritten++;
            _lastCheckpoint = written;
        }
    }

    /// <summary>
    /// Fills <paramref name="order"/> with epoch <paramref name="epoch"/>'s visiting order: 0 .. n-1 shuffled by a
    /// generator seeded from (seed, epoch) alone.
    /// </summary>
    public static void EpochOrder(int[] order, ulong seed, int epoch)
    {
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        new DeterministicRandom(EpochSeed(seed, epoch)).Shuffle(order.AsSpan());
    }

    /// <summary>A well-mixed seed per (seed, epoch) pair: SplitMix64's finaliser over an odd-multiplier combination.</summary>
    public static ulong EpochSeed(ulong seed, int epoch)
    {
        ulong z = unchecked(seed + ((ulong)(uint)epoch + 1) * 0xD1B54A32D192ED03UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    private double Elapsed() => _secondsBefore + Stopwatch.GetElapsedTime(_started).TotalSeconds;

    private TrainingResult Result(bool stopped, TrainingState state, long? resumedFrom, long images, double? lastLoss, double? validationLoss, double? validationAccuracy) =>
        new(stopped, state, resumedFrom, Stopwatch.GetElapsedTime(_started).TotalSeconds, images, lastLoss, validationLoss, validationAccuracy, _checkpointsWritten, _lastCheckpoint);

    /// <summary>Why a checkpoint's metadata is not this run's (null when it is): another format, or a fingerprint entry that differs.</summary>
    private string? Foreign(IReadOnlyDictionary<string, string> metadata)
    {
        if (metadata.GetValueOrDefault("trainer.format") != FormatVersion)
        {
            return $"it has trainer format '{metadata.GetValueOrDefault("trainer.format") ?? "none"}', this trainer writes {FormatVersion}";
        }

        foreach (var (key, value) in Fingerprint)
        {
            string? theirs = metadata.GetValueOrDefault(key);
            if (theirs != value)
            {
                return $"it belongs to another run: {key} is '{theirs ?? "absent"}' there but '{value}' here";
            }
        }

        return null;
    }

    /// <summary>
    /// Restores a verified checkpoint of this run into the network and the optimizer. Every number is checked before
    /// <c>LoadCheckpoint</c>, which itself validates everything before it changes anything: a checkpoint that fails
    /// leaves the network as it was, for the next older one.
    /// </summary>
    private TrainingState Restore(byte[] bytes, IReadOnlyDictionary<string, string> metadata, string path)
    {
        long step = Int64(metadata, "trainer.step");
        int epoch = (int)Int64(metadata, "trainer.epoch");
        int stepInEpoch = (int)Int64(metadata, "trainer.step_in_epoch");
        if (Int64(metadata, "trainer.steps_per_epoch") != _stepsPerEpoch || stepInEpoch >= _stepsPerEpoch || (long)epoch * _stepsPerEpoch + stepInEpoch != step)
        {
            throw new InvalidDataException($"its position (epoch {epoch}, step {stepInEpoch} of {metadata.GetValueOrDefault("trainer.steps_per_epoch")}) does not add up to step {step}");
        }

        if (Int64(metadata, "netdsl.steps") != step || Int64(metadata, "netdsl.optimizer.iterations") != step || Int64(metadata, "netdsl.epoch") != epoch)
        {
            throw new InvalidDataException($"its network and optimizer counters do not match step {step}");
        }

        var state = new TrainingState(step, epoch, stepInEpoch, Double(metadata, "trainer.epoch_loss_sum"), Int64(metadata, "trainer.epoch_samples"), Double(metadata, "trainer.train_seconds"));
        using var stream = new MemoryStream(bytes, writable: false);
        network.LoadCheckpoint(stream, optimizer, path);
        if (metadata.GetValueOrDefault("trainer.threads") is { } threads && threads != network.Threads.ToString(CultureInfo.InvariantCulture))
        {
            warnings.WriteLine($"warning: {path} was written with {threads} threads, this run has {network.Threads}: training continues correctly, but not bit-identically to an uninterrupted run (pass --threads {threads} for that).");
        }

        if (metadata.GetValueOrDefault("trainer.vector_bits") is { } bits && bits != VectorBits)
        {
            warnings.WriteLine($"warning: {path} was written by a build with {bits}-bit vectors, this one has {VectorBits}-bit ones (another CPU or Native-AOT instruction set): training continues correctly, but not bit-identically to an uninterrupted run.");
        }

        return state;
    }

    /// <summary>The widest hardware vectors the kernels use here: the sums they split differ in the last bits between widths.</summary>
    private static string VectorBits =>
        Vector512.IsHardwareAccelerated ? "512" : Vector256.IsHardwareAccelerated ? "256" : Vector128.IsHardwareAccelerated ? "128" : "0";

    private static long Int64(IReadOnlyDictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out string? text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new InvalidDataException($"its metadata '{key}' is '{text ?? "absent"}', not a count");

    private static double Double(IReadOnlyDictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out string? text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value)
            ? value
            : throw new InvalidDataException($"its metadata '{key}' is '{text ?? "absent"}', not a number");
}

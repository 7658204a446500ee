using System.Diagnostics;
using NetDsl.Data;
using NetDsl.Metrics;
using NetDsl.Optimizers;
using NetDsl.Training;

namespace NetDsl;

/// <summary>The Keras-level training half of <see cref="Model"/>: <c>Fit</c>, <c>Evaluate</c> and prediction over data sources.</summary>
public abstract partial class Model
{
    private float[]? _sourceFeatures;
    private int[]? _sourceLabels;
    private float[]? _sourceTargets;
    private float[]? _sourceOutputs;

    /// <summary>
    /// Trains the network on <paramref name="data"/> for <paramref name="epochs"/> epochs, Keras style; a shortcut
    /// for <see cref="Fit(IDataSource, IOptimizer, FitOptions, CancellationToken)"/> with the most used options.
    /// </summary>
    /// <param name="data">The training samples, with class labels or float targets as the network's loss takes.</param>
    /// <param name="optimizer">The update rule (its state restarts when it differs from the last one used with this network).</param>
    /// <param name="epochs">The number of epochs.</param>
    /// <param name="batchSize">Samples per step, at most <see cref="BatchSize"/>; 0 means <see cref="BatchSize"/>.</param>
    /// <param name="validationSplit">The share of <paramref name="data"/>, from its end, held out for validation; 0 for none.</param>
    /// <param name="validationData">Data evaluated after every epoch; null for none.</param>
    /// <param name="callbacks">Callbacks, in order.</param>
    /// <param name="verbose">How much to print to the console.</param>
    /// <param name="cancellationToken">Checked before every batch; see <see cref="Fit(IDataSource, IOptimizer, FitOptions, CancellationToken)"/>.</param>
    /// <returns>The per-epoch history.</returns>
    public History Fit(IDataSource data, IOptimizer optimizer, int epochs = 1, int batchSize = 0, double validationSplit = 0,
        IDataSource? validationData = null, IReadOnlyList<Callback>? callbacks = null, Verbosity verbose = Verbosity.Auto,
        CancellationToken cancellationToken = default) =>
        Fit(data, optimizer, new FitOptions
        {
            Epochs = epochs,
            BatchSize = batchSize,
            ValidationSplit = validationSplit,
            ValidationData = validationData,
            Callbacks = callbacks,
            Verbose = verbose,
        }, cancellationToken);

    /// <summary>
    /// Trains the network, Keras style: for each epoch from <see cref="FitOptions.InitialEpoch"/> to
    /// <see cref="FitOptions.Epochs"/>, one <see cref="TrainStep(ReadOnlySpan{float}, ReadOnlySpan{int}, IOptimizer)"/> per mini-batch of the (shuffled) training data,
    /// running means of the loss and the metrics, then evaluation of the validation data in inference mode, the epoch
    /// logs to the callbacks and the <see cref="History"/>.
    /// </summary>
    /// <param name="data">The training samples; they must supply class labels (float targets: see remarks).</param>
    /// <param name="optimizer">The update rule. <see cref="IOptimizer.LearningRate"/> is logged as <c>lr</c> and may be changed by callbacks.</param>
    /// <param name="options">Epochs, batch size, validation, shuffling, callbacks, metrics, output.</param>
    /// <param name="cancellationToken">
    /// Checked before every training batch and every validation batch. A cancellation lets the batch in progress
    /// finish (the network then holds the weights after that batch), and then throws
    /// <see cref="OperationCanceledException"/>: the interrupted epoch is not validated, reported or recorded, no
    /// further callback event runs (not even <see cref="Callback.OnTrainEnd"/>), and the history of the epochs finished
    /// before is not returned (a callback can keep it).
    /// </param>
    /// <returns>The per-epoch history.</returns>
    /// <remarks>
    /// <para>The training loss of an epoch is the mean over its samples of the per-batch mean losses weighted by batch
    /// size (Keras 3), the training metrics are computed on the outputs of the training forward passes (dropout
    /// active, parameters before each update), as in Keras; <c>val_loss</c> and the <c>val_</c> metrics come from the
    /// inference pass over the validation data. The steady state allocates nothing per batch (the progress bar's
    /// redraws aside); per epoch it allocates the epoch logs, the history entry and a shuffle generator.</para>
    /// <para>The source must supply what the loss takes: class labels for sparse categorical cross-entropy, otherwise
    /// <see cref="OutputSize"/> float targets per sample (<see cref="TargetKind.Values"/>); a mismatch is an
    /// <see cref="ArgumentException"/> naming both.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">A source's sample size is not <see cref="InputSize"/>, the training data is
    /// empty, both a validation split and validation data are given, or a metric name is repeated or reserved.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Epochs, initial epoch, batch size or validation split is out of range.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public History Fit(IDataSource data, IOptimizer optimizer, FitOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfDisposed();
        ThrowIfCannotTrain();
        CheckSource(data, nameof(data));
        ArgumentOutOfRangeException.ThrowIfNegative(options.Epochs, nameof(options.Epochs));
        ArgumentOutOfRangeException.ThrowIfNegative(options.InitialEpoch, nameof(options.InitialEpoch));
        DataParallelStep? parallel = options.Distributed is { } group
            ? new DataParallelStep(this as Network ?? throw new NotSupportedException($"Data-parallel Fit (FitOptions.Distributed) trains a CPU Network; this model is a {GetType().Name}."), group)
            : null;
        int batchSize = parallel is null ? ResolveBatchSize(options.BatchSize) : ResolveGlobalBatchSize(options.BatchSize, parallel.Group.Size);
        bool root = parallel is null || parallel.Group.Rank == 0;
        if (options.ValidationSplit != 0 && options.ValidationData is not null)
        {
            throw new ArgumentException("Give either validation data or a validation split, not both.", nameof(options));
        }

        IDataSource training = data;
        IDataSource? validation = options.ValidationData;
        if (options.ValidationSplit != 0)
        {
            (training, validation) = DataSource.SplitLast(data, options.ValidationSplit);
        }

        if (validation is not null)
        {
            CheckSource(validation, nameof(options.ValidationData));
        }

        if (training.Count == 0)
        {
            throw new ArgumentException("The training data has no samples.", nameof(data));
        }

        Metric[] metrics = ResolveMetrics(options.Metrics, Loss);
        TextWriter writer = options.Output ?? Console.Out;
        Verbosity style = !root ? Verbosity.Silent : options.Verbose switch
        {
            Verbosity.Auto => (options.Output is null || ReferenceEquals(options.Output, Console.Out)) && !Console.IsOutputRedirected
                ? Verbosity.ProgressBar
                : Verbosity.EpochLines,
            Verbosity.Silent or Verbosity.ProgressBar or Verbosity.EpochLines => options.Verbose,
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Verbose, "Unknown verbosity."),
        };

        var callbacks = new List<Callback>();
        if (style != Verbosity.Silent)
        {
            callbacks.Add(new ProgressLogger(writer, style));
        }

        foreach (var callback in options.Callbacks ?? [])
        {
            _ = callback ?? throw new ArgumentException("A callback is null.", nameof(options));
            if (root || !callback.RootRankOnly)
            {
                callbacks.Add(callback);
            }
        }

        var batcher = new Batcher(training, batchSize, options.ShuffleSeed ?? unchecked((ulong)Seed), options.Shuffle);
        var context = new TrainingContext
        {
            Network = HostNetwork,
            Optimizer = optimizer,
            Epochs = options.Epochs,
            InitialEpoch = options.InitialEpoch,
            StepsPerEpoch = batcher.BatchesPerEpoch,
            BatchSize = batchSize,
            TrainingSamples = training.Count,
            ValidationSamples = validation?.Count ?? 0,
            Metrics = metrics,
            Log = style == Verbosity.Silent ? null : writer,
            ProcessGroup = options.Distributed,
        };
        Callback[] hooks = [.. callbacks];
        foreach (var hook in hooks)
        {
            hook.SetContext(context);
        }

        if (parallel is not null)
        {
            parallel.CheckAgreement(
            [
                ("the number of parameters", ((Network)this).Parameters.Length),
                ("the number of training samples", training.Count),
                ("the number of validation samples", validation?.Count ?? 0),
                ("the global batch size", batchSize),
                ("the epochs", options.Epochs),
                ("the initial epoch", options.InitialEpoch),
                ("the shuffle seed (FitOptions.ShuffleSeed, by default the network's seed)", unchecked((long)(options.Shuffle ? options.ShuffleSeed ?? unchecked((ulong)Seed) : ulong.MaxValue))),
                ("the optimizer's iteration count", optimizer.Iterations),
                ("the optimizer's learning rate", BitConverter.SingleToInt32Bits(optimizer.LearningRate)),
                ("the number of metrics", metrics.Length),
            ]);
            parallel.BroadcastParameters();
        }

        return RunFit(training, validation, optimizer, batcher, metrics, hooks, context, parallel, cancellationToken);
    }

    /// <summary>The global batch of a data-parallel run: 0 means every rank's full network batch.</summary>
    private int ResolveGlobalBatchSize(int batchSize, int ranks)
    {
        long largest = (long)BatchSize * ranks;
        if (batchSize < 0 || batchSize > largest)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"The global batch size must be 1 to {largest} ({ranks} ranks of {BatchSize}, the batch size this network was built for), or 0 for {Math.Min(largest, int.MaxValue)}.");
        }

        return batchSize == 0 ? (int)Math.Min(largest, int.MaxValue) : batchSize;
    }

    /// <summary>
    /// Evaluates the network on <paramref name="data"/> in inference mode (dropout off, BatchNorm moving statistics):
    /// the mean loss and each metric over every sample.
    /// </summary>
    /// <param name="data">The samples, with class labels or float targets as the network's loss takes.</param>
    /// <param name="metrics">The metrics besides the loss; null means <c>[new Accuracy()]</c>. They are reset first.</param>
    /// <param name="batchSize">Samples per forward pass, at most <see cref="BatchSize"/>; 0 means <see cref="BatchSize"/>.</param>
    /// <param name="cancellationToken">Checked before every batch.</param>
    /// <remarks>The loss is the sparse categorical cross-entropy from the output probabilities (see <see cref="CrossEntropy"/>).
    /// An empty source gives NaN for everything. Allocates nothing per batch.</remarks>
    public EvaluationResult Evaluate(IDataSource data, IReadOnlyList<Metric>? metrics = null, int batchSize = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ThrowIfDisposed();
        CheckSource(data, nameof(data));
        int rows = ResolveBatchSize(batchSize);
        Metric[] resolved = ResolveMetrics(metrics, Loss);
        var loss = CreateLossMetric();
        RunEvaluation(data, rows, loss, resolved, null, cancellationToken);
        return new EvaluationResult(data.Count, loss.Result, resolved.Select(m => KeyValuePair.Create(m.Name, m.Result)));
    }

    /// <summary>Runs the network on every sample of <paramref name="data"/> (its targets, if any, are ignored) and returns <see cref="OutputSize"/> floats per sample.</summary>
    public float[] Predict(IDataSource data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var outputs = new float[checked(data.Count * OutputSize)];
        Predict(data, outputs);
        return outputs;
    }

    /// <summary>
    /// Runs the network on every sample of <paramref name="data"/> (its targets, if any, are ignored) in batches of up
    /// to <see cref="BatchSize"/>, writing <see cref="OutputSize"/> floats per sample to <paramref name="outputs"/>.
    /// Any count works; no batch allocates (the gathering buffer is allocated once per network).
    /// </summary>
    public void Predict(IDataSource data, Span<float> outputs)
    {
        ArgumentNullException.ThrowIfNull(data);
        ThrowIfDisposed();
        CheckSampleSize(data, nameof(data));
        if (outputs.Length != (long)data.Count * OutputSize)
        {
            throw new ArgumentException($"{data.Count} samples need {(long)data.Count * OutputSize} output floats ({OutputSize} each), but the output span has {outputs.Length}.", nameof(outputs));
        }

        for (int start = 0; start < data.Count; start += BatchSize)
        {
            int rows = Math.Min(BatchSize, data.Count - start);
            Predict(GatherFeatures(data, start, rows), outputs.Slice(start * OutputSize, rows * OutputSize));
        }
    }

    /// <summary>The metric that reports the loss in evaluation: the network's loss computed from its outputs.</summary>
    private Metric CreateLossMetric() => TakesClassLabels ? new CrossEntropy("loss") : new LossMetric(Loss);

    /// <summary>
    /// The metrics reported when the caller names none: accuracy for classifiers (class labels or one-hot rows),
    /// binary accuracy for binary cross-entropy, the mean absolute error for regression, none besides the loss for the hinges.
    /// </summary>
    private static Metric[] DefaultMetrics(Loss loss) => loss switch
    {
        Loss.SparseCategoricalCrossEntropy or Loss.CategoricalCrossEntropy => [new Accuracy()],
        Loss.BinaryCrossEntropy => [new BinaryAccuracy()],
        Loss.Hinge or Loss.SquaredHinge => [],
        _ => [new LossMetric(Loss.MeanAbsoluteError, "mae")],
    };

    private History RunFit(IDataSource training, IDataSource? validation, IOptimizer optimizer, Batcher batcher, Metric[] metrics,
        Callback[] hooks, TrainingContext context, DataParallelStep? parallel, CancellationToken cancellationToken)
    {
        var history = new History();
        var batchLogs = new Logs();
        var lossMetric = CreateLossMetric();
        Logs? last = null;
        try
        {
            var begin = new Logs();
            foreach (var hook in hooks)
            {
                hook.OnTrainBegin(begin);
            }

            PublishHost(optimizer);

            for (int epoch = context.InitialEpoch; epoch < context.Epochs; epoch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                foreach (var metric in metrics)
                {
                    metric.Reset();
                }

                var epochLogs = new Logs();
                foreach (var hook in hooks)
                {
                    hook.OnEpochBegin(epoch, epochLogs);
                }

                batcher.StartEpoch(epoch);
                batchLogs.Clear();
                double lossSum = 0;
                long seen = 0;
                int step = 0;
                long started = Stopwatch.GetTimestamp();
                while (true)
                {
                    if (parallel is null)
                    {
                        cancellationToken.ThrowIfCancellationRequested(); // data-parallel: agreed after every batch
                    }

                    if (!batcher.MoveNext())
                    {
                        break;
                    }

                    for (int i = 0; i < hooks.Length; i++)
                    {
                        hooks[i].OnBatchBegin(step, batchLogs);
                    }

                    int rows = batcher.Rows;

                    float loss;
                    ReadOnlySpan<float> outputs;
                    if (parallel is null)
                    {
                        loss = TakesClassLabels ? TrainStep(batcher.Features, batcher.Labels, optimizer) : TrainStep(batcher.Features, batcher.Targets, optimizer);
                        outputs = TrainingOutputs(rows);
                    }
                    else
                    {
                        loss = parallel.TrainStep(batcher, TakesClassLabels, optimizer);
                        outputs = metrics.Length == 0 ? default : parallel.GatherOutputs(TrainingOutputs(parallel.LocalRows), rows);
                    }

                    if (metrics.Length > 0)
                    {
                        var batch = TakesClassLabels
                            ? new MetricBatch(outputs, OutputSize, batcher.Labels)
                            : new MetricBatch(outputs, OutputSize, batcher.Targets, OutputSize);
                        for (int i = 0; i < metrics.Length; i++)
                        {
                            metrics[i].Update(batch);
                        }
                    }

                    lossSum += (double)loss * rows;
                    seen += rows;
                    batchLogs["loss"] = lossSum / seen;
                    for (int i = 0; i < metrics.Length; i++)
                    {
                        batchLogs[metrics[i].Name] = metrics[i].Result;
                    }

                    for (int i = 0; i < hooks.Length; i++)
                    {
                        hooks[i].OnBatchEnd(step, batchLogs);
                    }

                    if (LastStepSkipped && !context.StopTraining)
                    {
                        throw new NonFiniteTrainingException(epoch, step, NonFiniteMessage(epoch, context.Epochs, step, context.StepsPerEpoch, batcher));
                    }

                    step++;
                    if (parallel is not null)
                    {
                        AgreeToStop(parallel, context, cancellationToken);
                    }
                    if (context.StopTraining)
                    {
                        break;
                    }
                }

                double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                epochLogs.Clear();
                epochLogs["loss"] = seen == 0 ? double.NaN : lossSum / seen;
                foreach (var metric in metrics)
                {
                    epochLogs[metric.Name] = metric.Result;
                }

                if (validation is not null)
                {
                    RunEvaluation(validation, context.BatchSize, lossMetric, metrics, parallel, cancellationToken);
                    epochLogs["val_loss"] = lossMetric.Result;
                    foreach (var metric in metrics)
                    {
                        epochLogs["val_" + metric.Name] = metric.Result;
                    }
                }

                epochLogs["lr"] = ShortestDouble(optimizer.LearningRate);
                SynchronizeHost(optimizer);
                foreach (var hook in hooks)
                {
                    hook.OnEpochEnd(epoch, epochLogs);
                }

                PublishHost(optimizer);
                if (parallel is not null)
                {
                    AgreeToStop(parallel, context, cancellationToken);
                }

                history.Add(epoch, epochLogs, seconds, seconds > 0 ? seen / seconds : double.NaN);
                last = epochLogs;
                if (context.StopTraining)
                {
                    break;
                }
            }

            var end = last ?? new Logs();
            SynchronizeHost(optimizer);
            foreach (var hook in hooks)
            {
                hook.OnTrainEnd(end);
            }
        }
        catch
        {
            SynchronizeHost(optimizer);
            foreach (var hook in hooks)
            {
                hook.OnTrainAborted();
            }

            throw;
        }

        return history;
    }

    /// <summary>
    /// Makes every rank of a data-parallel run leave together: any rank's stop request stops all (a callback that runs
    /// on rank 0 only may ask), and a cancellation on any rank cancels all.
    /// </summary>
    private static void AgreeToStop(DataParallelStep parallel, TrainingContext context, CancellationToken cancellationToken)
    {
        var (stop, cancel) = parallel.Agree(context.StopTraining, cancellationToken.IsCancellationRequested);
        context.StopTraining = stop;
        if (cancel)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new OperationCanceledException($"Training was cancelled on another rank (this is rank {parallel.Group.Rank} of {parallel.Group.Size}).");
        }
    }

    /// <summary>The message of <see cref="NonFiniteTrainingException"/> for a skipped step.</summary>
    /// <remarks>Runs only when a step was skipped: it then looks through the batch for the first non-finite input or target to name it.</remarks>
    private static string NonFiniteMessage(int epoch, int epochs, int step, int steps, Batcher batcher)
    {
        string where = FormattableString.Invariant($"Training stopped at epoch {epoch + 1}/{epochs}, step {step + 1}/{steps}: the loss or a gradient was NaN or infinite. ")
            + "That step's update was skipped, so the weights and the optimizer state are those before it. ";
        string? culprit = FirstNonFinite(batcher.Features, batcher, "feature") ?? FirstNonFinite(batcher.Targets, batcher, "target");
        return where + (culprit ?? "The batch's inputs are finite: likely a learning rate that makes training diverge, or non-finite weights.");
    }

    private static string? FirstNonFinite(ReadOnlySpan<float> values, Batcher batcher, string what)
    {
        if (batcher.Rows == 0 || values.Length == 0)
        {
            return null;
        }

        int perRow = values.Length / batcher.Rows;
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return FormattableString.Invariant($"Sample {batcher.SourceIndex(i / perRow)} of the training data has {values[i]} at {what} {i % perRow}.");
            }
        }

        return null;
    }

    /// <summary>The double closest to the shortest decimal form of <paramref name="value"/> (0.01f logs as 0.01, not 0.009999999776482582).</summary>
    private static double ShortestDouble(float value) =>
        float.IsFinite(value) ? double.Parse(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture) : value;

    /// <summary>
    /// Inference over <paramref name="data"/> feeding the loss and the metrics (each reset first). Data-parallel, each
    /// rank runs its shard of every batch and the outputs are gathered, so every rank updates the metrics with the whole
    /// batch (cancellation is then agreed at the epoch's end instead of checked per batch).
    /// </summary>
    private void RunEvaluation(IDataSource data, int batchSize, Metric loss, IReadOnlyList<Metric> metrics, DataParallelStep? parallel, CancellationToken cancellationToken)
    {
        loss.Reset();
        for (int i = 0; i < metrics.Count; i++)
        {
            metrics[i].Reset();
        }

        _sourceOutputs ??= new float[checked(BatchSize * OutputSize)];
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int rows = Math.Min(batchSize, data.Count - start);
            ReadOnlySpan<float> outputs;
            if (parallel is null)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var mine = _sourceOutputs.AsSpan(0, rows * OutputSize);
                Predict(GatherFeatures(data, start, rows), mine);
                outputs = mine;
            }
            else
            {
                var (first, local) = parallel.Shard(rows);
                var mine = _sourceOutputs.AsSpan(0, local * OutputSize);
                if (local > 0)
                {
                    Predict(GatherFeatures(data, start + first, local), mine);
                }

                outputs = parallel.GatherOutputs(mine, rows);
            }

            var batch = TakesClassLabels
                ? new MetricBatch(outputs, OutputSize, GatherLabels(data, start, rows))
                : new MetricBatch(outputs, OutputSize, GatherTargets(data, start, rows), OutputSize);
            loss.Update(batch);
            for (int i = 0; i < metrics.Count; i++)
            {
                metrics[i].Update(batch);
            }
        }
    }

    /// <summary>Samples <c>start .. start + rows - 1</c> of <paramref name="data"/>, contiguous: a slice of a
    /// <see cref="Dataset"/>'s array, or gathered into a buffer allocated once.</summary>
    private ReadOnlySpan<float> GatherFeatures(IDataSource data, int start, int rows)
    {
        if (data is Dataset dataset)
        {
            return dataset.Features.AsSpan(start * InputSize, rows * InputSize);
        }

        _sourceFeatures ??= new float[checked(BatchSize * InputSize)];
        for (int r = 0; r < rows; r++)
        {
            data.CopyFeatures(start + r, _sourceFeatures.AsSpan(r * InputSize, InputSize));
        }

        return _sourceFeatures.AsSpan(0, rows * InputSize);
    }

    /// <summary>The float targets of samples <c>start .. start + rows - 1</c>, gathered into a buffer allocated once.</summary>
    private ReadOnlySpan<float> GatherTargets(IDataSource data, int start, int rows)
    {
        if (_sourceTargets is null || _sourceTargets.Length < rows * OutputSize)
        {
            _sourceTargets = new float[checked(Math.Max(rows, BatchSize) * OutputSize)]; // data-parallel global batches may be larger
        }

        for (int r = 0; r < rows; r++)
        {
            data.CopyTargets(start + r, _sourceTargets.AsSpan(r * OutputSize, OutputSize));
        }

        return _sourceTargets.AsSpan(0, rows * OutputSize);
    }

    /// <summary>The labels of samples <c>start .. start + rows - 1</c>, checked to be class indices.</summary>
    private ReadOnlySpan<int> GatherLabels(IDataSource data, int start, int rows)
    {
        ReadOnlySpan<int> labels;
        if (data is Dataset dataset)
        {
            labels = dataset.Labels.AsSpan(start, rows);
        }
        else
        {
            if (_sourceLabels is null || _sourceLabels.Length < rows)
            {
                _sourceLabels = new int[Math.Max(rows, BatchSize)]; // data-parallel global batches may be larger
            }

            for (int r = 0; r < rows; r++)
            {
                _sourceLabels[r] = data.GetLabel(start + r);
            }

            labels = _sourceLabels.AsSpan(0, rows);
        }

        for (int r = 0; r < labels.Length; r++)
        {
            if ((uint)labels[r] >= (uint)OutputSize)
            {
                throw new ArgumentOutOfRangeException(nameof(data), labels[r], $"Sample {start + r} has label {labels[r]}; labels must be class indices in [0, {OutputSize}).");
            }
        }

        return labels;
    }

    private int ResolveBatchSize(int batchSize)
    {
        if (batchSize < 0 || batchSize > BatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"The batch size must be 1 to {BatchSize} (the batch size this network was built for), or 0 for {BatchSize}.");
        }

        return batchSize == 0 ? BatchSize : batchSize;
    }

    private static Metric[] ResolveMetrics(IReadOnlyList<Metric>? metrics, Loss loss)
    {
        Metric[] resolved = metrics is not null ? [.. metrics] : DefaultMetrics(loss);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var metric in resolved)
        {
            ArgumentNullException.ThrowIfNull(metric, nameof(metrics));
            if (metric.Name is "loss" or "lr" or History.SecondsKey or History.ImagesPerSecondKey || metric.Name.StartsWith("val_", StringComparison.Ordinal))
            {
                throw new ArgumentException($"The metric name '{metric.Name}' is reserved (loss, lr, {History.SecondsKey}, {History.ImagesPerSecondKey}, val_*).", nameof(metrics));
            }

            if (!names.Add(metric.Name))
            {
                throw new ArgumentException($"Two metrics are named '{metric.Name}'; every metric needs its own name (and its own instance).", nameof(metrics));
            }
        }

        if (resolved.Distinct().Count() != resolved.Length)
        {
            throw new ArgumentException("The same metric instance appears twice.", nameof(metrics));
        }

        return resolved;
    }

    private void CheckSource(IDataSource data, string name)
    {
        CheckSampleSize(data, name);
        switch (data.TargetKind)
        {
            case TargetKind.ClassLabels when TakesClassLabels:
                return;
            case TargetKind.Values when !TakesClassLabels:
                if (data.TargetSize != OutputSize)
                {
                    throw new ArgumentException($"The data source supplies {data.TargetSize} target(s) per sample; the network has {OutputSize} output(s).", name);
                }

                return;
            case TargetKind.ClassLabels or TargetKind.Values:
                throw new ArgumentException(TakesClassLabels
                    ? $"The data source supplies float targets, but this network's loss ({Loss}) takes class labels."
                    : $"The data source supplies class labels, but this network's loss ({Loss}) takes {OutputSize} float target(s) per sample (one-hot rows for categorical cross-entropy).", name);
            default:
                throw new ArgumentException($"The data source supplies {data.TargetKind}; training and evaluation need {(TakesClassLabels ? "class labels" : "float targets")}.", name);
        }
    }

    private void CheckSampleSize(IDataSource data, string name)
    {
        if (data.SampleSize != InputSize)
        {
            throw new ArgumentException($"The data's samples have {data.SampleSize} floats; the network takes {InputSize}.", name);
        }
    }
}

using NetDsl.Metrics;
using NetDsl.Optimizers;

namespace NetDsl.Training;

/// <summary>
/// What callbacks see of a training run (Keras' <c>callback.model</c> and <c>callback.params</c>): the network, the
/// optimizer, the run's shape, and the <see cref="StopTraining"/> flag. <c>Network.Fit</c> creates one per run and
/// hands it to every callback through <see cref="Callback.SetContext"/>; tests may create one to drive a callback
/// directly.
/// </summary>
public sealed class TrainingContext
{
    /// <summary>The network being trained (its <see cref="Network.Parameters"/> are the weights).</summary>
    public required Network Network { get; init; }

    /// <summary>The optimizer; callbacks change <see cref="IOptimizer.LearningRate"/> between steps.</summary>
    public required IOptimizer Optimizer { get; init; }

    /// <summary>The index after the last epoch to run (Keras' <c>epochs</c>); epochs are numbered from 0.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>The first epoch's index (Keras' <c>initial_epoch</c>, for resuming).</summary>
    public int InitialEpoch { get; init; }

    /// <summary>Training batches per epoch.</summary>
    public int StepsPerEpoch { get; init; }

    /// <summary>Samples per training batch (the last batch of an epoch may have fewer).</summary>
    public int BatchSize { get; init; }

    /// <summary>Training samples per epoch.</summary>
    public int TrainingSamples { get; init; }

    /// <summary>Validation samples evaluated after each epoch; 0 without validation.</summary>
    public int ValidationSamples { get; init; }

    /// <summary>The metrics tracked besides the loss (their names are the log keys; validation adds <c>val_</c>).</summary>
    public IReadOnlyList<Metric> Metrics { get; init; } = [];

    /// <summary>The processes of a data-parallel run (<see cref="FitOptions.Distributed"/>), or null for one process.</summary>
    public IProcessGroup? ProcessGroup { get; init; }

    /// <summary>Where callbacks print messages (the progress output's writer); null when training is silent.</summary>
    public TextWriter? Log { get; init; }

    /// <summary>
    /// Set to end training (Keras' <c>model.stop_training</c>). <c>Network.Fit</c> checks it after every batch and
    /// every epoch: set during a batch, the epoch ends after that batch, is validated and reported; set at an epoch's
    /// end, no further epoch starts.
    /// </summary>
    public bool StopTraining { get; set; }

    /// <summary>The direction of the log key <paramref name="monitor"/> for a callback in <see cref="MonitorMode.Auto"/>.</summary>
    /// <remarks>
    /// <c>loss</c> and <c>val_loss</c> are minimised; a tracked metric (with or without <c>val_</c>) has its own
    /// <see cref="Metric.Direction"/>; any other key is maximised when its name contains <c>acc</c> and minimised
    /// otherwise (Keras 2's rule; Keras 3 raises an error for keys it does not know).
    /// </remarks>
    public MetricDirection DirectionOf(string monitor)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        string name = monitor.StartsWith("val_", StringComparison.Ordinal) ? monitor[4..] : monitor;
        if (name == "loss")
        {
            return MetricDirection.Minimize;
        }

        foreach (var metric in Metrics)
        {
            if (metric.Name == name)
            {
                return metric.Direction;
            }
        }

        return MonitorModes.Guess(monitor);
    }
}

/// <summary>Whether a monitored quantity should go down or up (Keras' <c>mode</c>).</summary>
public enum MonitorMode
{
    /// <summary>Decided from the key: see <see cref="TrainingContext.DirectionOf"/>.</summary>
    Auto = 0,

    /// <summary>Smaller is better.</summary>
    Min = 1,

    /// <summary>Larger is better.</summary>
    Max = 2,
}

/// <summary>Resolving <see cref="MonitorMode"/>.</summary>
internal static class MonitorModes
{
    /// <summary>Keras 2's rule: maximise keys containing "acc", minimise the rest.</summary>
    public static MetricDirection Guess(string monitor) =>
        monitor.Contains("acc", StringComparison.Ordinal) ? MetricDirection.Maximize : MetricDirection.Minimize;

    /// <summary>The direction for <paramref name="mode"/>, asking the context (or guessing without one) in Auto mode.</summary>
    public static MetricDirection Resolve(MonitorMode mode, string monitor, TrainingContext? context) => mode switch
    {
        MonitorMode.Min => MetricDirection.Minimize,
        MonitorMode.Max => MetricDirection.Maximize,
        MonitorMode.Auto => context?.DirectionOf(monitor) ?? Guess(monitor),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown monitor mode."),
    };
}

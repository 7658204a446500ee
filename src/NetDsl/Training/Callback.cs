namespace NetDsl.Training;

/// <summary>
/// Hooks into <c>Network.Fit</c>, like a Keras callback. Override the events you need; each receives the current
/// logs. Epoch and batch numbers start at 0 (epochs count from the run's <see cref="TrainingContext.InitialEpoch"/>,
/// batches restart at 0 each epoch). The network, the optimizer and the stop flag are in <see cref="Context"/>.
/// </summary>
/// <remarks>
/// Order of events: <see cref="OnTrainBegin"/>; per epoch <see cref="OnEpochBegin"/>, per batch
/// <see cref="OnBatchBegin"/> and <see cref="OnBatchEnd"/> (batch logs: running means of <c>loss</c> and the metrics
/// over the epoch so far), then validation and <see cref="OnEpochEnd"/> (epoch logs: <c>loss</c>, metrics,
/// <c>val_loss</c>, <c>val_</c> metrics, <c>lr</c>); finally <see cref="OnTrainEnd"/> with the last epoch's logs.
/// Callbacks run in list order after the built-in progress output. When training is cancelled or a step throws, the
/// exception propagates and neither <see cref="OnEpochEnd"/> for the interrupted epoch nor <see cref="OnTrainEnd"/>
/// runs. A callback instance may be reused by several runs: <see cref="OnTrainBegin"/> should reset its state.
/// Everything a callback needs to save the model at an epoch's end (a checkpoint) is here: the network, the optimizer
/// and the epoch logs.
/// </remarks>
public abstract class Callback
{
    private TrainingContext? _context;

    /// <summary>The run this callback is attached to.</summary>
    /// <exception cref="InvalidOperationException">The callback is not attached to a run.</exception>
    public TrainingContext Context => _context ?? throw new InvalidOperationException($"{GetType().Name} is not attached to a training run: Network.Fit calls SetContext before OnTrainBegin.");

    /// <summary>
    /// Whether, in data-parallel training (<see cref="FitOptions.Distributed"/>), only rank 0 runs this callback: true
    /// for callbacks that write files or print (checkpoints, CSV logs), false (default) for those that steer training
    /// (early stopping, learning-rate schedules), which must run on every rank. Every rank sees the same logs, so
    /// callbacks on every rank decide the same way.
    /// </summary>
    public virtual bool RootRankOnly => false;

    /// <summary>Whether <see cref="SetContext"/> has been called.</summary>
    protected bool HasContext => _context is not null;

    /// <summary>Attaches the callback to a run (called by <c>Network.Fit</c> before <see cref="OnTrainBegin"/>).</summary>
    public virtual void SetContext(TrainingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _context = context;
    }

    /// <summary>Called once before the first epoch.</summary>
    public virtual void OnTrainBegin(Logs logs)
    {
    }

    /// <summary>Called once after the last epoch, with that epoch's logs (empty when no epoch ran).</summary>
    public virtual void OnTrainEnd(Logs logs)
    {
    }

    /// <summary>Called at the start of epoch <paramref name="epoch"/> (0-based, absolute).</summary>
    public virtual void OnEpochBegin(int epoch, Logs logs)
    {
    }

    /// <summary>Called at the end of epoch <paramref name="epoch"/>, after validation, with the epoch logs.</summary>
    public virtual void OnEpochEnd(int epoch, Logs logs)
    {
    }

    /// <summary>Called before training batch <paramref name="batch"/> (0-based within the epoch).</summary>
    public virtual void OnBatchBegin(int batch, Logs logs)
    {
    }

    /// <summary>Called after training batch <paramref name="batch"/> with the running epoch means (a shared instance: copy to keep).</summary>
    public virtual void OnBatchEnd(int batch, Logs logs)
    {
    }

    /// <summary>Called when the run ends with an exception (cancellation included), before it propagates.</summary>
    internal virtual void OnTrainAborted()
    {
    }

    /// <summary>Asks the run to stop (sets <see cref="TrainingContext.StopTraining"/>).</summary>
    protected void StopTraining() => Context.StopTraining = true;
}

using System.Globalization;

namespace NetDsl.Training;

/// <summary>
/// Stops training as soon as the loss becomes NaN or infinite, like Keras' <c>TerminateOnNaN</c>: checked after every
/// batch on the running mean <c>loss</c> of the epoch (which turns NaN or infinite with the first such batch). The
/// epoch then ends after that batch (it is still validated and reported) and no further epoch starts.
/// </summary>
public sealed class TerminateOnNaN : Callback
{
    /// <summary>The epoch and batch at which training was stopped, or null.</summary>
    public (int Epoch, int Batch)? TerminatedAt { get; private set; }

    private int _epoch;

    /// <inheritdoc/>
    public override void OnTrainBegin(Logs logs) => TerminatedAt = null;

    /// <inheritdoc/>
    public override void OnEpochBegin(int epoch, Logs logs) => _epoch = epoch;

    /// <inheritdoc/>
    public override void OnBatchEnd(int batch, Logs logs)
    {
        ArgumentNullException.ThrowIfNull(logs);
        if (logs.TryGetValue("loss", out double loss) && !double.IsFinite(loss))
        {
            TerminatedAt = (_epoch, batch);
            Context.Log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Batch {batch}: Invalid loss, terminating training"));
            StopTraining();
        }
    }
}

using System.Globalization;
using NetDsl.Metrics;

namespace NetDsl.Training;

/// <summary>
/// Stops training when a monitored quantity has stopped improving, like Keras 3's <c>EarlyStopping</c>.
/// </summary>
/// <remarks>
/// <para>At each epoch end (from <c>startFromEpoch</c> on) the monitored value counts as an improvement when it beats
/// the best so far by more than <c>minDelta</c> (<c>current &lt; best - minDelta</c> when minimising,
/// <c>current &gt; best + minDelta</c> when maximising; the first value always does). An improvement resets the
/// wait, unless a <c>baseline</c> is set and not beaten; otherwise the wait grows by one, and when it reaches
/// <c>patience</c> (and the epoch is not the first, epoch 0) training stops.</para>
/// <para>With <c>restoreBestWeights</c> the callback keeps a copy of <see cref="Network.Parameters"/> (every
/// parameter, BatchNorm statistics included) from the end of the best epoch and writes it back when training ends,
/// whether or not it stopped early (Keras 3; Keras 2 restored only on an early stop). Optimizer state is not
/// restored.</para>
/// <para>When the monitored key is missing from the logs (e.g. <c>val_loss</c> without validation data), the epoch is
/// skipped and a warning is written to <see cref="TrainingContext.Log"/>, as Keras warns.</para>
/// </remarks>
public sealed class EarlyStopping : Callback
{
    private readonly MonitorMode _mode;
    private MetricDirection _direction;
    private float[]? _bestWeights;
    private bool _warned;
    private bool _hasBest;

    /// <summary>Creates the callback.</summary>
    /// <param name="monitor">The log key to watch.</param>
    /// <param name="minDelta">The smallest change that counts as an improvement (its sign is ignored).</param>
    /// <param name="patience">Epochs without improvement after which training stops.</param>
    /// <param name="mode">Whether the value should go down or up; Auto decides from the key.</param>
    /// <param name="baseline">A value the monitored quantity must beat for the wait to restart; null for none.</param>
    /// <param name="restoreBestWeights">Restore the parameters of the best epoch when training ends.</param>
    /// <param name="startFromEpoch">Epochs to ignore at the start (warm-up).</param>
    /// <param name="verbose">Print a line to <see cref="TrainingContext.Log"/> when stopping and restoring.</param>
    public EarlyStopping(string monitor = "val_loss", double minDelta = 0, int patience = 0, MonitorMode mode = MonitorMode.Auto,
        double? baseline = null, bool restoreBestWeights = false, int startFromEpoch = 0, bool verbose = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(monitor);
        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        ArgumentOutOfRangeException.ThrowIfNegative(startFromEpoch);
        if (!double.IsFinite(minDelta))
        {
            throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, "minDelta must be finite.");
        }

        if (!Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown monitor mode.");
        }

        Monitor = monitor;
        MinDelta = Math.Abs(minDelta);
        Patience = patience;
        _mode = mode;
        Baseline = baseline;
        RestoreBestWeights = restoreBestWeights;
        StartFromEpoch = startFromEpoch;
        Verbose = verbose;
        Reset();
    }

    /// <summary>The log key watched.</summary>
    public string Monitor { get; }

    /// <summary>The smallest change that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Epochs without improvement after which training stops.</summary>
    public int Patience { get; }

    /// <summary>The value to beat for the wait to restart, if any.</summary>
    public double? Baseline { get; }

    /// <summary>Whether the best epoch's parameters are restored when training ends.</summary>
    public bool RestoreBestWeights { get; }

    /// <summary>Epochs ignored at the start.</summary>
    public int StartFromEpoch { get; }

    /// <summary>Whether messages are printed.</summary>
    public bool Verbose { get; }

    /// <summary>Epochs since the last improvement.</summary>
    public int Wait { get; private set; }

    /// <summary>The best monitored value so far; NaN before the first.</summary>
    public double Best { get; private set; }

    /// <summary>The epoch of <see cref="Best"/>; -1 before the first.</summary>
    public int BestEpoch { get; private set; }

    /// <summary>The epoch at whose end training was stopped; -1 when it was not.</summary>
    public int StoppedEpoch { get; private set; }

    /// <inheritdoc/>
    public override void OnTrainBegin(Logs logs)
    {
        Reset();
        _direction = MonitorModes.Resolve(_mode, Monitor, HasContext ? Context : null);
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(int epoch, Logs logs)
    {
        ArgumentNullException.ThrowIfNull(logs);
        if (!logs.TryGetValue(Monitor, out double current))
        {
            if (!_warned)
            {
                _warned = true;
                Context.Log?.WriteLine($"EarlyStopping: the monitored key '{Monitor}' is not in the logs (they have: {string.Join(", ", logs.Keys)}); skipping.");
            }

            return;
        }

        if (epoch < StartFromEpoch)
        {
            return;
        }

        if (RestoreBestWeights && _bestWeights is null)
        {
            // Until something improves, the current weights are the best (Keras does the same).
            _bestWeights = Context.Network.Parameters.ToArray();
            BestEpoch = epoch;
        }

        Wait++;
        if (!_hasBest || IsImprovement(current, Best))
        {
            _hasBest = true;
            Best = current;
            BestEpoch = epoch;
            if (RestoreBestWeights)
            {
                Context.Network.Parameters.CopyTo(_bestWeights);
            }

            if (Baseline is not double baseline || IsImprovement(current, baseline))
            {
                Wait = 0;
            }

            return;
        }

        if (Wait >= Patience && epoch > 0)
        {
            StoppedEpoch = epoch;
            StopTraining();
        }
    }

    /// <inheritdoc/>
    public override void OnTrainEnd(Logs logs)
    {
        if (StoppedEpoch >= 0 && Verbose)
        {
            Context.Log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Epoch {StoppedEpoch + 1}: early stopping"));
        }

        if (RestoreBestWeights && _bestWeights is not null)
        {
            if (Verbose)
            {
                Context.Log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Restoring model weights from the end of the best epoch: {BestEpoch + 1}."));
            }

            _bestWeights.CopyTo(Context.Network.Parameters);
        }
    }

    private bool IsImprovement(double current, double reference) =>
        _direction == MetricDirection.Minimize ? current + MinDelta < reference : current - MinDelta > reference;

    private void Reset()
    {
        Wait = 0;
        Best = double.NaN;
        _hasBest = false;
        BestEpoch = -1;
        StoppedEpoch = -1;
        _bestWeights = null;
        _warned = false;
    }
}

using System.Globalization;
using NetDsl.Metrics;

namespace NetDsl.Training;

/// <summary>
/// Multiplies the learning rate by <see cref="Factor"/> when a monitored quantity has stopped improving, like Keras'
/// <c>ReduceLROnPlateau</c>.
/// </summary>
/// <remarks>
/// At each epoch end: during a cooldown, the cooldown counter drops by one and the wait restarts. A value better than
/// the best by more than <see cref="MinDelta"/> (<c>current &lt; best - minDelta</c> when minimising) becomes the best
/// and restarts the wait; otherwise, outside a cooldown, the wait grows, and when it reaches <see cref="Patience"/>
/// the learning rate (if above <see cref="MinLearningRate"/>) becomes <c>max(lr * factor, minLr)</c>, the cooldown
/// starts and the wait restarts. The new rate applies from the next epoch. Keras differences: Auto mode uses
/// <see cref="TrainingContext.DirectionOf"/> (Keras' ReduceLROnPlateau maximises keys containing "acc" and minimises
/// the rest, which agrees for the built-in metrics); the learning rate is already in the epoch logs as <c>lr</c>, so
/// this callback does not add it.
/// </remarks>
public sealed class ReduceLROnPlateau : Callback
{
    private readonly MonitorMode _mode;
    private MetricDirection _direction;
    private int _cooldownCounter;
    private bool _warned;

    /// <summary>Creates the callback.</summary>
    /// <param name="monitor">The log key to watch.</param>
    /// <param name="factor">The factor the learning rate is multiplied by, in (0, 1).</param>
    /// <param name="patience">Epochs without improvement before the rate is reduced.</param>
    /// <param name="mode">Whether the value should go down or up; Auto decides from the key.</param>
    /// <param name="minDelta">The smallest change that counts as an improvement (its sign is ignored).</param>
    /// <param name="cooldown">Epochs to wait after a reduction before counting again.</param>
    /// <param name="minLearningRate">The lower bound of the learning rate.</param>
    /// <param name="verbose">Print a line to <see cref="TrainingContext.Log"/> on each reduction.</param>
    public ReduceLROnPlateau(string monitor = "val_loss", double factor = 0.1, int patience = 10, MonitorMode mode = MonitorMode.Auto,
        double minDelta = 1e-4, int cooldown = 0, float minLearningRate = 0f, bool verbose = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(monitor);
        if (!(factor > 0 && factor < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "ReduceLROnPlateau does not support a factor >= 1 (or <= 0).");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        ArgumentOutOfRangeException.ThrowIfNegative(cooldown);
        if (!double.IsFinite(minDelta))
        {
            throw new ArgumentOutOfRangeException(nameof(minDelta), minDelta, "minDelta must be finite.");
        }

        if (!(minLearningRate >= 0f) || !float.IsFinite(minLearningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(minLearningRate), minLearningRate, "The minimum learning rate must be finite and not negative.");
        }

        if (!Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown monitor mode.");
        }

        Monitor = monitor;
        Factor = factor;
        Patience = patience;
        _mode = mode;
        MinDelta = Math.Abs(minDelta);
        Cooldown = cooldown;
        MinLearningRate = minLearningRate;
        Verbose = verbose;
        Reset();
    }

    /// <summary>The log key watched.</summary>
    public string Monitor { get; }

    /// <summary>The factor the learning rate is multiplied by.</summary>
    public double Factor { get; }

    /// <summary>Epochs without improvement before a reduction.</summary>
    public int Patience { get; }

    /// <summary>The smallest change that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Epochs after a reduction during which the wait does not grow.</summary>
    public int Cooldown { get; }

    /// <summary>The lower bound of the learning rate.</summary>
    public float MinLearningRate { get; }

    /// <summary>Whether reductions are printed.</summary>
    public bool Verbose { get; }

    /// <summary>Epochs since the last improvement (outside cooldowns).</summary>
    public int Wait { get; private set; }

    /// <summary>The best monitored value so far: infinity (minimising) or minus infinity (maximising) before the
    /// first, so a NaN or infinite first value is not an improvement (as in Keras).</summary>
    public double Best { get; private set; }

    /// <summary>Whether a cooldown is running.</summary>
    public bool InCooldown => _cooldownCounter > 0;

    /// <inheritdoc/>
    public override void OnTrainBegin(Logs logs)
    {
        Reset();
        _direction = MonitorModes.Resolve(_mode, Monitor, HasContext ? Context : null);
        Best = _direction == MetricDirection.Minimize ? double.PositiveInfinity : double.NegativeInfinity;
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
                Context.Log?.WriteLine($"ReduceLROnPlateau: the monitored key '{Monitor}' is not in the logs (they have: {string.Join(", ", logs.Keys)}); skipping.");
            }

            return;
        }

        if (InCooldown)
        {
            _cooldownCounter--;
            Wait = 0;
        }

        if (IsImprovement(current, Best))
        {
            Best = current;
            Wait = 0;
            return;
        }

        if (InCooldown)
        {
            return;
        }

        Wait++;
        if (Wait >= Patience)
        {
            var optimizer = Context.Optimizer;
            float old = optimizer.LearningRate;
            if (old > MinLearningRate)
            {
                float reduced = Math.Max((float)(old * Factor), MinLearningRate);
                optimizer.LearningRate = reduced;
                if (Verbose)
                {
                    Context.Log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {reduced}."));
                }

                _cooldownCounter = Cooldown;
                Wait = 0;
            }
        }
    }

    private bool IsImprovement(double current, double reference) =>
        _direction == MetricDirection.Minimize ? current < reference - MinDelta : current > reference + MinDelta;

    private void Reset()
    {
        _cooldownCounter = 0;
        Wait = 0;
        Best = double.NaN;
        _warned = false;
    }
}

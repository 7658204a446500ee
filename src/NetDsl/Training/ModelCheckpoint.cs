using System.Globalization;
using NetDsl.Metrics;
using NetDsl.Serialization;

namespace NetDsl.Training;

/// <summary>
/// Saves the network at the end of epochs, as Keras' ModelCheckpoint: every epoch, or only when the monitored value
/// improves (<see cref="SaveBestOnly"/>). Either the weights alone (<see cref="Network.SaveWeights(string)"/>, a
/// safetensors file PyTorch tools read) or a full checkpoint (<see cref="Network.SaveCheckpoint(string, Optimizers.IOptimizer, TrainingProgress)"/>:
/// weights, optimizer state, epoch and dropout position, for an exact resume with <see cref="FitOptions.InitialEpoch"/>).
/// Every write is atomic, so a crash never leaves a half-written file where an older good one was.
/// </summary>
public sealed class ModelCheckpoint : Callback
{
    private readonly MonitorMode _mode;
    private MetricDirection _direction;
    private bool _warned;

    /// <summary>True: in data-parallel training only rank 0 writes the checkpoint.</summary>
    public override bool RootRankOnly => true;

    /// <summary>Creates the callback.</summary>
    /// <param name="path">
    /// The file to write. <c>{epoch}</c> in it is replaced by the 1-based epoch number (Keras' <c>{epoch:02d}</c>
    /// style formats such as <c>{epoch:000}</c> work too), so every epoch can keep its own file.
    /// </param>
    /// <param name="monitor">The log key compared between epochs when <paramref name="saveBestOnly"/> is set.</param>
    /// <param name="saveBestOnly">Save only when <paramref name="monitor"/> improves on the best value so far.</param>
    /// <param name="weightsOnly">Save the weights only (true) or a full checkpoint with the optimizer state (false).</param>
    /// <param name="mode">Whether the monitored value should fall or rise; Auto infers it from the metric.</param>
    public ModelCheckpoint(string path, string monitor = "val_loss", bool saveBestOnly = false, bool weightsOnly = true, MonitorMode mode = MonitorMode.Auto)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(monitor);
        if (!Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown monitor mode.");
        }

        Path = path;
        Monitor = monitor;
        SaveBestOnly = saveBestOnly;
        WeightsOnly = weightsOnly;
        _mode = mode;
    }

    /// <summary>The file pattern.</summary>
    public string Path { get; }

    /// <summary>The monitored log key.</summary>
    public string Monitor { get; }

    /// <summary>Whether only improvements are saved.</summary>
    public bool SaveBestOnly { get; }

    /// <summary>Whether only the weights are saved (otherwise a full checkpoint).</summary>
    public bool WeightsOnly { get; }

    /// <summary>The best monitored value seen so far (NaN before the first).</summary>
    public double Best { get; private set; } = double.NaN;

    /// <summary>The file last written, or null.</summary>
    public string? LastSaved { get; private set; }

    /// <inheritdoc/>
    public override void OnTrainBegin(Logs logs)
    {
        _direction = MonitorModes.Resolve(_mode, Monitor, HasContext ? Context : null);
        Best = double.NaN;
        _warned = false;
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(int epoch, Logs logs)
    {
        ArgumentNullException.ThrowIfNull(logs);
        if (SaveBestOnly)
        {
            if (!logs.TryGetValue(Monitor, out double current))
            {
                if (!_warned)
                {
                    _warned = true;
                    Context.Log?.WriteLine($"ModelCheckpoint: the monitored key '{Monitor}' is not in the logs (they have: {string.Join(", ", logs.Keys)}); skipping.");
                }

                return;
            }

            bool better = !double.IsNaN(current) && (double.IsNaN(Best) || (_direction == MetricDirection.Minimize ? current < Best : current > Best));
            if (!better)
            {
                return;
            }

            Best = current;
        }

        string file = FileFor(epoch);
        if (WeightsOnly)
        {
            Context.Network.SaveWeights(file);
        }
        else
        {
            Context.Network.SaveCheckpoint(file, Context.Optimizer, new TrainingProgress(epoch + 1));
        }

        LastSaved = file;
    }

    /// <summary>The file for 0-based <paramref name="epoch"/>: <c>{epoch}</c> / <c>{epoch:format}</c> replaced by the 1-based number.</summary>
    public string FileFor(int epoch)
    {
        string result = Path;
        int at;
        while ((at = result.IndexOf("{epoch", StringComparison.Ordinal)) >= 0)
        {
            int close = result.IndexOf('}', at);
            if (close < 0)
            {
                break;
            }

            string spec = result[(at + "{epoch".Length)..close];
            string format = spec.StartsWith(':') ? spec[1..] : "";
            format = format.EndsWith('d') && int.TryParse(format[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out int width) ? new string('0', width) : format;
            result = string.Concat(result.AsSpan(0, at), (epoch + 1).ToString(format, CultureInfo.InvariantCulture), result.AsSpan(close + 1));
        }

        return result;
    }
}

using System.Globalization;
using System.Text;
using NetDsl.IO;

namespace NetDsl.Training;

/// <summary>
/// The per-epoch record of a training run, returned by <c>Network.Fit</c> (Keras' <c>History.history</c>): for every
/// finished epoch its index and one value per series: the epoch logs (<c>loss</c>, the metrics, <c>val_loss</c>,
/// <c>val_</c> metrics, <c>lr</c>, and any key a callback added) plus <c>seconds</c> (training time of the epoch,
/// validation excluded) and <c>images_per_second</c> (training samples over that time).
/// </summary>
/// <remarks>A series that is missing in some epoch (a key a callback added later) holds NaN there.</remarks>
public sealed class History
{
    /// <summary>The key of the per-epoch training time in seconds.</summary>
    public const string SecondsKey = "seconds";

    /// <summary>The key of the per-epoch training throughput.</summary>
    public const string ImagesPerSecondKey = "images_per_second";

    private readonly List<int> _epochs = [];
    private readonly List<string> _keys = [];
    private readonly Dictionary<string, List<double>> _series = new(StringComparer.Ordinal);

    /// <summary>The epochs recorded (0-based, absolute: a run resumed at epoch 5 starts at 5).</summary>
    public IReadOnlyList<int> Epochs => _epochs;

    /// <summary>The number of epochs recorded.</summary>
    public int Count => _epochs.Count;

    /// <summary>The series names, in the order they first appeared.</summary>
    public IReadOnlyList<string> Keys => _keys;

    /// <summary>The values of series <paramref name="key"/>, one per epoch.</summary>
    /// <exception cref="KeyNotFoundException">There is no such series.</exception>
    public IReadOnlyList<double> this[string key] =>
        _series.TryGetValue(key, out var values) ? values : throw new KeyNotFoundException($"The history has no series '{key}' (it has: {string.Join(", ", _keys)}).");

    /// <summary>The training loss per epoch.</summary>
    public IReadOnlyList<double> Loss => this["loss"];

    /// <summary>Whether there is a series named <paramref name="key"/>.</summary>
    public bool Contains(string key) => _series.ContainsKey(key);

    /// <summary>The series <paramref name="key"/>, if there is one.</summary>
    public bool TryGetSeries(string key, out IReadOnlyList<double> values)
    {
        bool found = _series.TryGetValue(key, out var list);
        values = list ?? (IReadOnlyList<double>)[];
        return found;
    }

    /// <summary>Appends an epoch: every entry of <paramref name="logs"/> plus the two timing series.</summary>
    /// <param name="epoch">The epoch's index.</param>
    /// <param name="logs">The epoch logs.</param>
    /// <param name="seconds">Training time of the epoch.</param>
    /// <param name="imagesPerSecond">Training throughput of the epoch.</param>
    public void Add(int epoch, IReadOnlyDictionary<string, double> logs, double seconds, double imagesPerSecond)
    {
        ArgumentNullException.ThrowIfNull(logs);
        foreach (var (key, value) in logs)
        {
            Append(key, value);
        }

        Append(SecondsKey, seconds);
        Append(ImagesPerSecondKey, imagesPerSecond);
        _epochs.Add(epoch);
        foreach (var values in _series.Values)
        {
            if (values.Count < _epochs.Count)
            {
                values.Add(double.NaN);
            }
        }
    }

    /// <summary>The history as CSV: a header <c>epoch,</c> then every series, one row per epoch (0-based epochs and
    /// number format as <see cref="CsvLogger"/>).</summary>
    public string ToCsv()
    {
        var text = new StringBuilder("epoch");
        foreach (string key in _keys)
        {
            text.Append(',').Append(CsvLogger.Quote(key));
        }

        text.Append('\n');
        for (int i = 0; i < _epochs.Count; i++)
        {
            text.Append(_epochs[i].ToString(CultureInfo.InvariantCulture));
            foreach (string key in _keys)
            {
                text.Append(',').Append(CsvLogger.FormatNumber(_series[key][i]));
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    /// <summary>Writes <see cref="ToCsv"/> to <paramref name="path"/> atomically.</summary>
    public void SaveCsv(string path) => AtomicFile.WriteAllText(path, ToCsv());

    /// <summary>
    /// The history as a standalone SVG chart: one panel for the loss and one for each metric, training and
    /// validation (<c>val_</c>) as separate lines with a legend, epochs (1-based, as the progress output counts them)
    /// on the x axis. The learning rate and the timing series are not drawn. Non-finite values are left out of the
    /// lines; every axis has a sane scale even for one epoch or a constant series.
    /// </summary>
    public string ToSvg() => HistoryChart.Render(this);

    /// <summary>Writes <see cref="ToSvg"/> to <paramref name="path"/> atomically.</summary>
    public void SaveSvg(string path) => AtomicFile.WriteAllText(path, ToSvg());

    private void Append(string key, double value)
    {
        if (!_series.TryGetValue(key, out var values))
        {
            values = [];
            for (int i = 0; i < _epochs.Count; i++)
            {
                values.Add(double.NaN);
            }

            _series.Add(key, values);
            _keys.Add(key);
        }

        if (values.Count > _epochs.Count)
        {
            values[^1] = value; // the same key twice in one epoch: the last value wins
        }
        else
        {
            values.Add(value);
        }
    }
}

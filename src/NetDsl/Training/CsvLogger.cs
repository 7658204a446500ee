using System.Globalization;
using System.Text;
using NetDsl.IO;

namespace NetDsl.Training;

/// <summary>
/// Writes one CSV row per epoch, like Keras' <c>CSVLogger</c>: an <c>epoch</c> column (0-based, as in Keras), then
/// the keys of the first epoch's logs in their order (<c>loss</c>, the metrics, <c>val_loss</c>, the <c>val_</c>
/// metrics, <c>lr</c>; Keras sorts them alphabetically and names the learning rate <c>learning_rate</c>). A key missing
/// from a later epoch is written as <c>NA</c>, keys new in later epochs are ignored. Numbers use the invariant culture
/// in shortest round-trip form; NaN and infinities are written <c>nan</c>, <c>inf</c>, <c>-inf</c> (as Python writes
/// them).
/// </summary>
/// <remarks>
/// The file is rewritten atomically after every epoch (<see cref="AtomicFile"/>), so it is always complete and a
/// crash never leaves a half-written row. With <c>append</c>, the rows go after the file's existing content, and
/// the header is written only when the file is missing or empty (Keras does not check that the columns agree).
/// </remarks>
public sealed class CsvLogger : Callback
{
    private readonly StringBuilder _content = new();
    private List<string>? _keys;
    private bool _writeHeader;

    /// <summary>True: in data-parallel training only rank 0 writes the CSV log.</summary>
    public override bool RootRankOnly => true;

    /// <summary>Creates the callback.</summary>
    /// <param name="path">The CSV file; its directory must exist.</param>
    /// <param name="separator">The column separator.</param>
    /// <param name="append">Append to an existing file (for resumed runs) instead of replacing it.</param>
    public CsvLogger(string path, char separator = ',', bool append = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (separator is '"' or '\n' or '\r')
        {
            throw new ArgumentException("The separator cannot be a quote or a line break.", nameof(separator));
        }

        Path = path;
        Separator = separator;
        Append = append;
    }

    /// <summary>The CSV file.</summary>
    public string Path { get; }

    /// <summary>The column separator.</summary>
    public char Separator { get; }

    /// <summary>Whether rows are appended to the existing file.</summary>
    public bool Append { get; }

    /// <inheritdoc/>
    public override void OnTrainBegin(Logs logs)
    {
        _content.Clear();
        _keys = null;
        _writeHeader = true;
        if (Append && File.Exists(Path))
        {
            string existing = File.ReadAllText(Path);
            _content.Append(existing);
            if (existing.Length > 0 && existing[^1] != '\n')
            {
                _content.Append('\n');
            }

            int firstLineEnd = existing.IndexOf('\n', StringComparison.Ordinal);
            string firstLine = firstLineEnd < 0 ? existing : existing[..firstLineEnd];
            _writeHeader = firstLine.Trim().Length == 0;
            if (_writeHeader)
            {
                _content.Clear();
            }
        }
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(int epoch, Logs logs)
    {
        ArgumentNullException.ThrowIfNull(logs);
        if (_keys is null)
        {
            _keys = [.. logs.Keys];
            if (_writeHeader)
            {
                _content.Append("epoch");
                foreach (string key in _keys)
                {
                    _content.Append(Separator).Append(Quote(key));
                }

                _content.Append('\n');
            }
        }

        _content.Append(epoch.ToString(CultureInfo.InvariantCulture));
        foreach (string key in _keys)
        {
            _content.Append(Separator).Append(logs.TryGetValue(key, out double value) ? FormatNumber(value) : "NA");
        }

        _content.Append('\n');
        AtomicFile.WriteAllText(Path, _content.ToString());
    }

    /// <summary>A number as Keras' CSV files hold it: shortest round-trip invariant form, <c>nan</c>, <c>inf</c>, <c>-inf</c>.</summary>
    internal static string FormatNumber(double value) => value switch
    {
        double.NaN => "nan",
        double.PositiveInfinity => "inf",
        double.NegativeInfinity => "-inf",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>Quotes a field that holds the separator, a quote or a line break.</summary>
    internal static string Quote(string field, char separator = ',') =>
        field.AsSpan().IndexOfAny([separator, '"', '\n', '\r']) < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private string Quote(string field) => Quote(field, Separator);
}

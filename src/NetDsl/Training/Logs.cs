using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace NetDsl.Training;

/// <summary>
/// The named values a training step or epoch reports (Keras' <c>logs</c> dictionary): <c>loss</c>, each metric,
/// <c>val_loss</c> and <c>val_</c> metrics after validation, and <c>lr</c>. Keys keep their insertion order.
/// </summary>
/// <remarks>
/// Callbacks may add or change entries (<c>logs["my_key"] = 1</c>); <c>Network.Fit</c> records the epoch logs in the
/// <see cref="History"/> after every callback's <see cref="Callback.OnEpochEnd"/>. The batch logs are a single
/// instance updated in place each batch (so training allocates nothing per batch): copy it with <see cref="Clone"/>
/// to keep it. Setting a key that exists allocates nothing.
/// </remarks>
public sealed class Logs : IReadOnlyDictionary<string, double>
{
    private string[] _keys;
    private double[] _values;
    private int _count;

    /// <summary>Creates empty logs.</summary>
    public Logs()
    {
        _keys = new string[8];
        _values = new double[8];
    }

    /// <inheritdoc/>
    public int Count => _count;

    /// <inheritdoc/>
    public IEnumerable<string> Keys => _keys.Take(_count);

    /// <inheritdoc/>
    public IEnumerable<double> Values => _values.Take(_count);

    /// <summary>The value of <paramref name="key"/>; setting adds the key when it is new.</summary>
    /// <exception cref="KeyNotFoundException">Getting a key that is absent.</exception>
    public double this[string key]
    {
        get => TryGetValue(key, out double value) ? value : throw new KeyNotFoundException($"The logs have no '{key}' (they have: {string.Join(", ", Keys)}).");
        set
        {
            ArgumentNullException.ThrowIfNull(key);
            int i = IndexOf(key);
            if (i >= 0)
            {
                _values[i] = value;
                return;
            }

            if (_count == _keys.Length)
            {
                Array.Resize(ref _keys, _count * 2);
                Array.Resize(ref _values, _count * 2);
            }

            _keys[_count] = key;
            _values[_count] = value;
            _count++;
        }
    }

    /// <inheritdoc/>
    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    /// <inheritdoc/>
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out double value)
    {
        int i = IndexOf(key);
        value = i >= 0 ? _values[i] : 0;
        return i >= 0;
    }

    /// <summary>Removes every entry.</summary>
    public void Clear() => _count = 0;

    /// <summary>A copy that later changes to these logs do not affect.</summary>
    public Logs Clone()
    {
        var copy = new Logs();
        for (int i = 0; i < _count; i++)
        {
            copy[_keys[i]] = _values[i];
        }

        return copy;
    }

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, double>> GetEnumerator()
    {
        for (int i = 0; i < _count; i++)
        {
            yield return new KeyValuePair<string, double>(_keys[i], _values[i]);
        }
    }

    /// <inheritdoc/>
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The entries as <c>key: value</c> pairs separated by <c> - </c>, in the progress bar's number format.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        for (int i = 0; i < _count; i++)
        {
            if (i > 0)
            {
                text.Append(" - ");
            }

            text.Append(_keys[i]).Append(": ").Append(FormatValue(_values[i]));
        }

        return text.ToString();
    }

    /// <summary>Keras' number format: four decimals, or four significant digits in exponent form below 1e-3.</summary>
    internal static string FormatValue(double value) =>
        value != 0 && Math.Abs(value) < 1e-3
            ? value.ToString("0.0000e+00", CultureInfo.InvariantCulture)
            : value.ToString("F4", CultureInfo.InvariantCulture);

    private int IndexOf(string key)
    {
        for (int i = 0; i < _count; i++)
        {
            if (string.Equals(_keys[i], key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}

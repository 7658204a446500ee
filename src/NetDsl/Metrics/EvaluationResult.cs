using System.Globalization;
using System.Text;

namespace NetDsl.Metrics;

/// <summary>What <c>Network.Evaluate</c> measured: the mean loss and each metric over the data.</summary>
public sealed class EvaluationResult
{
    private readonly KeyValuePair<string, double>[] _metrics;

    /// <summary>Creates a result.</summary>
    /// <param name="samples">Samples evaluated.</param>
    /// <param name="loss">The mean loss.</param>
    /// <param name="metrics">Each metric's name and value, in order.</param>
    public EvaluationResult(int samples, double loss, IEnumerable<KeyValuePair<string, double>> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        Samples = samples;
        Loss = loss;
        _metrics = [.. metrics];
        Metrics = _metrics.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
    }

    /// <summary>Samples evaluated.</summary>
    public int Samples { get; }

    /// <summary>The mean loss over the samples.</summary>
    public double Loss { get; }

    /// <summary>Each metric by name.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; }

    /// <summary><c>loss</c> or a metric by name.</summary>
    /// <exception cref="KeyNotFoundException">No such metric.</exception>
    public double this[string name] => name == "loss" ? Loss
        : Metrics.TryGetValue(name, out double value) ? value
        : throw new KeyNotFoundException($"No metric '{name}' was evaluated (there are: loss{string.Concat(_metrics.Select(m => ", " + m.Key))}).");

    /// <summary><c>loss: 0.1234 - accuracy: 0.9500</c>.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append("loss: ").Append(Loss.ToString("F4", CultureInfo.InvariantCulture));
        foreach (var (name, value) in _metrics)
        {
            text.Append(" - ").Append(name).Append(": ").Append(value.ToString("F4", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }
}

namespace NetDsl.Metrics;

/// <summary>Whether larger or smaller values of a metric are better (used by callbacks in <c>Auto</c> mode).</summary>
public enum MetricDirection
{
    /// <summary>Larger is better (accuracy).</summary>
    Maximize = 0,

    /// <summary>Smaller is better (loss, error rates).</summary>
    Minimize = 1,
}

/// <summary>
/// A streaming metric, like a Keras metric: <see cref="Reset"/>, then <see cref="Update"/> once per batch, then
/// <see cref="Result"/> for everything seen since the reset. <c>Network.Fit</c> keeps one running value per epoch
/// (on the training batches, from the outputs of the training forward pass, as Keras does) and one over the
/// validation data; <c>Network.Evaluate</c> one over the data it is given.
/// </summary>
/// <remarks>Implementations should not allocate in <see cref="Update"/> (it runs once per training batch).</remarks>
public abstract class Metric
{
    /// <summary>Creates the metric.</summary>
    /// <param name="name">The key under which its value appears in logs and the history (validation adds <c>val_</c>).</param>
    protected Metric(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    /// <summary>The key of the metric in logs, progress output and the history.</summary>
    public string Name { get; }

    /// <summary>Whether larger or smaller is better.</summary>
    public abstract MetricDirection Direction { get; }

    /// <summary>The value over every sample since the last <see cref="Reset"/>; NaN before any sample.</summary>
    public abstract double Result { get; }

    /// <summary>Forgets every sample seen.</summary>
    public abstract void Reset();

    /// <summary>Adds a batch.</summary>
    public abstract void Update(in MetricBatch batch);

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {Result}";
}

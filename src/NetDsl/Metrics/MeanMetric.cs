namespace NetDsl.Metrics;

/// <summary>
/// A metric that is a mean: a running total over a running count (per-sample losses, per-output errors, correct
/// decisions). Derived metrics add to both in <see cref="Metric.Update"/>; <see cref="Result"/> is NaN before anything
/// was counted.
/// </summary>
public abstract class MeanMetric : Metric
{
    private double _total;
    private long _count;

    /// <summary>Creates the metric.</summary>
    /// <param name="name">Its key in logs.</param>
    protected MeanMetric(string name)
        : base(name)
    {
    }

    /// <inheritdoc/>
    public override double Result => _count == 0 ? double.NaN : _total / _count;

    /// <inheritdoc/>
    public override void Reset()
    {
        _total = 0;
        _count = 0;
    }

    /// <summary>Adds <paramref name="total"/> over <paramref name="count"/> more items.</summary>
    protected void Accumulate(double total, long count)
    {
        _total += total;
        _count += count;
    }
}

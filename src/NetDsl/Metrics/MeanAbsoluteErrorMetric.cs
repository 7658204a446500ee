namespace NetDsl.Metrics;

/// <summary>The mean absolute difference between outputs and float targets over every output (Keras' "mae" metric).</summary>
public sealed class MeanAbsoluteErrorMetric : Metric
{
    private double _sum;
    private long _count;

    /// <summary>Creates the metric.</summary>
    /// <param name="name">The log key.</param>
    public MeanAbsoluteErrorMetric(string name = "mae")
        : base(name)
    {
    }

    /// <inheritdoc/>
    public override MetricDirection Direction => MetricDirection.Minimize;

    /// <inheritdoc/>
    public override double Result => _count == 0 ? double.NaN : _sum / _count;

    /// <inheritdoc/>
    public override void Reset()
    {
        _sum = 0;
        _count = 0;
    }

    /// <inheritdoc/>
    public override void Update(in MetricBatch batch)
    {
        if (batch.HasLabels || batch.TargetSize != batch.OutputSize)
        {
            throw new ArgumentException($"Metric '{Name}' needs one float target per output.", nameof(batch));
        }

        for (int i = 0; i < batch.Outputs.Length; i++)
        {
            _sum += Math.Abs((double)batch.Outputs[i] - batch.Targets[i]);
        }

        _count += batch.Outputs.Length;
    }
}

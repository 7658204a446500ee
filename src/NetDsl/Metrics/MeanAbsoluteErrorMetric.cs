namespace NetDsl.Metrics;

/// <summary>The mean absolute difference between outputs and float targets over every output (Keras' "mae" metric).</summary>
public sealed class MeanAbsoluteErrorMetric : MeanMetric
{

    /// <summary>Creates the metric.</summary>
    /// <param name="name">The log key.</param>
    public MeanAbsoluteErrorMetric(string name = "mae")
        : base(name)
    {
    }

    /// <inheritdoc/>
    public override MetricDirection Direction => MetricDirection.Minimize;

    /// <inheritdoc/>
    public override void Update(in MetricBatch batch)
    {
        if (batch.HasLabels || batch.TargetSize != batch.OutputSize)
        {
            throw new ArgumentException($"Metric '{Name}' needs one float target per output.", nameof(batch));
        }

        double total = 0;
        for (int i = 0; i < batch.Outputs.Length; i++)
        {
            total += Math.Abs((double)batch.Outputs[i] - batch.Targets[i]);
        }

        Accumulate(total, batch.Outputs.Length);
    }
}

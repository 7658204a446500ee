namespace NetDsl.Metrics;

/// <summary>
/// The fraction of outputs on the right side of a threshold (Keras' binary_accuracy): output <c>y</c> counts as 1 when
/// <c>y &gt; Threshold</c> and matches target <c>t</c> when <c>t &gt; 0.5</c> agrees. Every output of every sample is one
/// decision, so it suits multi-label networks trained with binary cross-entropy.
/// </summary>
public sealed class BinaryAccuracy : MeanMetric
{

    /// <summary>Creates the metric.</summary>
    /// <param name="threshold">The decision threshold on the outputs (0.5 for sigmoid probabilities).</param>
    /// <param name="name">The log key.</param>
    public BinaryAccuracy(float threshold = 0.5f, string name = "binary_accuracy")
        : base(name)
    {
        if (!float.IsFinite(threshold))
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The threshold must be finite.");
        }

        Threshold = threshold;
    }

    /// <summary>The decision threshold on the outputs.</summary>
    public float Threshold { get; }

    /// <inheritdoc/>
    public override MetricDirection Direction => MetricDirection.Maximize;

    /// <inheritdoc/>
    public override void Update(in MetricBatch batch)
    {
        if (batch.HasLabels || batch.TargetSize != batch.OutputSize)
        {
            throw new ArgumentException($"Metric '{Name}' needs one float target per output.", nameof(batch));
        }

        long correct = 0;
        for (int i = 0; i < batch.Outputs.Length; i++)
        {
            if (batch.Outputs[i] > Threshold == batch.Targets[i] > 0.5f)
            {
                correct++;
            }
        }

        Accumulate(correct, batch.Outputs.Length);
    }
}

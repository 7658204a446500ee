namespace NetDsl.Metrics;

/// <summary>
/// Mean sparse categorical cross-entropy <c>-log p[label]</c> over the samples, from the probabilities a classifier
/// outputs: the loss that <c>Network.Evaluate</c> and the validation pass of <c>Network.Fit</c> report as
/// <c>loss</c> / <c>val_loss</c>.
/// </summary>
/// <remarks>
/// The network trains on <c>logsumexp(z) - z[label]</c> computed from the logits; from probabilities the same value
/// is recovered to float rounding as long as <c>p[label]</c> does not underflow. A probability of 0 is clamped to the
/// smallest positive float, which caps one sample's loss at about 103.3 (Keras clamps at 1e-7, capping at 16.1, but
/// only for networks whose output is a softmax; our training loss is never clamped).
/// </remarks>
public sealed class CrossEntropy : MeanMetric
{

    /// <summary>Creates the metric.</summary>
    /// <param name="name">Its key in logs.</param>
    public CrossEntropy(string name = "crossentropy")
        : base(name)
    {
    }

    /// <inheritdoc/>
    public override MetricDirection Direction => MetricDirection.Minimize;

    /// <inheritdoc/>
    public override void Update(in MetricBatch batch)
    {
        batch.RequireLabels(Name);
        double total = 0;
        for (int r = 0; r < batch.Rows; r++)
        {
            int label = batch.Labels[r];
            if ((uint)label >= (uint)batch.OutputSize)
            {
                throw new ArgumentOutOfRangeException(nameof(batch), label, $"Label {label} of row {r} is not a class index in [0, {batch.OutputSize}).");
            }

            total += SampleLoss(batch.Outputs[r * batch.OutputSize + label]);
        }

        Accumulate(total, batch.Rows);
    }

    /// <summary>The loss of one sample whose label has probability <paramref name="probability"/>.</summary>
    public static double SampleLoss(float probability) =>
        float.IsNaN(probability) ? double.NaN : -Math.Log(Math.Max(probability, float.Epsilon));
}

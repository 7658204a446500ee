namespace NetDsl.Metrics;

/// <summary>
/// One batch as a metric sees it: the network's outputs (<see cref="OutputSize"/> floats per sample; class
/// probabilities for a classifier) and the targets, either class labels or float targets. A view of buffers owned by
/// the caller, valid only during the <see cref="Metric.Update"/> call.
/// </summary>
public readonly ref struct MetricBatch
{
    /// <summary>A batch with one class label per sample.</summary>
    /// <param name="outputs">The outputs, <paramref name="outputSize"/> floats per sample.</param>
    /// <param name="outputSize">Floats per sample, positive.</param>
    /// <param name="labels">One class index per sample.</param>
    /// <exception cref="ArgumentException">The lengths do not agree.</exception>
    public MetricBatch(ReadOnlySpan<float> outputs, int outputSize, ReadOnlySpan<int> labels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputSize);
        if (outputs.Length != (long)labels.Length * outputSize)
        {
            throw new ArgumentException($"{labels.Length} labels need {(long)labels.Length * outputSize} outputs ({outputSize} each), but got {outputs.Length}.", nameof(outputs));
        }

        Outputs = outputs;
        OutputSize = outputSize;
        Rows = labels.Length;
        Labels = labels;
        HasLabels = true;
    }

    /// <summary>A batch with <paramref name="targetSize"/> float targets per sample.</summary>
    /// <param name="outputs">The outputs, <paramref name="outputSize"/> floats per sample.</param>
    /// <param name="outputSize">Floats per sample, positive.</param>
    /// <param name="targets">The targets back to back.</param>
    /// <param name="targetSize">Target floats per sample, positive.</param>
    /// <exception cref="ArgumentException">The lengths do not agree.</exception>
    public MetricBatch(ReadOnlySpan<float> outputs, int outputSize, ReadOnlySpan<float> targets, int targetSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetSize);
        if (outputs.Length % outputSize != 0 || targets.Length != (long)(outputs.Length / outputSize) * targetSize)
        {
            throw new ArgumentException($"{outputs.Length} outputs ({outputSize} per sample) and {targets.Length} targets ({targetSize} per sample) do not describe the same samples.", nameof(targets));
        }

        Outputs = outputs;
        OutputSize = outputSize;
        Rows = outputs.Length / outputSize;
        Targets = targets;
        TargetSize = targetSize;
    }

    /// <summary>The outputs, <see cref="OutputSize"/> floats per sample.</summary>
    public ReadOnlySpan<float> Outputs { get; }

    /// <summary>Floats per sample in <see cref="Outputs"/>.</summary>
    public int OutputSize { get; }

    /// <summary>The number of samples.</summary>
    public int Rows { get; }

    /// <summary>Whether the batch carries class labels (otherwise float targets).</summary>
    public bool HasLabels { get; }

    /// <summary>One class index per sample; empty for a batch of float targets.</summary>
    public ReadOnlySpan<int> Labels { get; }

    /// <summary>Float targets, <see cref="TargetSize"/> per sample; empty for a batch of labels.</summary>
    public ReadOnlySpan<float> Targets { get; }

    /// <summary>Float targets per sample; 0 for a batch of labels.</summary>
    public int TargetSize { get; }

    /// <summary>The outputs of sample <paramref name="row"/>.</summary>
    public ReadOnlySpan<float> Output(int row) => Outputs.Slice(row * OutputSize, OutputSize);

    /// <summary>Throws <see cref="NotSupportedException"/> unless the batch has labels (for classification metrics).</summary>
    /// <param name="metric">The metric's name, for the message.</param>
    public void RequireLabels(string metric)
    {
        if (!HasLabels)
        {
            throw new NotSupportedException($"The metric '{metric}' needs class labels, but the batch has float targets.");
        }
    }
}

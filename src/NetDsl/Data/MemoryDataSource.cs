namespace NetDsl.Data;

/// <summary>
/// A <see cref="IDataSource"/> over features and labels (or float targets) already in memory: arrays or slices of
/// arrays, without copying them. Unlike <see cref="Dataset"/> it carries no sample shape and can hold float targets
/// or none at all.
/// </summary>
public sealed class MemoryDataSource : IDataSource
{
    private readonly ReadOnlyMemory<float> _features;
    private readonly ReadOnlyMemory<int> _labels;
    private readonly ReadOnlyMemory<float> _targets;

    /// <summary>Samples with one class label each.</summary>
    /// <param name="features">The samples back to back, <paramref name="sampleSize"/> floats each.</param>
    /// <param name="labels">One class index per sample.</param>
    /// <param name="sampleSize">Floats per sample, positive.</param>
    /// <exception cref="ArgumentException">The lengths do not agree.</exception>
    public MemoryDataSource(ReadOnlyMemory<float> features, ReadOnlyMemory<int> labels, int sampleSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleSize);
        Count = CountOf(features, sampleSize);
        if (labels.Length != Count)
        {
            throw new ArgumentException($"{Count} samples need {Count} labels, but got {labels.Length}.", nameof(labels));
        }

        _features = features;
        _labels = labels;
        SampleSize = sampleSize;
        TargetKind = TargetKind.ClassLabels;
        TargetSize = 1;
    }

    /// <summary>Samples with <paramref name="targetSize"/> float targets each (e.g. regression).</summary>
    /// <param name="features">The samples back to back, <paramref name="sampleSize"/> floats each.</param>
    /// <param name="targets">The targets back to back, <paramref name="targetSize"/> floats per sample.</param>
    /// <param name="sampleSize">Floats per sample, positive.</param>
    /// <param name="targetSize">Target floats per sample, positive.</param>
    /// <exception cref="ArgumentException">The lengths do not agree.</exception>
    public MemoryDataSource(ReadOnlyMemory<float> features, ReadOnlyMemory<float> targets, int sampleSize, int targetSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetSize);
        Count = CountOf(features, sampleSize);
        if (targets.Length != (long)Count * targetSize)
        {
            throw new ArgumentException($"{Count} samples need {(long)Count * targetSize} target floats ({targetSize} each), but got {targets.Length}.", nameof(targets));
        }

        _features = features;
        _targets = targets;
        SampleSize = sampleSize;
        TargetKind = TargetKind.Values;
        TargetSize = targetSize;
    }

    private MemoryDataSource(ReadOnlyMemory<float> features, int sampleSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleSize);
        Count = CountOf(features, sampleSize);
        _features = features;
        SampleSize = sampleSize;
        TargetKind = TargetKind.None;
        TargetSize = 0;
    }

    /// <summary>Samples without targets, to predict on.</summary>
    /// <param name="features">The samples back to back, <paramref name="sampleSize"/> floats each.</param>
    /// <param name="sampleSize">Floats per sample, positive.</param>
    public static MemoryDataSource Unlabeled(ReadOnlyMemory<float> features, int sampleSize) => new(features, sampleSize);

    /// <inheritdoc/>
    public int Count { get; }

    /// <inheritdoc/>
    public int SampleSize { get; }

    /// <inheritdoc/>
    public TargetKind TargetKind { get; }

    /// <inheritdoc/>
    public int TargetSize { get; }

    /// <inheritdoc/>
    public void CopyFeatures(int index, Span<float> destination)
    {
        CheckIndex(index);
        _features.Span.Slice(index * SampleSize, SampleSize).CopyTo(destination);
    }

    /// <inheritdoc/>
    public int GetLabel(int index)
    {
        if (TargetKind != TargetKind.ClassLabels)
        {
            throw new NotSupportedException($"This data source supplies {TargetKind}, not class labels.");
        }

        CheckIndex(index);
        return _labels.Span[index];
    }

    /// <inheritdoc/>
    public void CopyTargets(int index, Span<float> destination)
    {
        if (TargetKind != TargetKind.Values)
        {
            throw new NotSupportedException($"This data source supplies {TargetKind}, not float targets.");
        }

        CheckIndex(index);
        _targets.Span.Slice(index * TargetSize, TargetSize).CopyTo(destination);
    }

    /// <summary>A short description: the count, the sample size and the targets.</summary>
    public override string ToString() => $"MemoryDataSource({Count} samples of {SampleSize} floats, {TargetKind})";

    private static int CountOf(ReadOnlyMemory<float> features, int sampleSize)
    {
        if (features.Length % sampleSize != 0)
        {
            throw new ArgumentException($"{features.Length} feature floats is not a whole number of samples of {sampleSize} floats.", nameof(features));
        }

        return features.Length / sampleSize;
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"Sample index {index} is outside [0, {Count}).");
        }
    }
}

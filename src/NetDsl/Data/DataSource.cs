namespace NetDsl.Data;

/// <summary>Helpers that derive data sources from others without copying samples.</summary>
public static class DataSource
{
    /// <summary>A view of samples <c>start .. start + count - 1</c> of <paramref name="source"/> (no copy).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range does not lie within the source.</exception>
    public static IDataSource Slice(IDataSource source, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if ((long)start + count > source.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"Samples {start} to {(long)start + count - 1} are outside the source's {source.Count}.");
        }

        return new SliceSource(source, start, count);
    }

    /// <summary>
    /// Splits off the last <paramref name="fraction"/> of the samples, in their stored order, as Keras'
    /// <c>validation_split</c> does: the first <c>floor(Count * (1 - fraction))</c> samples train, the rest validate.
    /// </summary>
    /// <param name="source">The samples.</param>
    /// <param name="fraction">The share of samples to hold out, strictly between 0 and 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fraction"/> is not in (0, 1), or one of the parts would be empty.</exception>
    public static (IDataSource Training, IDataSource Validation) SplitLast(IDataSource source, double fraction)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!(fraction > 0 && fraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "The validation split must be strictly between 0 and 1.");
        }

        int trainCount = (int)Math.Floor(source.Count * (1.0 - fraction));
        if (trainCount == 0 || trainCount == source.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction,
                $"Splitting {source.Count} samples at {fraction} leaves {trainCount} for training and {source.Count - trainCount} for validation; both need at least one.");
        }

        return (new SliceSource(source, 0, trainCount), new SliceSource(source, trainCount, source.Count - trainCount));
    }

    /// <summary>A contiguous range of another source.</summary>
    private sealed class SliceSource(IDataSource inner, int start, int count) : IDataSource
    {
        public int Count => count;

        public int SampleSize => inner.SampleSize;

        public TargetKind TargetKind => inner.TargetKind;

        public int TargetSize => inner.TargetSize;

        public void CopyFeatures(int index, Span<float> destination) => inner.CopyFeatures(Map(index), destination);

        public int GetLabel(int index) => inner.GetLabel(Map(index));

        public void CopyTargets(int index, Span<float> destination) => inner.CopyTargets(Map(index), destination);

        public override string ToString() => $"samples {start} to {start + count - 1} of {inner}";

        private int Map(int index)
        {
            if ((uint)index >= (uint)count)
            {
                throw new ArgumentOutOfRangeException(nameof(index), $"Sample index {index} is outside [0, {count}).");
            }

            return start + index;
        }
    }
}

namespace NetDsl.Data;

/// <summary>
/// An in-memory labelled dataset: <see cref="Count"/> samples of <see cref="SampleSize"/> floats each, stored
/// back to back in <see cref="Features"/>, with one integer class label per sample in <see cref="Labels"/>.
/// </summary>
/// <remarks>
/// The constructor takes ownership of the arrays it is given (it does not copy them). Every method that derives a
/// dataset (<see cref="Where"/>, <see cref="SelectLabels"/>, <see cref="Take"/>, <see cref="Subset"/>) returns a
/// new instance with freshly allocated arrays, so changes to one dataset never show through another.
/// A dataset is an <see cref="IDataSource"/> of class labels, so it can be passed to <c>Network.Fit</c>,
/// <c>Network.Evaluate</c> and <c>Network.Predict</c> directly.
/// </remarks>
public sealed class Dataset : IDataSource
{
    private readonly int[] _sampleShape;

    /// <summary>Creates a dataset over existing arrays (no copy is made).</summary>
    /// <param name="features">The samples, row-major: sample <c>i</c> occupies
    /// <c>features[i * SampleSize .. (i + 1) * SampleSize]</c>.</param>
    /// <param name="labels">One class label per sample.</param>
    /// <param name="sampleShape">The shape of one sample, e.g. <c>1, 28, 28</c> for a channels-first
    /// grey-scale image; at least one dimension, every dimension positive.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The shape is empty or has a non-positive dimension, or the length of
    /// <paramref name="features"/> is not <c>labels.Length * SampleSize</c>.</exception>
    public Dataset(float[] features, int[] labels, params int[] sampleShape)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(sampleShape);
        if (sampleShape.Length == 0)
        {
            throw new ArgumentException("The sample shape must have at least one dimension.", nameof(sampleShape));
        }

        long size = 1;
        for (int i = 0; i < sampleShape.Length; i++)
        {
            if (sampleShape[i] <= 0)
            {
                throw new ArgumentException(
                    $"Sample shape dimension {i} is {sampleShape[i]}; every dimension must be positive.", nameof(sampleShape));
            }

            size *= sampleShape[i];
            if (size > Array.MaxLength)
            {
                throw new ArgumentException(
                    $"The sample shape [{string.Join(", ", sampleShape)}] describes more than {Array.MaxLength} values.",
                    nameof(sampleShape));
            }
        }

        long expected = (long)labels.Length * size;
        if (features.Length != expected)
        {
            throw new ArgumentException(
                $"features has {features.Length} values but {labels.Length} labels x sample size {size} " +
                $"(shape [{string.Join(", ", sampleShape)}]) = {expected} were expected.",
                nameof(features));
        }

        Features = features;
        Labels = labels;
        _sampleShape = (int[])sampleShape.Clone();
        SampleSize = (int)size;
    }

    /// <summary>All samples back to back, <see cref="Count"/> x <see cref="SampleSize"/> values, row-major.</summary>
    public float[] Features { get; }

    /// <summary>The class label of each sample; its length is <see cref="Count"/>.</summary>
    public int[] Labels { get; }

    /// <summary>The shape of one sample (for images: channels, height, width).</summary>
    public ReadOnlySpan<int> SampleShape => _sampleShape;

    /// <summary>The number of values in one sample: the product of <see cref="SampleShape"/>.</summary>
    public int SampleSize { get; }

    /// <summary>The number of samples.</summary>
    public int Count => Labels.Length;

    /// <summary>The values of sample <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not in <c>[0, Count)</c>.</exception>
    public ReadOnlySpan<float> GetSample(int index)
    {
        CheckIndex(index, nameof(index));
        return Features.AsSpan(index * SampleSize, SampleSize);
    }

    /// <summary>Copies the values of sample <paramref name="index"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not in <c>[0, Count)</c>.</exception>
    public void CopyFeatures(int index, Span<float> destination) => GetSample(index).CopyTo(destination);

    /// <summary>The class label of sample <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not in <c>[0, Count)</c>.</exception>
    public int GetLabel(int index)
    {
        CheckIndex(index, nameof(index));
        return Labels[index];
    }

    /// <summary>The samples whose label satisfies <paramref name="labelPredicate"/>, in their original order.</summary>
    public Dataset Where(Func<int, bool> labelPredicate)
    {
        ArgumentNullException.ThrowIfNull(labelPredicate);
        var kept = new List<int>();
        for (int i = 0; i < Labels.Length; i++)
        {
            if (labelPredicate(Labels[i]))
            {
                kept.Add(i);
            }
        }

        return Subset(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(kept));
    }

    /// <summary>The same samples with every label replaced by <c>map(label)</c> (e.g. <c>l =&gt; l - 5</c>).</summary>
    public Dataset SelectLabels(Func<int, int> map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var labels = new int[Labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = map(Labels[i]);
        }

        return new Dataset((float[])Features.Clone(), labels, _sampleShape);
    }

    /// <summary>The first <paramref name="count"/> samples; like LINQ's <c>Take</c>, a count larger than
    /// <see cref="Count"/> takes every sample.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    public Dataset Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int n = Math.Min(count, Count);
        return new Dataset(
            Features.AsSpan(0, n * SampleSize).ToArray(),
            Labels.AsSpan(0, n).ToArray(),
            _sampleShape);
    }

    /// <summary>The samples at <paramref name="indices"/>, in that order (an index may repeat).</summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is not in <c>[0, Count)</c>.</exception>
    public Dataset Subset(ReadOnlySpan<int> indices)
    {
        if ((long)indices.Length * SampleSize > Array.MaxLength)
        {
            throw new ArgumentException(
                $"{indices.Length} samples of {SampleSize} values exceed the largest possible array.", nameof(indices));
        }

        var features = new float[indices.Length * SampleSize];
        var labels = new int[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int index = indices[i];
            CheckIndex(index, nameof(indices));
            Features.AsSpan(index * SampleSize, SampleSize).CopyTo(features.AsSpan(i * SampleSize, SampleSize));
            labels[i] = Labels[index];
        }

        return new Dataset(features, labels, _sampleShape);
    }

    /// <summary>How many samples carry each label <c>0 .. numClasses - 1</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numClasses"/> is not positive, or a label
    /// lies outside <c>[0, numClasses)</c> (the message names the label and its sample).</exception>
    public int[] ClassCounts(int numClasses)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numClasses);
        var counts = new int[numClasses];
        for (int i = 0; i < Labels.Length; i++)
        {
            int label = Labels[i];
            if ((uint)label >= (uint)numClasses)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(numClasses),
                    $"Sample {i} has label {label}, outside [0, {numClasses}).");
            }

            counts[label]++;
        }

        return counts;
    }

    /// <summary>A short description: the count and the sample shape.</summary>
    public override string ToString() => $"Dataset({Count} samples of shape [{string.Join(", ", _sampleShape)}])";

    private void CheckIndex(int index, string paramName)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(paramName, $"Sample index {index} is outside [0, {Count}).");
        }
    }
}

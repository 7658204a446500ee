namespace NetDsl.Data;

/// <summary>What a <see cref="IDataSource"/> supplies besides the input features.</summary>
public enum TargetKind
{
    /// <summary>One integer class index per sample (<see cref="IDataSource.GetLabel"/>): classifiers.</summary>
    ClassLabels = 0,

    /// <summary>
    /// <see cref="IDataSource.TargetSize"/> floats per sample (<see cref="IDataSource.CopyTargets"/>), e.g. for
    /// regression. Prediction reads such sources today; training on them needs a network whose loss takes float
    /// targets.
    /// </summary>
    Values = 1,

    /// <summary>Features only (inputs to predict on); <c>Network.Fit</c> and
    /// <c>Network.Evaluate</c> refuse such a source.</summary>
    None = 2,
}

/// <summary>
/// Samples that <c>Network.Fit</c>,
/// <c>Network.Evaluate</c> and <c>Network.Predict</c> read one sample at a time, by index:
/// the simple interface for user data. <see cref="Dataset"/> and <see cref="MemoryDataSource"/> implement it for data
/// in memory.
/// </summary>
/// <remarks>
/// A labelled source implements <see cref="Count"/>, <see cref="SampleSize"/>, <see cref="CopyFeatures"/> and
/// <see cref="GetLabel"/>; the remaining members have defaults for that case. A source of float targets overrides
/// <see cref="TargetKind"/> (<see cref="Data.TargetKind.Values"/>), <see cref="TargetSize"/> and
/// <see cref="CopyTargets"/>. Training reads every sample once per epoch, in any order, from the thread that calls
/// <c>Fit</c>; the methods should not allocate, so that training allocates nothing per batch.
/// </remarks>
public interface IDataSource
{
    /// <summary>The number of samples; indices run from 0 to <c>Count - 1</c>.</summary>
    int Count { get; }

    /// <summary>Floats per sample (for images: channels x height x width, channels first).</summary>
    int SampleSize { get; }

    /// <summary>What the source supplies per sample besides the features; <see cref="Data.TargetKind.ClassLabels"/> unless overridden.</summary>
    TargetKind TargetKind => TargetKind.ClassLabels;

    /// <summary>Target values per sample: 1 for class labels, the float count for <see cref="Data.TargetKind.Values"/>, 0 for none.</summary>
    int TargetSize => TargetKind switch
    {
        TargetKind.ClassLabels => 1,
        TargetKind.None => 0,
        _ => throw new NotSupportedException("A source of float targets must override TargetSize."),
    };

    /// <summary>Copies the <see cref="SampleSize"/> features of sample <paramref name="index"/> into <paramref name="destination"/>.</summary>
    void CopyFeatures(int index, Span<float> destination);

    /// <summary>The class index of sample <paramref name="index"/> (sources of <see cref="Data.TargetKind.ClassLabels"/>).</summary>
    int GetLabel(int index);

    /// <summary>Copies the <see cref="TargetSize"/> float targets of sample <paramref name="index"/> (sources of
    /// <see cref="Data.TargetKind.Values"/>); throws <see cref="NotSupportedException"/> unless overridden.</summary>
    void CopyTargets(int index, Span<float> destination) =>
        throw new NotSupportedException($"This data source supplies {TargetKind}, not float targets.");
}

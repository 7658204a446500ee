namespace NetDsl.Metrics;

/// <summary>
/// The fraction of samples whose label is among the <see cref="K"/> most probable classes: Keras'
/// <c>sparse_top_k_categorical_accuracy</c>, logged as <c>top_{k}_accuracy</c>.
/// </summary>
/// <remarks>
/// Ties follow TensorFlow's <c>in_top_k</c>: the label counts as in the top k when fewer than k classes have a
/// strictly larger output, so classes tied at the boundary are all in. A NaN output for the label is never in. Hence
/// top-1 accuracy can exceed <see cref="Accuracy"/> (which takes the first largest output) when outputs tie.
/// </remarks>
public sealed class TopKAccuracy : Metric
{
    private long _hits;
    private long _count;

    /// <summary>Creates the metric.</summary>
    /// <param name="k">How many of the most probable classes count, at least 1.</param>
    /// <param name="name">Its key in logs; <c>top_{k}_accuracy</c> by default.</param>
    public TopKAccuracy(int k = 5, string? name = null)
        : base(name ?? $"top_{ValidK(k)}_accuracy")
    {
        K = ValidK(k);
    }

    /// <summary>How many of the most probable classes count.</summary>
    public int K { get; }

    /// <inheritdoc/>
    public override MetricDirection Direction => MetricDirection.Maximize;

    /// <inheritdoc/>
    public override double Result => _count == 0 ? double.NaN : (double)_hits / _count;

    /// <inheritdoc/>
    public override void Reset()
    {
        _hits = 0;
        _count = 0;
    }

    /// <inheritdoc/>
    public override void Update(in MetricBatch batch)
    {
        batch.RequireLabels(Name);
        for (int r = 0; r < batch.Rows; r++)
        {
            if (InTopK(batch.Output(r), batch.Labels[r], K))
            {
                _hits++;
            }
        }

        _count += batch.Rows;
    }

    /// <summary>Whether <paramref name="label"/> is among the <paramref name="k"/> largest of <paramref name="outputs"/> (ties at the boundary are in).</summary>
    public static bool InTopK(ReadOnlySpan<float> outputs, int label, int k)
    {
        if ((uint)label >= (uint)outputs.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(label), label, $"Labels must be class indices in [0, {outputs.Length}).");
        }

        float target = outputs[label];
        if (float.IsNaN(target))
        {
            return false;
        }

        int larger = 0;
        for (int j = 0; j < outputs.Length; j++)
        {
            if (outputs[j] > target && ++larger >= k)
            {
                return false;
            }
        }

        return true;
    }

    internal static int ValidK(int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        return k;
    }
}

/// <summary>
/// The fraction of samples whose label is not among the <see cref="K"/> most probable classes (the ImageNet top-1 /
/// top-5 error): <c>1 - </c><see cref="TopKAccuracy"/>, logged as <c>top_{k}_error</c>. Ties as in <see cref="TopKAccuracy"/>.
/// </summary>
public sealed class TopKError : Metric
{
    private readonly TopKAccuracy _accuracy;

    /// <summary>Creates the metric.</summary>
    /// <param name="k">How many of the most probable classes count, at least 1.</param>
    /// <param name="name">Its key in logs; <c>top_{k}_error</c> by default.</param>
    public TopKError(int k = 5, string? name = null)
        : base(name ?? $"top_{TopKAccuracy.ValidK(k)}_error")
    {
        _accuracy = new TopKAccuracy(k);
    }

    /// <summary>How many of the most probable classes count.</summary>
    public int K => _accuracy.K;

    /// <inheritdoc/>
    public override MetricDirection Direction => MetricDirection.Minimize;

    /// <inheritdoc/>
    public override double Result => 1.0 - _accuracy.Result;

    /// <inheritdoc/>
    public override void Reset() => _accuracy.Reset();

    /// <inheritdoc/>
    public override void Update(in MetricBatch batch)
    {
        batch.RequireLabels(Name);
        _accuracy.Update(batch);
    }
}

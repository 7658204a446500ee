namespace NetDsl.Metrics;

/// <summary>
/// The fraction of samples whose most probable class (the first largest output on ties) is the label: Keras'
/// <c>sparse_categorical_accuracy</c>, logged as <c>accuracy</c>.
/// </summary>
public sealed class Accuracy : Metric
{
    private long _correct;
    private long _count;

    /// <summary>Creates the metric.</summary>
    /// <param name="name">Its key in logs.</param>
    public Accuracy(string name = "accuracy")
        : base(name)
    {
    }

    /// <inheritdoc/>
    public override MetricDirection Direction => MetricDirection.Maximize;

    /// <summary>Samples counted so far.</summary>
    public long Count => _count;

    /// <summary>Samples classified correctly so far.</summary>
    public long Correct => _correct;

    /// <inheritdoc/>
    public override double Result => _count == 0 ? double.NaN : (double)_correct / _count;

    /// <inheritdoc/>
    public override void Reset()
    {
        _correct = 0;
        _count = 0;
    }

    /// <inheritdoc/>
    public override void Update(in MetricBatch batch)
    {
        if (!batch.HasLabels && batch.TargetSize == batch.OutputSize && batch.OutputSize > 1)
        {
            // One-hot (or soft) target rows: categorical accuracy, the class of the largest target.
            for (int r = 0; r < batch.Rows; r++)
            {
                if (Evaluation.ArgMax(batch.Output(r)) == Evaluation.ArgMax(batch.Targets.Slice(r * batch.TargetSize, batch.TargetSize)))
                {
                    _correct++;
                }
            }

            _count += batch.Rows;
            return;
        }

        batch.RequireLabels(Name);
        for (int r = 0; r < batch.Rows; r++)
        {
            if (Evaluation.ArgMax(batch.Output(r)) == batch.Labels[r])
            {
                _correct++;
            }
        }

        _count += batch.Rows;
    }
}

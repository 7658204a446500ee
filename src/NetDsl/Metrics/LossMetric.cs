namespace NetDsl.Metrics;

/// <summary>
/// The mean per-sample loss of a network trained with float targets, computed from its outputs (after the head's
/// activation) as Keras evaluates it: probabilities clipped to <c>[1e-7, 1 - 1e-7]</c> for the cross-entropies, hinge
/// targets converted from 0/1 to -1/+1 when every target of the batch is 0 or 1. It matches the training loss (which
/// the kernels compute from the logits) except where probabilities saturate beyond the clip.
/// For <see cref="Loss.SparseCategoricalCrossEntropy"/> use <see cref="CrossEntropy"/>.
/// </summary>
public sealed class LossMetric : MeanMetric
{
    private const double Eps = 1e-7;

    /// <summary>Creates the metric for <paramref name="loss"/>.</summary>
    /// <param name="loss">A loss that takes float targets.</param>
    /// <param name="name">The log key (Keras: "loss").</param>
    /// <exception cref="ArgumentException"><paramref name="loss"/> is sparse categorical cross-entropy or unknown.</exception>
    public LossMetric(Loss loss, string name = "loss")
        : base(name)
    {
        if (loss == Loss.SparseCategoricalCrossEntropy || !Enum.IsDefined(loss))
        {
            throw new ArgumentException($"{loss} is not a loss over float targets; use CrossEntropy for class labels.", nameof(loss));
        }

        Loss = loss;
    }

    /// <summary>The loss this metric computes.</summary>
    public Loss Loss { get; }

    /// <inheritdoc/>
    public override MetricDirection Direction => MetricDirection.Minimize;

    /// <inheritdoc/>
    public override void Update(in MetricBatch batch)
    {
        if (batch.HasLabels || batch.TargetSize != batch.OutputSize)
        {
            throw new ArgumentException($"Metric '{Name}' ({Loss}) needs {batch.OutputSize} float targets per sample.", nameof(batch));
        }

        bool binaryHinge = Loss is Loss.Hinge or Loss.SquaredHinge && AllZeroOrOne(batch.Targets);
        int k = batch.OutputSize;
        double total = 0;
        for (int r = 0; r < batch.Rows; r++)
        {
            total += SampleLoss(Loss, batch.Output(r), batch.Targets.Slice(r * k, k), binaryHinge);
        }

        Accumulate(total, batch.Rows);
    }

    /// <summary>The loss of one sample from its outputs <paramref name="y"/> and targets <paramref name="t"/>.</summary>
    /// <param name="loss">A loss over float targets.</param>
    /// <param name="y">The network's outputs for the sample.</param>
    /// <param name="t">The sample's targets, as long as <paramref name="y"/>.</param>
    /// <param name="convertHingeTargets">For the hinge losses: map 0/1 targets to -1/+1 (Keras does when the whole batch is 0/1).</param>
    public static double SampleLoss(Loss loss, ReadOnlySpan<float> y, ReadOnlySpan<float> t, bool convertHingeTargets = false)
    {
        int k = y.Length;
        double sum = 0;
        switch (loss)
        {
            case Loss.CategoricalCrossEntropy:
            {
                double total = 0;
                for (int j = 0; j < k; j++)
                {
                    total += y[j];
                }

                for (int j = 0; j < k; j++)
                {
                    sum -= t[j] * Math.Log(Math.Clamp(y[j] / total, Eps, 1 - Eps));
                }

                return sum;
            }

            case Loss.BinaryCrossEntropy:
                for (int j = 0; j < k; j++)
                {
                    double p = Math.Clamp((double)y[j], Eps, 1 - Eps);
                    sum -= t[j] * Math.Log(p) + (1 - t[j]) * Math.Log(1 - p);
                }

                break;
            default:
                for (int j = 0; j < k; j++)
                {
                    double yj = y[j], tj = t[j];
                    sum += loss switch
                    {
                        Loss.MeanSquaredError => (yj - tj) * (yj - tj),
                        Loss.MeanAbsoluteError => Math.Abs(yj - tj),
                        Loss.MeanAbsolutePercentageError => 100 * Math.Abs(tj - yj) / Math.Max(Math.Abs(tj), Eps),
                        Loss.MeanSquaredLogarithmicError => Square(Math.Log(Math.Max(yj, Eps) + 1) - Math.Log(Math.Max(tj, Eps) + 1)),
                        Loss.Hinge => Math.Max(0, 1 - (convertHingeTargets ? 2 * tj - 1 : tj) * yj),
                        Loss.SquaredHinge => Square(Math.Max(0, 1 - (convertHingeTargets ? 2 * tj - 1 : tj) * yj)),
                        _ => throw new ArgumentOutOfRangeException(nameof(loss), loss, "Not a loss over float targets."),
                    };
                }

                break;
        }

        return sum / k;
    }

    private static double Square(double x) => x * x;

    private static bool AllZeroOrOne(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (v is not (0f or 1f))
            {
                return false;
            }
        }

        return true;
    }
}

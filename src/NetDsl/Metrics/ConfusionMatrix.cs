using System.Globalization;
using System.Text;

namespace NetDsl.Metrics;

/// <summary>
/// Counts of (actual class, predicted class) pairs for a classifier, with per-class precision, recall and F1 and a
/// readable table (<see cref="ToString"/>). The predicted class of a sample is the first largest output, as in
/// <see cref="Accuracy"/>. Build one with <see cref="Evaluation.ConfusionMatrix(Model, Data.IDataSource, IReadOnlyList{string})"/> or fill it with
/// <see cref="Update"/> / <see cref="Add"/>.
/// </summary>
public sealed class ConfusionMatrix
{
    private readonly long[] _counts;
    private readonly string[]? _names;

    /// <summary>Creates an empty matrix.</summary>
    /// <param name="classes">The number of classes, positive.</param>
    /// <param name="classNames">Optional names of the classes for <see cref="ToString"/> (one per class).</param>
    public ConfusionMatrix(int classes, IReadOnlyList<string>? classNames = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (classNames is not null && classNames.Count != classes)
        {
            throw new ArgumentException($"{classes} classes need {classes} names, but got {classNames.Count}.", nameof(classNames));
        }

        Classes = classes;
        _counts = new long[checked(classes * classes)];
        _names = classNames?.ToArray();
    }

    /// <summary>The number of classes.</summary>
    public int Classes { get; }

    /// <summary>Samples counted.</summary>
    public long Total { get; private set; }

    /// <summary>Samples on the diagonal (predicted class = actual class).</summary>
    public long Correct
    {
        get
        {
            long sum = 0;
            for (int c = 0; c < Classes; c++)
            {
                sum += this[c, c];
            }

            return sum;
        }
    }

    /// <summary>Correct / Total; NaN when empty.</summary>
    public double Accuracy => Total == 0 ? double.NaN : (double)Correct / Total;

    /// <summary>Samples of class <paramref name="actual"/> predicted as <paramref name="predicted"/>.</summary>
    public long this[int actual, int predicted]
    {
        get
        {
            Check(actual, nameof(actual));
            Check(predicted, nameof(predicted));
            return _counts[actual * Classes + predicted];
        }
    }

    /// <summary>Samples whose actual class is <paramref name="c"/> (the row sum).</summary>
    public long Support(int c)
    {
        Check(c, nameof(c));
        long sum = 0;
        for (int p = 0; p < Classes; p++)
        {
            sum += _counts[c * Classes + p];
        }

        return sum;
    }

    /// <summary>Samples predicted as class <paramref name="c"/> (the column sum).</summary>
    public long PredictedCount(int c)
    {
        Check(c, nameof(c));
        long sum = 0;
        for (int a = 0; a < Classes; a++)
        {
            sum += _counts[a * Classes + c];
        }

        return sum;
    }

    /// <summary>Of the samples predicted as <paramref name="c"/>, the fraction that are <paramref name="c"/>; NaN when none is predicted as <paramref name="c"/>.</summary>
    public double Precision(int c)
    {
        long predicted = PredictedCount(c);
        return predicted == 0 ? double.NaN : (double)this[c, c] / predicted;
    }

    /// <summary>Of the samples of class <paramref name="c"/>, the fraction predicted as <paramref name="c"/>; NaN when the class has no samples.</summary>
    public double Recall(int c)
    {
        long support = Support(c);
        return support == 0 ? double.NaN : (double)this[c, c] / support;
    }

    /// <summary>The harmonic mean of <see cref="Precision"/> and <see cref="Recall"/>; NaN when either is undefined, 0 when both are 0.</summary>
    public double F1(int c)
    {
        double p = Precision(c), r = Recall(c);
        if (double.IsNaN(p) || double.IsNaN(r))
        {
            return double.NaN;
        }

        return p + r == 0 ? 0 : 2 * p * r / (p + r);
    }

    /// <summary>Counts one sample.</summary>
    public void Add(int actual, int predicted)
    {
        Check(actual, nameof(actual));
        Check(predicted, nameof(predicted));
        _counts[actual * Classes + predicted]++;
        Total++;
    }

    /// <summary>Counts a batch of outputs (one row of <see cref="Classes"/> floats per sample) against its labels.</summary>
    public void Update(in MetricBatch batch)
    {
        batch.RequireLabels("confusion matrix");
        if (batch.OutputSize != Classes)
        {
            throw new ArgumentException($"The batch has {batch.OutputSize} outputs per sample; the matrix has {Classes} classes.", nameof(batch));
        }

        for (int r = 0; r < batch.Rows; r++)
        {
            Add(batch.Labels[r], Evaluation.ArgMax(batch.Output(r)));
        }
    }

    /// <summary>Forgets every count.</summary>
    public void Reset()
    {
        Array.Clear(_counts);
        Total = 0;
    }

    /// <summary>
    /// The matrix as a text table: one row per actual class, one column per predicted class, then support,
    /// precision, recall and F1 of the class (<c>-</c> where undefined), and a last line with the totals.
    /// </summary>
    public override string ToString()
    {
        var culture = CultureInfo.InvariantCulture;
        string[] names = new string[Classes];
        for (int c = 0; c < Classes; c++)
        {
            names[c] = _names?[c] ?? c.ToString(culture);
        }

        const string Corner = "actual \\ predicted";
        int nameWidth = Math.Max(Corner.Length, names.Max(n => n.Length));
        int countWidth = Math.Max(names.Max(n => n.Length), Total.ToString(culture).Length);
        countWidth = Math.Max(countWidth, 3) + 2;
        var text = new StringBuilder();
        text.Append(culture, $"Confusion matrix: {Total} samples, accuracy {Format(Accuracy)} (rows: actual class, columns: predicted class)\n");
        text.Append(Corner.PadRight(nameWidth));
        foreach (string name in names)
        {
            text.Append(name.PadLeft(countWidth));
        }

        text.Append("   support  precision  recall      f1\n");
        for (int a = 0; a < Classes; a++)
        {
            text.Append(names[a].PadRight(nameWidth));
            for (int p = 0; p < Classes; p++)
            {
                text.Append(_counts[a * Classes + p].ToString(culture).PadLeft(countWidth));
            }

            text.Append(Support(a).ToString(culture).PadLeft(10));
            text.Append(Format(Precision(a)).PadLeft(11));
            text.Append(Format(Recall(a)).PadLeft(8));
            text.Append(Format(F1(a)).PadLeft(8));
            text.Append('\n');
        }

        text.Append("predicted".PadRight(nameWidth));
        for (int p = 0; p < Classes; p++)
        {
            text.Append(PredictedCount(p).ToString(culture).PadLeft(countWidth));
        }

        text.Append(Total.ToString(culture).PadLeft(10));
        text.Append('\n');
        return text.ToString();
    }

    private static string Format(double value) => double.IsNaN(value) ? "-" : value.ToString("F4", CultureInfo.InvariantCulture);

    private void Check(int c, string name)
    {
        if ((uint)c >= (uint)Classes)
        {
            throw new ArgumentOutOfRangeException(name, c, $"Class indices lie in [0, {Classes}).");
        }
    }
}

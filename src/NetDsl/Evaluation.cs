using NetDsl.Data;
using NetDsl.Metrics;

namespace NetDsl;

/// <summary>Classifier metrics over a whole data source (see also <c>Network.Evaluate</c> for several at once).</summary>
public static class Evaluation
{
    /// <summary>
    /// Fraction of samples whose most probable class (argmax of the network's outputs) equals the label; 0 for an
    /// empty source.
    /// </summary>
    public static double Accuracy(Model network, IDataSource data)
    {
        if (Count(network, data) == 0)
        {
            return 0;
        }

        return network.Evaluate(data, [new Metrics.Accuracy()])["accuracy"];
    }

    /// <summary>
    /// Fraction of samples whose label is among the <paramref name="k"/> most probable classes (ties as in
    /// <see cref="Metrics.TopKAccuracy"/>); 0 for an empty source. <c>1 - TopKAccuracy</c> is the top-k error.
    /// </summary>
    public static double TopKAccuracy(Model network, IDataSource data, int k)
    {
        var metric = new Metrics.TopKAccuracy(k);
        if (Count(network, data) == 0)
        {
            return 0;
        }

        return network.Evaluate(data, [metric])[metric.Name];
    }

    /// <summary>The confusion matrix of the network's predictions (argmax) against the labels of <paramref name="data"/>.</summary>
    /// <param name="network">The classifier.</param>
    /// <param name="data">The labelled samples.</param>
    /// <param name="classNames">Optional class names for the table (one per output).</param>
    public static ConfusionMatrix ConfusionMatrix(Model network, IDataSource data, IReadOnlyList<string>? classNames = null)
    {
        Count(network, data);
        int classes = network.OutputSize;
        var matrix = new ConfusionMatrix(classes, classNames);
        float[] outputs = network.Predict(data);
        for (int i = 0; i < data.Count; i++)
        {
            int label = data.GetLabel(i);
            if ((uint)label >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(data), label, $"Sample {i} has label {label}; labels must be class indices in [0, {classes}).");
            }

            matrix.Add(label, ArgMax(outputs.AsSpan(i * classes, classes)));
        }

        return matrix;
    }

    /// <summary>Index of the largest value (the first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    private static int Count(Model network, IDataSource data)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        if (data.SampleSize != network.InputSize)
        {
            throw new ArgumentException($"The dataset's samples have {data.SampleSize} floats; the network takes {network.InputSize}.", nameof(data));
        }

        return data.Count;
    }
}

using NetDsl.Data;

namespace NetDsl;

/// <summary>Classifier metrics over a whole dataset.</summary>
public static class Evaluation
{
    /// <summary>
    /// Fraction of samples whose most probable class (argmax of <see cref="Network.Predict"/>) equals the label.
    /// </summary>
    public static double Accuracy(Network network, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        if (data.SampleSize != network.InputSize)
        {
            throw new ArgumentException($"The dataset's samples have {data.SampleSize} floats; the network takes {network.InputSize}.", nameof(data));
        }

        if (data.Count == 0)
        {
            return 0;
        }

        int classes = network.OutputSize;
        var outputs = new float[(long)data.Count * classes];
        network.Predict(data.Features, outputs);
        int correct = 0;
        for (int i = 0; i < data.Count; i++)
        {
            if (ArgMax(outputs.AsSpan(i * classes, classes)) == data.Labels[i])
            {
                correct++;
            }
        }

        return (double)correct / data.Count;
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
}

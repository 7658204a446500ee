namespace NetDsl.Tests.Numerics;

/// <summary>Builds the test networks by name (so theories can enumerate them) and random batches for them.</summary>
public static class NetworkFactory
{
    public static readonly string[] Names =
    [
        nameof(Net13x7x5), nameof(Net33x17x3), nameof(Net1x5x2), nameof(Net40x130x10),
        nameof(Deep4), nameof(HiddenSoftmaxNet), nameof(LinearHiddenNet), nameof(NoBiasFirstNet), nameof(Wide9x100x2),
    ];

    public static Network Create(string name, int batchSize, int seed = 0, int threads = 1) => name switch
    {
        nameof(Net13x7x5) => new Net13x7x5(batchSize, seed, threads),
        nameof(Net33x17x3) => new Net33x17x3(batchSize, seed, threads),
        nameof(Net1x5x2) => new Net1x5x2(batchSize, seed, threads),
        nameof(Net40x130x10) => new Net40x130x10(batchSize, seed, threads),
        nameof(Deep4) => new Deep4(batchSize, seed, threads),
        nameof(HiddenSoftmaxNet) => new HiddenSoftmaxNet(batchSize, seed, threads),
        nameof(LinearHiddenNet) => new LinearHiddenNet(batchSize, seed, threads),
        nameof(NoBiasFirstNet) => new NoBiasFirstNet(batchSize, seed, threads),
        nameof(Wide9x100x2) => new Wide9x100x2(batchSize, seed, threads),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown test network."),
    };

    /// <summary>Uniform floats in [-scale, scale).</summary>
    public static float[] RandomFloats(Random random, int count, float scale = 1f)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)((2 * random.NextDouble() - 1) * scale);
        }

        return values;
    }

    public static int[] RandomLabels(Random random, int count, int classes)
    {
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = random.Next(classes);
        }

        return labels;
    }

    /// <summary>Gives every bias random values so the forward pass really depends on it.</summary>
    public static void RandomizeBiases(Network network, Random random, float scale = 0.3f)
    {
        foreach (var layer in network.Layers)
        {
            var bias = ((DenseLayer)layer).Bias;
            for (int i = 0; i < bias.Length; i++)
            {
                bias[i] = (float)((2 * random.NextDouble() - 1) * scale);
            }
        }
    }

    public static double[] Widen(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i];
        }

        return result;
    }
}

using System.Reflection;

namespace NetDsl.Tests.Numerics;

// Test hooks. These partial declarations only use Network's protected API (DropoutSeed, Arena, Layout); the
// generator-private names (the activation plan, job ids) are looked up by reflection, so a renaming in the generator
// fails the tests that use them with a clear message instead of breaking the build.

public partial class CnnDropout
{
    /// <summary>The dropout seed the last training pass used for layer <paramref name="layer"/>.</summary>
    internal ulong MaskSeed(int layer) => DropoutSeed(layer);

    /// <summary>The network output (probabilities) of the last pass, training passes included.</summary>
    internal float[] LastOutputs(int rows) => Arena.GetSpan(Layout.OutputOffset, rows * OutputSize).ToArray();
}

public partial class CnnPoolDropout
{
    /// <summary>The dropout seed the last training pass used for layer <paramref name="layer"/>.</summary>
    internal ulong MaskSeed(int layer) => DropoutSeed(layer);

    /// <summary>The network output (probabilities) of the last pass, training passes included.</summary>
    internal float[] LastOutputs(int rows) => Arena.GetSpan(Layout.OutputOffset, rows * OutputSize).ToArray();
}

public partial class CnnTiny
{
    internal Span<float> ArenaSpan(long offset, int length) => Arena.GetSpan(offset, length);

    internal long ActivationBuffer(string name) => CnnHooks.ActivationBuffer(this, name);
}

public partial class CnnBatchNorm
{
    internal float[] LastOutputs(int rows) => Arena.GetSpan(Layout.OutputOffset, rows * OutputSize).ToArray();
}

/// <summary>Reflection over generator-private members of the test networks.</summary>
public static class CnnHooks
{
    /// <summary>The arena offset of per-batch buffer <paramref name="name"/> (a member of the generated activation plan).</summary>
    public static long ActivationBuffer(Network network, string name)
    {
        var field = network.GetType().GetField("_a", BindingFlags.NonPublic | BindingFlags.Instance)
            ?? network.GetType().BaseType?.GetField("_a", BindingFlags.NonPublic | BindingFlags.Instance)
            ?? throw new InvalidOperationException("The generated activation plan field '_a' was not found (generator renamed it?).");
        object plan = field.GetValue(network)!;
        var property = plan.GetType().GetProperty(name) ?? throw new InvalidOperationException($"The activation plan has no buffer '{name}'.");
        return (long)property.GetValue(plan)!;
    }

    /// <summary>The generated job ids by name (the private <c>Job_*</c> constants).</summary>
    public static Dictionary<int, string> JobNames(Type networkType)
    {
        var names = networkType
            .GetFields(BindingFlags.NonPublic | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.Name.StartsWith("Job_", StringComparison.Ordinal))
            .ToDictionary(f => (int)f.GetRawConstantValue()!, f => f.Name["Job_".Length..]);
        if (names.Count == 0)
        {
            throw new InvalidOperationException($"{networkType.Name} declares no Job_* constants (generator renamed them?).");
        }

        return names;
    }
}

/// <summary>Builds the CNN test networks by name, with their input shapes.</summary>
public static class CnnNetworkFactory
{
    public static readonly string[] Names = [nameof(CnnTiny), nameof(CnnOdd), nameof(CnnBatchNorm), nameof(CnnDropoutZero), nameof(CnnStrided), nameof(CnnFlatInput), nameof(CnnWinograd), nameof(CnnPadded)];

    public static Network Create(string name, int batchSize, int seed = 0, int threads = 1) => name switch
    {
        nameof(CnnTiny) => new CnnTiny(batchSize, seed, threads),
        nameof(CnnOdd) => new CnnOdd(batchSize, seed, threads),
        nameof(CnnBatchNorm) => new CnnBatchNorm(batchSize, seed, threads),
        nameof(CnnDropout) => new CnnDropout(batchSize, seed, threads),
        nameof(CnnPoolDropout) => new CnnPoolDropout(batchSize, seed, threads),
        nameof(CnnDropoutZero) => new CnnDropoutZero(batchSize, seed, threads),
        nameof(CnnStrided) => new CnnStrided(batchSize, seed, threads),
        nameof(CnnFlatInput) => new CnnFlatInput(batchSize, seed, threads),
        nameof(CnnWinograd) => new CnnWinograd(batchSize, seed, threads),
        nameof(CnnPadded) => new CnnPadded(batchSize, seed, threads),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown CNN test network."),
    };

    public static CnnShape InputShape(string name) => name switch
    {
        nameof(CnnTiny) => new(1, 10, 10),
        nameof(CnnOdd) => new(3, 11, 9),
        nameof(CnnBatchNorm) => new(2, 9, 9),
        nameof(CnnPoolDropout) => new(2, 10, 10),
        nameof(CnnDropout) or nameof(CnnDropoutZero) => new(2, 8, 8),
        nameof(CnnStrided) => new(2, 15, 14),
        nameof(CnnFlatInput) => new(3, 4, 5),
        nameof(CnnWinograd) => new(2, 9, 8),
        nameof(CnnPadded) => new(3, 11, 10),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown CNN test network."),
    };

    /// <summary>
    /// Random biases, BatchNorm scale/shift and moving statistics, so the forward pass really depends on each
    /// (they start at 0 / 1, where a wrong index or a missing term can hide).
    /// </summary>
    public static void RandomizeExtras(Network network, Random random)
    {
        foreach (var layer in network.Layers)
        {
            switch (layer)
            {
                case DenseLayer dense:
                    Fill(dense.Bias, random, -0.3, 0.3);
                    break;
                case Conv2DLayer conv:
                    Fill(conv.Bias, random, -0.3, 0.3);
                    break;
                case BatchNormLayer bn:
                    Fill(bn.Gamma, random, 0.5, 1.5);
                    Fill(bn.Beta, random, -0.5, 0.5);
                    Fill(bn.MovingMean, random, -0.3, 0.3);
                    Fill(bn.MovingVariance, random, 0.3, 2);
                    break;
            }
        }
    }

    private static void Fill(Span<float> values, Random random, double low, double high)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(low + (high - low) * random.NextDouble());
        }
    }
}

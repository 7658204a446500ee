namespace NetDsl;

/// <summary>Weight initialisers, as Keras defines them, drawing from a <see cref="DeterministicRandom"/>.</summary>
public static class Initializers
{
    /// <summary>Glorot (Xavier) uniform: U(-l, l) with <c>l = sqrt(6 / (fanIn + fanOut))</c>.</summary>
    public static void GlorotUniform(Span<float> weights, int fanIn, int fanOut, DeterministicRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fanIn + fanOut);
        float limit = MathF.Sqrt(6f / (fanIn + fanOut));
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = (2f * random.NextSingle() - 1f) * limit;
        }
    }
}

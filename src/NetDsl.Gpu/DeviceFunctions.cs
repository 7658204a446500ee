using System.Runtime.CompilerServices;
using ILGPU;

namespace NetDsl.Gpu;

/// <summary>
/// Dropout masks on the device: the CPU's counter-based hash (NetDsl.Kernels.Dropout), so a GPU step drops exactly the
/// elements the CPU step with the same seed and step number drops.
/// </summary>
public static class GpuDropout
{
    /// <summary>
    /// Whether element <paramref name="index"/> survives dropout layer <paramref name="layer"/> in this step: the layer's
    /// seed is the hash of (network seed, step, layer) the CPU's <c>Network.DropoutSeed</c> computes, the element's hash
    /// is compared with <paramref name="threshold"/> = ceil(rate · 2^24).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Keep(GpuStep step, int layer, long index, int threshold)
    {
        ulong z = unchecked((ulong)step.Seed * 0x9E3779B97F4A7C15UL + (ulong)step.Step * 0xBF58476D1CE4E5B9UL + (ulong)layer * 0x94D049BB133111EBUL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        ulong seed = z ^ (z >> 31);

        // Keys(seed), as NetDsl.Kernels.Dropout.Keys.
        ulong k = seed + 0x9E3779B97F4A7C15UL;
        k = (k ^ (k >> 30)) * 0xBF58476D1CE4E5B9UL;
        k = (k ^ (k >> 27)) * 0x94D049BB133111EBUL;
        k ^= k >> 31;
        uint k0 = (uint)k, k1 = (uint)(k >> 32);
        uint lo = (uint)index;
        uint hi = (uint)((ulong)index >> 32);
        uint h = Mix(Mix(lo + k0) ^ (k1 + hi * 0x9E3779B9u));
        return (int)(h >> 8) >= threshold;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        h *= 0xC2B2AE35u;
        h ^= h >> 16;
        return h;
    }
}

/// <summary>
/// Batch normalisation on the device, channels last (<c>rows x channels</c>, one thread per channel for the reductions,
/// one per element for the element-wise passes): the formulas of NetDsl.Kernels.BatchNorm (Keras 2 semantics: biased
/// variance to normalise, unbiased variance for the moving average). Sums run in double, so they are at least as
/// accurate as the CPU's blocked, compensated float sums.
/// </summary>
public static class GpuBatchNorm
{
    /// <summary>Channel <paramref name="c"/>'s batch mean and <c>1/sqrt(var + epsilon)</c> (saved), and the moving statistics' update.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Statistics(ArrayView<float> arena, long x, int rows, int channels, int c, long savedMean, long savedInvStd,
        long movingMean, long movingVar, float momentum, float epsilon)
    {
        double sum = 0;
        for (int r = 0; r < rows; r++)
        {
            sum += arena[x + (long)r * channels + c];
        }

        float mean = (float)(sum / rows);
        double squares = 0;
        for (int r = 0; r < rows; r++)
        {
            double d = arena[x + (long)r * channels + c] - mean;
            squares += d * d;
        }

        float variance = (float)(squares / rows);
        float unbias = rows > 1 ? (float)rows / (rows - 1) : 1f;
        float keep = 1f - momentum;
        arena[savedMean + c] = mean;
        arena[savedInvStd + c] = 1f / MathF.Sqrt(variance + epsilon);
        arena[movingMean + c] = arena[movingMean + c] * momentum + mean * keep;
        arena[movingVar + c] = arena[movingVar + c] * momentum + variance * unbias * keep;
    }

    /// <summary><c>gamma (x - mean) invStd + beta</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Normalize(float x, float mean, float invStd, float gamma, float beta) => (x - mean) * (gamma * invStd) + beta;

    /// <summary><c>gamma (x - movingMean) / sqrt(movingVar + epsilon) + beta</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float NormalizeInference(float x, float movingMean, float movingVar, float gamma, float beta, float epsilon) =>
        (x - movingMean) * (gamma / MathF.Sqrt(movingVar + epsilon)) + beta;

    /// <summary>Channel <paramref name="c"/>'s <c>dbeta = Σ dy</c> and <c>dgamma = Σ dy (x - mean) invStd</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ParameterGradients(ArrayView<float> arena, long x, long dy, int rows, int channels, int c, long savedMean, long savedInvStd, long dgamma, long dbeta)
    {
        float mean = arena[savedMean + c];
        double sumDy = 0, sumDyXc = 0;
        for (int r = 0; r < rows; r++)
        {
            long at = (long)r * channels + c;
            double d = arena[dy + at];
            sumDy += d;
            sumDyXc += d * (arena[x + at] - mean);
        }

        arena[dbeta + c] = (float)sumDy;
        arena[dgamma + c] = (float)(sumDyXc * arena[savedInvStd + c]);
    }

    /// <summary><c>dx = gamma invStd (dy - dbeta / N - (x - mean) invStd dgamma / N)</c>, from the parameter gradients.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float InputGradient(float x, float dy, float gamma, float mean, float invStd, float dgamma, float dbeta, int rows)
    {
        float invRows = 1f / rows;
        return gamma * invStd * (dy - dbeta * invRows - (x - mean) * invStd * dgamma * invRows);
    }

    /// <summary>The input gradient's factor of a frozen layer: <c>gamma / sqrt(movingVar + epsilon)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FrozenScale(float gamma, float movingVar, float epsilon) => gamma / MathF.Sqrt(movingVar + epsilon);
}

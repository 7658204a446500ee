using ILGPU;

namespace NetDsl.Gpu;

/// <summary>
/// Local response normalisation's device functions (as NetDsl.Kernels.Lrn on the CPU): one element of a pixel's
/// channels, whose channels start at <c>pixel</c> in the arena.
/// </summary>
public static class GpuLrn
{
    /// <summary><c>y_c = x_c (bias + alpha / size Σ x_c'^2)^-beta</c>.</summary>
    public static float Forward(ArrayView<float> arena, long pixel, int c, int channels, int size, float alpha, float beta, float bias) =>
        arena[pixel + c] * MathF.Pow(Scale(arena, pixel, c, channels, size, alpha / size, bias), -beta);

    /// <summary>The input gradient of channel c from the pixel's input and output gradient.</summary>
    public static float Backward(ArrayView<float> arena, long pixel, long gradient, int c, int channels, int size, float alpha, float beta, float bias)
    {
        float scale = alpha / size;
        int before = (size - 1) / 2, after = size / 2;
        float sum = 0f;
        int lo = c - after < 0 ? 0 : c - after, hi = c + before > channels - 1 ? channels - 1 : c + before;
        for (int o = lo; o <= hi; o++)
        {
            float s = Scale(arena, pixel, o, channels, size, scale, bias);
            sum += arena[gradient + o] * arena[pixel + o] * MathF.Pow(s, -beta - 1f);
        }

        return arena[gradient + c] * MathF.Pow(Scale(arena, pixel, c, channels, size, scale, bias), -beta) - 2f * beta * scale * arena[pixel + c] * sum;
    }

    private static float Scale(ArrayView<float> arena, long pixel, int c, int channels, int size, float scale, float bias)
    {
        int lo = c - (size - 1) / 2 < 0 ? 0 : c - (size - 1) / 2, hi = c + size / 2 > channels - 1 ? channels - 1 : c + size / 2;
        float squares = 0f;
        for (int k = lo; k <= hi; k++)
        {
            float v = arena[pixel + k];
            squares += v * v;
        }

        return bias + scale * squares;
    }
}

namespace NetDsl.Kernels;

/// <summary>
/// Local response normalisation across channels (channels last: each pixel's channels are contiguous), as PyTorch and
/// ONNX define it: <c>s_c = bias + alpha / size * Σ x_c'^2</c> over c' in [c - (size - 1) / 2, c + size / 2], and
/// <c>y_c = x_c s_c^-beta</c>. Scalar code: the layer is rare (AlexNet, GoogLeNet's originals) and cheap next to the
/// convolutions around it. Work is split between parts by whole pixels.
/// </summary>
public static unsafe class Lrn
{
    /// <summary><c>y = lrn(x)</c> for the part's share of <paramref name="pixels"/> pixels of <paramref name="channels"/> channels.</summary>
    public static void Forward(Arena arena, long x, long y, long pixels, int channels, int size, float alpha, float beta, float bias, int part, int parts)
    {
        KernelRange.CheckPart(part, parts);
        long start = pixels * part / parts, end = pixels * (part + 1) / parts;
        float* px = arena.Pointer + x, py = arena.Pointer + y;
        float scale = alpha / size;
        for (long p = start; p < end; p++)
        {
            float* xp = px + p * channels, yp = py + p * channels;
            for (int c = 0; c < channels; c++)
            {
                yp[c] = xp[c] * MathF.Pow(Scale(xp, c, channels, size, scale, bias), -beta);
            }
        }
    }

    /// <summary>
    /// <c>dx_c = dy_c s_c^-beta - 2 beta alpha / size x_c Σ dy_c' x_c' s_c'^(-beta - 1)</c> over the c' whose window holds c,
    /// for the part's share of the pixels; <paramref name="dx"/> must differ from <paramref name="dy"/>.
    /// </summary>
    public static void Backward(Arena arena, long x, long dy, long dx, long pixels, int channels, int size, float alpha, float beta, float bias, int part, int parts)
    {
        KernelRange.CheckPart(part, parts);
        long start = pixels * part / parts, end = pixels * (part + 1) / parts;
        float* px = arena.Pointer + x, pdy = arena.Pointer + dy, pdx = arena.Pointer + dx;
        float scale = alpha / size;
        int before = (size - 1) / 2, after = size / 2;
        for (long p = start; p < end; p++)
        {
            float* xp = px + p * channels, dyp = pdy + p * channels, dxp = pdx + p * channels;
            for (int c = 0; c < channels; c++)
            {
                float sum = 0f;
                // c is in the window of c' when c' - before <= c <= c' + after.
                for (int o = Math.Max(0, c - after); o <= Math.Min(channels - 1, c + before); o++)
                {
                    float s = Scale(xp, o, channels, size, scale, bias);
                    sum += dyp[o] * xp[o] * MathF.Pow(s, -beta - 1f);
                }

                dxp[c] = dyp[c] * MathF.Pow(Scale(xp, c, channels, size, scale, bias), -beta) - 2f * beta * scale * xp[c] * sum;
            }
        }
    }

    private static float Scale(float* xp, int c, int channels, int size, float scale, float bias)
    {
        int lo = Math.Max(0, c - (size - 1) / 2), hi = Math.Min(channels - 1, c + size / 2);
        float squares = 0f;
        for (int k = lo; k <= hi; k++)
        {
            squares += xp[k] * xp[k];
        }

        return bias + scale * squares;
    }
}

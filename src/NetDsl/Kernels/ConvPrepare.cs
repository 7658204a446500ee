namespace NetDsl.Kernels;

/// <summary>
/// The layout of the input gradient's prepared weights. dx is computed one stride phase (ih mod SH, iw mod SW
/// class) at a time as a stride-1 convolution of dy; the kernel taps of a phase are stored in descending kh, then
/// descending kw order (so consecutive taps read consecutive dy pixels), each tap as a <c>[Filters, InC]</c> matrix
/// (w's <c>[InC, Filters]</c> block transposed). Phases are stored row class major, then column class.
/// </summary>
internal static unsafe class ConvPrepare<TShape>
    where TShape : IConvShape
{
    /// <summary>Kernel taps <c>k</c> in [0, <paramref name="size"/>) with <c>k mod stride == phase</c>.</summary>
    public static int Taps(int size, int stride, int phase) => phase < size ? ((size - 1 - phase) / stride) + 1 : 0;

    /// <summary>Offset of phase (<paramref name="ch"/>, <paramref name="cw"/>) in the prepared buffer.</summary>
    public static long PhaseOffset(int ch, int cw)
    {
        int rowsBefore = 0;
        for (int c = 0; c < ch; c++)
        {
            rowsBefore += Taps(TShape.KH, TShape.StrideH, c);
        }

        int colsBefore = 0;
        for (int c = 0; c < cw; c++)
        {
            colsBefore += Taps(TShape.KW, TShape.StrideW, c);
        }

        long block = (long)TShape.Filters * TShape.InC;
        return (((long)rowsBefore * TShape.KW) + ((long)Taps(TShape.KH, TShape.StrideH, ch) * colsBefore)) * block;
    }

    /// <summary>Writes part <paramref name="part"/> of the prepared rows (one row = one tap and filter, InC floats).</summary>
    public static void Run(float* w, float* prepared, int part, int parts)
    {
        int kh = TShape.KH, kw = TShape.KW, c = TShape.InC, f = TShape.Filters;
        int sh = TShape.StrideH, sw = TShape.StrideW;
        long rows = (long)kh * kw * f;
        long start = rows * part / parts, end = rows * (part + 1) / parts;
        long row = 0;
        for (int ch = 0; ch < sh; ch++)
        {
            int tapsH = Taps(kh, sh, ch);
            for (int cw = 0; cw < sw; cw++)
            {
                int tapsW = Taps(kw, sw, cw);
                for (int u = 0; u < tapsH; u++)
                {
                    int r = ch + (sh * (tapsH - 1 - u));
                    for (int m = 0; m < tapsW; m++)
                    {
                        int s = cw + (sw * (tapsW - 1 - m));
                        if (row + f <= start || row >= end)
                        {
                            row += f;
                            continue;
                        }

                        float* src = w + ((((long)r * kw) + s) * c * f);
                        for (int j = 0; j < f; j++, row++)
                        {
                            if (row < start || row >= end)
                            {
                                continue;
                            }

                            float* dst = prepared + (row * c);
                            for (int i = 0; i < c; i++)
                            {
                                dst[i] = src[((long)i * f) + j];
                            }
                        }
                    }
                }
            }
        }
    }
}

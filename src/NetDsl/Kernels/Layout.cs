namespace NetDsl.Kernels;

/// <summary>Conversions between the public tensor layouts and the internal channels-last one.</summary>
public static class Layout
{
    /// <summary>Pixels per block of the transposition: a block's source rows and destination run stay in L1.</summary>
    private const int PixelBlock = 64;

    /// <summary>
    /// Converts channels-first samples (the public input layout: sample n's element (c, h, w) at
    /// <c>n * C * H * W + (c * H + h) * W + w</c>) to the internal channels-last layout (element (h, w, c) at
    /// <c>n * H * W * C + (h * W + w) * C + c</c>). Only the first <c>samples * channels * height * width</c> floats of
    /// each span are used; with one channel this is a copy.
    /// </summary>
    /// <param name="source">Channels-first samples.</param>
    /// <param name="destination">Receives the channels-last samples; must not overlap <paramref name="source"/>.</param>
    /// <param name="samples">Samples.</param>
    /// <param name="channels">Channels per sample.</param>
    /// <param name="height">Rows per sample.</param>
    /// <param name="width">Columns per sample.</param>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative.</exception>
    /// <exception cref="ArgumentException">A span is too short, or the spans overlap.</exception>
    public static void ChannelsFirstToLast(ReadOnlySpan<float> source, Span<float> destination, int samples, int channels, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        ArgumentOutOfRangeException.ThrowIfNegative(channels);
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        long pixels = (long)height * width;
        long perSample = pixels * channels;
        long total = perSample * samples;
        if (total > source.Length)
        {
            throw new ArgumentException($"The source holds {source.Length} floats; {samples} samples of {channels} x {height} x {width} need {total}.", nameof(source));
        }

        if (total > destination.Length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} floats; {samples} samples of {channels} x {height} x {width} need {total}.", nameof(destination));
        }

        ReadOnlySpan<float> src = source[..(int)total];
        Span<float> dst = destination[..(int)total];
        if (src.Overlaps(dst))
        {
            throw new ArgumentException("The source and destination must not overlap.", nameof(destination));
        }

        if (channels == 1 || pixels == 1)
        {
            src.CopyTo(dst);
            return;
        }

        int p = (int)pixels, per = (int)perSample;
        for (int n = 0; n < samples; n++)
        {
            ReadOnlySpan<float> s = src.Slice(n * per, per);
            Span<float> d = dst.Slice(n * per, per);
            for (int p0 = 0; p0 < p; p0 += PixelBlock)
            {
                int p1 = Math.Min(p, p0 + PixelBlock);
                for (int c = 0; c < channels; c++)
                {
                    ReadOnlySpan<float> plane = s.Slice(c * p, p);
                    for (int i = p0; i < p1; i++)
                    {
                        d[i * channels + c] = plane[i];
                    }
                }
            }
        }
    }
}

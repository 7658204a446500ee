using NetDsl.Kernels;
using Xunit;

namespace NetDsl.Tests.Numerics;

/// <summary><see cref="Layout.ChannelsFirstToLast"/>: hand-written examples, a round trip through a naive inverse, and argument checks.</summary>
public class LayoutTests
{
    /// <summary>One sample, 2 channels of 2 x 3: channel 0 holds 0..5, channel 1 holds 6..11.</summary>
    [Fact]
    public void Small_example_interleaves_the_channels()
    {
        float[] source = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        float[] destination = new float[12];
        Layout.ChannelsFirstToLast(source, destination, samples: 1, channels: 2, height: 2, width: 3);
        Assert.Equal([0f, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11], destination);
    }

    /// <summary>Two samples of 3 channels x 1 x 2 (RGB pixels): samples stay separate, and extra destination room is untouched.</summary>
    [Fact]
    public void Samples_are_converted_independently()
    {
        // Sample 0: R = (1, 2), G = (3, 4), B = (5, 6); sample 1: R = (7, 8), G = (9, 10), B = (11, 12).
        float[] source = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        float[] destination = Enumerable.Repeat(-1f, 14).ToArray();
        Layout.ChannelsFirstToLast(source, destination, samples: 2, channels: 3, height: 1, width: 2);
        Assert.Equal([1f, 3, 5, 2, 4, 6, 7, 9, 11, 8, 10, 12, -1, -1], destination);
    }

    [Theory]
    [InlineData(1, 1, 28, 28)]
    [InlineData(3, 3, 5, 7)]
    [InlineData(2, 32, 9, 9)]
    [InlineData(2, 5, 1, 1)]
    [InlineData(1, 3, 13, 11)] // 143 pixels: two full blocks of 64 and a partial one
    public void Round_trip_through_a_naive_inverse_restores_the_input(int samples, int channels, int height, int width)
    {
        var random = new Random(samples * 1000 + channels * 100 + height * 10 + width);
        int total = samples * channels * height * width;
        float[] source = NetworkFactory.RandomFloats(random, total);
        float[] channelsLast = new float[total];
        Layout.ChannelsFirstToLast(source, channelsLast, samples, channels, height, width);

        float[] back = new float[total];
        for (int n = 0; n < samples; n++)
        {
            for (int h = 0; h < height; h++)
            {
                for (int w = 0; w < width; w++)
                {
                    for (int c = 0; c < channels; c++)
                    {
                        back[((n * channels + c) * height + h) * width + w] = channelsLast[((n * height + h) * width + w) * channels + c];
                    }
                }
            }
        }

        Assert.Equal(source, back);
    }

    [Fact]
    public void Invalid_arguments_are_rejected()
    {
        float[] buffer = new float[24];
        Assert.Throws<ArgumentOutOfRangeException>(() => Layout.ChannelsFirstToLast(new float[12], buffer, -1, 2, 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Layout.ChannelsFirstToLast(new float[12], buffer, 1, -2, 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Layout.ChannelsFirstToLast(new float[12], buffer, 1, 2, -2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Layout.ChannelsFirstToLast(new float[12], buffer, 1, 2, 2, -3));
        var e = Assert.Throws<ArgumentException>(() => Layout.ChannelsFirstToLast(new float[11], buffer, 1, 2, 2, 3));
        Assert.Equal("source", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Layout.ChannelsFirstToLast(new float[12], new float[11], 1, 2, 2, 3));
        Assert.Equal("destination", e.ParamName);

        // Overlapping views of one array, including partial overlap.
        e = Assert.Throws<ArgumentException>(() => Layout.ChannelsFirstToLast(buffer.AsSpan(0, 12), buffer.AsSpan(6, 12), 1, 2, 2, 3));
        Assert.Equal("destination", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Layout.ChannelsFirstToLast(buffer.AsSpan(0, 12), buffer.AsSpan(0, 12), 1, 2, 2, 3));
        Assert.Equal("destination", e.ParamName);

        // Adjacent, non-overlapping views are fine.
        Layout.ChannelsFirstToLast(buffer.AsSpan(0, 12), buffer.AsSpan(12, 12), 1, 2, 2, 3);
    }
}

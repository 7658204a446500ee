using NetDsl.Kernels;
using Xunit;

namespace NetDsl.Tests.Numerics;

/// <summary>
/// <see cref="Dropout"/>: the mask's statistics, its agreement between <see cref="Dropout.Keep"/>, the forward and the
/// backward pass and across splits, the exact scaling, and argument checks.
/// </summary>
/// <remarks>
/// Statistical bounds: over n = 2^20 elements the kept fraction of an ideal mask with keep probability p has standard
/// deviation <c>sqrt(p (1 - p) / n)</c> (at most 4.9e-4); every statistic is required to lie within 6 standard
/// deviations of its ideal value (a false failure would have probability ~2e-9, and the seeds are fixed, so the
/// outcome is deterministic). The mask's exact keep probability, <c>1 - ceil(rate 2^24) / 2^24</c>, is within 6e-8 of
/// <c>1 - rate</c>, negligible here.
/// </remarks>
public class DropoutTests
{
    private const int Big = 1 << 20;

    [Theory]
    [InlineData(0f)]
    [InlineData(0.25f)]
    [InlineData(0.5f)]
    [InlineData(0.9f)]
    public void Mask_statistics_match_an_independent_coin_per_element(float rate)
    {
        const ulong Seed = 0xC0FFEE;
        bool[] mask = ForwardMask(Seed, rate, Big);
        double p = 1.0 - rate;

        // Kept fraction, overall and per position modulo 16 (the lanes of a 512-bit vector).
        AssertWithin(mask.Count(k => k) / (double)Big, p, Sigma(p * (1 - p), Big), "kept fraction");
        for (int lane = 0; lane < 16; lane++)
        {
            int kept = 0;
            for (int i = lane; i < Big; i += 16)
            {
                kept += mask[i] ? 1 : 0;
            }

            AssertWithin(kept / (Big / 16.0), p, Sigma(p * (1 - p), Big / 16), $"kept fraction in lane {lane}");
        }

        // Neighbours are independent: P(keep i and keep i + 1) = p^2. The pair indicators are 1-dependent, so their
        // sum's variance is n (p^2 (1 - p^2) + 2 (p^3 - p^4)).
        int pairs = 0;
        for (int i = 0; i + 1 < Big; i++)
        {
            pairs += mask[i] && mask[i + 1] ? 1 : 0;
        }

        AssertWithin(pairs / (double)(Big - 1), p * p, Sigma(p * p * (1 - p * p) + 2 * (p * p * p - p * p * p * p), Big), "kept pairs");

        // Another seed gives an independent mask: P(same decision) = p^2 + (1 - p)^2.
        bool[] other = ForwardMask(Seed + 1, rate, Big);
        int agree = 0;
        for (int i = 0; i < Big; i++)
        {
            agree += mask[i] == other[i] ? 1 : 0;
        }

        double q = p * p + (1 - p) * (1 - p);
        AssertWithin(agree / (double)Big, q, Sigma(q * (1 - q), Big), "agreement with seed + 1");
        if (rate == 0f)
        {
            Assert.All(mask, Assert.True);
        }
    }

    /// <summary>Seeds that differ in one bit anywhere (low, middle, high word) give different masks.</summary>
    [Fact]
    public void Different_seeds_give_different_masks()
    {
        ulong[] seeds = [0, 1, 2, 1UL << 31, 1UL << 32, 1UL << 63, 12345, 12345 | (1UL << 40)];
        var masks = seeds.Select(s => ForwardMask(s, 0.5f, 4096)).ToArray();
        for (int a = 0; a < seeds.Length; a++)
        {
            for (int b = a + 1; b < seeds.Length; b++)
            {
                int differing = masks[a].Zip(masks[b]).Count(t => t.First != t.Second);
                Assert.True(differing > 4096 / 4, $"seeds {seeds[a]} and {seeds[b]} differ in only {differing} of 4096 decisions");
            }
        }
    }

    /// <summary>The high word of the index takes part in the hash (indices 2^32 apart get independent decisions).</summary>
    [Fact]
    public void Indices_beyond_two_to_the_32_get_their_own_decisions()
    {
        int differing = 0, kept = 0;
        for (long i = 0; i < 4096; i++)
        {
            bool low = Dropout.Keep(7, i, 0.5f), high = Dropout.Keep(7, i + (1L << 32), 0.5f);
            differing += low != high ? 1 : 0;
            kept += high ? 1 : 0;
        }

        Assert.InRange(differing, 4096 / 4, 3 * 4096 / 4);
        Assert.InRange(kept, 4096 / 4, 3 * 4096 / 4);
    }

    [Theory]
    [InlineData(0.25f, 1)]
    [InlineData(0.25f, 15)]
    [InlineData(0.5f, 17)]
    [InlineData(0.9f, 1013)]
    [InlineData(0.5f, 4096)]
    [InlineData(0f, 100)]
    public void Forward_and_backward_use_the_mask_of_Keep_with_exact_scaling_for_any_split(float rate, int count)
    {
        const ulong Seed = 987654321;
        var random = new Random(count);
        float[] x = NetworkFactory.RandomFloats(random, count, 4f);
        float[] dy = NetworkFactory.RandomFloats(random, count, 4f);
        float scale = 1f - rate;
        long size = Arena.Padded(count);
        float[]? first = null;
        foreach (int parts in new[] { 1, 2, 3, 7, 64 })
        {
            using var arena = new Arena(4 * size);
            arena.GetSpan(0, (int)arena.Length).Fill(-777f);
            x.CopyTo(arena.GetSpan(0, count));
            dy.CopyTo(arena.GetSpan(2 * size, count));
            for (int part = parts - 1; part >= 0; part--)
            {
                Dropout.Forward(arena, 0, size, count, rate, Seed, part, parts);
                Dropout.Backward(arena, 2 * size, 3 * size, count, rate, Seed, part, parts);
            }

            float[] y = arena.GetSpan(size, count).ToArray();
            float[] dx = arena.GetSpan(3 * size, count).ToArray();
            for (int i = 0; i < count; i++)
            {
                bool keep = Dropout.Keep(Seed, i, rate);
                float expectedY = keep ? x[i] / scale : 0f;
                float expectedDx = keep ? dy[i] / scale : 0f;
                if (y[i] != expectedY || dx[i] != expectedDx)
                {
                    Assert.Fail($"{parts} parts, element {i} (keep {keep}): y = {y[i]:R} (expected {expectedY:R}), dx = {dx[i]:R} (expected {expectedDx:R})");
                }
            }

            Assert.All(arena.GetSpan(size + count, (int)(size - count)).ToArray(), v => Assert.Equal(-777f, v));
            Assert.All(arena.GetSpan(3 * size + count, (int)(size - count)).ToArray(), v => Assert.Equal(-777f, v));
            first ??= y;
            Assert.Equal(first, y);
            if (rate == 0f)
            {
                Assert.Equal(x, y);
                Assert.Equal(dy, dx);
            }
        }
    }

    [Fact]
    public void In_place_gives_the_same_result_and_dropped_non_finite_values_become_zero()
    {
        const int Count = 70;
        const float Rate = 0.5f;
        float[] x = NetworkFactory.RandomFloats(new Random(1), Count);

        // Non-finite inputs at two dropped and two kept positions.
        int[] dropped = Enumerable.Range(0, Count).Where(i => !Dropout.Keep(5, i, Rate)).Take(2).ToArray();
        int[] kept = Enumerable.Range(0, Count).Where(i => Dropout.Keep(5, i, Rate)).Skip(17).Take(2).ToArray();
        x[dropped[0]] = float.NaN;
        x[dropped[1]] = float.PositiveInfinity;
        x[kept[0]] = float.NegativeInfinity;
        x[kept[1]] = float.NaN;
        long size = Arena.Padded(Count);
        using var arena = new Arena(2 * size);
        x.CopyTo(arena.GetSpan(0, Count));
        Dropout.Forward(arena, 0, size, Count, Rate, 5, 0, 1);
        float[] separate = arena.GetSpan(size, Count).ToArray();
        Dropout.Backward(arena, 0, 0, Count, Rate, 5, 0, 1);
        Assert.Equal(separate, arena.GetSpan(0, Count).ToArray());
        for (int i = 0; i < Count; i++)
        {
            if (!Dropout.Keep(5, i, Rate))
            {
                Assert.True(separate[i] == 0f, $"dropped element {i} = {separate[i]}");
            }
            else
            {
                Assert.Equal(x[i] * 2f, separate[i]);
            }
        }

        Assert.Equal(0f, separate[dropped[0]]);
        Assert.Equal(0f, separate[dropped[1]]);
        Assert.Equal(float.NegativeInfinity, separate[kept[0]]);
        Assert.True(float.IsNaN(separate[kept[1]]));
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    public void Invalid_rates_are_rejected(float rate)
    {
        using var arena = new Arena(64);
        Assert.Equal("rate", Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Keep(1, 0, rate)).ParamName);
        Assert.Equal("rate", Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Forward(arena, 0, 32, 16, rate, 1, 0, 1)).ParamName);
        Assert.Equal("rate", Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Backward(arena, 0, 32, 16, rate, 1, 0, 1)).ParamName);
    }

    [Fact]
    public void Invalid_counts_and_parts_are_rejected()
    {
        using var arena = new Arena(64);
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Forward(arena, 0, 32, -1, 0.5f, 1, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Forward(arena, 0, 32, 16, 0.5f, 1, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Backward(arena, 0, 32, 16, 0.5f, 1, 0, 0));
    }

    [Fact]
    public void Kernels_allocate_nothing()
    {
        using var arena = new Arena(2 * Arena.Padded(1000));
        long s = Arena.Padded(1000);
        void Work()
        {
            for (int part = 0; part < 3; part++)
            {
                Dropout.Forward(arena, 0, s, 1000, 0.25f, 3, part, 3);
                Dropout.Backward(arena, s, s, 1000, 0.25f, 3, part, 3);
            }
        }

        Work();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            Work();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>The mask as <see cref="Dropout.Forward"/> applies it (all-ones input: kept elements become non-zero), checked against <see cref="Dropout.Keep"/>.</summary>
    private static bool[] ForwardMask(ulong seed, float rate, int count)
    {
        long size = Arena.Padded(count);
        using var arena = new Arena(2 * size);
        arena.GetSpan(0, count).Fill(1f);
        Dropout.Forward(arena, 0, size, count, rate, seed, 0, 1);
        ReadOnlySpan<float> y = arena.GetSpan(size, count);
        var mask = new bool[count];
        for (int i = 0; i < count; i++)
        {
            mask[i] = y[i] != 0f;
            if (mask[i] != Dropout.Keep(seed, i, rate))
            {
                Assert.Fail($"seed {seed}, rate {rate}: Forward and Keep disagree at element {i}");
            }
        }

        return mask;
    }

    private static double Sigma(double variance, int n) => Math.Sqrt(variance / n);

    private static void AssertWithin(double actual, double expected, double sigma, string what) =>
        Assert.True(Math.Abs(actual - expected) <= 6 * sigma + 1e-12, $"{what}: {actual} vs {expected} (6 sigma = {6 * sigma})");
}

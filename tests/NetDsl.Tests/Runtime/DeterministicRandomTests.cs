using Xunit;

namespace NetDsl.Tests.Runtime;

public class DeterministicRandomTests
{
    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(42UL)]
    [InlineData(ulong.MaxValue)]
    public void Same_seed_gives_the_same_sequence(ulong seed)
    {
        var a = new DeterministicRandom(seed);
        var b = new DeterministicRandom(seed);
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(a.NextUInt32(), b.NextUInt32());
            Assert.Equal(a.NextSingle(), b.NextSingle());
            Assert.Equal(a.NextInt(1000), b.NextInt(1000));
        }
    }

    [Fact]
    public void Different_seeds_give_different_sequences()
    {
        var first = new List<uint[]>();
        foreach (ulong seed in new ulong[] { 0, 1, 2, 3, 1UL << 32, ulong.MaxValue })
        {
            var r = new DeterministicRandom(seed);
            uint[] values = Enumerable.Range(0, 8).Select(_ => r.NextUInt32()).ToArray();
            foreach (uint[] other in first)
            {
                Assert.NotEqual(other, values);
            }

            first.Add(values);
        }
    }

    [Fact]
    public void Sequence_is_not_constant_and_covers_high_and_low_bits()
    {
        var r = new DeterministicRandom(7);
        uint or = 0, and = uint.MaxValue;
        var distinct = new HashSet<uint>();
        for (int i = 0; i < 1000; i++)
        {
            uint v = r.NextUInt32();
            or |= v;
            and &= v;
            distinct.Add(v);
        }

        Assert.Equal(uint.MaxValue, or);
        Assert.Equal(0u, and);
        Assert.True(distinct.Count > 990);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(10)]
    [InlineData(1000)]
    [InlineData(int.MaxValue)]
    public void NextInt_stays_in_bounds(int maxExclusive)
    {
        var r = new DeterministicRandom((ulong)maxExclusive);
        int max = 0;
        for (int i = 0; i < 20_000; i++)
        {
            int v = r.NextInt(maxExclusive);
            Assert.InRange(v, 0, maxExclusive - 1);
            max = Math.Max(max, v);
        }

        if (maxExclusive <= 1000)
        {
            Assert.Equal(maxExclusive - 1, max); // the top value is reachable
        }
        else
        {
            Assert.True(max > maxExclusive / 2);
        }
    }

    [Fact]
    public void NextInt_is_roughly_uniform()
    {
        // 10 buckets x 10,000 draws each expected: chi-square with 9 degrees of freedom; 30 is beyond p = 0.0005.
        var r = new DeterministicRandom(123);
        var counts = new int[10];
        for (int i = 0; i < 100_000; i++)
        {
            counts[r.NextInt(10)]++;
        }

        double chi2 = counts.Sum(c => (c - 10_000.0) * (c - 10_000.0) / 10_000.0);
        Assert.True(chi2 < 30, $"chi-square {chi2}: {string.Join(", ", counts)}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void NextInt_rejects_non_positive_bounds(int maxExclusive)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DeterministicRandom(1).NextInt(maxExclusive));
    }

    [Fact]
    public void NextSingle_is_in_the_unit_interval_with_mean_one_half()
    {
        var r = new DeterministicRandom(99);
        double sum = 0;
        float min = 1, max = 0;
        const int Count = 100_000;
        for (int i = 0; i < Count; i++)
        {
            float v = r.NextSingle();
            Assert.True(v >= 0f && v < 1f, $"{v}");
            sum += v;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        Assert.InRange(sum / Count, 0.495, 0.505);
        Assert.True(min < 0.001f && max > 0.999f);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(10)]
    [InlineData(1000)]
    public void Shuffle_is_a_permutation_and_deterministic(int length)
    {
        int[] a = Enumerable.Range(0, length).ToArray();
        int[] b = Enumerable.Range(0, length).ToArray();
        new DeterministicRandom(5).Shuffle(a.AsSpan());
        new DeterministicRandom(5).Shuffle(b.AsSpan());
        Assert.Equal(a, b);
        Assert.Equal(Enumerable.Range(0, length), a.Order());
        if (length >= 10)
        {
            Assert.NotEqual(Enumerable.Range(0, length), a);
        }
    }

    [Fact]
    public void Shuffle_reaches_every_permutation_of_three()
    {
        var r = new DeterministicRandom(11);
        var seen = new Dictionary<string, int>();
        for (int i = 0; i < 6000; i++)
        {
            int[] v = [0, 1, 2];
            r.Shuffle(v.AsSpan());
            string key = string.Concat(v);
            seen[key] = seen.GetValueOrDefault(key) + 1;
        }

        Assert.Equal(6, seen.Count);
        Assert.All(seen.Values, c => Assert.InRange(c, 850, 1150));
    }
}

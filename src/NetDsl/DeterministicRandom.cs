namespace NetDsl;

/// <summary>
/// A small, fast, seedable generator (xoshiro128**, seeded through SplitMix64) whose sequence is fixed by this
/// library, not by the runtime version, so a seed reproduces the same weights, shuffles and dropout masks
/// everywhere. Not for cryptography.
/// </summary>
public sealed class DeterministicRandom
{
    private uint _s0, _s1, _s2, _s3;

    /// <summary>Creates a generator from a seed.</summary>
    public DeterministicRandom(ulong seed)
    {
        ulong x = seed;
        ulong a = SplitMix(ref x), b = SplitMix(ref x);
        _s0 = (uint)a;
        _s1 = (uint)(a >> 32);
        _s2 = (uint)b;
        _s3 = (uint)(b >> 32);
        if ((_s0 | _s1 | _s2 | _s3) == 0)
        {
            _s0 = 1;
        }
    }

    /// <summary>
    /// The generator's complete state (128 bits): save it (e.g. in a checkpoint) and assign it later, to this or
    /// another instance, to continue the exact same sequence.
    /// </summary>
    /// <exception cref="ArgumentException">The value is 0, which is not a state a generator can be in.</exception>
    public UInt128 State
    {
        get => new(((ulong)_s3 << 32) | _s2, ((ulong)_s1 << 32) | _s0);
        set
        {
            if (value == UInt128.Zero)
            {
                throw new ArgumentException("The all-zero state is not a valid generator state (xoshiro128** never reaches it).", nameof(value));
            }

            ulong upper = (ulong)(value >> 64), lower = (ulong)value;
            _s0 = (uint)lower;
            _s1 = (uint)(lower >> 32);
            _s2 = (uint)upper;
            _s3 = (uint)(upper >> 32);
        }
    }

    /// <summary>The next 32 random bits.</summary>
    public uint NextUInt32()
    {
        uint result = RotateLeft(_s1 * 5, 7) * 9;
        uint t = _s1 << 9;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 11);
        return result;
    }

    /// <summary>A float uniformly distributed in [0, 1) (24 random bits).</summary>
    public float NextSingle() => (NextUInt32() >> 8) * (1f / (1 << 24));

    /// <summary>An int uniformly distributed in [0, <paramref name="maxExclusive"/>) (Lemire's unbiased method).</summary>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        ulong m = (ulong)NextUInt32() * (uint)maxExclusive;
        uint low = (uint)m;
        if (low < (uint)maxExclusive)
        {
            uint threshold = (uint)(-maxExclusive) % (uint)maxExclusive;
            while (low < threshold)
            {
                m = (ulong)NextUInt32() * (uint)maxExclusive;
                low = (uint)m;
            }
        }

        return (int)(m >> 32);
    }

    /// <summary>Shuffles <paramref name="values"/> in place (Fisher-Yates).</summary>
    public void Shuffle<T>(Span<T> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private static uint RotateLeft(uint x, int k) => (x << k) | (x >> (32 - k));

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

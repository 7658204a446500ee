using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xunit;

namespace NetDsl.Tests.Runtime;

public class ArenaTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(1000)]
    [InlineData(1 << 20)]
    public unsafe void Memory_is_64_byte_aligned_and_zero_initialised(long length)
    {
        using var arena = new Arena(length);
        Assert.Equal(length, arena.Length);
        Assert.False(arena.IsDisposed);
        Span<float> all = arena.GetSpan(0, (int)length);
        fixed (float* p = all)
        {
            Assert.Equal(0, (long)(nuint)p % Arena.AlignmentBytes);
        }

        Assert.Equal(0, (long)(nuint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(all)) % 64);
        Assert.True(all.IndexOfAnyExcept(0f) < 0, "arena memory is not zero-initialised");
    }

    [Fact]
    public unsafe void Offsets_that_are_multiples_of_the_alignment_stay_aligned()
    {
        using var arena = new Arena(1024);
        for (long offset = 0; offset < 1024; offset += Arena.AlignmentFloats)
        {
            fixed (float* p = arena.GetSpan(offset, 1))
            {
                Assert.Equal(0, (long)(nuint)p % Arena.AlignmentBytes);
            }
        }
    }

    [Fact]
    public void Spans_view_the_same_memory()
    {
        using var arena = new Arena(100);
        arena.GetSpan(10, 5).Fill(3f);
        Span<float> wide = arena.GetSpan(0, 100);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(i is >= 10 and < 15 ? 3f : 0f, wide[i]);
        }
    }

    [Fact]
    public void GetSpan_accepts_the_exact_end_and_empty_spans()
    {
        using var arena = new Arena(100);
        Assert.Equal(100, arena.GetSpan(0, 100).Length);
        Assert.Equal(1, arena.GetSpan(99, 1).Length);
        Assert.True(arena.GetSpan(100, 0).IsEmpty);
    }

    [Theory]
    [InlineData(-1L, 1)]
    [InlineData(0L, -1)]
    [InlineData(0L, 101)]
    [InlineData(100L, 1)]
    [InlineData(99L, 2)]
    [InlineData(101L, 0)]
    [InlineData(long.MaxValue, 1)]
    public void GetSpan_rejects_ranges_outside_the_arena(long offset, int length)
    {
        using var arena = new Arena(100);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => arena.GetSpan(offset, length));
        Assert.Contains("100", e.Message);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-5L)]
    public void Constructor_rejects_non_positive_lengths(long length)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Arena(length));
    }

    [Fact]
    public void Use_after_Dispose_throws_and_Dispose_is_idempotent()
    {
        var arena = new Arena(64);
        arena.Dispose();
        Assert.True(arena.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => arena.GetSpan(0, 1));
        Assert.Throws<ObjectDisposedException>(() => arena.GetSpan(0, 0));
        arena.Dispose();
        Assert.True(arena.IsDisposed);
    }

    [Theory]
    [InlineData(0L, 16L)]
    [InlineData(1L, 32L)]
    [InlineData(16L, 32L)]
    [InlineData(17L, 48L)]
    [InlineData(100L, 128L)]
    public void Padded_rounds_up_to_the_alignment_and_adds_one_vector_of_slack(long floats, long expected)
    {
        Assert.Equal(expected, Arena.Padded(floats));
        Assert.Equal(0, Arena.Padded(floats) % Arena.AlignmentFloats);
        Assert.True(Arena.Padded(floats) >= floats + Arena.AlignmentFloats);
    }
}

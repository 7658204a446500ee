using NetDsl.Kernels;
using Xunit;

namespace NetDsl.Tests.Numerics;

/// <summary>
/// <see cref="Elementwise"/> against double-precision activations and their derivatives computed from the input
/// (not from the output, so the backward check is independent of the <c>y</c>-based formulas the kernels use).
/// Counts cover a partial vector only (1, 15), one 512-bit vector (16), a vector plus a tail (17) and several
/// vectors with a tail (100, 1000); 1, 2, 3 and 7 parts (the parts' union must be exactly the range: sentinels after
/// the end must survive, and results must not depend on the split).
/// </summary>
/// <remarks>
/// Tolerances: ReLU and linear are exact. Sigmoid and tanh are computed from a vector exp with a few ulps of error,
/// then one or two divisions: 4e-7 absolute plus 4e-7 relative is ~3 ulps at |f| ~ 1, and far below any wrong formula.
/// The backward pass multiplies dy by a derivative built from the float y (one more rounding of y, ~6e-8): 1e-6.
/// </remarks>
public class ElementwiseTests
{
    private const float Sentinel = -777.25f;

    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (string activation in new[] { "Linear", "ReLU", "Sigmoid", "Tanh" })
        {
            foreach (int count in new[] { 1, 15, 16, 17, 100, 1000 })
            {
                foreach (int parts in new[] { 1, 3 })
                {
                    data.Add(activation, count, parts);
                }
            }

            data.Add(activation, 1000, 2);
            data.Add(activation, 100, 7);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_and_backward_match_the_double_reference(string activation, int count, int parts)
    {
        switch (activation)
        {
            case "Linear":
                Check<Act.Linear>(count, parts, x => x, x => 1, exact: true);
                break;
            case "ReLU":
                Check<Act.ReLU>(count, parts, x => Math.Max(x, 0), x => x > 0 ? 1 : 0, exact: true);
                break;
            case "Sigmoid":
                Check<Act.Sigmoid>(count, parts, x => 1 / (1 + Math.Exp(-x)), x => Math.Exp(-x) / ((1 + Math.Exp(-x)) * (1 + Math.Exp(-x))), exact: false);
                break;
            case "Tanh":
                Check<Act.Tanh>(count, parts, Math.Tanh, x => 1 / (Math.Cosh(x) * Math.Cosh(x)), exact: false);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(activation));
        }
    }

    /// <summary>In place (x = y, dx = dy) over several parts: a part that overlapped its neighbour would apply f twice there.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Forward_and_backward_work_in_place(int parts)
    {
        const int Count = 53;
        var random = new Random(4);
        long size = Arena.Padded(Count);
        using var arena = new Arena(3 * size);
        float[] x = NetworkFactory.RandomFloats(random, Count, 3f);
        float[] dy = NetworkFactory.RandomFloats(random, Count);
        x.CopyTo(arena.GetSpan(0, Count));
        Elementwise.Forward<Act.Tanh>(arena, 0, size, Count, 0, 1);
        x.CopyTo(arena.GetSpan(2 * size, Count));
        for (int part = 0; part < parts; part++)
        {
            Elementwise.Forward<Act.Tanh>(arena, 2 * size, 2 * size, Count, part, parts);
        }

        Assert.Equal(arena.GetSpan(size, Count).ToArray(), arena.GetSpan(2 * size, Count).ToArray());

        dy.CopyTo(arena.GetSpan(0, Count));
        Elementwise.Backward<Act.Tanh>(arena, 0, size, 2 * size, Count, 0, 1);
        float[] separate = arena.GetSpan(2 * size, Count).ToArray();
        for (int part = 0; part < parts; part++)
        {
            Elementwise.Backward<Act.Tanh>(arena, 0, size, 0, Count, part, parts);
        }

        Assert.Equal(separate, arena.GetSpan(0, Count).ToArray());
    }

    [Fact]
    public void Invalid_parts_are_rejected()
    {
        using var arena = new Arena(64);
        Assert.Throws<ArgumentOutOfRangeException>(() => Elementwise.Forward<Act.ReLU>(arena, 0, 32, 16, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Elementwise.Forward<Act.ReLU>(arena, 0, 32, 16, 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Elementwise.Backward<Act.ReLU>(arena, 0, 16, 32, 16, -1, 2));
    }

    [Fact]
    public void Kernels_allocate_nothing()
    {
        using var arena = new Arena(3 * Arena.Padded(1000));
        long s = Arena.Padded(1000);
        void Work()
        {
            for (int part = 0; part < 3; part++)
            {
                Elementwise.Forward<Act.Sigmoid>(arena, 0, s, 1000, part, 3);
                Elementwise.Backward<Act.Sigmoid>(arena, 0, s, 2 * s, 1000, part, 3);
                Elementwise.Forward<Act.ReLU>(arena, 0, s, 1000, part, 3);
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

    private static void Check<TAct>(int count, int parts, Func<double, double> f, Func<double, double> derivative, bool exact)
        where TAct : IActivation
    {
        var random = new Random(count * 10 + parts);
        long size = Arena.Padded(count);
        long x = 0, y = size, dy = 2 * size, dx = 3 * size;
        using var arena = new Arena(4 * size);
        arena.GetSpan(0, (int)arena.Length).Fill(Sentinel);

        // Inputs in [-6, 6] away from 0 (ReLU's kink), so the derivative from x is unambiguous.
        float[] input = NetworkFactory.RandomFloats(random, count, 6f).Select(v => Math.Abs(v) < 1e-3f ? 0.5f : v).ToArray();
        float[] upstream = NetworkFactory.RandomFloats(random, count, 2f);
        input.CopyTo(arena.GetSpan(x, count));
        upstream.CopyTo(arena.GetSpan(dy, count));

        for (int part = parts - 1; part >= 0; part--)
        {
            Elementwise.Forward<TAct>(arena, x, y, count, part, parts);
        }

        for (int part = 0; part < parts; part++)
        {
            Elementwise.Backward<TAct>(arena, dy, y, dx, count, part, parts);
        }

        float[] output = arena.GetSpan(y, count).ToArray();
        float[] gradient = arena.GetSpan(dx, count).ToArray();
        for (int i = 0; i < count; i++)
        {
            double expected = f(input[i]);
            double tolerance = exact ? 0 : 4e-7 * (1 + Math.Abs(expected));
            if (!(Math.Abs(output[i] - expected) <= tolerance))
            {
                Assert.Fail($"{typeof(TAct).Name} y[{i}] = f({input[i]}) = {output[i]}, expected {expected}");
            }

            double expectedGradient = upstream[i] * derivative(input[i]);
            if (!(Math.Abs(gradient[i] - expectedGradient) <= (exact ? 0 : 1e-6)))
            {
                Assert.Fail($"{typeof(TAct).Name} dx[{i}] = {gradient[i]}, expected {expectedGradient} (x = {input[i]}, dy = {upstream[i]})");
            }
        }

        foreach (long buffer in new[] { y, dx })
        {
            ReadOnlySpan<float> slack = arena.GetSpan(buffer + count, (int)(size - count));
            for (int i = 0; i < slack.Length; i++)
            {
                if (slack[i] != Sentinel)
                {
                    Assert.Fail($"wrote {slack[i]} {i} floats past the end of a buffer");
                }
            }
        }

        // The split does not change any result.
        using var single = new Arena(4 * size);
        input.CopyTo(single.GetSpan(x, count));
        upstream.CopyTo(single.GetSpan(dy, count));
        Elementwise.Forward<TAct>(single, x, y, count, 0, 1);
        Elementwise.Backward<TAct>(single, dy, y, dx, count, 0, 1);
        Assert.Equal(single.GetSpan(y, count).ToArray(), output);
        Assert.Equal(single.GetSpan(dx, count).ToArray(), gradient);
    }
}

using System.Reflection;
using NetDsl.Kernels;
using Xunit;

namespace NetDsl.Tests.Numerics;

/// <summary>An int known at the type level, for building <see cref="IPoolShape"/> structs from run-time values.</summary>
public interface IPoolInt
{
    static abstract int Value { get; }
}

/// <summary>Keras padding mode at the type level.</summary>
public interface IPoolPadding
{
    static abstract bool Same { get; }
}

#pragma warning disable SA1649, SA1402 // many tiny types in one file
public readonly struct PoolInt1 : IPoolInt { public static int Value => 1; }
public readonly struct PoolInt2 : IPoolInt { public static int Value => 2; }
public readonly struct PoolInt3 : IPoolInt { public static int Value => 3; }
public readonly struct PoolInt4 : IPoolInt { public static int Value => 4; }
public readonly struct PoolInt7 : IPoolInt { public static int Value => 7; }
public readonly struct PoolInt8 : IPoolInt { public static int Value => 8; }
public readonly struct PoolInt17 : IPoolInt { public static int Value => 17; }
public readonly struct PoolInt24 : IPoolInt { public static int Value => 24; }
public readonly struct PoolInt32 : IPoolInt { public static int Value => 32; }
public readonly struct PoolInt33 : IPoolInt { public static int Value => 33; }
public readonly struct PoolInt64 : IPoolInt { public static int Value => 64; }
public readonly struct PoolValid : IPoolPadding { public static bool Same => false; }
public readonly struct PoolSame : IPoolPadding { public static bool Same => true; }
#pragma warning restore SA1649, SA1402

/// <summary>
/// A pooling shape from type-level constants, with the output size and padding Keras derives:
/// 'valid' <c>out = (in - pool) / stride + 1</c>, no padding; 'same' <c>out = ceil(in / stride)</c>, total padding
/// <c>max((out - 1) * stride + pool - in, 0)</c>, of which the smaller half goes on top/left.
/// </summary>
public readonly struct PoolShape<TInH, TInW, TC, TPoolH, TPoolW, TStride, TPad> : IPoolShape
    where TInH : struct, IPoolInt
    where TInW : struct, IPoolInt
    where TC : struct, IPoolInt
    where TPoolH : struct, IPoolInt
    where TPoolW : struct, IPoolInt
    where TStride : struct, IPoolInt
    where TPad : struct, IPoolPadding
{
    public static int InH => TInH.Value;
    public static int InW => TInW.Value;
    public static int C => TC.Value;
    public static int PoolH => TPoolH.Value;
    public static int PoolW => TPoolW.Value;
    public static int StrideH => TStride.Value;
    public static int StrideW => TStride.Value;
    public static int OutH => TPad.Same ? (InH + StrideH - 1) / StrideH : (InH - PoolH) / StrideH + 1;
    public static int OutW => TPad.Same ? (InW + StrideW - 1) / StrideW : (InW - PoolW) / StrideW + 1;
    public static int PadTop => TPad.Same ? Math.Max((OutH - 1) * StrideH + PoolH - InH, 0) / 2 : 0;
    public static int PadLeft => TPad.Same ? Math.Max((OutW - 1) * StrideW + PoolW - InW, 0) / 2 : 0;
}

/// <summary>
/// <see cref="Pooling"/> against double-precision loops written from the definitions: max = largest cell of the window
/// inside the input; its gradient goes to the first cell of a row-major scan equal to the max; average = mean of the
/// cells inside the input (padding not counted), its gradient spread evenly over them. Every combination of pool
/// 2x2 / 3x3 / 2x3, stride 1 / 2 / 3, 'valid' / 'same', C = 1 / 3 / 32 / 33 (scalar only; scalar; whole vectors;
/// vectors plus a scalar channel on every width) on a 7 x 8 input, each with 1 and 3 samples and 1, 2, 3 parts (run
/// one after the other in increasing and in decreasing order, to catch a part writing rows of another). The backward passes are also checked against central
/// finite differences of the reference forward pass (loss <c>sum(y * dy)</c>), away from ties for max.
/// </summary>
/// <remarks>
/// Tolerances: a max is a copy, so forward max is compared exactly; a window sum of at most 9 values of magnitude
/// at most 1 is within ~5e-7 of the exact one after averaging (1e-6 allowed); gradients are sums of at most 9 window
/// contributions, allowed 1e-6 times (1 + the sum of their magnitudes). Routing a max gradient to the wrong cell or
/// miscounting a window changes a value by a whole contribution (~0.1 or more), far above these.
/// </remarks>
public class PoolingTests
{
    private const float Sentinel = -777.25f;

    private static readonly Dictionary<int, Type> Ints = new()
    {
        [1] = typeof(PoolInt1), [2] = typeof(PoolInt2), [3] = typeof(PoolInt3), [4] = typeof(PoolInt4), [7] = typeof(PoolInt7), [8] = typeof(PoolInt8),
        [17] = typeof(PoolInt17), [24] = typeof(PoolInt24), [32] = typeof(PoolInt32), [33] = typeof(PoolInt33), [64] = typeof(PoolInt64),
    };

    public static TheoryData<int, int, int, bool, int> Grid()
    {
        var data = new TheoryData<int, int, int, bool, int>();
        foreach (var (ph, pw) in new[] { (2, 2), (3, 3), (2, 3) })
        {
            foreach (int stride in new[] { 1, 2, 3 })
            {
                foreach (bool same in new[] { false, true })
                {
                    foreach (int c in new[] { 1, 3, 32, 33 })
                    {
                        data.Add(ph, pw, stride, same, c);
                    }
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Grid))]
    public void Max_pooling_forward_and_backward_match_the_reference(int poolH, int poolW, int stride, bool same, int channels)
        => Invoke(nameof(CheckMax), ShapeType(7, 8, channels, poolH, poolW, stride, same));

    [Theory]
    [MemberData(nameof(Grid))]
    public void Average_pooling_forward_and_backward_match_the_reference(int poolH, int poolW, int stride, bool same, int channels)
        => Invoke(nameof(CheckAverage), ShapeType(7, 8, channels, poolH, poolW, stride, same));

    /// <summary>The reference CNN's pooling (24 x 24 x 64, 2 x 2, stride 2) and a 'same' variant with 17 channels.</summary>
    [Theory]
    [InlineData(24, 64, 2, false)]
    [InlineData(24, 17, 3, true)]
    public void Larger_shapes_match_the_reference(int size, int channels, int pool, bool same)
    {
        Type shape = ShapeType(size, size, channels, pool, pool, pool, same);
        Invoke(nameof(CheckMax), shape);
        Invoke(nameof(CheckAverage), shape);
    }

    /// <summary>
    /// Ties, by hand: window 0 is all equal (the gradient goes to its top-left cell); window 1 holds its max 3 at
    /// (0, 2), (1, 2) and (1, 3) (it goes to (0, 2), the first in row-major order). C = 17 runs each channel through
    /// the vector path and the last through the scalar path on every SIMD width.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    public void Max_gradient_ties_go_to_the_first_cell_in_row_major_order(int channels)
    {
        float[] pattern = [1, 1, 3, 2, 1, 1, 3, 3]; // 2 x 4, row-major
        float[] dyPattern = [5, 7];
        float[] expectedDx = [5, 0, 7, 0, 0, 0, 0, 0];
        Type shape = ShapeType(2, 4, channels, 2, 2, 2, false);
        var (y, dx) = ((float[], float[]))Invoke(nameof(RunMaxOnce), shape, Expand(pattern, channels), Expand(dyPattern, channels))!;
        Assert.Equal(Expand([1, 3], channels), y);
        Assert.Equal(Expand(expectedDx, channels), dx);
    }

    /// <summary>
    /// 3 x 3 input, 3 x 3 pool, stride 1, 'same' (one padding cell on each side). With every input negative, a counted
    /// padding zero would win the border windows; it must not, and it must never receive gradient. With every input 1,
    /// averages must be exactly 1 (padding not counted: a corner window averages its 4 inside cells).
    /// </summary>
    [Fact]
    public void Padding_never_wins_a_max_and_is_not_counted_in_an_average()
    {
        Type shape = ShapeType(3, 3, 1, 3, 3, 1, true);
        float[] x = [-5, -4, -3, -6, -9, -2, -8, -7, -1];
        float[] dy = [1, 1, 1, 1, 1, 1, 1, 1, 1];

        // Max of the inside cells of each window (corner windows see 2 x 2 cells, edge windows 2 x 3 or 3 x 2); each
        // window's gradient goes to its argmax: (0, 1) wins 2 windows, (1, 2) 2, (1, 0) 1 and (2, 2) 4.
        float[] expectedY = [-4, -2, -2, -4, -1, -1, -6, -1, -1];
        float[] expectedDx = [0, 2, 0, 1, 0, 2, 0, 0, 4];
        var (y, dx) = ((float[], float[]))Invoke(nameof(RunMaxOnce), shape, x, dy)!;
        Assert.Equal(expectedY, y);
        Assert.Equal(expectedDx, dx);

        float[] ones = Enumerable.Repeat(1f, 9).ToArray();
        var (avg, avgDx) = ((float[], float[]))Invoke(nameof(RunAverageOnce), shape, ones, dy)!;
        Assert.All(avg, v => Assert.Equal(1f, v));

        // A cell's gradient is the sum, over the windows containing it, of 1 / (inside cells of the window): corner
        // windows have 4, edge windows 6, the centre window 9. A corner cell lies in 1 corner, 2 edge and the centre
        // window; an edge cell in 2 corner, 3 edge and the centre window; the centre cell in all 9.
        double corner = 1.0 / 4 + 2.0 / 6 + 1.0 / 9, edge = 2.0 / 4 + 3.0 / 6 + 1.0 / 9, centre = 4.0 / 4 + 4.0 / 6 + 1.0 / 9;
        double[] expectedAvgDx = [corner, edge, corner, edge, centre, edge, corner, edge, corner];
        for (int i = 0; i < 9; i++)
        {
            if (!(Math.Abs(avgDx[i] - expectedAvgDx[i]) <= 1e-6))
            {
                Assert.Fail($"dx[{i}] = {avgDx[i]}, expected {expectedAvgDx[i]}");
            }
        }
    }

    [Fact]
    public void Kernels_allocate_nothing()
    {
        Invoke(nameof(MeasureAllocations), ShapeType(7, 8, 33, 3, 3, 2, true));
    }

    // ---------------------------------------------------------------- checks (generic over the shape)

    private static void CheckMax<TShape>() where TShape : struct, IPoolShape
    {
        foreach (int samples in new[] { 1, 3 })
        {
            var random = new Random(Hash<TShape>() + samples);
            int inSize = samples * TShape.InH * TShape.InW * TShape.C;
            int outSize = samples * TShape.OutH * TShape.OutW * TShape.C;

            // Continuous values (no ties), then values from {-1, -0.5, 0, 0.5, 1} (ties everywhere).
            float[] continuous = NetworkFactory.RandomFloats(random, inSize);
            float[] quantised = Enumerable.Range(0, inSize).Select(_ => random.Next(5) * 0.5f - 1f).ToArray();
            float[] dy = NetworkFactory.RandomFloats(random, outSize);
            foreach (float[] x in new[] { continuous, quantised })
            {
                var (refY, refDx, refMagnitude) = ReferenceMax<TShape>(x, dy, samples);
                float[]? firstY = null, firstDx = null;
                foreach (int parts in new[] { 1, 2, -2, 3, -3 })
                {
                    var (y, dx) = RunMax<TShape>(x, dy, samples, parts);
                    for (int i = 0; i < outSize; i++)
                    {
                        if (!(y[i] == refY[i]))
                        {
                            Assert.Fail($"{Describe<TShape>(samples, parts)} y[{i}] = {y[i]}, expected {refY[i]}");
                        }
                    }

                    for (int i = 0; i < inSize; i++)
                    {
                        if (!(Math.Abs(dx[i] - refDx[i]) <= 1e-6 * (1 + refMagnitude[i])))
                        {
                            Assert.Fail($"{Describe<TShape>(samples, parts)} dx[{i}] = {dx[i]}, expected {refDx[i]}");
                        }
                    }

                    firstY ??= y;
                    firstDx ??= dx;
                    Assert.Equal(firstY, y);
                    Assert.Equal(firstDx, dx);
                }

                if (x == continuous)
                {
                    CheckFiniteDifferences<TShape>(x, dy, samples, firstDx!, max: true, random);
                }
            }
        }
    }

    private static void CheckAverage<TShape>() where TShape : struct, IPoolShape
    {
        foreach (int samples in new[] { 1, 3 })
        {
            var random = new Random(Hash<TShape>() + 7 * samples);
            int inSize = samples * TShape.InH * TShape.InW * TShape.C;
            int outSize = samples * TShape.OutH * TShape.OutW * TShape.C;
            float[] x = NetworkFactory.RandomFloats(random, inSize);
            float[] dy = NetworkFactory.RandomFloats(random, outSize);
            var (refY, refDx, refMagnitude) = ReferenceAverage<TShape>(x, dy, samples);
            float[]? firstY = null, firstDx = null;
            foreach (int parts in new[] { 1, 2, -2, 3, -3 })
            {
                var (y, dx) = RunAverage<TShape>(x, dy, samples, parts);
                for (int i = 0; i < outSize; i++)
                {
                    if (!(Math.Abs(y[i] - refY[i]) <= 1e-6))
                    {
                        Assert.Fail($"{Describe<TShape>(samples, parts)} y[{i}] = {y[i]}, expected {refY[i]}");
                    }
                }

                for (int i = 0; i < inSize; i++)
                {
                    if (!(Math.Abs(dx[i] - refDx[i]) <= 1e-6 * (1 + refMagnitude[i])))
                    {
                        Assert.Fail($"{Describe<TShape>(samples, parts)} dx[{i}] = {dx[i]}, expected {refDx[i]}");
                    }
                }

                firstY ??= y;
                firstDx ??= dx;
                Assert.Equal(firstY, y);
                Assert.Equal(firstDx, dx);
            }

            CheckFiniteDifferences<TShape>(x, dy, samples, firstDx!, max: false, random);
        }
    }

    /// <summary>
    /// dx[i] against <c>(L(x + h e_i) - L(x - h e_i)) / 2h</c>, <c>L = sum(reference y * dy)</c> in double, for 24 random
    /// cells. For max, a cell is used only if no window containing it has a tie within 2h involving it (else the
    /// difference quotient straddles a kink).
    /// </summary>
    private static void CheckFiniteDifferences<TShape>(float[] x, float[] dy, int samples, float[] dx, bool max, Random random)
        where TShape : struct, IPoolShape
    {
        const double H = 1e-3;
        double[] xd = NetworkFactory.Widen(x);
        int checkedCells = 0;
        for (int trial = 0; trial < 24; trial++)
        {
            int i = random.Next(x.Length);
            if (max && NearTie<TShape>(xd, i, 2 * H))
            {
                continue;
            }

            double saved = xd[i];
            xd[i] = saved + H;
            double plus = LocalLoss<TShape>(xd, dy, i, max);
            xd[i] = saved - H;
            double minus = LocalLoss<TShape>(xd, dy, i, max);
            xd[i] = saved;
            double fd = (plus - minus) / (2 * H);
            if (!(Math.Abs(dx[i] - fd) <= 1e-5 * (1 + Math.Abs(fd))))
            {
                Assert.Fail($"{Describe<TShape>(samples, 1)} dx[{i}] = {dx[i]}, finite difference {fd}");
            }
            checkedCells++;
        }

        if (!(checkedCells >= 12))
        {
            Assert.Fail($"only {checkedCells} cells were far enough from ties");
        }
    }

    // ---------------------------------------------------------------- double-precision references

    /// <summary>Calls <paramref name="visit"/>(n, oh, ow, list of (h, w) inside cells in row-major order) for every window.</summary>
    private static void ForEachWindow<TShape>(int samples, Action<int, int, int, List<(int H, int W)>> visit) where TShape : struct, IPoolShape
    {
        var cells = new List<(int, int)>();
        for (int n = 0; n < samples; n++)
        {
            for (int oh = 0; oh < TShape.OutH; oh++)
            {
                for (int ow = 0; ow < TShape.OutW; ow++)
                {
                    cells.Clear();
                    for (int kh = 0; kh < TShape.PoolH; kh++)
                    {
                        for (int kw = 0; kw < TShape.PoolW; kw++)
                        {
                            int h = oh * TShape.StrideH - TShape.PadTop + kh;
                            int w = ow * TShape.StrideW - TShape.PadLeft + kw;
                            if (h >= 0 && h < TShape.InH && w >= 0 && w < TShape.InW)
                            {
                                cells.Add((h, w));
                            }
                        }
                    }

                    visit(n, oh, ow, cells);
                }
            }
        }
    }

    private static int In<TShape>(int n, int h, int w, int c) where TShape : struct, IPoolShape
        => ((n * TShape.InH + h) * TShape.InW + w) * TShape.C + c;

    private static int Out<TShape>(int n, int oh, int ow, int c) where TShape : struct, IPoolShape
        => ((n * TShape.OutH + oh) * TShape.OutW + ow) * TShape.C + c;

    private static (double[] Y, double[] Dx, double[] Magnitude) ReferenceMax<TShape>(float[] x, float[] dy, int samples)
        where TShape : struct, IPoolShape
    {
        var y = new double[dy.Length];
        var dx = new double[x.Length];
        var magnitude = new double[x.Length];
        ForEachWindow<TShape>(samples, (n, oh, ow, cells) =>
        {
            for (int c = 0; c < TShape.C; c++)
            {
                double best = double.NegativeInfinity;
                foreach (var (h, w) in cells)
                {
                    best = Math.Max(best, x[In<TShape>(n, h, w, c)]);
                }

                int o = Out<TShape>(n, oh, ow, c);
                y[o] = best;
                foreach (var (h, w) in cells)
                {
                    int i = In<TShape>(n, h, w, c);
                    if (x[i] == best)
                    {
                        dx[i] += dy[o];
                        magnitude[i] += Math.Abs(dy[o]);
                        break;
                    }
                }
            }
        });
        return (y, dx, magnitude);
    }

    private static (double[] Y, double[] Dx, double[] Magnitude) ReferenceAverage<TShape>(float[] x, float[] dy, int samples)
        where TShape : struct, IPoolShape
    {
        var y = new double[dy.Length];
        var dx = new double[x.Length];
        var magnitude = new double[x.Length];
        ForEachWindow<TShape>(samples, (n, oh, ow, cells) =>
        {
            for (int c = 0; c < TShape.C; c++)
            {
                int o = Out<TShape>(n, oh, ow, c);
                double sum = 0;
                foreach (var (h, w) in cells)
                {
                    sum += x[In<TShape>(n, h, w, c)];
                }

                y[o] = sum / cells.Count;
                foreach (var (h, w) in cells)
                {
                    int i = In<TShape>(n, h, w, c);
                    dx[i] += dy[o] / cells.Count;
                    magnitude[i] += Math.Abs(dy[o]);
                }
            }
        });
        return (y, dx, magnitude);
    }

    /// <summary>
    /// The terms of <c>L = sum(reference y * dy)</c> that depend on cell <paramref name="i"/> (the windows containing it,
    /// in its channel): enough for a finite difference with respect to that cell.
    /// </summary>
    private static double LocalLoss<TShape>(double[] x, float[] dy, int i, bool max) where TShape : struct, IPoolShape
    {
        var (n0, h0, w0, c) = Decode<TShape>(i);
        double loss = 0;
        ForEachWindowOf<TShape>(n0, (oh, ow, cells) =>
        {
            if (!cells.Contains((h0, w0)))
            {
                return;
            }

            double acc = max ? double.NegativeInfinity : 0;
            foreach (var (h, w) in cells)
            {
                double v = x[In<TShape>(n0, h, w, c)];
                acc = max ? Math.Max(acc, v) : acc + v;
            }

            loss += (max ? acc : acc / cells.Count) * dy[Out<TShape>(n0, oh, ow, c)];
        });
        return loss;
    }

    private static (int N, int H, int W, int C) Decode<TShape>(int i) where TShape : struct, IPoolShape
    {
        int c = i % TShape.C;
        int pixel = i / TShape.C;
        return (pixel / (TShape.InW * TShape.InH), pixel / TShape.InW % TShape.InH, pixel % TShape.InW, c);
    }

    private static void ForEachWindowOf<TShape>(int n, Action<int, int, List<(int H, int W)>> visit) where TShape : struct, IPoolShape
        => ForEachWindow<TShape>(n + 1, (sample, oh, ow, cells) =>
        {
            if (sample == n)
            {
                visit(oh, ow, cells);
            }
        });

    /// <summary>Whether a window containing cell <paramref name="i"/> has another cell within <paramref name="margin"/> of it while one of the two is the window max.</summary>
    private static bool NearTie<TShape>(double[] x, int i, double margin) where TShape : struct, IPoolShape
    {
        var (n0, h0, w0, c) = Decode<TShape>(i);
        bool near = false;
        ForEachWindowOf<TShape>(n0, (oh, ow, cells) =>
        {
            if (!cells.Contains((h0, w0)))
            {
                return;
            }

            double best = cells.Max(cell => x[In<TShape>(n0, cell.H, cell.W, c)]);
            double mine = x[i];
            foreach (var (h, w) in cells)
            {
                int j = In<TShape>(n0, h, w, c);
                bool involvesMax = mine == best || x[j] == best;
                if (j != i && involvesMax && Math.Abs(x[j] - mine) <= margin)
                {
                    near = true;
                }
            }
        });
        return near;
    }

    // ---------------------------------------------------------------- running the kernels

    /// <summary>Runs the parts one after the other, in increasing order or, for negative <paramref name="parts"/>, in decreasing order.</summary>
    private static (float[] Y, float[] Dx) RunMax<TShape>(float[] x, float[] dy, int samples, int parts) where TShape : struct, IPoolShape
    {
        using var buffers = new Buffers<TShape>(samples, x, dy);
        foreach (var (part, count) in Order(parts))
        {
            Pooling.MaxForward<TShape>(buffers.Arena, buffers.X, buffers.Y, samples, part, count);
        }

        foreach (var (part, count) in Order(parts))
        {
            Pooling.MaxBackward<TShape>(buffers.Arena, buffers.X, buffers.Y, buffers.Dy, buffers.Dx, samples, part, count);
        }

        return buffers.Results();
    }

    private static (float[] Y, float[] Dx) RunAverage<TShape>(float[] x, float[] dy, int samples, int parts) where TShape : struct, IPoolShape
    {
        using var buffers = new Buffers<TShape>(samples, x, dy);
        foreach (var (part, count) in Order(parts))
        {
            Pooling.AvgForward<TShape>(buffers.Arena, buffers.X, buffers.Y, samples, part, count);
        }

        foreach (var (part, count) in Order(parts))
        {
            Pooling.AvgBackward<TShape>(buffers.Arena, buffers.Dy, buffers.Dx, samples, part, count);
        }

        return buffers.Results();
    }

    private static IEnumerable<(int Part, int Parts)> Order(int parts) =>
        parts > 0 ? Enumerable.Range(0, parts).Select(p => (p, parts)) : Enumerable.Range(0, -parts).Reverse().Select(p => (p, -parts));

    private static (float[] Y, float[] Dx) RunMaxOnce<TShape>(float[] x, float[] dy) where TShape : struct, IPoolShape
        => RunMax<TShape>(x, dy, 1, 1);

    private static (float[] Y, float[] Dx) RunAverageOnce<TShape>(float[] x, float[] dy) where TShape : struct, IPoolShape
        => RunAverage<TShape>(x, dy, 1, 1);

    private static void MeasureAllocations<TShape>() where TShape : struct, IPoolShape
    {
        const int Samples = 3;
        var random = new Random(3);
        using var buffers = new Buffers<TShape>(Samples,
            NetworkFactory.RandomFloats(random, Samples * TShape.InH * TShape.InW * TShape.C),
            NetworkFactory.RandomFloats(random, Samples * TShape.OutH * TShape.OutW * TShape.C));
        void Work()
        {
            for (int part = 0; part < 2; part++)
            {
                Pooling.MaxForward<TShape>(buffers.Arena, buffers.X, buffers.Y, Samples, part, 2);
                Pooling.MaxBackward<TShape>(buffers.Arena, buffers.X, buffers.Y, buffers.Dy, buffers.Dx, Samples, part, 2);
                Pooling.AvgForward<TShape>(buffers.Arena, buffers.X, buffers.Y, Samples, part, 2);
                Pooling.AvgBackward<TShape>(buffers.Arena, buffers.Dy, buffers.Dx, Samples, part, 2);
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

    /// <summary>x, y, dy, dx in one arena, with sentinels in y, dx and the slack after each, checked by <see cref="Results"/>.</summary>
    private sealed class Buffers<TShape> : IDisposable where TShape : struct, IPoolShape
    {
        private readonly int _inSize, _outSize;

        public Buffers(int samples, float[] x, float[] dy)
        {
            _inSize = samples * TShape.InH * TShape.InW * TShape.C;
            _outSize = samples * TShape.OutH * TShape.OutW * TShape.C;
            X = 0;
            Y = Arena.Padded(_inSize);
            Dy = Y + Arena.Padded(_outSize);
            Dx = Dy + Arena.Padded(_outSize);
            Arena = new Arena(Dx + Arena.Padded(_inSize));
            Arena.GetSpan(0, (int)Arena.Length).Fill(Sentinel);
            x.CopyTo(Arena.GetSpan(X, _inSize));
            dy.CopyTo(Arena.GetSpan(Dy, _outSize));
        }

        public Arena Arena { get; }
        public long X { get; }
        public long Y { get; }
        public long Dy { get; }
        public long Dx { get; }

        public (float[] Y, float[] Dx) Results()
        {
            AssertSentinels(Y + _outSize, Dy);
            AssertSentinels(Dx + _inSize, Arena.Length);
            return (Arena.GetSpan(Y, _outSize).ToArray(), Arena.GetSpan(Dx, _inSize).ToArray());
        }

        public void Dispose() => Arena.Dispose();

        private void AssertSentinels(long from, long to)
        {
            ReadOnlySpan<float> slack = Arena.GetSpan(from, (int)(to - from));
            for (int i = 0; i < slack.Length; i++)
            {
                if (!(slack[i] == Sentinel))
                {
                    Assert.Fail($"wrote {slack[i]} {i} floats past the end of a buffer");
                }
            }
        }
    }

    // ---------------------------------------------------------------- plumbing

    private static Type ShapeType(int inH, int inW, int channels, int poolH, int poolW, int stride, bool same) =>
        typeof(PoolShape<,,,,,,>).MakeGenericType(Ints[inH], Ints[inW], Ints[channels], Ints[poolH], Ints[poolW], Ints[stride],
            same ? typeof(PoolSame) : typeof(PoolValid));

    private static object? Invoke(string method, Type shape, params object[] arguments) =>
        typeof(PoolingTests).GetMethod(method, BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(shape)
            .Invoke(null, BindingFlags.DoNotWrapExceptions, null, arguments, null);

    private static float[] Expand(float[] perPixel, int channels) =>
        perPixel.SelectMany(v => Enumerable.Repeat(v, channels)).ToArray();

    private static int Hash<TShape>() where TShape : struct, IPoolShape =>
        HashCode.Combine(TShape.InH, TShape.InW, TShape.C, TShape.PoolH, TShape.PoolW, TShape.StrideH, TShape.OutH) & 0xFFFF;

    private static string Describe<TShape>(int samples, int parts) where TShape : struct, IPoolShape =>
        $"in {TShape.InH}x{TShape.InW}x{TShape.C}, pool {TShape.PoolH}x{TShape.PoolW}, stride {TShape.StrideH}, pad ({TShape.PadTop},{TShape.PadLeft}), " +
        $"out {TShape.OutH}x{TShape.OutW}, {samples} samples, {parts} parts:";
}

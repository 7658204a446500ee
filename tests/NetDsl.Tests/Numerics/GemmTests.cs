using NetDsl.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Numerics;

public enum EpilogueKind
{
    None,
    BiasReLU,
    Tanh,
    SigmoidGradient,
}

/// <summary>
/// <see cref="Gemm.Run{TShape, TEpi}"/> against a naive triple loop in double, over ragged shapes (N below, at and
/// above one and two vectors; M below, at and above the 8-row tile), both A layouts, every epilogue family and row
/// sub-ranges, with sentinels around the output to catch stray writes.
/// </summary>
/// <remarks>
/// Tolerance: the float result of a P-term dot product, in any summation order, with or without FMA, is within
/// gamma_{P+1} * Σ|a_k b_k| (+|bias|) of the exact value, gamma_n = n eps / (1 - n eps), eps = 2^-24. The
/// epilogues are 1-Lipschitz (ReLU, tanh) or scale by y(1 - y) &lt;= 1/4, and their own evaluation (vectorised exp,
/// the 2/(1 + e^-2x) - 1 form of tanh) adds a few ulps of an O(1) value, covered by an absolute 1e-6.
/// </remarks>
public class GemmTests(ITestOutputHelper output)
{
    private const float Sentinel = -12345.678f;
    private static readonly int[] Ms = [1, 7, 8, 9, 64, 70];
    private static readonly int[] Ns = [1, 3, 15, 16, 17, 31, 32, 33, 100];
    private static readonly int[] Ps = [1, 2, 5, 64];

    public static TheoryData<EpilogueKind, bool> Variants()
    {
        var data = new TheoryData<EpilogueKind, bool>();
        foreach (var e in Enum.GetValues<EpilogueKind>())
        {
            data.Add(e, false);
            data.Add(e, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Matches_naive_product_for_every_shape_and_row_range(EpilogueKind epilogue, bool transposedA)
    {
        var (cases, worst) = RunAll(Ms, Ns, Ps, epilogue, transposedA);
        output.WriteLine($"{epilogue}, transposed A {transposedA}: {cases} cases, worst error / tolerance = {worst:F4}");
    }

    /// <summary>
    /// Long reductions (the first layer of an MNIST MLP has P = 784; weight gradients have P = batch size): P just
    /// below, at and above 256 and well past it, in case the kernel splits the reduction into blocks (partial sums
    /// kept in C, the epilogue applied once at the end).
    /// </summary>
    [Theory]
    [MemberData(nameof(Variants))]
    public void Matches_naive_product_for_long_reductions(EpilogueKind epilogue, bool transposedA)
    {
        var (cases, worst) = RunAll([1, 9, 70], [15, 16, 33, 100], [255, 256, 257, 600], epilogue, transposedA);
        output.WriteLine($"{epilogue}, transposed A {transposedA}: {cases} cases, worst error / tolerance = {worst:F4}");
    }

    private static (int Cases, double Worst) RunAll(int[] ms, int[] ns, int[] ps, EpilogueKind epilogue, bool transposedA)
    {
        int cases = 0;
        double worst = 0;
        foreach (int m in ms)
        {
            foreach (int n in ns)
            {
                foreach (int p in ps)
                {
                    foreach (var (start, end) in new[] { (0, m), (m / 3, m - m / 5), (m / 2, m / 2) })
                    {
                        worst = Math.Max(worst, RunCase(m, n, p, transposedA, epilogue, start, end, seed: cases));
                        cases++;
                    }
                }
            }
        }

        return (cases, worst);
    }

    [Fact]
    public void Run_with_an_empty_or_inverted_range_writes_nothing()
    {
        using var arena = new Arena(4096);
        arena.GetSpan(0, 4096).Fill(Sentinel);
        arena.GetSpan(0, 64).Fill(1f);
        Gemm.Run<Shape<C17, C8, C1>, Epilogue.None>(arena, 0, 0, 1024, 5, 5, 8);
        Gemm.Run<Shape<C17, C8, C1>, Epilogue.None>(arena, 0, 0, 1024, 6, 2, 8);
        Assert.All(arena.GetSpan(1024, 3072).ToArray(), v => Assert.Equal(Sentinel, v));
    }

    /// <summary>
    /// The ragged last vector of a row must not clobber the next row when two threads own adjacent rows: single-row
    /// calls in descending order (each row written after the one below it) give bit-identical results to the same
    /// single-row calls in ascending order (a clobbered row would be repaired only in the ascending order), and both
    /// agree with one call over all rows up to rounding (that call uses the 8-row tiles, which sum in another order).
    /// </summary>
    [Fact]
    public void Adjacent_row_ranges_compose_in_any_order()
    {
        const int M = 9, N = 17, P = 5;
        var random = new Random(3);
        using var arena = new Arena(8192);
        long a = 0, b = 1024, whole = 2048, ascending = 4096, descending = 6144;
        Write(arena, a, NetworkFactory.RandomFloats(random, M * P));
        Write(arena, b, NetworkFactory.RandomFloats(random, P * N));
        Gemm.Run<Shape<C17, C5, C1>, Epilogue.None>(arena, a, b, whole, 0, M, P);
        for (int row = 0; row < M; row++)
        {
            Gemm.Run<Shape<C17, C5, C1>, Epilogue.None>(arena, a, b, ascending, row, row + 1, P);
        }

        for (int row = M - 1; row >= 0; row--)
        {
            Gemm.Run<Shape<C17, C5, C1>, Epilogue.None>(arena, a, b, descending, row, row + 1, P);
        }

        Assert.Equal(arena.GetSpan(ascending, M * N).ToArray(), arena.GetSpan(descending, M * N).ToArray());
        float[] expected = arena.GetSpan(whole, M * N).ToArray();
        float[] actual = arena.GetSpan(descending, M * N).ToArray();
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f, $"C[{i / N},{i % N}]: {actual[i]} vs {expected[i]}");
        }
    }

    private static double RunCase(int m, int n, int p, bool transposedA, EpilogueKind epilogue, int rowStart, int rowEnd, int seed)
    {
        var random = new Random(seed * 7919 + (int)epilogue);
        long a = 0;
        long b = a + Arena.Padded((long)m * p);
        long c = b + Arena.Padded((long)p * n);
        long bias = c + Arena.Padded((long)m * n) + Arena.AlignmentFloats; // an extra guard vector after C
        long aux = bias + Arena.Padded(n);
        long length = aux + Arena.Padded((long)m * n);
        using var arena = new Arena(length);

        float[] av = NetworkFactory.RandomFloats(random, m * p);
        float[] bv = NetworkFactory.RandomFloats(random, p * n);
        float[] biasv = NetworkFactory.RandomFloats(random, n, 0.5f);
        float[] auxv = new float[m * n];
        for (int i = 0; i < auxv.Length; i++)
        {
            auxv[i] = (float)(0.01 + 0.98 * random.NextDouble()); // a sigmoid output in (0, 1)
        }

        Write(arena, a, av);
        Write(arena, b, bv);
        Write(arena, bias, biasv);
        Write(arena, aux, auxv);
        arena.GetSpan(c, (int)(bias - c)).Fill(Sentinel); // C, its slack and the guard vector

        ShapeDispatch.With(n, transposedA ? 1 : p, transposedA ? m : 1,
            new GemmAction(arena, epilogue, a, b, c, bias, aux, rowStart, rowEnd, p));

        double worst = 0;
        ReadOnlySpan<float> result = arena.GetSpan(c, (int)(bias - c));
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float actual = result[i * n + j];
                if (i < rowStart || i >= rowEnd)
                {
                    Assert.True(actual == Sentinel, $"M={m} N={n} P={p} T={transposedA} {epilogue} rows [{rowStart},{rowEnd}): C[{i},{j}] outside the range was written ({actual}).");
                    continue;
                }

                double acc = 0, magnitude = 0;
                for (int k = 0; k < p; k++)
                {
                    double x = transposedA ? av[k * m + i] : av[i * p + k];
                    double y = bv[k * n + j];
                    acc += x * y;
                    magnitude += Math.Abs(x * y);
                }

                double expected;
                switch (epilogue)
                {
                    case EpilogueKind.None:
                        expected = acc;
                        break;
                    case EpilogueKind.BiasReLU:
                        expected = Math.Max(acc + biasv[j], 0);
                        magnitude += Math.Abs(biasv[j]);
                        break;
                    case EpilogueKind.Tanh:
                        expected = Math.Tanh(acc);
                        break;
                    default:
                        double yv = auxv[i * n + j];
                        expected = acc * yv * (1 - yv);
                        break;
                }

                double eps = Math.Pow(2, -24);
                double gamma = (p + 1) * eps / (1 - (p + 1) * eps);
                double tolerance = gamma * magnitude + 1e-6;
                double error = Math.Abs(actual - expected);
                worst = Math.Max(worst, error / tolerance);
                Assert.True(error <= tolerance,
                    $"M={m} N={n} P={p} T={transposedA} {epilogue} rows [{rowStart},{rowEnd}): C[{i},{j}] = {actual:R}, expected {expected:R} (tolerance {tolerance:E2})");
            }
        }

        for (int k = m * n; k < result.Length; k++)
        {
            Assert.True(result[k] == Sentinel, $"M={m} N={n} P={p} T={transposedA} {epilogue}: wrote {result[k]} {k - m * n} floats past the end of C.");
        }

        return worst;
    }

    private static void Write(Arena arena, long offset, float[] values) => values.CopyTo(arena.GetSpan(offset, values.Length));

    private sealed class GemmAction(Arena arena, EpilogueKind epilogue, long a, long b, long c, long bias, long aux, int rowStart, int rowEnd, int p) : IShapeAction
    {
        public void Run<TShape>() where TShape : struct, IGemmShape
        {
            switch (epilogue)
            {
                case EpilogueKind.None:
                    Gemm.Run<TShape, Epilogue.None>(arena, a, b, c, rowStart, rowEnd, p);
                    break;
                case EpilogueKind.BiasReLU:
                    Gemm.Run<TShape, Epilogue.BiasActivation<Act.ReLU>>(arena, a, b, c, rowStart, rowEnd, p, bias: bias);
                    break;
                case EpilogueKind.Tanh:
                    Gemm.Run<TShape, Epilogue.Activation<Act.Tanh>>(arena, a, b, c, rowStart, rowEnd, p);
                    break;
                default:
                    Gemm.Run<TShape, Epilogue.ActivationGradient<Act.Sigmoid>>(arena, a, b, c, rowStart, rowEnd, p, aux: aux);
                    break;
            }
        }
    }
}

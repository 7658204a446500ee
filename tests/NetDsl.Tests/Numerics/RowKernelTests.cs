using NetDsl.Kernels;
using Xunit;

namespace NetDsl.Tests.Numerics;

/// <summary><see cref="RowKernels"/> against double-precision loops, including ranges, in-place use and extreme logits.</summary>
public class RowKernelTests
{
    private const float Sentinel = -777.25f;

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 17)]
    [InlineData(16, 16)]
    [InlineData(33, 5)]
    [InlineData(40, 130)]
    [InlineData(130, 10)]
    public void Transpose_moves_every_element_of_the_row_range(int rows, int cols)
    {
        var random = new Random(rows * 1000 + cols);
        long src = 0, dst = Arena.Padded((long)rows * cols);
        using var arena = new Arena(dst + Arena.Padded((long)rows * cols));
        float[] values = NetworkFactory.RandomFloats(random, rows * cols);
        values.CopyTo(arena.GetSpan(src, values.Length));

        foreach (var (start, end) in new[] { (0, rows), (rows / 3, rows - rows / 4), (rows / 2, rows / 2) })
        {
            arena.GetSpan(dst, rows * cols).Fill(Sentinel);
            RowKernels.Transpose(arena, src, dst, rows, cols, start, end);
            ReadOnlySpan<float> d = arena.GetSpan(dst, rows * cols);
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < cols; c++)
                {
                    float expected = r >= start && r < end ? values[r * cols + c] : Sentinel;
                    Assert.True(d[c * rows + r] == expected, $"[{start},{end}) dst[{c},{r}] = {d[c * rows + r]}, expected {expected}");
                }
            }
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 33)]
    [InlineData(2, 16)]
    [InlineData(7, 17)]
    [InlineData(24, 130)]
    [InlineData(17, 100)]
    [InlineData(64, 10)]
    public void ColumnSums_sums_each_column_of_the_range_and_nothing_else(int rows, int cols)
    {
        var random = new Random(rows * 31 + cols);
        long src = 0, dst = Arena.Padded((long)rows * cols);
        using var arena = new Arena(dst + Arena.Padded(cols));
        float[] values = NetworkFactory.RandomFloats(random, rows * cols, 3f);
        values.CopyTo(arena.GetSpan(src, values.Length));

        var ranges = new List<(int, int)> { (0, cols), (cols / 3, cols - cols / 4), (cols / 2, cols / 2) };
        if (cols > 16)
        {
            ranges.Add((16, cols)); // an aligned split, as the generated code partitions it
            ranges.Add((0, 16));
        }

        foreach (var (start, end) in ranges)
        {
            arena.GetSpan(dst, (int)(arena.Length - dst)).Fill(Sentinel);
            RowKernels.ColumnSums(arena, src, dst, rows, cols, start, end);
            ReadOnlySpan<float> d = arena.GetSpan(dst, (int)(arena.Length - dst));
            for (int j = 0; j < d.Length; j++)
            {
                if (j < start || j >= end)
                {
                    Assert.True(d[j] == Sentinel, $"[{start},{end}) wrote column {j}");
                    continue;
                }

                double sum = 0, magnitude = 0;
                for (int r = 0; r < rows; r++)
                {
                    sum += values[r * cols + j];
                    magnitude += Math.Abs(values[r * cols + j]);
                }

                Assert.True(Math.Abs(d[j] - sum) <= rows * 6e-8 * magnitude + 1e-7, $"[{start},{end}) column {j}: {d[j]} vs {sum}");
            }
        }
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(5, 3)]
    [InlineData(9, 10)]
    [InlineData(4, 33)]
    public void Softmax_matches_double_reference_in_range_and_in_place(int rows, int cols)
    {
        var random = new Random(rows + 100 * cols);
        long x = 0, y = Arena.Padded((long)rows * cols);
        using var arena = new Arena(2 * y);
        float[] logits = NetworkFactory.RandomFloats(random, rows * cols, 8f);
        logits.CopyTo(arena.GetSpan(x, logits.Length));
        arena.GetSpan(y, rows * cols).Fill(Sentinel);

        int start = rows / 3, end = rows;
        RowKernels.Softmax(arena, x, y, cols, start, end);
        ReadOnlySpan<float> p = arena.GetSpan(y, rows * cols);
        for (int r = 0; r < rows; r++)
        {
            var expected = new double[cols];
            ReferenceMlp.SoftmaxRow(NetworkFactory.Widen(logits.AsSpan(r * cols, cols)), expected);
            for (int j = 0; j < cols; j++)
            {
                if (r < start)
                {
                    Assert.Equal(Sentinel, p[r * cols + j]);
                }
                else
                {
                    Assert.True(Math.Abs(p[r * cols + j] - expected[j]) <= 1e-6 * (expected[j] + 1e-2), $"row {r} col {j}: {p[r * cols + j]} vs {expected[j]}");
                }
            }
        }

        // In place over the whole batch.
        RowKernels.Softmax(arena, x, x, cols, 0, rows);
        Assert.Equal(arena.GetSpan(y + start * cols, (end - start) * cols).ToArray(), arena.GetSpan(x + start * cols, (end - start) * cols).ToArray());
    }

    [Fact]
    public void Softmax_handles_huge_logits_without_overflow()
    {
        float[] logits = [1000f, -1000f, 1000f, 0f, -1000f, -1000f, -1000f, 999f, 88f, 89f, 90f, 91f];
        using var arena = new Arena(128);
        logits.CopyTo(arena.GetSpan(0, logits.Length));
        RowKernels.Softmax(arena, 0, 64, 4, 0, 3);
        float[] p = arena.GetSpan(64, 12).ToArray();
        Assert.All(p, v => Assert.True(float.IsFinite(v), $"non-finite probability {v}"));
        for (int r = 0; r < 3; r++)
        {
            var expected = new double[4];
            ReferenceMlp.SoftmaxRow(NetworkFactory.Widen(logits.AsSpan(r * 4, 4)), expected);
            for (int j = 0; j < 4; j++)
            {
                Assert.Equal(expected[j], p[r * 4 + j], 6);
            }
        }
    }

    [Theory]
    [InlineData(3, 4, false)]
    [InlineData(6, 17, true)]
    [InlineData(1, 2, true)]
    public void SoftmaxBackward_is_the_softmax_jacobian_vector_product(int rows, int cols, bool inPlace)
    {
        var random = new Random(rows * 13 + cols);
        long size = Arena.Padded((long)rows * cols);
        long dy = 0, y = size, dx = inPlace ? dy : 2 * size;
        using var arena = new Arena(3 * size);
        float[] logits = NetworkFactory.RandomFloats(random, rows * cols, 3f);
        float[] upstream = NetworkFactory.RandomFloats(random, rows * cols);
        var probabilities = new float[rows * cols];
        var expected = new double[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            var s = new double[cols];
            ReferenceMlp.SoftmaxRow(NetworkFactory.Widen(logits.AsSpan(r * cols, cols)), s);
            for (int j = 0; j < cols; j++)
            {
                probabilities[r * cols + j] = (float)s[j];
            }

            // dx_j = Σ_k dy_k ∂s_k/∂z_j = Σ_k dy_k s_k (δ_kj - s_j), from the Jacobian directly.
            for (int j = 0; j < cols; j++)
            {
                double sum = 0;
                for (int k = 0; k < cols; k++)
                {
                    double sk = probabilities[r * cols + k];
                    double sj = probabilities[r * cols + j];
                    sum += upstream[r * cols + k] * sk * ((k == j ? 1 : 0) - sj);
                }

                expected[r * cols + j] = sum;
            }
        }

        upstream.CopyTo(arena.GetSpan(dy, upstream.Length));
        probabilities.CopyTo(arena.GetSpan(y, probabilities.Length));
        RowKernels.SoftmaxBackward(arena, dy, y, dx, cols, 0, rows);
        ReadOnlySpan<float> result = arena.GetSpan(dx, rows * cols);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(result[i] - expected[i]) <= 1e-6, $"dx[{i}] = {result[i]}, expected {expected[i]}");
        }
    }

    [Theory]
    [InlineData(1, 2, 1f)]
    [InlineData(5, 10, 0.2f)]
    [InlineData(17, 3, 1f / 17)]
    [InlineData(9, 33, 0.5f)]
    public void SoftmaxCrossEntropy_matches_double_loss_and_gradient(int rows, int cols, float scale)
    {
        var random = new Random(rows * 7 + cols);
        long size = Arena.Padded((long)rows * cols);
        using var arena = new Arena(3 * size);
        float[] logits = NetworkFactory.RandomFloats(random, rows * cols, 6f);
        int[] labels = NetworkFactory.RandomLabels(random, rows, cols);
        logits.CopyTo(arena.GetSpan(0, logits.Length));
        arena.GetSpan(size, (int)(2 * size)).Fill(Sentinel);

        int start = rows / 2;
        float loss = Losses.ComputeSparse<OutputAct.Softmax>(arena, 0, size, 2 * size, labels, cols, start, rows, scale);

        double expectedLoss = 0;
        ReadOnlySpan<float> p = arena.GetSpan(size, rows * cols);
        ReadOnlySpan<float> g = arena.GetSpan(2 * size, rows * cols);
        for (int r = 0; r < rows; r++)
        {
            var s = new double[cols];
            double[] z = NetworkFactory.Widen(logits.AsSpan(r * cols, cols));
            ReferenceMlp.SoftmaxRow(z, s);
            for (int j = 0; j < cols; j++)
            {
                int at = r * cols + j;
                if (r < start)
                {
                    Assert.Equal(Sentinel, p[at]);
                    Assert.Equal(Sentinel, g[at]);
                    continue;
                }

                double expectedGradient = (s[j] - (j == labels[r] ? 1 : 0)) * scale;
                Assert.True(Math.Abs(p[at] - s[j]) <= 1e-6, $"p[{r},{j}] = {p[at]} vs {s[j]}");
                Assert.True(Math.Abs(g[at] - expectedGradient) <= 1e-6, $"g[{r},{j}] = {g[at]} vs {expectedGradient}");
            }

            if (r >= start)
            {
                expectedLoss += ReferenceMlp.LossFromLogits(z, [labels[r]], 1, cols);
            }
        }

        Assert.True(Math.Abs(loss - expectedLoss) <= 1e-5 * (1 + expectedLoss), $"loss sum {loss} vs {expectedLoss}");
    }

    [Fact]
    public void SoftmaxCrossEntropy_is_finite_for_huge_logits()
    {
        // Row 0: the label's logit is -1000 against 1000 (loss 2000); row 1: the label wins by 2000 (loss ~0);
        // row 2: a tie of two huge logits (loss log 2).
        float[] logits = [1000f, -1000f, 0f, -1000f, 1000f, -1000f, 1000f, 1000f, -1000f];
        int[] labels = [1, 1, 0];
        using var arena = new Arena(256);
        logits.CopyTo(arena.GetSpan(0, logits.Length));
        float loss = Losses.ComputeSparse<OutputAct.Softmax>(arena, 0, 64, 128, labels, 3, 0, 3, 1f);
        Assert.True(float.IsFinite(loss));
        Assert.Equal(2000 + Math.Log(2), loss, 2);
        float[] g = arena.GetSpan(128, 9).ToArray();
        Assert.All(g, v => Assert.True(float.IsFinite(v)));
        Assert.Equal([1f, -1f, 0f, 0f, 0f, 0f, -0.5f, 0.5f, 0f], g);
    }
}

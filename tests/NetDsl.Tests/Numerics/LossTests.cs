using NetDsl.Kernels;
using Xunit;

namespace NetDsl.Tests.Numerics;

/// <summary>
/// <see cref="Losses"/> against <see cref="LossReference"/> (double precision, itself checked by central differences in
/// <see cref="LossReferenceTests"/>) for every (loss, output activation) pair, on odd widths so the vector tails run, and
/// on full, partial, single-row and empty row ranges.
/// </summary>
/// <remarks>
/// Tolerances. float32 rounds with unit u = 2^-24 ≈ 6e-8. A per-sample loss is a float sum of at most K = 33 element
/// terms, each a handful of roundings plus one vectorised exp or log (a few ulps), evaluated at a float output y that
/// differs from the reference's by a few u relative; its error is below about (K + 10) u times the magnitude of what
/// it sums, bounded by <c>S = |L| + mean_j(|z_j| + |y_j| + |t_j|)</c> (a sum over j for the categorical
/// cross-entropy). The rows' sum adds one rounding per row. 1e-5 S (about 170 u) leaves a margin of 3-4x over
/// (33 + 10) u, while a wrong formula, index, epsilon, clip, reduction or target mapping errs by 1e-3 or more (errors
/// far below the tolerance, such as log(1 + e^-|z|) without log1p, have their own exact tests). Gradients are one to
/// three operations on those quantities, plus the softmax product y (g - sum(g y)) whose dot product cancels: relative
/// to the row's largest gradient, or its largest scale dL/dy after a softmax (<see cref="LossExpected.GradientMagnitude"/>),
/// the error stays below ~10 u, so 1e-5 (|g| + that) holds with a wide margin; plus, after Sigmoid and Tanh, the error
/// f'(y) inherits from y (<see cref="LossExpected.GradientSlack"/>). Outputs: sigmoid and softmax are within
/// a few u relative, tanh (2 sigmoid(2z) - 1) within ~2e-7 absolute near 0: 1e-6 |y| + 5e-7.
/// </remarks>
public class LossTests
{
    private const float Sentinel = LossBuffers.Sentinel;
    private const int Rows = 7;

    public static readonly int[] ColumnCounts = [1, 3, 5, 17, 33];

    public static TheoryData<LossName, OutputName, int> DenseCases()
    {
        var data = new TheoryData<LossName, OutputName, int>();
        foreach (var loss in LossRunner.AllLosses)
        {
            foreach (var act in LossRunner.AllOutputs)
            {
                foreach (int cols in ColumnCounts)
                {
                    data.Add(loss, act, cols);
                }
            }
        }

        return data;
    }

    public static TheoryData<OutputName, int> SparseCases()
    {
        var data = new TheoryData<OutputName, int>();
        foreach (var act in LossRunner.AllOutputs)
        {
            foreach (int cols in ColumnCounts)
            {
                data.Add(act, cols);
            }
        }

        return data;
    }

    /// <summary>The row ranges every case runs: the batch, three parts of it, the last row alone and an empty range.</summary>
    private static readonly (int Start, int End)[] Ranges = [(0, Rows), (0, 3), (3, 5), (5, Rows), (Rows - 1, Rows), (2, 2)];

    [Theory]
    [MemberData(nameof(DenseCases))]
    public void Dense_loss_outputs_and_gradient_match_the_double_reference(LossName loss, OutputName act, int cols)
    {
        var random = new Random(1000 * (int)loss + 100 * (int)act + cols);
        float[] z = LossData.Logits(random, loss, act, Rows * cols);
        float[] t = LossData.Targets(random, loss, Rows * cols);
        float scale = 1f / Rows;
        double[] tRef = loss is LossName.Hinge or LossName.SquaredHinge ? LossReference.HingeTargets(t) : NetworkFactory.Widen(t);
        var expected = LossExpected.Dense(loss, act, z, tRef, t, cols, scale);

        RunRanges($"{loss}/{act}/K={cols}", z, cols, expected,
            (arena, l, start, end) => LossRunner.Dense(loss, act, arena, l.Z, l.Y, l.G, t, cols, start, end, scale));
    }

    [Theory]
    [MemberData(nameof(SparseCases))]
    public void Sparse_loss_outputs_and_gradient_match_the_double_reference(OutputName act, int cols)
    {
        var random = new Random(77 * (int)act + cols);
        float[] z = LossData.Logits(random, LossName.CategoricalCrossEntropy, act, Rows * cols);
        int[] labels = NetworkFactory.RandomLabels(random, Rows, cols);
        float scale = 1f / Rows;
        var expected = LossExpected.Sparse(act, z, labels, cols, scale);

        RunRanges($"sparse/{act}/K={cols}", z, cols, expected,
            (arena, l, start, end) => LossRunner.Sparse(act, arena, l.Z, l.Y, l.G, labels, cols, start, end, scale));
    }

    /// <summary>
    /// Categorical cross-entropy of one-hot targets equals the sparse kernel: bit for bit from logits (Softmax, Sigmoid),
    /// within the tolerance for the probability forms (they normalise and clip in a different order, which agrees when no
    /// clip is active: outputs in (0.05, 0.95)).
    /// </summary>
    [Theory]
    [MemberData(nameof(SparseCases))]
    public void Sparse_and_one_hot_categorical_cross_entropy_agree(OutputName act, int cols)
    {
        var random = new Random(5 * (int)act + cols);
        int rows = 6;
        float[] z = LossReference.HasLogits(act)
            ? NetworkFactory.RandomFloats(random, rows * cols, 5f)
            : [.. Enumerable.Range(0, rows * cols).Select(_ => LossData.Uniform(random, 0.05, act == OutputName.Tanh ? 1.5 : 0.95))];
        int[] labels = NetworkFactory.RandomLabels(random, rows, cols);
        var oneHot = new float[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            oneHot[r * cols + labels[r]] = 1f;
        }

        var l = LossBuffers.For(rows, cols);
        using var sparse = l.Create(z);
        using var dense = l.Create(z);
        float sparseLoss = LossRunner.Sparse(act, sparse, l.Z, l.Y, l.G, labels, cols, 1, rows, 1f / rows);
        float denseLoss = LossRunner.Dense(LossName.CategoricalCrossEntropy, act, dense, l.Z, l.Y, l.G, oneHot, cols, 1, rows, 1f / rows);
        float[] sp = sparse.GetSpan(0, (int)l.Size).ToArray();
        float[] dp = dense.GetSpan(0, (int)l.Size).ToArray();
        if (LossReference.HasLogits(act))
        {
            Assert.Equal(sparseLoss, denseLoss);
            Assert.Equal(sp, dp);
            return;
        }

        // The probability forms differ by the clip of the normalised probability at 1 - eps when K = 1 (|diff| <= 1.2e-7
        // per row) and otherwise by float rounding of the same quantities.
        Assert.True(Math.Abs(sparseLoss - denseLoss) <= 1e-5 * (1 + Math.Abs(sparseLoss)), $"sparse {sparseLoss} vs one-hot {denseLoss}");
        for (int i = 0; i < sp.Length; i++)
        {
            Assert.True(Math.Abs(sp[i] - dp[i]) <= 1e-5 * (1 + Math.Abs(sp[i])), $"[{i}] sparse {sp[i]} vs one-hot {dp[i]}");
        }
    }

    /// <summary>The gradient may be written over the logits: every pair gives the same bits as with separate buffers.</summary>
    [Fact]
    public void Gradient_may_alias_the_logits()
    {
        const int cols = 17, rows = 4;
        foreach (var act in LossRunner.AllOutputs)
        {
            var random = new Random((int)act);
            int[] labels = NetworkFactory.RandomLabels(random, rows, cols);
            foreach (LossName? loss in LossRunner.AllLosses.Cast<LossName?>().Append(null))
            {
                float[] z = LossData.Logits(random, loss ?? LossName.CategoricalCrossEntropy, act, rows * cols);
                float[] t = LossData.Targets(random, loss ?? LossName.MeanSquaredError, rows * cols);
                var l = LossBuffers.For(rows, cols);
                using var separate = l.Create(z);
                using var aliased = l.Create(z);
                float expected = loss is { } d1
                    ? LossRunner.Dense(d1, act, separate, l.Z, l.Y, l.G, t, cols, 0, rows, 0.25f)
                    : LossRunner.Sparse(act, separate, l.Z, l.Y, l.G, labels, cols, 0, rows, 0.25f);
                float actual = loss is { } d2
                    ? LossRunner.Dense(d2, act, aliased, l.Z, l.Y, l.Z, t, cols, 0, rows, 0.25f)
                    : LossRunner.Sparse(act, aliased, l.Z, l.Y, l.Z, labels, cols, 0, rows, 0.25f);
                string what = $"{loss?.ToString() ?? "sparse"}/{act}";
                Assert.True(expected == actual, $"{what}: loss {actual} vs {expected}");
                Assert.True(separate.GetSpan(l.Y, rows * cols).SequenceEqual(aliased.GetSpan(l.Y, rows * cols)), $"{what}: outputs differ");
                Assert.True(separate.GetSpan(l.G, rows * cols).SequenceEqual(aliased.GetSpan(l.Z, rows * cols)), $"{what}: gradient differs");
            }
        }
    }

    /// <summary>
    /// Logits of ±1e4 (exp overflows float32 beyond 88.7): the fused cross-entropies stay finite and exact. Row 0's
    /// label has logit -1e4 against 1e4 (loss 2e4), row 1's wins by 2e4 (loss ~0), row 2 ties two huge logits (log 2).
    /// </summary>
    [Fact]
    public void Fused_cross_entropies_are_finite_and_exact_for_huge_logits()
    {
        const int rows = 3, cols = 3;
        float[] z = [1e4f, -1e4f, 0f, -1e4f, 1e4f, -1e4f, 1e4f, 1e4f, -1e4f];
        int[] labels = [1, 1, 0];
        var oneHot = new float[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            oneHot[r * cols + labels[r]] = 1f;
        }

        double[] perRow = [2e4, 0, Math.Log(2)];
        float[] softmaxGradient = [1f, -1f, 0f, 0f, 0f, 0f, -0.5f, 0.5f, 0f];
        var l = LossBuffers.For(rows, cols);
        foreach (var act in new[] { OutputName.Softmax, OutputName.Sigmoid })
        {
            foreach (bool sparse in new[] { true, false })
            {
                using var arena = l.Create(z);
                float loss = sparse
                    ? LossRunner.Sparse(act, arena, l.Z, l.Y, l.G, labels, cols, 0, rows, 1f)
                    : LossRunner.Dense(LossName.CategoricalCrossEntropy, act, arena, l.Z, l.Y, l.G, oneHot, cols, 0, rows, 1f);
                AssertFinite(arena, l, rows * cols, $"{act} {(sparse ? "sparse" : "one-hot")}");
                Assert.Equal(perRow.Sum(), loss, 2);
                Assert.Equal(softmaxGradient, arena.GetSpan(l.G, rows * cols).ToArray());
            }
        }

        // Binary: z = 1e4 with t = 0 and z = -1e4 with t = 1 cost 1e4 each; confident right answers cost ~0.
        float[] bz = [1e4f, -1e4f, 1e4f, -1e4f, 1e4f, 0f];
        float[] bt = [0f, 1f, 1f, 0f, 1f, 1f];
        double[] binaryRows = [(1e4 + 1e4 + 0) / 3, (0 + 0 + Math.Log(2)) / 3];
        var bl = LossBuffers.For(2, 3);
        foreach (var act in new[] { OutputName.Sigmoid, OutputName.Softmax })
        {
            using var arena = bl.Create(bz);
            float loss = LossRunner.Dense(LossName.BinaryCrossEntropy, act, arena, bl.Z, bl.Y, bl.G, bt, 3, 0, 2, 1f);
            AssertFinite(arena, bl, 6, $"binary {act}");
            Assert.Equal(binaryRows.Sum(), loss, 1);
            float[] expected = [1f / 3, -1f / 3, 0f, 0f, 0f, -0.5f / 3];
            float[] g = arena.GetSpan(bl.G, 6).ToArray();
            for (int i = 0; i < 6; i++)
            {
                Assert.True(Math.Abs(g[i] - expected[i]) <= 1e-7, $"binary {act}: g[{i}] = {g[i]}, expected {expected[i]}");
            }
        }
    }

    /// <summary>
    /// Confident right answers cost log(1 + e^-|z|) ≈ e^-|z|, which float32 must not round to 0 (1 + 2e-9 == 1): the
    /// kernel computes log1p, so the loss keeps its relative accuracy (an absolute 6e-8 would hide it in the tolerances).
    /// </summary>
    [Theory]
    [InlineData(OutputName.Sigmoid)]
    [InlineData(OutputName.Softmax)]
    public void Binary_cross_entropy_from_logits_keeps_tiny_losses(OutputName act)
    {
        float[] z = [20f, -20f, 30f, -18f, 25f];
        float[] t = [1f, 0f, 1f, 0f, 1f];
        double expected = z.Sum(v => Math.Log(1 + Math.Exp(-Math.Abs((double)v)))) / z.Length;
        var l = LossBuffers.For(1, z.Length);
        using var arena = l.Create(z);
        float loss = LossRunner.Dense(LossName.BinaryCrossEntropy, act, arena, l.Z, l.Y, l.G, t, z.Length, 0, 1, 1f);
        Assert.True(Math.Abs(loss - expected) <= 1e-5 * expected, $"loss {loss:R}, expected {expected:R}");
    }

    /// <summary>Keras maps hinge targets to -1/1 only when every target of the batch is 0 or 1.</summary>
    [Theory]
    [InlineData(LossName.Hinge)]
    [InlineData(LossName.SquaredHinge)]
    public void Hinge_maps_binary_targets_per_batch_like_keras(LossName loss)
    {
        const int rows = 4, cols = 5;
        var random = new Random((int)loss);
        float[] z = NetworkFactory.RandomFloats(random, rows * cols, 2f);
        float[] binary = [.. Enumerable.Range(0, rows * cols).Select(_ => (float)random.Next(2))];
        float[] mixed = (float[])binary.Clone();
        mixed[^1] = 0.5f; // one non-binary target anywhere in the batch: no mapping, 0 stays 0
        foreach (float[] t in new[] { binary, mixed })
        {
            double[] tRef = LossReference.HingeTargets(t);
            Assert.Equal(t == binary, tRef[0] != t[0] || tRef.Contains(-1));
            var expected = LossExpected.Dense(loss, OutputName.Linear, z, tRef, t, cols, 0.25f);
            // Only the first two rows are computed; the mapping still depends on the whole batch.
            RunRanges($"{loss} {(t == binary ? "binary" : "mixed")}", z, cols, expected,
                (arena, l, start, end) => LossRunner.Dense(loss, OutputName.Linear, arena, l.Z, l.Y, l.G, t, cols, start, end, 0.25f),
                [(0, 2)]);
        }
    }

    /// <summary>TensorFlow's choices at the non-differentiable points (Linear outputs unless stated, K = 1, scale 1).</summary>
    [Fact]
    public void Subgradients_at_kinks_follow_tensorflow()
    {
        const float eps = Losses.Epsilon;
        // Abs/Sign: 0 at 0.
        Assert.Equal(0f, Gradient(LossName.MeanAbsoluteError, OutputName.Linear, 0.75f, 0.75f));
        Assert.Equal(0f, Gradient(LossName.MeanAbsolutePercentageError, OutputName.Linear, 0.75f, 0.75f));
        Assert.Equal(1f, Gradient(LossName.MeanAbsoluteError, OutputName.Linear, 0.8f, 0.75f));
        // Maximum(1 - t y, 0): the first operand takes the gradient on ties.
        Assert.Equal(-1f, Gradient(LossName.Hinge, OutputName.Linear, 1f, 1f));
        Assert.Equal(1f, Gradient(LossName.Hinge, OutputName.Linear, -1f, -1f));
        Assert.Equal(0f, Gradient(LossName.Hinge, OutputName.Linear, 1.5f, 1f));
        // ReLU: 0 at 0, though dL/dy = 2 (0 - 0.5) is not.
        Assert.Equal(0f, Gradient(LossName.MeanSquaredError, OutputName.ReLU, 0f, 0.5f));
        // Maximum(y, eps) in MSLE: y = eps takes the gradient, y < eps gets none.
        double atEps = 2 * (Math.Log((double)eps + 1) - Math.Log(2.0)) / ((double)eps + 1);
        Assert.Equal(atEps, Gradient(LossName.MeanSquaredLogarithmicError, OutputName.Linear, eps, 1f), 6);
        Assert.Equal(0f, Gradient(LossName.MeanSquaredLogarithmicError, OutputName.Linear, eps * 0.5f, 1f));
        // ClipByValue(y, eps, 1 - eps) in binary cross-entropy: the bounds pass the gradient, outside gets none.
        Assert.NotEqual(0f, Gradient(LossName.BinaryCrossEntropy, OutputName.Linear, eps, 1f));
        Assert.NotEqual(0f, Gradient(LossName.BinaryCrossEntropy, OutputName.Linear, 1f - eps, 0f));
        Assert.Equal(0f, Gradient(LossName.BinaryCrossEntropy, OutputName.Linear, 1f, 0f));
        Assert.Equal(0f, Gradient(LossName.BinaryCrossEntropy, OutputName.Linear, 0f, 1f));
        // Categorical cross-entropy of probabilities [1, 0]: both normalised values are clipped, no gradient.
        var l = LossBuffers.For(1, 2);
        using var arena = l.Create([1f, 0f]);
        float loss = LossRunner.Dense(LossName.CategoricalCrossEntropy, OutputName.Linear, arena, l.Z, l.Y, l.G, [0f, 1f], 2, 0, 1, 1f);
        Assert.Equal(-Math.Log(LossReference.Eps), loss, 4);
        Assert.Equal([0f, 0f], arena.GetSpan(l.G, 2).ToArray());
    }

    /// <summary>The examples of the tf.keras 2.x documentation (batch means), with Linear outputs holding the predictions.</summary>
    [Fact]
    public void Keras_documented_examples()
    {
        float[] t01 = [0f, 1f, 0f, 0f];
        Assert.Equal(0.5, BatchLoss(LossName.MeanSquaredError, t01, [1f, 1f, 1f, 0f], 2), 6);
        Assert.Equal(0.5, BatchLoss(LossName.MeanAbsoluteError, t01, [1f, 1f, 1f, 0f], 2), 6);
        Assert.Equal(50.0, BatchLoss(LossName.MeanAbsolutePercentageError, [2f, 1f, 2f, 3f], [1f, 1f, 1f, 0f], 2), 4);
        Assert.Equal(0.24022643, BatchLoss(LossName.MeanSquaredLogarithmicError, t01, [1f, 1f, 1f, 0f], 2), 6);
        Assert.Equal(1.3, BatchLoss(LossName.Hinge, t01, [0.6f, 0.4f, 0.4f, 0.6f], 2), 6);
        Assert.Equal(1.86, BatchLoss(LossName.SquaredHinge, t01, [0.6f, 0.4f, 0.4f, 0.6f], 2), 6);
        Assert.Equal(0.815, BatchLoss(LossName.BinaryCrossEntropy, t01, [0.6f, 0.4f, 0.4f, 0.6f], 2), 3);
        Assert.Equal(1.177, BatchLoss(LossName.CategoricalCrossEntropy, [0f, 1f, 0f, 0f, 0f, 1f], [0.05f, 0.95f, 0f, 0.1f, 0.8f, 0.1f], 3), 3);

        var l = LossBuffers.For(2, 3);
        using var arena = l.Create([0.05f, 0.95f, 0f, 0.1f, 0.8f, 0.1f]);
        Assert.Equal(1.177, LossRunner.Sparse(OutputName.Linear, arena, l.Z, l.Y, l.G, [1, 2], 3, 0, 2, 0.5f) / 2, 3);
    }

    [Theory]
    [MemberData(nameof(SparseCases))]
    public void Activate_writes_the_training_outputs_and_works_in_place(OutputName act, int cols)
    {
        var random = new Random(3 * (int)act + cols);
        float[] z = NetworkFactory.RandomFloats(random, Rows * cols, 4f);
        float[] t = NetworkFactory.RandomFloats(random, Rows * cols);
        var l = LossBuffers.For(Rows, cols);
        using var training = l.Create(z);
        using var inference = l.Create(z);
        LossRunner.Dense(LossName.MeanSquaredError, act, training, l.Z, l.Y, l.G, t, cols, 0, Rows, 1f);
        LossRunner.Activate(act, inference, l.Z, l.Y, cols, 1, Rows);
        Assert.True(inference.GetSpan(l.Y, cols).ToArray().All(v => v == Sentinel), "row 0 is outside the range");
        Assert.Equal(training.GetSpan(l.Y + cols, (Rows - 1) * cols).ToArray(), inference.GetSpan(l.Y + cols, (Rows - 1) * cols).ToArray());
        LossRunner.Activate(act, inference, l.Z, l.Z, cols, 0, Rows);
        Assert.Equal(training.GetSpan(l.Y, Rows * cols).ToArray(), inference.GetSpan(l.Z, Rows * cols).ToArray());
    }

    [Fact]
    public void Arguments_are_checked_before_anything_is_read_outside_the_rows()
    {
        var l = LossBuffers.For(2, 3);
        using var arena = l.Create(new float[6]);
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.ComputeSparse<OutputAct.Softmax>(arena, l.Z, l.Y, l.G, [0, 3], 3, 0, 2, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.ComputeSparse<OutputAct.Softmax>(arena, l.Z, l.Y, l.G, [-1, 0], 3, 0, 2, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.ComputeSparse<OutputAct.Sigmoid>(arena, l.Z, l.Y, l.G, [0, 7], 3, 0, 2, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.ComputeSparse<OutputAct.Linear>(arena, l.Z, l.Y, l.G, [0, int.MinValue], 3, 0, 2, 1f));
        Assert.Throws<ArgumentException>(() => Losses.ComputeSparse<OutputAct.Softmax>(arena, l.Z, l.Y, l.G, [0], 3, 0, 2, 1f));
        Assert.Throws<ArgumentException>(() => Losses.Compute<LossFunctions.MeanSquaredError, OutputAct.Linear>(arena, l.Z, l.Y, l.G, new float[5], 3, 0, 2, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.Compute<LossFunctions.MeanSquaredError, OutputAct.Linear>(arena, l.Z, l.Y, l.G, new float[6], 0, 0, 2, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.Compute<LossFunctions.MeanSquaredError, OutputAct.Linear>(arena, l.Z, l.Y, l.G, new float[6], 3, 2, 1, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Losses.Activate<OutputAct.Softmax>(arena, l.Z, l.Y, 3, -1, 1));
        // Only the rows of the range are read: row 1's label is out of range but not used.
        using var fresh = l.Create(new float[6]);
        Assert.Equal(Math.Log(3), Losses.ComputeSparse<OutputAct.Softmax>(fresh, l.Z, l.Y, l.G, [0, 5], 3, 0, 1, 1f), 6);
        Assert.True(fresh.GetSpan(l.Y + 3, 3).ToArray().All(v => v == Sentinel) && fresh.GetSpan(l.G + 3, 3).ToArray().All(v => v == Sentinel));
    }

    /// <summary>Runs <paramref name="run"/> on each range in a fresh arena and checks everything it wrote, and nothing else.</summary>
    private static void RunRanges(string what, float[] z, int cols, LossExpected expected,
        Func<Arena, LossBuffers, int, int, float> run, (int Start, int End)[]? ranges = null)
    {
        int rows = z.Length / cols;
        var l = LossBuffers.For(rows, cols);
        float[]? full = null;
        foreach (var (start, end) in ranges ?? Ranges)
        {
            using var arena = l.Create(z);
            float loss = run(arena, l, start, end);
            string at = $"{what} rows [{start},{end})";
            float[] all = arena.GetSpan(0, (int)l.Size).ToArray();
            Assert.True(all.AsSpan((int)l.Z, z.Length).SequenceEqual(z), $"{at}: the logits changed");

            double expectedLoss = 0, tolerance = 0;
            for (int r = start; r < end; r++)
            {
                expectedLoss += expected.Loss[r];
                tolerance += 1e-5 * (Math.Abs(expected.Loss[r]) + expected.Magnitude[r]);
            }

            Assert.True(Math.Abs(loss - expectedLoss) <= tolerance + 1e-12, $"{at}: loss sum {loss:R}, expected {expectedLoss:R} (tolerance {tolerance:E2})");
            for (int r = 0; r < rows; r++)
            {
                double rowMax = expected.GradientMagnitude[r];
                for (int j = 0; j < cols; j++)
                {
                    int i = r * cols + j;
                    float y = all[l.Y + i], g = all[l.G + i];
                    if (r < start || r >= end)
                    {
                        Assert.True(y == Sentinel && g == Sentinel, $"{at}: row {r} is outside the range but was written");
                        continue;
                    }

                    double ey = expected.Outputs[i], eg = expected.Gradient[i];
                    Assert.True(Math.Abs(y - ey) <= 1e-6 * Math.Abs(ey) + 5e-7, $"{at}: y[{r},{j}] = {y:R}, expected {ey:R}");
                    Assert.True(Math.Abs(g - eg) <= 1e-5 * (Math.Abs(eg) + rowMax) + expected.GradientSlack[i] + 1e-12,
                        $"{at}: g[{r},{j}] = {g:R}, expected {eg:R} (z = {z[i]:R}, y = {y:R})");
                }
            }

            // Past the last row (the buffers' padding) nothing is written.
            Assert.True(all.AsSpan((int)(l.Y + z.Length), (int)(l.G - l.Y - z.Length)).ToArray().All(v => v == Sentinel), $"{at}: wrote past the outputs");
            Assert.True(all.AsSpan((int)(l.G + z.Length)).ToArray().All(v => v == Sentinel), $"{at}: wrote past the gradient");

            // Rows give the same bits whatever the range (a part computes exactly what the whole batch would).
            full ??= all;
            for (int r = start; r < end; r++)
            {
                Assert.True(all.AsSpan((int)l.Y + r * cols, cols).SequenceEqual(full.AsSpan((int)l.Y + r * cols, cols))
                    && all.AsSpan((int)l.G + r * cols, cols).SequenceEqual(full.AsSpan((int)l.G + r * cols, cols)), $"{at}: row {r} differs from the full-batch run");
            }
        }
    }

    private static float Gradient(LossName loss, OutputName act, float z, float t)
    {
        var l = LossBuffers.For(1, 1);
        using var arena = l.Create([z]);
        LossRunner.Dense(loss, act, arena, l.Z, l.Y, l.G, [t], 1, 0, 1, 1f);
        return arena.GetSpan(l.G, 1)[0];
    }

    private static double BatchLoss(LossName loss, float[] t, float[] y, int cols)
    {
        int rows = t.Length / cols;
        var l = LossBuffers.For(rows, cols);
        using var arena = l.Create(y);
        return LossRunner.Dense(loss, OutputName.Linear, arena, l.Z, l.Y, l.G, t, cols, 0, rows, 1f / rows) / rows;
    }

    private static void AssertFinite(Arena arena, LossBuffers l, int count, string what)
    {
        Assert.True(arena.GetSpan(l.Y, count).ToArray().All(float.IsFinite), $"{what}: non-finite output");
        Assert.True(arena.GetSpan(l.G, count).ToArray().All(float.IsFinite), $"{what}: non-finite gradient");
    }
}

/// <summary>Three padded buffers z, y, g in one arena; y, g and all padding start as the sentinel.</summary>
internal sealed record LossBuffers(long Z, long Y, long G, long Size)
{
    public const float Sentinel = -777.25f;

    public static LossBuffers For(int rows, int cols)
    {
        long size = Arena.Padded((long)rows * cols);
        return new LossBuffers(0, size, 2 * size, 3 * size);
    }

    public Arena Create(float[] z)
    {
        var arena = new Arena(Size);
        arena.GetSpan(0, (int)Size).Fill(Sentinel);
        z.CopyTo(arena.GetSpan(Z, z.Length));
        return arena;
    }
}

/// <summary>The reference per-sample losses, outputs and scaled gradients of a batch, with each row's loss magnitude.</summary>
/// <remarks>
/// <see cref="GradientMagnitude"/> is the row's largest |gradient|, or, after a softmax, its largest |scale dL/dy| if
/// larger: the Jacobian product y (g - sum(g y)) cancels to ~0 when dL/dy is nearly constant over the row, and its float
/// error is then a few u times |dL/dy|, not times the tiny result. <see cref="GradientSlack"/> is what the backward pass
/// of Sigmoid and Tanh inherits from evaluating f' at the float output (the activations' contract): |scale dL/dy| times
/// |df'/dy| times the outputs' tolerance 5e-7. Near saturation 1 - y^2 cancels (|z| = 3: y = 0.995, a relative 3e-5).
/// </remarks>
internal sealed record LossExpected(double[] Loss, double[] Magnitude, double[] Outputs, double[] Gradient, double[] GradientMagnitude, double[] GradientSlack)
{
    private static LossExpected Create(int rows, int count) =>
        new(new double[rows], new double[rows], new double[count], new double[count], new double[rows], new double[count]);

    /// <summary>Fills <see cref="GradientSlack"/> for one row from <c>dL/dy</c> (null where the loss is computed from logits).</summary>
    private void Slack(OutputName act, double[]? dy, double[] y, int offset, float scale)
    {
        for (int j = 0; dy is not null && j < dy.Length; j++)
        {
            double sensitivity = act switch { OutputName.Tanh => 2 * Math.Abs(y[j]), OutputName.Sigmoid => Math.Abs(1 - 2 * y[j]), _ => 0 };
            GradientSlack[offset + j] = Math.Abs(dy[j] * scale) * sensitivity * 5e-7;
        }
    }

    public static LossExpected Dense(LossName loss, OutputName act, float[] z, double[] t, float[] rawTargets, int cols, float scale)
    {
        int rows = z.Length / cols;
        var e = Create(rows, z.Length);
        for (int r = 0; r < rows; r++)
        {
            double[] zr = NetworkFactory.Widen(z.AsSpan(r * cols, cols));
            double[] tr = t.AsSpan(r * cols, cols).ToArray();
            double[] y = LossReference.Activate(act, zr);
            double[] g = LossReference.Gradient(loss, act, zr, tr);
            e.Loss[r] = LossReference.Loss(loss, act, zr, tr);
            double m = 0;
            for (int j = 0; j < cols; j++)
            {
                e.Outputs[r * cols + j] = y[j];
                e.Gradient[r * cols + j] = g[j] * scale;
                m += Math.Abs(zr[j]) + Math.Abs(y[j]) + Math.Abs(tr[j]) + Math.Abs(rawTargets[r * cols + j]);
            }

            e.Magnitude[r] = loss == LossName.CategoricalCrossEntropy ? m : m / cols;
            double[]? dy = LossReference.OutputGradient(loss, act, zr, tr);
            e.GradientMagnitude[r] = Math.Max(g.Max(Math.Abs), act == OutputName.Softmax && dy is not null ? dy.Max(Math.Abs) : 0) * scale;
            e.Slack(act, dy, y, r * cols, scale);
        }

        return e;
    }

    public static LossExpected Sparse(OutputName act, float[] z, int[] labels, int cols, float scale)
    {
        int rows = z.Length / cols;
        var e = Create(rows, z.Length);
        for (int r = 0; r < rows; r++)
        {
            double[] zr = NetworkFactory.Widen(z.AsSpan(r * cols, cols));
            double[] y = LossReference.Activate(act, zr);
            double[] g = LossReference.SparseGradient(act, zr, labels[r]);
            e.Loss[r] = LossReference.SparseLoss(act, zr, labels[r]);
            double m = 1;
            for (int j = 0; j < cols; j++)
            {
                e.Outputs[r * cols + j] = y[j];
                e.Gradient[r * cols + j] = g[j] * scale;
                m += Math.Abs(zr[j]) + Math.Abs(y[j]);
            }

            e.Magnitude[r] = m;
            e.GradientMagnitude[r] = g.Max(Math.Abs) * scale;
            e.Slack(act, LossReference.SparseOutputGradient(act, zr, labels[r]), y, r * cols, scale);
        }

        return e;
    }
}

/// <summary>Random test data, per loss and activation, in the ranges where each pairing means something.</summary>
public static class LossData
{
    public static float Uniform(Random random, double low, double high) => (float)(low + (high - low) * random.NextDouble());

    /// <summary>
    /// Pre-activations in [-3, 3]; for the probability forms of the cross-entropies (after Linear, ReLU, Tanh) in
    /// [0.05, 2] instead, so outputs are positive (some above 1, clipped) and y / sum(y) is a distribution; ReLU also gets
    /// negative values (outputs 0, clipped at eps).
    /// </summary>
    public static float[] Logits(Random random, LossName loss, OutputName act, int count)
    {
        bool probabilities = loss is LossName.CategoricalCrossEntropy or LossName.BinaryCrossEntropy && !LossReference.HasLogits(act);
        (double low, double high) = !probabilities ? (-3, 3) : act == OutputName.ReLU ? (-1, 2) : (0.05, 2);
        if (probabilities && act == OutputName.ReLU && loss == LossName.CategoricalCrossEntropy)
        {
            // Keep every row's sum positive (an all-zero ReLU row is NaN in Keras too: a listed compile-time error).
            low = 0.05;
        }

        return [.. Enumerable.Range(0, count).Select(_ => Uniform(random, low, high))];
    }

    public static float[] Targets(Random random, LossName loss, int count) =>
        [.. Enumerable.Range(0, count).Select(_ => loss switch
        {
            LossName.MeanAbsolutePercentageError => (random.Next(2) * 2 - 1) * Uniform(random, 0.2, 2),
            LossName.MeanSquaredLogarithmicError => Uniform(random, -0.2, 3),
            LossName.Hinge or LossName.SquaredHinge => random.Next(2) * 2 - 1f,
            LossName.CategoricalCrossEntropy => random.Next(3) == 0 ? 0f : Uniform(random, 0, 1), // soft, not normalised
            LossName.BinaryCrossEntropy => random.Next(3) switch { 0 => 0f, 1 => 1f, _ => Uniform(random, 0, 1) },
            _ => Uniform(random, -1.5, 1.5),
        })];
}

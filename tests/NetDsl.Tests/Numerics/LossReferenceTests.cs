using Xunit;

namespace NetDsl.Tests.Numerics;

/// <summary>
/// Verifies <see cref="LossReference"/> itself: every analytic gradient against central differences of the reference
/// loss, in double precision, for every (loss, activation) pair and the sparse forms, at random points (which lie away
/// from the kinks with probability 1; the kinks' subgradients are pinned in <see cref="LossTests"/>).
/// </summary>
/// <remarks>
/// Step h = 1e-5 max(1, |z|): the central difference errs by h^2 |f'''| / 6 (below 1e-9 here: the largest third
/// derivatives, of the clipped logarithms near 0.05, are ~1e4) plus rounding of about 1e-16 |f| / h (1e-10 for losses up
/// to 100, MAPE). 1e-6 relative to the row's largest gradient plus 1e-8 is a margin of 100x over that while a wrong
/// factor, sign, clip or Jacobian term errs by far more.
/// </remarks>
public class LossReferenceTests
{
    public static TheoryData<LossName, OutputName, int> Cases()
    {
        var data = new TheoryData<LossName, OutputName, int>();
        foreach (var loss in LossRunner.AllLosses)
        {
            foreach (var act in LossRunner.AllOutputs)
            {
                foreach (int cols in new[] { 1, 3, 5 })
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
            foreach (int cols in new[] { 1, 3, 5 })
            {
                data.Add(act, cols);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reference_gradient_matches_central_differences(LossName loss, OutputName act, int cols)
    {
        var random = new Random(31 * (int)loss + 7 * (int)act + cols);
        for (int sample = 0; sample < 4; sample++)
        {
            double[] z = NetworkFactory.Widen(LossData.Logits(random, loss, act, cols));
            float[] raw = LossData.Targets(random, loss, cols);
            double[] t = loss is LossName.Hinge or LossName.SquaredHinge ? LossReference.HingeTargets(raw) : NetworkFactory.Widen(raw);
            Check($"{loss}/{act}/K={cols}", z, LossReference.Gradient(loss, act, z, t), v => LossReference.Loss(loss, act, v, t));
        }
    }

    [Theory]
    [MemberData(nameof(SparseCases))]
    public void Reference_sparse_gradient_matches_central_differences(OutputName act, int cols)
    {
        var random = new Random(13 * (int)act + cols);
        for (int sample = 0; sample < 4; sample++)
        {
            double[] z = NetworkFactory.Widen(LossData.Logits(random, LossName.CategoricalCrossEntropy, act, cols));
            int label = random.Next(cols);
            Check($"sparse/{act}/K={cols}", z, LossReference.SparseGradient(act, z, label), v => LossReference.SparseLoss(act, v, label));
        }
    }

    /// <summary>The reference is not vacuous: a deliberately wrong gradient (one Jacobian term dropped) is caught.</summary>
    [Fact]
    public void Central_differences_catch_a_wrong_gradient()
    {
        double[] z = [0.3, -1.2, 2.0];
        double[] t = [0.2, 0.5, 0.3];
        double[] g = LossReference.Gradient(LossName.MeanSquaredError, OutputName.Softmax, z, t);
        g[1] += 1e-4;
        Assert.ThrowsAny<Exception>(() => Check("wrong", z, g, v => LossReference.Loss(LossName.MeanSquaredError, OutputName.Softmax, v, t)));
    }

    private static void Check(string what, double[] z, double[] analytic, Func<double[], double> loss)
    {
        Assert.True(double.IsFinite(loss(z)), $"{what}: loss is not finite");
        double rowMax = analytic.Max(Math.Abs);
        for (int j = 0; j < z.Length; j++)
        {
            double h = 1e-5 * Math.Max(1, Math.Abs(z[j]));
            double[] plus = (double[])z.Clone(), minus = (double[])z.Clone();
            plus[j] += h;
            minus[j] -= h;
            double numeric = (loss(plus) - loss(minus)) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[j]) <= 1e-6 * rowMax + 1e-8,
                $"{what}: dL/dz[{j}] = {analytic[j]:R} analytic, {numeric:R} by central differences (z = [{string.Join(", ", z)}])");
        }
    }
}

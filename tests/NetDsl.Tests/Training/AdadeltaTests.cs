using NetDsl.Optimizers;
using Xunit;

namespace NetDsl.Tests.Training;

/// <summary>
/// <see cref="Adadelta"/> against Keras 2's update rule computed here in double, per parameter:
/// <c>a = rho a + (1 - rho) g^2; u = g sqrt(d + eps) / sqrt(a + eps); w -= lr u; d = rho d + (1 - rho) u^2</c>, with
/// <c>a</c> (state slot 0) and <c>d</c> (state slot 1) starting at 0. Lengths cover the scalar-only case (1, 15), exactly
/// one 512-bit vector (16), a vector plus a scalar tail (17) and several vectors plus a tail (40). Five steps with a
/// different gradient each, so a wrong accumulator carries over and shows.
/// </summary>
/// <remarks>
/// Tolerance: each step rounds about ten float operations (two square roots and a division among them) on values of
/// order 1; after five steps the float state is within ~20 ulps of the exact one. 2e-6 relative (plus 1e-9 absolute for
/// the tiny squared-update accumulator, ~1e-6 after the first step) is about 30 ulps, orders of magnitude below the
/// effect of a wrong term (e.g. using the old instead of the new accumulator changes u by ~30%).
/// </remarks>
public class AdadeltaTests
{
    public static TheoryData<int, float, float, float> Cases()
    {
        var data = new TheoryData<int, float, float, float>();
        foreach (int length in new[] { 1, 15, 16, 17, 40 })
        {
            data.Add(length, 1.0f, 0.95f, 1e-6f);
            data.Add(length, 0.5f, 0.9f, 1e-4f);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Five_steps_match_the_Keras_update_rule(int length, float learningRate, float rho, float epsilon)
    {
        var random = new Random(length * 7 + (int)(rho * 100));
        float[] w = RandomArray(random, length, 1f);
        float[] a = new float[length];
        float[] d = new float[length];
        double[] expectedW = w.Select(x => (double)x).ToArray();
        double[] expectedA = new double[length];
        double[] expectedD = new double[length];
        var adadelta = new Adadelta(learningRate, rho, epsilon);
        Assert.Equal(2, adadelta.StateSlots);

        for (int step = 0; step < 5; step++)
        {
            // Gradients of varied magnitude (1e-3 to 1) so both square roots matter.
            float[] g = RandomArray(random, length, 1f).Select((x, i) => x * (float)Math.Pow(10, -(i % 4))).ToArray();
            adadelta.BeginStep();
            adadelta.Update(new ParameterSlice(w, g, a, d));
            for (int i = 0; i < length; i++)
            {
                double lr = learningRate, r = rho, eps = epsilon;
                expectedA[i] = r * expectedA[i] + (1 - r) * g[i] * g[i];
                double update = g[i] * Math.Sqrt(expectedD[i] + eps) / Math.Sqrt(expectedA[i] + eps);
                expectedW[i] -= lr * update;
                expectedD[i] = r * expectedD[i] + (1 - r) * update * update;
            }

            Assert.Equal(step + 1, adadelta.Iterations);
            for (int i = 0; i < length; i++)
            {
                AssertClose(w[i], expectedW[i], $"step {step} w[{i}]");
                AssertClose(a[i], expectedA[i], $"step {step} accumulated g^2 [{i}]");
                AssertClose(d[i], expectedD[i], $"step {step} accumulated update^2 [{i}]");
            }
        }
    }

    /// <summary>The first step by hand: a = 0.05 g^2, u = g sqrt(eps) / sqrt(0.05 g^2 + eps), d = 0.05 u^2.</summary>
    [Fact]
    public void First_step_by_hand()
    {
        float[] w = [1f];
        float[] a = [0f];
        float[] d = [0f];
        new Adadelta().Update(new ParameterSlice(w, [2f], a, d));
        double acc = 0.05 * 4;
        double u = 2 * Math.Sqrt(1e-6) / Math.Sqrt(acc + 1e-6);
        Assert.Equal(acc, a[0], 6);
        Assert.Equal(1 - u, w[0], 6);
        Assert.Equal(0.05 * u * u, d[0], 9);
    }

    [Fact]
    public void Defaults_and_learning_rate_changes()
    {
        var adadelta = new Adadelta();
        Assert.Equal(1.0f, adadelta.LearningRate);
        Assert.Equal(0.95f, adadelta.Rho);
        Assert.Equal(1e-6f, adadelta.Epsilon);
        Assert.Equal(0, adadelta.Iterations);
        Assert.Equal(2, adadelta.StateSlots);

        // Halving the learning rate halves the step (the state does not depend on it).
        float[] w1 = [0f], w2 = [0f];
        new Adadelta(1.0f).Update(new ParameterSlice(w1, [0.3f], new float[1], new float[1]));
        var half = new Adadelta(1.0f) { LearningRate = 0.5f };
        half.Update(new ParameterSlice(w2, [0.3f], new float[1], new float[1]));
        Assert.Equal(w1[0] / 2, w2[0], 7);
        Assert.Equal(0.5f, half.LearningRate);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-0.1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Invalid_learning_rates_are_rejected(float learningRate)
    {
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new Adadelta(learningRate)).ParamName);
        var adadelta = new Adadelta();
        Assert.Equal("value", Assert.Throws<ArgumentOutOfRangeException>(() => adadelta.LearningRate = learningRate).ParamName);
        Assert.Equal(1.0f, adadelta.LearningRate);
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1f)]
    [InlineData(float.NaN)]
    public void Invalid_rho_is_rejected(float rho) =>
        Assert.Equal("rho", Assert.Throws<ArgumentOutOfRangeException>(() => new Adadelta(1f, rho)).ParamName);

    [Theory]
    [InlineData(0f)]
    [InlineData(-1e-6f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Invalid_epsilon_is_rejected(float epsilon) =>
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new Adadelta(1f, 0.95f, epsilon)).ParamName);

    /// <summary>Without both state slots the update is refused before anything is written (only <c>default</c> spans, see SgdTests).</summary>
    [Theory]
    [InlineData(3, false, false)]
    [InlineData(16, true, false)]
    [InlineData(40, false, true)]
    public void Update_without_both_state_slots_is_rejected(int length, bool withState0, bool withState1)
    {
        float[] w = new float[length];
        float[] g = Enumerable.Repeat(1f, length).ToArray();
        float[] s0 = new float[length], s1 = new float[length];
        var e = Record.Exception(() => new Adadelta().Update(new ParameterSlice(w, g, withState0 ? s0 : default, withState1 ? s1 : default)));
        Assert.IsAssignableFrom<ArgumentException>(e);
        Assert.All(w, v => Assert.Equal(0f, v));
        Assert.All(s0, v => Assert.Equal(0f, v));
        Assert.All(s1, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Update_allocates_nothing()
    {
        var adadelta = new Adadelta();
        float[] w = new float[100], g = Enumerable.Repeat(0.1f, 100).ToArray(), a = new float[100], d = new float[100];
        adadelta.Update(new ParameterSlice(w, g, a, d));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            adadelta.BeginStep();
            adadelta.Update(new ParameterSlice(w, g, a, d));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static void AssertClose(float actual, double expected, string what)
    {
        if (!(Math.Abs(actual - expected) <= 2e-6 * Math.Abs(expected) + 1e-9))
        {
            Assert.Fail($"{what} = {actual:R}, expected {expected:R}");
        }
    }

    private static float[] RandomArray(Random random, int length, float scale) =>
        Enumerable.Range(0, length).Select(_ => (float)((2 * random.NextDouble() - 1) * scale)).ToArray();
}

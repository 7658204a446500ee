using NetDsl.Optimizers;
using Xunit;

namespace NetDsl.Tests.Training;

/// <summary>
/// <see cref="Sgd"/> against the Keras update rule computed here in double: plain <c>w -= lr g</c>; momentum
/// <c>v = m v - lr g; w += v</c>; Nesterov <c>v = m v - lr g; w += m v - lr g</c>. Lengths cover the scalar-only case
/// (1, 15), exactly one 512-bit vector (16), a vector plus a scalar tail (17) and several vectors plus a tail (40).
/// Five steps with a different gradient each step, so a wrong velocity carries over and shows.
/// </summary>
/// <remarks>
/// Tolerance: each step rounds a handful of float operations (FMA in the vector body, separate multiply and add in
/// the scalar tail) on values of order 1, so after five steps the float result is within ~10 ulps of the exact one;
/// 1e-6 * (1 + |w|) is about 8 ulps at |w| ~ 1 and orders of magnitude below the effect of any wrong term
/// (lr g ~ 1e-2, m v ~ 1e-2).
/// </remarks>
public class SgdTests
{
    public static TheoryData<int, float, bool> Cases()
    {
        var data = new TheoryData<int, float, bool>();
        foreach (int length in new[] { 1, 15, 16, 17, 40 })
        {
            data.Add(length, 0f, false);
            data.Add(length, 0.9f, false);
            data.Add(length, 0.9f, true);
            data.Add(length, 0.5f, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Five_steps_match_the_Keras_update_rule(int length, float momentum, bool nesterov)
    {
        const float LearningRate = 0.05f;
        var random = new Random(length * 10 + (int)(momentum * 10) + (nesterov ? 1 : 0));
        float[] w = RandomArray(random, length, 1f);
        float[] v = new float[length];
        float[] unusedState = Enumerable.Repeat(float.NaN, length).ToArray();
        double[] expectedW = w.Select(x => (double)x).ToArray();
        double[] expectedV = new double[length];
        var sgd = new Sgd(LearningRate, momentum, nesterov);
        Assert.Equal(momentum > 0 ? 1 : 0, sgd.StateSlots);

        for (int step = 0; step < 5; step++)
        {
            float[] g = RandomArray(random, length, 0.5f);
            sgd.BeginStep();
            if (momentum > 0)
            {
                sgd.Update(new ParameterSlice(w, g, v, unusedState));
            }
            else
            {
                sgd.Update(new ParameterSlice(w, g, default, default));
            }

            for (int i = 0; i < length; i++)
            {
                double lr = LearningRate, m = momentum;
                if (momentum == 0)
                {
                    expectedW[i] -= lr * g[i];
                }
                else
                {
                    expectedV[i] = m * expectedV[i] - lr * g[i];
                    expectedW[i] += nesterov ? m * expectedV[i] - lr * g[i] : expectedV[i];
                }
            }

            Assert.Equal(step + 1, sgd.Iterations);
            for (int i = 0; i < length; i++)
            {
                Assert.True(Math.Abs(w[i] - expectedW[i]) <= 1e-6 * (1 + Math.Abs(expectedW[i])),
                    $"step {step} w[{i}] = {w[i]:R}, expected {expectedW[i]:R}");
                if (momentum > 0)
                {
                    Assert.True(Math.Abs(v[i] - expectedV[i]) <= 1e-6, $"step {step} v[{i}] = {v[i]:R}, expected {expectedV[i]:R}");
                }
            }
        }

        Assert.All(unusedState, s => Assert.True(float.IsNaN(s), "SGD touched state slot 1"));
    }

    [Fact]
    public void Learning_rate_can_change_between_steps()
    {
        var sgd = new Sgd(0.1f);
        float[] w = [1f, 1f];
        sgd.Update(new ParameterSlice(w, [1f, 2f], default, default));
        sgd.LearningRate = 0.5f;
        sgd.Update(new ParameterSlice(w, [1f, 2f], default, default));
        Assert.Equal(1f - 0.1f - 0.5f, w[0], 6);
        Assert.Equal(1f - 0.2f - 1f, w[1], 6);
    }

    [Fact]
    public void Defaults_are_Keras_defaults()
    {
        var sgd = new Sgd();
        Assert.Equal(0.01f, sgd.LearningRate);
        Assert.Equal(0f, sgd.Momentum);
        Assert.False(sgd.Nesterov);
        Assert.Equal(0, sgd.StateSlots);
        Assert.Equal(0, sgd.Iterations);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-0.1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Constructor_rejects_invalid_learning_rates(float learningRate)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(learningRate));
        Assert.Equal("learningRate", e.ParamName);
    }

    [Theory]
    [InlineData(-0.1f)]
    [InlineData(1f)]
    [InlineData(1.5f)]
    [InlineData(float.NaN)]
    public void Constructor_rejects_invalid_momentum(float momentum)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(0.1f, momentum));
        Assert.Equal("momentum", e.ParamName);
    }

    [Fact]
    public void ParameterSlice_rejects_mismatched_lengths()
    {
        Assert.Throws<ArgumentException>(() => new ParameterSlice(new float[3], new float[2], default, default));
        Assert.Throws<ArgumentException>(() => new ParameterSlice(new float[3], new float[3], new float[2], default));
        Assert.Throws<ArgumentException>(() => new ParameterSlice(new float[3], new float[3], new float[3], new float[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ParameterSlice(new float[3], new float[3], default, default).State(2));
    }

    /// <summary>
    /// <see cref="ParameterSlice"/> is public and accepts empty state spans. An SGD with momentum needs state slot 0;
    /// given a slice without it, it must refuse with an <see cref="ArgumentException"/> instead of indexing past the
    /// span (scalar tail) or loading/storing through the empty span's reference (vector body: a null reference for
    /// <c>default</c>, memory past the end of the array for an empty array, which would corrupt the heap, so this test
    /// only uses <c>default</c>).
    /// </summary>
    [Theory]
    [InlineData(3)]
    [InlineData(16)]
    [InlineData(40)]
    public void Momentum_update_without_its_state_slot_is_rejected(int length)
    {
        var sgd = new Sgd(0.1f, 0.9f);
        float[] w = new float[length];
        float[] g = Enumerable.Repeat(1f, length).ToArray();
        var e = Record.Exception(() => sgd.Update(new ParameterSlice(w, g, default, default)));
        Assert.IsAssignableFrom<ArgumentException>(e);
        Assert.All(w, v => Assert.Equal(0f, v));
    }

    /// <summary>TrainStep is ComputeGradients followed by the optimizer over every trainable parameter.</summary>
    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(2, true)]
    public void TrainStep_applies_the_update_to_the_gradients_of_ComputeGradients(int threads, bool momentum)
    {
        var random = new Random(77);
        using var net = new Numerics.Net40x130x10(16, seed: 1, threads: threads);
        using var twin = new Numerics.Net40x130x10(16, seed: 1, threads: threads);
        var sgd = new Sgd(0.1f, momentum ? 0.9f : 0f);
        double[] velocity = new double[net.Parameters.Length];
        for (int step = 0; step < 3; step++)
        {
            float[] x = Numerics.NetworkFactory.RandomFloats(random, 16 * 40);
            int[] labels = Numerics.NetworkFactory.RandomLabels(random, 16, 10);
            float[] before = twin.Parameters.ToArray();
            twin.ComputeGradients(x, labels);
            float[] gradients = twin.Gradients.ToArray();
            net.TrainStep(x, labels, sgd);
            float[] after = net.Parameters.ToArray();
            for (int i = 0; i < after.Length; i++)
            {
                velocity[i] = (momentum ? 0.9 * velocity[i] : 0) - 0.1 * gradients[i];
                double expected = before[i] + velocity[i];
                Assert.True(Math.Abs(after[i] - expected) <= 1e-6 * (1 + Math.Abs(expected)), $"step {step} parameter {i}: {after[i]} vs {expected}");
            }

            after.CopyTo(twin.Parameters);
        }
    }

    private static float[] RandomArray(Random random, int length, float scale) =>
        Enumerable.Range(0, length).Select(_ => (float)((2 * random.NextDouble() - 1) * scale)).ToArray();
}

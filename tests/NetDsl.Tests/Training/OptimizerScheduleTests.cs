using NetDsl.Optimizers;
using Xunit;

namespace NetDsl.Tests.Training;

/// <summary>
/// The learning-rate schedules' formulas (hand-computed values at and around every edge: staircase boundaries, the
/// first and last warm-up steps, the switch to the cosine, its end and beyond), Keras parity of the cosine warm-up,
/// and how a schedule, SGD's time decay and <see cref="IOptimizer.LearningRate"/> combine in an update.
/// </summary>
/// <remarks>Factors are computed in double from closed forms, so they are compared to 1e-12.</remarks>
public class OptimizerScheduleTests
{
    private const double Tolerance = 1e-12;

    [Theory]
    [InlineData(false, 0, 1.0)]
    [InlineData(false, 5, 1 / 1.25)]
    [InlineData(false, 10, 1 / 1.5)]
    [InlineData(false, 15, 1 / 1.75)]
    [InlineData(true, 9, 1.0)]
    [InlineData(true, 10, 1 / 1.5)]
    [InlineData(true, 19, 1 / 1.5)]
    [InlineData(true, 20, 0.5)]
    public void Inverse_time_decay(bool staircase, long step, double expected) =>
        Assert.Equal(expected, new InverseTimeDecay(0.5, 10, staircase).Factor(step), Tolerance);

    [Theory]
    [InlineData(false, 0, 1.0)]
    [InlineData(false, 2, 0.7071067811865476)]
    [InlineData(false, 4, 0.5)]
    [InlineData(false, 6, 0.3535533905932738)]
    [InlineData(true, 3, 1.0)]
    [InlineData(true, 4, 0.5)]
    [InlineData(true, 7, 0.5)]
    [InlineData(true, 8, 0.25)]
    public void Exponential_decay(bool staircase, long step, double expected) =>
        Assert.Equal(expected, new ExponentialDecay(0.5, 4, staircase).Factor(step), Tolerance);

    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(2, 1.0)]
    [InlineData(3, 0.1)]
    [InlineData(5, 0.1)]
    [InlineData(6, 0.01)]
    [InlineData(30, 1e-10)]
    public void Step_decay_drops_by_the_factor_every_n_steps(long step, double expected) =>
        Assert.Equal(expected, new StepDecay(0.1, 3).Factor(step), 1e-15 + expected * 1e-12);

    /// <summary>No warm-up: 1 at step 0, 0.1 + 0.9 · (1 + cos(π s / 10)) / 2 in between, alpha from step 10 on.</summary>
    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(1, 0.9779754323328191)] // 0.1 + 0.45 (1 + cos(0.1π))
    [InlineData(5, 0.55)]
    [InlineData(9, 0.12202456766718092)] // 0.1 + 0.45 (1 + cos(0.9π))
    [InlineData(10, 0.1)]
    [InlineData(1000, 0.1)]
    public void Cosine_decay_without_warm_up(long step, double expected) =>
        Assert.Equal(expected, new CosineDecay(10, alpha: 0.1).Factor(step), Tolerance);

    /// <summary>Warm-up of 4 steps from 0.2: 0.2, 0.4, 0.6, 0.8; step 4 is the first decay step (factor 1); step 14 reaches alpha.</summary>
    [Theory]
    [InlineData(0, 0.2)]
    [InlineData(1, 0.4)]
    [InlineData(3, 0.8)]
    [InlineData(4, 1.0)]
    [InlineData(9, 0.55)]
    [InlineData(13, 0.12202456766718092)]
    [InlineData(14, 0.1)]
    [InlineData(15, 0.1)]
    public void Cosine_decay_with_linear_warm_up(long step, double expected) =>
        Assert.Equal(expected, new CosineDecay(10, alpha: 0.1, warmupSteps: 4, warmupStartFactor: 0.2).Factor(step), Tolerance);

    /// <summary>Edges: a one-step warm-up from 0 (step 0 has rate 0), alpha 0 (the rate ends at exactly 0).</summary>
    [Fact]
    public void Cosine_decay_edges()
    {
        var schedule = new CosineDecay(2, alpha: 0, warmupSteps: 1);
        Assert.Equal(0.0, schedule.Factor(0));
        Assert.Equal(1.0, schedule.Factor(1));
        Assert.Equal(0.5, schedule.Factor(2), Tolerance);
        Assert.Equal(0.0, schedule.Factor(3), Tolerance);
        Assert.Equal(0.0, schedule.Factor(long.MaxValue), Tolerance);
    }

    /// <summary>
    /// Keras 3's CosineDecay(initial_learning_rate=0.01, decay_steps=10, alpha=0.1, warmup_target=0.05, warmup_steps=4),
    /// written out in absolute rates as Keras computes them, equals LearningRate 0.05 times CosineDecay(10, 0.1, 4, 0.2).
    /// </summary>
    [Fact]
    public void Cosine_warm_up_matches_Keras_in_absolute_rates()
    {
        var sgd = new Sgd(0.05f, options: new OptimizerOptions { Schedule = new CosineDecay(10, 0.1, 4, 0.01 / 0.05) });
        for (long s = 0; s < 20; s++)
        {
            double keras = s < 4
                ? 0.01 + (0.05 - 0.01) * (s / 4.0)
                : 0.05 * ((1 - 0.1) * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(s - 4, 10) / 10.0)) + 0.1);
            Assert.Equal(keras, sgd.EffectiveLearningRate(s), 1e-8);
        }
    }

    [Fact]
    public void Schedules_refuse_negative_steps()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new InverseTimeDecay(1).Factor(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialDecay(0.5, 1).Factor(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepDecay(0.5, 1).Factor(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineDecay(1).Factor(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd().EffectiveLearningRate(-1));
    }

    public static TheoryData<string, Func<object>> InvalidSchedules() => new()
    {
        { "decayRate", () => new InverseTimeDecay(-0.1) },
        { "decayRate", () => new InverseTimeDecay(double.NaN) },
        { "decayRate", () => new InverseTimeDecay(double.PositiveInfinity) },
        { "decaySteps", () => new InverseTimeDecay(0.1, 0) },
        { "decayRate", () => new ExponentialDecay(0, 10) },
        { "decayRate", () => new ExponentialDecay(1.5, 10) },
        { "decayRate", () => new ExponentialDecay(double.NaN, 10) },
        { "decaySteps", () => new ExponentialDecay(0.5, -3) },
        { "dropFactor", () => new StepDecay(0, 10) },
        { "dropFactor", () => new StepDecay(2, 10) },
        { "stepsPerDrop", () => new StepDecay(0.5, 0) },
        { "decaySteps", () => new CosineDecay(0) },
        { "alpha", () => new CosineDecay(10, alpha: -0.1) },
        { "alpha", () => new CosineDecay(10, alpha: 1.1) },
        { "alpha", () => new CosineDecay(10, alpha: double.NaN) },
        { "warmupSteps", () => new CosineDecay(10, warmupSteps: -1) },
        { "warmupStartFactor", () => new CosineDecay(10, warmupSteps: 5, warmupStartFactor: 1.5) },
        { "warmupStartFactor", () => new CosineDecay(10, warmupSteps: 5, warmupStartFactor: double.NaN) },
    };

    /// <summary>Every schedule argument is checked, with the allowed range in the message.</summary>
    [Theory]
    [MemberData(nameof(InvalidSchedules))]
    public void Invalid_schedule_arguments_are_rejected(string parameter, Func<object> create)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(create);
        Assert.Equal(parameter, e.ParamName);
        Assert.Matches(@"[\[(].*,.*[\])]", e.Message);
    }

    /// <summary>
    /// Each update uses <c>LearningRate · Factor(Iterations − 1)</c>: with g = 1 and no momentum, the k-th step moves w by
    /// exactly that rate. Setting <see cref="IOptimizer.LearningRate"/> in the middle (ReduceLROnPlateau) rescales the
    /// rest of the schedule, and an optimizer rebuilt from LearningRate and Iterations (a checkpoint) continues with
    /// the same rates.
    /// </summary>
    [Fact]
    public void Updates_use_the_base_rate_times_the_factor_of_the_completed_step_count()
    {
        var schedule = new StepDecay(0.5, 2);
        var sgd = new Sgd(0.4f, options: new OptimizerOptions { Schedule = schedule });
        float[] w = [0f];
        double expected = 0;
        for (int k = 1; k <= 8; k++)
        {
            if (k == 5)
            {
                sgd.LearningRate = 0.1f;
            }

            sgd.BeginStep();
            sgd.Update(new ParameterSlice(w, [1f], default, default));
            double rate = sgd.LearningRate * Math.Pow(0.5, (k - 1) / 2);
            expected -= rate;
            Assert.Equal(expected, w[0], 6);
            Assert.Equal(rate, sgd.EffectiveLearningRate(k - 1), 7);
        }

        var restored = new Sgd(0.4f, options: new OptimizerOptions { Schedule = schedule }) { LearningRate = sgd.LearningRate, Iterations = sgd.Iterations };
        Assert.Equal(sgd.EffectiveLearningRate(sgd.Iterations), restored.EffectiveLearningRate(restored.Iterations));
    }

    /// <summary>
    /// Keras 2 time-based decay: step k (1-based) runs with lr0 / (1 + decay (k − 1)), so the first step uses lr0
    /// (tf.keras computes it from <c>iterations</c> before incrementing); with a schedule the two multiply.
    /// </summary>
    [Fact]
    public void Sgd_time_decay_leaves_the_first_step_undecayed()
    {
        var sgd = new Sgd(0.1f, decay: 0.5f);
        Assert.Equal(0.5f, sgd.Decay);
        float[] w = [0f];
        double expected = 0;
        for (int k = 1; k <= 4; k++)
        {
            sgd.BeginStep();
            sgd.Update(new ParameterSlice(w, [1f], default, default));
            expected -= 0.1 / (1 + 0.5 * (k - 1));
            Assert.Equal(expected, w[0], 6);
        }

        var both = new Sgd(0.1f, decay: 0.5f, options: new OptimizerOptions { Schedule = new ExponentialDecay(0.5, 1) });
        Assert.Equal(0.1 * 0.125 / 2.5, both.EffectiveLearningRate(3), 8);
    }

    /// <summary>An update without any BeginStep (Iterations 0) runs as step 0.</summary>
    [Fact]
    public void Update_before_any_step_uses_step_zero()
    {
        var sgd = new Sgd(1f, options: new OptimizerOptions { Schedule = new CosineDecay(10, warmupSteps: 2, warmupStartFactor: 0.25) });
        float[] w = [0f];
        sgd.Update(new ParameterSlice(w, [1f], default, default));
        Assert.Equal(-0.25f, w[0]);
        Assert.Equal(0, sgd.CurrentStep);
    }

    /// <summary>A custom schedule returning NaN or a negative factor is refused before anything is written.</summary>
    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-1.0)]
    [InlineData(double.PositiveInfinity)]
    public void A_broken_custom_schedule_is_refused(double factor)
    {
        var adam = new Adam(options: new OptimizerOptions { Schedule = new ConstantFactor(factor) });
        float[] w = [1f], m = [0f], v = [0f];
        adam.BeginStep();
        Assert.Throws<InvalidOperationException>(() => adam.Update(new ParameterSlice(w, [1f], m, v)));
        Assert.Equal(1f, w[0]);
        Assert.Equal(0f, m[0]);
    }

    private sealed class ConstantFactor(double factor) : ILearningRateSchedule
    {
        public double Factor(long step) => factor;
    }
}

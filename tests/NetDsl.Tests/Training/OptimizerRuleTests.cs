using NetDsl.Optimizers;
using Xunit;

namespace NetDsl.Tests.Training;

/// <summary>
/// Every optimizer against <see cref="ReferenceOptimizer"/> (double precision, written from the published rules), step by
/// step over six steps with a different gradient each step, for each option that acts inside the update: none,
/// decoupled weight decay, coupled weight decay, clip by value, a norm-clipping scale handed in through the slice, a
/// schedule, and everything at once. Lengths 5 (scalar tail only) and 37 (two 512-bit vectors, four 256-bit, nine
/// 128-bit, plus a tail).
/// </summary>
/// <remarks>
/// Tolerance: each step rounds 10-20 float operations (two square roots and a division for the adaptive rules) on
/// values of order 1 (weights) and 1e-6 to 1 (gradients, moments); after six steps the float weights are within a few
/// 1e-7 of the exact ones and the states within ~1e-6 relative to their slot's scale. Weights are checked to
/// 2e-6 (1 + |w|), states to 4e-6 (|s| + max |slot|): ten times those bounds, and far below the effect of any wrong
/// term — a missed weight decay moves w by lr·wd·|w| ≥ 5e-4, a skipped clip or scale changes a step by 30 % or more,
/// a wrong ε placement in Adagrad (the case with zero initial accumulator and ε = 1e-3) changes tiny-gradient steps by
/// over 10 %, a bias correction off by one step changes Adam's step by over 5 %.
/// </remarks>
public class OptimizerRuleTests
{
    public const int Steps = 6;

    public static readonly string[] Rules =
    [
        "sgd", "sgd-momentum", "sgd-nesterov", "sgd-time-decay", "adagrad", "adagrad-zero-initial", "rmsprop", "rmsprop-momentum",
        "rmsprop-centered", "adam", "adamw", "adadelta",
    ];

    public static readonly string[] Variants = ["plain", "decoupled-decay", "coupled-decay", "clip-value", "scaled", "schedule", "all"];

    public static TheoryData<string, string, int> Cases()
    {
        var data = new TheoryData<string, string, int>();
        foreach (string rule in Rules)
        {
            foreach (string variant in Variants)
            {
                foreach (int length in new[] { 5, 37 })
                {
                    data.Add(rule, variant, length);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Six_steps_match_the_reference_rule(string rule, string variant, int length)
    {
        var (optimizer, reference, scale) = Create(rule, variant, length);
        var random = new Random(HashCode.Combine(rule.Length, variant.Length, length));
        float[] w = OptimizerTestData.Uniform(random, length, 1);
        w.Select(x => (double)x).ToArray().CopyTo(reference.W, 0);
        float[] s0 = new float[length], s1 = new float[length];
        for (int t = 1; t <= Steps; t++)
        {
            float[] g = OptimizerTestData.Gradients(random, length);
            optimizer.BeginStep();
            optimizer.Update(new ParameterSlice(w, g, optimizer.StateSlots > 0 ? s0 : default, optimizer.StateSlots > 1 ? s1 : default, scale));
            reference.Step(g, t, scale);
            Assert.Equal(t, optimizer.Iterations);
            for (int i = 0; i < length; i++)
            {
                Assert.True(Math.Abs(w[i] - reference.W[i]) <= 2e-6 * (1 + Math.Abs(reference.W[i])),
                    $"{rule}/{variant} step {t}: w[{i}] = {w[i]:R}, reference {reference.W[i]:R}");
            }

            AssertState(optimizer.StateSlots > 0, s0, reference.S0, $"{rule}/{variant} step {t} state 0");
            AssertState(optimizer.StateSlots > 1, s1, reference.S1, $"{rule}/{variant} step {t} state 1");
        }
    }

    /// <summary>
    /// The vector body and the scalar tail run the same operations: 37 identical parameters with identical gradients
    /// and state end bitwise identical (lanes 0-31 from the vector body, 32-36 from the tail on AVX-512).
    /// </summary>
    [Theory]
    [MemberData(nameof(RuleNames))]
    public void Vector_body_and_scalar_tail_agree_bitwise(string rule)
    {
        var (optimizer, _, scale) = Create(rule, "all", 37);
        float[] w = Enumerable.Repeat(0.7f, 37).ToArray(), s0 = new float[37], s1 = new float[37];
        for (int t = 0; t < 4; t++)
        {
            float[] g = Enumerable.Repeat(t % 2 == 0 ? 0.31f : -0.0123f, 37).ToArray();
            optimizer.BeginStep();
            optimizer.Update(new ParameterSlice(w, g, optimizer.StateSlots > 0 ? s0 : default, optimizer.StateSlots > 1 ? s1 : default, scale));
        }

        Assert.All(w, x => Assert.Equal(BitConverter.SingleToInt32Bits(w[0]), BitConverter.SingleToInt32Bits(x)));
        Assert.All(s0, x => Assert.Equal(BitConverter.SingleToInt32Bits(s0[0]), BitConverter.SingleToInt32Bits(x)));
        Assert.All(s1, x => Assert.Equal(BitConverter.SingleToInt32Bits(s1[0]), BitConverter.SingleToInt32Bits(x)));
        Assert.NotEqual(0.7f, w[0]);
    }

    public static TheoryData<string> RuleNames() => [.. Rules];

    /// <summary>State slots a rule does not use are never touched (NaN stays NaN); the slot counts are as documented.</summary>
    [Theory]
    [InlineData("sgd", 0)]
    [InlineData("sgd-momentum", 1)]
    [InlineData("adagrad", 1)]
    [InlineData("rmsprop", 1)]
    [InlineData("rmsprop-momentum", 2)]
    [InlineData("rmsprop-centered", 2)]
    [InlineData("adam", 2)]
    [InlineData("adamw", 2)]
    [InlineData("adadelta", 2)]
    public void Unused_state_slots_are_not_touched(string rule, int slots)
    {
        var (optimizer, _, _) = Create(rule, "plain", 37);
        Assert.Equal(slots, optimizer.StateSlots);
        float[] w = new float[37], g = Enumerable.Repeat(0.5f, 37).ToArray();
        float[] s0 = slots > 0 ? new float[37] : Enumerable.Repeat(float.NaN, 37).ToArray();
        float[] s1 = slots > 1 ? new float[37] : Enumerable.Repeat(float.NaN, 37).ToArray();
        optimizer.BeginStep();
        optimizer.Update(new ParameterSlice(w, g, s0, s1));
        Assert.All(w, x => Assert.True(float.IsFinite(x) && x < 0, $"{x}"));
        if (slots < 1)
        {
            Assert.All(s0, x => Assert.True(float.IsNaN(x)));
        }

        if (slots < 2)
        {
            Assert.All(s1, x => Assert.True(float.IsNaN(x)));
        }
    }

    /// <summary>A slice without a state slot the rule needs is refused before anything is written (only <c>default</c> spans, see SgdTests).</summary>
    [Theory]
    [InlineData("adagrad")]
    [InlineData("rmsprop")]
    [InlineData("rmsprop-momentum")]
    [InlineData("rmsprop-centered")]
    [InlineData("adam")]
    [InlineData("adamw")]
    public void Update_without_its_state_slots_is_rejected(string rule)
    {
        var (optimizer, _, _) = Create(rule, "plain", 40);
        float[] w = new float[40], g = Enumerable.Repeat(1f, 40).ToArray(), s0 = new float[40];
        var e = Record.Exception(() => optimizer.Update(new ParameterSlice(w, g, optimizer.StateSlots > 1 ? s0 : default, default)));
        Assert.IsAssignableFrom<ArgumentException>(e);
        Assert.All(w, x => Assert.Equal(0f, x));
        Assert.All(s0, x => Assert.Equal(0f, x));
    }

    /// <summary>
    /// Adam's first step by hand (t = 1): m = 0.1 g, v = 0.001 g², α = lr·√0.001/0.1, so the step is
    /// lr·0.1g·√0.001/0.1 / (√0.001|g| + ε) ≈ lr·sign(g): the bias correction makes the first step the full rate.
    /// </summary>
    [Fact]
    public void Adam_first_step_is_the_learning_rate_times_the_sign()
    {
        var adam = new Adam(0.01f);
        float[] w = [1f, 1f], m = new float[2], v = new float[2];
        adam.BeginStep();
        adam.Update(new ParameterSlice(w, [0.5f, -2f], m, v));
        Assert.Equal(1 - 0.01, w[0], 5);
        Assert.Equal(1 + 0.01, w[1], 5);
        Assert.Equal(0.05f, m[0], 6);
        Assert.Equal(0.001 * 4, v[1], 6);
    }

    /// <summary>
    /// Update without BeginStep (Iterations = 0) applies no bias correction (ONNX's T = 0), instead of 0/0; after a
    /// BeginStep the same state gives the corrected step.
    /// </summary>
    [Fact]
    public void Adam_without_a_step_applies_no_bias_correction()
    {
        var adam = new Adam(0.1f, 0.9f, 0.999f, 1e-7f);
        float[] w = [0f], m = [0f], v = [0f];
        adam.Update(new ParameterSlice(w, [1f], m, v));
        double expected = -0.1 * 0.1 / (Math.Sqrt(0.001) + 1e-7);
        Assert.Equal(expected, w[0], 5);
    }

    /// <summary>Adagrad's state slot holds a − a0, so a zero slot is the initial accumulator.</summary>
    [Fact]
    public void Adagrad_state_is_the_accumulator_minus_its_initial_value()
    {
        var adagrad = new Adagrad(0.1f, initialAccumulatorValue: 0.5f, epsilon: 1e-7f);
        float[] w = [0f], s = [0f];
        adagrad.BeginStep();
        adagrad.Update(new ParameterSlice(w, [2f], s, default));
        Assert.Equal(4f, s[0]);
        Assert.Equal(-0.1 * 2 / (Math.Sqrt(4.5) + 1e-7), w[0], 6);
    }

    /// <summary>Builds a NetDsl optimizer, its reference and the slice's gradient scale for a rule and a variant.</summary>
    internal static (IOptimizer Optimizer, ReferenceOptimizer Reference, float Scale) Create(string rule, string variant, int length)
    {
        bool all = variant == "all";
        float weightDecay = variant is "decoupled-decay" or "coupled-decay" || all ? 0.1f : 0f;
        bool coupled = variant == "coupled-decay" || all;
        float? clipValue = variant == "clip-value" || all ? 0.3f : null;
        float scale = variant == "scaled" || all ? 0.6f : 1f;
        ILearningRateSchedule? schedule = variant == "schedule" || all ? new ExponentialDecay(0.7, 2) : null;
        var options = new OptimizerOptions
        {
            WeightDecay = rule == "adamw" ? 0f : weightDecay,
            WeightDecayMode = coupled && rule != "adamw" ? WeightDecayMode.Coupled : WeightDecayMode.Decoupled,
            ClipValue = clipValue,
            Schedule = schedule,
        };

        (IOptimizer Optimizer, ReferenceOptimizer Reference) pair = rule switch
        {
            "sgd" => (new Sgd(0.1f, options: options), ReferenceOptimizer.Sgd(length, 0.1, 0, false)),
            "sgd-momentum" => (new Sgd(0.1f, 0.9f, options: options), ReferenceOptimizer.Sgd(length, 0.1, 0.9f, false)),
            "sgd-nesterov" => (new Sgd(0.1f, 0.8f, nesterov: true, options: options), ReferenceOptimizer.Sgd(length, 0.1, 0.8f, true)),
            "sgd-time-decay" => (new Sgd(0.1f, 0.5f, decay: 0.25f, options: options), ReferenceOptimizer.Sgd(length, 0.1, 0.5f, false)),
            "adagrad" => (new Adagrad(0.1f, options: options), ReferenceOptimizer.Adagrad(length, 0.1, 0.1f, 1e-7f)),
            "adagrad-zero-initial" => (new Adagrad(0.1f, 0f, 1e-3f, options), ReferenceOptimizer.Adagrad(length, 0.1, 0, 1e-3f)),
            "rmsprop" => (new RmsProp(0.01f, options: options), ReferenceOptimizer.RmsProp(length, 0.01, 0.9f, 0, 1e-7f, false)),
            "rmsprop-momentum" => (new RmsProp(0.01f, 0.8f, 0.9f, 1e-6f, options: options), ReferenceOptimizer.RmsProp(length, 0.01, 0.8f, 0.9f, 1e-6f, false)),
            "rmsprop-centered" => (new RmsProp(0.01f, 0.9f, 0f, 1e-6f, centered: true, options), ReferenceOptimizer.RmsProp(length, 0.01, 0.9f, 0, 1e-6f, true)),
            "adam" => (new Adam(0.01f, options: options), ReferenceOptimizer.Adam(length, 0.01, 0.9f, 0.999f, 1e-7f)),
            "adamw" => (new AdamW(0.01f, weightDecay: weightDecay > 0 ? 0.2f : 0.004f, beta1: 0.8f, beta2: 0.99f, epsilon: 1e-6f, options: options),
                ReferenceOptimizer.Adam(length, 0.01, 0.8f, 0.99f, 1e-6f)),
            "adadelta" => (new Adadelta(1.0f, 0.9f, 1e-6f, options), ReferenceOptimizer.Adadelta(length, 1.0, 0.9f, 1e-6f)),
            _ => throw new ArgumentException(rule),
        };
        var (optimizer, reference) = pair;

        double referenceDecay = rule == "adamw" ? ((AdamW)optimizer).WeightDecay : weightDecay;
        reference.TimeDecay = rule == "sgd-time-decay" ? 0.25 : 0;
        reference.WeightDecay = referenceDecay;
        reference.CoupledDecay = coupled && rule != "adamw";
        reference.ClipValue = clipValue ?? double.PositiveInfinity;
        reference.Schedule = schedule is null ? null : step => Math.Pow(0.7, step / 2.0);
        return (optimizer, reference, scale);
    }

    private static void AssertState(bool used, float[] actual, double[] expected, string what)
    {
        if (!used)
        {
            return;
        }

        double slotScale = expected.Max(Math.Abs);
        for (int i = 0; i < actual.Length; i++)
        {
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 4e-6 * (Math.Abs(expected[i]) + slotScale) + 1e-30,
                $"{what} [{i}] = {actual[i]:R}, reference {expected[i]:R}");
        }
    }
}

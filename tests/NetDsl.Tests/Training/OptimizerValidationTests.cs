using NetDsl.Optimizers;
using Xunit;

namespace NetDsl.Tests.Training;

/// <summary>
/// Every constructor argument of every optimizer and every option is checked: out-of-range values throw
/// <see cref="ArgumentOutOfRangeException"/> naming the parameter, with the allowed range in the message; impossible
/// combinations (two clipping modes, centered RMSprop with momentum, AdamW with a second weight decay) throw
/// <see cref="ArgumentException"/> with an explanation. Also the Keras defaults.
/// </summary>
public class OptimizerValidationTests
{
    public static TheoryData<string, Func<object>> InvalidArguments()
    {
        var data = new TheoryData<string, Func<object>>();
        foreach (float bad in new[] { 0f, -0.1f, float.NaN, float.PositiveInfinity })
        {
            data.Add("learningRate", () => new Sgd(bad));
            data.Add("learningRate", () => new Adagrad(bad));
            data.Add("learningRate", () => new RmsProp(bad));
            data.Add("learningRate", () => new Adam(bad));
            data.Add("learningRate", () => new AdamW(bad));
            data.Add("learningRate", () => new Adadelta(bad));
            data.Add("epsilon", () => new Adagrad(epsilon: bad));
            data.Add("epsilon", () => new RmsProp(epsilon: bad));
            data.Add("epsilon", () => new Adam(epsilon: bad));
            data.Add("epsilon", () => new AdamW(epsilon: bad));
            data.Add("epsilon", () => new Adadelta(epsilon: bad));
        }

        foreach (float bad in new[] { -0.1f, 1f, 1.5f, float.NaN })
        {
            data.Add("momentum", () => new Sgd(momentum: bad));
            data.Add("momentum", () => new RmsProp(momentum: bad));
            data.Add("rho", () => new RmsProp(rho: bad));
            data.Add("rho", () => new Adadelta(rho: bad));
            data.Add("beta1", () => new Adam(beta1: bad));
            data.Add("beta2", () => new Adam(beta2: bad));
            data.Add("beta1", () => new AdamW(beta1: bad));
            data.Add("beta2", () => new AdamW(beta2: bad));
        }

        foreach (float bad in new[] { -0.1f, float.NaN, float.PositiveInfinity })
        {
            data.Add("decay", () => new Sgd(decay: bad));
            data.Add("initialAccumulatorValue", () => new Adagrad(initialAccumulatorValue: bad));
            data.Add("weightDecay", () => new AdamW(weightDecay: bad));
            data.Add("WeightDecay", () => new OptimizerOptions { WeightDecay = bad });
        }

        foreach (float bad in new[] { 0f, -1f, float.NaN, float.PositiveInfinity })
        {
            data.Add("ClipNorm", () => new OptimizerOptions { ClipNorm = bad });
            data.Add("GlobalClipNorm", () => new OptimizerOptions { GlobalClipNorm = bad });
            data.Add("ClipValue", () => new OptimizerOptions { ClipValue = bad });
        }

        data.Add("WeightDecayMode", () => new OptimizerOptions { WeightDecayMode = (WeightDecayMode)7 });
        data.Add("gradientScale", () => new ParameterSlice(new float[1], new float[1], default, default, -1f).Values.Length);
        data.Add("gradientScale", () => new ParameterSlice(new float[1], new float[1], default, default, float.PositiveInfinity).Values.Length);
        return data;
    }

    [Theory]
    [MemberData(nameof(InvalidArguments))]
    public void Out_of_range_arguments_are_rejected_with_the_allowed_range(string parameter, Func<object> create)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(create);
        Assert.Equal(parameter, e.ParamName);
        Assert.Matches(@"[\[({].*,.*[\])}]", e.Message); // an interval such as [0, 1) or (0, ∞), or a set
    }

    [Fact]
    public void Learning_rate_and_iterations_setters_are_checked()
    {
        var adam = new Adam();
        Assert.Equal("value", Assert.Throws<ArgumentOutOfRangeException>(() => adam.LearningRate = 0f).ParamName);
        Assert.Equal("value", Assert.Throws<ArgumentOutOfRangeException>(() => adam.LearningRate = float.NaN).ParamName);
        Assert.Equal("value", Assert.Throws<ArgumentOutOfRangeException>(() => adam.Iterations = -1).ParamName);
        Assert.Equal(0.001f, adam.LearningRate);
        adam.Iterations = 41;
        adam.BeginStep();
        Assert.Equal(42, adam.Iterations);
    }

    /// <summary>At most two state floats per parameter: centered RMSprop with momentum (three) is refused with the reason.</summary>
    [Fact]
    public void Centered_rmsprop_with_momentum_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new RmsProp(centered: true, momentum: 0.9f));
        Assert.Equal("centered", e.ParamName);
        Assert.Contains("3 state floats", e.Message);
        Assert.Equal(2, new RmsProp(centered: true).StateSlots);
        Assert.Equal(2, new RmsProp(momentum: 0.9f).StateSlots);
        Assert.Equal(1, new RmsProp().StateSlots);
    }

    /// <summary>As Keras: only one of clipnorm, global_clipnorm and clipvalue.</summary>
    [Theory]
    [InlineData(1f, 1f, null)]
    [InlineData(1f, null, 1f)]
    [InlineData(null, 1f, 1f)]
    [InlineData(1f, 1f, 1f)]
    public void Two_clipping_modes_are_refused(float? clipNorm, float? globalClipNorm, float? clipValue)
    {
        var options = new OptimizerOptions { ClipNorm = clipNorm, GlobalClipNorm = globalClipNorm, ClipValue = clipValue };
        foreach (Func<object> create in new Func<object>[]
        {
            () => new Sgd(options: options), () => new Adagrad(options: options), () => new RmsProp(options: options),
            () => new Adam(options: options), () => new AdamW(options: options), () => new Adadelta(options: options),
        })
        {
            var e = Assert.Throws<ArgumentException>(create);
            Assert.Equal("options", e.ParamName);
            Assert.Contains("Only one of", e.Message);
        }
    }

    [Fact]
    public void AdamW_takes_its_weight_decay_from_its_own_argument()
    {
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => new AdamW(options: new OptimizerOptions { WeightDecay = 0.1f })).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => new AdamW(options: new OptimizerOptions { WeightDecayMode = WeightDecayMode.Coupled })).ParamName);
        var adamW = new AdamW(weightDecay: 0.05f, options: new OptimizerOptions { GlobalClipNorm = 1f });
        Assert.Equal(0.05f, adamW.WeightDecay);
        Assert.Equal(0.05f, adamW.Options.WeightDecay);
        Assert.Equal(WeightDecayMode.Decoupled, adamW.Options.WeightDecayMode);
        Assert.Equal(1f, adamW.Options.GlobalClipNorm);
    }

    /// <summary>Keras 3's defaults (Adadelta keeps this project's Keras 2 / paper values).</summary>
    [Fact]
    public void Defaults_are_Keras_defaults()
    {
        var adagrad = new Adagrad();
        Assert.Equal((0.001f, 0.1f, 1e-7f, 1), (adagrad.LearningRate, adagrad.InitialAccumulatorValue, adagrad.Epsilon, adagrad.StateSlots));
        var rms = new RmsProp();
        Assert.Equal((0.001f, 0.9f, 0f, 1e-7f, false), (rms.LearningRate, rms.Rho, rms.Momentum, rms.Epsilon, rms.Centered));
        var adam = new Adam();
        Assert.Equal((0.001f, 0.9f, 0.999f, 1e-7f, 2), (adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon, adam.StateSlots));
        var adamW = new AdamW();
        Assert.Equal((0.001f, 0.004f, 0.9f, 0.999f, 1e-7f), (adamW.LearningRate, adamW.WeightDecay, adamW.Beta1, adamW.Beta2, adamW.Epsilon));
        var sgd = new Sgd();
        Assert.Equal((0.01f, 0f, false, 0f), (sgd.LearningRate, sgd.Momentum, sgd.Nesterov, sgd.Decay));
        var options = OptimizerOptions.Default;
        Assert.Equal((0f, WeightDecayMode.Decoupled, (float?)null, (float?)null, (float?)null), (options.WeightDecay, options.WeightDecayMode, options.ClipNorm, options.GlobalClipNorm, options.ClipValue));
        Assert.Null(options.Schedule);
        Assert.Same(OptimizerOptions.Default, sgd.Options);
    }
}

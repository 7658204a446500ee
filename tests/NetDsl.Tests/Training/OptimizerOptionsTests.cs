using NetDsl.Optimizers;
using Xunit;

namespace NetDsl.Tests.Training;

/// <summary>
/// The shared options by hand, one or two parameters at a time, where the difference between the semantics is visible:
/// decoupled against coupled weight decay (with momentum, where they differ), clipping by value (NaN passes through),
/// and the slice's gradient scale (a NaN scale from a non-finite norm makes the step NaN, as Keras).
/// </summary>
public class OptimizerOptionsTests
{
    /// <summary>
    /// Keras 3 decoupled decay with SGD momentum 0.9, lr 0.1, wd 0.5, w = 2, g = 1: w ← 2 − 0.1·0.5·2 = 1.9, then
    /// v = −0.1, w = 1.8; the velocity never sees the decay. Coupled: g' = 1 + 0.5·2 = 2, v = −0.2, w = 1.8, and on the
    /// second step (g = 0) the velocity carries the decay: coupled v = −0.18 − 0.1·0.5·1.8 = −0.27, w = 1.53;
    /// decoupled w = 1.8·0.95 − 0.09 = 1.62.
    /// </summary>
    [Fact]
    public void Decoupled_and_coupled_weight_decay_with_momentum()
    {
        var decoupled = new Sgd(0.1f, 0.9f, options: new OptimizerOptions { WeightDecay = 0.5f });
        var coupled = new Sgd(0.1f, 0.9f, options: new OptimizerOptions { WeightDecay = 0.5f, WeightDecayMode = WeightDecayMode.Coupled });
        float[] wd = [2f], vd = [0f], wc = [2f], vc = [0f];
        foreach (var (optimizer, w, v) in new[] { (decoupled, wd, vd), (coupled, wc, vc) })
        {
            optimizer.BeginStep();
            optimizer.Update(new ParameterSlice(w, [1f], v, default));
        }

        Assert.Equal(1.8f, wd[0], 6);
        Assert.Equal(-0.1f, vd[0], 6);
        Assert.Equal(1.8f, wc[0], 6);
        Assert.Equal(-0.2f, vc[0], 6);
        foreach (var (optimizer, w, v) in new[] { (decoupled, wd, vd), (coupled, wc, vc) })
        {
            optimizer.BeginStep();
            optimizer.Update(new ParameterSlice(w, [0f], v, default));
        }

        Assert.Equal(1.62f, wd[0], 5);
        Assert.Equal(-0.09f, vd[0], 6);
        Assert.Equal(1.53f, wc[0], 5);
        Assert.Equal(-0.27f, vc[0], 6);
    }

    /// <summary>
    /// Decoupled decay in Adam uses the scheduled rate, not the bias-corrected α (Keras 3, PyTorch AdamW): with a zero
    /// gradient the moments stay 0 and w shrinks by exactly lr·wd per step, the schedule included.
    /// </summary>
    [Fact]
    public void Decoupled_decay_in_AdamW_scales_with_the_scheduled_rate_only()
    {
        var adamW = new AdamW(0.1f, weightDecay: 0.5f, options: new OptimizerOptions { Schedule = new StepDecay(0.5, 1) });
        float[] w = [1f], m = [0f], v = [0f];
        double expected = 1;
        for (int k = 0; k < 3; k++)
        {
            adamW.BeginStep();
            adamW.Update(new ParameterSlice(w, [0f], m, v));
            expected *= 1 - 0.1 * Math.Pow(0.5, k) * 0.5;
            Assert.Equal(expected, w[0], 6);
        }

        Assert.Equal(0f, m[0]);
        Assert.Equal(0f, v[0]);
    }

    /// <summary>Clip by value clamps each element (NaN stays NaN, as ops.clip); it acts after the norm scale.</summary>
    [Fact]
    public void Clip_value_clamps_every_element()
    {
        var sgd = new Sgd(1f, options: new OptimizerOptions { ClipValue = 0.5f });
        float[] w = new float[20];
        float[] g = Enumerable.Range(0, 20).Select(i => (i - 10) * 0.1f).ToArray();
        g[3] = float.NaN;
        sgd.Update(new ParameterSlice(w, g, default, default, 2f));
        for (int i = 0; i < 20; i++)
        {
            if (i == 3)
            {
                Assert.True(float.IsNaN(w[i]));
                continue;
            }

            Assert.Equal(-Math.Clamp(2 * g[i], -0.5f, 0.5f), w[i], 6);
        }
    }

    /// <summary>The slice's gradient scale multiplies the gradient before the rule (Adagrad's accumulator sees the scaled gradient); NaN propagates.</summary>
    [Fact]
    public void Gradient_scale_is_applied_first_and_NaN_propagates()
    {
        var adagrad = new Adagrad(0.1f, 0f, 1e-7f);
        float[] w = [0f, 0f], s = [0f, 0f];
        adagrad.Update(new ParameterSlice(w, [2f, -4f], s, default, 0.25f));
        Assert.Equal(0.25f, s[0]);
        Assert.Equal(1f, s[1]);
        Assert.Equal(-0.1, w[0], 6);
        Assert.Equal(0.1, w[1], 6);

        var sgd = new Sgd(0.1f);
        float[] x = [1f];
        sgd.Update(new ParameterSlice(x, [1f], default, default, float.NaN));
        Assert.True(float.IsNaN(x[0]));
    }

    /// <summary>Options are an immutable record: <c>with</c> re-validates, equal settings compare equal.</summary>
    [Fact]
    public void Options_are_a_validated_record()
    {
        var a = new OptimizerOptions { GlobalClipNorm = 1f, WeightDecay = 0.01f };
        Assert.Equal(a, new OptimizerOptions { WeightDecay = 0.01f, GlobalClipNorm = 1f });
        Assert.Throws<ArgumentOutOfRangeException>(() => a with { WeightDecay = -1f });
        Assert.Equal(2f, (a with { GlobalClipNorm = 2f }).GlobalClipNorm);
    }
}

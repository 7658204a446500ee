namespace NetDsl.Optimizers;

/// <summary>
/// A learning-rate schedule, as a dimensionless factor of the optimizer's <see cref="IOptimizer.LearningRate"/>:
/// step <c>s</c> (0-based: the number of steps completed before it, Keras's <c>optimizer.iterations</c> during the
/// update) runs with rate <c>LearningRate · Factor(s)</c>.
/// </summary>
/// <remarks>
/// <para>Keras schedules give absolute rates, <c>initial_learning_rate · f(s)</c>; the NetDsl equivalent is
/// <c>LearningRate = initial_learning_rate</c> (for a warm-up: the warm-up target) and a schedule computing
/// <c>f(s)</c>. Keeping the factor separate from the base rate lets callbacks such as ReduceLROnPlateau set
/// <see cref="IOptimizer.LearningRate"/> between epochs, which scales the rest of the schedule (Keras refuses to set the
/// rate of a scheduled optimizer), and lets a checkpoint restore the rate from <see cref="IOptimizer.LearningRate"/> and
/// <see cref="IOptimizer.Iterations"/> alone.</para>
/// <para>An optimizer evaluates the schedule in every <see cref="IOptimizer.Update"/> call, possibly on several threads
/// at once, so <see cref="Factor"/> must be a pure, thread-safe function of the step. It must return a finite value
/// ≥ 0 (an optimizer refuses to update otherwise).</para>
/// </remarks>
public interface ILearningRateSchedule
{
    /// <summary>The factor for 0-based step <paramref name="step"/> (≥ 0); finite and ≥ 0.</summary>
    double Factor(long step);
}

/// <summary>
/// Keras <c>InverseTimeDecay</c>: <c>1 / (1 + decayRate · p)</c> with <c>p = step / decaySteps</c>, or
/// <c>floor(step / decaySteps)</c> when <see cref="Staircase"/>. With <c>decaySteps = 1</c> this is the time-based decay
/// of Keras 2's optimizers, <c>lr = lr0 / (1 + decay · iterations)</c>.
/// </summary>
public sealed class InverseTimeDecay : ILearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="decayRate">In [0, ∞) (0: constant).</param>
    /// <param name="decaySteps">Steps per unit of <c>p</c>, at least 1.</param>
    /// <param name="staircase">Whether <c>p</c> is rounded down to a whole number.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public InverseTimeDecay(double decayRate, long decaySteps = 1, bool staircase = false)
    {
        DecayRate = Schedules.NonNegative(decayRate, nameof(decayRate));
        DecaySteps = Schedules.Positive(decaySteps, nameof(decaySteps));
        Staircase = staircase;
    }

    /// <summary>The decay rate.</summary>
    public double DecayRate { get; }

    /// <summary>Steps per unit of decay.</summary>
    public long DecaySteps { get; }

    /// <summary>Whether the decay changes only every <see cref="DecaySteps"/> steps.</summary>
    public bool Staircase { get; }

    /// <inheritdoc/>
    public double Factor(long step) => 1.0 / (1.0 + DecayRate * Schedules.Progress(step, DecaySteps, Staircase));
}

/// <summary>
/// Keras <c>ExponentialDecay</c>: <c>decayRate ^ p</c> with <c>p = step / decaySteps</c>, or
/// <c>floor(step / decaySteps)</c> when <see cref="Staircase"/>.
/// </summary>
public sealed class ExponentialDecay : ILearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="decayRate">The factor per <paramref name="decaySteps"/> steps, in (0, 1] (1: constant).</param>
    /// <param name="decaySteps">Steps per unit of <c>p</c>, at least 1.</param>
    /// <param name="staircase">Whether <c>p</c> is rounded down to a whole number.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public ExponentialDecay(double decayRate, long decaySteps, bool staircase = false)
    {
        if (!(decayRate > 0 && decayRate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(decayRate), decayRate, "The decay rate must be in (0, 1].");
        }

        DecayRate = decayRate;
        DecaySteps = Schedules.Positive(decaySteps, nameof(decaySteps));
        Staircase = staircase;
    }

    /// <summary>The factor per <see cref="DecaySteps"/> steps.</summary>
    public double DecayRate { get; }

    /// <summary>Steps per unit of decay.</summary>
    public long DecaySteps { get; }

    /// <summary>Whether the rate drops only every <see cref="DecaySteps"/> steps.</summary>
    public bool Staircase { get; }

    /// <inheritdoc/>
    public double Factor(long step) => Math.Pow(DecayRate, Schedules.Progress(step, DecaySteps, Staircase));
}

/// <summary>
/// Step decay (the classic <c>LearningRateScheduler</c> recipe): the rate drops by <see cref="DropFactor"/> every
/// <see cref="StepsPerDrop"/> steps, <c>dropFactor ^ floor(step / stepsPerDrop)</c>.
/// </summary>
public sealed class StepDecay : ILearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="dropFactor">The factor applied at each drop, in (0, 1].</param>
    /// <param name="stepsPerDrop">Steps between drops, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public StepDecay(double dropFactor, long stepsPerDrop)
    {
        if (!(dropFactor > 0 && dropFactor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(dropFactor), dropFactor, "The drop factor must be in (0, 1].");
        }

        DropFactor = dropFactor;
        StepsPerDrop = Schedules.Positive(stepsPerDrop, nameof(stepsPerDrop));
    }

    /// <summary>The factor applied at each drop.</summary>
    public double DropFactor { get; }

    /// <summary>Steps between drops.</summary>
    public long StepsPerDrop { get; }

    /// <inheritdoc/>
    public double Factor(long step) => Math.Pow(DropFactor, Schedules.Progress(step, StepsPerDrop, staircase: true));
}

/// <summary>
/// Keras <c>CosineDecay</c> with its optional linear warm-up, relative to the peak rate (the optimizer's
/// <see cref="IOptimizer.LearningRate"/>, Keras's <c>warmup_target</c>, or <c>initial_learning_rate</c> without warm-up):
/// <list type="bullet">
/// <item>warm-up, <c>step &lt; W</c>: <c>f0 + (1 − f0) · step / W</c>, from <see cref="WarmupStartFactor"/> <c>f0</c> at
/// step 0 towards 1 (reached at step W, the first decay step);</item>
/// <item>decay, <c>d = min(step − W, D)</c>: <c>alpha + (1 − alpha) · (1 + cos(π d / D)) / 2</c>, from 1 down to
/// <see cref="Alpha"/>, which it keeps after <c>W + D</c> steps.</item>
/// </list>
/// Keras's <c>CosineDecay(initial_learning_rate=a, decay_steps=D, alpha, warmup_target=b, warmup_steps=W)</c> is
/// <c>LearningRate = b</c> with <c>CosineDecay(D, alpha, W, a / b)</c>.
/// </summary>
public sealed class CosineDecay : ILearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="decaySteps">Length D of the cosine part, at least 1.</param>
    /// <param name="alpha">The final factor, in [0, 1].</param>
    /// <param name="warmupSteps">Length W of the linear warm-up, at least 0 (0: none).</param>
    /// <param name="warmupStartFactor">The factor at step 0 of the warm-up, in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    public CosineDecay(long decaySteps, double alpha = 0, long warmupSteps = 0, double warmupStartFactor = 0)
    {
        DecaySteps = Schedules.Positive(decaySteps, nameof(decaySteps));
        Alpha = Schedules.UnitInterval(alpha, nameof(alpha));
        if (warmupSteps < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "The warm-up length must be in [0, ∞) steps.");
        }

        WarmupSteps = warmupSteps;
        WarmupStartFactor = Schedules.UnitInterval(warmupStartFactor, nameof(warmupStartFactor));
    }

    /// <summary>Length of the cosine part.</summary>
    public long DecaySteps { get; }

    /// <summary>The final factor.</summary>
    public double Alpha { get; }

    /// <summary>Length of the linear warm-up.</summary>
    public long WarmupSteps { get; }

    /// <summary>The factor at step 0 of the warm-up.</summary>
    public double WarmupStartFactor { get; }

    /// <inheritdoc/>
    public double Factor(long step)
    {
        Schedules.CheckStep(step);
        if (step < WarmupSteps)
        {
            return WarmupStartFactor + (1 - WarmupStartFactor) * ((double)step / WarmupSteps);
        }

        double done = Math.Min(step - WarmupSteps, DecaySteps) / (double)DecaySteps;
        return Alpha + (1 - Alpha) * 0.5 * (1 + Math.Cos(Math.PI * done));
    }
}

/// <summary>Argument checks and the progress term shared by the schedules.</summary>
internal static class Schedules
{
    public static double Progress(long step, long steps, bool staircase)
    {
        CheckStep(step);
        return staircase ? step / steps : (double)step / steps;
    }

    public static void CheckStep(long step)
    {
        if (step < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(step), step, "The step must be in [0, ∞).");
        }
    }

    public static long Positive(long value, string name) =>
        value >= 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [1, ∞).");

    public static double NonNegative(double value, string name) =>
        value >= 0 && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [0, ∞).");

    public static double UnitInterval(double value, string name) =>
        value is >= 0 and <= 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [0, 1].");
}

namespace NetDsl.Optimizers;

/// <summary>
/// What every NetDsl optimizer shares: the validated <see cref="LearningRate"/> and <see cref="Iterations"/>, the
/// <see cref="OptimizerOptions"/> (weight decay, clipping, schedule), the step's effective learning rate and the checks
/// of a slice before its fused update. (The update rules derive from it inside NetDsl; implement
/// <see cref="IOptimizer"/> directly for a custom rule.)
/// </summary>
/// <remarks>
/// <para>Step numbering: <see cref="BeginStep"/> increments <see cref="Iterations"/>, so during the updates of the
/// k-th step (1-based) <see cref="Iterations"/> is k. The step's 0-based index <c>s = Iterations − 1</c> is what Keras
/// calls <c>optimizer.iterations</c> during the update; schedules and time decay use it, so the first step runs with
/// the full rate. Rules with bias correction (Adam) use <c>t = Iterations</c>, Keras's <c>iterations + 1</c>. An
/// <see cref="Update"/> without any <see cref="BeginStep"/> (<see cref="Iterations"/> = 0) is treated as step 0.</para>
/// <para>The learning rate of step <c>s</c> is <c>LearningRate · Schedule.Factor(s) / (1 + decay · s)</c>, computed in
/// double and rounded to float once (<c>decay</c> is SGD's Keras 2 time-based decay, 0 elsewhere).</para>
/// </remarks>
public abstract class Optimizer : IOptimizer
{
    private float _learningRate;
    private long _iterations;

    /// <summary>Checks and stores the shared arguments.</summary>
    /// <param name="learningRate">Positive and finite.</param>
    /// <param name="options">Null for <see cref="OptimizerOptions.Default"/>.</param>
    /// <param name="timeDecay">Keras 2 time-based decay, in [0, ∞).</param>
    /// <exception cref="ArgumentOutOfRangeException">The learning rate or the decay is out of range.</exception>
    /// <exception cref="ArgumentException">The options set more than one clipping mode.</exception>
    private protected Optimizer(float learningRate, OptimizerOptions? options, float timeDecay = 0f)
    {
        CheckLearningRate(learningRate, nameof(learningRate));
        if (!(timeDecay >= 0f) || !float.IsFinite(timeDecay))
        {
            throw new ArgumentOutOfRangeException("decay", timeDecay, "The decay must be in [0, ∞).");
        }

        options ??= OptimizerOptions.Default;
        options.Validate(nameof(options));
        _learningRate = learningRate;
        Options = options;
        TimeDecay = timeDecay;
    }

    /// <summary>The base step size, positive and finite; the rate of a step also depends on the schedule (see the remarks).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive and finite.</exception>
    public float LearningRate
    {
        get => _learningRate;
        set
        {
            CheckLearningRate(value, nameof(value));
            _learningRate = value;
        }
    }

    /// <summary>Steps taken so far, in [0, ∞).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public long Iterations
    {
        get => _iterations;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _iterations = value;
        }
    }

    /// <inheritdoc/>
    public OptimizerOptions Options { get; }

    /// <inheritdoc/>
    public abstract int StateSlots { get; }

    /// <summary>Keras 2 time-based decay (0 unless set through <see cref="Sgd"/>).</summary>
    private protected float TimeDecay { get; }

    /// <summary>The 0-based index of the step whose updates run now: <c>max(Iterations − 1, 0)</c>.</summary>
    public long CurrentStep => Math.Max(_iterations - 1, 0);

    /// <inheritdoc/>
    public void BeginStep() => Iterations = checked(_iterations + 1);

    /// <summary>The learning rate step <paramref name="step"/> (0-based) runs with, for the current <see cref="LearningRate"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">The schedule returned a negative or non-finite factor.</exception>
    public float EffectiveLearningRate(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        double factor = Options.Schedule?.Factor(step) ?? 1.0;
        if (!(factor >= 0) || !double.IsFinite(factor))
        {
            throw new InvalidOperationException($"The learning-rate schedule {Options.Schedule} returned {factor} for step {step}; a factor must be finite and at least 0.");
        }

        return (float)(_learningRate * factor / (1.0 + (double)TimeDecay * step));
    }

    /// <summary>
    /// Checks that the slice has every state slot this optimizer uses, then runs the fused update. Nothing is written
    /// when a check fails.
    /// </summary>
    /// <exception cref="ArgumentException">A state slot this optimizer uses is not as long as the parameters.</exception>
    /// <exception cref="InvalidOperationException">The schedule returned a negative or non-finite factor.</exception>
    public void Update(in ParameterSlice slice)
    {
        int n = slice.Values.Length;
        int slots = StateSlots;
        for (int k = 0; k < slots; k++)
        {
            int length = slice.State(k).Length;
            if (length != n)
            {
                throw new ArgumentException(
                    $"{GetType().Name} needs {slots} state slot{(slots > 1 ? "s" : "")} as long as the parameters ({n}), but the slice's state {k} has {length}.", nameof(slice));
            }
        }

        float lr = EffectiveLearningRate(CurrentStep);
        if (n == 0)
        {
            return;
        }

        var options = Options;
        bool decoupled = options.WeightDecayMode == WeightDecayMode.Decoupled;
        var scalars = new StepScalars
        {
            LearningRate = lr,
            Scale = slice.GradientScale,
            Clip = options.ClipValueOrInfinity,
            L2 = decoupled ? 0f : options.WeightDecay,
            Keep = decoupled ? (float)(1.0 - (double)lr * options.WeightDecay) : 1f,
        };
        Apply(slice, scalars);
    }

    /// <summary>The fused update of a checked, non-empty slice.</summary>
    private protected abstract void Apply(in ParameterSlice slice, in StepScalars step);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="value"/> is in [0, 1).</summary>
    private protected static void CheckDecayFactor(float value, string name)
    {
        if (!(value >= 0f && value < 1f))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [0, 1).");
        }
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless <paramref name="value"/> is positive and finite.</summary>
    private protected static void CheckPositive(float value, string name)
    {
        if (!(value > 0f) || !float.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in (0, ∞).");
        }
    }

    private static void CheckLearningRate(float value, string name)
    {
        if (!(value > 0f) || !float.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(name, value, "The learning rate must be positive and finite: in (0, ∞).");
        }
    }
}

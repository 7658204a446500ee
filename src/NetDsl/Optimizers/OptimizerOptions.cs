namespace NetDsl.Optimizers;

/// <summary>How <see cref="OptimizerOptions.WeightDecay"/> acts.</summary>
public enum WeightDecayMode
{
    /// <summary>
    /// Decoupled from the gradient (Keras 3's <c>weight_decay</c> for every optimizer, AdamW, PyTorch's AdamW):
    /// <c>w ← w − lr·wd·w</c> with the step's scheduled learning rate, applied before the optimizer's own update (which
    /// then starts from the decayed weights). It never enters momentum or the adaptive denominators.
    /// </summary>
    Decoupled,

    /// <summary>
    /// Coupled, i.e. an L2 penalty <c>(wd/2)·‖w‖²</c> in the loss (PyTorch's <c>weight_decay</c> of SGD, Adagrad,
    /// RMSprop and Adam; ONNX's <c>norm_coefficient</c>): <c>g ← g + wd·w</c> after clipping, so the term does enter
    /// momentum and the adaptive denominators. (A Keras <c>kernel_regularizer=l2(λ)</c> is <c>wd = 2λ</c>, although
    /// Keras clips the gradient after adding it.)
    /// </summary>
    Coupled,
}

/// <summary>
/// Options every NetDsl optimizer shares: weight decay, gradient clipping (as Keras: <see cref="ClipNorm"/>,
/// <see cref="GlobalClipNorm"/> and <see cref="ClipValue"/>, at most one of them) and a learning-rate schedule.
/// Each property checks its value when set.
/// </summary>
/// <remarks>
/// Order within a step, as Keras 3: the gradients are clipped, then weight decay is applied, then the optimizer's
/// update rule runs with the step's learning rate <c>LearningRate · Schedule.Factor(step)</c>.
/// </remarks>
public sealed record OptimizerOptions
{
    private readonly float _weightDecay;
    private readonly WeightDecayMode _weightDecayMode;
    private readonly float? _clipNorm;
    private readonly float? _globalClipNorm;
    private readonly float? _clipValue;

    /// <summary>No weight decay, no clipping, constant learning rate.</summary>
    public static OptimizerOptions Default { get; } = new();

    /// <summary>Weight-decay coefficient, in [0, ∞) (0: none); how it acts is <see cref="WeightDecayMode"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative, infinite or NaN.</exception>
    public float WeightDecay
    {
        get => _weightDecay;
        init
        {
            if (!(value >= 0f) || !float.IsFinite(value))
            {
                throw new ArgumentOutOfRangeException(nameof(WeightDecay), value, "The weight decay must be in [0, ∞).");
            }

            _weightDecay = value;
        }
    }

    /// <summary>Whether <see cref="WeightDecay"/> is decoupled (the default, Keras 3) or an L2 term in the gradient.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not a defined <see cref="Optimizers.WeightDecayMode"/>.</exception>
    public WeightDecayMode WeightDecayMode
    {
        get => _weightDecayMode;
        init
        {
            if (value is not (WeightDecayMode.Decoupled or WeightDecayMode.Coupled))
            {
                throw new ArgumentOutOfRangeException(nameof(WeightDecayMode), value, "The weight-decay mode must be one of {Decoupled, Coupled}.");
            }

            _weightDecayMode = value;
        }
    }

    /// <summary>
    /// Keras <c>clipnorm</c>: each tensor's gradient (a layer's weights, its bias, a BatchNorm's gamma or beta) is
    /// rescaled to an L2 norm of at most this value, <c>g ← g · c / max(‖g‖, c)</c>. In (0, ∞); null: off.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive and finite.</exception>
    public float? ClipNorm
    {
        get => _clipNorm;
        init => _clipNorm = CheckClip(value, nameof(ClipNorm));
    }

    /// <summary>
    /// Keras <c>global_clipnorm</c>: all trainable gradients together are rescaled to an L2 norm of at most this value,
    /// <c>g ← g · c / max(‖g‖, c)</c> with one norm over every trainable tensor. A non-finite norm makes the step NaN
    /// (as Keras). In (0, ∞); null: off.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive and finite.</exception>
    public float? GlobalClipNorm
    {
        get => _globalClipNorm;
        init => _globalClipNorm = CheckClip(value, nameof(GlobalClipNorm));
    }

    /// <summary>Keras <c>clipvalue</c>: every gradient element is clamped to [−c, c]. In (0, ∞); null: off.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not positive and finite.</exception>
    public float? ClipValue
    {
        get => _clipValue;
        init => _clipValue = CheckClip(value, nameof(ClipValue));
    }

    /// <summary>
    /// The learning-rate schedule (null: constant). The rate of 0-based step <c>s</c> is
    /// <see cref="IOptimizer.LearningRate"/> × <see cref="ILearningRateSchedule.Factor"/>(s), so changing
    /// <see cref="IOptimizer.LearningRate"/> (e.g. ReduceLROnPlateau) rescales the whole schedule from then on.
    /// </summary>
    public ILearningRateSchedule? Schedule { get; init; }

    /// <summary>The clip-by-value bound as a float: +∞ when <see cref="ClipValue"/> is off.</summary>
    internal float ClipValueOrInfinity => _clipValue ?? float.PositiveInfinity;

    /// <summary>Throws if more than one clipping option is set (Keras refuses the same).</summary>
    /// <exception cref="ArgumentException">Two or three of the clipping options are set.</exception>
    internal void Validate(string parameterName)
    {
        int clips = (_clipNorm.HasValue ? 1 : 0) + (_globalClipNorm.HasValue ? 1 : 0) + (_clipValue.HasValue ? 1 : 0);
        if (clips > 1)
        {
            throw new ArgumentException(
                $"Only one of ClipNorm, GlobalClipNorm and ClipValue can be set (as in Keras), but got ClipNorm={Show(_clipNorm)}, " +
                $"GlobalClipNorm={Show(_globalClipNorm)}, ClipValue={Show(_clipValue)}.", parameterName);
        }
    }

    private static string Show(float? value) => value?.ToString("R", System.Globalization.CultureInfo.InvariantCulture) ?? "null";

    private static float? CheckClip(float? value, string name)
    {
        if (value is float v && (!(v > 0f) || !float.IsFinite(v)))
        {
            throw new ArgumentOutOfRangeException(name, v, $"{name} must be in (0, ∞), or null for no clipping.");
        }

        return value;
    }
}

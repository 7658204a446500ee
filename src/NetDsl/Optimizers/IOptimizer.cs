namespace NetDsl.Optimizers;

/// <summary>
/// A first-order optimizer: one fused pass over contiguous slices of the parameter arena. A network calls
/// <see cref="BeginStep"/> once per training step, then <see cref="Update"/> for disjoint slices of its
/// trainable parameters, possibly from several threads at once; <see cref="Update"/> must therefore depend only
/// on the slice it is given (and on scalars it does not change: <see cref="LearningRate"/>, <see cref="Iterations"/>,
/// <see cref="Options"/>).
/// </summary>
/// <remarks>
/// Division of labour for <see cref="Options"/>: the network computes the gradient norms that
/// <see cref="OptimizerOptions.ClipNorm"/> and <see cref="OptimizerOptions.GlobalClipNorm"/> need (reductions over
/// whole tensors, which no slice can see) and passes the resulting factor as <see cref="ParameterSlice.GradientScale"/>;
/// everything else (the scale itself, <see cref="OptimizerOptions.ClipValue"/>, weight decay, the schedule) is applied
/// by <see cref="Update"/>. All scalar state of an optimizer must follow from its constructor arguments,
/// <see cref="LearningRate"/> and <see cref="Iterations"/>, so that a checkpoint of the state slots, the learning
/// rate and the iteration count restores it exactly.
/// </remarks>
public interface IOptimizer
{
    /// <summary>Floats of state kept per parameter (e.g. 1 for momentum, 2 for Adam); at most <see cref="ParameterSlice.MaxStateSlots"/>.</summary>
    int StateSlots { get; }

    /// <summary>
    /// The base step size; callbacks such as ReduceLROnPlateau change it between steps. With a schedule
    /// (<see cref="OptimizerOptions.Schedule"/>) the rate of a step is this value times the schedule's factor.
    /// </summary>
    float LearningRate { get; set; }

    /// <summary>Steps taken so far (incremented by <see cref="BeginStep"/>; restored when a checkpoint is loaded).</summary>
    long Iterations { get; set; }

    /// <summary>Weight decay, gradient clipping and learning-rate schedule (see the remarks on <see cref="IOptimizer"/>).</summary>
    OptimizerOptions Options { get; }

    /// <summary>Called once per step, before the <see cref="Update"/> calls of that step.</summary>
    void BeginStep();

    /// <summary>Updates <see cref="ParameterSlice.Values"/> from <see cref="ParameterSlice.Gradients"/> and the slice's state.</summary>
    void Update(in ParameterSlice slice);
}

/// <summary>
/// A contiguous run of parameters with their gradients and optimizer state, all views into a network's arena.
/// State slot <c>k</c> of the slice is <see cref="State(int)"/>; it starts at zero when an optimizer is first
/// used with a network.
/// </summary>
public readonly ref struct ParameterSlice
{
    /// <summary>State slots per parameter reserved in every arena.</summary>
    public const int MaxStateSlots = 2;

    private readonly Span<float> _state0;
    private readonly Span<float> _state1;

    /// <summary>Creates a slice whose gradients are used as they are (<see cref="GradientScale"/> 1).</summary>
    /// <exception cref="ArgumentException">The spans' lengths differ (an empty state span is allowed).</exception>
    public ParameterSlice(Span<float> values, ReadOnlySpan<float> gradients, Span<float> state0, Span<float> state1)
        : this(values, gradients, state0, state1, 1f)
    {
    }

    /// <summary>Creates a slice whose gradients the optimizer multiplies by <paramref name="gradientScale"/> first.</summary>
    /// <param name="values">The parameters.</param>
    /// <param name="gradients">Their gradients.</param>
    /// <param name="state0">State slot 0 (empty if unused).</param>
    /// <param name="state1">State slot 1 (empty if unused).</param>
    /// <param name="gradientScale">
    /// The factor from norm clipping, in [0, ∞), or NaN when the norm it came from was not finite (the update then
    /// makes the parameters NaN, as Keras does, instead of silently skipping or zeroing the step).
    /// </param>
    /// <exception cref="ArgumentException">The spans' lengths differ (an empty state span is allowed).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gradientScale"/> is negative or infinite.</exception>
    public ParameterSlice(Span<float> values, ReadOnlySpan<float> gradients, Span<float> state0, Span<float> state1, float gradientScale)
    {
        if (gradients.Length != values.Length || (!state0.IsEmpty && state0.Length != values.Length) || (!state1.IsEmpty && state1.Length != values.Length))
        {
            throw new ArgumentException("Parameter, gradient and state spans must have the same length.");
        }

        if (gradientScale < 0f || float.IsInfinity(gradientScale))
        {
            throw new ArgumentOutOfRangeException(nameof(gradientScale), gradientScale, "The gradient scale must be in [0, ∞) (or NaN for a non-finite norm).");
        }

        Values = values;
        Gradients = gradients;
        _state0 = state0;
        _state1 = state1;
        GradientScale = gradientScale;
    }

    /// <summary>The parameters, updated in place.</summary>
    public Span<float> Values { get; }

    /// <summary>The gradients of the loss with respect to <see cref="Values"/>.</summary>
    public ReadOnlySpan<float> Gradients { get; }

    /// <summary>
    /// The factor the optimizer applies to every gradient of the slice before anything else: the clipping factor of
    /// <see cref="OptimizerOptions.ClipNorm"/> (per tensor) or <see cref="OptimizerOptions.GlobalClipNorm"/> (per step)
    /// computed by the network, 1 when no norm clipping applies.
    /// </summary>
    public float GradientScale { get; }

    /// <summary>State slot <paramref name="slot"/> (0 or 1), as long as <see cref="Values"/>.</summary>
    public Span<float> State(int slot) => slot switch
    {
        0 => _state0,
        1 => _state1,
        _ => throw new ArgumentOutOfRangeException(nameof(slot), slot, $"An optimizer has at most {MaxStateSlots} state slots."),
    };
}

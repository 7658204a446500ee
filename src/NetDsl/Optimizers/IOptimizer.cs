namespace NetDsl.Optimizers;

/// <summary>
/// A first-order optimizer: one fused pass over contiguous slices of the parameter arena. A network calls
/// <see cref="BeginStep"/> once per training step, then <see cref="Update"/> for disjoint slices of its
/// trainable parameters, possibly from several threads at once; <see cref="Update"/> must therefore depend only
/// on the slice it is given.
/// </summary>
public interface IOptimizer
{
    /// <summary>Floats of state kept per parameter (e.g. 1 for momentum, 2 for Adam); at most <see cref="ParameterSlice.MaxStateSlots"/>.</summary>
    int StateSlots { get; }

    /// <summary>The base step size; callbacks such as learning-rate schedulers and ReduceLROnPlateau change it between steps.</summary>
    float LearningRate { get; set; }

    /// <summary>Steps taken so far (incremented by <see cref="BeginStep"/>; restored when a checkpoint is loaded).</summary>
    long Iterations { get; set; }

    /// <summary>Called once per step, before the <see cref="Update"/> calls of that step (advance schedules here).</summary>
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

    /// <summary>Creates a slice (used by networks and optimizer tests).</summary>
    public ParameterSlice(Span<float> values, ReadOnlySpan<float> gradients, Span<float> state0, Span<float> state1)
    {
        if (gradients.Length != values.Length || (!state0.IsEmpty && state0.Length != values.Length) || (!state1.IsEmpty && state1.Length != values.Length))
        {
            throw new ArgumentException("Parameter, gradient and state spans must have the same length.");
        }

        Values = values;
        Gradients = gradients;
        _state0 = state0;
        _state1 = state1;
    }

    /// <summary>The parameters, updated in place.</summary>
    public Span<float> Values { get; }

    /// <summary>The gradients of the loss with respect to <see cref="Values"/>.</summary>
    public ReadOnlySpan<float> Gradients { get; }

    /// <summary>State slot <paramref name="slot"/> (0 or 1), as long as <see cref="Values"/>.</summary>
    public Span<float> State(int slot) => slot switch
    {
        0 => _state0,
        1 => _state1,
        _ => throw new ArgumentOutOfRangeException(nameof(slot), slot, $"An optimizer has at most {MaxStateSlots} state slots."),
    };
}

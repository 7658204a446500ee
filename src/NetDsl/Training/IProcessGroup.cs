namespace NetDsl.Training;

/// <summary>
/// The processes of a data-parallel job as <c>Fit</c> uses them (<see cref="FitOptions.Distributed"/>): this
/// process's rank, their number, and the four collectives data-parallel training needs. Every process must make the
/// same calls in the same order. <c>NetDsl.Distributed</c>'s <c>MpiCommunicator</c> implements it over MPI; a test can
/// implement it over threads.
/// </summary>
/// <remarks>
/// The collectives name what they carry and the training step (<c>what</c>, <c>step</c>) only for error
/// messages: an implementation that gives up on a rank that hangs says which exchange of which step it waited for.
/// </remarks>
public interface IProcessGroup
{
    /// <summary>This process's rank, 0 to <see cref="Size"/> - 1; rank 0 owns logging, checkpoints and the history's output.</summary>
    int Rank { get; }

    /// <summary>The number of processes.</summary>
    int Size { get; }

    /// <summary>Copies rank <paramref name="root"/>'s <paramref name="values"/> to every rank.</summary>
    /// <param name="values">The root's values; on the other ranks, where they arrive.</param>
    /// <param name="root">The sending rank.</param>
    void Broadcast(Span<float> values, int root);

    /// <summary>Sums <paramref name="values"/> element-wise over all ranks, in place.</summary>
    /// <param name="values">This rank's values; the sums on return.</param>
    /// <param name="what">What is reduced, for error messages.</param>
    /// <param name="step">The training step, for error messages, or -1.</param>
    void AllreduceSum(Span<float> values, string what, long step);

    /// <summary>Sums <paramref name="values"/> element-wise over all ranks, in place (double precision).</summary>
    /// <param name="values">This rank's values; the sums on return.</param>
    /// <param name="what">What is reduced, for error messages.</param>
    /// <param name="step">The training step, for error messages, or -1.</param>
    void AllreduceSum(Span<double> values, string what, long step);

    /// <summary>
    /// Concatenates every rank's <paramref name="mine"/> in rank order into <paramref name="all"/> on every rank:
    /// rank r contributes <paramref name="counts"/>[r] floats (its own count must be <c>mine.Length</c>).
    /// </summary>
    /// <param name="mine">This rank's floats.</param>
    /// <param name="all">Receives the concatenation: the sum of <paramref name="counts"/> floats.</param>
    /// <param name="counts">Floats per rank, <see cref="Size"/> of them, the same on every rank.</param>
    /// <param name="what">What is gathered, for error messages.</param>
    /// <param name="step">The training step, for error messages, or -1.</param>
    void Allgather(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts, string what, long step);

    /// <summary>
    /// Starts summing <paramref name="values"/> element-wise over all ranks, in place, without waiting: the sums are
    /// there once <see cref="CompleteAll"/> returns. Data-parallel training starts one per bucket of final gradients
    /// during the backward pass, so the reduction overlaps the rest of it. The memory must stay where it is until then
    /// (NetDsl passes its native arena, which never moves). The default sums at once (no overlap).
    /// </summary>
    /// <param name="values">This rank's values; the sums after <see cref="CompleteAll"/>.</param>
    /// <param name="what">What is reduced, for error messages.</param>
    /// <param name="step">The training step, for error messages, or -1.</param>
    void StartAllreduceSum(Span<float> values, string what, long step) => AllreduceSum(values, what, step);

    /// <summary>Lets the started reductions advance without waiting (called between the phases of the backward pass). The default does nothing.</summary>
    void Progress()
    {
    }

    /// <summary>Waits for every reduction started by <see cref="StartAllreduceSum"/>. The default has none to wait for.</summary>
    /// <param name="what">What is waited for, for error messages.</param>
    /// <param name="step">The training step, for error messages, or -1.</param>
    void CompleteAll(string what, long step)
    {
    }
}

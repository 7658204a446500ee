using NetDsl.Optimizers;
using NetDsl.Training;

namespace NetDsl.Distributed;

/// <summary>
/// Data-parallel training of one network over the ranks of an MPI job, for a training loop of your own (<c>Fit</c>
/// does the same with <see cref="FitOptions.Distributed"/>): every rank holds the same network (the constructor
/// broadcasts rank 0's parameters), runs the generated forward and backward pass on its shard of each global batch,
/// and the gradient arena (one contiguous block) is averaged with one Allreduce before every rank applies the same
/// optimizer update, so the ranks' parameters stay identical.
/// </summary>
/// <remarks>
/// The average weights each rank's mean gradient by its row count, so unequal shards give the gradient of the whole
/// global batch: the same step as one process training on the combined batch, up to the order of the float sums.
/// BatchNorm uses each rank's own batch statistics (no synchronised BatchNorm), and dropout masks are drawn per rank.
/// How long a step waits for a hung rank is the communicator's <see cref="MpiCommunicator.Timeout"/>.
/// </remarks>
public sealed class DataParallel
{
    private readonly DataParallelStep _step;

    /// <summary>Starts every rank from rank 0's parameters.</summary>
    /// <param name="network">This rank's network; the same declaration on every rank, its batch size the largest shard.</param>
    /// <param name="group">The job's ranks (<see cref="MpiCommunicator.World"/>).</param>
    public DataParallel(Network network, IProcessGroup group)
    {
        _step = new DataParallelStep(network, group);
        _step.BroadcastParameters();
    }

    /// <summary>
    /// Whether the gradients are reduced in buckets while the backward pass still runs (default: each bucket's
    /// <c>MPI_Iallreduce</c> starts as soon as the layers it covers have their gradients, the last layers first), or in
    /// one Allreduce after it. Set it the same on every rank. The README's scaling section measures both.
    /// </summary>
    public bool Overlap
    {
        get => _step.Overlap;
        set => _step.Overlap = value;
    }

    /// <summary>
    /// How long the steps so far waited for the gradient reduction after their backward pass: the communication that
    /// was not hidden behind computation (with <see cref="Overlap"/>, what the buckets had not finished). Setting it to
    /// <see cref="TimeSpan.Zero"/> restarts the count.
    /// </summary>
    public TimeSpan GradientWait
    {
        get => System.Diagnostics.Stopwatch.GetElapsedTime(0, _step.WaitTicks);
        set => _step.WaitTicks = (long)(value.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
    }

    /// <summary>
    /// One data-parallel step: this rank's gradients on <paramref name="inputs"/>, averaged over every rank's rows, then
    /// the optimizer update. Every rank must call it once per global batch (with zero rows if its shard is empty).
    /// </summary>
    /// <param name="inputs">This rank's samples of the global batch.</param>
    /// <param name="labels">Their class indices.</param>
    /// <param name="optimizer">The update rule (the same settings on every rank).</param>
    /// <returns>
    /// The mean loss over the whole global batch, or NaN when a reduced gradient was NaN or infinite and every rank skipped
    /// the update (<see cref="Model.LastStepSkipped"/>).
    /// </returns>
    public float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, IOptimizer optimizer) =>
        _step.TrainStep(inputs, labels, optimizer);

    /// <summary>One data-parallel step for a network trained with float targets; see <see cref="TrainStep(ReadOnlySpan{float}, ReadOnlySpan{int}, IOptimizer)"/>.</summary>
    /// <param name="inputs">This rank's samples of the global batch.</param>
    /// <param name="targets">Their targets, the network's output size per sample.</param>
    /// <param name="optimizer">The update rule (the same settings on every rank).</param>
    /// <returns>The mean loss over the whole global batch.</returns>
    public float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets, IOptimizer optimizer) =>
        _step.TrainStep(inputs, targets, optimizer);

    /// <summary>Rank <paramref name="rank"/>'s contiguous rows of a global batch of <paramref name="rows"/>, as <c>Fit</c> shards them.</summary>
    /// <param name="rows">The global batch's rows.</param>
    /// <param name="rank">The rank.</param>
    /// <param name="size">The number of ranks.</param>
    public static (int First, int Rows) Shard(int rows, int rank, int size) => DataParallelStep.Shard(rows, rank, size);
}

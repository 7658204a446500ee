using NetDsl.Optimizers;

namespace NetDsl.Distributed;

/// <summary>
/// Data-parallel training of one network over the ranks of an MPI job: every rank holds the same network (the
/// constructor broadcasts rank 0's parameters), runs the generated forward and backward pass on its shard of each
/// global batch, and the gradient arena (one contiguous block) is averaged with one Allreduce before every rank applies
/// the same optimizer update, so the ranks' parameters stay identical.
/// </summary>
/// <remarks>
/// The average weights each rank's mean gradient by its row count, so unequal shards give the gradient of the whole
/// global batch: the same step as one process training on the combined batch, up to the order of the float sums.
/// BatchNorm uses each rank's own batch statistics (no synchronised BatchNorm), and dropout masks are drawn per rank.
/// </remarks>
public sealed class DataParallel
{
    private readonly Network _network;
    private readonly MpiCommunicator _communicator;
    private readonly double[] _totals = new double[2];
    private long _step;

    /// <summary>Starts every rank from rank 0's parameters.</summary>
    /// <param name="network">This rank's network; the same declaration on every rank, its batch size the largest shard.</param>
    /// <param name="communicator">The job's ranks.</param>
    public DataParallel(Network network, MpiCommunicator communicator)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(communicator);
        _network = network;
        _communicator = communicator;
        communicator.Broadcast(network.Parameters, root: 0);
    }

    /// <summary>
    /// How long a step waits for the other ranks before it aborts the job with a message (default 5 minutes; a step of
    /// the reference CNN takes ~16 ms). MPI itself has no timeout: a rank that dies is noticed by mpirun, which ends the
    /// job, but a rank that hangs would otherwise stop every other rank in the reduction for ever. A finite timeout
    /// reduces with <c>MPI_Iallreduce</c> polled by <c>MPI_Test</c>; <see cref="System.Threading.Timeout.InfiniteTimeSpan"/>
    /// uses the blocking <c>MPI_Allreduce</c> (measured side by side in the README's scaling table).
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

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
    public float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, IOptimizer optimizer)
    {
        int rows = labels.Length;
        Span<float> gradients = _network.Gradients;
        float loss = rows > 0 ? _network.ComputeGradients(inputs, labels) : 0;
        _totals[0] = rows;
        _totals[1] = (double)loss * rows;
        _step++;
        _communicator.AllreduceSum(_totals, Timeout, "the row count and loss", _step);
        if (_totals[0] <= 0)
        {
            throw new ArgumentException("The global batch has no rows on any rank.", nameof(labels)); // every rank sees it
        }

        // This rank's share of the global mean, rows / total rows of its mean gradient, in one pass before the sum.
        if (rows > 0)
        {
            Scale(gradients, (float)(rows / _totals[0]));
        }
        else
        {
            gradients.Clear();
        }

        _communicator.AllreduceSum(gradients, Timeout, "the gradient Allreduce", _step);
        _network.ApplyGradients(optimizer); // every rank holds the same reduced gradients: all skip a non-finite step together
        return _network.LastStepSkipped ? float.NaN : (float)(_totals[1] / _totals[0]);
    }

    private static void Scale(Span<float> values, float factor)
    {
        var vectors = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(values);
        for (int i = 0; i < vectors.Length; i++)
        {
            vectors[i] *= factor;
        }

        for (int i = vectors.Length * System.Numerics.Vector<float>.Count; i < values.Length; i++)
        {
            values[i] *= factor;
        }
    }
}

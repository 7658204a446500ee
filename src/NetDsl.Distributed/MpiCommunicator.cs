namespace NetDsl.Distributed;

/// <summary>
/// The processes of an MPI job (<c>mpirun -np N</c>): this process's rank, their number, and the collectives
/// data-parallel training uses. Every rank must make the same calls in the same order.
/// </summary>
/// <remarks>
/// Needs OpenMPI's <c>libmpi.so.40</c> (Debian: <c>openmpi-bin</c>). MPI is initialised once per process, funneled (only
/// the thread that created the communicator calls MPI; NetDsl's worker threads never do), and finalised by
/// <see cref="Dispose"/>.
/// </remarks>
public sealed unsafe class MpiCommunicator : IDisposable
{
    /// <summary>The largest count one MPI call takes; longer buffers go in pieces.</summary>
    private const int MaxCount = int.MaxValue / 2;

    private static MpiCommunicator? s_world;
    private bool _disposed;

    private MpiCommunicator(int rank, int size)
    {
        Rank = rank;
        Size = size;
    }

    /// <summary>This process's rank, 0 to <see cref="Size"/> - 1.</summary>
    public int Rank { get; }

    /// <summary>The number of processes in the job.</summary>
    public int Size { get; }

    /// <summary>Whether this is rank 0, which owns logging, history and checkpoints.</summary>
    public bool IsRoot => Rank == 0;

    /// <summary>Initialises MPI (once per process) and returns the communicator of all processes.</summary>
    /// <exception cref="MpiException">OpenMPI's library is missing or MPI_Init failed.</exception>
    public static MpiCommunicator World()
    {
        if (s_world is { _disposed: false } existing)
        {
            return existing;
        }

        try
        {
            int initialized;
            Mpi.Check(Mpi.MPI_Initialized(&initialized), "MPI_Initialized");
            if (initialized == 0)
            {
                Mpi.InitThread();
            }

            int rank, size;
            Mpi.Check(Mpi.MPI_Comm_rank(Mpi.CommWorld, &rank), "MPI_Comm_rank");
            Mpi.Check(Mpi.MPI_Comm_size(Mpi.CommWorld, &size), "MPI_Comm_size");
            return s_world = new MpiCommunicator(rank, size);
        }
        catch (DllNotFoundException e)
        {
            throw new MpiException($"MPI is not available: {Mpi.Library} (OpenMPI; Debian package openmpi-bin) could not be loaded.", e);
        }
    }

    /// <summary>Sums <paramref name="values"/> element-wise over all ranks, in place: every rank gets the sums.</summary>
    /// <param name="values">This rank's values; the sums on return.</param>
    public void AllreduceSum(Span<float> values)
    {
        ThrowIfDisposed();
        fixed (float* p = values)
        {
            for (int start = 0; start < values.Length; start += MaxCount)
            {
                int count = Math.Min(MaxCount, values.Length - start);
                Mpi.Check(Mpi.MPI_Allreduce(Mpi.InPlace, p + start, count, Mpi.Float, Mpi.Sum, Mpi.CommWorld), "MPI_Allreduce");
            }
        }
    }

    /// <summary>Sums <paramref name="values"/> element-wise over all ranks, in place (double precision).</summary>
    /// <param name="values">This rank's values; the sums on return.</param>
    public void AllreduceSum(Span<double> values)
    {
        ThrowIfDisposed();
        fixed (double* p = values)
        {
            Mpi.Check(Mpi.MPI_Allreduce(Mpi.InPlace, p, values.Length, Mpi.Double, Mpi.Sum, Mpi.CommWorld), "MPI_Allreduce");
        }
    }

    /// <summary>Copies <paramref name="values"/> of rank <paramref name="root"/> to every rank.</summary>
    /// <param name="values">The root's values to send; on the other ranks, where they arrive.</param>
    /// <param name="root">The sending rank.</param>
    public void Broadcast(Span<float> values, int root = 0)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        fixed (float* p = values)
        {
            for (int start = 0; start < values.Length; start += MaxCount)
            {
                int count = Math.Min(MaxCount, values.Length - start);
                Mpi.Check(Mpi.MPI_Bcast(p + start, count, Mpi.Float, root, Mpi.CommWorld), "MPI_Bcast");
            }
        }
    }

    /// <summary>Waits until every rank has called it.</summary>
    public void Barrier()
    {
        ThrowIfDisposed();
        Mpi.Check(Mpi.MPI_Barrier(Mpi.CommWorld), "MPI_Barrier");
    }

    /// <summary>Ends every process of the job with <paramref name="exitCode"/> (a rank that cannot go on).</summary>
    /// <param name="exitCode">The exit code mpirun reports.</param>
    public void Abort(int exitCode) => _ = Mpi.MPI_Abort(Mpi.CommWorld, exitCode);

    /// <summary>Finalises MPI for this process (after it no rank may call MPI again).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        int finalized;
        if (Mpi.MPI_Finalized(&finalized) == Mpi.Success && finalized == 0)
        {
            _ = Mpi.MPI_Finalize();
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}

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

    /// <summary>
    /// Sums <paramref name="values"/> element-wise over all ranks, in place, giving up after <paramref name="timeout"/>:
    /// MPI has no timeout of its own, so a rank that hangs (rather than dies, which mpirun notices) would otherwise stop
    /// every other rank at this call for ever. On timeout the whole job is aborted (<c>MPI_Abort</c>, exit code 70) after
    /// a message on stderr naming this rank, the call and the time waited.
    /// </summary>
    /// <param name="values">This rank's values; the sums on return.</param>
    /// <param name="timeout">How long to wait for the other ranks; <see cref="Timeout.InfiniteTimeSpan"/> waits for ever.</param>
    /// <param name="what">What is being reduced, for the message.</param>
    /// <param name="step">The training step, for the message, or -1.</param>
    public void AllreduceSum(Span<float> values, TimeSpan timeout, string what, long step = -1)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            AllreduceSum(values); // the blocking call: no polling loop
            return;
        }

        ThrowIfDisposed();
        fixed (float* p = values)
        {
            for (int start = 0; start < values.Length; start += MaxCount)
            {
                nint request;
                int count = Math.Min(MaxCount, values.Length - start);
                Mpi.Check(Mpi.MPI_Iallreduce(Mpi.InPlace, p + start, count, Mpi.Float, Mpi.Sum, Mpi.CommWorld, &request), "MPI_Iallreduce");
                Wait(&request, timeout, what, step);
            }
        }
    }

    /// <summary>The double-precision form of <see cref="AllreduceSum(Span{float}, TimeSpan, string, long)"/>.</summary>
    /// <param name="values">This rank's values; the sums on return.</param>
    /// <param name="timeout">How long to wait for the other ranks.</param>
    /// <param name="what">What is being reduced, for the message.</param>
    /// <param name="step">The training step, for the message, or -1.</param>
    public void AllreduceSum(Span<double> values, TimeSpan timeout, string what, long step = -1)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            AllreduceSum(values);
            return;
        }

        ThrowIfDisposed();
        fixed (double* p = values)
        {
            nint request;
            Mpi.Check(Mpi.MPI_Iallreduce(Mpi.InPlace, p, values.Length, Mpi.Double, Mpi.Sum, Mpi.CommWorld, &request), "MPI_Iallreduce");
            Wait(&request, timeout, what, step);
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

    /// <summary>Drives a non-blocking request to completion (MPI_Test also makes progress), or aborts the job at the deadline.</summary>
    private void Wait(nint* request, TimeSpan timeout, string what, long step)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var spinner = default(SpinWait);
        while (true)
        {
            int done;
            Mpi.Check(Mpi.MPI_Test(request, &done, null), "MPI_Test");
            if (done != 0)
            {
                return;
            }

            if (timeout != Timeout.InfiniteTimeSpan && System.Diagnostics.Stopwatch.GetElapsedTime(started) > timeout)
            {
                Console.Error.WriteLine($"NetDsl rank {Rank} of {Size}: {what}{(step >= 0 ? $" of step {step}" : string.Empty)} did not complete within {timeout.TotalSeconds:0.#} s; another rank is hung or gone. Aborting the job.");
                Console.Error.Flush();
                Abort(AbortExitCode);
                Environment.Exit(AbortExitCode); // MPI_Abort does not return; this is for an MPI that lets it
            }

            // Poll as a blocking MPI call does (OpenMPI busy-waits too), yielding the core now and then but never
            // sleeping: a 1 ms sleep per wait cost 7% of the step on 2 ranks.
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>The exit code of a job aborted because a collective timed out (EX_SOFTWARE).</summary>
    public const int AbortExitCode = 70;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}

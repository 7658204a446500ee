using NetDsl.Training;

namespace NetDsl.Distributed;

/// <summary>
/// The processes of an MPI job (<c>mpirun -np N</c>): this process's rank, their number, and the collectives
/// data-parallel training uses. Every rank must make the same calls in the same order.
/// </summary>
/// <remarks>
/// Needs OpenMPI's <c>libmpi.so.40</c> (Debian: <c>openmpi-bin</c>). MPI is initialised once per process asking for
/// <c>MPI_THREAD_MULTIPLE</c> (the thread that created the communicator makes the calls, and a background thread may test
/// started reductions: <see cref="BackgroundProgress"/>; NetDsl's worker threads never call MPI), and finalised by
/// <see cref="Dispose"/>.
/// </remarks>
public sealed unsafe class MpiCommunicator : IProcessGroup, IDisposable
{
    /// <summary>Reductions started and not yet completed, at most (a network has far fewer buckets).</summary>
    private const int MaxOutstanding = 64;

    /// <summary>The largest count one MPI call takes; longer buffers go in pieces.</summary>
    private const int MaxCount = int.MaxValue / 2;

    private static MpiCommunicator? s_world;
    private readonly int[] _displacements;
    private readonly nint[] _requests = new nint[MaxOutstanding];
    private readonly ManualResetEventSlim _progressNeeded = new(false);
    private static bool s_threadMultiple;
    private bool _backgroundProgress;
    private Thread? _progressThread;
    private int _outstanding;
    private volatile bool _disposed;

    private MpiCommunicator(int rank, int size)
    {
        Rank = rank;
        Size = size;
        _displacements = new int[size];
        _backgroundProgress = s_threadMultiple;
    }

    /// <summary>
    /// How long a collective made through <see cref="IProcessGroup"/> (data-parallel <c>Fit</c>, <see cref="DataParallel"/>)
    /// waits for the other ranks before it aborts the job with a message (default 5 minutes; a step of the reference
    /// CNN takes ~16 ms). MPI itself has no timeout: a rank that dies is noticed by mpirun, which ends the job, but a
    /// rank that hangs would otherwise stop every other rank in the reduction for ever. A finite timeout uses the
    /// non-blocking collectives polled by <c>MPI_Test</c>; <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> uses the blocking ones
    /// (measured side by side in the README's scaling table). Set it the same on every rank.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

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
                s_threadMultiple = Mpi.InitThread() >= Mpi.ThreadMultiple;
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
    /// <param name="timeout">How long to wait for the other ranks; <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> waits for ever.</param>
    /// <param name="what">What is being reduced, for the message.</param>
    /// <param name="step">The training step, for the message, or -1.</param>
    public void AllreduceSum(Span<float> values, TimeSpan timeout, string what, long step = -1)
    {
        if (timeout == System.Threading.Timeout.InfiniteTimeSpan)
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
        if (timeout == System.Threading.Timeout.InfiniteTimeSpan)
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

    /// <summary>
    /// Concatenates every rank's <paramref name="mine"/> in rank order into <paramref name="all"/> on every rank
    /// (<c>MPI_Allgatherv</c>), waiting at most <paramref name="timeout"/> as <see cref="AllreduceSum(Span{float}, TimeSpan, string, long)"/> does.
    /// </summary>
    /// <param name="mine">This rank's floats: <paramref name="counts"/>[<see cref="Rank"/>] of them.</param>
    /// <param name="all">Receives the concatenation (the sum of <paramref name="counts"/> floats).</param>
    /// <param name="counts">Floats per rank, the same on every rank.</param>
    /// <param name="timeout">How long to wait for the other ranks; <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> waits for ever.</param>
    /// <param name="what">What is gathered, for the message.</param>
    /// <param name="step">The training step, for the message, or -1.</param>
    public void Allgather(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts, TimeSpan timeout, string what, long step = -1)
    {
        ThrowIfDisposed();
        if (counts.Length != Size)
        {
            throw new ArgumentException($"{Size} ranks need {Size} counts, not {counts.Length}.", nameof(counts));
        }

        if (counts[Rank] != mine.Length)
        {
            throw new ArgumentException($"Rank {Rank} sends {mine.Length} floats but its count is {counts[Rank]}.", nameof(mine));
        }

        long total = 0;
        for (int r = 0; r < Size; r++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(counts[r], nameof(counts));
            _displacements[r] = (int)total;
            total += counts[r];
            if (total > int.MaxValue)
            {
                throw new ArgumentException("The gathered floats exceed one MPI call's count.", nameof(counts));
            }
        }

        if (all.Length < total)
        {
            throw new ArgumentException($"The receive span has {all.Length} floats; the ranks send {total}.", nameof(all));
        }

        fixed (float* send = mine)
        fixed (float* receive = all)
        fixed (int* countsPointer = counts)
        fixed (int* displacements = _displacements)
        {
            float dummy = 0;
            void* source = mine.Length > 0 ? send : &dummy; // a null send buffer reads as MPI_IN_PLACE to some MPIs
            if (timeout == System.Threading.Timeout.InfiniteTimeSpan)
            {
                Mpi.Check(Mpi.MPI_Allgatherv(source, mine.Length, Mpi.Float, receive, countsPointer, displacements, Mpi.Float, Mpi.CommWorld), "MPI_Allgatherv");
                return;
            }

            nint request;
            Mpi.Check(Mpi.MPI_Iallgatherv(source, mine.Length, Mpi.Float, receive, countsPointer, displacements, Mpi.Float, Mpi.CommWorld, &request), "MPI_Iallgatherv");
            Wait(&request, timeout, what, step);
        }
    }

    /// <summary>
    /// Starts an in-place <c>MPI_Iallreduce</c> of <paramref name="values"/>: the sums are there after
    /// <see cref="CompleteAll"/>. The memory must not move until then (native memory, or pinned).
    /// </summary>
    /// <param name="values">This rank's values; the sums after <see cref="CompleteAll"/>.</param>
    /// <param name="what">What is reduced, for the timeout message.</param>
    /// <param name="step">The training step, for the timeout message, or -1.</param>
    public void StartAllreduceSum(Span<float> values, string what, long step)
    {
        ThrowIfDisposed();
        float* p = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(values));
        for (int start = 0; start < values.Length; start += MaxCount)
        {
            if (_outstanding == MaxOutstanding)
            {
                CompleteAll(what, step);
            }

            int count = Math.Min(MaxCount, values.Length - start);
            nint request;
            lock (_requests)
            {
                Mpi.Check(Mpi.MPI_Iallreduce(Mpi.InPlace, p + start, count, Mpi.Float, Mpi.Sum, Mpi.CommWorld, &request), "MPI_Iallreduce");
                _requests[_outstanding++] = request;
            }
        }

        if (BackgroundProgress)
        {
            _progressThread ??= StartProgressThread();
            _progressNeeded.Set();
        }
    }

    /// <summary>
    /// Whether a background thread moves started reductions along while this thread computes (default: true where
    /// MPI provides <c>MPI_THREAD_MULTIPLE</c>). OpenMPI moves data only inside MPI calls; without the thread a
    /// reduction started during the backward pass advances only at the <c>MPI_Test</c> between phases. The thread
    /// tests the requests, then sleeps 1 ms, so it takes almost no CPU from the computation.
    /// </summary>
    public bool BackgroundProgress
    {
        get => _backgroundProgress;
        set => _backgroundProgress = value && s_threadMultiple;
    }

    /// <summary>Lets the started reductions advance (one <c>MPI_Test</c> each: OpenMPI moves data only inside MPI calls).</summary>
    public void Progress() => TestAll();

    /// <summary>One <c>MPI_Test</c> per started request; whether all are done.</summary>
    private bool TestAll()
    {
        bool all = true;
        lock (_requests)
        {
            for (int i = 0; i < _outstanding; i++)
            {
                int done;
                fixed (nint* request = &_requests[i])
                {
                    // A completed request becomes MPI_REQUEST_NULL, which later tests report as done at once.
                    Mpi.Check(Mpi.MPI_Test(request, &done, null), "MPI_Test");
                }

                all &= done != 0;
            }
        }

        return all;
    }

    private Thread StartProgressThread()
    {
        var thread = new Thread(() =>
        {
            while (true)
            {
                _progressNeeded.Wait();
                if (_disposed)
                {
                    return;
                }

                if (TestAll())
                {
                    _progressNeeded.Reset(); // the next StartAllreduceSum sets it again
                }
                else
                {
                    Thread.Sleep(1);
                }
            }
        })
        {
            IsBackground = true,
            Name = "NetDsl MPI progress",
        };
        thread.Start();
        return thread;
    }

    /// <summary>Waits for every reduction started by <see cref="StartAllreduceSum"/>, at most <see cref="Timeout"/> each.</summary>
    /// <param name="what">What is waited for, for the timeout message.</param>
    /// <param name="step">The training step, for the timeout message, or -1.</param>
    public void CompleteAll(string what, long step)
    {
        lock (_requests)
        {
            for (int i = 0; i < _outstanding; i++)
            {
                fixed (nint* request = &_requests[i])
                {
                    Wait(request, Timeout, what, step);
                }
            }

            _outstanding = 0;
        }
    }

    /// <inheritdoc/>
    void IProcessGroup.Broadcast(Span<float> values, int root) => Broadcast(values, root);

    /// <inheritdoc/>
    void IProcessGroup.AllreduceSum(Span<float> values, string what, long step) => AllreduceSum(values, Timeout, what, step);

    /// <inheritdoc/>
    void IProcessGroup.AllreduceSum(Span<double> values, string what, long step) => AllreduceSum(values, Timeout, what, step);

    /// <inheritdoc/>
    void IProcessGroup.Allgather(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts, string what, long step) =>
        Allgather(mine, all, counts, Timeout, what, step);

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
        _progressNeeded.Set();
        _progressThread?.Join();
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

            if (timeout != System.Threading.Timeout.InfiniteTimeSpan && System.Diagnostics.Stopwatch.GetElapsedTime(started) > timeout)
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

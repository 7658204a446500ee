namespace NetDsl.Threading;

/// <summary>A unit of parallel work: <see cref="Execute"/> is called once for each part, on different threads.</summary>
public interface IParallelJob
{
    /// <summary>Runs part <paramref name="part"/> of <paramref name="parts"/> of job <paramref name="job"/>.</summary>
    void Execute(int job, int part, int parts);
}

/// <summary>
/// A fixed set of pre-started worker threads that run one <see cref="IParallelJob"/> at a time, split in
/// <see cref="Threads"/> parts, the calling thread taking part 0. Dispatch allocates nothing: the job is an
/// object the caller already has and the job id an int. Workers spin briefly after each job (a training step
/// dispatches many jobs back to back; a spinning worker picks the next one up in well under a microsecond), then
/// block, so an idle pool costs no CPU.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private const int SpinIterations = 20_000;

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private IParallelJob? _job;
    private int _jobId;
    private volatile int _generation;
    private int _pending;
    private int _sleepers;
    private volatile bool _disposed;
    private Exception? _failure;

    /// <summary>Stack size of the worker threads.</summary>
    private const int WorkerStackBytes = 2 * 1024 * 1024;

    /// <summary>Starts <paramref name="threads"/> - 1 workers (the caller is the remaining one).</summary>
    /// <param name="threads">Total threads, at least 1; <c>0</c> means <see cref="Environment.ProcessorCount"/>.</param>
    public WorkerPool(int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        Threads = threads == 0 ? Environment.ProcessorCount : threads;
        _threads = new Thread[Threads - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int part = i + 1;
            // An explicit stack size, not the platform's default (as small as 128 KB for musl threads): the Winograd
            // convolution kernels keep up to ~150 KB of scratch on the stack of each part.
            _threads[i] = new Thread(() => WorkerLoop(part), WorkerStackBytes)
            {
                IsBackground = true,
                Name = $"NetDsl worker {part}",
            };
            _threads[i].Start();
        }
    }

    /// <summary>Threads that execute each job, the caller included.</summary>
    public int Threads { get; }

    /// <summary>
    /// Runs every part of <paramref name="job"/> and returns when all are done. An exception thrown by any part is
    /// rethrown here (the first one, wrapped in an <see cref="AggregateException"/> if it came from a worker).
    /// Not reentrant: call from one thread at a time.
    /// </summary>
    public void Run(IParallelJob job, int jobId)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_threads.Length == 0)
        {
            job.Execute(jobId, 0, 1);
            return;
        }

        _job = job;
        _jobId = jobId;
        Volatile.Write(ref _pending, _threads.Length);
        lock (_gate)
        {
            _generation++;
            if (_sleepers > 0)
            {
                Monitor.PulseAll(_gate);
            }
        }

        Exception? local = null;
        try
        {
            job.Execute(jobId, 0, Threads);
        }
        catch (Exception e)
        {
            local = e;
        }

        var spinner = default(SpinWait);
        while (Volatile.Read(ref _pending) != 0)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }

        _job = null;
        var failure = Interlocked.Exchange(ref _failure, null);
        if (local is not null)
        {
            throw local;
        }

        if (failure is not null)
        {
            throw new AggregateException("A NetDsl worker thread failed.", failure);
        }
    }

    private void WorkerLoop(int part)
    {
        int seen = 0;
        while (true)
        {
            int spins = 0;
            while (_generation == seen && !_disposed && spins < SpinIterations)
            {
                Thread.SpinWait(8);
                spins++;
            }

            if (_generation == seen && !_disposed)
            {
                lock (_gate)
                {
                    _sleepers++;
                    while (_generation == seen && !_disposed)
                    {
                        Monitor.Wait(_gate);
                    }

                    _sleepers--;
                }
            }

            if (_disposed)
            {
                return;
            }

            seen = _generation;
            try
            {
                _job!.Execute(_jobId, part, Threads);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            finally
            {
                Interlocked.Decrement(ref _pending);
            }
        }
    }

    /// <summary>Stops the workers and waits for them to exit.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        Stop();
        foreach (var t in _threads)
        {
            t.Join();
        }
    }

    /// <summary>Tells the workers to exit without waiting (safe from a finalizer).</summary>
    internal void Stop()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
    }
}

/// <summary>Splits index ranges between the parts of a parallel job.</summary>
public static class Partition
{
    /// <summary>
    /// Part <paramref name="part"/> of <paramref name="parts"/> of <c>[0, count)</c>, with every boundary but the
    /// last a multiple of <paramref name="align"/> (so register tiles are not split between threads).
    /// </summary>
    public static (int Start, int End) Range(int count, int part, int parts, int align = 1)
    {
        long blocks = ((long)count + align - 1) / align;
        long startBlock = blocks * part / parts;
        long endBlock = blocks * (part + 1) / parts;
        int start = (int)Math.Min(count, startBlock * align);
        int end = (int)Math.Min(count, endBlock * align);
        return (start, end);
    }
}

using NetDsl.Threading;
using Xunit;

namespace NetDsl.Tests.Runtime;

public class WorkerPoolTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Every_part_runs_exactly_once_per_Run(int threads)
    {
        using var pool = new WorkerPool(threads);
        Assert.Equal(threads, pool.Threads);
        var job = new CountingJob(threads);
        for (int run = 0; run < 200; run++)
        {
            job.Reset();
            pool.Run(job, run);
            for (int part = 0; part < threads; part++)
            {
                Assert.True(job.Counts[part] == 1, $"run {run}: part {part} ran {job.Counts[part]} times");
                Assert.True(job.JobIds[part] == run, $"run {run}: part {part} saw job id {job.JobIds[part]}");
            }

            Assert.Equal(threads, job.PartsSeen);
        }
    }

    [Fact]
    public void Part_0_runs_on_the_calling_thread_and_other_parts_on_other_threads()
    {
        using var pool = new WorkerPool(3);
        var job = new CountingJob(3);
        pool.Run(job, 0);
        Assert.Equal(Environment.CurrentManagedThreadId, job.ThreadIds[0]);
        Assert.NotEqual(job.ThreadIds[0], job.ThreadIds[1]);
        Assert.NotEqual(job.ThreadIds[0], job.ThreadIds[2]);
        Assert.NotEqual(job.ThreadIds[1], job.ThreadIds[2]);
    }

    [Fact]
    public void Run_returns_only_after_slow_parts_finish()
    {
        using var pool = new WorkerPool(3);
        int done = 0;
        var job = new DelegateJob((_, part, _) =>
        {
            if (part != 0)
            {
                Thread.Sleep(50);
            }

            Interlocked.Increment(ref done);
        });
        pool.Run(job, 0);
        Assert.Equal(3, Volatile.Read(ref done));
    }

    [Fact]
    public void Workers_pick_up_jobs_after_blocking_idle()
    {
        using var pool = new WorkerPool(2);
        var job = new CountingJob(2);
        pool.Run(job, 1);
        Thread.Sleep(300); // long enough for the workers to stop spinning and block
        job.Reset();
        pool.Run(job, 2);
        Assert.Equal([1, 1], job.Counts);
    }

    [Fact]
    public void Exception_in_a_worker_part_propagates_wrapped()
    {
        using var pool = new WorkerPool(2);
        var boom = new InvalidOperationException("worker boom");
        var job = new DelegateJob((_, part, _) =>
        {
            if (part == 1)
            {
                throw boom;
            }
        });
        var e = Assert.Throws<AggregateException>(() => pool.Run(job, 0));
        Assert.Same(boom, e.InnerException);

        // The pool stays usable, and the failure is not reported again.
        var counting = new CountingJob(2);
        pool.Run(counting, 1);
        Assert.Equal([1, 1], counting.Counts);
    }

    [Fact]
    public void Exception_in_part_0_propagates_unwrapped()
    {
        using var pool = new WorkerPool(2);
        var job = new DelegateJob((_, part, _) =>
        {
            if (part == 0)
            {
                throw new ArgumentException("caller boom");
            }
        });
        var e = Assert.Throws<ArgumentException>(() => pool.Run(job, 0));
        Assert.Equal("caller boom", e.Message);
        var counting = new CountingJob(2);
        pool.Run(counting, 1);
        Assert.Equal([1, 1], counting.Counts);
    }

    [Fact]
    public void Exception_in_a_one_thread_pool_propagates()
    {
        using var pool = new WorkerPool(1);
        var job = new DelegateJob((_, _, _) => throw new FormatException("solo"));
        Assert.Throws<FormatException>(() => pool.Run(job, 0));
    }

    /// <summary>
    /// When part 0 and a worker part both fail, Run throws part 0's exception; the worker's failure belongs to that
    /// same Run and must not surface from a later, successful Run.
    /// </summary>
    [Fact]
    public void A_failure_from_an_earlier_Run_does_not_leak_into_the_next_Run()
    {
        using var pool = new WorkerPool(2);
        var job = new DelegateJob((_, part, _) => throw new InvalidOperationException($"part {part}"));
        var e = Assert.Throws<InvalidOperationException>(() => pool.Run(job, 0));
        Assert.Equal("part 0", e.Message);

        var counting = new CountingJob(2);
        var next = Record.Exception(() => pool.Run(counting, 1));
        Assert.Null(next);
        Assert.Equal([1, 1], counting.Counts);
    }

    [Fact]
    public void Dispose_is_idempotent_and_Run_after_Dispose_throws()
    {
        var pool = new WorkerPool(3);
        pool.Run(new CountingJob(3), 0);
        pool.Dispose();
        pool.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Run(new CountingJob(3), 0));
    }

    [Fact]
    public void Zero_threads_means_every_processor_and_negative_is_rejected()
    {
        using var pool = new WorkerPool(0);
        Assert.Equal(Environment.ProcessorCount, pool.Threads);
        var job = new CountingJob(pool.Threads);
        pool.Run(job, 0);
        Assert.All(job.Counts, c => Assert.Equal(1, c));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(-1));
    }

    private sealed class CountingJob(int parts) : IParallelJob
    {
        private int _partsSeen;

        public int[] Counts { get; } = new int[parts];

        public int[] JobIds { get; } = new int[parts];

        public int[] ThreadIds { get; } = new int[parts];

        public int PartsSeen => Volatile.Read(ref _partsSeen);

        public void Reset()
        {
            Array.Clear(Counts);
            Array.Fill(JobIds, -1);
        }

        public void Execute(int job, int part, int partCount)
        {
            Interlocked.Increment(ref Counts[part]);
            JobIds[part] = job;
            ThreadIds[part] = Environment.CurrentManagedThreadId;
            Interlocked.Exchange(ref _partsSeen, partCount);
        }
    }

    private sealed class DelegateJob(Action<int, int, int> body) : IParallelJob
    {
        public void Execute(int job, int part, int parts) => body(job, part, parts);
    }
}

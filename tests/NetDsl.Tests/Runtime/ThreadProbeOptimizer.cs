using NetDsl.Optimizers;

namespace NetDsl.Tests.Runtime;

/// <summary>
/// Wraps an optimizer and, on whichever thread runs each <see cref="Update"/> (every part of every step), records
/// that thread's allocated-bytes counter, without allocating itself.
/// </summary>
internal sealed class ThreadProbeOptimizer(IOptimizer inner) : IOptimizer
{
    public const int Slots = 64;
    private readonly int[] _threadIds = new int[Slots];
    private readonly long[] _bytes = new long[Slots];

    public int StateSlots => inner.StateSlots;

    public float LearningRate { get => inner.LearningRate; set => inner.LearningRate = value; }

    public long Iterations { get => inner.Iterations; set => inner.Iterations = value; }

    public OptimizerOptions Options => inner.Options;

    public void BeginStep() => inner.BeginStep();

    public void Update(in ParameterSlice slice)
    {
        int id = Environment.CurrentManagedThreadId;
        int slot = id % Slots;
        Volatile.Write(ref _threadIds[slot], id);
        Volatile.Write(ref _bytes[slot], GC.GetAllocatedBytesForCurrentThread());
        inner.Update(slice);
    }

    public void Snapshot(long[] into) => Array.Copy(_bytes, into, Slots);

    public long MaxWorkerDelta(long[] before, int callerId, out int workers)
    {
        long max = 0;
        workers = 0;
        for (int s = 0; s < Slots; s++)
        {
            int id = Volatile.Read(ref _threadIds[s]);
            if (id != 0 && id != callerId)
            {
                workers++;
                max = Math.Max(max, Volatile.Read(ref _bytes[s]) - before[s]);
            }
        }

        return max;
    }
}

// This file is compiled twice: into the runtime (generated networks place their per-batch tensors with it when they
// are constructed) and into the source generator (which reports the arena sizes it gives in the generated summary),
// so the summary's numbers and the arena a network allocates come from one algorithm. Keep it netstandard2.0-clean;
// the generator's copy is internal (NETDSL_GENERATOR), so code compiled against both assemblies sees one of each type.
#nullable enable

using System;

namespace NetDsl;

/// <summary>
/// When a per-batch tensor of a generated network holds live data: the first and last step of a program (the
/// training step, or inference) that touch it, both inclusive. Steps are numbered from 0 (the staged input) through
/// the program's phases to its end (the output read back). <see cref="Unused"/> when the program never touches it.
/// </summary>
/// <param name="First">The first step that touches the tensor.</param>
/// <param name="Last">The last step that touches the tensor.</param>
#if NETDSL_GENERATOR
internal
#else
public
#endif
    readonly record struct BufferLife(int First, int Last)
{
    /// <summary>A tensor the program never touches.</summary>
    public static BufferLife Unused => new(-1, -1);

    /// <summary>Whether the program touches the tensor at all.</summary>
    public bool IsUsed => First >= 0;

    /// <summary>Whether both tensors hold live data at some common step (so they cannot share memory).</summary>
    public bool Overlaps(BufferLife other) => IsUsed && other.IsUsed && First <= other.Last && other.First <= Last;
}

/// <summary>
/// Places a network's per-batch tensors in its arena from their lifetimes: two tensors share memory when no step of a
/// program needs both. Greedy by size (largest first, each at the lowest offset clear of every tensor it overlaps in
/// time), the heuristic arena planners of inference runtimes use; it is exact for a chain and within a few percent of
/// the best layout for the graphs measured here (see the README's model table).
/// </summary>
#if NETDSL_GENERATOR
internal
#else
public
#endif
    static class ArenaPlanner
{
    /// <summary>
    /// Places tensors of <paramref name="sizes"/> floats (already padded) from <paramref name="start"/>. A network that
    /// trains must keep both programs correct: tensors conflict when their training lives or their inference lives
    /// overlap. A network built for inference only places just what inference touches.
    /// </summary>
    /// <param name="sizes">Floats each tensor takes, padding included.</param>
    /// <param name="training">Each tensor's life in the training step.</param>
    /// <param name="inference">Each tensor's life in inference (Predict).</param>
    /// <param name="inferenceOnly">Place only what inference needs, by its lives alone.</param>
    /// <param name="start">Offset of the first float the tensors may use.</param>
    /// <param name="end">One past the last float used (<paramref name="start"/> when nothing is placed).</param>
    /// <returns>Each tensor's offset; tensors the chosen programs never touch get <paramref name="start"/> and no room.</returns>
    public static long[] Place(long[] sizes, BufferLife[] training, BufferLife[] inference, bool inferenceOnly, long start, out long end)
    {
        if (sizes is null || training is null || inference is null)
        {
            throw new ArgumentNullException(sizes is null ? nameof(sizes) : training is null ? nameof(training) : nameof(inference));
        }

        int n = sizes.Length;
        if (training.Length != n || inference.Length != n)
        {
            throw new ArgumentException($"{n} sizes need as many lives, but there are {training.Length} training and {inference.Length} inference lives.");
        }

        bool Used(int i) => inference[i].IsUsed || (!inferenceOnly && training[i].IsUsed);
        bool Conflict(int i, int j) => inference[i].Overlaps(inference[j]) || (!inferenceOnly && training[i].Overlaps(training[j]));

        // Largest first; ties in declaration order, so the layout is deterministic.
        var order = new int[n];
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) => sizes[a] != sizes[b] ? sizes[b].CompareTo(sizes[a]) : a.CompareTo(b));

        var offsets = new long[n];
        var placed = new bool[n];
        var blockStarts = new long[n]; // the placed tensors this one conflicts with: where they start ...
        var blockEnds = new long[n];   // ... and end
        end = start;
        foreach (int i in order)
        {
            offsets[i] = start;
            if (!Used(i) || sizes[i] <= 0)
            {
                continue;
            }

            int count = 0;
            for (int j = 0; j < n; j++)
            {
                if (placed[j] && Conflict(i, j))
                {
                    blockStarts[count] = offsets[j];
                    blockEnds[count] = offsets[j] + sizes[j];
                    count++;
                }
            }

            Array.Sort(blockStarts, blockEnds, 0, count);
            long at = start;
            for (int k = 0; k < count; k++)
            {
                if (blockStarts[k] - at >= sizes[i])
                {
                    break; // the gap below this blocker fits
                }

                at = Math.Max(at, blockEnds[k]);
            }

            offsets[i] = at;
            placed[i] = true;
            end = Math.Max(end, at + sizes[i]);
        }

        return offsets;
    }
}

using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using NetDsl.Data;
using NetDsl.Optimizers;

namespace NetDsl.Training;

/// <summary>
/// One data-parallel training step over a <see cref="IProcessGroup"/>, shared by <c>Fit</c> with
/// <see cref="FitOptions.Distributed"/> and <c>NetDsl.Distributed.DataParallel</c>: each rank computes the gradients
/// of its shard of the global batch; as the backward pass finishes the gradients of a group of layers (the last layers
/// first), the rank scales them by its share of the global batch's rows and starts a non-blocking Allreduce of that
/// bucket, which sums the shares into the global mean while the earlier layers still compute; then the loss sums are
/// reduced and every rank applies the same update. Allocates nothing per step.
/// </summary>
internal sealed class DataParallelStep : IGradientObserver
{
    /// <summary>
    /// The smallest bucket started during the backward pass (16 KB): a reduction costs tens of microseconds of latency
    /// over loopback whatever its size, so smaller pieces wait for the next layer's gradients.
    /// </summary>
    private const int MinBucketFloats = 4096;

    private readonly Network _network;
    private readonly IProcessGroup _group;
    private readonly double[] _totals = new double[2];
    private readonly double[] _flags = new double[2];
    private readonly int[] _counts;
    private float[]? _gathered;
    private int _pendingEnd;
    private float _share;

    public DataParallelStep(Network network, IProcessGroup group)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(group);
        if (group.Size < 1 || (uint)group.Rank >= (uint)group.Size)
        {
            throw new ArgumentException($"The process group reports rank {group.Rank} of {group.Size}; a rank must be 0 to size - 1.", nameof(group));
        }

        _network = network;
        _group = group;
        _counts = new int[group.Size];
    }

    /// <summary>The process group.</summary>
    public IProcessGroup Group => _group;

    /// <summary>Steps taken (the number in error messages).</summary>
    public long Steps { get; private set; }

    /// <summary>This rank's rows of the last global batch given to <see cref="TrainStep(Batcher, bool, IOptimizer)"/>.</summary>
    public int LocalRows { get; private set; }

    /// <summary>
    /// Rank <paramref name="rank"/>'s contiguous share of a global batch of <paramref name="rows"/> rows: rows
    /// <c>rank * rows / size</c> to <c>(rank + 1) * rows / size</c>, so shards differ by at most one row.
    /// </summary>
    public static (int First, int Rows) Shard(int rows, int rank, int size)
    {
        int first = (int)((long)rank * rows / size);
        int end = (int)((long)(rank + 1) * rows / size);
        return (first, end - first);
    }

    /// <summary>This rank's share of a global batch of <paramref name="rows"/> rows.</summary>
    public (int First, int Rows) Shard(int rows) => Shard(rows, _group.Rank, _group.Size);

    /// <summary>Copies rank 0's parameters (weights and non-trainable state such as BatchNorm statistics) to every rank.</summary>
    public void BroadcastParameters() => _group.Broadcast(_network.Parameters, 0);

    /// <summary>One step on this rank's share of the batch the batcher holds; returns the mean loss over the global batch.</summary>
    public float TrainStep(Batcher batcher, bool classLabels, IOptimizer optimizer)
    {
        var (first, rows) = Shard(batcher.Rows);
        LocalRows = rows;
        int inputSize = _network.InputSize, outputSize = _network.OutputSize;
        var inputs = batcher.Features.Slice(first * inputSize, rows * inputSize);
        return classLabels
            ? Step(inputs, batcher.Labels.Slice(first, rows), default, rows, batcher.Rows, optimizer)
            : Step(inputs, default, batcher.Targets.Slice(first * outputSize, rows * outputSize), rows, batcher.Rows, optimizer);
    }

    /// <summary>One step on this rank's samples (zero rows allowed); returns the mean loss over every rank's rows.</summary>
    public float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, IOptimizer optimizer) =>
        Step(inputs, labels, default, labels.Length, GlobalRows(labels.Length), optimizer);

    /// <summary>One step on this rank's samples with float targets (zero rows allowed).</summary>
    public float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets, IOptimizer optimizer)
    {
        int rows = targets.Length / _network.OutputSize;
        return Step(inputs, default, targets, rows, GlobalRows(rows), optimizer);
    }

    /// <summary>Stopwatch ticks spent waiting for the gradient reduction after the backward pass: the communication the overlap did not hide.</summary>
    public long WaitTicks { get; set; }

    /// <summary>Whether gradients are reduced in buckets during the backward pass (default) or in one piece after it.</summary>
    public bool Overlap { get; set; } = true;

    /// <summary>The global batch's rows when only this rank's are known: one tiny Allreduce.</summary>
    private int GlobalRows(int rows)
    {
        _totals[0] = rows;
        _totals[1] = 0;
        _group.AllreduceSum(_totals, "the row count", Steps + 1);
        return (int)_totals[0];
    }

    private float Step(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int rows, int globalRows, IOptimizer optimizer)
    {
        Steps++;
        if (globalRows <= 0)
        {
            throw new ArgumentException("The global batch has no rows on any rank."); // every rank sees the same count
        }

        // Each rank contributes its share of the global mean gradient, rows / global rows of its own mean, scaled as a
        // bucket is started: the sum over the ranks is then the mean over the global batch.
        _share = (float)((double)rows / globalRows);
        _pendingEnd = _network.Gradients.Length;
        float loss = 0;
        if (rows > 0)
        {
            _network.GradientObserver = Overlap ? this : null;
            try
            {
                loss = labels.Length > 0 ? _network.ComputeGradients(inputs, labels) : _network.ComputeGradients(inputs, targets);
            }
            finally
            {
                _network.GradientObserver = null;
            }
        }
        else
        {
            _network.Gradients.Clear();
        }

        StartBucket(0); // what the backward pass left (all of it without overlap)
        long waitStarted = Stopwatch.GetTimestamp();
        _group.CompleteAll("the gradient Allreduce", Steps);
        WaitTicks += Stopwatch.GetTimestamp() - waitStarted;
        _totals[0] = rows;
        _totals[1] = (double)loss * rows;
        _group.AllreduceSum(_totals, "the row count and loss", Steps);
        if (_totals[0] != globalRows)
        {
            throw new InvalidOperationException($"Rank {_group.Rank} of {_group.Size}: the ranks' shards add up to {_totals[0]} rows, not the {globalRows} of the global batch.");
        }

        _network.ApplyGradients(optimizer); // every rank holds the same reduced gradients: all skip a non-finite step together
        return _network.LastStepSkipped ? float.NaN : (float)(_totals[1] / _totals[0]);
    }

    /// <inheritdoc/>
    void IGradientObserver.GradientsFinal(int offset)
    {
        if (_pendingEnd - offset >= MinBucketFloats)
        {
            StartBucket(offset);
        }
        else
        {
            _group.Progress();
        }
    }

    /// <summary>Scales this rank's final gradients from <paramref name="offset"/> to the last bucket's start by its share and starts reducing them.</summary>
    private void StartBucket(int offset)
    {
        if (_pendingEnd <= offset)
        {
            return;
        }

        var bucket = _network.Gradients[offset.._pendingEnd];
        if (_share != 1f)
        {
            Scale(bucket, _share);
        }

        _group.StartAllreduceSum(bucket, "the gradient Allreduce", Steps);
        _pendingEnd = offset;
    }

    /// <summary>
    /// Every rank's <paramref name="mine"/> (its outputs for its shard of a global batch of <paramref name="rows"/>
    /// rows), concatenated in rank order: the outputs for the whole global batch, on every rank.
    /// </summary>
    public ReadOnlySpan<float> GatherOutputs(ReadOnlySpan<float> mine, int rows)
    {
        int width = _network.OutputSize;
        for (int r = 0; r < _counts.Length; r++)
        {
            _counts[r] = Shard(rows, r, _counts.Length).Rows * width;
        }

        int total = rows * width;
        if (_gathered is null || _gathered.Length < total)
        {
            _gathered = new float[total]; // once per run: the first (largest) batch
        }

        var all = _gathered.AsSpan(0, total);
        _group.Allgather(mine, all, _counts, "the outputs for the metrics", Steps);
        return all;
    }

    /// <summary>
    /// Whether any rank asked to stop (a callback set <see cref="TrainingContext.StopTraining"/>) or was cancelled: one
    /// tiny Allreduce, so every rank leaves the loop at the same batch.
    /// </summary>
    public (bool Stop, bool Cancel) Agree(bool stop, bool cancel)
    {
        _flags[0] = stop ? 1 : 0;
        _flags[1] = cancel ? 1 : 0;
        _group.AllreduceSum(_flags, "the stop and cancel flags", Steps);
        return (_flags[0] > 0, _flags[1] > 0);
    }

    /// <summary>
    /// Checks that every rank starts the same run. Each quantity's 64 bits go in four 16-bit pieces; with the sums and
    /// the sums of squares of the pieces over the ranks (exact in doubles), the pieces agree on every rank exactly when
    /// size x sum of squares = sum squared. A mismatch (another data set, batch size or checkpoint on some rank) is an
    /// exception on every rank, naming the quantity, instead of a hang or a silent divergence.
    /// </summary>
    public void CheckAgreement(IReadOnlyList<(string Name, long Value)> quantities)
    {
        var sums = new double[quantities.Count * 8];
        for (int i = 0; i < quantities.Count; i++)
        {
            ulong bits = unchecked((ulong)quantities[i].Value);
            for (int piece = 0; piece < 4; piece++)
            {
                double value = (bits >> (16 * piece)) & 0xFFFF;
                sums[i * 8 + piece] = value;
                sums[i * 8 + 4 + piece] = value * value;
            }
        }

        _group.AllreduceSum(sums, "the run's settings", -1);
        for (int i = 0; i < quantities.Count; i++)
        {
            for (int piece = 0; piece < 4; piece++)
            {
                double sum = sums[i * 8 + piece], squares = sums[i * 8 + 4 + piece];
                if (_group.Size * squares != sum * sum)
                {
                    throw new InvalidOperationException(
                        $"Rank {_group.Rank} of {_group.Size}: the ranks disagree on {quantities[i].Name} (this rank has {quantities[i].Value}). " +
                        "Every rank must call Fit with the same data, options and network state (load a checkpoint on every rank).");
                }
            }
        }
    }

    private static void Scale(Span<float> values, float factor)
    {
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
        for (int i = 0; i < vectors.Length; i++)
        {
            vectors[i] *= factor;
        }

        for (int i = vectors.Length * Vector<float>.Count; i < values.Length; i++)
        {
            values[i] *= factor;
        }
    }
}

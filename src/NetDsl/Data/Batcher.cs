namespace NetDsl.Data;

/// <summary>
/// Walks an <see cref="IDataSource"/> (for example a <see cref="Dataset"/>) in mini-batches, shuffled each epoch from a
/// seed, gathering each batch into buffers allocated once, so a training loop allocates nothing per batch.
/// </summary>
/// <remarks>
/// <see cref="StartEpoch()"/> reshuffles the previous epoch's order (a chain of shuffles, as before);
/// <see cref="StartEpoch(int)"/> shuffles the stored order afresh from the seed and the epoch number, so that an
/// epoch's order does not depend on the epochs before it (what <c>Network.Fit</c> uses: a resumed run sees the same
/// batches as an uninterrupted one).
/// </remarks>
public sealed class Batcher
{
    private readonly IDataSource _source;
    private readonly Dataset? _dataset;
    private readonly int[] _order;
    private readonly float[] _features;
    private readonly int[] _labels;
    private readonly float[] _targets;
    private readonly DeterministicRandom _random;
    private readonly ulong _seed;
    private readonly bool _shuffle;
    private readonly int _sampleSize;
    private readonly int _targetSize;
    private readonly TargetKind _kind;
    private int _position;
    private int _rows;

    /// <summary>Creates a batcher over a dataset.</summary>
    /// <param name="data">The samples.</param>
    /// <param name="batchSize">Samples per batch; the last batch of an epoch may be smaller.</param>
    /// <param name="seed">Seed of the per-epoch shuffles.</param>
    /// <param name="shuffle">Whether to shuffle each epoch (otherwise the dataset order is kept).</param>
    public Batcher(Dataset data, int batchSize, ulong seed = 0, bool shuffle = true)
        : this((IDataSource)data, batchSize, seed, shuffle)
    {
    }

    /// <summary>Creates a batcher over any data source.</summary>
    /// <param name="data">The samples.</param>
    /// <param name="batchSize">Samples per batch; the last batch of an epoch may be smaller.</param>
    /// <param name="seed">Seed of the per-epoch shuffles.</param>
    /// <param name="shuffle">Whether to shuffle each epoch (otherwise the source order is kept).</param>
    public Batcher(IDataSource data, int batchSize, ulong seed = 0, bool shuffle = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _source = data;
        _dataset = data as Dataset;
        _kind = data.TargetKind;
        _sampleSize = data.SampleSize;
        _targetSize = _kind == TargetKind.Values ? data.TargetSize : 0;
        BatchSize = batchSize;
        _order = new int[data.Count];
        _features = new float[checked(batchSize * _sampleSize)];
        _labels = new int[_kind == TargetKind.ClassLabels ? batchSize : 0];
        _targets = new float[checked(batchSize * _targetSize)];
        _seed = seed;
        _random = new DeterministicRandom(seed);
        _shuffle = shuffle;
        ResetOrder();
        _position = _order.Length;
    }

    /// <summary>The largest batch.</summary>
    public int BatchSize { get; }

    /// <summary>Batches per epoch (the last one possibly partial).</summary>
    public int BatchesPerEpoch => (_order.Length + BatchSize - 1) / BatchSize;

    /// <summary>The current batch's samples.</summary>
    public ReadOnlySpan<float> Features => _features.AsSpan(0, _rows * _sampleSize);

    /// <summary>The current batch's labels (empty unless the source supplies <see cref="TargetKind.ClassLabels"/>).</summary>
    public ReadOnlySpan<int> Labels => _labels.AsSpan(0, _kind == TargetKind.ClassLabels ? _rows : 0);

    /// <summary>The current batch's float targets, back to back (empty unless the source supplies <see cref="TargetKind.Values"/>).</summary>
    public ReadOnlySpan<float> Targets => _targets.AsSpan(0, _rows * _targetSize);

    /// <summary>The samples of the current batch.</summary>
    public int Rows => _rows;

    /// <summary>The index in the data source of row <paramref name="row"/> of the current batch.</summary>
    internal int SourceIndex(int row) => _order[_position - _rows + row];

    /// <summary>Starts an epoch: reshuffles the previous order (when enabled) and rewinds.</summary>
    public void StartEpoch()
    {
        if (_shuffle)
        {
            _random.Shuffle(_order.AsSpan());
        }

        _position = 0;
    }

    /// <summary>
    /// Starts epoch <paramref name="epoch"/>: restores the source order and (when enabled) shuffles it with a
    /// generator seeded by the seed and <paramref name="epoch"/> alone, then rewinds.
    /// </summary>
    public void StartEpoch(int epoch)
    {
        ResetOrder();
        if (_shuffle)
        {
            new DeterministicRandom(EpochSeed(_seed, epoch)).Shuffle(_order.AsSpan());
        }

        _position = 0;
    }

    /// <summary>Gathers the next batch into <see cref="Features"/> and its targets; false at the end of the epoch.</summary>
    public bool MoveNext()
    {
        if (_position >= _order.Length)
        {
            _rows = 0;
            return false;
        }

        _rows = Math.Min(BatchSize, _order.Length - _position);
        int size = _sampleSize;
        if (_dataset is { } data)
        {
            for (int r = 0; r < _rows; r++)
            {
                int index = _order[_position + r];
                data.Features.AsSpan(index * size, size).CopyTo(_features.AsSpan(r * size, size));
                _labels[r] = data.Labels[index];
            }
        }
        else
        {
            for (int r = 0; r < _rows; r++)
            {
                int index = _order[_position + r];
                _source.CopyFeatures(index, _features.AsSpan(r * size, size));
                if (_kind == TargetKind.ClassLabels)
                {
                    _labels[r] = _source.GetLabel(index);
                }
                else if (_kind == TargetKind.Values)
                {
                    _source.CopyTargets(index, _targets.AsSpan(r * _targetSize, _targetSize));
                }
            }
        }

        _position += _rows;
        return true;
    }

    private void ResetOrder()
    {
        for (int i = 0; i < _order.Length; i++)
        {
            _order[i] = i;
        }
    }

    /// <summary>A well-mixed seed per (seed, epoch) pair (SplitMix64's finaliser over an odd-multiplier combination).</summary>
    private static ulong EpochSeed(ulong seed, int epoch)
    {
        ulong z = unchecked(seed + ((ulong)(uint)epoch + 1) * 0xD1B54A32D192ED03UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}

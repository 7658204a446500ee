namespace NetDsl.Data;

/// <summary>
/// Walks a <see cref="Dataset"/> in mini-batches, reshuffled each epoch from a seed, gathering each batch into
/// buffers allocated once, so a training loop allocates nothing per batch.
/// </summary>
public sealed class Batcher
{
    private readonly Dataset _data;
    private readonly int[] _order;
    private readonly float[] _features;
    private readonly int[] _labels;
    private readonly DeterministicRandom _random;
    private readonly bool _shuffle;
    private int _position;
    private int _rows;

    /// <summary>Creates a batcher.</summary>
    /// <param name="data">The samples.</param>
    /// <param name="batchSize">Samples per batch; the last batch of an epoch may be smaller.</param>
    /// <param name="seed">Seed of the per-epoch shuffles.</param>
    /// <param name="shuffle">Whether to shuffle each epoch (otherwise the dataset order is kept).</param>
    public Batcher(Dataset data, int batchSize, ulong seed = 0, bool shuffle = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _data = data;
        BatchSize = batchSize;
        _order = new int[data.Count];
        _features = new float[checked(batchSize * data.SampleSize)];
        _labels = new int[batchSize];
        _random = new DeterministicRandom(seed);
        _shuffle = shuffle;
        for (int i = 0; i < _order.Length; i++)
        {
            _order[i] = i;
        }

        _position = _order.Length;
    }

    /// <summary>The largest batch.</summary>
    public int BatchSize { get; }

    /// <summary>Batches per epoch (the last one possibly partial).</summary>
    public int BatchesPerEpoch => (_data.Count + BatchSize - 1) / BatchSize;

    /// <summary>The current batch's samples.</summary>
    public ReadOnlySpan<float> Features => _features.AsSpan(0, _rows * _data.SampleSize);

    /// <summary>The current batch's labels.</summary>
    public ReadOnlySpan<int> Labels => _labels.AsSpan(0, _rows);

    /// <summary>Starts an epoch: reshuffles (when enabled) and rewinds.</summary>
    public void StartEpoch()
    {
        if (_shuffle)
        {
            _random.Shuffle(_order.AsSpan());
        }

        _position = 0;
    }

    /// <summary>Gathers the next batch into <see cref="Features"/> and <see cref="Labels"/>; false at the end of the epoch.</summary>
    public bool MoveNext()
    {
        if (_position >= _order.Length)
        {
            _rows = 0;
            return false;
        }

        _rows = Math.Min(BatchSize, _order.Length - _position);
        int size = _data.SampleSize;
        for (int r = 0; r < _rows; r++)
        {
            int index = _order[_position + r];
            _data.Features.AsSpan(index * size, size).CopyTo(_features.AsSpan(r * size, size));
            _labels[r] = _data.Labels[index];
        }

        _position += _rows;
        return true;
    }
}

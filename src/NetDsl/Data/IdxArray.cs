namespace NetDsl.Data;

/// <summary>
/// The contents of an unsigned-byte IDX file (the format of the MNIST distribution): its dimensions and its
/// raw bytes, row-major. Produced by <see cref="Idx.Read(string)"/>.
/// </summary>
public sealed class IdxArray
{
    private readonly int[] _dimensions;

    internal IdxArray(int[] dimensions, byte[] data)
    {
        _dimensions = dimensions;
        Data = data;
    }

    /// <summary>The dimensions from the file header, outermost first (for images: count, rows, columns).</summary>
    public ReadOnlySpan<int> Dimensions => _dimensions;

    /// <summary>The values, row-major; its length is the product of <see cref="Dimensions"/>. The array belongs
    /// to the caller: nothing else refers to it.</summary>
    public byte[] Data { get; }

    /// <summary>The outermost dimension: the number of items (images or labels) in the file.</summary>
    public int Count => _dimensions[0];

    /// <summary>The number of bytes in one item: the product of every dimension but the first (1 for a
    /// one-dimensional file).</summary>
    public int ItemSize => Data.Length / _dimensions[0];
}

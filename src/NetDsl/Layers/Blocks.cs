namespace NetDsl;

/// <summary>
/// The base of block classes (<see cref="BlockAttribute"/>): one use of a block in a network, whose generated properties
/// are views of its layers in the network.
/// </summary>
public abstract class Block
{
    private readonly Layer[] _layers;

    /// <summary>Creates the block over its layers (called by generated code).</summary>
    /// <param name="layers">The block's layers in the network, in the block's declaration order.</param>
    protected Block(Layer[] layers) => _layers = layers ?? throw new ArgumentNullException(nameof(layers));

    /// <summary>The block's layers, in declaration order.</summary>
    public IReadOnlyList<Layer> Layers => _layers;

    /// <summary>Layer <paramref name="index"/> of the block (for the generated properties).</summary>
    protected Layer LayerAt(int index) => _layers[index];

    /// <summary>Freezes or unfreezes every layer of the block.</summary>
    public bool Trainable
    {
        set
        {
            foreach (var layer in _layers)
            {
                layer.Trainable = value;
            }
        }
    }
}

/// <summary>The blocks of one <see cref="BlocksAttribute"/> use: <c>model.Stage[2].Conv1</c>.</summary>
/// <typeparam name="TBlock">The block class.</typeparam>
public sealed class BlockList<TBlock> : IReadOnlyList<TBlock>
    where TBlock : Block
{
    private readonly TBlock[] _blocks;

    /// <summary>Creates the list (called by generated code).</summary>
    public BlockList(TBlock[] blocks) => _blocks = blocks ?? throw new ArgumentNullException(nameof(blocks));

    /// <summary>Block <paramref name="index"/>.</summary>
    public TBlock this[int index] => _blocks[index];

    /// <summary>The number of blocks.</summary>
    public int Count => _blocks.Length;

    /// <summary>Freezes or unfreezes every layer of every block.</summary>
    public bool Trainable
    {
        set
        {
            foreach (var block in _blocks)
            {
                block.Trainable = value;
            }
        }
    }

    /// <inheritdoc/>
    public IEnumerator<TBlock> GetEnumerator() => ((IEnumerable<TBlock>)_blocks).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => _blocks.GetEnumerator();
}

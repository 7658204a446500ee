namespace NetDsl;

/// <summary>
/// Marks a <c>partial class</c> (deriving from <see cref="Block"/>) as a reusable block of layers: a residual block, a
/// bottleneck, an Inception module. Its layers are partial properties with layer attributes, as in a network; inside a
/// block, <see cref="LayerAttribute.NetworkInput"/> names the block's input, and its last layer is its output. Its
/// parameters are <c>const int</c> fields set to <see cref="BlockParameter"/> placeholders, used as they are in the layer
/// attributes (e.g. <c>[Conv2D(Filters, 3, Stride = Stride)]</c>); each use gives their values, in declaration order.
/// A network uses a block with <see cref="BlocksAttribute"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class BlockAttribute : Attribute
{
}

/// <summary>
/// The placeholders of a block's parameters: <c>public const int Filters = BlockParameter.P0;</c>. The generator
/// replaces each with the value a use gives; they are not meant for arithmetic (a derived size is a parameter of its own).
/// </summary>
public static class BlockParameter
{
    /// <summary>The first parameter.</summary>
    public const int P0 = -2_000_000_000;

    /// <summary>The second parameter.</summary>
    public const int P1 = P0 + 1;

    /// <summary>The third parameter.</summary>
    public const int P2 = P0 + 2;

    /// <summary>The fourth parameter.</summary>
    public const int P3 = P0 + 3;

    /// <summary>The fifth parameter.</summary>
    public const int P4 = P0 + 4;

    /// <summary>The sixth parameter.</summary>
    public const int P5 = P0 + 5;

    /// <summary>The seventh parameter.</summary>
    public const int P6 = P0 + 6;

    /// <summary>The eighth parameter.</summary>
    public const int P7 = P0 + 7;
}

/// <summary>
/// A number of blocks of one block class in a row, each reading the one before (the first: the layer before, or
/// <see cref="LayerAttribute.Input"/>), with the block's parameters set to the given arguments.
/// Put it on a <c>partial BlockList&lt;TBlock&gt;</c> property: <c>[Blocks(typeof(Bottleneck), 3, 64, 256, 1)]</c>; the
/// layers are then <c>model.Stage[i].Conv1</c>, and weight files name their tensors <c>Stage[i].Conv1.kernel</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class BlocksAttribute : LayerAttribute
{
    /// <summary>Declares the blocks.</summary>
    /// <param name="block">The block class (a <see cref="BlockAttribute"/> class).</param>
    /// <param name="count">How many blocks in a row, at least 1.</param>
    /// <param name="arguments">The block's parameters, in the order of its <see cref="BlockParameter"/> constants.</param>
    public BlocksAttribute(Type block, int count, params int[] arguments)
    {
        Block = block;
        Count = count;
        Arguments = arguments;
    }

    /// <summary>The block class.</summary>
    public Type Block { get; }

    /// <summary>Blocks in a row.</summary>
    public int Count { get; }

    /// <summary>The block's parameters.</summary>
    public int[] Arguments { get; }
}

namespace NetDsl.Onnx;

/// <summary>The bounds <see cref="OnnxModelFile"/> enforces while reading a model file.</summary>
public sealed record OnnxReadOptions
{
    /// <summary>The protobuf format's own ceiling: one message is at most 2 GiB - 1 bytes.</summary>
    public const long ProtobufMaxBytes = int.MaxValue;

    /// <summary>The defaults: files up to 1 GiB, protobuf nesting up to 100 messages, subgraphs up to 16 deep.</summary>
    public static OnnxReadOptions Default { get; } = new();

    /// <summary>The largest file accepted, in bytes (at most <see cref="ProtobufMaxBytes"/>). The reader never holds
    /// more than this many bytes of input, and refuses a longer file or stream before parsing it.</summary>
    public long MaxBytes { get; init; } = 1L << 30;

    /// <summary>How deeply protobuf messages may nest (Google.Protobuf's recursion limit; its default is 100). A
    /// graph inside an attribute inside a node inside a graph is three levels.</summary>
    public int MaxRecursionDepth { get; init; } = 100;

    /// <summary>How deeply graphs may nest in other graphs' node attributes (If/Loop/Scan bodies); the main graph is
    /// depth 0.</summary>
    public int MaxGraphDepth { get; init; } = 16;

    internal void Validate()
    {
        if (MaxBytes <= 0 || MaxBytes > ProtobufMaxBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBytes), MaxBytes, $"must be in 1..{ProtobufMaxBytes}.");
        }

        if (MaxRecursionDepth <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRecursionDepth), MaxRecursionDepth, "must be positive.");
        }

        if (MaxGraphDepth < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxGraphDepth), MaxGraphDepth, "must not be negative.");
        }
    }
}

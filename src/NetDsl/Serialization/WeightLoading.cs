namespace NetDsl.Serialization;

/// <summary>How <see cref="Network.LoadWeights(string, WeightLoadOptions?)"/> matches a file's tensors to the network's.</summary>
public sealed class WeightLoadOptions
{
    /// <summary>The default: strict, every tensor must match.</summary>
    public static WeightLoadOptions Strict { get; } = new();

    /// <summary>Loads only what matches, for transfer learning (see <see cref="Partial"/>).</summary>
    public static WeightLoadOptions PartialLoad { get; } = new() { Partial = true };

    /// <summary>
    /// False (the default): the file must hold exactly the network's tensors, each with the network's shape and
    /// dtype F32, or nothing is loaded and an <see cref="InvalidDataException"/> lists every mismatch. True: the
    /// tensors whose name, shape and dtype match are loaded, the others are left as they are, and the returned
    /// <see cref="WeightLoadReport"/> says which were skipped and why. A file that is not valid safetensors is an
    /// error either way.
    /// </summary>
    public bool Partial { get; init; }
}

/// <summary>Why a tensor was not loaded.</summary>
public enum WeightSkipReason
{
    /// <summary>The file holds the tensor, the network has no tensor of that name.</summary>
    NotInNetwork,

    /// <summary>The network has the tensor, the file does not.</summary>
    NotInFile,

    /// <summary>Both have the tensor, with different shapes.</summary>
    ShapeMismatch,

    /// <summary>The file stores the tensor with a dtype other than F32.</summary>
    DTypeMismatch,
}

/// <summary>A tensor a load did not copy.</summary>
/// <param name="Name">The tensor's name, e.g. <c>Output.kernel</c>.</param>
/// <param name="Reason">Why it was skipped.</param>
/// <param name="Message">The details (both shapes, the dtype), in words.</param>
public readonly record struct SkippedTensor(string Name, WeightSkipReason Reason, string Message);

/// <summary>What a load did: which tensors it copied, which it skipped and why, and the file's metadata.</summary>
public sealed class WeightLoadReport
{
    internal WeightLoadReport(IReadOnlyList<string> loaded, IReadOnlyList<SkippedTensor> skipped, IReadOnlyDictionary<string, string> metadata)
    {
        Loaded = loaded;
        Skipped = skipped;
        Metadata = metadata;
    }

    /// <summary>Names of the tensors copied into the network, in the network's order.</summary>
    public IReadOnlyList<string> Loaded { get; }

    /// <summary>Tensors not copied (always empty after a strict load, which throws instead).</summary>
    public IReadOnlyList<SkippedTensor> Skipped { get; }

    /// <summary>The file's <c>__metadata__</c> map (empty if it has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
}

/// <summary>
/// Where a training run stands, beyond what the network and the optimizer hold: saved in and returned by checkpoints
/// (<see cref="Network.SaveCheckpoint(string, NetDsl.Optimizers.IOptimizer, TrainingProgress)"/>).
/// </summary>
/// <param name="Epoch">Epochs completed (not negative).</param>
/// <param name="ShuffleState">
/// The <see cref="DeterministicRandom.State"/> of the generator that shuffles the training data, if any: assign it
/// back after loading to draw the same shuffles as an uninterrupted run.
/// </param>
public readonly record struct TrainingProgress(int Epoch, UInt128? ShuffleState = null);

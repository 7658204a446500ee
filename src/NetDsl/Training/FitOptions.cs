using NetDsl.Data;
using NetDsl.Metrics;

namespace NetDsl.Training;

/// <summary>
/// Everything <c>Network.Fit</c> can be told besides the data and the optimizer (Keras' <c>fit</c> arguments and the
/// <c>metrics</c> of <c>compile</c>). Every property has a default, so <c>new FitOptions { Epochs = 10 }</c> is a
/// complete set.
/// </summary>
public sealed record FitOptions
{
    /// <summary>The index after the last epoch (Keras' <c>epochs</c>): with <see cref="InitialEpoch"/> 0, the number of epochs. Default 1.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Samples per training step, 1 to the network's <see cref="Network.BatchSize"/>; 0 (default) means <see cref="Network.BatchSize"/>.</summary>
    public int BatchSize { get; init; }

    /// <summary>Data evaluated after every epoch (<c>val_loss</c>, <c>val_</c> metrics); null for none. Exclusive with <see cref="ValidationSplit"/>.</summary>
    public IDataSource? ValidationData { get; init; }

    /// <summary>
    /// The share of the training data, taken from its end before any shuffling, to hold out for validation, as Keras'
    /// <c>validation_split</c> (see <see cref="DataSource.SplitLast"/>); 0 (default) for none. Those samples are never
    /// trained on. Exclusive with <see cref="ValidationData"/> (Keras lets <c>validation_data</c> win; here setting
    /// both is an error).
    /// </summary>
    public double ValidationSplit { get; init; }

    /// <summary>Whether the training samples are shuffled every epoch (default true).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>
    /// The seed of the shuffles; null (default) uses the network's <see cref="Network.Seed"/>. Epoch <c>e</c>'s order
    /// depends only on this seed and <c>e</c>, so a run resumed at <see cref="InitialEpoch"/> sees the same batches as
    /// an uninterrupted one.
    /// </summary>
    public ulong? ShuffleSeed { get; init; }

    /// <summary>The first epoch's index, for resuming a run (Keras' <c>initial_epoch</c>). Default 0.</summary>
    public int InitialEpoch { get; init; }

    /// <summary>Callbacks, run in order after the progress output.</summary>
    public IReadOnlyList<Callback>? Callbacks { get; init; }

    /// <summary>The metrics besides the loss; null (default) means <c>[new Accuracy()]</c>, an empty list none. Names must be unique and not <c>loss</c>.</summary>
    public IReadOnlyList<Metric>? Metrics { get; init; }

    /// <summary>How much to print. Default <see cref="Verbosity.Auto"/>.</summary>
    public Verbosity Verbose { get; init; } = Verbosity.Auto;

    /// <summary>Where progress goes; null (default) means <see cref="Console.Out"/>.</summary>
    public TextWriter? Output { get; init; }

    /// <summary>
    /// Trains data-parallel over these processes (for example <c>MpiCommunicator.World()</c> under <c>mpirun</c>);
    /// null (default) trains in this process alone. Every rank calls <c>Fit</c> with the same data and options:
    /// each draws the same shuffled global batches of <see cref="BatchSize"/> samples (0 means the network's batch size
    /// times the number of ranks; at most that), trains on its contiguous shard of each, and the gradients are averaged
    /// over the ranks before every update, so the weights follow the same path as one process training on the global
    /// batches (see the README for what differs: BatchNorm statistics and dropout masks are per rank).
    /// </summary>
    /// <remarks>
    /// Rank 0's parameters are broadcast first; the ranks must agree on the data's size, the batch size, the epochs and
    /// the optimizer's state (a mismatch is an <see cref="InvalidOperationException"/> on every rank). The loss, the
    /// metrics and validation cover the whole global batches (the outputs are gathered), so every rank sees the same
    /// logs and every callback decides the same way; only rank 0 prints progress and runs the callbacks that write
    /// files (<see cref="Callback.RootRankOnly"/>: checkpoints, CSV logs). A stop requested by a callback or a
    /// cancellation on any rank ends training on every rank after the same batch. The network must be a CPU
    /// <see cref="Network"/>.
    /// </remarks>
    public IProcessGroup? Distributed { get; init; }
}

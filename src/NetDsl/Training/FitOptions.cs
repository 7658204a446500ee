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
}

using NetDsl.Optimizers;

namespace NetDsl;

/// <summary>
/// What the Keras-level training API runs on: a generated <see cref="Network"/> on the CPU, or a device session of one
/// (NetDsl.Gpu). <c>Fit</c>, <c>Evaluate</c> and <c>Predict</c> over data sources are one implementation for both, built
/// on the members below.
/// </summary>
public abstract partial class Model : IDisposable
{
    /// <summary>The largest number of samples one step takes.</summary>
    public abstract int BatchSize { get; }

    /// <summary>Floats per input sample.</summary>
    public abstract int InputSize { get; }

    /// <summary>Floats per output sample.</summary>
    public abstract int OutputSize { get; }

    /// <summary>The loss the network trains with.</summary>
    public abstract Loss Loss { get; }

    /// <summary>The seed the network was created with (weight initialisation, dropout masks, default shuffles).</summary>
    public abstract int Seed { get; }

    /// <summary>
    /// Whether training steps take one integer class label per sample (<see cref="Loss.SparseCategoricalCrossEntropy"/>);
    /// otherwise they take <see cref="OutputSize"/> float targets per sample.
    /// </summary>
    public bool TakesClassLabels => Loss == Loss.SparseCategoricalCrossEntropy;

    /// <summary>
    /// The CPU network whose weights, optimizer state and step count callbacks see (<see cref="Training.TrainingContext.Network"/>):
    /// the network itself, or the network a device session was created from.
    /// </summary>
    public abstract Network HostNetwork { get; }

    /// <summary>
    /// One training step: forward, backward and an optimizer update; returns the mean loss of the batch, or NaN when the
    /// loss or a gradient was NaN or infinite and the update was skipped (<see cref="LastStepSkipped"/>).
    /// </summary>
    /// <param name="inputs">Samples, <see cref="InputSize"/> floats each, 1 to <see cref="BatchSize"/> of them.</param>
    /// <param name="labels">One class index per sample.</param>
    /// <param name="optimizer">The update rule; its state restarts from zero whenever a different optimizer instance is passed.</param>
    public abstract float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, IOptimizer optimizer);

    /// <summary>
    /// One training step for a network trained with float targets; returns the mean loss of the batch, or NaN when the
    /// update was skipped (<see cref="LastStepSkipped"/>).
    /// </summary>
    /// <param name="inputs">Samples, <see cref="InputSize"/> floats each, 1 to <see cref="BatchSize"/> of them.</param>
    /// <param name="targets"><see cref="OutputSize"/> finite floats per sample.</param>
    /// <param name="optimizer">The update rule; its state restarts from zero whenever a different optimizer instance is passed.</param>
    public abstract float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets, IOptimizer optimizer);

    /// <summary>
    /// Whether the last training step skipped its update because the loss or a gradient was NaN or infinite. Such a step
    /// leaves every parameter, the optimizer state and its step count as they were (as a mixed-precision loss scaler
    /// does) and <c>TrainStep</c> returns NaN, so a NaN is never silent: <c>Fit</c> stops with a
    /// <see cref="Training.NonFiniteTrainingException"/> naming the epoch and step (or <see cref="Training.TerminateOnNaN"/> stops
    /// it first). Activations and pooling propagate NaN (IEEE 754, as PyTorch), so a NaN input reaches the loss.
    /// </summary>
    public bool LastStepSkipped { get; internal set; }

    /// <summary>How many training steps of this model skipped their update (see <see cref="LastStepSkipped"/>).</summary>
    public long SkippedSteps { get; internal set; }

    /// <summary>
    /// Runs the network on any number of samples (in chunks of <see cref="BatchSize"/>) and writes
    /// <see cref="OutputSize"/> floats per sample: class probabilities for a classifier.
    /// </summary>
    public abstract void Predict(ReadOnlySpan<float> inputs, Span<float> outputs);

    /// <summary>Frees what the model holds (arena, threads, device memory).</summary>
    public abstract void Dispose();

    /// <summary>The outputs of the last training forward pass, <paramref name="rows"/> x <see cref="OutputSize"/> (the training metrics read them).</summary>
    protected abstract ReadOnlySpan<float> TrainingOutputs(int rows);

    /// <summary>Throws <see cref="ObjectDisposedException"/> when the model was disposed.</summary>
    protected abstract void ThrowIfDisposed();

    /// <summary>Throws <see cref="InvalidOperationException"/> when the model cannot be trained (e.g. a network created for inference only).</summary>
    protected virtual void ThrowIfCannotTrain()
    {
    }

    /// <summary>
    /// Called by <c>Fit</c> right before the epoch-end callbacks, before the train-end callbacks and when training is
    /// aborted: makes <see cref="HostNetwork"/> hold the current weights, optimizer state and step count. Nothing to do
    /// on the CPU (the network is its own host).
    /// </summary>
    /// <param name="optimizer">The optimizer of the run.</param>
    protected virtual void SynchronizeHost(IOptimizer optimizer)
    {
    }

    /// <summary>
    /// Called by <c>Fit</c> after the train-begin callbacks and after every epoch's end callbacks: takes back what the
    /// callbacks may have changed on <see cref="HostNetwork"/> (EarlyStopping restoring the best weights, a loaded
    /// checkpoint). Nothing to do on the CPU.
    /// </summary>
    /// <param name="optimizer">The optimizer of the run.</param>
    protected virtual void PublishHost(IOptimizer optimizer)
    {
    }
}

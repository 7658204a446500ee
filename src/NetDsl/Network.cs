using NetDsl.Optimizers;
using NetDsl.Threading;

namespace NetDsl;

/// <summary>Where a generated network keeps its tensors in the arena: computed at compile time, passed to <see cref="Network"/>.</summary>
/// <param name="InputSize">Floats per input sample.</param>
/// <param name="OutputSize">Floats per output sample (= classes for a classifier).</param>
/// <param name="ParameterLength">Floats in the parameter block (alignment padding included); the block starts at 0.</param>
/// <param name="InputOffset">Start of the staged input batch.</param>
/// <param name="OutputOffset">Start of the network's output batch (probabilities for a classifier).</param>
/// <param name="ArenaLength">Total floats for the batch size the network was built for.</param>
/// <param name="InputChannels">For image inputs (C, H, W): C, else 0. Inputs arrive channels first and are staged channels last.</param>
/// <param name="InputHeight">For image inputs: H, else 0.</param>
/// <param name="InputWidth">For image inputs: W, else 0.</param>
/// <param name="Loss">The loss the network trains with (decides whether steps take class labels or float targets).</param>
/// <param name="InferenceOnly">The arena holds parameters and inference tensors only: no gradients, optimizer state or
/// training buffers, so nothing may train the network.</param>
public readonly record struct NetworkLayout(int InputSize, int OutputSize, int ParameterLength, long InputOffset, long OutputOffset, long ArenaLength,
    int InputChannels = 0, int InputHeight = 0, int InputWidth = 0, Loss Loss = Loss.SparseCategoricalCrossEntropy, bool InferenceOnly = false)
{
    /// <summary>Start of the gradient block (mirrors the parameter block).</summary>
    public long GradientOffset => ParameterLength;

    /// <summary>Start of the optimizer state (<see cref="ParameterSlice.MaxStateSlots"/> blocks like the parameter block).</summary>
    public long StateOffset => 2L * ParameterLength;
}

/// <summary>
/// The runtime half of every generated network: owns the arena and worker threads, validates inputs, stages
/// batches and runs the optimizer. The generated half (the user's partial class) supplies the layer views, the
/// weight initialisation and the fused kernel schedule for its exact architecture.
/// </summary>
public abstract partial class Network : Model, IParallelJob
{
    private readonly WorkerPool _pool;
    private readonly int[] _labels;
    private readonly float[] _targets;
    private readonly double[] _lossPartials;
    private readonly int[] _inputShape;
    private Layer[] _layers = [];
    private bool _disposed;

    /// <summary>Allocates the arena and starts the worker threads.</summary>
    /// <param name="batchSize">The largest batch a step takes.</param>
    /// <param name="threads">Threads per step; 0 means all processors.</param>
    /// <param name="seed">Seed of the weight initialisation and of the dropout masks.</param>
    /// <param name="layout">The compile-time arena plan.</param>
    protected Network(int batchSize, int threads, int seed, NetworkLayout layout)
    {
        Seed = seed;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        BatchSize = batchSize;
        Layout = layout;
        _inputShape = layout.InputChannels > 0 ? [layout.InputChannels, layout.InputHeight, layout.InputWidth] : [layout.InputSize];
        Arena = new Arena(layout.ArenaLength);
        _pool = new WorkerPool(threads);
        bool labels = layout.Loss == Loss.SparseCategoricalCrossEntropy;
        _labels = new int[labels ? batchSize : 0];
        _targets = new float[labels ? 0 : checked(batchSize * layout.OutputSize)];
        _lossPartials = new double[_pool.Threads];
    }

    /// <inheritdoc/>
    public override int BatchSize { get; }

    /// <inheritdoc/>
    public override int InputSize => Layout.InputSize;

    /// <inheritdoc/>
    public override int OutputSize => Layout.OutputSize;

    /// <inheritdoc/>
    public override Loss Loss => Layout.Loss;

    /// <summary>Shape of one input sample: (channels, height, width) for images, (features) otherwise.</summary>
    public ReadOnlySpan<int> InputShape => _inputShape;

    /// <summary>The network itself: on the CPU the callbacks see the network they train.</summary>
    public override Network HostNetwork => this;

    /// <summary>The compile-time arena plan (for the GPU backend, which mirrors the parameter blocks).</summary>
    internal NetworkLayout ArenaLayout => Layout;

    /// <summary>Threads each step runs on.</summary>
    public int Threads => _pool.Threads;

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<Layer> Layers => _layers;

    /// <summary>All parameters, layer after layer, as one span (alignment padding between tensors included, always zero).</summary>
    public Span<float> Parameters => Arena.GetSpan(0, Layout.ParameterLength);

    /// <summary>All gradients of the last computed loss, laid out like <see cref="Parameters"/>.</summary>
    /// <exception cref="InvalidOperationException">The network was created for inference only.</exception>
    public Span<float> Gradients
    {
        get
        {
            ThrowIfInferenceOnly();
            return Arena.GetSpan(Layout.GradientOffset, Layout.ParameterLength);
        }
    }

    /// <summary>
    /// Whether the network was created for inference only (the generated <c>ForInference</c>): its arena has no room
    /// for gradients, optimizer state or training buffers, so training it throws.
    /// </summary>
    public bool IsInferenceOnly => Layout.InferenceOnly;

    /// <summary>
    /// Bytes of the network's one arena: parameters, then (unless <see cref="IsInferenceOnly"/>) gradients, optimizer
    /// state and scratch, then the per-batch tensors, which share memory wherever their lifetimes allow.
    /// </summary>
    public long ArenaBytes => Arena.Length * sizeof(float);

    /// <summary>Total number of parameters.</summary>
    public long ParameterCount => _layers.Sum(l => (long)l.ParameterCount);

    /// <summary>The arena holding every tensor.</summary>
    protected internal Arena Arena { get; }

    /// <summary>The compile-time plan.</summary>
    protected NetworkLayout Layout { get; }

    /// <summary>Distance from a parameter to its gradient.</summary>
    internal long GradientShift
    {
        get
        {
            ThrowIfInferenceOnly();
            return Layout.GradientOffset;
        }
    }

    /// <summary>Throws when the network was created for inference only: it has no memory for what training writes.</summary>
    protected override void ThrowIfCannotTrain() => ThrowIfInferenceOnly();

    private void ThrowIfInferenceOnly()
    {
        if (Layout.InferenceOnly)
        {
            throw new InvalidOperationException($"{GetType().Name} was created for inference only ({GetType().Name}.ForInference): its arena has no gradients, optimizer state or training buffers. Create it with new {GetType().Name}(batchSize) to train it.");
        }
    }

    /// <summary>Samples in the batch being processed.</summary>
    protected int Rows { get; private set; }

    /// <inheritdoc/>
    public override int Seed { get; }

    /// <summary>Training forward passes run so far (each one draws fresh dropout masks).</summary>
    public long Steps { get; internal set; }

    /// <summary>Whether the pass in progress is a training pass (dropout active, batch statistics).</summary>
    protected bool Training { get; private set; }

    /// <summary>
    /// The dropout seed of layer <paramref name="layer"/> for the current training pass: a hash of the network seed,
    /// the step number and the layer, so masks are reproducible and independent between layers and steps.
    /// </summary>
    protected ulong DropoutSeed(int layer)
    {
        ulong z = unchecked((ulong)Seed * 0x9E3779B97F4A7C15UL + (ulong)Steps * 0xBF58476D1CE4E5B9UL + (ulong)layer * 0x94D049BB133111EBUL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The labels of the batch being processed (networks trained with class labels).</summary>
    protected ReadOnlySpan<int> Labels => _labels.AsSpan(0, Rows);

    /// <summary>The float targets of the batch being processed, <see cref="OutputSize"/> per sample (networks trained with targets).</summary>
    protected ReadOnlySpan<float> Targets => _targets.AsSpan(0, Rows * OutputSize);

    /// <summary>
    /// Forward and backward pass without updating: fills the gradients of every trainable layer and returns the
    /// mean loss over the batch.
    /// </summary>
    /// <param name="inputs">Samples, <see cref="InputSize"/> floats each, 1 to <see cref="BatchSize"/> of them.</param>
    /// <param name="labels">One class index per sample.</param>
    public float ComputeGradients(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels)
    {
        ThrowIfInferenceOnly();
        int rows = StageBatch(inputs, labels);
        return RunTrainingPass(rows);
    }

    /// <summary>
    /// Forward and backward pass without updating, for a network trained with float targets (every loss but
    /// <see cref="Loss.SparseCategoricalCrossEntropy"/>): fills the gradients of every trainable layer and returns the
    /// mean loss over the batch.
    /// </summary>
    /// <param name="inputs">Samples, <see cref="InputSize"/> floats each, 1 to <see cref="BatchSize"/> of them.</param>
    /// <param name="targets"><see cref="OutputSize"/> finite floats per sample (one-hot rows for categorical cross-entropy).</param>
    public float ComputeGradients(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets)
    {
        ThrowIfInferenceOnly();
        int rows = StageBatch(inputs, targets);
        return RunTrainingPass(rows);
    }

    private float RunTrainingPass(int rows)
    {
        Steps++;
        Training = true;
        if (CheckFiniteGradients)
        {
            SaveMovingStatistics();
        }

        Forward(rows, training: true);
        Array.Clear(_lossPartials);
        Backward(rows);
        double total = 0;
        foreach (double partial in _lossPartials)
        {
            total += partial;
        }

        return (float)(total / rows);
    }

    /// <inheritdoc/>
    public override void Predict(ReadOnlySpan<float> inputs, Span<float> outputs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int count = CountSamples(inputs);
        if (outputs.Length != count * OutputSize)
        {
            throw new ArgumentException($"{count} samples need {count * OutputSize} output floats ({OutputSize} each), but the output span has {outputs.Length}.", nameof(outputs));
        }

        for (int start = 0; start < count; start += BatchSize)
        {
            int rows = Math.Min(BatchSize, count - start);
            StageInputs(inputs.Slice(start * InputSize, rows * InputSize));
            Rows = rows;
            Training = false;
            Forward(rows, training: false);
            Arena.GetSpan(Layout.OutputOffset, rows * OutputSize).CopyTo(outputs.Slice(start * OutputSize, rows * OutputSize));
        }
    }

    /// <summary>Stops the worker threads and frees the arena.</summary>
    public override void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _pool.Dispose();
            Arena.Dispose();
        }

        GC.SuppressFinalize(this);
    }

    /// <inheritdoc/>
    protected override void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>The outputs of the last training forward pass (the backward pass and the update write only gradients,
    /// optimizer state and parameters, so they are still in the arena).</summary>
    protected override ReadOnlySpan<float> TrainingOutputs(int rows) => Arena.GetSpan(Layout.OutputOffset, rows * OutputSize);

    /// <summary>Stops the worker threads of a network that was never disposed (the arena frees itself).</summary>
    ~Network() => _pool?.Stop(); // null when the constructor threw before starting the pool

    /// <summary>Registers the layer views (called once by the generated constructor).</summary>
    protected void SetLayers(params Layer[] layers) => _layers = layers;

    /// <summary>
    /// Registers what each layer reads (called once by the generated constructor, after <see cref="SetLayers"/>):
    /// <paramref name="sources"/>[i] lists the indices of the layers layer i reads, in order, -1 for the network input.
    /// </summary>
    protected void SetGraph(int[][] sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (sources.Length != _layers.Length)
        {
            throw new ArgumentException($"{_layers.Length} layers need as many source lists, but there are {sources.Length}.", nameof(sources));
        }

        for (int i = 0; i < sources.Length; i++)
        {
            _layers[i].SetSources([.. sources[i].Select(p => p < 0 ? null : p < i ? _layers[p] : throw new ArgumentException($"Layer {i} reads layer {p}, which is not before it.", nameof(sources)))]);
        }
    }

    /// <summary>Runs the forward pass on the staged batch of <paramref name="rows"/> samples.</summary>
    protected abstract void Forward(int rows, bool training);

    /// <summary>Runs loss and backward pass on the staged batch; reports the loss sum through <see cref="AddLoss"/>.</summary>
    protected abstract void Backward(int rows);

    /// <summary>
    /// Called by the generated backward pass as soon as the gradients from arena offset <paramref name="gradientOffset"/>
    /// to the end of the gradient block are final (the layers run backwards, so they finish as a suffix): data-parallel
    /// training starts reducing them while the earlier layers still compute. One null check when nobody listens.
    /// </summary>
    protected void GradientsFinal(long gradientOffset) => GradientObserver?.GradientsFinal((int)(gradientOffset - Layout.GradientOffset));

    /// <summary>Who hears of <see cref="GradientsFinal"/> during the next backward pass (a data-parallel step), or null.</summary>
    internal IGradientObserver? GradientObserver { get; set; }

    /// <summary>Runs part <paramref name="part"/> of generated job <paramref name="job"/>.</summary>
    protected abstract void ExecuteJob(int job, int part, int parts);

    /// <summary>Runs generated job <paramref name="job"/> on all threads and waits for it.</summary>
    protected void Dispatch(int job)
    {
        if (_phaseTicks is null)
        {
            _pool.Run(this, job);
            return;
        }

        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        _pool.Run(this, job);
        _phaseTicks[job] += System.Diagnostics.Stopwatch.GetTimestamp() - start;
        _phaseCalls![job]++;
    }

    private long[]? _phaseTicks;
    private int[]? _phaseCalls;

    /// <summary>
    /// Whether every phase (one fused kernel pass: a layer's forward, its backward, the loss, ...) is timed, for
    /// <see cref="PhaseTimings"/>. Off by default; timing costs two clock reads per phase. Setting it to true
    /// (again) starts from zero.
    /// </summary>
    public bool Profiling
    {
        get => _phaseTicks is not null;
        set
        {
            _phaseTicks = value ? new long[PhaseNames.Count] : null;
            _phaseCalls = value ? new int[PhaseNames.Count] : null;
        }
    }

    /// <summary>The phases the generated code dispatches, by job number: name and what it computes.</summary>
    protected virtual IReadOnlyList<(string Name, string Description)> PhaseNames => [];

    /// <summary>
    /// Where the time went since <see cref="Profiling"/> was switched on: each phase that ran, with its calls and total
    /// wall time, slowest first (a per-layer profile: phases are named after their layer, e.g. <c>Forward_Conv1</c>).
    /// </summary>
    public IReadOnlyList<PhaseTiming> PhaseTimings()
    {
        if (_phaseTicks is null)
        {
            return [];
        }

        var names = PhaseNames;
        return [.. Enumerable.Range(0, _phaseTicks.Length).Where(j => _phaseCalls![j] > 0)
            .Select(j => new PhaseTiming(names[j].Name, names[j].Description, _phaseCalls![j], System.Diagnostics.Stopwatch.GetElapsedTime(0, _phaseTicks[j])))
            .OrderByDescending(t => t.Total)];
    }

    /// <summary>Adds a part's loss sum (each part writes its own slot: no contention).</summary>
    protected void AddLoss(int part, float sum) => _lossPartials[part] += sum;

    /// <inheritdoc/>
    void IParallelJob.Execute(int job, int part, int parts)
    {
        if (job == OptimizerJob)
        {
            UpdateParameters(part, parts);
        }
        else if (job == FiniteCheckJob)
        {
            CheckGradientsFinite(part, parts);
        }
        else
        {
            ExecuteJob(job, part, parts);
        }
    }

    private int StageBatch(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels)
    {
        int rows = ValidateStep(inputs, labels);
        StageInputs(inputs);
        labels.CopyTo(_labels);
        Rows = rows;
        return rows;
    }

    private int StageBatch(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets)
    {
        int rows = ValidateStep(inputs, targets);
        StageInputs(inputs);
        targets.CopyTo(_targets);
        Rows = rows;
        return rows;
    }

    /// <summary>The checks of a training step with class labels (sample count, loss kind, label range); returns the row count.</summary>
    internal int ValidateStep(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels)
    {
        int rows = CountStepSamples(inputs);
        if (!TakesClassLabels)
        {
            throw new InvalidOperationException($"This network trains with {Loss}, which takes {OutputSize} float target(s) per sample, not class labels; pass the targets as a ReadOnlySpan<float>.");
        }

        if (labels.Length != rows)
        {
            throw new ArgumentException($"{rows} samples need {rows} labels, but got {labels.Length}.", nameof(labels));
        }

        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)OutputSize)
            {
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"Label {i} is {labels[i]}; labels must be class indices in [0, {OutputSize}).");
            }
        }

        return rows;
    }

    /// <summary>The checks of a training step with float targets (sample count, loss kind, finite targets); returns the row count.</summary>
    internal int ValidateStep(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets)
    {
        int rows = CountStepSamples(inputs);
        if (TakesClassLabels)
        {
            throw new InvalidOperationException($"This network trains with {Loss}, which takes one integer class label per sample; pass the labels as a ReadOnlySpan<int>.");
        }

        if (targets.Length != rows * OutputSize)
        {
            throw new ArgumentException($"{rows} samples need {rows * OutputSize} targets ({OutputSize} each), but got {targets.Length}.", nameof(targets));
        }

        for (int i = 0; i < targets.Length; i++)
        {
            if (!float.IsFinite(targets[i]))
            {
                throw new ArgumentException($"Target {i} (sample {i / OutputSize}, output {i % OutputSize}) is {targets[i]}; targets must be finite.", nameof(targets));
            }
        }

        return rows;
    }

    /// <summary>The number of samples of a training step; throws unless it is 1 to <see cref="BatchSize"/>.</summary>
    private int CountStepSamples(ReadOnlySpan<float> inputs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int rows = CountSamples(inputs);
        if (rows == 0 || rows > BatchSize)
        {
            throw new ArgumentException($"A step takes 1 to {BatchSize} samples (the batch size this network was built for), but got {rows}.", nameof(inputs));
        }

        return rows;
    }

    /// <summary>Copies a batch into the arena, converting images from channels-first to the internal channels-last layout.</summary>
    private void StageInputs(ReadOnlySpan<float> inputs)
    {
        var destination = Arena.GetSpan(Layout.InputOffset, inputs.Length);
        if (Layout.InputChannels <= 1)
        {
            inputs.CopyTo(destination); // flat, or one channel: both layouts coincide
            return;
        }

        Kernels.Layout.ChannelsFirstToLast(inputs, destination, inputs.Length / InputSize, Layout.InputChannels, Layout.InputHeight, Layout.InputWidth);
    }

    /// <summary>The number of samples in <paramref name="inputs"/>; throws when it is not a whole number.</summary>
    private int CountSamples(ReadOnlySpan<float> inputs)
    {
        if (inputs.Length % InputSize != 0)
        {
            throw new ArgumentException($"{inputs.Length} input floats is not a whole number of samples of {InputSize} floats.", nameof(inputs));
        }

        return inputs.Length / InputSize;
    }
}

/// <summary>One phase of a generated network's passes, as <see cref="Network.PhaseTimings"/> measured it.</summary>
/// <param name="Phase">The phase's name (e.g. <c>Forward_Conv1</c>, <c>Infer_Layer1_0_Conv2</c>, <c>Backward_Dense</c>).</param>
/// <param name="Description">What it computes (the generated code's comment).</param>
/// <param name="Calls">How often it ran.</param>
/// <param name="Total">Wall time of all its runs.</param>
public readonly record struct PhaseTiming(string Phase, string Description, int Calls, TimeSpan Total);

/// <summary>Hears from the backward pass which gradients are final (see <see cref="Network.GradientObserver"/>).</summary>
internal interface IGradientObserver
{
    /// <summary>The gradients of parameters <paramref name="offset"/> to the end of the parameter block are final.</summary>
    void GradientsFinal(int offset);
}

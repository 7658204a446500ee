using ILGPU;
using ILGPU.Runtime;
using NetDsl.Optimizers;

namespace NetDsl.Gpu;

/// <summary>
/// Where a generated GPU session keeps its tensors in the device arena: the CPU plan's parameter, gradient and state
/// blocks at their CPU offsets (<paramref name="ParameterLength"/> floats each), then the GPU scratch, then activations at
/// <c><paramref name="ActivationOffset"/> + prefix * capacity</c>. Prefixes are per-sample float offsets; -1 for none.
/// </summary>
/// <param name="ParameterLength">Floats in the parameter block (the gradient block and each state block mirror it).</param>
/// <param name="ActivationOffset">Start of the activation region.</param>
/// <param name="FloatsPerSample">Activation floats per sample of capacity.</param>
/// <param name="Input">Prefix of the staged input batch (channels last).</param>
/// <param name="Outputs">Prefix of the network's outputs (probabilities for a classifier).</param>
/// <param name="Targets">Prefix of the staged float targets, or -1 for a network trained with class labels.</param>
/// <param name="LossRows">Prefix of the per-sample losses.</param>
/// <param name="LossSum">Offset (absolute, in the scratch) of the batch's loss sum.</param>
public readonly record struct GpuArenaLayout(long ParameterLength, long ActivationOffset, long FloatsPerSample, long Input, long Outputs, long Targets, long LossRows, long LossSum);

/// <summary>
/// The runtime half of every generated GPU session: one device arena, page-locked staging for inputs and labels, the
/// kernels loaded once, a training step as a fixed sequence of launches on one stream, and the fused optimizer kernels.
/// The generated half supplies the kernels (every shape a literal constant) and the launch schedule of its network.
/// </summary>
/// <remarks>
/// A step allocates nothing on the host and compiles nothing; the only host synchronisation is reading the loss (and,
/// in <c>Fit</c>, the outputs for the metrics). Weights live on the device while a session trains:
/// <see cref="CopyToHost"/> and <see cref="CopyFromHost"/> move the parameters, gradients, optimizer state and step
/// count between the session and its network (<c>Fit</c> does it at epoch boundaries for the callbacks), so weight files
/// and checkpoints work from either.
/// </remarks>
public abstract class GpuSession : Model
{
    private readonly Network _host;
    private readonly GpuDevice _device;
    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _arena;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _labels;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _optimizerScratch;
    private readonly PageLockedArray1D<float> _stagedInputs;
    private readonly PageLockedArray1D<int> _stagedLabels;
    private readonly PageLockedArray1D<float> _stagedTargets;
    private readonly float[] _outputs;
    private readonly float[] _lossSum = new float[2]; // the loss sum, then the non-finite flag

    /// <summary>Arena offsets of the BatchNorm moving statistics, and their copy from before the step (null without BatchNorm).</summary>
    private readonly MemoryBuffer1D<long, Stride1D.Dense>? _movingTable;
    private readonly MemoryBuffer1D<float, Stride1D.Dense>? _movingBackup;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<long>, ArrayView<float>>? _saveMoving;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<long>, ArrayView<float>>? _restoreMoving;

    /// <summary>Whether a step checks the gradients for NaN and infinity on the device and skips the update when it finds one (on by default).</summary>
    internal bool CheckFiniteGradients { get; set; } = true;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<int>, GpuStep>[] _kernels;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, GpuStep>[] _tiledKernels;
    private readonly GpuOptimizer _optimizer;
    private readonly GpuArenaLayout _layout;
    private readonly int _capacity;
    private readonly ParameterTensor[] _tensors;
    private readonly GpuTensor[] _trainable;
    private IOptimizer? _activeOptimizer;
    private GpuStep _step;
    private bool _disposed;

    /// <summary>Creates the session (called by the generated constructor).</summary>
    /// <param name="network">The network whose architecture and weights this session runs.</param>
    /// <param name="device">The device; it must outlive the session.</param>
    /// <param name="layout">The generated device arena plan.</param>
    /// <param name="kernels">The generated kernels (one thread per element), in the order of the generated kernel constants.</param>
    /// <param name="tiledKernels">The tiled forms of the hot kernels (explicitly grouped, shared memory), in the order of the
    /// generated tiled-kernel constants; loaded only when the device runs tiled kernels.</param>
    protected GpuSession(Network network, GpuDevice device, GpuArenaLayout layout, Action<Index1D, ArrayView<float>, ArrayView<int>, GpuStep>[] kernels,
        Action<ArrayView<float>, ArrayView<int>, GpuStep>[] tiledKernels)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(tiledKernels);
        device.ThrowIfDisposed();
        if (network.IsInferenceOnly)
        {
            // The session mirrors the host's gradients and optimizer state into it (checkpoints, callbacks), which an
            // inference-only host has no room for.
            throw new ArgumentException($"{network.GetType().Name} was created for inference only; a GPU session needs a host created with new {network.GetType().Name}(batchSize).", nameof(network));
        }

        _host = network;
        _device = device;
        _accelerator = device.Accelerator;
        _layout = layout;
        _capacity = checked((network.BatchSize + 15) / 16 * 16);
        long length = checked(layout.ActivationOffset + layout.FloatsPerSample * _capacity);
        try
        {
            _stream = _accelerator.CreateStream();
            _arena = _accelerator.Allocate1D<float>(length);
            _arena.MemSetToZero(_stream);
            _labels = _accelerator.Allocate1D<int>(_capacity);
            _labels.MemSetToZero(_stream);
            _stagedInputs = _accelerator.AllocatePageLocked1D<float>(checked((long)_capacity * network.InputSize));
            _stagedLabels = _accelerator.AllocatePageLocked1D<int>(_capacity);
            _stagedTargets = _accelerator.AllocatePageLocked1D<float>(layout.Targets >= 0 ? checked((long)_capacity * network.OutputSize) : 1);
            _outputs = new float[checked(_capacity * network.OutputSize)];
            _kernels = new Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<int>, GpuStep>[kernels.Length];
            for (int i = 0; i < kernels.Length; i++)
            {
                _kernels[i] = _accelerator.LoadAutoGroupedKernel(kernels[i]);
            }

            Tiled = device.KernelForm == GpuKernelForm.Tiled;
            _tiledKernels = new Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, GpuStep>[Tiled ? tiledKernels.Length : 0];
            for (int i = 0; i < _tiledKernels.Length; i++)
            {
                _tiledKernels[i] = _accelerator.LoadKernel(tiledKernels[i]);
            }

            _optimizer = new GpuOptimizer(device);
            _tensors = network.TrainableTensorRegions();
            _trainable = new GpuTensor[_tensors.Length];
            _optimizerScratch = _accelerator.Allocate1D<float>(_tensors.Length + 2); // clipping factors, then the non-finite flag
            long[] moving = network.MovingStatisticOffsets();
            if (moving.Length > 0)
            {
                _movingTable = _accelerator.Allocate1D(moving);
                _movingBackup = _accelerator.Allocate1D<float>(moving.Length);
                _saveMoving = _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<long>, ArrayView<float>>(OptimizerKernels.SaveMoving);
                _restoreMoving = _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<long>, ArrayView<float>>(OptimizerKernels.RestoreMoving);
            }
            _step = new GpuStep { Capacity = _capacity, Seed = network.Seed };
            CopyFromHost();
        }
        catch
        {
            DisposeResources();
            throw;
        }
    }

    /// <summary>The device the session runs on.</summary>
    public GpuDevice Device => _device;

    /// <summary>The network this session was created from (its layer views, flags and, after <see cref="CopyToHost"/>, weights).</summary>
    public override Network HostNetwork => _host;

    /// <inheritdoc/>
    public override int BatchSize => _host.BatchSize;

    /// <inheritdoc/>
    public override int InputSize => _host.InputSize;

    /// <inheritdoc/>
    public override int OutputSize => _host.OutputSize;

    /// <inheritdoc/>
    public override Loss Loss => _host.Loss;

    /// <inheritdoc/>
    public override int Seed => _host.Seed;

    /// <summary>Training passes run so far (dropout masks depend on it, as on the CPU).</summary>
    public long Steps { get; private set; }

    /// <summary>Bytes of device memory the session's arena and label buffer take.</summary>
    public long DeviceBytes => _arena.LengthInBytes + _labels.LengthInBytes;

    /// <summary>Whether the hot kernels run in their tiled form (the device's <see cref="GpuDevice.KernelForm"/>).</summary>
    protected bool Tiled { get; }

    /// <summary>Kernel launches of the last training step: forward, loss, backward and the optimizer's.</summary>
    public int LastStepLaunches { get; private set; }

    private int _launches;

    /// <summary>One training step on the device: forward, backward and optimizer update; returns the batch's mean loss.</summary>
    /// <param name="inputs">Samples, <see cref="InputSize"/> floats each (images channels first), 1 to <see cref="BatchSize"/> of them.</param>
    /// <param name="labels">One class index per sample.</param>
    /// <param name="optimizer">The update rule; its state lives on the device and restarts from zero when a different instance is passed.</param>
    public override float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, IOptimizer optimizer)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(optimizer);
        int rows = _host.ValidateStep(inputs, labels);
        labels.CopyTo(_stagedLabels.Span);
        _labels.View.SubView(0, rows).CopyFromCPU(_stream, _stagedLabels.Span[..rows]);
        return RunStep(inputs, rows, optimizer);
    }

    /// <summary>One training step on the device for a network trained with float targets.</summary>
    /// <param name="inputs">Samples, <see cref="InputSize"/> floats each, 1 to <see cref="BatchSize"/> of them.</param>
    /// <param name="targets"><see cref="OutputSize"/> finite floats per sample.</param>
    /// <param name="optimizer">The update rule.</param>
    public override float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets, IOptimizer optimizer)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(optimizer);
        int rows = _host.ValidateStep(inputs, targets);
        targets.CopyTo(_stagedTargets.Span);
        _step.ZeroOneTargets = GpuLoss.AllZeroOrOne(targets) ? 1 : 0;
        ActivationView(_layout.Targets, rows * OutputSize).CopyFromCPU(_stream, _stagedTargets.Span[..(rows * OutputSize)]);
        return RunStep(inputs, rows, optimizer);
    }

    private float RunStep(ReadOnlySpan<float> inputs, int rows, IOptimizer optimizer)
    {
        _ = optimizer.Options ?? throw new ArgumentException("The optimizer's Options is null.", nameof(optimizer));
        if (!ReferenceEquals(optimizer, _activeOptimizer))
        {
            if (optimizer.StateSlots is < 0 or > ParameterSlice.MaxStateSlots)
            {
                throw new ArgumentException($"The optimizer asks for {optimizer.StateSlots} state slots per parameter; at most {ParameterSlice.MaxStateSlots} are reserved.", nameof(optimizer));
            }

            _arena.View.SubView(2 * _layout.ParameterLength, ParameterSlice.MaxStateSlots * _layout.ParameterLength).MemSetToZero(_stream);
            _activeOptimizer = optimizer;
        }

        _launches = 0;
        Stage(inputs, rows);
        Steps++;
        _step.Rows = rows;
        _step.Training = 1;
        _step.Step = Steps;
        bool backupMoving = CheckFiniteGradients && _movingTable is not null;
        if (backupMoving)
        {
            _saveMoving!(_stream, new Index1D((int)_movingTable!.Length), _arena.View, _movingTable.View, _movingBackup!.View);
            _launches++;
        }

        RunForward(rows, training: true);
        RunBackward(rows);
        int tensors = TrainableTensors();
        int flag = CheckFiniteGradients ? tensors + 1 : -1;
        _optimizer.Step(_stream, _arena.View, _layout.ParameterLength, _trainable.AsSpan(0, tensors), optimizer, _optimizerScratch.View, flag);
        LastStepLaunches = _launches + _optimizer.LastLaunches;
        _arena.View.SubView(_layout.LossSum, 1).CopyToCPU(_stream, _lossSum.AsSpan(0, 1));
        if (flag >= 0)
        {
            _optimizerScratch.View.SubView(flag, 1).CopyToCPU(_stream, _lossSum.AsSpan(1, 1));
        }

        _stream.Synchronize();
        float loss = _lossSum[0] / rows;
        LastStepSkipped = flag >= 0 && _lossSum[1] != 0f;
        if (LastStepSkipped)
        {
            // The kernels wrote nothing: undo the step count BeginStep advanced, so the optimizer is as before the step.
            SkippedSteps++;
            optimizer.Iterations--;
            if (backupMoving)
            {
                _restoreMoving!(_stream, new Index1D((int)_movingTable!.Length), _arena.View, _movingTable.View, _movingBackup!.View);
                _stream.Synchronize();
            }

            return float.NaN;
        }

        return loss;
    }

    /// <summary>Runs the network on any number of samples (in chunks of <see cref="BatchSize"/>) on the device.</summary>
    public override void Predict(ReadOnlySpan<float> inputs, Span<float> outputs)
    {
        ThrowIfDisposed();
        if (inputs.Length % InputSize != 0)
        {
            throw new ArgumentException($"{inputs.Length} input floats is not a whole number of samples of {InputSize} floats.", nameof(inputs));
        }

        int count = inputs.Length / InputSize;
        if (outputs.Length != count * OutputSize)
        {
            throw new ArgumentException($"{count} samples need {count * OutputSize} output floats ({OutputSize} each), but the output span has {outputs.Length}.", nameof(outputs));
        }

        for (int start = 0; start < count; start += BatchSize)
        {
            int rows = Math.Min(BatchSize, count - start);
            Stage(inputs.Slice(start * InputSize, rows * InputSize), rows);
            _step.Rows = rows;
            _step.Training = 0;
            RunForward(rows, training: false);
            ActivationView(_layout.Outputs, rows * OutputSize).CopyToCPU(_stream, outputs.Slice(start * OutputSize, rows * OutputSize));
            _stream.Synchronize();
        }
    }

    /// <summary>
    /// Copies the parameters, gradients and optimizer state from the device into the network's arena, and the step count
    /// and active optimizer with them: afterwards <c>SaveWeights</c>, <c>SaveCheckpoint</c> and the layer views of the
    /// network see the session's weights.
    /// </summary>
    public void CopyToHost()
    {
        ThrowIfDisposed();
        long floats = (2 + ParameterSlice.MaxStateSlots) * _layout.ParameterLength;
        _arena.View.SubView(0, floats).CopyToCPU(_stream, _host.Arena.GetSpan(0, checked((int)floats)));
        _stream.Synchronize();
        _host.Steps = Steps;
        _host.ActiveOptimizer = _activeOptimizer;
    }

    /// <summary>
    /// Copies the network's parameters, gradients and optimizer state (and step count and active optimizer) to the device:
    /// after <c>LoadWeights</c> or <c>LoadCheckpoint</c> on the network, the session trains from there.
    /// </summary>
    public void CopyFromHost()
    {
        ThrowIfDisposed();
        long floats = (2 + ParameterSlice.MaxStateSlots) * _layout.ParameterLength;
        _arena.View.SubView(0, floats).CopyFromCPU(_stream, (ReadOnlySpan<float>)_host.Arena.GetSpan(0, checked((int)floats)));
        _stream.Synchronize();
        Steps = _host.Steps;
        _activeOptimizer = _host.ActiveOptimizer;
    }

    /// <inheritdoc/>
    protected override void SynchronizeHost(IOptimizer optimizer) => CopyToHost();

    /// <inheritdoc/>
    protected override void PublishHost(IOptimizer optimizer) => CopyFromHost();

    /// <inheritdoc/>
    protected override ReadOnlySpan<float> TrainingOutputs(int rows)
    {
        var outputs = _outputs.AsSpan(0, rows * OutputSize);
        ActivationView(_layout.Outputs, rows * OutputSize).CopyToCPU(_stream, outputs);
        _stream.Synchronize();
        return outputs;
    }

    /// <summary>Launches the forward pass of the staged batch (generated).</summary>
    protected abstract void RunForward(int rows, bool training);

    /// <summary>Launches the loss and the backward pass of the staged batch (generated).</summary>
    protected abstract void RunBackward(int rows);

    /// <summary>Launches generated kernel <paramref name="kernel"/> over <paramref name="threads"/> threads on the session's stream.</summary>
    protected void Launch(int kernel, long threads)
    {
        if (threads <= 0)
        {
            return;
        }

        _kernels[kernel](_stream, new Index1D(checked((int)threads)), _arena.View, _labels.View, _step);
        _launches++;
    }

    /// <summary>
    /// Launches generated tiled kernel <paramref name="kernel"/> over a product with <paramref name="rows"/> rows: groups of
    /// <paramref name="groupSize"/> threads, one per tile of <paramref name="tileRows"/> rows along x, <paramref name="columnTiles"/>
    /// along y and <paramref name="slices"/> slices of the reduction along z.
    /// </summary>
    protected void LaunchTiles(int kernel, long rows, int tileRows, int columnTiles, int slices, int groupSize)
    {
        if (rows <= 0)
        {
            return;
        }

        var grid = new Index3D(checked((int)((rows + tileRows - 1) / tileRows)), columnTiles, slices);
        _tiledKernels[kernel](_stream, new KernelConfig(grid, new Index3D(groupSize, 1, 1)), _arena.View, _labels.View, _step);
        _launches++;
    }

    /// <inheritdoc/>
    protected override void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Frees the device arena, the staging buffers and the stream (the device stays).</summary>
    public override void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            DisposeResources();
        }

        GC.SuppressFinalize(this);
    }

    private void DisposeResources()
    {
        _optimizer?.Dispose();
        _stagedTargets?.Dispose();
        _stagedLabels?.Dispose();
        _stagedInputs?.Dispose();
        _optimizerScratch?.Dispose();
        _movingTable?.Dispose();
        _movingBackup?.Dispose();
        _labels?.Dispose();
        _arena?.Dispose();
        _stream?.Dispose();
    }

    /// <summary>Copies a batch to the device, converting images from channels first to the internal channels last.</summary>
    private void Stage(ReadOnlySpan<float> inputs, int rows)
    {
        var staged = _stagedInputs.Span[..inputs.Length];
        var layout = _host.ArenaLayout;
        if (layout.InputChannels <= 1)
        {
            inputs.CopyTo(staged);
        }
        else
        {
            Kernels.Layout.ChannelsFirstToLast(inputs, staged, rows, layout.InputChannels, layout.InputHeight, layout.InputWidth);
        }

        ActivationView(_layout.Input, inputs.Length).CopyFromCPU(_stream, (ReadOnlySpan<float>)staged);
    }

    private ArrayView1D<float, Stride1D.Dense> ActivationView(long prefix, long length) =>
        _arena.View.SubView(_layout.ActivationOffset + prefix * _capacity, length);

    /// <summary>The trainable tensors right now (layers can be frozen between steps); returns their count.</summary>
    private int TrainableTensors()
    {
        int count = 0;
        var layers = _host.Layers;
        foreach (var tensor in _tensors)
        {
            if (layers[tensor.Layer].Trainable)
            {
                _trainable[count++] = new GpuTensor(tensor.Offset, tensor.Length, tensor.Count);
            }
        }

        return count;
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using NetDsl.Optimizers;
using NetDsl.Threading;

namespace NetDsl;

/// <summary>
/// The optimizer half of <see cref="Network"/>: the training step, the gradient-norm reduction for norm clipping and the
/// fused parameter update.
/// </summary>
public abstract partial class Network
{
    /// <summary>The job id of the optimizer pass; generated jobs use ids from 0 up.</summary>
    private const int OptimizerJob = -1;

    /// <summary>The job id of the pre-update scan for non-finite gradients.</summary>
    private const int FiniteCheckJob = -2;

    /// <summary>Per part of the scan: 1 when the part saw a NaN or infinite gradient (allocated once, on the first step).</summary>
    private int[]? _nonFiniteParts;

    /// <summary>
    /// Whether a step checks every trainable gradient for NaN and infinity before updating (and skips the update when
    /// one is found). On by default; off only for the benchmark that measures what the check costs.
    /// </summary>
    internal bool CheckFiniteGradients { get; set; } = true;

    /// <summary>Floats summed in float lanes before the partial sum is added in double (bounds the float rounding).</summary>
    private const int NormBlock = 4096;

    private IOptimizer? _optimizer;

    /// <summary>The optimizer whose state is in the arena (a different instance resets it); a device session sets it when it copies its state in.</summary>
    internal IOptimizer? ActiveOptimizer
    {
        get => _optimizer;
        set => _optimizer = value;
    }

    /// <summary>Every trainable tensor (built on the first step with norm clipping), layer by layer.</summary>
    private ParameterTensor[]? _tensors;

    /// <summary>Per part and tensor: the sum of squared gradients of the part's share (row-major, part × tensor).</summary>
    private double[]? _normPartials;

    /// <summary>Per tensor: the clipping factor of this step (<see cref="OptimizerOptions.ClipNorm"/>).</summary>
    private float[]? _tensorScales;

    /// <summary>The clipping factor of this step for every gradient (<see cref="OptimizerOptions.GlobalClipNorm"/>; 1 otherwise).</summary>
    private float _globalScale = 1f;

    /// <summary>Whether this step's update runs tensor by tensor with <see cref="_tensorScales"/>.</summary>
    private bool _perTensorScales;

    /// <summary>The parallel job computing <see cref="_normPartials"/> (created with <see cref="_tensors"/>).</summary>
    private GradientNormJob? _normJob;

    /// <summary>
    /// The L2 norm of all trainable gradients together as the last training step with norm clipping measured it (before
    /// clipping); NaN before any such step. With <see cref="OptimizerOptions.ClipNorm"/> it is still the global norm.
    /// </summary>
    public double LastGradientNorm { get; private set; } = double.NaN;

    /// <summary>One training step: forward, backward and an optimizer update; returns the mean loss of the batch.</summary>
    /// <param name="inputs">Samples, <see cref="InputSize"/> floats each, 1 to <see cref="BatchSize"/> of them.</param>
    /// <param name="labels">One class index per sample.</param>
    /// <param name="optimizer">
    /// The update rule. Its state lives in this network's arena and restarts from zero whenever a different optimizer
    /// instance is passed. With <see cref="OptimizerOptions.ClipNorm"/> or <see cref="OptimizerOptions.GlobalClipNorm"/>
    /// the network first reduces the gradients of every trainable tensor to their L2 norms (in parallel, without
    /// allocating) and passes the clipping factor to the optimizer as <see cref="ParameterSlice.GradientScale"/>; frozen
    /// layers take no part in the norms.
    /// </param>
    public override float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, IOptimizer optimizer)
    {
        ThrowIfInferenceOnly();
        CheckOptimizer(optimizer);
        float loss = ComputeGradients(inputs, labels);
        return Update(optimizer, loss) ? loss : float.NaN;
    }

    /// <summary>
    /// One training step for a network trained with float targets (every loss but sparse categorical
    /// cross-entropy): forward, backward and an optimizer update; returns the mean loss of the batch.
    /// </summary>
    /// <param name="inputs">Samples, <see cref="InputSize"/> floats each, 1 to <see cref="BatchSize"/> of them.</param>
    /// <param name="targets"><see cref="OutputSize"/> finite floats per sample.</param>
    /// <param name="optimizer">The update rule. Its state lives in this network's arena and restarts from zero whenever a different optimizer instance is passed.</param>
    public override float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets, IOptimizer optimizer)
    {
        ThrowIfInferenceOnly();
        CheckOptimizer(optimizer);
        float loss = ComputeGradients(inputs, targets);
        return Update(optimizer, loss) ? loss : float.NaN;
    }

    /// <summary>
    /// Applies <paramref name="optimizer"/> to the gradients now in <see cref="Network.Gradients"/>: the update half of
    /// <see cref="TrainStep(ReadOnlySpan{float}, ReadOnlySpan{int}, IOptimizer)"/>, for callers that change the
    /// gradients between <see cref="Network.ComputeGradients(ReadOnlySpan{float}, ReadOnlySpan{int})"/> and the update
    /// (data-parallel training averages them across processes). <c>ComputeGradients</c> then <c>ApplyGradients</c> is
    /// exactly <c>TrainStep</c>. A NaN or infinite gradient skips the update as in <c>TrainStep</c>: see
    /// <see cref="Model.LastStepSkipped"/> (after an Allreduce every rank holds the same gradients, so all skip together).
    /// </summary>
    /// <param name="optimizer">The update rule, as for <c>TrainStep</c>.</param>
    /// <exception cref="InvalidOperationException">The network is inference-only.</exception>
    public void ApplyGradients(IOptimizer optimizer)
    {
        ThrowIfInferenceOnly();
        CheckOptimizer(optimizer);
        Update(optimizer, 0f);
    }

    /// <summary>Rejects a missing optimizer, or one without options, before a step does any work.</summary>
    private static void CheckOptimizer(IOptimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        _ = optimizer.Options ?? throw new ArgumentException("The optimizer's Options is null.", nameof(optimizer));
    }

    /// <summary>
    /// Applies <paramref name="optimizer"/> to the gradients of the last pass, unless <paramref name="loss"/> or a
    /// trainable gradient is NaN or infinite: then nothing changes (parameters, optimizer state and its step count stay
    /// as they were, as a mixed-precision loss scaler skips a step), <see cref="Model.LastStepSkipped"/> is set and false
    /// returned.
    /// </summary>
    private bool Update(IOptimizer optimizer, float loss)
    {
        if (CheckFiniteGradients && (!float.IsFinite(loss) || AnyNonFiniteGradient()))
        {
            RestoreMovingStatistics();
            _movingSaved = false;
            LastStepSkipped = true;
            SkippedSteps++;
            return false;
        }

        _movingSaved = false;
        LastStepSkipped = false;
        if (!ReferenceEquals(optimizer, _optimizer))
        {
            if (optimizer.StateSlots is < 0 or > ParameterSlice.MaxStateSlots)
            {
                throw new ArgumentException($"The optimizer asks for {optimizer.StateSlots} state slots per parameter; at most {ParameterSlice.MaxStateSlots} are reserved.", nameof(optimizer));
            }

            Arena.GetSpan(Layout.StateOffset, checked(ParameterSlice.MaxStateSlots * Layout.ParameterLength)).Clear();
            _optimizer = optimizer;
        }

        PrepareGradientScales(optimizer.Options);
        optimizer.BeginStep();
        _pool.Run(this, OptimizerJob);
        return true;
    }

    /// <summary>The BatchNorm layers' moving statistics as they were before this step's forward pass (a skipped step puts them back).</summary>
    private float[]? _movingBackup;

    /// <summary>Whether <see cref="_movingBackup"/> holds the statistics from before the pass whose gradients the next update reads.</summary>
    private bool _movingSaved;

    /// <summary>The BatchNorm layers of the network (found on the first training pass).</summary>
    private BatchNormLayer[]? _batchNorms;

    /// <summary>Copies every BatchNorm layer's moving mean and variance (2 floats per channel) before a training forward pass updates them.</summary>
    private void SaveMovingStatistics()
    {
        _batchNorms ??= [.. _layers.OfType<BatchNormLayer>()];
        if (_batchNorms.Length == 0)
        {
            return;
        }

        _movingSaved = true;
        _movingBackup ??= new float[_batchNorms.Sum(b => 2 * b.Channels)];
        int at = 0;
        foreach (var norm in _batchNorms)
        {
            norm.MovingMean.CopyTo(_movingBackup.AsSpan(at, norm.Channels));
            norm.MovingVariance.CopyTo(_movingBackup.AsSpan(at + norm.Channels, norm.Channels));
            at += 2 * norm.Channels;
        }
    }

    /// <summary>The arena offset of every BatchNorm moving mean and variance value, in layer order (the GPU session's backup of them).</summary>
    internal unsafe long[] MovingStatisticOffsets()
    {
        var offsets = new List<long>();
        foreach (var norm in _layers.OfType<BatchNormLayer>())
        {
            long mean = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(norm.MovingMean)) - Arena.Pointer;
            long variance = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(norm.MovingVariance)) - Arena.Pointer;
            for (int c = 0; c < norm.Channels; c++)
            {
                offsets.Add(mean + c);
            }

            for (int c = 0; c < norm.Channels; c++)
            {
                offsets.Add(variance + c);
            }
        }

        return [.. offsets];
    }

    /// <summary>Puts back what <see cref="SaveMovingStatistics"/> saved (nothing when no training pass saved them).</summary>
    private void RestoreMovingStatistics()
    {
        if (!_movingSaved || _movingBackup is null || _batchNorms is null)
        {
            return;
        }

        int at = 0;
        foreach (var norm in _batchNorms)
        {
            _movingBackup.AsSpan(at, norm.Channels).CopyTo(norm.MovingMean);
            _movingBackup.AsSpan(at + norm.Channels, norm.Channels).CopyTo(norm.MovingVariance);
            at += 2 * norm.Channels;
        }
    }

    /// <summary>
    /// Whether any gradient the update would read is NaN or infinite: one vectorised pass, split over the threads as the
    /// update is (each thread scans the range it then updates, so the update finds it in cache). Each part writes its own
    /// flag, so the answer does not depend on timing, and nothing is allocated after the first step.
    /// </summary>
    private bool AnyNonFiniteGradient()
    {
        _nonFiniteParts ??= new int[_pool.Threads];
        _pool.Run(this, FiniteCheckJob);
        int any = 0;
        foreach (int flag in _nonFiniteParts)
        {
            any |= flag;
        }

        return any != 0;
    }

    /// <summary>Part <paramref name="part"/> of <see cref="AnyNonFiniteGradient"/>: the same ranges as <see cref="UpdateParameters"/>.</summary>
    private unsafe void CheckGradientsFinite(int part, int parts)
    {
        bool bad = false;
        foreach (var layer in _layers)
        {
            if (layer.Trainable && layer.ParameterLength != 0)
            {
                var (start, end) = Partition.Range(layer.ParameterLength, part, parts, Arena.AlignmentFloats);
                if (start < end)
                {
                    bad |= Kernels.Finite.AnyNonFinite(Arena.Pointer + layer.ParameterOffset + Layout.GradientOffset + start, end - start);
                }
            }
        }

        _nonFiniteParts![part] = bad ? 1 : 0;
    }

    /// <summary>Computes this step's norm-clipping factors (Keras: <c>g · c / max(‖g‖, c)</c>), or resets them to 1.</summary>
    private void PrepareGradientScales(OptimizerOptions options)
    {
        _globalScale = 1f;
        _perTensorScales = false;
        if (options.ClipNorm is null && options.GlobalClipNorm is null)
        {
            return;
        }

        if (_tensors is null)
        {
            _tensors = FindTrainableTensors();
            _normPartials = new double[_pool.Threads * Math.Max(_tensors.Length, 1)];
            _tensorScales = new float[_tensors.Length];
            _normJob = new GradientNormJob(this);
        }

        Array.Clear(_normPartials!);
        _pool.Run(_normJob!, 0);
        int count = _tensors.Length;
        double total = 0;
        for (int t = 0; t < count; t++)
        {
            double sum = 0;
            for (int part = 0; part < _pool.Threads; part++)
            {
                sum += _normPartials![part * count + t];
            }

            _normPartials![t] = sum; // row 0 now holds the per-tensor totals
            total += sum;
        }

        double globalNorm = Math.Sqrt(total);
        LastGradientNorm = globalNorm;
        if (options.GlobalClipNorm is float globalClip)
        {
            _globalScale = ClipFactor(globalNorm, globalClip);
            return;
        }

        float clipNorm = options.ClipNorm!.Value;
        for (int t = 0; t < count; t++)
        {
            _tensorScales![t] = ClipFactor(Math.Sqrt(_normPartials![t]), clipNorm);
        }

        _perTensorScales = true;
    }

    /// <summary><c>c / max(norm, c)</c>: 1 up to the bound, NaN for a non-finite norm (Keras makes the step NaN too).</summary>
    private static float ClipFactor(double norm, float clip) =>
        double.IsFinite(norm) ? (float)(clip / Math.Max(norm, clip)) : float.NaN;

    /// <summary>
    /// The trainable tensors of every layer with parameters: a Dense or Conv2D layer's weights and bias, a BatchNorm
    /// layer's gamma and beta; any other layer's whole block as one tensor. Each tensor's region runs to the next
    /// tensor's start (to the end of the layer's trainable block for the last), so the regions tile the block the
    /// optimizer updates, alignment padding included.
    /// </summary>
    private ParameterTensor[] FindTrainableTensors()
    {
        var tensors = new List<ParameterTensor>();
        var parts = new List<(long Offset, int Count)>(2);
        for (int l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            if (layer.ParameterLength == 0)
            {
                continue;
            }

            parts.Clear();
            switch (layer)
            {
                case DenseLayer dense:
                    AddTensor(parts, dense.Weights);
                    AddTensor(parts, dense.Bias);
                    break;
                case Conv2DLayer conv:
                    AddTensor(parts, conv.Weights);
                    AddTensor(parts, conv.Bias);
                    break;
                case BatchNormLayer norm:
                    AddTensor(parts, norm.Gamma);
                    AddTensor(parts, norm.Beta);
                    break;
                default:
                    parts.Add((layer.ParameterOffset, layer.ParameterLength));
                    break;
            }

            parts.Sort((a, b) => a.Offset.CompareTo(b.Offset));
            long end = layer.ParameterOffset + layer.ParameterLength;
            if (parts[0].Offset != layer.ParameterOffset)
            {
                throw new InvalidOperationException($"Layer {layer.Name}: its first tensor starts at {parts[0].Offset}, not at the start of its trainable block ({layer.ParameterOffset}).");
            }

            for (int i = 0; i < parts.Count; i++)
            {
                long regionEnd = i + 1 < parts.Count ? parts[i + 1].Offset : end;
                if (parts[i].Offset + parts[i].Count > regionEnd)
                {
                    throw new InvalidOperationException($"Layer {layer.Name}: tensor {i} ({parts[i].Count} floats at {parts[i].Offset}) overlaps the next tensor or the end of the trainable block ({regionEnd}).");
                }

                tensors.Add(new ParameterTensor(l, parts[i].Offset, (int)(regionEnd - parts[i].Offset), parts[i].Count));
            }
        }

        return [.. tensors];
    }

    private unsafe void AddTensor(List<(long Offset, int Count)> parts, Span<float> tensor)
    {
        if (tensor.IsEmpty)
        {
            return;
        }

        long offset = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(tensor)) - Arena.Pointer;
        parts.Add((offset, tensor.Length));
    }

    /// <summary>Part <paramref name="part"/> of the sums of squared gradients: its share of every trainable tensor.</summary>
    private void SumSquaredGradients(int part, int parts)
    {
        var tensors = _tensors!;
        var partials = _normPartials!;
        for (int t = 0; t < tensors.Length; t++)
        {
            var tensor = tensors[t];
            if (!_layers[tensor.Layer].Trainable)
            {
                continue;
            }

            var (start, end) = Partition.Range(tensor.Count, part, parts, Arena.AlignmentFloats);
            if (start < end)
            {
                partials[part * tensors.Length + t] = SumOfSquares(Arena.GetSpan(tensor.Offset + Layout.GradientOffset + start, end - start));
            }
        }
    }

    /// <summary>Σ x², in float vector lanes per block of <see cref="NormBlock"/> floats, blocks added in double.</summary>
    private static double SumOfSquares(ReadOnlySpan<float> x)
    {
        double total = 0;
        ref float r = ref MemoryMarshal.GetReference(x);
        int n = x.Length;
        int i = 0;
        while (i < n)
        {
            int blockEnd = Math.Min(n, i + NormBlock);
            var a0 = Vector512<float>.Zero;
            var a1 = Vector512<float>.Zero;
            for (; i + 2 * Vector512<float>.Count <= blockEnd; i += 2 * Vector512<float>.Count)
            {
                var v0 = Vector512.LoadUnsafe(ref r, (nuint)i);
                var v1 = Vector512.LoadUnsafe(ref r, (nuint)(i + Vector512<float>.Count));
                a0 = Vector512.FusedMultiplyAdd(v0, v0, a0);
                a1 = Vector512.FusedMultiplyAdd(v1, v1, a1);
            }

            double block = Vector512.Sum(a0 + a1);
            for (; i < blockEnd; i++)
            {
                float v = Unsafe.Add(ref r, i);
                block += (double)v * v;
            }

            total += block;
        }

        return total;
    }

    private void UpdateParameters(int part, int parts)
    {
        var optimizer = _optimizer!;
        int slots = optimizer.StateSlots;
        if (_perTensorScales)
        {
            var tensors = _tensors!;
            var scales = _tensorScales!;
            for (int t = 0; t < tensors.Length; t++)
            {
                var tensor = tensors[t];
                if (_layers[tensor.Layer].Trainable)
                {
                    UpdateRange(optimizer, slots, tensor.Offset, tensor.Length, scales[t], part, parts);
                }
            }

            return;
        }

        foreach (var layer in _layers)
        {
            if (layer.Trainable && layer.ParameterLength != 0)
            {
                UpdateRange(optimizer, slots, layer.ParameterOffset, layer.ParameterLength, _globalScale, part, parts);
            }
        }
    }

    /// <summary>Part <paramref name="part"/> of the update of the <paramref name="length"/> floats at <paramref name="offset"/>.</summary>
    private void UpdateRange(IOptimizer optimizer, int slots, long offset, int length, float scale, int part, int parts)
    {
        var (start, end) = Partition.Range(length, part, parts, Arena.AlignmentFloats);
        if (start == end)
        {
            return;
        }

        long at = offset + start;
        int count = end - start;
        var slice = new ParameterSlice(
            Arena.GetSpan(at, count),
            Arena.GetSpan(at + Layout.GradientOffset, count),
            slots > 0 ? Arena.GetSpan(at + Layout.StateOffset, count) : default,
            slots > 1 ? Arena.GetSpan(at + Layout.StateOffset + Layout.ParameterLength, count) : default,
            scale);
        optimizer.Update(slice);
    }

    /// <summary>The gradient-norm reduction as a job of its own (the network's job ids belong to the generated code and the update).</summary>
    private sealed class GradientNormJob(Network network) : IParallelJob
    {
        public void Execute(int job, int part, int parts) => network.SumSquaredGradients(part, parts);
    }

    /// <summary>Every trainable tensor of every layer with parameters (for the GPU backend's optimizer and norms).</summary>
    internal ParameterTensor[] TrainableTensorRegions() => FindTrainableTensors();
}

/// <summary>A trainable tensor: its layer, where it starts, its region up to the next tensor and its element count.</summary>
internal readonly record struct ParameterTensor(int Layer, long Offset, int Length, int Count);

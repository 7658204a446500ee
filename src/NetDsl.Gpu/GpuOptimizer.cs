using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using NetDsl.Optimizers;

namespace NetDsl.Gpu;

/// <summary>A trainable tensor of the parameter block: its start, its region up to the next tensor (alignment padding included) and its element count.</summary>
/// <param name="Offset">Where the tensor starts in the parameter block.</param>
/// <param name="Length">Floats up to the next tensor (the regions of a layer tile its trainable block).</param>
/// <param name="Count">The tensor's elements.</param>
public readonly record struct GpuTensor(long Offset, int Length, int Count);

/// <summary>
/// The optimizers on the device: one fused update kernel per rule (SGD with momentum, Nesterov and time decay; Adadelta;
/// Adagrad; RMSprop; Adam; AdamW) over contiguous runs of the parameter arena, with the options the CPU applies inside
/// <c>Update</c> (coupled or decoupled weight decay, value clipping, the norm-clipping factor, the schedule). The
/// per-step scalars (effective learning rate, bias corrections) are computed on the host after
/// <see cref="IOptimizer.BeginStep"/> and passed as kernel arguments; norm-clipping factors are reduced and kept on the
/// device, so a step never waits for the device.
/// </summary>
/// <remarks>
/// The arithmetic is the CPU kernels' scalar tail, operation for operation (fused multiply-adds where they use them), so
/// the two backends agree to rounding. An <see cref="IOptimizer"/> that is not one of the built-in rules runs on the host:
/// the parameter, gradient and state blocks are copied down, updated by the optimizer's own <c>Update</c> and copied
/// back (correct, but a round trip per step).
/// </remarks>
public sealed class GpuOptimizer : IDisposable
{
    /// <summary>Partial sums per tensor in the norm reduction (threads per tensor).</summary>
    private const int NormBlocks = 256;

    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, UpdateArguments>[] _rules;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, UpdateArguments> _flagNonFinite;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<double>, NormArguments> _sumSquares;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<float>, FactorArguments> _factors;
    private MemoryBuffer1D<double, Stride1D.Dense>? _partials;
    private float[] _host = [];
    private readonly float[] _flag = new float[1];
    private bool _disposed;

    /// <summary>Loads every optimizer kernel on <paramref name="device"/> (once: a step compiles nothing).</summary>
    public GpuOptimizer(GpuDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        _accelerator = device.Accelerator;
        _rules = new Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, UpdateArguments>[]
        {
            _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, UpdateArguments>(OptimizerKernels.Sgd),
            _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, UpdateArguments>(OptimizerKernels.Adadelta),
            _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, UpdateArguments>(OptimizerKernels.Adagrad),
            _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, UpdateArguments>(OptimizerKernels.RmsProp),
            _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, UpdateArguments>(OptimizerKernels.Adam),
        };
        _flagNonFinite = _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, UpdateArguments>(OptimizerKernels.FlagNonFinite);
        _sumSquares = _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<double>, NormArguments>(OptimizerKernels.SumSquares);
        _factors = _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<double>, ArrayView<float>, FactorArguments>(OptimizerKernels.ClipFactors);
    }

    /// <summary>Kernel launches of the last <see cref="Step"/>.</summary>
    public int LastLaunches { get; private set; }

    /// <summary>
    /// One optimizer step on the device: calls <see cref="IOptimizer.BeginStep"/> once, reduces the gradient norms to
    /// clipping factors on the device when the options ask for norm clipping, then updates every tensor of
    /// <paramref name="trainable"/> (its whole region).
    /// </summary>
    /// <param name="stream">The stream the step runs on.</param>
    /// <param name="arena">The device arena: parameters at 0, gradients at <paramref name="parameterLength"/>, state slot k at (2 + k) · <paramref name="parameterLength"/>.</param>
    /// <param name="parameterLength">Floats in the parameter block.</param>
    /// <param name="trainable">The tensors to update, in arena order.</param>
    /// <param name="optimizer">The rule.</param>
    /// <param name="scratch">Device memory for the clipping factors: at least <paramref name="trainable"/>.Length + 1 floats when the options clip norms (unused otherwise).</param>
    /// <param name="nonFiniteFlag">
    /// The scratch index of a flag this step sets to 1 when a trainable gradient is NaN or infinite, in which case no
    /// parameter and no state is written (the caller reads the flag back, undoes <see cref="IOptimizer.BeginStep"/> and
    /// reports the skipped step); -1: no check. It must lie past the clipping factors.
    /// </param>
    public void Step(AcceleratorStream stream, ArrayView<float> arena, long parameterLength, ReadOnlySpan<GpuTensor> trainable, IOptimizer optimizer, ArrayView<float> scratch,
        int nonFiniteFlag = -1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(optimizer);
        bool clipsNorms = optimizer.Options is { ClipNorm: not null } or { GlobalClipNorm: not null };
        if (clipsNorms && scratch.Length < trainable.Length + 1)
        {
            throw new ArgumentException($"The scratch view needs {trainable.Length + 1} floats, not {scratch.Length}.", nameof(scratch));
        }

        if (nonFiniteFlag >= 0 && (nonFiniteFlag >= scratch.Length || (clipsNorms && nonFiniteFlag <= trainable.Length)))
        {
            throw new ArgumentOutOfRangeException(nameof(nonFiniteFlag), nonFiniteFlag, $"The flag must lie in the scratch view ({scratch.Length} floats), past the clipping factors.");
        }

        LastLaunches = 0;
        optimizer.BeginStep();
        if (optimizer is not Optimizer builtIn || !TryRule(builtIn, out int rule, out var arguments))
        {
            UpdateOnHost(stream, arena, parameterLength, trainable, optimizer, scratch, nonFiniteFlag);
            return;
        }

        if (nonFiniteFlag >= 0)
        {
            scratch.SubView(nonFiniteFlag, 1).MemSetToZero(stream);
            var check = new UpdateArguments { ParameterLength = parameterLength, SkipFlag = nonFiniteFlag + 1 };
            int r = 0;
            while (r < trainable.Length)
            {
                check.Offset = trainable[r].Offset;
                long end = RunEnd(trainable, ref r);
                Launch(_flagNonFinite, stream, end - check.Offset, arena, scratch, check);
            }

            arguments.SkipFlag = nonFiniteFlag + 1;
        }

        var options = optimizer.Options;
        int scaleIndex = -1;
        if (options.ClipNorm is float clipNorm)
        {
            ReduceNorms(stream, arena, parameterLength, trainable, scratch, clipNorm, perTensor: true);
        }
        else if (options.GlobalClipNorm is float globalClip)
        {
            ReduceNorms(stream, arena, parameterLength, trainable, scratch, globalClip, perTensor: false);
            scaleIndex = trainable.Length;
        }

        arguments.ParameterLength = parameterLength;
        var kernel = _rules[rule];
        if (options.ClipNorm is not null)
        {
            // Per-tensor factors: one launch per tensor, each reading its own factor.
            for (int t = 0; t < trainable.Length; t++)
            {
                arguments.Offset = trainable[t].Offset;
                arguments.ScaleIndex = t;
                Launch(kernel, stream, trainable[t].Length, arena, scratch, arguments);
            }

            return;
        }

        // One launch per contiguous run of tensors (the whole block, unless a layer is frozen or BatchNorm's moving
        // statistics sit between two layers).
        arguments.ScaleIndex = scaleIndex;
        int i = 0;
        while (i < trainable.Length)
        {
            long start = trainable[i].Offset, end = RunEnd(trainable, ref i);
            arguments.Offset = start;
            Launch(kernel, stream, end - start, arena, scratch, arguments);
        }
    }

    /// <summary>The end of the contiguous run of tensors starting at <paramref name="i"/>, which moves past it.</summary>
    private static long RunEnd(ReadOnlySpan<GpuTensor> trainable, ref int i)
    {
        long end = trainable[i].Offset + trainable[i].Length;
        i++;
        while (i < trainable.Length && trainable[i].Offset == end)
        {
            end += trainable[i].Length;
            i++;
        }

        return end;
    }

    /// <summary>Frees the optimizer's device memory.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _partials?.Dispose();
        }
    }

    private void Launch(Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, UpdateArguments> kernel, AcceleratorStream stream, long count,
        ArrayView<float> arena, ArrayView<float> scratch, UpdateArguments arguments)
    {
        if (count > 0)
        {
            arguments.Count = checked((int)count);
            kernel(stream, new Index1D((int)count), arena, scratch, arguments);
            LastLaunches++;
        }
    }

    /// <summary>Σ g² per tensor in <see cref="NormBlocks"/> partial sums (in double), then the factors c / max(‖g‖, c) into the scratch.</summary>
    private void ReduceNorms(AcceleratorStream stream, ArrayView<float> arena, long parameterLength, ReadOnlySpan<GpuTensor> trainable, ArrayView<float> scratch, float clip, bool perTensor)
    {
        long needed = Math.Max(1, (long)trainable.Length * NormBlocks);
        if (_partials is null || _partials.Length < needed)
        {
            _partials?.Dispose();
            _partials = _accelerator.Allocate1D<double>(needed);
        }

        for (int t = 0; t < trainable.Length; t++)
        {
            var norm = new NormArguments { Gradients = parameterLength + trainable[t].Offset, Count = trainable[t].Count, Slot = t * NormBlocks, Blocks = NormBlocks };
            _sumSquares(stream, new Index1D(NormBlocks), arena, _partials.View, norm);
            LastLaunches++;
        }

        _factors(stream, new Index1D(1), _partials.View, scratch, new FactorArguments { Tensors = trainable.Length, Blocks = NormBlocks, Clip = clip, PerTensor = perTensor ? 1 : 0 });
        LastLaunches++;
    }

    /// <summary>The kernel and per-step scalars of a built-in rule; false for an optimizer type this class does not know.</summary>
    private static bool TryRule(Optimizer optimizer, out int rule, out UpdateArguments arguments)
    {
        var options = optimizer.Options;
        float lr = optimizer.EffectiveLearningRate(optimizer.CurrentStep);
        bool decoupled = options.WeightDecayMode == WeightDecayMode.Decoupled;
        arguments = new UpdateArguments
        {
            LearningRate = lr,
            Clip = options.ClipValueOrInfinity,
            L2 = decoupled ? 0f : options.WeightDecay,
            Keep = decoupled ? (float)(1.0 - (double)lr * options.WeightDecay) : 1f,
        };
        switch (optimizer)
        {
            case Sgd sgd:
                rule = 0;
                arguments.A = sgd.Momentum;
                arguments.Flags = sgd.Nesterov ? 1 : 0;
                return true;
            case Adadelta adadelta:
                rule = 1;
                arguments.A = adadelta.Rho;
                arguments.B = adadelta.Epsilon;
                return true;
            case Adagrad adagrad:
                rule = 2;
                arguments.A = adagrad.InitialAccumulatorValue;
                arguments.B = adagrad.Epsilon;
                return true;
            case RmsProp rms:
                rule = 3;
                arguments.A = rms.Rho;
                arguments.B = rms.Momentum;
                arguments.C = rms.Epsilon;
                arguments.Flags = rms.Centered ? 1 : 0;
                return true;
            case Adam adam:
                rule = 4;
                SetAdam(ref arguments, optimizer.Iterations, adam.Beta1, adam.Beta2, adam.Epsilon);
                return true;
            case AdamW adamW:
                rule = 4;
                SetAdam(ref arguments, optimizer.Iterations, adamW.Beta1, adamW.Beta2, adamW.Epsilon);
                return true;
            default:
                rule = -1;
                return false;
        }
    }

    /// <summary>Adam's step size with both bias corrections folded in, computed in double as the CPU does.</summary>
    private static void SetAdam(ref UpdateArguments arguments, long iterations, float beta1, float beta2, float epsilon)
    {
        double lr = arguments.LearningRate;
        double alpha = iterations > 0 ? lr * Math.Sqrt(1 - Math.Pow(beta2, iterations)) / (1 - Math.Pow(beta1, iterations)) : lr;
        arguments.A = (float)alpha;
        arguments.B = beta1;
        arguments.C = beta2;
        arguments.D = epsilon;
    }

    /// <summary>A rule this class has no kernel for: its own <c>Update</c> on host copies of the blocks.</summary>
    private void UpdateOnHost(AcceleratorStream stream, ArrayView<float> arena, long parameterLength, ReadOnlySpan<GpuTensor> trainable, IOptimizer optimizer,
        ArrayView<float> scratch, int nonFiniteFlag)
    {
        int p = checked((int)parameterLength);
        int floats = checked((2 + ParameterSlice.MaxStateSlots) * p);
        if (_host.Length < floats)
        {
            _host = new float[floats];
        }

        var view = arena.SubView(0, floats);
        view.CopyToCPU(stream, _host.AsSpan(0, floats));
        stream.Synchronize();
        if (nonFiniteFlag >= 0)
        {
            bool bad = false;
            foreach (var tensor in trainable)
            {
                foreach (float g in _host.AsSpan(p + (int)tensor.Offset, tensor.Length))
                {
                    bad |= !float.IsFinite(g);
                }
            }

            _flag[0] = bad ? 1f : 0f;
            scratch.SubView(nonFiniteFlag, 1).CopyFromCPU(stream, (ReadOnlySpan<float>)_flag);
            if (bad)
            {
                return;
            }
        }

        var options = optimizer.Options;
        double total = 0;
        Span<double> norms = trainable.Length <= 256 ? stackalloc double[trainable.Length] : new double[trainable.Length];
        if (options.ClipNorm is not null || options.GlobalClipNorm is not null)
        {
            for (int t = 0; t < trainable.Length; t++)
            {
                double sum = 0;
                foreach (float g in _host.AsSpan(p + (int)trainable[t].Offset, trainable[t].Count))
                {
                    sum += (double)g * g;
                }

                norms[t] = sum;
                total += sum;
            }
        }

        for (int t = 0; t < trainable.Length; t++)
        {
            int o = (int)trainable[t].Offset, n = trainable[t].Length;
            float scale = options.ClipNorm is float c ? ClipFactor(Math.Sqrt(norms[t]), c)
                : options.GlobalClipNorm is float gc ? ClipFactor(Math.Sqrt(total), gc) : 1f;
            var slice = new ParameterSlice(_host.AsSpan(o, n), _host.AsSpan(p + o, n),
                optimizer.StateSlots > 0 ? _host.AsSpan(2 * p + o, n) : default,
                optimizer.StateSlots > 1 ? _host.AsSpan(3 * p + o, n) : default, scale);
            optimizer.Update(slice);
        }

        view.CopyFromCPU(stream, (ReadOnlySpan<float>)_host.AsSpan(0, floats));
    }

    private static float ClipFactor(double norm, float clip) => double.IsFinite(norm) ? (float)(clip / Math.Max(norm, clip)) : float.NaN;
}

/// <summary>The arguments of an update kernel: where its run starts, the step's scalars and the rule's constants.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct UpdateArguments
{
    public long ParameterLength;
    public long Offset;
    public int Count;
    public int ScaleIndex;
    public float LearningRate;
    public float Keep;
    public float L2;
    public float Clip;
    public float A;
    public float B;
    public float C;
    public float D;
    public int Flags;

    /// <summary>1 + the scratch index of the step's non-finite flag (0: no check): a set flag makes the kernel write nothing.</summary>
    public int SkipFlag;
}

/// <summary>The arguments of the norm reduction of one tensor.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NormArguments
{
    public long Gradients;
    public int Count;
    public int Slot;
    public int Blocks;
}

/// <summary>The arguments of the clipping-factor kernel.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FactorArguments
{
    public int Tensors;
    public int Blocks;
    public float Clip;
    public int PerTensor;
}

/// <summary>The optimizer kernels (one thread per parameter), with the CPU kernels' scalar arithmetic.</summary>
internal static class OptimizerKernels
{
    /// <summary>
    /// <c>a · b + c</c>, where the CPU kernels use a fused multiply-add. ILGPU's PTX backend has no intrinsic for
    /// MathF.FusedMultiplyAdd (only through libdevice, which would make the CUDA toolkit a run-time dependency); written
    /// as a multiply and an add, ptxas contracts it into one <c>fma.rn.f32</c> (its default <c>--fmad=true</c>), and the
    /// CPU accelerator rounds twice (a last-bit difference, well inside the parity bound).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static float Fma(float a, float b, float c) => a * b + c;

    /// <summary>The gradient as every rule sees it: scaled by the clipping factor, clipped by value, plus coupled L2 decay.</summary>
    private static float Gradient(ArrayView<float> arena, ArrayView<float> scratch, in UpdateArguments a, long at, float w)
    {
        float scale = a.ScaleIndex < 0 ? 1f : scratch[a.ScaleIndex];
        float g = arena[a.ParameterLength + at] * scale;
        g = g < -a.Clip ? -a.Clip : g > a.Clip ? a.Clip : g;
        return Fma(a.L2, w, g);
    }

    /// <summary>Whether this step's gradients hold a NaN or infinity (<see cref="FlagNonFinite"/> ran first): then nothing is written.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static bool Skipped(ArrayView<float> scratch, in UpdateArguments a) => a.SkipFlag != 0 && scratch[a.SkipFlag - 1] != 0f;

    /// <summary>
    /// Sets the flag at scratch[SkipFlag - 1] when gradient Offset + index of the run is NaN or infinite (one thread per
    /// gradient; the flag was zeroed before, and every writer writes the same 1).
    /// </summary>
    [GpuKernel(Hot = true)]
    public static void FlagNonFinite(Index1D index, ArrayView<float> arena, ArrayView<float> scratch, UpdateArguments a)
    {
        if (index >= a.Count) return;
        float g = arena[a.ParameterLength + a.Offset + index];
        if (!(g - g == 0f)) scratch[a.SkipFlag - 1] = 1f; // g - g is NaN for NaN and both infinities, else 0
    }

    /// <summary>SGD: A = momentum, Flags = Nesterov; state 0 the velocity.</summary>
    [GpuKernel(Hot = true)]
    public static void Sgd(Index1D index, ArrayView<float> arena, ArrayView<float> scratch, UpdateArguments a)
    {
        if (index >= a.Count) return;
        if (Skipped(scratch, a)) return;
        long at = a.Offset + index;
        float w = arena[at];
        float gs = Gradient(arena, scratch, a, at, w);
        if (a.A == 0f)
        {
            arena[at] = Fma(-a.LearningRate, gs, w * a.Keep);
            return;
        }

        long v = 2 * a.ParameterLength + at;
        float delta = -a.LearningRate * gs;
        float velocity = Fma(a.A, arena[v], delta);
        arena[v] = velocity;
        float move = a.Flags != 0 ? Fma(a.A, velocity, delta) : velocity;
        arena[at] = w * a.Keep + move;
    }

    /// <summary>Adadelta: A = rho, B = epsilon; state 0 the mean squared gradient, state 1 the mean squared update.</summary>
    [GpuKernel(Hot = true)]
    public static void Adadelta(Index1D index, ArrayView<float> arena, ArrayView<float> scratch, UpdateArguments a)
    {
        if (index >= a.Count) return;
        if (Skipped(scratch, a)) return;
        long at = a.Offset + index;
        long s0 = 2 * a.ParameterLength + at, s1 = 3 * a.ParameterLength + at;
        float w = arena[at];
        float gs = Gradient(arena, scratch, a, at, w);
        float oneMinusRho = 1f - a.A;
        float an = Fma(a.A, arena[s0], oneMinusRho * gs * gs);
        float ds = arena[s1];
        float u = gs * MathF.Sqrt(ds + a.B) / MathF.Sqrt(an + a.B);
        arena[s0] = an;
        arena[at] = Fma(-a.LearningRate, u, w * a.Keep);
        arena[s1] = Fma(a.A, ds, oneMinusRho * u * u);
    }

    /// <summary>Adagrad: A = initial accumulator value, B = epsilon; state 0 the sum of squared gradients.</summary>
    [GpuKernel(Hot = true)]
    public static void Adagrad(Index1D index, ArrayView<float> arena, ArrayView<float> scratch, UpdateArguments a)
    {
        if (index >= a.Count) return;
        if (Skipped(scratch, a)) return;
        long at = a.Offset + index;
        long s = 2 * a.ParameterLength + at;
        float w = arena[at];
        float gs = Gradient(arena, scratch, a, at, w);
        float ss = Fma(gs, gs, arena[s]);
        arena[s] = ss;
        float u = gs / (MathF.Sqrt(ss + a.A) + a.B);
        arena[at] = Fma(-a.LearningRate, u, w * a.Keep);
    }

    /// <summary>RMSprop: A = rho, B = momentum, C = epsilon, Flags = centered; state 0 the mean square, state 1 the mean gradient or the momentum.</summary>
    [GpuKernel(Hot = true)]
    public static void RmsProp(Index1D index, ArrayView<float> arena, ArrayView<float> scratch, UpdateArguments a)
    {
        if (index >= a.Count) return;
        if (Skipped(scratch, a)) return;
        long at = a.Offset + index;
        long s0 = 2 * a.ParameterLength + at, s1 = 3 * a.ParameterLength + at;
        float w = arena[at];
        float gs = Gradient(arena, scratch, a, at, w);
        float oneMinusRho = 1f - a.A;
        float vs = Fma(a.A, arena[s0], oneMinusRho * gs * gs);
        arena[s0] = vs;
        float denominator;
        if (a.Flags != 0)
        {
            float mg = Fma(a.A, arena[s1], oneMinusRho * gs);
            arena[s1] = mg;
            denominator = vs - mg * mg + a.C;
        }
        else
        {
            denominator = vs + a.C;
        }

        float u = a.LearningRate * gs / MathF.Sqrt(denominator);
        if (a.B > 0f)
        {
            u = Fma(a.B, arena[s1], u);
            arena[s1] = u;
        }

        arena[at] = w * a.Keep - u;
    }

    /// <summary>Adam and AdamW: A = the bias-corrected step size, B = beta1, C = beta2, D = epsilon; states the two moments.</summary>
    [GpuKernel(Hot = true)]
    public static void Adam(Index1D index, ArrayView<float> arena, ArrayView<float> scratch, UpdateArguments a)
    {
        if (index >= a.Count) return;
        if (Skipped(scratch, a)) return;
        long at = a.Offset + index;
        long m = 2 * a.ParameterLength + at, v = 3 * a.ParameterLength + at;
        float w = arena[at];
        float gs = Gradient(arena, scratch, a, at, w);
        float ms = Fma(a.B, arena[m], (1f - a.B) * gs);
        float vs = Fma(a.C, arena[v], (1f - a.C) * gs * gs);
        arena[m] = ms;
        arena[v] = vs;
        float u = ms / (MathF.Sqrt(vs) + a.D);
        arena[at] = Fma(-a.A, u, w * a.Keep);
    }

    /// <summary>Copies the BatchNorm moving statistics (arena offsets in <paramref name="table"/>) into <paramref name="backup"/> before a training forward pass.</summary>
    [GpuKernel]
    public static void SaveMoving(Index1D index, ArrayView<float> arena, ArrayView<long> table, ArrayView<float> backup)
    {
        if (index >= table.Length) return;
        backup[index] = arena[table[index]];
    }

    /// <summary>Puts the saved moving statistics back after a skipped step.</summary>
    [GpuKernel]
    public static void RestoreMoving(Index1D index, ArrayView<float> arena, ArrayView<long> table, ArrayView<float> backup)
    {
        if (index >= table.Length) return;
        arena[table[index]] = backup[index];
    }

    /// <summary>Partial sums of g² over one tensor: block b sums elements b, b + Blocks, ... in double.</summary>
    [GpuKernel]
    public static void SumSquares(Index1D index, ArrayView<float> arena, ArrayView<double> partials, NormArguments a)
    {
        if (index >= a.Blocks) return;
        double sum = 0;
        for (int i = index; i < a.Count; i += a.Blocks)
        {
            double g = arena[a.Gradients + i];
            sum += g * g;
        }

        partials[a.Slot + index] = sum;
    }

    /// <summary>The clipping factors c / max(‖g‖, c) (NaN for a non-finite norm): per tensor, or the global one after them.</summary>
    [GpuKernel]
    public static void ClipFactors(Index1D index, ArrayView<double> partials, ArrayView<float> factors, FactorArguments a)
    {
        if (index != 0) return;
        double total = 0;
        for (int t = 0; t < a.Tensors; t++)
        {
            double sum = 0;
            for (int b = 0; b < a.Blocks; b++)
            {
                sum += partials[t * a.Blocks + b];
            }

            total += sum;
            if (a.PerTensor != 0)
            {
                factors[t] = Factor(Math.Sqrt(sum), a.Clip);
            }
        }

        if (a.PerTensor == 0)
        {
            factors[a.Tensors] = Factor(Math.Sqrt(total), a.Clip);
        }
    }

    private static float Factor(double norm, float clip) => double.IsFinite(norm) ? (float)(clip / Math.Max(norm, (double)clip)) : float.NaN;
}

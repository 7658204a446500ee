using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace NetDsl.Gpu;

/// <summary>What kind of accelerator a <see cref="GpuDevice"/> runs kernels on.</summary>
public enum GpuKind
{
    /// <summary>An NVIDIA GPU through CUDA.</summary>
    Cuda,

    /// <summary>ILGPU's CPU accelerator: every GPU thread emulated on the processor (for tests and machines without a GPU; slow).</summary>
    CpuAccelerator,
}

/// <summary>Which form of the generated hot kernels (convolutions, dense products, weight gradients) a device runs.</summary>
public enum GpuKernelForm
{
    /// <summary>One thread per output element, no shared memory or barriers: what ILGPU's CPU accelerator emulates fastest.</summary>
    PerElement,

    /// <summary>Implicit GEMMs through shared-memory tiles with a register block per thread, in groups of up to 256 threads:
    /// the form for CUDA.</summary>
    Tiled,
}

/// <summary>
/// An ILGPU context and one accelerator: where GPU sessions of NetDsl networks run. Create one per process (kernels are
/// compiled per accelerator) and share it between sessions; dispose it after them.
/// </summary>
public sealed class GpuDevice : IDisposable
{
    private readonly Context _context;
    private bool _disposed;

    private GpuDevice(Context context, Accelerator accelerator, GpuKind kind, GpuKernelForm form, string reason)
    {
        _context = context;
        Accelerator = accelerator;
        Kind = kind;
        KernelForm = form;
        string kernels = form == GpuKernelForm.Tiled ? "tiled kernels" : "per-element kernels";
        Description = kind == GpuKind.Cuda
            ? $"CUDA: {accelerator.Name} ({accelerator.MemorySize / (1024.0 * 1024 * 1024):F1} GiB, {accelerator.NumMultiprocessors} SMs; {kernels})"
            : $"ILGPU CPU accelerator ({accelerator.NumMultiprocessors} threads emulating the GPU; {kernels}{(reason.Length > 0 ? "; " + reason : "")})";
    }

    /// <summary>The ILGPU accelerator (for advanced use: the sessions launch every kernel on it).</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Whether kernels run on a CUDA GPU or on ILGPU's CPU accelerator.</summary>
    public GpuKind Kind { get; }

    /// <summary>Which form of the hot kernels sessions on this device run: tiled on CUDA unless asked otherwise, one thread per
    /// element on the CPU accelerator unless asked otherwise.</summary>
    public GpuKernelForm KernelForm { get; }

    /// <summary>A line for logs: the device's name and size, or why the CPU accelerator was picked.</summary>
    public string Description { get; }

    /// <summary>The accelerator's memory in bytes (on the CPU accelerator: what ILGPU reports for host memory).</summary>
    public long TotalMemoryBytes => Accelerator.MemorySize;

    /// <summary>
    /// CUDA when an NVIDIA GPU is present (the first one), else ILGPU's CPU accelerator; <see cref="Description"/> says which.
    /// </summary>
    public static GpuDevice CreateDefault()
    {
        var context = CreateContext();
        try
        {
            if (context.GetCudaDevices().Count > 0)
            {
                return new GpuDevice(context, context.GetCudaDevices()[0].CreateAccelerator(context), GpuKind.Cuda, GpuKernelForm.Tiled, "");
            }

            return new GpuDevice(context, CreateCpuAccelerator(context, 0, GpuKernelForm.PerElement), GpuKind.CpuAccelerator, GpuKernelForm.PerElement, "no CUDA device found");
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The CUDA GPU with index <paramref name="index"/>.</summary>
    /// <param name="index">Which CUDA device.</param>
    /// <param name="form">The form of the hot kernels (tiled unless comparing).</param>
    /// <exception cref="InvalidOperationException">No such CUDA device is present.</exception>
    public static GpuDevice CreateCuda(int index = 0, GpuKernelForm form = GpuKernelForm.Tiled)
    {
        var context = CreateContext();
        int count = context.GetCudaDevices().Count;
        if ((uint)index >= (uint)count)
        {
            context.Dispose();
            throw new InvalidOperationException(count == 0
                ? "No CUDA device is present (no NVIDIA GPU, or no CUDA driver)."
                : $"CUDA device {index} does not exist; {count} present.");
        }

        try
        {
            return new GpuDevice(context, context.GetCudaDevices()[index].CreateAccelerator(context), GpuKind.Cuda, form, "");
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>ILGPU's CPU accelerator on <paramref name="threads"/> threads (0: every processor).</summary>
    /// <param name="threads">Emulated multiprocessors (0: one per processor).</param>
    /// <param name="form">The form of the hot kernels: one thread per element (fast here), or the tiled CUDA form (groups of
    /// up to 256 emulated threads with barriers: much slower, for testing that form without a GPU).</param>
    public static GpuDevice CreateCpuAccelerator(int threads = 0, GpuKernelForm form = GpuKernelForm.PerElement)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        var context = CreateContext();
        try
        {
            return new GpuDevice(context, CreateCpuAccelerator(context, threads, form), GpuKind.CpuAccelerator, form, "");
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>Whether a CUDA device is present (creates and disposes a context to find out).</summary>
    public static bool IsCudaAvailable()
    {
        using var context = Context.Create(builder => builder.Cuda());
        return context.GetCudaDevices().Count > 0;
    }

    /// <summary>Frees the accelerator and the context.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Accelerator.Dispose();
            _context.Dispose();
        }
    }

    /// <summary>Throws when the device was disposed.</summary>
    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static Context CreateContext() =>
        // Release optimisations and aggressive inlining: the runtime's device functions (activations, losses, dropout
        // hash) are inlined into the generated kernels, so their literal shape constants fold as on the CPU. EnableAlgorithms:
        // without ILGPU.Algorithms the PTX backend has no implementation of MathF.Exp / MathF.Log (NotSupportedIntrinsicException).
        Context.Create(builder => builder.Cuda().Optimize(OptimizationLevel.O2).Inlining(InliningMode.Aggressive).EnableAlgorithms());

    private static CPUAccelerator CreateCpuAccelerator(Context context, int threads, GpuKernelForm form)
    {
        // The per-element kernels synchronise nothing inside a group, so the emulator runs them fastest with tiny groups:
        // warps of 2 threads, one warp per group, one emulated multiprocessor per processor (measured: a 784x256 GEMM
        // ran at ~300 MFLOP/s, launches cost ~0.1 ms instead of ~5 ms with 16-thread groups). The tiled kernels need
        // groups of up to 256 threads (8 warps of 32).
        int processors = threads == 0 ? Environment.ProcessorCount : threads;
        var device = form == GpuKernelForm.Tiled ? new CPUDevice(32, 8, processors) : new CPUDevice(2, 1, processors);
        return device.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
    }
}

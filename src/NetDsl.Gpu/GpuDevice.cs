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

/// <summary>
/// An ILGPU context and one accelerator: where GPU sessions of NetDsl networks run. Create one per process (kernels are
/// compiled per accelerator) and share it between sessions; dispose it after them.
/// </summary>
public sealed class GpuDevice : IDisposable
{
    private readonly Context _context;
    private bool _disposed;

    private GpuDevice(Context context, Accelerator accelerator, GpuKind kind, string reason)
    {
        _context = context;
        Accelerator = accelerator;
        Kind = kind;
        Description = kind == GpuKind.Cuda
            ? $"CUDA: {accelerator.Name} ({accelerator.MemorySize / (1024.0 * 1024 * 1024):F1} GiB, {accelerator.NumMultiprocessors} SMs)"
            : $"ILGPU CPU accelerator ({accelerator.NumMultiprocessors} threads emulating the GPU{(reason.Length > 0 ? "; " + reason : "")})";
    }

    /// <summary>The ILGPU accelerator (for advanced use: the sessions launch every kernel on it).</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Whether kernels run on a CUDA GPU or on ILGPU's CPU accelerator.</summary>
    public GpuKind Kind { get; }

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
                return new GpuDevice(context, context.GetCudaDevices()[0].CreateAccelerator(context), GpuKind.Cuda, "");
            }

            return new GpuDevice(context, CreateCpuAccelerator(context, 0), GpuKind.CpuAccelerator, "no CUDA device found");
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The CUDA GPU with index <paramref name="index"/>.</summary>
    /// <exception cref="InvalidOperationException">No such CUDA device is present.</exception>
    public static GpuDevice CreateCuda(int index = 0)
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
            return new GpuDevice(context, context.GetCudaDevices()[index].CreateAccelerator(context), GpuKind.Cuda, "");
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>ILGPU's CPU accelerator on <paramref name="threads"/> threads (0: every processor).</summary>
    public static GpuDevice CreateCpuAccelerator(int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        var context = CreateContext();
        try
        {
            return new GpuDevice(context, CreateCpuAccelerator(context, threads), GpuKind.CpuAccelerator, "");
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

    private static CPUAccelerator CreateCpuAccelerator(Context context, int threads)
    {
        // The generated kernels synchronise nothing inside a group, so the emulator runs them fastest with tiny groups:
        // warps of 2 threads, one warp per group, one emulated multiprocessor per processor (measured: a 784x256 GEMM
        // ran at ~300 MFLOP/s, launches cost ~0.1 ms instead of ~5 ms with 16-thread groups).
        int processors = threads == 0 ? Environment.ProcessorCount : threads;
        var device = new CPUDevice(2, 1, processors);
        return device.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
    }
}

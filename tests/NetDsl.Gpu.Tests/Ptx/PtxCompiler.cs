using System.Reflection;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace NetDsl.Gpu.Tests.Ptx;

/// <summary>
/// Compiles kernels to PTX offline (no GPU, no driver) with ILGPU's own PTX backend, the way a CUDA accelerator would
/// for a launch of an auto-grouped <see cref="ILGPU.Index1D"/> kernel (an implicitly grouped entry point, no
/// specialization), in the same ILGPU context configuration <see cref="GpuDevice"/> uses (its optimisation level and
/// inlining mode).
/// </summary>
public sealed class PtxCompiler : IDisposable
{
    /// <summary>The PTX ISA emitted: the newest that CUDA 11.8's ptxas (Debian bookworm's) accepts.</summary>
    public static readonly CudaInstructionSet InstructionSet = CudaInstructionSet.ISA_78;

    // The context comes from a GpuDevice (its CPU accelerator, which needs no GPU), so the compiler sees exactly the
    // context flags the runtime launches with, instead of a copy of them that could drift.
    private readonly GpuDevice _device = GpuDevice.CreateCpuAccelerator(1);
    private readonly Dictionary<CudaArchitecture, PTXBackend> _backends = new();
    private readonly object _gate = new();

    /// <summary>The PTX text of <paramref name="kernel"/> for <paramref name="architecture"/>.</summary>
    /// <param name="kernel">The kernel method.</param>
    /// <param name="architecture">The target.</param>
    /// <param name="explicitlyGrouped">Whether it is an explicitly grouped kernel (a tiled kernel, launched with a group size
    /// of its own), else an implicitly grouped Index1D kernel.</param>
    /// <exception cref="PtxCompileException">ILGPU could not compile the kernel.</exception>
    public string Compile(MethodInfo kernel, CudaArchitecture architecture, bool explicitlyGrouped = false)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        // One compile at a time: ILGPU backends share the context's IR.
        lock (_gate)
        {
            if (!_backends.TryGetValue(architecture, out var backend))
            {
                backend = new PTXBackend(
                    _device.Accelerator.Context, new CudaCapabilityContext(architecture), architecture, InstructionSet,
                    nvvmAPI: null);
                _backends.Add(architecture, backend);
            }

            try
            {
                var entry = explicitlyGrouped
                    ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel)
                    : EntryPointDescription.FromImplicitlyGroupedKernel(kernel);
                var compiled = (PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
                return compiled.PTXAssembly;
            }
            catch (Exception e)
            {
                throw new PtxCompileException(
                    $"ILGPU could not compile {kernel.DeclaringType?.FullName}.{kernel.Name} for {Name(architecture)}: " +
                    string.Join(" -> ", Messages(e).Distinct()), e);
            }
        }
    }

    // ILGPU wraps the useful message (e.g. "The function 'ExpF' does not have an intrinsic implementation for this
    // backend") in an InternalCompilerException and an AggregateException: show the whole chain.
    private static IEnumerable<string> Messages(Exception e)
    {
        if (e is AggregateException aggregate)
        {
            return aggregate.InnerExceptions.SelectMany(Messages);
        }

        var own = new[] { $"{e.GetType().Name}: {e.Message}" };
        return e.InnerException is null ? own : own.Concat(Messages(e.InnerException));
    }

    /// <summary>"sm_80" for <see cref="CudaArchitecture.SM_80"/>: the spelling ptxas and PTX use.</summary>
    public static string Name(CudaArchitecture architecture) => $"sm_{architecture.Major}{architecture.Minor}";

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var backend in _backends.Values)
            {
                backend.Dispose();
            }

            _backends.Clear();
            _device.Dispose();
        }
    }
}

/// <summary>ILGPU failed to compile a kernel to PTX (the inner exception is ILGPU's).</summary>
public sealed class PtxCompileException(string message, Exception inner) : Exception(message, inner);

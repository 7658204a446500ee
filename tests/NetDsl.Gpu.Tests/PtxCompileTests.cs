using System.Reflection;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Xunit.Abstractions;

namespace NetDsl.Gpu.Tests;

/// <summary>
/// The CPU accelerator runs kernels as .NET code, so it cannot show that the device functions are ILGPU-compilable:
/// this compiles the parity kernels to PTX offline (no GPU needed), as the generated kernels will be compiled.
/// </summary>
public class PtxCompileTests(ITestOutputHelper output)
{
    public static TheoryData<string> KernelNames() => new()
    {
        "DenseKernel", "SparseKernel", "OutputKernel", "BackwardKernel", "LiteralSparseSoftmax10", "LiteralMseTanh3",
    };

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void Device_functions_compile_to_ptx(string name)
    {
        using var context = Context.Create(builder => builder.Cuda().Optimize(OptimizationLevel.O2).Inlining(InliningMode.Aggressive).EnableAlgorithms());
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80,
            CudaInstructionSet.ISA_78, nvvmAPI: null!);
        var method = typeof(LossKernels).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;
        var entry = EntryPointDescription.FromImplicitlyGroupedKernel(method);
        var kernel = (PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
        string ptx = kernel.PTXAssembly;
        int calls = ptx.Split('\n').Count(line => line.TrimStart().StartsWith("call", StringComparison.Ordinal));
        output.WriteLine($"{name}: {ptx.Length} chars of PTX, {calls} calls");
        Assert.Contains(".entry", ptx);
        Assert.Equal(0, calls); // every device function inlined
    }
}

using NetDsl.Optimizers;

namespace NetDsl.Gpu.Tests;

/// <summary>
/// The parity tests on a real NVIDIA GPU: selected when a CUDA device is present, reported as skipped (never as passed)
/// when it is not. They are the checks <c>scripts/gpu-check.sh</c> runs too, on the same networks and batches.
/// </summary>
public class CudaTests
{
    private static readonly Lazy<bool> Available = new(GpuDevice.IsCudaAvailable);

    public static TheoryData<string, GpuKernelForm> Networks()
    {
        var data = new TheoryData<string, GpuKernelForm>();
        foreach (string name in ParityNetworks.Names)
        {
            data.Add(name, GpuKernelForm.Tiled);
            data.Add(name, GpuKernelForm.PerElement);
        }

        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Networks))]
    public void OneStepOnCudaMatchesTheCpu(string name, GpuKernelForm form)
    {
        Skip.IfNot(Available.Value, "no CUDA device on this machine");
        using var device = GpuDevice.CreateCuda(0, form);
        using var cpu = ParityNetworks.Create(name, 5, seed: 7);
        using var host = ParityNetworks.Create(name, 5, seed: 7);
        using var gpu = ParityNetworks.ToGpu(host, device);
        var (inputs, labels, targets) = ParityNetworks.Batch(cpu, 5, new Random(11));
        float cpuLoss = SessionParityTestsBase.Step(cpu, inputs, labels, targets, new Sgd(0.1f, momentum: 0.9f));
        float gpuLoss = SessionParityTestsBase.Step(gpu, inputs, labels, targets, new Sgd(0.1f, momentum: 0.9f));
        gpu.CopyToHost();
        Assert.True(Math.Abs(cpuLoss - gpuLoss) <= 1e-4 * Math.Max(1, Math.Abs(cpuLoss)), $"{name}: loss CPU {cpuLoss}, GPU {gpuLoss}");
        SessionParityTestsBase.AssertClose(name + " gradients", cpu.Gradients, host.Gradients);
        SessionParityTestsBase.AssertClose(name + " parameters", cpu.Parameters, host.Parameters);
    }

    /// <summary>On CUDA a training step allocates nothing on the host at all (the CPU accelerator's own launches allocate; see AllocationTests).</summary>
    [SkippableTheory]
    [InlineData(GpuKernelForm.Tiled)]
    [InlineData(GpuKernelForm.PerElement)]
    public void ATrainingStepOnCudaAllocatesNothing(GpuKernelForm form)
    {
        Skip.IfNot(Available.Value, "no CUDA device on this machine");
        using var device = GpuDevice.CreateCuda(0, form);
        using var host = new CnnTiny(8, seed: 1);
        using var gpu = host.ToGpu(device);
        var (inputs, labels, _) = ParityNetworks.Batch(host, 8, new Random(1));
        var optimizer = new Adam(0.001f);
        for (int i = 0; i < 3; i++)
        {
            gpu.TrainStep(inputs, labels!, optimizer);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++)
        {
            gpu.TrainStep(inputs, labels!, optimizer);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}

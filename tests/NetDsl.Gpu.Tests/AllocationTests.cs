using ILGPU;
using ILGPU.Runtime;
using NetDsl.Optimizers;

namespace NetDsl.Gpu.Tests;

/// <summary>
/// A training step allocates nothing on the host beyond what ILGPU's launches themselves allocate. On CUDA that is
/// nothing at all (<see cref="CudaTests.ATrainingStepOnCudaAllocatesNothing"/>); ILGPU's CPU accelerator allocates a
/// small task object per launch and per copy, so here the step's allocation is compared with the same number of launches
/// of an empty kernel (with the largest argument struct the step's kernels take) plus its three copies (inputs and labels
/// up, the loss down): the session, the staging, the optimizer and the generated schedule add nothing of their own.
/// </summary>
public class AllocationTests : IClassFixture<DeviceFixture>
{
    private readonly GpuDevice _device;

    public AllocationTests(DeviceFixture fixture) => _device = fixture.Device;

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void AStepAllocatesOnlyWhatTheLaunchesAllocate(string rule)
    {
        using var host = new CnnPoolDropout(4, seed: 1);
        using var gpu = host.ToGpu(_device);
        var (inputs, labels, _) = ParityNetworks.Batch(host, 4, new Random(1));
        IOptimizer optimizer = rule == "sgd" ? new Sgd(0.01f, momentum: 0.9f) : new Adam(0.001f);
        for (int i = 0; i < 3; i++)
        {
            gpu.TrainStep(inputs, labels!, optimizer);
        }

        const int Steps = 5;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Steps; i++)
        {
            gpu.TrainStep(inputs, labels!, optimizer);
        }

        long perStep = (GC.GetAllocatedBytesForCurrentThread() - before) / Steps;
        var (perLaunch, perCopy) = AcceleratorBytes();
        long accounted = gpu.LastStepLaunches * perLaunch + 3 * perCopy;
        Assert.True(perStep <= accounted,
            $"a step allocated {perStep} B; its {gpu.LastStepLaunches} launches and 3 copies account for {accounted} B ({perLaunch} B per launch, {perCopy} B per copy on this accelerator)");
    }

    /// <summary>Bytes one launch of an empty kernel and one small copy allocate on the test accelerator (the largest of a few measurements).</summary>
    private (long Launch, long Copy) AcceleratorBytes()
    {
        var accelerator = _device.Accelerator;
        var kernel = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, LargeArguments>(Empty);
        using var floats = accelerator.Allocate1D<float>(16);
        using var stream = accelerator.CreateStream();
        var host = new float[16];
        kernel(stream, new Index1D(16), floats.View, floats.View, default);
        floats.View.CopyFromCPU(stream, (ReadOnlySpan<float>)host);
        stream.Synchronize();
        long launch = 0, copy = 0;
        for (int round = 0; round < 3; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++)
            {
                kernel(stream, new Index1D(16), floats.View, floats.View, default);
            }

            stream.Synchronize();
            launch = Math.Max(launch, (GC.GetAllocatedBytesForCurrentThread() - before + 19) / 20);
            before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++)
            {
                floats.View.CopyFromCPU(stream, (ReadOnlySpan<float>)host);
                floats.View.CopyToCPU(stream, host.AsSpan());
            }

            stream.Synchronize();
            copy = Math.Max(copy, (GC.GetAllocatedBytesForCurrentThread() - before + 19) / 20);
        }

        return (launch, copy);
    }

    private static void Empty(Index1D index, ArrayView<float> arena, ArrayView<float> scratch, LargeArguments arguments)
    {
    }

    /// <summary>As large as the largest argument struct of the step's kernels (the optimizer's).</summary>
    public struct LargeArguments
    {
        public long A, B, C, D, E, F, G, H;
    }
}

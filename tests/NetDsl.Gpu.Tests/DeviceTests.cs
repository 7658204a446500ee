using NetDsl.Gpu;

namespace NetDsl.Gpu.Tests;

public class DeviceTests
{
    [Fact]
    public void TheCpuAcceleratorIsAlwaysAvailable()
    {
        using var device = GpuDevice.CreateCpuAccelerator(2);
        Assert.Equal(GpuKind.CpuAccelerator, device.Kind);
        Assert.Equal(2, device.Accelerator.NumMultiprocessors);
        Assert.Contains("CPU accelerator", device.Description);
    }

    [Fact]
    public void TheDefaultDeviceSaysWhichItPicked()
    {
        using var device = GpuDevice.CreateDefault();
        Assert.Equal(GpuDevice.IsCudaAvailable() ? GpuKind.Cuda : GpuKind.CpuAccelerator, device.Kind);
        Assert.False(string.IsNullOrWhiteSpace(device.Description));
    }
}

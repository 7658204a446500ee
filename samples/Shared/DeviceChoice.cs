#if NETDSL_GPU
using NetDsl.Gpu;
#endif

namespace NetDsl.Samples;

/// <summary>
/// The samples' <c>--device cpu|gpu</c> option: <c>cpu</c> trains with the generated SIMD kernels; <c>gpu</c> with the
/// generated ILGPU kernels on CUDA when an NVIDIA GPU is present, else on ILGPU's CPU accelerator (which emulates the GPU,
/// slowly). A Native-AOT publish has no GPU backend (ILGPU compiles kernels with Reflection.Emit), so there <c>gpu</c> is
/// refused with a clear message.
/// </summary>
internal sealed class DeviceChoice : IDisposable
{
    private DeviceChoice(string kind, string description)
    {
        Kind = kind;
        Description = description;
    }

    /// <summary>"cpu", "cuda" or "ilgpu-cpu" (the JSON reports' <c>device</c>).</summary>
    public string Kind { get; }

    /// <summary>A line for the console.</summary>
    public string Description { get; }

#if NETDSL_GPU
    /// <summary>The GPU device, or null for the CPU backend.</summary>
    public GpuDevice? Gpu { get; private init; }
#endif

    /// <summary>The values <c>--device</c> takes.</summary>
    public const string Usage = "--device cpu|gpu";

    /// <summary>Creates the backend named by <paramref name="option"/>.</summary>
    /// <exception cref="FormatException">An unknown name, or "gpu" in a build without the GPU backend.</exception>
    public static DeviceChoice Create(string option)
    {
        switch (option)
        {
            case "cpu":
                return new DeviceChoice("cpu", "CPU (generated SIMD kernels)");
            case "gpu":
#if NETDSL_GPU
            {
                var device = GpuDevice.CreateDefault();
                return new DeviceChoice(device.Kind == GpuKind.Cuda ? "cuda" : "ilgpu-cpu", "GPU backend on " + device.Description) { Gpu = device };
            }
#else
                throw new FormatException("--device gpu: this build has no GPU backend (a Native-AOT publish cannot run ILGPU); run the sample with dotnet run");
#endif
            default:
                throw new FormatException($"--device must be cpu or gpu, not '{option}'");
        }
    }

    /// <summary>Creates the backend, or prints the problem as an argument error (exit code 2) and returns null.</summary>
    public static DeviceChoice? CreateOrReport(string option)
    {
        try
        {
            return Create(option);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return null;
        }
    }

    /// <summary>Frees the GPU device, if any.</summary>
    public void Dispose()
    {
#if NETDSL_GPU
        Gpu?.Dispose();
#endif
    }
}

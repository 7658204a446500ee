namespace NetDsl.Gpu;

/// <summary>
/// Marks a static method as an ILGPU kernel of NetDsl (generated per network, or one of the runtime's own): the PTX
/// report compiles every marked method offline and assembles it with NVIDIA's <c>ptxas</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class GpuKernelAttribute : Attribute
{
    /// <summary>Whether the kernel is on the hot path of a training step (a convolution, a matrix product, the optimizer):
    /// hot kernels must compile without register spills.</summary>
    public bool Hot { get; init; }

    /// <summary>Threads per group of an explicitly grouped kernel (a tiled kernel with shared memory and barriers,
    /// launched in groups of exactly this size); 0 for a kernel of one thread per element, grouped automatically.</summary>
    public int GroupSize { get; init; }
}

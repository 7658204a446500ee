using ILGPU;

namespace NetDsl.Gpu.Tests.Ptx;

/// <summary>
/// Hand-written kernels with the signature the generator emits (arena, labels, <see cref="GpuStep"/>; every shape and
/// offset a literal constant, activations at a constant plus a multiple of the capacity), so the PTX report has
/// something from the test assembly until generated networks live here.
/// </summary>
public static class SampleKernels
{
    private const int In = 64;
    private const int Out = 32;
    private const int Weights = 0;                       // Out x In, row-major
    private const int Bias = Weights + Out * In;         // Out
    private const int Activations = Bias + Out;          // then Capacity x In inputs, Capacity x Out outputs

    /// <summary>A fixed-size dense layer with ReLU, y = max(0, W x + b): one thread per (row, output).</summary>
    [GpuKernel(Hot = true)]
    public static void DenseReluForward(Index1D index, ArrayView<float> arena, ArrayView<int> labels, GpuStep step)
    {
        if (index >= step.Rows * Out)
        {
            return;
        }

        int row = index / Out;
        int o = index - row * Out;
        int x = Activations + row * In;
        int y = Activations + step.Capacity * In + row * Out;
        float sum = arena[Bias + o];
        for (int i = 0; i < In; i++)
        {
            sum += arena[Weights + o * In + i] * arena[x + i];
        }

        arena[y + o] = sum > 0f ? sum : 0f;
    }

    /// <summary>
    /// The gradient of the mean squared error between the dense layer's outputs and the one-hot labels, averaged over the
    /// batch: one thread per (row, output). (No exp here: ILGPU's PTX backend has no MathF.Exp without ILGPU.Algorithms.)
    /// </summary>
    [GpuKernel]
    public static void SquaredErrorGradient(Index1D index, ArrayView<float> arena, ArrayView<int> labels, GpuStep step)
    {
        if (index >= step.Rows * Out)
        {
            return;
        }

        int row = index / Out;
        int o = index - row * Out;
        int y = Activations + step.Capacity * In + row * Out;
        int gradient = Activations + step.Capacity * (In + Out) + row * Out;
        float target = o == labels[row] ? 1f : 0f;
        arena[gradient + o] = 2f * (arena[y + o] - target) / step.Rows;
    }
}

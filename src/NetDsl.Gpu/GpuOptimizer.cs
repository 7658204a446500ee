using ILGPU;
using ILGPU.Runtime;
using NetDsl.Optimizers;

namespace NetDsl.Gpu;

/// <summary>A trainable tensor of the parameter block: start, region up to the next tensor (padding included), element count.</summary>
public readonly record struct GpuTensor(long Offset, int Length, int Count);

/// <summary>TEMPORARY host fallback (replaced by the device kernels).</summary>
public sealed class GpuOptimizer : IDisposable
{
    private float[] _host = [];

    /// <summary>Creates it.</summary>
    public GpuOptimizer(GpuDevice device) => ArgumentNullException.ThrowIfNull(device);

    /// <summary>One step.</summary>
    public void Step(AcceleratorStream stream, ArrayView<float> arena, long parameterLength, ReadOnlySpan<GpuTensor> trainable, IOptimizer optimizer, ArrayView<float> scratch)
    {
        long floats = 4 * parameterLength;
        if (_host.Length < floats)
        {
            _host = new float[floats];
        }

        var view = arena.SubView(0, floats);
        view.CopyToCPU(stream, _host.AsSpan(0, (int)floats));
        stream.Synchronize();
        optimizer.BeginStep();
        int p = (int)parameterLength;
        foreach (var t in trainable)
        {
            int o = (int)t.Offset;
            var slice = new ParameterSlice(_host.AsSpan(o, t.Length), _host.AsSpan(p + o, t.Length),
                optimizer.StateSlots > 0 ? _host.AsSpan(2 * p + o, t.Length) : default,
                optimizer.StateSlots > 1 ? _host.AsSpan(3 * p + o, t.Length) : default);
            optimizer.Update(slice);
        }

        view.CopyFromCPU(stream, (ReadOnlySpan<float>)_host.AsSpan(0, (int)floats));
    }

    /// <summary>Frees nothing.</summary>
    public void Dispose()
    {
    }
}

using System.Runtime.InteropServices;

namespace NetDsl.Gpu;

/// <summary>
/// The runtime values every generated kernel takes besides the arena: the only numbers not fixed at compile time.
/// Every shape, stride and parameter offset is a literal constant in the kernel; activation buffers sit at a constant
/// plus a constant multiple of <see cref="Capacity"/>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuStep
{
    /// <summary>Samples in the batch being processed (1 to <see cref="Capacity"/>).</summary>
    public int Rows;

    /// <summary>Samples the activation buffers hold: the session's batch size rounded up to a multiple of 16 (64-byte alignment).</summary>
    public int Capacity;

    /// <summary>1 in a training pass (dropout active, batch statistics), 0 in inference.</summary>
    public int Training;

    /// <summary>The network's seed (dropout masks).</summary>
    public int Seed;

    /// <summary>Training forward passes so far, this one included (dropout masks change every step, as on the CPU).</summary>
    public long Step;

    /// <summary>1 when every float target of the batch is 0 or 1: the hinge losses then map them to -1/+1, as Keras does per batch.</summary>
    public int ZeroOneTargets;
}

using NetDsl.Kernels;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetDsl.Optimizers;

/// <summary>
/// The scalars every update rule shares, fixed for one step: the gradient preprocessing (norm-clipping scale, clip by
/// value, coupled weight decay) and the decoupled weight decay, plus the step's learning rate.
/// </summary>
/// <remarks>
/// Per element, in this order: <c>g ← clamp(scale·g, −clip, clip)</c>; <c>g ← fma(l2, w, g)</c>; <c>w ← keep·w</c>.
/// With the options off (scale 1, clip +∞, l2 0, keep 1) each of these is exact, so the rules reduce bit for bit to
/// their plain form.
/// </remarks>
internal readonly struct StepScalars
{
    /// <summary>The step's learning rate (schedule and time decay applied).</summary>
    public float LearningRate { get; init; }

    /// <summary>The norm-clipping factor from the slice.</summary>
    public float Scale { get; init; }

    /// <summary>The clip-by-value bound (+∞: off).</summary>
    public float Clip { get; init; }

    /// <summary>The coupled weight-decay coefficient (0: off).</summary>
    public float L2 { get; init; }

    /// <summary><c>1 − lr·wd</c> for decoupled weight decay (1: off).</summary>
    public float Keep { get; init; }

    /// <summary>The preprocessed gradient, vector form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gradient<TO, TV>(TV g, TV w, TV scale, TV negClip, TV clip, TV l2)
        where TO : ISimd<TV>
        where TV : struct
        => TO.Fma(l2, w, TO.Clamp(TO.Multiply(g, scale), negClip, clip));

    /// <summary>The preprocessed gradient, scalar form (the same operations as the vector form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Gradient(float g, float w) => MathF.FusedMultiplyAdd(L2, w, Math.Clamp(g * Scale, -Clip, Clip));
}

/// <summary>One update rule as a fused pass over raw pointers, generic over the SIMD width.</summary>
internal unsafe interface IUpdateKernel
{
    /// <summary>Updates <paramref name="n"/> parameters <paramref name="w"/> from gradients <paramref name="g"/> and state slots <paramref name="s0"/>, <paramref name="s1"/> (null when unused).</summary>
    void Run<TO, TV>(float* w, float* g, float* s0, float* s1, int n)
        where TO : ISimd<TV>
        where TV : struct;
}

/// <summary>Runs a kernel over a slice at the widest SIMD width the machine accelerates.</summary>
internal static unsafe class KernelDispatch
{
    public static void Run<TK>(in TK kernel, in ParameterSlice slice, int stateSlots)
        where TK : struct, IUpdateKernel
    {
        Span<float> w = slice.Values;
        ReadOnlySpan<float> g = slice.Gradients;
        Span<float> s0 = stateSlots > 0 ? slice.State(0) : default;
        Span<float> s1 = stateSlots > 1 ? slice.State(1) : default;
        fixed (float* pw = w, pg = g, p0 = s0, p1 = s1)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                kernel.Run<Simd512, Vector512<float>>(pw, pg, p0, p1, w.Length);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                kernel.Run<Simd256, Vector256<float>>(pw, pg, p0, p1, w.Length);
            }
            else
            {
                kernel.Run<Simd128, Vector128<float>>(pw, pg, p0, p1, w.Length);
            }
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetDsl.Optimizers;

/// <summary>
/// The SIMD operations the optimizer kernels are written against, one struct per width; kernels are generic over it so
/// the JIT compiles one specialised copy per width with every call inlined (as <see cref="Kernels.ISimd{TV}"/>, plus the
/// square root and the clamp that the update rules need).
/// </summary>
internal unsafe interface IVectorOps<TV> where TV : struct
{
    static abstract int Count { get; }

    static abstract TV Load(float* p);

    static abstract void Store(float* p, TV v);

    static abstract TV Broadcast(float x);

    /// <summary><c>a * b + c</c>, one rounding (the scalar tail uses <see cref="MathF.FusedMultiplyAdd"/>).</summary>
    static abstract TV Fma(TV a, TV b, TV c);

    static abstract TV Add(TV a, TV b);

    static abstract TV Subtract(TV a, TV b);

    static abstract TV Multiply(TV a, TV b);

    static abstract TV Divide(TV a, TV b);

    static abstract TV Sqrt(TV v);

    /// <summary><c>min(max(v, lo), hi)</c>, propagating NaN like <see cref="Math.Clamp(float, float, float)"/>.</summary>
    static abstract TV Clamp(TV v, TV lo, TV hi);
}

internal readonly unsafe struct Ops512 : IVectorOps<Vector512<float>>
{
    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector512<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sqrt(Vector512<float> v) => Vector512.Sqrt(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Clamp(Vector512<float> v, Vector512<float> lo, Vector512<float> hi) => Vector512.Min(Vector512.Max(v, lo), hi);
}

internal readonly unsafe struct Ops256 : IVectorOps<Vector256<float>>
{
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector256<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> v) => Vector256.Sqrt(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Clamp(Vector256<float> v, Vector256<float> lo, Vector256<float> hi) => Vector256.Min(Vector256.Max(v, lo), hi);
}

internal readonly unsafe struct Ops128 : IVectorOps<Vector128<float>>
{
    public static int Count => Vector128<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* p) => Vector128.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector128<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Broadcast(float x) => Vector128.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Subtract(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Multiply(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Divide(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sqrt(Vector128<float> v) => Vector128.Sqrt(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Clamp(Vector128<float> v, Vector128<float> lo, Vector128<float> hi) => Vector128.Min(Vector128.Max(v, lo), hi);
}

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
        where TO : IVectorOps<TV>
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
        where TO : IVectorOps<TV>
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
                kernel.Run<Ops512, Vector512<float>>(pw, pg, p0, p1, w.Length);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                kernel.Run<Ops256, Vector256<float>>(pw, pg, p0, p1, w.Length);
            }
            else
            {
                kernel.Run<Ops128, Vector128<float>>(pw, pg, p0, p1, w.Length);
            }
        }
    }
}

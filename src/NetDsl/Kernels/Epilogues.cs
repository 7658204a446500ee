using System.Runtime.CompilerServices;

namespace NetDsl.Kernels;

/// <summary>
/// What a GEMM does with each finished accumulator vector before storing it: the fusion point that lets
/// bias, activation and activation-derivative run in registers instead of in separate passes.
/// </summary>
public unsafe interface IEpilogue
{
    /// <summary>Transforms the accumulator for output element (i, j..j+Count).</summary>
    /// <param name="acc">The accumulated dot products.</param>
    /// <param name="bias">Per-column vector at column j (unused by some epilogues).</param>
    /// <param name="aux">Auxiliary tensor laid out like the output, at (i, j) (unused by some epilogues).</param>
    static abstract TV Apply<TS, TV>(TV acc, float* bias, float* aux) where TS : ISimd<TV> where TV : struct;

    /// <summary>Whether the epilogue reads <c>bias</c>.</summary>
    static abstract bool UsesBias { get; }

    /// <summary>Whether the epilogue reads <c>aux</c>.</summary>
    static abstract bool UsesAux { get; }
}

/// <summary>The fused GEMM epilogues.</summary>
public static unsafe class Epilogue
{
    /// <summary>Stores the accumulator as is.</summary>
    public readonly struct None : IEpilogue
    {
        /// <inheritdoc/>
        public static bool UsesBias => false;
        /// <inheritdoc/>
        public static bool UsesAux => false;
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Apply<TS, TV>(TV acc, float* bias, float* aux) where TS : ISimd<TV> where TV : struct => acc;
    }

    /// <summary><c>f(acc + bias[j])</c>: a dense/conv layer's forward epilogue.</summary>
    public readonly struct BiasActivation<TAct> : IEpilogue where TAct : IActivation
    {
        /// <inheritdoc/>
        public static bool UsesBias => true;
        /// <inheritdoc/>
        public static bool UsesAux => false;
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Apply<TS, TV>(TV acc, float* bias, float* aux) where TS : ISimd<TV> where TV : struct
            => TAct.Forward<TS, TV>(TS.Add(acc, TS.Load(bias)));
    }

    /// <summary><c>f(acc)</c>: a forward epilogue without bias.</summary>
    public readonly struct Activation<TAct> : IEpilogue where TAct : IActivation
    {
        /// <inheritdoc/>
        public static bool UsesBias => false;
        /// <inheritdoc/>
        public static bool UsesAux => false;
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Apply<TS, TV>(TV acc, float* bias, float* aux) where TS : ISimd<TV> where TV : struct
            => TAct.Forward<TS, TV>(acc);
    }

    /// <summary>
    /// <c>acc * f'(x)</c> with <c>f'</c> computed from the stored activation output <c>aux = f(x)</c>: turns the
    /// gradient with respect to a layer's output into the gradient with respect to its pre-activation.
    /// </summary>
    public readonly struct ActivationGradient<TAct> : IEpilogue where TAct : IActivation
    {
        /// <inheritdoc/>
        public static bool UsesBias => false;
        /// <inheritdoc/>
        public static bool UsesAux => true;
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Apply<TS, TV>(TV acc, float* bias, float* aux) where TS : ISimd<TV> where TV : struct
            => TAct.Backward<TS, TV>(acc, TS.Load(aux));
    }

    /// <summary>
    /// <c>f(acc * scale[j] + shift[j])</c>: a convolution with the inference BatchNorm after it folded in. <c>bias</c> points
    /// at column j of the folded block <c>[shift (Filters) | scale (Filters)]</c> (<see cref="BatchNorm.Fold"/>).
    /// </summary>
    public readonly struct ScaleShift<TAct, TShape> : IEpilogue where TAct : IActivation where TShape : IConvShape
    {
        /// <inheritdoc/>
        public static bool UsesBias => true;
        /// <inheritdoc/>
        public static bool UsesAux => false;
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Apply<TS, TV>(TV acc, float* bias, float* aux) where TS : ISimd<TV> where TV : struct
            => TAct.Forward<TS, TV>(TS.Fma(acc, TS.Load(bias + TShape.Filters), TS.Load(bias)));
    }

    /// <summary>
    /// <c>f(acc * scale[j] + shift[j] + aux)</c>: as <see cref="ScaleShift{TAct, TShape}"/>, plus the residual tensor
    /// <c>aux</c> (laid out like the output) of the Add the normalised convolution feeds.
    /// </summary>
    public readonly struct ScaleShiftResidual<TAct, TShape> : IEpilogue where TAct : IActivation where TShape : IConvShape
    {
        /// <inheritdoc/>
        public static bool UsesBias => true;
        /// <inheritdoc/>
        public static bool UsesAux => true;
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Apply<TS, TV>(TV acc, float* bias, float* aux) where TS : ISimd<TV> where TV : struct
            => TAct.Forward<TS, TV>(TS.Add(TS.Fma(acc, TS.Load(bias + TShape.Filters), TS.Load(bias)), TS.Load(aux)));
    }
}

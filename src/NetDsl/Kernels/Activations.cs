using System.Runtime.CompilerServices;

namespace NetDsl.Kernels;

/// <summary>An element-wise activation <c>y = f(x)</c> whose derivative is computed from its output <c>y</c>.</summary>
public interface IActivation
{
    /// <summary><c>f(x)</c> for every lane.</summary>
    static abstract TV Forward<TS, TV>(TV x) where TS : ISimd<TV> where TV : struct;

    /// <summary><c>dL/dx = dL/dy * f'(x)</c>, written in terms of <c>y = f(x)</c>.</summary>
    static abstract TV Backward<TS, TV>(TV dy, TV y) where TS : ISimd<TV> where TV : struct;

    /// <summary>Scalar <c>f(x)</c>.</summary>
    static abstract float Forward(float x);

    /// <summary>Scalar <c>dL/dx</c> from <c>dL/dy</c> and <c>y</c>.</summary>
    static abstract float Backward(float dy, float y);
}

/// <summary>The element-wise activations, as types the generated code instantiates kernels with.</summary>
public static class Act
{
    /// <summary><c>f(x) = x</c>.</summary>
    public readonly struct Linear : IActivation
    {
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Forward<TS, TV>(TV x) where TS : ISimd<TV> where TV : struct => x;
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TS, TV>(TV dy, TV y) where TS : ISimd<TV> where TV : struct => dy;
        /// <inheritdoc/>
        public static float Forward(float x) => x;
        /// <inheritdoc/>
        public static float Backward(float dy, float y) => dy;
    }

    /// <summary>
    /// <c>f(x) = max(x, 0)</c>; <c>f'(x) = 1</c> where <c>y &gt; 0</c>, else 0. NaN propagates (IEEE 754, as PyTorch and
    /// Keras): <c>f(NaN) = NaN</c>, so a NaN anywhere in the forward pass reaches the loss instead of becoming 0.
    /// </summary>
    /// <remarks>
    /// The vector form is <c>MaxNative(0, x)</c> with zero first: x86's <c>(V)MAXPS a, b</c> returns its second operand
    /// when either is NaN (so a NaN x comes through at the cost of one instruction), and Arm's <c>FMAX</c> returns NaN.
    /// The scalar form is <c>x &lt;= 0 ? 0 : x</c>, false for NaN.
    /// </remarks>
    public readonly struct ReLU : IActivation
    {
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Forward<TS, TV>(TV x) where TS : ISimd<TV> where TV : struct => TS.Max(TS.Zero, x);
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TS, TV>(TV dy, TV y) where TS : ISimd<TV> where TV : struct => TS.WherePositive(y, dy);
        /// <inheritdoc/>
        public static float Forward(float x) => x <= 0f ? 0f : x;
        /// <inheritdoc/>
        public static float Backward(float dy, float y) => y > 0f ? dy : 0f;
    }

    /// <summary><c>f(x) = 1 / (1 + e^-x)</c>; <c>f'(x) = y (1 - y)</c>.</summary>
    public readonly struct Sigmoid : IActivation
    {
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Forward<TS, TV>(TV x) where TS : ISimd<TV> where TV : struct
        {
            var one = TS.Broadcast(1f);
            return TS.Divide(one, TS.Add(one, TS.Exp(TS.Subtract(TS.Zero, x))));
        }
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TS, TV>(TV dy, TV y) where TS : ISimd<TV> where TV : struct
            => TS.Multiply(dy, TS.Multiply(y, TS.Subtract(TS.Broadcast(1f), y)));
        /// <inheritdoc/>
        public static float Forward(float x) => 1f / (1f + MathF.Exp(-x));
        /// <inheritdoc/>
        public static float Backward(float dy, float y) => dy * y * (1f - y);
    }

    /// <summary><c>f(x) = tanh(x)</c>, computed as <c>2 sigmoid(2x) - 1</c>; <c>f'(x) = 1 - y^2</c>.</summary>
    public readonly struct Tanh : IActivation
    {
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Forward<TS, TV>(TV x) where TS : ISimd<TV> where TV : struct
        {
            var one = TS.Broadcast(1f);
            var two = TS.Broadcast(2f);
            var s = TS.Divide(two, TS.Add(one, TS.Exp(TS.Multiply(TS.Broadcast(-2f), x))));
            return TS.Subtract(s, one);
        }
        /// <inheritdoc/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Backward<TS, TV>(TV dy, TV y) where TS : ISimd<TV> where TV : struct
            => TS.Multiply(dy, TS.Subtract(TS.Broadcast(1f), TS.Multiply(y, y)));
        /// <inheritdoc/>
        public static float Forward(float x) => MathF.Tanh(x);
        /// <inheritdoc/>
        public static float Backward(float dy, float y) => dy * (1f - y * y);
    }
}

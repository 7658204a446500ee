using System.Runtime.CompilerServices;
using ILGPU;

namespace NetDsl.Gpu;

/// <summary>
/// Device functions for the activations, called from generated ILGPU kernels with a literal activation kind (the
/// numeric value of <c>NetDsl.Activation</c>): after inlining every switch on the kind folds away. The values are those
/// of the CPU kernels (<c>NetDsl.Kernels.Act</c>'s vector forms, <c>RowKernels</c>' softmax), in scalar float code.
/// </summary>
/// <remarks>
/// Everything here is ILGPU-compilable: static, no allocation, no exceptions, no virtual or interface calls; rows are
/// addressed in an <see cref="ArrayView{T}"/> by offsets. Row functions are for one thread per row.
/// </remarks>
public static class GpuActivation
{
    /// <summary><c>NetDsl.Activation.Linear</c>: <c>f(x) = x</c>.</summary>
    public const int Linear = 0;

    /// <summary><c>NetDsl.Activation.ReLU</c>: <c>f(x) = max(x, 0)</c>, derivative 0 at 0.</summary>
    public const int ReLU = 1;

    /// <summary><c>NetDsl.Activation.Sigmoid</c>: <c>f(x) = 1 / (1 + e^-x)</c>.</summary>
    public const int Sigmoid = 2;

    /// <summary><c>NetDsl.Activation.Tanh</c>: <c>f(x) = 2 / (1 + e^-2x) - 1</c>, the CPU kernels' vector form.</summary>
    public const int Tanh = 3;

    /// <summary><c>NetDsl.Activation.Softmax</c>: row-wise, see <see cref="SoftmaxRow(ArrayView{float}, long, long, int)"/> (not element-wise).</summary>
    public const int Softmax = 4;

    /// <summary>
    /// <c>f(x)</c> of an element-wise activation (<see cref="Linear"/>, <see cref="ReLU"/>, <see cref="Sigmoid"/>,
    /// <see cref="Tanh"/>); any other kind (<see cref="Softmax"/>) returns <paramref name="x"/> unchanged: use the row
    /// functions for it.
    /// </summary>
    /// <param name="activation">The activation kind, a literal in generated code.</param>
    /// <param name="x">The pre-activation.</param>
    /// <returns>The activation's output.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Forward(int activation, float x)
    {
        switch (activation)
        {
            case ReLU:
                // Not MathF.Max / max.f32 (PTX's max returns the number when one operand is NaN): NaN propagates.
                return x <= 0f ? 0f : x;
            case Sigmoid:
                return 1f / (1f + MathF.Exp(-x));
            case Tanh:
                // As Act.Tanh's vector form (what every CPU kernel runs), not MathF.Tanh: saturates cleanly to +-1.
                return 2f / (1f + MathF.Exp(-2f * x)) - 1f;
            default:
                return x;
        }
    }

    /// <summary>
    /// <c>dL/dx = dL/dy f'(x)</c> of an element-wise activation, from the output <c>y = f(x)</c>: ReLU passes
    /// <paramref name="dy"/> where <c>y &gt; 0</c>, Sigmoid multiplies by <c>y (1 - y)</c>, Tanh by <c>1 - y^2</c>.
    /// Linear and any other kind (<see cref="Softmax"/>: use <see cref="SoftmaxBackwardRow"/>) return <paramref name="dy"/>.
    /// </summary>
    /// <param name="activation">The activation kind, a literal in generated code.</param>
    /// <param name="dy">The gradient with respect to the output.</param>
    /// <param name="y">The activation's output.</param>
    /// <returns>The gradient with respect to the pre-activation.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Backward(int activation, float dy, float y)
    {
        switch (activation)
        {
            case ReLU:
                return y > 0f ? dy : 0f;
            case Sigmoid:
                return dy * (y * (1f - y));
            case Tanh:
                return dy * (1f - y * y);
            default:
                return dy;
        }
    }

    /// <summary>The maximum of one row (negative infinity for <paramref name="cols"/> = 0; NaN when any value is NaN), as the softmax subtracts it.</summary>
    /// <param name="arena">The buffer holding the row.</param>
    /// <param name="xAt">Offset of the row's first value.</param>
    /// <param name="cols">Values in the row.</param>
    /// <returns>The largest value.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float RowMax(ArrayView<float> arena, long xAt, int cols)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < cols; j++)
        {
            float v = arena[xAt + j];
            if (v > max || float.IsNaN(v)) max = v; // not MathF.Max (PTX max.f32 drops NaN): a NaN sticks
        }

        return max;
    }

    /// <summary>
    /// Softmax of one row, as <c>RowKernels.Softmax</c>: <c>y_j = exp(x_j - max) * (1 / sum_k exp(x_k - max))</c>.
    /// <paramref name="yAt"/> may equal <paramref name="xAt"/> (in place); otherwise the rows must not overlap.
    /// </summary>
    /// <param name="arena">The buffer holding both rows.</param>
    /// <param name="xAt">Offset of the input row.</param>
    /// <param name="yAt">Offset of the output row (written).</param>
    /// <param name="cols">Values in the row.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SoftmaxRow(ArrayView<float> arena, long xAt, long yAt, int cols)
        => SoftmaxRow(arena, xAt, yAt, cols, RowMax(arena, xAt, cols));

    /// <summary>
    /// Softmax of one row given its maximum (<see cref="RowMax"/>), as <see cref="SoftmaxRow(ArrayView{float}, long, long, int)"/>;
    /// returns <c>log(sum_k exp(x_k - max))</c>, from which the cross-entropies take <c>logsumexp(x) = max + </c> that.
    /// </summary>
    /// <param name="arena">The buffer holding both rows.</param>
    /// <param name="xAt">Offset of the input row.</param>
    /// <param name="yAt">Offset of the output row (written; may equal <paramref name="xAt"/>).</param>
    /// <param name="cols">Values in the row.</param>
    /// <param name="max">The row's maximum.</param>
    /// <returns>The logarithm of the sum of the shifted exponentials.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SoftmaxRow(ArrayView<float> arena, long xAt, long yAt, int cols, float max)
    {
        float sum = 0f;
        for (int j = 0; j < cols; j++)
        {
            float e = MathF.Exp(arena[xAt + j] - max);
            arena[yAt + j] = e;
            sum += e;
        }

        float inv = 1f / sum;
        for (int j = 0; j < cols; j++)
        {
            arena[yAt + j] *= inv;
        }

        return MathF.Log(sum);
    }

    /// <summary>
    /// In place through a row softmax, as <c>RowKernels.SoftmaxBackward</c>: <c>g_j = y_j (g_j - sum_k g_k y_k)</c>, the
    /// Jacobian-vector product from the softmax output <c>y</c>. The dot product is summed in float (the CPU sums in
    /// double; the difference is rounding, below <c>cols</c> ulps of <c>sum |g y|</c>).
    /// </summary>
    /// <param name="arena">The buffer holding both rows.</param>
    /// <param name="gAt">Offset of the gradient row: <c>dL/dy</c> on entry, <c>dL/dx</c> on return.</param>
    /// <param name="yAt">Offset of the softmax output row (must not overlap the gradient row).</param>
    /// <param name="cols">Values in the row.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SoftmaxBackwardRow(ArrayView<float> arena, long gAt, long yAt, int cols)
    {
        float dot = 0f;
        for (int j = 0; j < cols; j++)
        {
            dot += arena[gAt + j] * arena[yAt + j];
        }

        for (int j = 0; j < cols; j++)
        {
            arena[gAt + j] = arena[yAt + j] * (arena[gAt + j] - dot);
        }
    }

    /// <summary>
    /// The head's activation alone (inference, <c>Predict</c>), one row, as <c>Losses.Activate</c>: <c>y = f(z)</c>
    /// element-wise, or the row softmax. <paramref name="yAt"/> may equal <paramref name="zAt"/>.
    /// </summary>
    /// <param name="arena">The buffer holding both rows.</param>
    /// <param name="activation">The activation kind, a literal in generated code.</param>
    /// <param name="zAt">Offset of the pre-activation row.</param>
    /// <param name="yAt">Offset of the output row (written).</param>
    /// <param name="cols">Values in the row.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OutputRow(ArrayView<float> arena, int activation, long zAt, long yAt, int cols)
    {
        if (activation == Softmax)
        {
            SoftmaxRow(arena, zAt, yAt, cols);
            return;
        }

        for (int j = 0; j < cols; j++)
        {
            arena[yAt + j] = Forward(activation, arena[zAt + j]);
        }
    }

    /// <summary>
    /// In place through the head's activation, one row: <c>g</c> holds <c>dL/dy</c> and becomes <c>dL/dz</c>, from the
    /// output <c>y</c> (element-wise <see cref="Backward"/>, or <see cref="SoftmaxBackwardRow"/>).
    /// </summary>
    /// <param name="arena">The buffer holding both rows.</param>
    /// <param name="activation">The activation kind, a literal in generated code.</param>
    /// <param name="gAt">Offset of the gradient row (read and written).</param>
    /// <param name="yAt">Offset of the output row (must not overlap the gradient row).</param>
    /// <param name="cols">Values in the row.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void BackwardRow(ArrayView<float> arena, int activation, long gAt, long yAt, int cols)
    {
        if (activation == Softmax)
        {
            SoftmaxBackwardRow(arena, gAt, yAt, cols);
            return;
        }

        if (activation == Linear)
        {
            return;
        }

        for (int j = 0; j < cols; j++)
        {
            arena[gAt + j] = Backward(activation, arena[gAt + j], arena[yAt + j]);
        }
    }
}

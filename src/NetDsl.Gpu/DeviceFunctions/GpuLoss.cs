using System.Runtime.CompilerServices;
using ILGPU;

namespace NetDsl.Gpu;

/// <summary>
/// Device functions for the fused output activation + loss, one row per call (one thread per row), called from
/// generated ILGPU kernels with literal loss and activation kinds (the numeric values of <c>NetDsl.Loss</c> and
/// <c>NetDsl.Activation</c>, see <see cref="GpuActivation"/>) so every switch folds away after inlining. They compute
/// the functions of the CPU kernels (<c>NetDsl.Kernels.Losses.Compute</c> and <c>ComputeSparse</c>, row by row) with
/// the same branches, clipping, epsilon and mean over the outputs, in scalar float code.
/// </summary>
/// <remarks>
/// <para>
/// A row function writes the outputs <c>y = f(z)</c> (what <c>Predict</c> returns), the gradient
/// <c>scale * dL_sample/dz</c>, and returns the row's per-sample loss (unscaled: the batch loss is the sum over the rows
/// times <c>1/rows</c>, the caller's <c>scale</c>). As on the CPU, the cross-entropies after Sigmoid or Softmax are
/// computed from the logits <c>z</c>; every other pairing goes through <c>dL/dy</c> and the activation's derivative.
/// </para>
/// <para>
/// Buffers: the gradient row may equal the logits row (z is consumed); the output row must overlap neither. Rows are
/// offsets into one <see cref="ArrayView{T}"/>; nothing is checked (labels must be in [0, cols)).
/// </para>
/// <para>
/// Differences from the CPU are rounding only: sums run sequentially in float (the CPU sums in vector lanes, and in
/// double where it accumulates a dot product or a categorical loss), and <c>exp</c>/<c>log</c> are the scalar
/// functions of the target (the CPU's vector paths use their own approximations).
/// </para>
/// </remarks>
public static class GpuLoss
{
    /// <summary><c>NetDsl.Loss.SparseCategoricalCrossEntropy</c> (integer labels: <see cref="SparseRow"/>).</summary>
    public const int SparseCategoricalCrossEntropy = 0;

    /// <summary><c>NetDsl.Loss.CategoricalCrossEntropy</c>: <c>-sum_j t_j log p_j</c> (a sum over the classes).</summary>
    public const int CategoricalCrossEntropy = 1;

    /// <summary><c>NetDsl.Loss.BinaryCrossEntropy</c>: <c>mean_j -(t_j log p_j + (1 - t_j) log(1 - p_j))</c>.</summary>
    public const int BinaryCrossEntropy = 2;

    /// <summary><c>NetDsl.Loss.MeanSquaredError</c>: <c>mean_j (y_j - t_j)^2</c>.</summary>
    public const int MeanSquaredError = 3;

    /// <summary><c>NetDsl.Loss.MeanAbsoluteError</c>: <c>mean_j |y_j - t_j|</c>.</summary>
    public const int MeanAbsoluteError = 4;

    /// <summary><c>NetDsl.Loss.MeanAbsolutePercentageError</c>: <c>100 mean_j |(t_j - y_j) / max(|t_j|, eps)|</c>.</summary>
    public const int MeanAbsolutePercentageError = 5;

    /// <summary><c>NetDsl.Loss.MeanSquaredLogarithmicError</c>: <c>mean_j (log(max(y_j, eps) + 1) - log(max(t_j, eps) + 1))^2</c>.</summary>
    public const int MeanSquaredLogarithmicError = 6;

    /// <summary><c>NetDsl.Loss.Hinge</c>: <c>mean_j max(1 - t_j y_j, 0)</c>.</summary>
    public const int Hinge = 7;

    /// <summary><c>NetDsl.Loss.SquaredHinge</c>: <c>mean_j max(1 - t_j y_j, 0)^2</c>.</summary>
    public const int SquaredHinge = 8;

    /// <summary>Keras' <c>backend.epsilon()</c>, as <c>NetDsl.Kernels.Losses.Epsilon</c>.</summary>
    public const float Epsilon = 1e-7f;

    /// <summary>The upper clip bound <c>1 - eps</c>, rounded to float.</summary>
    public const float OneMinusEpsilon = 1f - Epsilon;

    /// <summary>
    /// Whether the loss maps targets that are all 0 or 1 to -1/1 first (Keras' <c>_maybe_convert_labels</c>, the hinge
    /// losses). The test is over the whole batch, so the caller makes it (<see cref="AllZeroOrOne"/> on the host, where
    /// the targets come from) and passes the result to <see cref="Row"/>.
    /// </summary>
    /// <param name="loss">The loss kind.</param>
    /// <returns>True for <see cref="Hinge"/> and <see cref="SquaredHinge"/>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool HasSignedTargets(int loss) => loss == Hinge || loss == SquaredHinge;

    /// <summary>
    /// Host-side: Keras' per-batch test of the hinge losses, every target 0 or 1 (then <see cref="Row"/> maps them to
    /// -1/1); the CPU kernel applies it to exactly the batch's targets.
    /// </summary>
    /// <param name="targets">The batch's targets.</param>
    /// <returns>Whether every value is 0 or 1.</returns>
    public static bool AllZeroOrOne(ReadOnlySpan<float> targets)
    {
        foreach (float v in targets)
        {
            if (v != 0f && v != 1f)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether the per-sample loss is the mean over the outputs (all but the categorical cross-entropies, which sum).</summary>
    /// <param name="loss">The loss kind.</param>
    /// <returns>False for the two categorical cross-entropies.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool MeanOverOutputs(int loss) => loss != CategoricalCrossEntropy && loss != SparseCategoricalCrossEntropy;

    /// <summary>
    /// One row of <c>Losses.ComputeSparse</c>: writes <c>y = f(z)</c> and <c>g = scale * dL/dz</c> and returns
    /// <c>-log p[label]</c>. After Softmax: <c>p = softmax(z)</c>, <c>g = (p - onehot(label)) scale</c>, the loss as
    /// <c>logsumexp(z) - z[label]</c>. After Sigmoid: the same from the logits (Keras' reuse of the sigmoid's logits), while
    /// <c>y = sigmoid(z)</c>. After the others: Keras' clipped form <c>c = clip(y, eps, 1 - eps)</c>,
    /// <c>-log(c[label] / sum(c))</c>, through the clip and the activation's derivative.
    /// </summary>
    /// <param name="arena">The buffer holding the rows.</param>
    /// <param name="activation">The head's activation kind (the generator passes <see cref="GpuActivation.Softmax"/>).</param>
    /// <param name="zAt">Offset of the logits row.</param>
    /// <param name="yAt">Offset of the output row (written).</param>
    /// <param name="gAt">Offset of the gradient row (written; may equal <paramref name="zAt"/>).</param>
    /// <param name="label">The row's class, in [0, cols).</param>
    /// <param name="cols">Classes K.</param>
    /// <param name="scale">Factor on the gradient: 1/rows for the batch mean.</param>
    /// <returns>The row's loss (not scaled).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SparseRow(ArrayView<float> arena, int activation, long zAt, long yAt, long gAt, int label, int cols, float scale)
    {
        if (activation == GpuActivation.Softmax)
        {
            float max = GpuActivation.RowMax(arena, zAt, cols);
            float logSum = GpuActivation.SoftmaxRow(arena, zAt, yAt, cols, max);
            float loss = logSum - (arena[zAt + label] - max);
            for (int j = 0; j < cols; j++)
            {
                arena[gAt + j] = arena[yAt + j] * scale;
            }

            arena[gAt + label] -= scale;
            return loss;
        }

        if (activation == GpuActivation.Sigmoid)
        {
            GpuActivation.OutputRow(arena, activation, zAt, yAt, cols);
            float max = GpuActivation.RowMax(arena, zAt, cols);
            float sum = SumExp(arena, zAt, cols, max);
            float loss = MathF.Log(sum) - (arena[zAt + label] - max);
            float inv = 1f / sum;
            for (int j = 0; j < cols; j++)
            {
                arena[gAt + j] = MathF.Exp(arena[zAt + j] - max) * inv * scale;
            }

            arena[gAt + label] -= scale;
            return loss;
        }

        GpuActivation.OutputRow(arena, activation, zAt, yAt, cols);
        float total = 0f;
        for (int j = 0; j < cols; j++)
        {
            total += Clip(arena[yAt + j]);
        }

        float cl = Clip(arena[yAt + label]);
        float rowLoss = MathF.Log(total) - MathF.Log(cl);
        float common = scale / total;
        for (int j = 0; j < cols; j++)
        {
            float d = j == label ? common - scale / cl : common;
            arena[gAt + j] = InClipRange(arena[yAt + j]) ? d : 0f;
        }

        GpuActivation.BackwardRow(arena, activation, gAt, yAt, cols);
        return rowLoss;
    }

    /// <summary>
    /// One row of <c>Losses.Compute</c> over dense float targets: writes <c>y = f(z)</c> and <c>g = scale * dL/dz</c>
    /// and returns the row's loss. Categorical cross-entropy after Softmax or Sigmoid is computed from the logits
    /// (<c>sum_j t_j (logsumexp(z) - z_j)</c>, <c>g = (softmax(z) sum(t) - t) scale</c>), after the others from
    /// <c>q = y / sum(y)</c> clipped; binary cross-entropy after Sigmoid or Softmax from the logits
    /// (<c>max(z, 0) - z t + log(1 + e^-|z|)</c>, <c>g = (sigmoid(z) - t) scale / K</c>; after Softmax y is still the
    /// softmax), after the others from <c>clip(y)</c>; every other loss element-wise on <c>(t, y)</c>, averaged over the
    /// outputs, through the activation's derivative.
    /// </summary>
    /// <param name="arena">The buffer holding the rows.</param>
    /// <param name="loss">The loss kind (not <see cref="SparseCategoricalCrossEntropy"/>: use <see cref="SparseRow"/>).</param>
    /// <param name="activation">The head's activation kind.</param>
    /// <param name="zAt">Offset of the logits row.</param>
    /// <param name="yAt">Offset of the output row (written).</param>
    /// <param name="gAt">Offset of the gradient row (written; may equal <paramref name="zAt"/>).</param>
    /// <param name="tAt">Offset of the row's targets.</param>
    /// <param name="cols">Units K of the last layer.</param>
    /// <param name="scale">Factor on the gradient: 1/rows for the batch mean.</param>
    /// <param name="signedTargets">
    /// Map the targets <c>t -&gt; 2t - 1</c> (the hinge losses, when every target of the batch is 0 or 1: see
    /// <see cref="HasSignedTargets"/>); ignored by the other losses.
    /// </param>
    /// <returns>The row's loss (not scaled).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Row(ArrayView<float> arena, int loss, int activation, long zAt, long yAt, long gAt, long tAt, int cols, float scale,
        bool signedTargets)
    {
        bool fromLogits = activation == GpuActivation.Softmax || activation == GpuActivation.Sigmoid;
        if (loss == CategoricalCrossEntropy)
        {
            if (fromLogits)
            {
                return CategoricalFromLogits(arena, activation, zAt, yAt, gAt, tAt, cols, scale);
            }

            GpuActivation.OutputRow(arena, activation, zAt, yAt, cols);
            float categorical = CategoricalFromProbabilities(arena, yAt, gAt, tAt, cols, scale);
            GpuActivation.BackwardRow(arena, activation, gAt, yAt, cols);
            return categorical;
        }

        if (loss == BinaryCrossEntropy && fromLogits)
        {
            if (activation == GpuActivation.Softmax)
            {
                GpuActivation.SoftmaxRow(arena, zAt, yAt, cols);
            }

            return BinaryFromLogits(arena, zAt, yAt, gAt, tAt, cols, scale / cols, activation == GpuActivation.Sigmoid) / cols;
        }

        GpuActivation.OutputRow(arena, activation, zAt, yAt, cols);
        bool mean = MeanOverOutputs(loss);
        bool signed = signedTargets && HasSignedTargets(loss);
        float gradientScale = mean ? scale / cols : scale;
        float rowSum = 0f;
        for (int j = 0; j < cols; j++)
        {
            float t = arena[tAt + j];
            if (signed)
            {
                t = 2f * t - 1f;
            }

            float y = arena[yAt + j];
            rowSum += Value(loss, t, y);
            arena[gAt + j] = Derivative(loss, t, y) * gradientScale;
        }

        GpuActivation.BackwardRow(arena, activation, gAt, yAt, cols);
        return mean ? rowSum / cols : rowSum;
    }

    /// <summary>The element loss <c>l(t, y)</c> of an element-wise loss (categorical: of a normalised output <c>q</c>; binary: of a probability).</summary>
    /// <param name="loss">The loss kind.</param>
    /// <param name="t">The target (already mapped to -1/1 for the hinge losses when that applies).</param>
    /// <param name="y">The output.</param>
    /// <returns>The element's loss.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Value(int loss, float t, float y)
    {
        switch (loss)
        {
            case MeanSquaredError:
            {
                float d = y - t;
                return d * d;
            }

            case MeanAbsoluteError:
                return Abs(y - t);
            case MeanAbsolutePercentageError:
            {
                float m = AtLeast(Abs(t), Epsilon);
                return 100f * Abs((t - y) / m);
            }

            case MeanSquaredLogarithmicError:
            {
                float d = MathF.Log(AtLeast(y, Epsilon) + 1f) - MathF.Log(AtLeast(t, Epsilon) + 1f);
                return d * d;
            }

            case Hinge:
                return AtLeast(1f - t * y, 0f);
            case SquaredHinge:
            {
                float h = AtLeast(1f - t * y, 0f);
                return h * h;
            }

            case CategoricalCrossEntropy:
                return -t * MathF.Log(Clip(y));
            case BinaryCrossEntropy:
            {
                float c = Clip(y);
                float a = t * MathF.Log(c + Epsilon);
                float b = (1f - t) * MathF.Log(1f - c + Epsilon);
                return -(a + b);
            }

            default:
                return 0f;
        }
    }

    /// <summary>
    /// TensorFlow's derivative <c>dl/dy</c> of <see cref="Value"/>: at non-differentiable points Abs and Sign give 0,
    /// Maximum passes the gradient to its first operand on ties, and the clips pass it at their bounds (0 outside).
    /// </summary>
    /// <param name="loss">The loss kind.</param>
    /// <param name="t">The target (already mapped for the hinge losses when that applies).</param>
    /// <param name="y">The output.</param>
    /// <returns>The element's derivative with respect to <paramref name="y"/>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Derivative(int loss, float t, float y)
    {
        switch (loss)
        {
            case MeanSquaredError:
                return 2f * (y - t);
            case MeanAbsoluteError:
                return Sign(y - t);
            case MeanAbsolutePercentageError:
            {
                float m = AtLeast(Abs(t), Epsilon);
                float q = (t - y) / m;
                return -100f * Sign(q) / m;
            }

            case MeanSquaredLogarithmicError:
            {
                float yp = AtLeast(y, Epsilon) + 1f;
                float d = MathF.Log(yp) - MathF.Log(AtLeast(t, Epsilon) + 1f);
                return y >= Epsilon ? 2f * d / yp : 0f;
            }

            case Hinge:
                return 1f - t * y >= 0f ? -t : 0f;
            case SquaredHinge:
            {
                float h = AtLeast(1f - t * y, 0f);
                return -2f * (h * t);
            }

            case CategoricalCrossEntropy:
                return InClipRange(y) ? -t / Clip(y) : 0f;
            case BinaryCrossEntropy:
            {
                float c = Clip(y);
                float d = (1f - t) / (1f - c + Epsilon) - t / (c + Epsilon);
                return InClipRange(y) ? d : 0f;
            }

            default:
                return 0f;
        }
    }

    /// <summary><c>clip(x, eps, 1 - eps)</c>.</summary>
    /// <param name="x">The value.</param>
    /// <returns>The clipped value.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Clip(float x) => x < Epsilon ? Epsilon : x > OneMinusEpsilon ? OneMinusEpsilon : x; // NaN stays NaN

    /// <summary>Whether <c>eps &lt;= x &lt;= 1 - eps</c> (where the clip passes the gradient).</summary>
    /// <param name="x">The value.</param>
    /// <returns>Whether the value is inside the clip range, bounds included.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool InClipRange(float x) => x >= Epsilon && x <= OneMinusEpsilon;

    /// <summary>
    /// <c>log(1 + u)</c> for <c>u &gt;= 0</c>, accurate for tiny <c>u</c>, as the CPU computes it: <c>log(w) u / (w - 1)</c>
    /// with <c>w = 1 + u</c>, or <c>u</c> where <c>w = 1</c>.
    /// </summary>
    /// <param name="u">A non-negative value.</param>
    /// <returns><c>log(1 + u)</c>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log1P(float u)
    {
        float w = 1f + u;
        float d = w - 1f;
        return d > 0f ? MathF.Log(w) * u / d : u;
    }

    /// <summary><c>max(z, 0) - z t + log(1 + e^-|z|)</c>, TensorFlow's sigmoid_cross_entropy_with_logits of one element.</summary>
    /// <param name="z">The logit.</param>
    /// <param name="t">The target.</param>
    /// <returns>The element's binary cross-entropy.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BinaryFromLogit(float z, float t)
    {
        float e = MathF.Exp(-Abs(z));
        return AtLeast(z, 0f) - z * t + Log1P(e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Abs(float x) => x < 0f ? -x : x;

    /// <summary><c>max(x, lo)</c> that keeps a NaN <paramref name="x"/> (PTX's <c>max.f32</c> and ILGPU's Max return the number).</summary>
    private static float AtLeast(float x, float lo) => x < lo ? lo : x;

    /// <summary>1 where <c>x &gt; 0</c>, -1 where <c>x &lt; 0</c>, else 0 (TensorFlow's Sign).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sign(float x) => x > 0f ? 1f : x < 0f ? -1f : 0f;

    /// <summary><c>sum_j exp(z_j - max)</c>, in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float SumExp(ArrayView<float> arena, long zAt, int cols, float max)
    {
        float sum = 0f;
        for (int j = 0; j < cols; j++)
        {
            sum += MathF.Exp(arena[zAt + j] - max);
        }

        return sum;
    }

    /// <summary>Binary cross-entropy from logits over one row; returns the sum of the element losses, writes <c>g = (sigmoid(z) - t) gradientScale</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float BinaryFromLogits(ArrayView<float> arena, long zAt, long yAt, long gAt, long tAt, int cols, float gradientScale, bool storeSigmoid)
    {
        float sum = 0f;
        for (int j = 0; j < cols; j++)
        {
            float z = arena[zAt + j];
            float t = arena[tAt + j];
            float s = GpuActivation.Forward(GpuActivation.Sigmoid, z);
            sum += BinaryFromLogit(z, t);
            if (storeSigmoid)
            {
                arena[yAt + j] = s;
            }

            arena[gAt + j] = (s - t) * gradientScale;
        }

        return sum;
    }

    /// <summary>Categorical cross-entropy from the logits after Softmax or Sigmoid (which writes y).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float CategoricalFromLogits(ArrayView<float> arena, int activation, long zAt, long yAt, long gAt, long tAt, int cols, float scale)
    {
        bool softmax = activation == GpuActivation.Softmax;
        float max = GpuActivation.RowMax(arena, zAt, cols);
        float logSum, inv;
        if (softmax)
        {
            logSum = GpuActivation.SoftmaxRow(arena, zAt, yAt, cols, max);
            inv = 0f;
        }
        else
        {
            GpuActivation.OutputRow(arena, activation, zAt, yAt, cols);
            float sum = SumExp(arena, zAt, cols, max);
            logSum = MathF.Log(sum);
            inv = 1f / sum;
        }

        float loss = 0f;
        float sumT = 0f;
        for (int j = 0; j < cols; j++)
        {
            float tj = arena[tAt + j];
            sumT += tj;
            if (tj != 0f)
            {
                // Zero targets are skipped, as on the CPU: 0 * (logSum - (z - max)) would be NaN for z = -inf.
                loss += tj * (logSum - (arena[zAt + j] - max));
            }
        }

        float pScale = sumT * scale;
        for (int j = 0; j < cols; j++)
        {
            float p = softmax ? arena[yAt + j] : MathF.Exp(arena[zAt + j] - max) * inv;
            arena[gAt + j] = p * pScale - arena[tAt + j] * scale;
        }

        return loss;
    }

    /// <summary>
    /// Keras' categorical cross-entropy of probabilities <c>y</c>: <c>q = y / sum(y)</c>, <c>-sum_j t_j log clip(q_j)</c>;
    /// writes <c>dL/dy * scale</c> through the clip and the normalisation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float CategoricalFromProbabilities(ArrayView<float> arena, long yAt, long gAt, long tAt, int cols, float scale)
    {
        float s = 0f;
        for (int j = 0; j < cols; j++)
        {
            s += arena[yAt + j];
        }

        float loss = 0f;
        for (int j = 0; j < cols; j++)
        {
            float q = arena[yAt + j] / s;
            float t = arena[tAt + j];
            loss += Value(CategoricalCrossEntropy, t, q);
            arena[gAt + j] = Derivative(CategoricalCrossEntropy, t, q);
        }

        float dot = 0f;
        for (int j = 0; j < cols; j++)
        {
            dot += arena[gAt + j] * (arena[yAt + j] / s);
        }

        float f = scale / s;
        for (int j = 0; j < cols; j++)
        {
            arena[gAt + j] = (arena[gAt + j] - dot) * f;
        }

        return loss;
    }
}

using System.Runtime.Intrinsics;

namespace NetDsl.Kernels;

/// <summary>
/// The fused output-activation + loss kernels. The last layer writes pre-activations <c>z</c> [rows x K] (row-major,
/// row stride K = <c>cols</c>); one call per batch-row range writes <c>y = f(z)</c> (what <c>Predict</c> returns), the
/// gradient <c>scale * dL_sample/dz</c>, and returns the sum over the rows of the per-sample losses. The batch loss
/// is that sum over all rows times <c>1/rows</c> (the caller passes <c>scale = 1/rows</c>), as Keras averages over the
/// batch.
/// </summary>
/// <remarks>
/// <para>
/// Semantics are tf.keras 2.x's (see <see cref="LossFunctions"/>): element losses averaged over the K outputs
/// (sum over classes for categorical cross-entropy), <c>epsilon = 1e-7</c>, TensorFlow's gradients at
/// non-differentiable points (Abs and Sign: 0 at 0; Maximum: the first operand on ties; ClipByValue: the bounds pass
/// the gradient; ReLU: 0 at 0). Like Keras, the cross-entropies after Sigmoid or Softmax are computed from the
/// logits <c>z</c> (Keras caches them on both activations): fused and stable for any logits, with gradients
/// <c>softmax(z) sum(t) - t</c> (categorical, sparse: <c>p - onehot</c>) and <c>(sigmoid(z) - t) / K</c> (binary).
/// After other activations the cross-entropies use Keras' clipped-probability forms (categorical normalises
/// <c>y / sum(y)</c> and then clips; sparse clips, then normalises; binary clips and adds eps inside the logarithms).
/// Everything else is <c>dL/dy</c> through the activation's derivative (softmax: <c>y * (g - sum(g y))</c>).
/// </para>
/// <para>
/// Buffers: <c>gradient</c> may alias <c>logits</c> (z is consumed); <c>outputs</c> must not overlap either. Targets
/// and labels are the whole batch, indexed by absolute row. Arguments are checked (row range, target length, labels in
/// [0, K)): nothing outside the rows' buffers is read or written.
/// </para>
/// <para>Which (loss, last activation, units K) pairings are sensible; the others should be compile-time errors:</para>
/// <list type="table">
/// <listheader><term>Pairing</term><description>Verdict and reason</description></listheader>
/// <item><term>any loss, Softmax, K = 1</term><description>Error: the output is constantly 1 and every gradient 0.</description></item>
/// <item><term>MSE, MAE: Linear, ReLU, Sigmoid, Tanh (any K); Softmax (K &gt;= 2)</term><description>OK (Softmax: fitting a distribution).</description></item>
/// <item><term>MAPE: Linear, ReLU, Sigmoid, Tanh; Softmax (K &gt;= 2)</term><description>OK (targets near 0 are the data's problem: divided by max(|t|, eps)).</description></item>
/// <item><term>MSLE: ReLU, Sigmoid; Softmax (K &gt;= 2)</term><description>OK: outputs are non-negative.</description></item>
/// <item><term>MSLE: Linear, Tanh</term><description>Error: outputs can be negative; below eps they are clipped and get no gradient, so units stick.</description></item>
/// <item><term>Hinge, SquaredHinge: Linear, Tanh (any K)</term><description>OK (targets -1/1, or 0/1 mapped to -1/1 per batch).</description></item>
/// <item><term>Hinge, SquaredHinge: ReLU, Sigmoid, Softmax</term><description>Error: outputs are non-negative, so a -1 target's margin 1 + y &gt;= 1 can never be met.</description></item>
/// <item><term>BinaryCrossEntropy: Sigmoid (any K, multi-label)</term><description>OK (fused, from logits).</description></item>
/// <item><term>BinaryCrossEntropy: Softmax</term><description>Error: Keras reuses the softmax's logits as independent sigmoid logits, so the loss trains sigmoid(z) while Predict returns softmax(z) (K = 1: constant output).</description></item>
/// <item><term>BinaryCrossEntropy: Linear, ReLU, Tanh</term><description>Error: outputs are not probabilities; outside [eps, 1 - eps] they are clipped and get no gradient (logits need Sigmoid).</description></item>
/// <item><term>CategoricalCrossEntropy: Softmax (K &gt;= 2)</term><description>OK (fused, from logits; soft targets allowed).</description></item>
/// <item><term>CategoricalCrossEntropy: Sigmoid</term><description>Error: Keras reuses the sigmoid's logits as softmax logits, so the loss trains softmax(z) while Predict returns sigmoid(z).</description></item>
/// <item><term>CategoricalCrossEntropy: Linear, ReLU, Tanh</term><description>Error: y / sum(y) is no distribution when outputs can be 0 or negative (division by a zero or negative sum, NaN).</description></item>
/// <item><term>CategoricalCrossEntropy, SparseCategoricalCrossEntropy: K = 1</term><description>Error: a single class; the normalised probability is 1, loss and gradient are 0.</description></item>
/// <item><term>SparseCategoricalCrossEntropy: Softmax (K &gt;= 2)</term><description>OK (fused: <c>p - onehot(label)</c>, the loss from <c>logsumexp(z) - z[label]</c>). A Linear last layer keeps NetDsl's existing meaning, logits with a fused softmax: call <see cref="ComputeSparse{TAct}"/> with <see cref="OutputAct.Softmax"/>.</description></item>
/// <item><term>SparseCategoricalCrossEntropy: Sigmoid</term><description>Error: Keras reuses the sigmoid's logits as softmax logits (loss and Predict disagree).</description></item>
/// <item><term>SparseCategoricalCrossEntropy: ReLU, Tanh</term><description>Error: outputs are clipped to [eps, 1 - eps] and renormalised: not probabilities, no gradient outside.</description></item>
/// </list>
/// </remarks>
public static unsafe class Losses
{
    /// <summary>Keras' <c>backend.epsilon()</c>: the fuzz factor of MAPE, MSLE and the probability cross-entropies.</summary>
    public const float Epsilon = 1e-7f;

    /// <summary>
    /// Output activation and loss over dense float targets for rows <paramref name="rowStart"/>..<paramref name="rowEnd"/>:
    /// writes <c>y = TAct(z)</c> to <paramref name="outputs"/> and <c>scale * dL_sample/dz</c> to
    /// <paramref name="gradient"/>, and returns the sum of the rows' per-sample losses.
    /// </summary>
    /// <typeparam name="TLoss">The loss, a type of <see cref="LossFunctions"/>.</typeparam>
    /// <typeparam name="TAct">The last layer's activation, a type of <see cref="OutputAct"/>.</typeparam>
    /// <param name="arena">The arena holding the three buffers.</param>
    /// <param name="logits">Offset of the pre-activations z [rows x cols].</param>
    /// <param name="outputs">Offset of the outputs y [rows x cols] (written).</param>
    /// <param name="gradient">Offset of the gradient with respect to z [rows x cols] (written; may equal <paramref name="logits"/>).</param>
    /// <param name="targets">
    /// The whole batch's targets [rows x cols], indexed by absolute row: one-hot or soft class weights (categorical),
    /// 0/1 or probabilities (binary), -1/1 or 0/1 (hinge: if every value of the span is 0 or 1 they are mapped to
    /// -1/1, Keras' per-batch rule, so pass exactly the batch), any values (regression).
    /// </param>
    /// <param name="cols">Units K of the last layer (the row stride).</param>
    /// <param name="rowStart">First row.</param>
    /// <param name="rowEnd">One past the last row.</param>
    /// <param name="scale">Factor on the gradient: 1/rows for the batch mean.</param>
    /// <returns>The sum of the per-sample losses of the rows.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Invalid <paramref name="cols"/> or row range.</exception>
    /// <exception cref="ArgumentException"><paramref name="targets"/> is shorter than <c>rowEnd * cols</c>.</exception>
    public static float Compute<TLoss, TAct>(Arena arena, long logits, long outputs, long gradient, ReadOnlySpan<float> targets,
        int cols, int rowStart, int rowEnd, float scale)
        where TLoss : ILoss
        where TAct : IOutputActivation
    {
        CheckRows(cols, rowStart, rowEnd);
        if ((long)rowEnd * cols > targets.Length)
        {
            throw new ArgumentException($"{targets.Length} targets do not cover rows up to {rowEnd} of {cols} columns.", nameof(targets));
        }

        if (rowStart == rowEnd)
        {
            return 0f;
        }

        bool signed = TLoss.SignedTargets && AllZeroOrOne(targets);
        float* b = arena.Pointer;
        fixed (float* t = targets)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                return LossKernel<Simd512, Vector512<float>, TAct>.Dense<TLoss>(b + logits, b + outputs, b + gradient, t, cols, rowStart, rowEnd, scale, signed);
            }

            if (Vector256.IsHardwareAccelerated)
            {
                return LossKernel<Simd256, Vector256<float>, TAct>.Dense<TLoss>(b + logits, b + outputs, b + gradient, t, cols, rowStart, rowEnd, scale, signed);
            }

            return LossKernel<Simd128, Vector128<float>, TAct>.Dense<TLoss>(b + logits, b + outputs, b + gradient, t, cols, rowStart, rowEnd, scale, signed);
        }
    }

    /// <summary>
    /// Output activation and sparse categorical cross-entropy over integer class labels for rows
    /// <paramref name="rowStart"/>..<paramref name="rowEnd"/>: writes <c>y = TAct(z)</c> to <paramref name="outputs"/>
    /// and <c>scale * dL_sample/dz</c> to <paramref name="gradient"/>, and returns the sum of <c>-log p[label]</c> over
    /// the rows.
    /// </summary>
    /// <typeparam name="TAct">The last layer's activation, a type of <see cref="OutputAct"/>.</typeparam>
    /// <param name="arena">The arena holding the three buffers.</param>
    /// <param name="logits">Offset of the pre-activations z [rows x cols].</param>
    /// <param name="outputs">Offset of the outputs y [rows x cols] (written).</param>
    /// <param name="gradient">Offset of the gradient with respect to z [rows x cols] (written; may equal <paramref name="logits"/>).</param>
    /// <param name="labels">The whole batch's class labels, indexed by absolute row; each must be in [0, cols).</param>
    /// <param name="cols">Classes K (the row stride).</param>
    /// <param name="rowStart">First row.</param>
    /// <param name="rowEnd">One past the last row.</param>
    /// <param name="scale">Factor on the gradient: 1/rows for the batch mean.</param>
    /// <returns>The sum of the per-sample losses of the rows.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Invalid <paramref name="cols"/> or row range, or a label outside [0, cols).</exception>
    /// <exception cref="ArgumentException"><paramref name="labels"/> is shorter than <paramref name="rowEnd"/>.</exception>
    public static float ComputeSparse<TAct>(Arena arena, long logits, long outputs, long gradient, ReadOnlySpan<int> labels,
        int cols, int rowStart, int rowEnd, float scale)
        where TAct : IOutputActivation
    {
        CheckRows(cols, rowStart, rowEnd);
        if (rowEnd > labels.Length)
        {
            throw new ArgumentException($"{labels.Length} labels do not cover rows up to {rowEnd}.", nameof(labels));
        }

        if (rowStart == rowEnd)
        {
            return 0f;
        }

        float* b = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            return LossKernel<Simd512, Vector512<float>, TAct>.Sparse(b + logits, b + outputs, b + gradient, labels, cols, rowStart, rowEnd, scale);
        }

        if (Vector256.IsHardwareAccelerated)
        {
            return LossKernel<Simd256, Vector256<float>, TAct>.Sparse(b + logits, b + outputs, b + gradient, labels, cols, rowStart, rowEnd, scale);
        }

        return LossKernel<Simd128, Vector128<float>, TAct>.Sparse(b + logits, b + outputs, b + gradient, labels, cols, rowStart, rowEnd, scale);
    }

    /// <summary>
    /// The output activation alone (inference, <c>Predict</c>): <c>y = TAct(z)</c> for rows
    /// <paramref name="rowStart"/>..<paramref name="rowEnd"/>, the same values the training kernels write.
    /// <paramref name="outputs"/> may equal <paramref name="logits"/>.
    /// </summary>
    /// <typeparam name="TAct">The last layer's activation, a type of <see cref="OutputAct"/>.</typeparam>
    /// <param name="arena">The arena holding both buffers.</param>
    /// <param name="logits">Offset of the pre-activations z [rows x cols].</param>
    /// <param name="outputs">Offset of the outputs y [rows x cols] (written).</param>
    /// <param name="cols">Units K (the row stride).</param>
    /// <param name="rowStart">First row.</param>
    /// <param name="rowEnd">One past the last row.</param>
    /// <exception cref="ArgumentOutOfRangeException">Invalid <paramref name="cols"/> or row range.</exception>
    public static void Activate<TAct>(Arena arena, long logits, long outputs, int cols, int rowStart, int rowEnd)
        where TAct : IOutputActivation
    {
        CheckRows(cols, rowStart, rowEnd);
        float* b = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            LossKernel<Simd512, Vector512<float>, TAct>.Activate(b + logits, b + outputs, cols, rowStart, rowEnd);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            LossKernel<Simd256, Vector256<float>, TAct>.Activate(b + logits, b + outputs, cols, rowStart, rowEnd);
        }
        else
        {
            LossKernel<Simd128, Vector128<float>, TAct>.Activate(b + logits, b + outputs, cols, rowStart, rowEnd);
        }
    }

    internal static void ThrowLabel(int row, int label, int cols)
        => throw new ArgumentOutOfRangeException("labels", label, $"Row {row}: the label must be in [0, {cols}).");

    private static void CheckRows(int cols, int rowStart, int rowEnd)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        ArgumentOutOfRangeException.ThrowIfNegative(rowStart);
        ArgumentOutOfRangeException.ThrowIfLessThan(rowEnd, rowStart);
    }

    /// <summary>Keras' <c>_maybe_convert_labels</c> test: every target is 0 or 1.</summary>
    private static bool AllZeroOrOne(ReadOnlySpan<float> targets)
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
}

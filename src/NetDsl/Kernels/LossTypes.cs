using System.Runtime.CompilerServices;

namespace NetDsl.Kernels;

/// <summary>
/// The activation of a network's last layer, applied by <see cref="Losses"/> to the pre-activations <c>z</c> of each
/// row. The implementations are the types of <see cref="OutputAct"/>; the members are internal, so the set is closed.
/// </summary>
public unsafe interface IOutputActivation
{
    /// <summary>How the loss kernels may fuse the activation with a cross-entropy.</summary>
    internal static abstract OutputKind Kind { get; }

    /// <summary><c>y = f(z)</c> for one row of <paramref name="cols"/> values (<paramref name="y"/> may equal <paramref name="z"/>).</summary>
    internal static abstract void Forward<TS, TV>(float* z, float* y, int cols) where TS : ISimd<TV> where TV : struct;

    /// <summary>
    /// In place: <paramref name="g"/> holds <c>dL/dy</c> of one row and becomes <c>dL/dz = J_f(z)^T dL/dy</c>, from the
    /// output <paramref name="y"/>.
    /// </summary>
    internal static abstract void Backward<TS, TV>(float* g, float* y, int cols) where TS : ISimd<TV> where TV : struct;
}

/// <summary>How an output activation combines with the cross-entropies (tf.keras 2.x reads the logits of both).</summary>
internal enum OutputKind
{
    /// <summary>An element-wise activation without logits (Linear, ReLU, Tanh): losses see <c>y</c> only.</summary>
    Elementwise,

    /// <summary>Element-wise sigmoid: the cross-entropies are computed from the logits <c>z</c>.</summary>
    Sigmoid,

    /// <summary>Row-wise softmax: the cross-entropies are computed from the logits <c>z</c>.</summary>
    Softmax,
}

/// <summary>
/// The output activations the loss kernels accept as <c>TAct</c>: the element-wise <see cref="Act"/> activations of a
/// last layer, and the row-wise <see cref="Softmax"/>.
/// </summary>
public static class OutputAct
{
    /// <summary><c>y = z</c> (<see cref="Act.Linear"/>).</summary>
    public readonly unsafe struct Linear : IOutputActivation
    {
        static OutputKind IOutputActivation.Kind => OutputKind.Elementwise;

        static void IOutputActivation.Forward<TS, TV>(float* z, float* y, int cols) => LossRows<TS, TV>.Forward<Act.Linear>(z, y, cols);

        static void IOutputActivation.Backward<TS, TV>(float* g, float* y, int cols)
        {
            // The identity's Jacobian: dL/dz = dL/dy, already in place.
        }
    }

    /// <summary><c>y = max(z, 0)</c> (<see cref="Act.ReLU"/>); the derivative at <c>z = 0</c> is 0, as TensorFlow's ReluGrad.</summary>
    public readonly unsafe struct ReLU : IOutputActivation
    {
        static OutputKind IOutputActivation.Kind => OutputKind.Elementwise;

        static void IOutputActivation.Forward<TS, TV>(float* z, float* y, int cols) => LossRows<TS, TV>.Forward<Act.ReLU>(z, y, cols);

        static void IOutputActivation.Backward<TS, TV>(float* g, float* y, int cols) => LossRows<TS, TV>.Backward<Act.ReLU>(g, y, cols);
    }

    /// <summary>
    /// <c>y = 1 / (1 + e^-z)</c> (<see cref="Act.Sigmoid"/>). With a cross-entropy the loss is computed from <c>z</c>, as
    /// tf.keras 2.x does through the sigmoid's cached logits.
    /// </summary>
    public readonly unsafe struct Sigmoid : IOutputActivation
    {
        static OutputKind IOutputActivation.Kind => OutputKind.Sigmoid;

        static void IOutputActivation.Forward<TS, TV>(float* z, float* y, int cols) => LossRows<TS, TV>.Forward<Act.Sigmoid>(z, y, cols);

        static void IOutputActivation.Backward<TS, TV>(float* g, float* y, int cols) => LossRows<TS, TV>.Backward<Act.Sigmoid>(g, y, cols);
    }

    /// <summary><c>y = tanh(z)</c> (<see cref="Act.Tanh"/>).</summary>
    public readonly unsafe struct Tanh : IOutputActivation
    {
        static OutputKind IOutputActivation.Kind => OutputKind.Elementwise;

        static void IOutputActivation.Forward<TS, TV>(float* z, float* y, int cols) => LossRows<TS, TV>.Forward<Act.Tanh>(z, y, cols);

        static void IOutputActivation.Backward<TS, TV>(float* g, float* y, int cols) => LossRows<TS, TV>.Backward<Act.Tanh>(g, y, cols);
    }

    /// <summary>
    /// Row-wise <c>y = exp(z - max) / sum</c>, computed exactly as <see cref="RowKernels.Softmax"/>; its backward pass is
    /// the Jacobian-vector product <c>y * (g - sum(g y))</c>. With a cross-entropy the loss is computed from <c>z</c>.
    /// </summary>
    public readonly unsafe struct Softmax : IOutputActivation
    {
        static OutputKind IOutputActivation.Kind => OutputKind.Softmax;

        static void IOutputActivation.Forward<TS, TV>(float* z, float* y, int cols) => LossRows<TS, TV>.SoftmaxRow(z, y, cols, out _);

        static void IOutputActivation.Backward<TS, TV>(float* g, float* y, int cols) => LossRows<TS, TV>.SoftmaxBackward(g, y, cols);
    }
}

/// <summary>
/// A loss over dense float targets, as <see cref="Losses.Compute{TLoss, TAct}"/> takes it: the types of
/// <see cref="LossFunctions"/>. The members are internal, so the set is closed.
/// </summary>
public interface ILoss
{
    /// <summary>Which kernel path the loss takes.</summary>
    internal static abstract LossKind Kind { get; }

    /// <summary>Whether the per-sample loss is the mean (true) or the sum (false) of the element losses over the outputs.</summary>
    internal static abstract bool MeanOverOutputs { get; }

    /// <summary>Whether targets that are all 0 or 1 are first mapped to -1/1 (Keras' hinge losses).</summary>
    internal static abstract bool SignedTargets { get; }

    /// <summary>The element loss <c>l(t, y)</c> for every lane.</summary>
    internal static abstract TV Value<TS, TV>(TV t, TV y) where TS : ISimd<TV> where TV : struct;

    /// <summary>The (TensorFlow) derivative <c>dl/dy</c> for every lane.</summary>
    internal static abstract TV Derivative<TS, TV>(TV t, TV y) where TS : ISimd<TV> where TV : struct;
}

/// <summary>The kernel path of a loss.</summary>
internal enum LossKind
{
    /// <summary>Element losses of <c>(t, y)</c>, averaged or summed over the outputs.</summary>
    Elementwise,

    /// <summary>Categorical cross-entropy: from logits after Softmax/Sigmoid, else normalised and clipped probabilities.</summary>
    Categorical,

    /// <summary>Binary cross-entropy: from logits after Sigmoid/Softmax, else clipped probabilities (element-wise).</summary>
    Binary,
}

/// <summary>
/// The losses, as types the generated code instantiates <see cref="Losses.Compute{TLoss, TAct}"/> with. Each follows
/// tf.keras 2.x (<c>keras.losses</c>, <c>keras.backend</c>) with <c>epsilon = </c><see cref="Losses.Epsilon"/>; the
/// per-sample loss is described on each type, and derivatives at non-differentiable points are TensorFlow's.
/// </summary>
public static class LossFunctions
{
    /// <summary><c>mean_j (y_j - t_j)^2</c>.</summary>
    public readonly struct MeanSquaredError : ILoss
    {
        static LossKind ILoss.Kind => LossKind.Elementwise;
        static bool ILoss.MeanOverOutputs => true;
        static bool ILoss.SignedTargets => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Value<TS, TV>(TV t, TV y)
        {
            TV d = TS.Subtract(y, t);
            return TS.Multiply(d, d);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Derivative<TS, TV>(TV t, TV y) => TS.Multiply(TS.Broadcast(2f), TS.Subtract(y, t));
    }

    /// <summary><c>mean_j |y_j - t_j|</c>; the derivative is <c>sign(y - t)</c>, 0 at <c>y = t</c> (TensorFlow's Abs gradient).</summary>
    public readonly struct MeanAbsoluteError : ILoss
    {
        static LossKind ILoss.Kind => LossKind.Elementwise;
        static bool ILoss.MeanOverOutputs => true;
        static bool ILoss.SignedTargets => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Value<TS, TV>(TV t, TV y) => LossMath.Abs<TS, TV>(TS.Subtract(y, t));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Derivative<TS, TV>(TV t, TV y) => LossMath.Sign<TS, TV>(TS.Subtract(y, t));
    }

    /// <summary>
    /// <c>100 mean_j |(t_j - y_j) / max(|t_j|, eps)|</c>; the derivative is <c>-100 sign(q) / max(|t|, eps)</c> with
    /// <c>q = (t - y) / max(|t|, eps)</c>, 0 at <c>y = t</c>.
    /// </summary>
    public readonly struct MeanAbsolutePercentageError : ILoss
    {
        static LossKind ILoss.Kind => LossKind.Elementwise;
        static bool ILoss.MeanOverOutputs => true;
        static bool ILoss.SignedTargets => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Value<TS, TV>(TV t, TV y)
        {
            TV m = TS.Max(TS.Broadcast(Losses.Epsilon), LossMath.Abs<TS, TV>(t));
            return TS.Multiply(TS.Broadcast(100f), LossMath.Abs<TS, TV>(TS.Divide(TS.Subtract(t, y), m)));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Derivative<TS, TV>(TV t, TV y)
        {
            TV m = TS.Max(TS.Broadcast(Losses.Epsilon), LossMath.Abs<TS, TV>(t));
            TV q = TS.Divide(TS.Subtract(t, y), m);
            return TS.Divide(TS.Multiply(TS.Broadcast(-100f), LossMath.Sign<TS, TV>(q)), m);
        }
    }

    /// <summary>
    /// <c>mean_j (log(max(y_j, eps) + 1) - log(max(t_j, eps) + 1))^2</c>; outputs below <c>eps</c> get no gradient
    /// (TensorFlow's Maximum gradient goes to <c>y</c> where <c>y &gt;= eps</c>).
    /// </summary>
    public readonly struct MeanSquaredLogarithmicError : ILoss
    {
        static LossKind ILoss.Kind => LossKind.Elementwise;
        static bool ILoss.MeanOverOutputs => true;
        static bool ILoss.SignedTargets => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Value<TS, TV>(TV t, TV y)
        {
            TV eps = TS.Broadcast(Losses.Epsilon);
            TV one = TS.Broadcast(1f);
            TV d = TS.Subtract(LossMath.Log<TV>(TS.Add(TS.Max(eps, y), one)), LossMath.Log<TV>(TS.Add(TS.Max(eps, t), one)));
            return TS.Multiply(d, d);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Derivative<TS, TV>(TV t, TV y)
        {
            TV eps = TS.Broadcast(Losses.Epsilon);
            TV one = TS.Broadcast(1f);
            TV yp = TS.Add(TS.Max(eps, y), one);
            TV d = TS.Subtract(LossMath.Log<TV>(yp), LossMath.Log<TV>(TS.Add(TS.Max(eps, t), one)));
            return LossMath.WhereAtLeast(y, eps, TS.Divide(TS.Multiply(TS.Broadcast(2f), d), yp));
        }
    }

    /// <summary>
    /// <c>mean_j max(1 - t_j y_j, 0)</c>. If every target of the batch is 0 or 1 they are first mapped to -1/1
    /// (Keras' <c>_maybe_convert_labels</c>). At the kink <c>t y = 1</c> the derivative is <c>-t</c> (TensorFlow's
    /// Maximum gradient goes to the first operand on ties).
    /// </summary>
    public readonly struct Hinge : ILoss
    {
        static LossKind ILoss.Kind => LossKind.Elementwise;
        static bool ILoss.MeanOverOutputs => true;
        static bool ILoss.SignedTargets => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Value<TS, TV>(TV t, TV y) => TS.Max(TS.Zero, TS.Subtract(TS.Broadcast(1f), TS.Multiply(t, y)));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Derivative<TS, TV>(TV t, TV y)
            => LossMath.WhereAtLeast(TS.Subtract(TS.Broadcast(1f), TS.Multiply(t, y)), TS.Zero, TS.Subtract(TS.Zero, t));
    }

    /// <summary><c>mean_j max(1 - t_j y_j, 0)^2</c>, with the same target mapping as <see cref="Hinge"/>.</summary>
    public readonly struct SquaredHinge : ILoss
    {
        static LossKind ILoss.Kind => LossKind.Elementwise;
        static bool ILoss.MeanOverOutputs => true;
        static bool ILoss.SignedTargets => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Value<TS, TV>(TV t, TV y)
        {
            TV h = TS.Max(TS.Zero, TS.Subtract(TS.Broadcast(1f), TS.Multiply(t, y)));
            return TS.Multiply(h, h);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Derivative<TS, TV>(TV t, TV y)
        {
            TV h = TS.Max(TS.Zero, TS.Subtract(TS.Broadcast(1f), TS.Multiply(t, y)));
            return TS.Multiply(TS.Broadcast(-2f), TS.Multiply(h, t));
        }
    }

    /// <summary>
    /// <c>-sum_j t_j log p_j</c> (a sum over the classes; targets need not sum to 1). After <see cref="OutputAct.Softmax"/>
    /// or <see cref="OutputAct.Sigmoid"/> it is computed from the logits, <c>sum_j t_j (logsumexp(z) - z_j)</c>, with the
    /// gradient <c>softmax(z) sum(t) - t</c> (tf.keras 2.x uses the cached logits of either activation). After any
    /// other activation, Keras' probability form: <c>p = clip(y / sum(y), eps, 1 - eps)</c>.
    /// </summary>
    public readonly struct CategoricalCrossEntropy : ILoss
    {
        static LossKind ILoss.Kind => LossKind.Categorical;
        static bool ILoss.MeanOverOutputs => false;
        static bool ILoss.SignedTargets => false;

        /// <summary><c>-t log clip(q)</c> of a normalised output <c>q</c>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Value<TS, TV>(TV t, TV q)
            => TS.Multiply(TS.Subtract(TS.Zero, t), LossMath.Log<TV>(LossMath.Clip<TS, TV>(q)));

        /// <summary><c>-t / clip(q)</c> where <c>eps &lt;= q &lt;= 1 - eps</c>, else 0 (TensorFlow's ClipByValue gradient).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Derivative<TS, TV>(TV t, TV q)
            => LossMath.WhereInClipRange<TS, TV>(q, TS.Divide(TS.Subtract(TS.Zero, t), LossMath.Clip<TS, TV>(q)));
    }

    /// <summary>
    /// <c>mean_j -(t_j log p_j + (1 - t_j) log(1 - p_j))</c>. After <see cref="OutputAct.Sigmoid"/> or
    /// <see cref="OutputAct.Softmax"/> it is computed from the logits, <c>max(z, 0) - z t + log(1 + e^-|z|)</c>, with the
    /// gradient <c>(sigmoid(z) - t) / K</c>. After any other activation, Keras' probability form:
    /// <c>c = clip(y, eps, 1 - eps)</c>, <c>-(t log(c + eps) + (1 - t) log(1 - c + eps))</c>.
    /// </summary>
    public readonly struct BinaryCrossEntropy : ILoss
    {
        static LossKind ILoss.Kind => LossKind.Binary;
        static bool ILoss.MeanOverOutputs => true;
        static bool ILoss.SignedTargets => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Value<TS, TV>(TV t, TV y)
        {
            TV one = TS.Broadcast(1f);
            TV eps = TS.Broadcast(Losses.Epsilon);
            TV c = LossMath.Clip<TS, TV>(y);
            TV a = TS.Multiply(t, LossMath.Log<TV>(TS.Add(c, eps)));
            TV b = TS.Multiply(TS.Subtract(one, t), LossMath.Log<TV>(TS.Add(TS.Subtract(one, c), eps)));
            return TS.Subtract(TS.Zero, TS.Add(a, b));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TV ILoss.Derivative<TS, TV>(TV t, TV y)
        {
            TV one = TS.Broadcast(1f);
            TV eps = TS.Broadcast(Losses.Epsilon);
            TV c = LossMath.Clip<TS, TV>(y);
            TV d = TS.Subtract(TS.Divide(TS.Subtract(one, t), TS.Add(TS.Subtract(one, c), eps)), TS.Divide(t, TS.Add(c, eps)));
            return LossMath.WhereInClipRange<TS, TV>(y, d);
        }
    }
}

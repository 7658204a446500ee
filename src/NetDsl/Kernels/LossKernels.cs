using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetDsl.Kernels;

/// <summary>
/// Vector operations the losses need beyond <see cref="ISimd{TV}"/> (logarithm, minimum, comparisons), for the three
/// vector types. The type tests are JIT-time constants, so each instantiation compiles to the one intrinsic.
/// </summary>
internal static class LossMath
{
    /// <summary>The upper clip bound <c>1 - eps</c>, rounded to float as TensorFlow computes it.</summary>
    public const float OneMinusEpsilon = 1f - Losses.Epsilon;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Log<TV>(TV x) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
        {
            return Unsafe.BitCast<Vector512<float>, TV>(Vector512.Log(Unsafe.BitCast<TV, Vector512<float>>(x)));
        }

        if (typeof(TV) == typeof(Vector256<float>))
        {
            return Unsafe.BitCast<Vector256<float>, TV>(Vector256.Log(Unsafe.BitCast<TV, Vector256<float>>(x)));
        }

        if (typeof(TV) == typeof(Vector128<float>))
        {
            return Unsafe.BitCast<Vector128<float>, TV>(Vector128.Log(Unsafe.BitCast<TV, Vector128<float>>(x)));
        }

        throw new NotSupportedException(typeof(TV).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Min<TV>(TV a, TV b) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
        {
            return Unsafe.BitCast<Vector512<float>, TV>(Vector512.MinNative(Unsafe.BitCast<TV, Vector512<float>>(a), Unsafe.BitCast<TV, Vector512<float>>(b)));
        }

        if (typeof(TV) == typeof(Vector256<float>))
        {
            return Unsafe.BitCast<Vector256<float>, TV>(Vector256.MinNative(Unsafe.BitCast<TV, Vector256<float>>(a), Unsafe.BitCast<TV, Vector256<float>>(b)));
        }

        if (typeof(TV) == typeof(Vector128<float>))
        {
            return Unsafe.BitCast<Vector128<float>, TV>(Vector128.MinNative(Unsafe.BitCast<TV, Vector128<float>>(a), Unsafe.BitCast<TV, Vector128<float>>(b)));
        }

        throw new NotSupportedException(typeof(TV).Name);
    }

    /// <summary><paramref name="a"/> where <c>x &gt;= bound</c>, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV WhereAtLeast<TV>(TV x, TV bound, TV a) where TV : struct
    {
        if (typeof(TV) == typeof(Vector512<float>))
        {
            var m = Vector512.GreaterThanOrEqual(Unsafe.BitCast<TV, Vector512<float>>(x), Unsafe.BitCast<TV, Vector512<float>>(bound));
            return Unsafe.BitCast<Vector512<float>, TV>(Vector512.ConditionalSelect(m, Unsafe.BitCast<TV, Vector512<float>>(a), Vector512<float>.Zero));
        }

        if (typeof(TV) == typeof(Vector256<float>))
        {
            var m = Vector256.GreaterThanOrEqual(Unsafe.BitCast<TV, Vector256<float>>(x), Unsafe.BitCast<TV, Vector256<float>>(bound));
            return Unsafe.BitCast<Vector256<float>, TV>(Vector256.ConditionalSelect(m, Unsafe.BitCast<TV, Vector256<float>>(a), Vector256<float>.Zero));
        }

        if (typeof(TV) == typeof(Vector128<float>))
        {
            var m = Vector128.GreaterThanOrEqual(Unsafe.BitCast<TV, Vector128<float>>(x), Unsafe.BitCast<TV, Vector128<float>>(bound));
            return Unsafe.BitCast<Vector128<float>, TV>(Vector128.ConditionalSelect(m, Unsafe.BitCast<TV, Vector128<float>>(a), Vector128<float>.Zero));
        }

        throw new NotSupportedException(typeof(TV).Name);
    }

    /// <summary><c>|x|</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Abs<TS, TV>(TV x) where TS : ISimd<TV> where TV : struct => TS.Max(x, TS.Subtract(TS.Zero, x));

    /// <summary>1 where <c>x &gt; 0</c>, -1 where <c>x &lt; 0</c>, else 0 (TensorFlow's Sign, the Abs gradient).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sign<TS, TV>(TV x) where TS : ISimd<TV> where TV : struct
    {
        TV one = TS.Broadcast(1f);
        return TS.Subtract(TS.WherePositive(x, one), TS.WherePositive(TS.Subtract(TS.Zero, x), one));
    }

    /// <summary><c>clip(x, eps, 1 - eps)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Clip<TS, TV>(TV x) where TS : ISimd<TV> where TV : struct
        => Min(TS.Broadcast(OneMinusEpsilon), TS.Max(TS.Broadcast(Losses.Epsilon), x)); // x second: a NaN x stays NaN

    /// <summary><paramref name="a"/> where <c>eps &lt;= x &lt;= 1 - eps</c> (the bounds pass the gradient), else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV WhereInClipRange<TS, TV>(TV x, TV a) where TS : ISimd<TV> where TV : struct
        => WhereAtLeast(x, TS.Broadcast(Losses.Epsilon), WhereAtLeast(TS.Broadcast(OneMinusEpsilon), x, a));

    /// <summary><c>log(1 + u)</c> for <c>u &gt;= 0</c>, accurate for tiny <c>u</c>: <c>log(w) u / (w - 1)</c> with <c>w = 1 + u</c>, or <c>u</c> where <c>w = 1</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Log1P<TS, TV>(TV u) where TS : ISimd<TV> where TV : struct
    {
        TV w = TS.Add(TS.Broadcast(1f), u);
        TV d = TS.Subtract(w, TS.Broadcast(1f));
        TV accurate = TS.WherePositive(d, TS.Divide(TS.Multiply(Log(w), u), d));
        return TS.Add(accurate, TS.Subtract(u, TS.WherePositive(d, u)));
    }

    /// <summary>Scalar <c>clip(x, eps, 1 - eps)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Clip(float x) => MathF.Min(MathF.Max(x, Losses.Epsilon), OneMinusEpsilon);

    /// <summary>Whether <c>eps &lt;= x &lt;= 1 - eps</c> (where the clip passes the gradient).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool InClipRange(float x) => x >= Losses.Epsilon && x <= OneMinusEpsilon;
}

/// <summary>
/// The per-row loops of the loss kernels for one vector width. Partial vectors at a row's end go through small stack
/// buffers, so nothing is read or written outside a row (the targets are a span, not padded arena memory) and the tail
/// lanes use the same vector code as the rest.
/// </summary>
internal static unsafe class LossRows<TS, TV> where TS : ISimd<TV> where TV : struct
{
    /// <summary>Floats in a lane buffer (the widest vector).</summary>
    private const int Lanes = KernelRange.MaxLanes;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward<TAct>(float* z, float* y, int cols) where TAct : IActivation
    {
        int vl = TS.Count;
        int j = 0;
        for (; j + vl <= cols; j += vl)
        {
            TS.Store(y + j, TAct.Forward<TS, TV>(TS.Load(z + j)));
        }

        if (j < cols)
        {
            int n = cols - j;
            float* a = stackalloc float[Lanes];
            Gather(a, z + j, n, 0f);
            TS.Store(a, TAct.Forward<TS, TV>(TS.Load(a)));
            KernelRange.CopyLanes(a, y + j, n);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<TAct>(float* g, float* y, int cols) where TAct : IActivation
    {
        int vl = TS.Count;
        int j = 0;
        for (; j + vl <= cols; j += vl)
        {
            TS.Store(g + j, TAct.Backward<TS, TV>(TS.Load(g + j), TS.Load(y + j)));
        }

        if (j < cols)
        {
            int n = cols - j;
            float* a = stackalloc float[Lanes];
            float* b = stackalloc float[Lanes];
            Gather(a, g + j, n, 0f);
            Gather(b, y + j, n, 0f);
            TS.Store(a, TAct.Backward<TS, TV>(TS.Load(a), TS.Load(b)));
            KernelRange.CopyLanes(a, g + j, n);
        }
    }

    /// <summary>
    /// Element-wise loss of one row: returns <c>sum_j l(t_j, y_j)</c> and writes <c>g_j = gradientScale * dl/dy_j</c>.
    /// <paramref name="signed"/> maps the targets <c>t -&gt; 2t - 1</c> first. <paramref name="g"/> may equal
    /// <paramref name="y"/> (each vector is read before it is written).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Elementwise<TLoss>(float* t, float* y, float* g, int cols, float gradientScale, bool signed) where TLoss : ILoss
    {
        int vl = TS.Count;
        TV two = TS.Broadcast(2f), minusOne = TS.Broadcast(-1f), scale = TS.Broadcast(gradientScale);
        TV acc = TS.Zero;
        int j = 0;
        for (; j + vl <= cols; j += vl)
        {
            TV tv = TS.Load(t + j);
            if (signed)
            {
                tv = TS.Fma(tv, two, minusOne);
            }

            TV yv = TS.Load(y + j);
            acc = TS.Add(acc, TLoss.Value<TS, TV>(tv, yv));
            TS.Store(g + j, TS.Multiply(TLoss.Derivative<TS, TV>(tv, yv), scale));
        }

        float sum = TS.Sum(acc);
        if (j < cols)
        {
            int n = cols - j;
            float* a = stackalloc float[Lanes];
            float* b = stackalloc float[Lanes];
            Gather(a, t + j, n, 0f);
            Gather(b, y + j, n, 0.5f);
            TV tv = TS.Load(a);
            if (signed)
            {
                tv = TS.Fma(tv, two, minusOne);
            }

            TV yv = TS.Load(b);
            TS.Store(a, TLoss.Value<TS, TV>(tv, yv));
            TS.Store(b, TS.Multiply(TLoss.Derivative<TS, TV>(tv, yv), scale));
            for (int l = 0; l < n; l++)
            {
                sum += a[l];
            }

            KernelRange.CopyLanes(b, g + j, n);
        }

        return sum;
    }

    /// <summary>
    /// Binary cross-entropy from logits, element-wise over one row: returns <c>sum_j max(z, 0) - z t + log(1 + e^-|z|)</c>
    /// and writes <c>g = (sigmoid(z) - t) * gradientScale</c>; also writes <c>y = sigmoid(z)</c> when
    /// <paramref name="storeSigmoid"/>. <paramref name="g"/> may equal <paramref name="z"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float BinaryFromLogits(float* z, float* t, float* y, float* g, int cols, float gradientScale, bool storeSigmoid)
    {
        int vl = TS.Count;
        TV scale = TS.Broadcast(gradientScale);
        TV acc = TS.Zero;
        int j = 0;
        for (; j + vl <= cols; j += vl)
        {
            TV zv = TS.Load(z + j);
            TV tv = TS.Load(t + j);
            TV s = Act.Sigmoid.Forward<TS, TV>(zv);
            acc = TS.Add(acc, BinaryElement(zv, tv));
            if (storeSigmoid)
            {
                TS.Store(y + j, s);
            }

            TS.Store(g + j, TS.Multiply(TS.Subtract(s, tv), scale));
        }

        float sum = TS.Sum(acc);
        if (j < cols)
        {
            int n = cols - j;
            float* a = stackalloc float[Lanes];
            float* b = stackalloc float[Lanes];
            Gather(a, z + j, n, 0f);
            Gather(b, t + j, n, 0f);
            TV zv = TS.Load(a);
            TV tv = TS.Load(b);
            TV s = Act.Sigmoid.Forward<TS, TV>(zv);
            TS.Store(a, BinaryElement(zv, tv));
            for (int l = 0; l < n; l++)
            {
                sum += a[l];
            }

            if (storeSigmoid)
            {
                TS.Store(a, s);
                KernelRange.CopyLanes(a, y + j, n);
            }

            TS.Store(a, TS.Multiply(TS.Subtract(s, tv), scale));
            KernelRange.CopyLanes(a, g + j, n);
        }

        return sum;
    }

    /// <summary><c>max(z, 0) - z t + log(1 + e^-|z|)</c> (TensorFlow's sigmoid_cross_entropy_with_logits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV BinaryElement(TV z, TV t)
    {
        TV e = TS.Exp(TS.Subtract(TS.Zero, LossMath.Abs<TS, TV>(z)));
        return TS.Add(TS.Subtract(TS.Max(TS.Zero, z), TS.Multiply(z, t)), LossMath.Log1P<TS, TV>(e));
    }

    /// <summary>Softmax of one row, exactly as <see cref="RowKernels"/> computes it; returns <c>log(sum(exp(x - max)))</c>.</summary>
    public static float SoftmaxRow(float* x, float* y, int cols, out float max) => RowKernels.SoftmaxRow(x, y, cols, out max);

    /// <summary>
    /// The statistics <see cref="SoftmaxRow"/> computes without writing the probabilities: the maximum, the sum of
    /// <c>exp(x - max)</c> (same order, same values) and its logarithm. Then <c>p_j = exp(x_j - max) * (1 / sum)</c>.
    /// </summary>
    public static float LogSumExp(float* x, int cols, out float max, out float sum)
    {
        max = float.NegativeInfinity;
        for (int j = 0; j < cols; j++)
        {
            max = MathF.Max(max, x[j]);
        }

        sum = 0;
        for (int j = 0; j < cols; j++)
        {
            sum += MathF.Exp(x[j] - max);
        }

        return MathF.Log(sum);
    }

    /// <summary>In place <c>g = y * (g - sum(g y))</c> (the softmax Jacobian-vector product, as <see cref="RowKernels.SoftmaxBackward"/>).</summary>
    public static void SoftmaxBackward(float* g, float* y, int cols)
    {
        double dot = 0;
        for (int j = 0; j < cols; j++)
        {
            dot += g[j] * y[j];
        }

        float d = (float)dot;
        for (int j = 0; j < cols; j++)
        {
            g[j] = y[j] * (g[j] - d);
        }
    }

    /// <summary>Copies <paramref name="n"/> floats into a lane buffer and fills the rest with <paramref name="fill"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gather(float* to, float* from, int n, float fill)
    {
        int l = 0;
        for (; l < n; l++)
        {
            to[l] = from[l];
        }

        for (; l < Lanes; l++)
        {
            to[l] = fill;
        }
    }
}

/// <summary>The loss kernels for one vector width, loss and output activation.</summary>
internal static unsafe class LossKernel<TS, TV, TAct> where TS : ISimd<TV> where TV : struct where TAct : IOutputActivation
{
    /// <summary>Rows <c>[rowStart, rowEnd)</c> with dense targets; returns the sum of the per-sample losses.</summary>
    public static float Dense<TLoss>(float* z, float* y, float* g, float* t, int cols, int rowStart, int rowEnd, float scale, bool signed)
        where TLoss : ILoss
    {
        double total = 0;
        for (int r = rowStart; r < rowEnd; r++)
        {
            long o = (long)r * cols;
            total += DenseRow<TLoss>(z + o, y + o, g + o, t + o, cols, scale, signed);
        }

        return (float)total;
    }

    /// <summary>Rows <c>[rowStart, rowEnd)</c> with class labels; returns the sum of the per-sample losses.</summary>
    public static float Sparse(float* z, float* y, float* g, ReadOnlySpan<int> labels, int cols, int rowStart, int rowEnd, float scale)
    {
        double total = 0;
        for (int r = rowStart; r < rowEnd; r++)
        {
            int label = labels[r];
            if ((uint)label >= (uint)cols)
            {
                Losses.ThrowLabel(r, label, cols);
            }

            long o = (long)r * cols;
            total += SparseRow(z + o, y + o, g + o, label, cols, scale);
        }

        return (float)total;
    }

    /// <summary>Rows <c>[rowStart, rowEnd)</c> of <c>y = f(z)</c>.</summary>
    public static void Activate(float* z, float* y, int cols, int rowStart, int rowEnd)
    {
        for (int r = rowStart; r < rowEnd; r++)
        {
            long o = (long)r * cols;
            TAct.Forward<TS, TV>(z + o, y + o, cols);
        }
    }

    private static double DenseRow<TLoss>(float* z, float* y, float* g, float* t, int cols, float scale, bool signed) where TLoss : ILoss
    {
        if (TLoss.Kind == LossKind.Categorical)
        {
            if (TAct.Kind != OutputKind.Elementwise)
            {
                return CategoricalFromLogits(z, y, g, t, cols, scale);
            }

            TAct.Forward<TS, TV>(z, y, cols);
            double loss = CategoricalFromProbabilities(y, g, t, cols, scale);
            TAct.Backward<TS, TV>(g, y, cols);
            return loss;
        }

        if (TLoss.Kind == LossKind.Binary && TAct.Kind != OutputKind.Elementwise)
        {
            if (TAct.Kind == OutputKind.Softmax)
            {
                LossRows<TS, TV>.SoftmaxRow(z, y, cols, out _);
            }

            float sum = LossRows<TS, TV>.BinaryFromLogits(z, t, y, g, cols, scale / cols, storeSigmoid: TAct.Kind == OutputKind.Sigmoid);
            return (double)sum / cols;
        }

        TAct.Forward<TS, TV>(z, y, cols);
        float rowSum = LossRows<TS, TV>.Elementwise<TLoss>(t, y, g, cols, TLoss.MeanOverOutputs ? scale / cols : scale, signed);
        TAct.Backward<TS, TV>(g, y, cols);
        return TLoss.MeanOverOutputs ? (double)rowSum / cols : rowSum;
    }

    /// <summary>
    /// Categorical cross-entropy from the logits (after Softmax or Sigmoid): <c>sum_j t_j (logsumexp(z) - z_j)</c> and
    /// <c>g = softmax(z) sum(t) scale - t scale</c>. With one-hot targets every value equals the sparse kernel's.
    /// </summary>
    private static double CategoricalFromLogits(float* z, float* y, float* g, float* t, int cols, float scale)
    {
        float max, logSum, inv;
        bool softmax = TAct.Kind == OutputKind.Softmax;
        if (softmax)
        {
            logSum = LossRows<TS, TV>.SoftmaxRow(z, y, cols, out max);
            inv = 0;
        }
        else
        {
            TAct.Forward<TS, TV>(z, y, cols);
            logSum = LossRows<TS, TV>.LogSumExp(z, cols, out max, out float sum);
            inv = 1f / sum;
        }

        double loss = 0;
        float sumT = 0;
        for (int j = 0; j < cols; j++)
        {
            float tj = t[j];
            sumT += tj;
            if (tj != 0f)
            {
                // Zero targets are skipped: 0 * (logSum - (z - max)) would be NaN for z = -inf.
                loss += tj * (double)(logSum - (z[j] - max));
            }
        }

        float pScale = sumT * scale;
        for (int j = 0; j < cols; j++)
        {
            float p = softmax ? y[j] : MathF.Exp(z[j] - max) * inv;
            g[j] = p * pScale - t[j] * scale;
        }

        return loss;
    }

    /// <summary>
    /// Keras' categorical cross-entropy of probabilities: <c>q = y / sum(y)</c>, <c>-sum_j t_j log clip(q_j)</c>; writes
    /// <c>dL/dy * scale</c> through the clip and the normalisation, <c>(dL/dq_j - sum_k dL/dq_k q_k) / sum(y)</c>.
    /// </summary>
    private static double CategoricalFromProbabilities(float* y, float* g, float* t, int cols, float scale)
    {
        float s = 0;
        for (int j = 0; j < cols; j++)
        {
            s += y[j];
        }

        for (int j = 0; j < cols; j++)
        {
            g[j] = y[j] / s;
        }

        float loss = LossRows<TS, TV>.Elementwise<LossFunctions.CategoricalCrossEntropy>(t, g, g, cols, 1f, signed: false);
        double dot = 0;
        for (int j = 0; j < cols; j++)
        {
            dot += g[j] * (y[j] / s);
        }

        float d = (float)dot;
        float f = scale / s;
        for (int j = 0; j < cols; j++)
        {
            g[j] = (g[j] - d) * f;
        }

        return loss;
    }

    private static double SparseRow(float* z, float* y, float* g, int label, int cols, float scale)
    {
        if (TAct.Kind == OutputKind.Softmax)
        {
            // The row softmax RowKernels uses; the loss as logsumexp(z) - z[label], stable for any logits.
            float logSum = LossRows<TS, TV>.SoftmaxRow(z, y, cols, out float max);
            float loss = logSum - (z[label] - max);
            for (int j = 0; j < cols; j++)
            {
                g[j] = y[j] * scale;
            }

            g[label] -= scale;
            return loss;
        }

        if (TAct.Kind == OutputKind.Sigmoid)
        {
            // tf.keras 2.x: the sigmoid's logits go to sparse_softmax_cross_entropy_with_logits.
            TAct.Forward<TS, TV>(z, y, cols);
            float logSum = LossRows<TS, TV>.LogSumExp(z, cols, out float max, out float sum);
            float loss = logSum - (z[label] - max);
            float inv = 1f / sum;
            for (int j = 0; j < cols; j++)
            {
                g[j] = MathF.Exp(z[j] - max) * inv * scale;
            }

            g[label] -= scale;
            return loss;
        }

        // Keras without logits: c = clip(y, eps, 1 - eps), loss = -log(c_label / sum(c)); dL/dc_j = 1 / sum(c) - [j = label] / c_label.
        TAct.Forward<TS, TV>(z, y, cols);
        float total = 0;
        for (int j = 0; j < cols; j++)
        {
            total += LossMath.Clip(y[j]);
        }

        float cl = LossMath.Clip(y[label]);
        float rowLoss = MathF.Log(total) - MathF.Log(cl);
        float common = scale / total;
        for (int j = 0; j < cols; j++)
        {
            float d = j == label ? common - scale / cl : common;
            g[j] = LossMath.InClipRange(y[j]) ? d : 0f;
        }

        TAct.Backward<TS, TV>(g, y, cols);
        return rowLoss;
    }
}

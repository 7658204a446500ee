using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NetDsl.Threading;

namespace NetDsl.Kernels;

/// <summary>
/// Batch normalisation over a <c>rows</c> x <c>channels</c> row-major matrix: <c>rows = samples * H * W</c> after a
/// channels-last convolution, <c>rows = samples</c> after a dense layer. Statistics are per channel (per column).
/// The training passes split channels between the parts (in whole SIMD vectors of channels, as evenly as that allows,
/// so every reduction over rows stays inside one part and results do not depend on the split); the inference passes
/// split rows. The per-channel buffers (gamma, beta, statistics) may be read up to one 512-bit vector past their end.
/// </summary>
/// <remarks>
/// <para>Moving variance. Keras's BatchNormalization documents <c>moving_var = moving_var * momentum + var(batch) *
/// (1 - momentum)</c> but the batch variance it feeds in is not the same everywhere: tf.keras 2.x with a 4-D input
/// (after a Conv2D, where the fused kernel is used and returns the Bessel-corrected variance) and standalone Keras 2.x
/// (which multiplies by <c>n / (n - 1 - epsilon)</c> itself, "unbiased estimator of population variance") use the unbiased
/// variance; only tf.keras 2.x on 2-D inputs (non-fused path) and Keras 3 use the biased one. This implementation
/// follows Keras 2 as the reference workload is a Keras 2 model: the moving variance is updated with the
/// <b>unbiased</b> batch variance <c>var * n / (n - 1)</c>, n = rows (TensorFlow's fused kernel's
/// convention, including its factor 1 for n = 1). Normalisation itself always uses the biased variance.</para>
/// <para>Degenerate batch (rows = 1): the batch variance is 0, so the output is <c>beta</c> whatever the input,
/// <c>invStd = 1 / sqrt(epsilon)</c>, the input gradient is exactly 0, <c>dgamma = 0</c> and <c>dbeta = dy</c>; the
/// moving variance decays towards 0. rows = 0 leaves every output untouched.</para>
/// <para>Accuracy: mean and variance are computed in two passes (mean, then the mean of squared deviations); every
/// sum over rows is a plain float sum over blocks of 64 rows whose results are added with Kahan compensation, so the
/// rounding error does not grow with the number of blocks (a batch of 128 26 x 26 maps is 86,528 rows).</para>
/// </remarks>
public static unsafe class BatchNorm
{
    /// <summary>
    /// Training-mode forward pass: per channel, the batch mean and biased variance over the rows,
    /// <c>y = gamma * (x - mean) * invStd + beta</c> with <c>invStd = 1 / sqrt(var + epsilon)</c>; stores mean and invStd
    /// for <see cref="Backward"/>, and updates the moving statistics as Keras 2 does:
    /// <c>moving = moving * momentum + batch * (1 - momentum)</c>, with the unbiased batch variance for the moving
    /// variance (see the class remarks). Parts split channels. <paramref name="y"/> may equal <paramref name="x"/>, but
    /// <see cref="Backward"/> reads the forward input, so an in-place forward pass is only for inference-like uses.
    /// </summary>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="x">Offset of the input, <c>rows * channels</c> floats.</param>
    /// <param name="y">Offset of the output, <c>rows * channels</c> floats.</param>
    /// <param name="gamma">Offset of the per-channel scale.</param>
    /// <param name="beta">Offset of the per-channel shift.</param>
    /// <param name="savedMean">Offset where the per-channel batch mean is written.</param>
    /// <param name="savedInvStd">Offset where the per-channel <c>1 / sqrt(var + epsilon)</c> is written.</param>
    /// <param name="movingMean">Offset of the per-channel moving mean (updated).</param>
    /// <param name="movingVar">Offset of the per-channel moving variance (updated).</param>
    /// <param name="rows">Rows (normalised over).</param>
    /// <param name="channels">Channels (columns).</param>
    /// <param name="momentum">Moving-average momentum (Keras's default is 0.99).</param>
    /// <param name="epsilon">Added to the variance (Keras's default is 1e-3).</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void TrainingForward(Arena arena, long x, long y, long gamma, long beta, long savedMean, long savedInvStd,
        long movingMean, long movingVar, int rows, int channels, float momentum, float epsilon, int part, int parts)
    {
        KernelRange.CheckPart(part, parts);
        if (rows <= 0 || channels <= 0)
        {
            return;
        }

        float* b = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            var (c0, c1) = Partition.Range(channels, part, parts, Vector512<float>.Count);
            BatchNormKernel<Simd512, Vector512<float>>.TrainingForward(b + x, b + y, b + gamma, b + beta, b + savedMean, b + savedInvStd,
                b + movingMean, b + movingVar, rows, channels, momentum, epsilon, c0, c1);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var (c0, c1) = Partition.Range(channels, part, parts, Vector256<float>.Count);
            BatchNormKernel<Simd256, Vector256<float>>.TrainingForward(b + x, b + y, b + gamma, b + beta, b + savedMean, b + savedInvStd,
                b + movingMean, b + movingVar, rows, channels, momentum, epsilon, c0, c1);
        }
        else
        {
            var (c0, c1) = Partition.Range(channels, part, parts, Vector128<float>.Count);
            BatchNormKernel<Simd128, Vector128<float>>.TrainingForward(b + x, b + y, b + gamma, b + beta, b + savedMean, b + savedInvStd,
                b + movingMean, b + movingVar, rows, channels, momentum, epsilon, c0, c1);
        }
    }

    /// <summary>
    /// Inference-mode forward pass: <c>y = gamma * (x - movingMean) / sqrt(movingVar + epsilon) + beta</c>. Parts split
    /// rows. <paramref name="y"/> may equal <paramref name="x"/>.
    /// </summary>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="x">Offset of the input, <c>rows * channels</c> floats.</param>
    /// <param name="y">Offset of the output, <c>rows * channels</c> floats.</param>
    /// <param name="gamma">Offset of the per-channel scale.</param>
    /// <param name="beta">Offset of the per-channel shift.</param>
    /// <param name="movingMean">Offset of the per-channel moving mean.</param>
    /// <param name="movingVar">Offset of the per-channel moving variance.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="channels">Channels (columns).</param>
    /// <param name="epsilon">Added to the variance.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void InferenceForward(Arena arena, long x, long y, long gamma, long beta, long movingMean, long movingVar,
        int rows, int channels, float epsilon, int part, int parts)
    {
        KernelRange.CheckPart(part, parts);
        var (r0, r1) = Partition.Range(Math.Max(rows, 0), part, parts);
        if (r0 >= r1 || channels <= 0)
        {
            return;
        }

        float* b = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            BatchNormKernel<Simd512, Vector512<float>>.Affine(b + x, b + y, b + gamma, b + beta, b + movingMean, b + movingVar, channels, epsilon, r0, r1);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            BatchNormKernel<Simd256, Vector256<float>>.Affine(b + x, b + y, b + gamma, b + beta, b + movingMean, b + movingVar, channels, epsilon, r0, r1);
        }
        else
        {
            BatchNormKernel<Simd128, Vector128<float>>.Affine(b + x, b + y, b + gamma, b + beta, b + movingMean, b + movingVar, channels, epsilon, r0, r1);
        }
    }

    /// <summary>
    /// Folds the inference form of a BatchNorm (moving statistics) that follows a convolution into one scale and shift
    /// per channel, for the convolution's epilogue (<see cref="Epilogue.ScaleShift{TAct, TShape}"/>):
    /// <c>scale = gamma / sqrt(var + eps)</c> (as <see cref="InferenceForward"/> computes it) and
    /// <c>shift = beta - (mean - bias) * scale</c>, written as <c>folded = [shift (channels) | scale (channels)]</c>.
    /// </summary>
    /// <param name="arena">The arena all offsets refer to.</param>
    /// <param name="gamma">Offset of the per-channel scale.</param>
    /// <param name="beta">Offset of the per-channel shift.</param>
    /// <param name="movingMean">Offset of the per-channel moving mean.</param>
    /// <param name="movingVar">Offset of the per-channel moving variance.</param>
    /// <param name="bias">Offset of the convolution's bias, or -1 when it has none.</param>
    /// <param name="folded">Offset of the 2 x <paramref name="channels"/> result.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="epsilon">Added to the variance.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void Fold(Arena arena, long gamma, long beta, long movingMean, long movingVar, long bias, long folded, int channels, float epsilon, int part, int parts)
    {
        KernelRange.CheckPart(part, parts);
        var (c0, c1) = Partition.Range(Math.Max(channels, 0), part, parts);
        float* p = arena.Pointer;
        float* g = p + gamma, b = p + beta, m = p + movingMean, v = p + movingVar, shift = p + folded, scale = shift + channels;
        for (int c = c0; c < c1; c++)
        {
            float s = g[c] / MathF.Sqrt(v[c] + epsilon);
            scale[c] = s;
            shift[c] = b[c] - ((m[c] - (bias >= 0 ? p[bias + c] : 0f)) * s);
        }
    }

    /// <summary>
    /// Backward of <see cref="TrainingForward"/> (batch statistics): with <c>xhat = (x - mean) * invStd</c> and
    /// <c>N = rows</c>, <c>dbeta = sum(dy)</c>, <c>dgamma = sum(dy * xhat)</c> (both overwritten, when
    /// <paramref name="computeParameterGradients"/>) and
    /// <c>dx = gamma * invStd * (dy - dbeta / N - xhat * dgamma / N)</c> (when <paramref name="computeInputGradient"/>),
    /// sums over rows per channel. Parts split channels. <paramref name="dx"/> may equal <paramref name="dy"/>.
    /// </summary>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="x">Offset of the forward input.</param>
    /// <param name="dy">Offset of the gradient with respect to the output.</param>
    /// <param name="dx">Offset of the gradient with respect to the input (written when <paramref name="computeInputGradient"/>).</param>
    /// <param name="gamma">Offset of the per-channel scale.</param>
    /// <param name="dgamma">Offset of the scale's gradient (written when <paramref name="computeParameterGradients"/>).</param>
    /// <param name="dbeta">Offset of the shift's gradient (written when <paramref name="computeParameterGradients"/>).</param>
    /// <param name="savedMean">Offset of the mean stored by the forward pass.</param>
    /// <param name="savedInvStd">Offset of the invStd stored by the forward pass.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="channels">Channels (columns).</param>
    /// <param name="computeParameterGradients">Write <paramref name="dgamma"/> and <paramref name="dbeta"/>.</param>
    /// <param name="computeInputGradient">Write <paramref name="dx"/>.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void Backward(Arena arena, long x, long dy, long dx, long gamma, long dgamma, long dbeta, long savedMean, long savedInvStd,
        int rows, int channels, bool computeParameterGradients, bool computeInputGradient, int part, int parts)
    {
        KernelRange.CheckPart(part, parts);
        if (rows <= 0 || channels <= 0 || !(computeParameterGradients || computeInputGradient))
        {
            return;
        }

        float* b = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            var (c0, c1) = Partition.Range(channels, part, parts, Vector512<float>.Count);
            BatchNormKernel<Simd512, Vector512<float>>.Backward(b + x, b + dy, b + dx, b + gamma, b + dgamma, b + dbeta, b + savedMean, b + savedInvStd,
                rows, channels, computeParameterGradients, computeInputGradient, c0, c1);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var (c0, c1) = Partition.Range(channels, part, parts, Vector256<float>.Count);
            BatchNormKernel<Simd256, Vector256<float>>.Backward(b + x, b + dy, b + dx, b + gamma, b + dgamma, b + dbeta, b + savedMean, b + savedInvStd,
                rows, channels, computeParameterGradients, computeInputGradient, c0, c1);
        }
        else
        {
            var (c0, c1) = Partition.Range(channels, part, parts, Vector128<float>.Count);
            BatchNormKernel<Simd128, Vector128<float>>.Backward(b + x, b + dy, b + dx, b + gamma, b + dgamma, b + dbeta, b + savedMean, b + savedInvStd,
                rows, channels, computeParameterGradients, computeInputGradient, c0, c1);
        }
    }

    /// <summary>
    /// Backward when the layer ran in inference mode (a frozen BatchNormalization, as Keras runs a non-trainable one):
    /// <c>dx = dy * gamma / sqrt(movingVar + epsilon)</c>. Parts split rows. <paramref name="dx"/> may equal
    /// <paramref name="dy"/>.
    /// </summary>
    /// <param name="arena">The arena holding the buffers.</param>
    /// <param name="dy">Offset of the gradient with respect to the output.</param>
    /// <param name="dx">Offset of the gradient with respect to the input.</param>
    /// <param name="gamma">Offset of the per-channel scale.</param>
    /// <param name="movingVar">Offset of the per-channel moving variance.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="channels">Channels (columns).</param>
    /// <param name="epsilon">Added to the variance.</param>
    /// <param name="part">This part, in [0, <paramref name="parts"/>).</param>
    /// <param name="parts">Parts the work is split in, at least 1.</param>
    public static void InferenceBackward(Arena arena, long dy, long dx, long gamma, long movingVar, int rows, int channels, float epsilon, int part, int parts)
    {
        KernelRange.CheckPart(part, parts);
        var (r0, r1) = Partition.Range(Math.Max(rows, 0), part, parts);
        if (r0 >= r1 || channels <= 0)
        {
            return;
        }

        float* b = arena.Pointer;
        if (Vector512.IsHardwareAccelerated)
        {
            BatchNormKernel<Simd512, Vector512<float>>.Affine(b + dy, b + dx, b + gamma, null, null, b + movingVar, channels, epsilon, r0, r1);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            BatchNormKernel<Simd256, Vector256<float>>.Affine(b + dy, b + dx, b + gamma, null, null, b + movingVar, channels, epsilon, r0, r1);
        }
        else
        {
            BatchNormKernel<Simd128, Vector128<float>>.Affine(b + dy, b + dx, b + gamma, null, null, b + movingVar, channels, epsilon, r0, r1);
        }
    }
}

/// <summary>The batch-normalisation loops for one SIMD width. See <see cref="BatchNorm"/>.</summary>
internal static unsafe class BatchNormKernel<TS, TV>
    where TS : ISimd<TV>
    where TV : struct
{
    /// <summary>Rows summed into a block accumulator before it is added to the total.</summary>
    private const int SumBlock = 64;

    /// <summary>Channels whose scale is precomputed at a time in the row-split passes.</summary>
    private const int ChannelChunk = 256;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TrainingForward(float* x, float* y, float* gamma, float* beta, float* savedMean, float* savedInvStd,
        float* movingMean, float* movingVar, int rows, int channels, float momentum, float epsilon, int c0, int c1)
    {
        int vl = TS.Count;
        float* lanes = stackalloc float[3 * KernelRange.MaxLanes];
        float* meanLanes = lanes, varLanes = lanes + KernelRange.MaxLanes, invLanes = lanes + 2 * KernelRange.MaxLanes;
        TV invRows = TS.Broadcast(1f / rows);
        float unbias = rows > 1 ? (float)rows / (rows - 1) : 1f;
        float keep = 1f - momentum;
        for (int c = c0; c < c1; c += vl)
        {
            int valid = Math.Min(vl, c1 - c);
            float* xc = x + c;
            TV mean = TS.Multiply(Sum(xc, rows, channels), invRows);
            TV variance = TS.Multiply(SumSquaredDeviations(xc, rows, channels, mean), invRows);
            TS.Store(meanLanes, mean);
            TS.Store(varLanes, variance);
            for (int l = 0; l < valid; l++)
            {
                float m = meanLanes[l], v = varLanes[l];
                float inv = 1f / MathF.Sqrt(v + epsilon);
                invLanes[l] = inv;
                savedMean[c + l] = m;
                savedInvStd[c + l] = inv;
                movingMean[c + l] = movingMean[c + l] * momentum + m * keep;
                movingVar[c + l] = movingVar[c + l] * momentum + v * unbias * keep;
            }

            TV scale = TS.Multiply(TS.Load(gamma + c), TS.Load(invLanes));
            TV shift = TS.Load(beta + c);
            float* yc = y + c;
            if (valid == vl)
            {
                for (int r = 0; r < rows; r++)
                {
                    long o = (long)r * channels;
                    TS.Store(yc + o, TS.Fma(TS.Subtract(TS.Load(xc + o), mean), scale, shift));
                }
            }
            else
            {
                for (int r = 0; r < rows; r++)
                {
                    long o = (long)r * channels;
                    TS.Store(varLanes, TS.Fma(TS.Subtract(TS.Load(xc + o), mean), scale, shift));
                    KernelRange.CopyLanes(varLanes, yc + o, valid);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(float* x, float* dy, float* dx, float* gamma, float* dgamma, float* dbeta, float* savedMean, float* savedInvStd,
        int rows, int channels, bool parameters, bool input, int c0, int c1)
    {
        int vl = TS.Count;
        float* lanes = stackalloc float[2 * KernelRange.MaxLanes];
        float* a = lanes, bl = lanes + KernelRange.MaxLanes;
        TV invRows = TS.Broadcast(1f / rows);
        for (int c = c0; c < c1; c += vl)
        {
            int valid = Math.Min(vl, c1 - c);
            float* xc = x + c, dyc = dy + c;
            TV mean = TS.Load(savedMean + c);
            TV invStd = TS.Load(savedInvStd + c);

            // sumDy = Σ dy, sumDyXc = Σ dy (x - mean), sumXc = Σ (x - mean), blocked and compensated like the forward
            // sums. The saved mean m is the exact batch mean μ rounded to float; with e = μ - m, Σ dy (x - m) =
            // Σ dy (x - μ) + e Σ dy, and Σ (x - m) = n e, so subtracting sumDy * sumXc / n removes the rounding of the mean
            // (otherwise amplified by Σ dy: ~1% of dgamma for a mean near 100 over 86,528 rows).
            TV sumDy = TS.Zero, sumDyXc = TS.Zero, sumXc = TS.Zero;
            TV compensationDy = TS.Zero, compensationDyXc = TS.Zero, compensationXc = TS.Zero;
            for (int r0 = 0; r0 < rows; r0 += SumBlock)
            {
                int r1 = Math.Min(rows, r0 + SumBlock);
                TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero;
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * channels;
                    TV d = TS.Load(dyc + o);
                    TV xm = TS.Subtract(TS.Load(xc + o), mean);
                    s0 = TS.Add(s0, d);
                    s1 = TS.Fma(d, xm, s1);
                    s2 = TS.Add(s2, xm);
                }

                Accumulate(ref sumDy, ref compensationDy, s0);
                Accumulate(ref sumDyXc, ref compensationDyXc, s1);
                Accumulate(ref sumXc, ref compensationXc, s2);
            }

            sumDyXc = TS.Subtract(sumDyXc, TS.Multiply(sumDy, TS.Multiply(sumXc, invRows)));
            TV gradGamma = TS.Multiply(sumDyXc, invStd);
            if (parameters)
            {
                TS.Store(a, gradGamma);
                TS.Store(bl, sumDy);
                KernelRange.CopyLanes(a, dgamma + c, valid);
                KernelRange.CopyLanes(bl, dbeta + c, valid);
            }

            if (!input)
            {
                continue;
            }

            // dx = k (dy - meanDy - (x - mean) coef), k = gamma invStd, meanDy = Σdy / N, coef = invStd^2 Σ dy (x - mean) / N.
            TV k = TS.Multiply(TS.Load(gamma + c), invStd);
            TV meanDy = TS.Multiply(sumDy, invRows);
            TV negCoef = TS.Subtract(TS.Zero, TS.Multiply(TS.Multiply(invStd, invStd), TS.Multiply(sumDyXc, invRows)));
            float* dxc = dx + c;
            if (valid == vl)
            {
                for (int r = 0; r < rows; r++)
                {
                    long o = (long)r * channels;
                    TV t = TS.Fma(TS.Subtract(TS.Load(xc + o), mean), negCoef, TS.Subtract(TS.Load(dyc + o), meanDy));
                    TS.Store(dxc + o, TS.Multiply(k, t));
                }
            }
            else
            {
                for (int r = 0; r < rows; r++)
                {
                    long o = (long)r * channels;
                    TV t = TS.Fma(TS.Subtract(TS.Load(xc + o), mean), negCoef, TS.Subtract(TS.Load(dyc + o), meanDy));
                    TS.Store(a, TS.Multiply(k, t));
                    KernelRange.CopyLanes(a, dxc + o, valid);
                }
            }
        }
    }

    /// <summary>
    /// Rows [r0, r1) of <c>y = (x - mean) * gamma / sqrt(variance + epsilon) + beta</c>; a null <paramref name="mean"/>
    /// or <paramref name="beta"/> stands for zeros (the inference backward pass).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Affine(float* x, float* y, float* gamma, float* beta, float* mean, float* variance, int channels, float epsilon, int r0, int r1)
    {
        int vl = TS.Count;
        float* scale = stackalloc float[ChannelChunk];
        bool centred = mean != null;
        for (int cs = 0; cs < channels; cs += ChannelChunk)
        {
            int ce = Math.Min(channels, cs + ChannelChunk);
            for (int c = cs; c < ce; c++)
            {
                scale[c - cs] = gamma[c] / MathF.Sqrt(variance[c] + epsilon);
            }

            for (int r = r0; r < r1; r++)
            {
                long o = (long)r * channels;
                float* xr = x + o, yr = y + o;
                int c = cs;
                if (centred)
                {
                    for (; c + vl <= ce; c += vl)
                    {
                        TS.Store(yr + c, TS.Fma(TS.Subtract(TS.Load(xr + c), TS.Load(mean + c)), TS.Load(scale + (c - cs)), TS.Load(beta + c)));
                    }

                    for (; c < ce; c++)
                    {
                        yr[c] = MathF.FusedMultiplyAdd(xr[c] - mean[c], scale[c - cs], beta[c]);
                    }
                }
                else
                {
                    for (; c + vl <= ce; c += vl)
                    {
                        TS.Store(yr + c, TS.Multiply(TS.Load(xr + c), TS.Load(scale + (c - cs))));
                    }

                    for (; c < ce; c++)
                    {
                        yr[c] = xr[c] * scale[c - cs];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Σ over rows of the vector at column offset 0 of <paramref name="p"/> (row stride <paramref name="channels"/>):
    /// plain float sums over blocks of <see cref="SumBlock"/> rows, added to the total with Kahan compensation.
    /// </summary>
    private static TV Sum(float* p, int rows, int channels)
    {
        TV total = TS.Zero, compensation = TS.Zero;
        for (int r0 = 0; r0 < rows; r0 += SumBlock)
        {
            int r1 = Math.Min(rows, r0 + SumBlock);
            TV s0 = TS.Zero, s1 = TS.Zero;
            int r = r0;
            for (; r + 1 < r1; r += 2)
            {
                s0 = TS.Add(s0, TS.Load(p + (long)r * channels));
                s1 = TS.Add(s1, TS.Load(p + (long)(r + 1) * channels));
            }

            if (r < r1)
            {
                s0 = TS.Add(s0, TS.Load(p + (long)r * channels));
            }

            Accumulate(ref total, ref compensation, TS.Add(s0, s1));
        }

        return total;
    }

    /// <summary>Σ over rows of <c>(p - mean)^2</c>, blocked like <see cref="Sum"/>.</summary>
    private static TV SumSquaredDeviations(float* p, int rows, int channels, TV mean)
    {
        TV total = TS.Zero, compensation = TS.Zero;
        for (int r0 = 0; r0 < rows; r0 += SumBlock)
        {
            int r1 = Math.Min(rows, r0 + SumBlock);
            TV s0 = TS.Zero, s1 = TS.Zero;
            int r = r0;
            for (; r + 1 < r1; r += 2)
            {
                TV d0 = TS.Subtract(TS.Load(p + (long)r * channels), mean);
                TV d1 = TS.Subtract(TS.Load(p + (long)(r + 1) * channels), mean);
                s0 = TS.Fma(d0, d0, s0);
                s1 = TS.Fma(d1, d1, s1);
            }

            if (r < r1)
            {
                TV d0 = TS.Subtract(TS.Load(p + (long)r * channels), mean);
                s0 = TS.Fma(d0, d0, s0);
            }

            Accumulate(ref total, ref compensation, TS.Add(s0, s1));
        }

        return total;
    }

    /// <summary>Kahan summation step: adds <paramref name="value"/> to <paramref name="total"/>, carrying the rounding error in <paramref name="compensation"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(ref TV total, ref TV compensation, TV value)
    {
        TV y = TS.Subtract(value, compensation);
        TV t = TS.Add(total, y);
        compensation = TS.Subtract(TS.Subtract(t, total), y);
        total = t;
    }
}

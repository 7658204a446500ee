using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetDsl.Kernels;

/// <summary>
/// The small, memory-bound kernels around the GEMMs: transposition, column sums (bias gradients), row softmax
/// and the fused softmax + cross-entropy loss. Each works on a row (or column) range so a step can split it
/// across threads, and addresses the arena by offsets.
/// </summary>
public static unsafe class RowKernels
{
    /// <summary><c>dst[c, r] = src[r, c]</c> for rows <paramref name="rowStart"/>..<paramref name="rowEnd"/> of src.</summary>
    public static void Transpose(Arena arena, long src, long dst, int rows, int cols, int rowStart, int rowEnd)
    {
        float* s = arena.Pointer + src;
        float* d = arena.Pointer + dst;
        const int Block = 16;
        for (int r0 = rowStart; r0 < rowEnd; r0 += Block)
        {
            int r1 = Math.Min(r0 + Block, rowEnd);
            for (int c0 = 0; c0 < cols; c0 += Block)
            {
                int c1 = Math.Min(c0 + Block, cols);
                for (int r = r0; r < r1; r++)
                {
                    float* sr = s + (long)r * cols;
                    for (int c = c0; c < c1; c++)
                    {
                        d[(long)c * rows + r] = sr[c];
                    }
                }
            }
        }
    }

    /// <summary><c>dst[j] = sum over r of src[r, j]</c> for columns <paramref name="colStart"/>..<paramref name="colEnd"/>.</summary>
    public static void ColumnSums(Arena arena, long src, long dst, int rows, int cols, int colStart, int colEnd)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Impl<Simd512, Vector512<float>>.ColumnSums(arena.Pointer + src, arena.Pointer + dst, rows, cols, colStart, colEnd);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Impl<Simd256, Vector256<float>>.ColumnSums(arena.Pointer + src, arena.Pointer + dst, rows, cols, colStart, colEnd);
        }
        else
        {
            Impl<Simd128, Vector128<float>>.ColumnSums(arena.Pointer + src, arena.Pointer + dst, rows, cols, colStart, colEnd);
        }
    }

    /// <summary>Row-wise softmax <c>y = exp(x - max) / sum</c> (in place when <paramref name="x"/> equals <paramref name="y"/>).</summary>
    public static void Softmax(Arena arena, long x, long y, int cols, int rowStart, int rowEnd)
    {
        float* px = arena.Pointer + x;
        float* py = arena.Pointer + y;
        for (int r = rowStart; r < rowEnd; r++)
        {
            SoftmaxRow(px + (long)r * cols, py + (long)r * cols, cols);
        }
    }

    /// <summary>
    /// Gradient through a row softmax: <c>dx = y * (dy - sum(dy * y))</c>, where <c>y</c> is the softmax output.
    /// <paramref name="dx"/> may equal <paramref name="dy"/>.
    /// </summary>
    public static void SoftmaxBackward(Arena arena, long dy, long y, long dx, int cols, int rowStart, int rowEnd)
    {
        float* pdy = arena.Pointer + dy;
        float* py = arena.Pointer + y;
        float* pdx = arena.Pointer + dx;
        for (int r = rowStart; r < rowEnd; r++)
        {
            long o = (long)r * cols;
            double dot = 0;
            for (int j = 0; j < cols; j++)
            {
                dot += pdy[o + j] * py[o + j];
            }

            float d = (float)dot;
            for (int j = 0; j < cols; j++)
            {
                pdx[o + j] = py[o + j] * (pdy[o + j] - d);
            }
        }
    }

    private static float SoftmaxRow(float* x, float* y, int cols) => SoftmaxRow(x, y, cols, out _);

    /// <summary>Softmax of one row; returns log(sum(exp(x - max))). The loss kernels use it too, so every softmax agrees bit for bit.</summary>
    internal static float SoftmaxRow(float* x, float* y, int cols, out float max)
    {
        max = float.NegativeInfinity;
        for (int j = 0; j < cols; j++)
        {
            max = MathF.Max(max, x[j]);
        }

        float sum = 0;
        for (int j = 0; j < cols; j++)
        {
            float e = MathF.Exp(x[j] - max);
            y[j] = e;
            sum += e;
        }

        float inv = 1f / sum;
        for (int j = 0; j < cols; j++)
        {
            y[j] *= inv;
        }

        return MathF.Log(sum);
    }

    private static class Impl<TS, TV> where TS : ISimd<TV> where TV : struct
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void ColumnSums(float* s, float* d, int rows, int cols, int colStart, int colEnd)
        {
            int vl = TS.Count;
            int j = colStart;
            for (; j + vl <= colEnd; j += vl)
            {
                TV acc0 = TS.Zero, acc1 = TS.Zero;
                int r = 0;
                for (; r + 1 < rows; r += 2)
                {
                    acc0 = TS.Add(acc0, TS.Load(s + (long)r * cols + j));
                    acc1 = TS.Add(acc1, TS.Load(s + (long)(r + 1) * cols + j));
                }

                if (r < rows)
                {
                    acc0 = TS.Add(acc0, TS.Load(s + (long)r * cols + j));
                }

                TS.Store(d + j, TS.Add(acc0, acc1));
            }

            for (; j < colEnd; j++)
            {
                float acc = 0;
                for (int r = 0; r < rows; r++)
                {
                    acc += s[(long)r * cols + j];
                }

                d[j] = acc;
            }
        }
    }
}

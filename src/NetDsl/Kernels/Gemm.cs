using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NetDsl.Kernels;

/// <summary>
/// The compile-time constants of one matrix product <c>C[M x N] = A[M x P] · B[P x N]</c>: the generator emits
/// one struct per product so the JIT sees every stride as a constant (register + immediate addressing).
/// B and C are row-major with row stride N; A is addressed as <c>A[i * AStrideM + p * AStrideP]</c>, which
/// covers both A (AStrideM = P, AStrideP = 1) and a transposed A (AStrideM = 1, AStrideP = M).
/// </summary>
public interface IGemmShape
{
    /// <summary>Columns of B and C.</summary>
    static abstract int N { get; }
    /// <summary>Distance in A between rows i and i + 1.</summary>
    static abstract int AStrideM { get; }
    /// <summary>Distance in A between reduction steps p and p + 1.</summary>
    static abstract int AStrideP { get; }
}

/// <summary>
/// Register-blocked SIMD matrix product with a fused epilogue, over arena offsets. Tiles are 8 rows x 2 vectors
/// (16 accumulators kept in registers; 8 x 32 floats with AVX-512), which keeps both FMA pipes busy while
/// hiding FMA latency; ragged edges use 1-row tiles and a partial last vector.
/// </summary>
public static unsafe class Gemm
{
    /// <summary>
    /// Computes rows <paramref name="rowStart"/>..<paramref name="rowEnd"/> of <c>C = epilogue(A · B)</c>.
    /// All operands are offsets into <paramref name="arena"/>; pass -1 for an unused bias or aux operand.
    /// Buffers are read up to one vector past their end, so the arena plan leaves that much slack.
    /// </summary>
    /// <param name="arena">The arena holding every operand.</param>
    /// <param name="a">Offset of A.</param>
    /// <param name="b">Offset of B.</param>
    /// <param name="c">Offset of C.</param>
    /// <param name="rowStart">First row of C to compute.</param>
    /// <param name="rowEnd">End (exclusive) of the rows to compute.</param>
    /// <param name="p">The reduction length.</param>
    /// <param name="bias">Offset of the bias (for epilogues that use one), else -1.</param>
    /// <param name="aux">Offset of the auxiliary tensor laid out like C (for epilogues that use one), else -1.</param>
    /// <param name="dropout">
    /// A dropout mask fused into the epilogue (element index = position in C), or <see cref="DropoutMask.None"/>: each
    /// finished tile is masked while it is still in L1.
    /// </param>
    /// <param name="dropoutCopy">
    /// With an active <paramref name="dropout"/>: the offset of a buffer laid out like C that receives the masked
    /// values while C keeps the unmasked ones (a forward pass), or -1 to mask C itself (a backward pass).
    /// </param>
    public static void Run<TShape, TEpi>(Arena arena, long a, long b, long c, int rowStart, int rowEnd, int p,
        long bias = -1, long aux = -1, DropoutMask dropout = default, long dropoutCopy = -1)
        where TShape : IGemmShape
        where TEpi : IEpilogue
    {
        if (rowEnd <= rowStart)
        {
            return;
        }

        float* @base = arena.Pointer;
        float* biasPtr = bias >= 0 ? @base + bias : null;
        float* auxPtr = aux >= 0 ? @base + aux : null;
        DropoutMask* mask = dropout.IsActive ? &dropout : null;
        float* copy = dropout.IsActive ? @base + (dropoutCopy >= 0 ? dropoutCopy : c) : null;
        if (Vector512.IsHardwareAccelerated)
        {
            GemmKernel<Simd512, Vector512<float>, TShape, TEpi>.Run(@base + a, @base + b, @base + c, rowStart, rowEnd, p, biasPtr, auxPtr, mask, copy);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            GemmKernel<Simd256, Vector256<float>, TShape, TEpi>.Run(@base + a, @base + b, @base + c, rowStart, rowEnd, p, biasPtr, auxPtr, mask, copy);
        }
        else
        {
            GemmKernel<Simd128, Vector128<float>, TShape, TEpi>.Run(@base + a, @base + b, @base + c, rowStart, rowEnd, p, biasPtr, auxPtr, mask, copy);
        }
    }
}

/// <summary>The GEMM body for one SIMD width, shape and epilogue. See <see cref="Gemm"/>.</summary>
internal static unsafe class GemmKernel<TS, TV, TShape, TEpi>
    where TS : ISimd<TV>
    where TV : struct
    where TShape : IGemmShape
    where TEpi : IEpilogue
{
    private const int RowTile = 8;

    /// <summary>
    /// Reduction steps per block. A block of B (KBlock rows x 2 vectors = 32 KB with AVX-512) stays in L1 while
    /// every row tile of the range streams past it; without blocking, each tile re-reads its B strip from L2.
    /// </summary>
    private const int KBlock = 256;

    // Rows [rowStart, rowEnd) of C, as Gemm.Run describes; with accumulate, A · B is added to C's current values
    // (before the epilogue) instead of overwriting them (the Winograd weight gradient sums over chunks of tiles).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(float* a, float* b, float* c, int rowStart, int rowEnd, int p, float* bias, float* aux,
        DropoutMask* mask = null, float* maskDestination = null, bool accumulate = false)
    {
        int n = TShape.N;
        int vl = TS.Count;
        int j = 0;
        for (; j + 2 * vl <= n; j += 2 * vl)
        {
            for (int k0 = 0; k0 < p || k0 == 0; k0 += KBlock)
            {
                int k1 = Math.Min(p, k0 + KBlock);
                bool first = k0 == 0 && !accumulate, last = k1 == p;
                int i = rowStart;
                for (; i + RowTile <= rowEnd; i += RowTile)
                {
                    Tile8x2(a, b, c, i, j, k0, k1, first, last, bias, aux);
                    if (last && mask != null)
                    {
                        MaskTile(c, maskDestination, mask, i, RowTile, j, 2 * vl);
                    }
                }

                for (; i < rowEnd; i++)
                {
                    Tile1(a, b, c, i, j, k0, k1, first, last, bias, aux, 2, vl);
                    if (last && mask != null)
                    {
                        MaskTile(c, maskDestination, mask, i, 1, j, 2 * vl);
                    }
                }
            }
        }

        for (; j < n; j += vl)
        {
            int valid = Math.Min(vl, n - j);
            for (int k0 = 0; k0 < p || k0 == 0; k0 += KBlock)
            {
                int k1 = Math.Min(p, k0 + KBlock);
                bool first = k0 == 0 && !accumulate, last = k1 == p;
                int i = rowStart;
                for (; i + RowTile <= rowEnd; i += RowTile)
                {
                    Tile8x1(a, b, c, i, j, k0, k1, first, last, bias, aux, valid);
                    if (last && mask != null)
                    {
                        MaskTile(c, maskDestination, mask, i, RowTile, j, valid);
                    }
                }

                for (; i < rowEnd; i++)
                {
                    Tile1(a, b, c, i, j, k0, k1, first, last, bias, aux, 1, valid);
                    if (last && mask != null)
                    {
                        MaskTile(c, maskDestination, mask, i, 1, j, valid);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The fused dropout: masks the tile just stored (rows i..i+rows, columns j..j+width of C, still in L1) into
    /// <paramref name="destination"/> (C itself in a backward pass). The element index is the position in C.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskTile(float* c, float* destination, DropoutMask* mask, int i, int rows, int j, int width)
    {
        for (int r = i; r < i + rows; r++)
        {
            long at = (long)r * TShape.N + j;
            Dropout.Apply(*mask, c, destination, at, at + width);
        }
    }

    /// <summary>8 rows x 2 full vectors: 16 accumulators, 2 loads and 8 broadcasts per reduction step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile8x2(float* a, float* b, float* c, int i, int j, int k0, int k1, bool first, bool last, float* bias, float* aux)
    {
        int n = TShape.N;
        int sm = TShape.AStrideM;
        int sp = TShape.AStrideP;
        int vl = TS.Count;
        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero, c30 = TS.Zero, c31 = TS.Zero;
        TV c40 = TS.Zero, c41 = TS.Zero, c50 = TS.Zero, c51 = TS.Zero, c60 = TS.Zero, c61 = TS.Zero, c70 = TS.Zero, c71 = TS.Zero;
        if (!first)
        {
            float* cp = c + (long)i * n + j;
            c00 = TS.Load(cp); c01 = TS.Load(cp + vl); cp += n;
            c10 = TS.Load(cp); c11 = TS.Load(cp + vl); cp += n;
            c20 = TS.Load(cp); c21 = TS.Load(cp + vl); cp += n;
            c30 = TS.Load(cp); c31 = TS.Load(cp + vl); cp += n;
            c40 = TS.Load(cp); c41 = TS.Load(cp + vl); cp += n;
            c50 = TS.Load(cp); c51 = TS.Load(cp + vl); cp += n;
            c60 = TS.Load(cp); c61 = TS.Load(cp + vl); cp += n;
            c70 = TS.Load(cp); c71 = TS.Load(cp + vl);
        }

        float* ap = a + (long)i * sm + (long)k0 * sp;
        float* bp = b + (long)k0 * n + j;
        for (int k = k0; k < k1; k++)
        {
            TV b0 = TS.Load(bp);
            TV b1 = TS.Load(bp + vl);
            TV x = TS.Broadcast(ap[0]);
            c00 = TS.Fma(x, b0, c00); c01 = TS.Fma(x, b1, c01);
            x = TS.Broadcast(ap[sm]);
            c10 = TS.Fma(x, b0, c10); c11 = TS.Fma(x, b1, c11);
            x = TS.Broadcast(ap[2 * sm]);
            c20 = TS.Fma(x, b0, c20); c21 = TS.Fma(x, b1, c21);
            x = TS.Broadcast(ap[3 * sm]);
            c30 = TS.Fma(x, b0, c30); c31 = TS.Fma(x, b1, c31);
            x = TS.Broadcast(ap[4 * sm]);
            c40 = TS.Fma(x, b0, c40); c41 = TS.Fma(x, b1, c41);
            x = TS.Broadcast(ap[5 * sm]);
            c50 = TS.Fma(x, b0, c50); c51 = TS.Fma(x, b1, c51);
            x = TS.Broadcast(ap[6 * sm]);
            c60 = TS.Fma(x, b0, c60); c61 = TS.Fma(x, b1, c61);
            x = TS.Broadcast(ap[7 * sm]);
            c70 = TS.Fma(x, b0, c70); c71 = TS.Fma(x, b1, c71);
            ap += sp;
            bp += n;
        }

        Finish(c, i + 0, j, c00, c01, last, bias, aux);
        Finish(c, i + 1, j, c10, c11, last, bias, aux);
        Finish(c, i + 2, j, c20, c21, last, bias, aux);
        Finish(c, i + 3, j, c30, c31, last, bias, aux);
        Finish(c, i + 4, j, c40, c41, last, bias, aux);
        Finish(c, i + 5, j, c50, c51, last, bias, aux);
        Finish(c, i + 6, j, c60, c61, last, bias, aux);
        Finish(c, i + 7, j, c70, c71, last, bias, aux);
    }

    /// <summary>8 rows x 1 vector, of which <paramref name="valid"/> lanes are stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile8x1(float* a, float* b, float* c, int i, int j, int k0, int k1, bool first, bool last, float* bias, float* aux, int valid)
    {
        int n = TShape.N;
        int sm = TShape.AStrideM;
        int sp = TShape.AStrideP;
        TV c0 = TS.Zero, c1 = TS.Zero, c2 = TS.Zero, c3 = TS.Zero, c4 = TS.Zero, c5 = TS.Zero, c6 = TS.Zero, c7 = TS.Zero;
        if (!first)
        {
            c0 = LoadPartial(c, i + 0, j, valid);
            c1 = LoadPartial(c, i + 1, j, valid);
            c2 = LoadPartial(c, i + 2, j, valid);
            c3 = LoadPartial(c, i + 3, j, valid);
            c4 = LoadPartial(c, i + 4, j, valid);
            c5 = LoadPartial(c, i + 5, j, valid);
            c6 = LoadPartial(c, i + 6, j, valid);
            c7 = LoadPartial(c, i + 7, j, valid);
        }

        float* ap = a + (long)i * sm + (long)k0 * sp;
        float* bp = b + (long)k0 * n + j;
        for (int k = k0; k < k1; k++)
        {
            TV b0 = TS.Load(bp);
            c0 = TS.Fma(TS.Broadcast(ap[0]), b0, c0);
            c1 = TS.Fma(TS.Broadcast(ap[sm]), b0, c1);
            c2 = TS.Fma(TS.Broadcast(ap[2 * sm]), b0, c2);
            c3 = TS.Fma(TS.Broadcast(ap[3 * sm]), b0, c3);
            c4 = TS.Fma(TS.Broadcast(ap[4 * sm]), b0, c4);
            c5 = TS.Fma(TS.Broadcast(ap[5 * sm]), b0, c5);
            c6 = TS.Fma(TS.Broadcast(ap[6 * sm]), b0, c6);
            c7 = TS.Fma(TS.Broadcast(ap[7 * sm]), b0, c7);
            ap += sp;
            bp += n;
        }

        FinishOne(c, i + 0, j, c0, last, bias, aux, valid);
        FinishOne(c, i + 1, j, c1, last, bias, aux, valid);
        FinishOne(c, i + 2, j, c2, last, bias, aux, valid);
        FinishOne(c, i + 3, j, c3, last, bias, aux, valid);
        FinishOne(c, i + 4, j, c4, last, bias, aux, valid);
        FinishOne(c, i + 5, j, c5, last, bias, aux, valid);
        FinishOne(c, i + 6, j, c6, last, bias, aux, valid);
        FinishOne(c, i + 7, j, c7, last, bias, aux, valid);
    }

    /// <summary>One row, <paramref name="vectors"/> (1 or 2) vectors; with one vector, <paramref name="valid"/> lanes are stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile1(float* a, float* b, float* c, int i, int j, int k0, int k1, bool first, bool last, float* bias, float* aux, int vectors, int valid)
    {
        int n = TShape.N;
        int sp = TShape.AStrideP;
        int vl = TS.Count;
        TV c0 = TS.Zero, c1 = TS.Zero, d0 = TS.Zero, d1 = TS.Zero;
        if (!first)
        {
            c0 = LoadPartial(c, i, j, vectors == 2 ? vl : valid);
            if (vectors == 2)
            {
                c1 = TS.Load(c + (long)i * n + j + vl);
            }
        }

        float* ap = a + (long)i * TShape.AStrideM + (long)k0 * sp;
        float* bp = b + (long)k0 * n + j;
        int k = k0;
        if (vectors == 2)
        {
            // Two independent accumulator pairs over even/odd k halve the FMA dependency chain.
            for (; k + 1 < k1; k += 2)
            {
                TV x0 = TS.Broadcast(ap[0]);
                TV x1 = TS.Broadcast(ap[sp]);
                c0 = TS.Fma(x0, TS.Load(bp), c0);
                c1 = TS.Fma(x0, TS.Load(bp + vl), c1);
                d0 = TS.Fma(x1, TS.Load(bp + n), d0);
                d1 = TS.Fma(x1, TS.Load(bp + n + vl), d1);
                ap += 2 * sp;
                bp += 2 * n;
            }

            for (; k < k1; k++)
            {
                TV x0 = TS.Broadcast(ap[0]);
                c0 = TS.Fma(x0, TS.Load(bp), c0);
                c1 = TS.Fma(x0, TS.Load(bp + vl), c1);
                ap += sp;
                bp += n;
            }

            Finish(c, i, j, TS.Add(c0, d0), TS.Add(c1, d1), last, bias, aux);
        }
        else
        {
            for (; k + 1 < k1; k += 2)
            {
                c0 = TS.Fma(TS.Broadcast(ap[0]), TS.Load(bp), c0);
                d0 = TS.Fma(TS.Broadcast(ap[sp]), TS.Load(bp + n), d0);
                ap += 2 * sp;
                bp += 2 * n;
            }

            if (k < k1)
            {
                c0 = TS.Fma(TS.Broadcast(ap[0]), TS.Load(bp), c0);
            }

            FinishOne(c, i, j, TS.Add(c0, d0), last, bias, aux, valid);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(float* c, int i, int j, TV v0, TV v1, bool last, float* bias, float* aux)
    {
        long at = (long)i * TShape.N + j;
        int vl = TS.Count;
        if (last)
        {
            v0 = TEpi.Apply<TS, TV>(v0, bias + j, aux + at);
            v1 = TEpi.Apply<TS, TV>(v1, bias + j + vl, aux + at + vl);
        }

        TS.Store(c + at, v0);
        TS.Store(c + at + vl, v1);
    }

    /// <summary>Loads a partial sum of a ragged last vector (lanes past <paramref name="valid"/> are zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV LoadPartial(float* c, int i, int j, int valid)
    {
        float* cp = c + (long)i * TShape.N + j;
        if (valid == TS.Count)
        {
            return TS.Load(cp);
        }

        // Only this row's lanes may be read back as partial sums; the rest start at zero.
        float* lanes = stackalloc float[TS.Count];
        for (int l = 0; l < TS.Count; l++)
        {
            lanes[l] = l < valid ? cp[l] : 0f;
        }

        return TS.Load(lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishOne(float* c, int i, int j, TV v, bool last, float* bias, float* aux, int valid)
    {
        long at = (long)i * TShape.N + j;
        TV r = last ? TEpi.Apply<TS, TV>(v, bias + j, aux + at) : v;
        if (valid == TS.Count)
        {
            TS.Store(c + at, r);
        }
        else
        {
            // Ragged last vector: store only the lanes this row owns (the rest belongs to the next row,
            // possibly another thread's).
            for (int l = 0; l < valid; l++)
            {
                c[at + l] = TS.Element(r, l);
            }
        }
    }
}

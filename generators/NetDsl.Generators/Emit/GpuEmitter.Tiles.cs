using System.Collections.Generic;
using System.Globalization;

namespace NetDsl.Generators.Emit;

public static partial class GpuEmitter
{
    private const string TiledSignature = "(global::ILGPU.ArrayView<float> arena, global::ILGPU.ArrayView<int> labels, global::NetDsl.Gpu.GpuStep step)";
    private const string Inline = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]";

    /// <summary>
    /// A hot op written as a matrix product C[M x N] = Σ_k A(m, k) · B(k, n) with an epilogue per element of C, for its
    /// tiled form: an implicit GEMM (a convolution's A is its input read through the window, never copied to an im2col
    /// buffer). The three bodies are the op's own index arithmetic, each a small device function of the kernel:
    /// <c>A</c> and <c>B</c> return an element (variables <c>m</c>, <c>k</c>, <c>n</c> in range), <c>Store</c> writes
    /// C's element (<c>m</c>, <c>n</c>) from the sum <c>acc</c> with the op's fused epilogue.
    /// </summary>
    /// <param name="Rows">M, as kernel text (<c>step.Rows * 676</c>, or a literal).</param>
    /// <param name="HostRows">M, as host text for the launch (<c>(long)rows * 676</c>, or a literal).</param>
    /// <param name="Columns">N.</param>
    /// <param name="Depth">K, as kernel text.</param>
    /// <param name="Slices">Groups along K (Grid.IdxZ), each summing one slice of it into its own partial C; 1: none.</param>
    /// <param name="AAlongK">Whether A's neighbours in memory are along k (a row of A is contiguous), else along m.</param>
    /// <param name="BAlongK">Whether B's neighbours in memory are along k, else along n.</param>
    /// <param name="A">The body of <c>float A(m, k)</c>.</param>
    /// <param name="B">The body of <c>float B(k, n)</c>.</param>
    /// <param name="Store">The body of <c>void Store(m, n, acc)</c>: the epilogue.</param>
    private sealed record TiledProduct(
        string Rows,
        string HostRows,
        int Columns,
        string Depth,
        int Slices,
        bool AAlongK,
        bool BAlongK,
        IReadOnlyList<string> A,
        IReadOnlyList<string> B,
        IReadOnlyList<string> Store)
    {
        /// <summary>Rows of C per group (each of the group's threads holds a 4 x 4 block of the tile).</summary>
        public const int TileRows = 64;

        /// <summary>K per step through shared memory.</summary>
        public const int TileDepth = 16;

        /// <summary>Columns of C per group: the smallest of 16, 32, 64 that covers N (N beyond 64: several tiles).</summary>
        public int TileColumns => TileColumnsFor(Columns);

        public static int TileColumnsFor(int columns) => columns > 32 ? 64 : columns > 16 ? 32 : 16;

        /// <summary>Threads per group: one per 4 x 4 block of the tile (256, 128 or 64).</summary>
        public int Threads => TileRows / 4 * (TileColumns / 4);

        /// <summary>Groups along N.</summary>
        public int ColumnTiles => (Columns + TileColumns - 1) / TileColumns;
    }

    /// <summary>The tiled kernel of <paramref name="kernel"/> and its A, B and Store device functions.</summary>
    private static void EmitTiledKernel(SourceWriter w, GpuKernel kernel)
    {
        var t = kernel.Tiled!;
        string name = kernel.Name;
        int bm = TiledProduct.TileRows, bn = t.TileColumns, bk = TiledProduct.TileDepth, threads = t.Threads, across = bn / 4;
        // A tile written along k would put a warp's 16 consecutive k (stride = the tile's width) in one shared-memory bank:
        // one float of padding per row spreads them over 16 banks.
        int aStride = t.AAlongK ? bm + 1 : bm;
        int bStride = t.BAlongK ? bn + 1 : bn;
        bool depthIsWhole = t.Slices == 1 && int.TryParse(t.Depth, NumberStyles.None, CultureInfo.InvariantCulture, out int depth) && depth % bk == 0;
        string kCheck = depthIsWhole ? "" : " && k < kEnd";
        string split = t.Slices == 1 ? "" : $", K split over {t.Slices} groups along z (each writes its own partial C)";

        w.Line($"/// <summary>{EscapeXml(kernel.Summary)}: the tiled form (CUDA).</summary>");
        w.Line($"[global::NetDsl.Gpu.GpuKernel(Hot = true, GroupSize = {threads})]");
        using (w.Block($"private static void {name}Tiled{TiledSignature}"))
        {
            w.Line($"// C[M x N] = A[M x K] · B[K x N] with M = {t.Rows}, N = {t.Columns}, K = {t.Depth}{split}; A, B and the");
            w.Line($"// epilogue are {name}_A, {name}_B and {name}_Store below. This group computes the {bm} x {bn} tile of C at");
            w.Line($"// (Grid.IdxX, Grid.IdxY), K in steps of {bk} through shared memory; thread t sums the 4 x 4 block at row t / {across} * 4,");
            w.Line($"// column t % {across} * 4 of the tile in registers.");
            w.Line($"var a = global::ILGPU.SharedMemory.Allocate<float>({bk * aStride}); // a[kk * {aStride} + mm]");
            w.Line($"var b = global::ILGPU.SharedMemory.Allocate<float>({bk * bStride}); // b[kk * {bStride} + nn]");
            w.Line("int t = global::ILGPU.Group.IdxX;");
            w.Line($"int m0 = global::ILGPU.Grid.IdxX * {bm}, n0 = global::ILGPU.Grid.IdxY * {bn};");
            w.Line($"int rows = {t.Rows};");
            if (t.Slices == 1)
            {
                w.Line($"int kBegin = 0, kEnd = {t.Depth};");
            }
            else
            {
                w.Line($"int depth = {t.Depth};");
                w.Line($"int chunk = ((depth + {t.Slices - 1}) / {t.Slices} + {bk - 1}) / {bk} * {bk};");
                w.Line("int kBegin = global::ILGPU.Grid.IdxZ * chunk, kEnd = global::System.Math.Min(depth, kBegin + chunk);");
            }

            w.Line($"int tm = t / {across} * 4, tn = t % {across} * 4;");
            for (int i = 0; i < 4; i++)
            {
                w.Line($"float c{i}0 = 0f, c{i}1 = 0f, c{i}2 = 0f, c{i}3 = 0f;");
            }

            using (w.Block($"for (int k0 = kBegin; k0 < kEnd; k0 += {bk})"))
            {
                using (w.Block($"for (int e = t; e < {bk * bm}; e += {threads})"))
                {
                    w.Line(t.AAlongK ? $"int kk = e % {bk}, mm = e / {bk};" : $"int mm = e % {bm}, kk = e / {bm};");
                    w.Line("int m = m0 + mm, k = k0 + kk;");
                    w.Line($"a[kk * {aStride} + mm] = m < rows{kCheck} ? {name}_A(arena, step, m, k) : 0f;");
                }

                using (w.Block($"for (int e = t; e < {bk * bn}; e += {threads})"))
                {
                    w.Line(t.BAlongK ? $"int kk = e % {bk}, nn = e / {bk};" : $"int nn = e % {bn}, kk = e / {bn};");
                    w.Line("int n = n0 + nn, k = k0 + kk;");
                    w.Line($"b[kk * {bStride} + nn] = n < {t.Columns}{kCheck} ? {name}_B(arena, step, k, n) : 0f;");
                }

                w.Line("global::ILGPU.Group.Barrier();");
                using (w.Block($"for (int kk = 0; kk < {bk}; kk++)"))
                {
                    w.Line($"float a0 = a[kk * {aStride} + tm], a1 = a[kk * {aStride} + tm + 1], a2 = a[kk * {aStride} + tm + 2], a3 = a[kk * {aStride} + tm + 3];");
                    w.Line($"float b0 = b[kk * {bStride} + tn], b1 = b[kk * {bStride} + tn + 1], b2 = b[kk * {bStride} + tn + 2], b3 = b[kk * {bStride} + tn + 3];");
                    for (int i = 0; i < 4; i++)
                    {
                        w.Line($"c{i}0 += a{i} * b0; c{i}1 += a{i} * b1; c{i}2 += a{i} * b2; c{i}3 += a{i} * b3;");
                    }
                }

                w.Line("global::ILGPU.Group.Barrier();");
            }

            w.Line("int mt = m0 + tm, nt = n0 + tn;");
            bool wholeColumns = t.Columns % bn == 0;
            for (int i = 0; i < 4; i++)
            {
                for (int j = 0; j < 4; j++)
                {
                    string m = i == 0 ? "mt" : $"mt + {i}", n = j == 0 ? "nt" : $"nt + {j}";
                    string check = wholeColumns ? $"{m} < rows" : $"{m} < rows && {n} < {t.Columns}";
                    w.Line($"if ({check}) {name}_Store(arena, step, {m}, {n}, c{i}{j});");
                }
            }
        }

        w.Line();
        DeviceFunction(w, $"A({t.Rows} x {t.Depth}) of {name}Tiled", $"private static float {name}_A(global::ILGPU.ArrayView<float> arena, global::NetDsl.Gpu.GpuStep step, int m, int k)", t.A);
        DeviceFunction(w, $"B({t.Depth} x {t.Columns}) of {name}Tiled", $"private static float {name}_B(global::ILGPU.ArrayView<float> arena, global::NetDsl.Gpu.GpuStep step, int k, int n)", t.B);
        DeviceFunction(w, $"The epilogue of {name}Tiled: C's element (m, n) from its sum", $"private static void {name}_Store(global::ILGPU.ArrayView<float> arena, global::NetDsl.Gpu.GpuStep step, int m, int n, float acc)", t.Store);
    }

    private static void DeviceFunction(SourceWriter w, string summary, string signature, IReadOnlyList<string> body)
    {
        w.Line($"/// <summary>{EscapeXml(summary)}.</summary>");
        w.Line(Inline);
        using (w.Block(signature))
        {
            foreach (var line in body)
            {
                w.Line(line);
            }
        }

        w.Line();
    }

    /// <summary>The launch of a kernel with a tiled form: the tiled form when the device runs tiles, else one thread per element.</summary>
    private static IEnumerable<string> TiledLaunch(GpuKernel kernel)
    {
        var t = kernel.Tiled!;
        yield return $"if (base.Tiled) base.LaunchTiles(T_{kernel.Name}Tiled, {t.HostRows}, {TiledProduct.TileRows}, {t.ColumnTiles}, {t.Slices}, {t.Threads});";
        yield return $"else base.Launch(K_{kernel.Name}, {Extent(kernel.Extent)});";
    }
}

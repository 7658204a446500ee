using System.Runtime.CompilerServices;

namespace NetDsl.Kernels;

/// <summary>One register tile's share of the weight gradient's reduction (see <see cref="ConvWeightGradientKernels{TS, TV, TShape}"/>).</summary>
internal unsafe struct ConvWeightGradientTask
{
    /// <summary>dw at the tile's first row and first filter.</summary>
    public float* Dw;

    /// <summary>x of the sample, shifted so that output pixel (oh, ow) reads row r of the tile at <c>X + (oh*SH*W + ow*SW)*C + offset(r)</c>.</summary>
    public float* X;

    /// <summary>dy of the sample at the tile's first filter.</summary>
    public float* Dy;

    /// <summary>Output rows [OhA, OhB) and columns [OwA, OwB) to reduce over.</summary>
    public int OhA, OhB, OwA, OwB;

    /// <summary>Valid lanes of the tile's last vector.</summary>
    public int Valid;
}

/// <summary>
/// The weight gradient <c>dw = sum over pixels of patch(x) (x) dy</c> for one SIMD width and shape. The output
/// rows k = (kh, kw, c) are tiled by up to 12 consecutive rows (6 below 512-bit vectors) x 2 vectors of filters
/// (24 accumulators), the rows of a tile lying in one kernel row's contiguous run of KW*C inputs (or, when that run
/// is short, spanning several whole kernel rows); each tile reduces over the pixels of a sample in blocks of output
/// rows, every tile of the part visiting a block while it is in cache (the accumulators are reloaded from dw once
/// per block). Per pixel a 12 x 2 tile does 2 vector loads of dy, 12 broadcasts of x and 24 FMAs; the 12 x values of
/// a pixel are contiguous in NHWC (or a constant distance apart across kernel rows), so every address is a register
/// plus a constant. Padding: a tile first reduces over the pixels where all its rows read inside the image, then
/// each row adds its remaining (edge) pixels in a simple loop. Parts own disjoint (tile, filter block) items.
/// </summary>
internal static unsafe class ConvWeightGradientKernels<TS, TV, TShape>
    where TS : ISimd<TV>
    where TV : struct
    where TShape : IConvShape
{
    /// <summary>
    /// Pixels per reduction block (rounded down to whole output rows): a block's dy and input rows stay in L2 while
    /// every tile of the part visits it; on the reference conv2, 512 (a sample of 24x24 pixels: 21 rows) measured
    /// 92-94% of peak against 90% for 160 and 82% for 48 (more accumulator reloads).
    /// </summary>
    private const int BlockPixels = 512;

    private static int MaxRows2 => TS.Count >= 16 ? 12 : 6;

    private const int MaxRows1 = 12;

    private static int RunLen => TShape.KW * TShape.InC;

    /// <summary>Part <paramref name="part"/> of dw.</summary>
    public static void Run(float* x, float* dy, float* dw, int samples, int part, int parts)
    {
        int f = TShape.Filters, vl = TS.Count;
        int blocks2 = (f + (2 * vl) - 1) / (2 * vl);
        Plan plan = new(MaxRows2);
        int items = plan.Tiles * blocks2;

        // Few items that do not divide evenly among the parts (e.g. the first layer of a CNN: 9 x 32 weights, one
        // tile) are split further: one vector of filters per item, then tiles of fewer rows, until they do (or are
        // many enough for the imbalance to be small).
        bool two = Balanced(items, parts);
        if (!two)
        {
            int blocks1 = (f + vl - 1) / vl;
            for (int maxRows = MaxRows1; maxRows >= 1; maxRows--)
            {
                plan = new Plan(maxRows);
                items = plan.Tiles * blocks1;
                if (Balanced(items, parts))
                {
                    break;
                }
            }
        }

        int first = (int)((long)items * part / parts), end = (int)((long)items * (part + 1) / parts);
        if (first >= end)
        {
            return;
        }

        for (var it = new Item(plan, two, first); it.Index < end; it.Next())
        {
            for (int r = 0; r < it.Rows; r++)
            {
                float* row = dw + ((long)(it.K0 + r) * f) + it.F0;
                ConvSimd.Store<TS, TV>(row, TS.Zero, Math.Min(vl, it.Valid + ((it.Vectors - 1) * vl)));
                if (it.Vectors == 2)
                {
                    ConvSimd.Store<TS, TV>(row + vl, TS.Zero, it.Valid);
                }
            }
        }

        int oh = TShape.OutH, ow = TShape.OutW;
        int blockRows = Math.Max(1, BlockPixels / ow);
        long xImage = (long)TShape.InH * TShape.InW * TShape.InC, dyImage = (long)oh * ow * f;
        ConvWeightGradientTask task = default;
        for (int n = 0; n < samples; n++)
        {
            float* xs = x + (n * xImage);
            float* dys = dy + (n * dyImage);
            for (int b0 = 0; b0 < oh; b0 += blockRows)
            {
                int b1 = Math.Min(oh, b0 + blockRows);
                for (var it = new Item(plan, two, first); it.Index < end; it.Next())
                {
                    task.OhA = Math.Max(b0, OhLo(it.Kh0));
                    task.OhB = Math.Min(b1, OhHi(it.Kh0 + it.Th - 1));
                    task.OwA = OwLo(it.KwA);
                    task.OwB = OwHi(it.KwB);
                    if (task.OhA >= task.OhB || task.OwA >= task.OwB)
                    {
                        continue;
                    }

                    task.Dw = dw + ((long)it.K0 * f) + it.F0;
                    task.X = xs + ((((long)(it.Kh0 - TShape.PadTop) * TShape.InW) - TShape.PadLeft) * TShape.InC) + it.J0;
                    task.Dy = dys + it.F0;
                    task.Valid = it.Valid;
                    Dispatch(it.Tj, it.Th, it.Vectors, in task);
                }
            }
        }

        if (TShape.PadTop == 0 && TShape.PadLeft == 0 && (TShape.OutH - 1) * TShape.StrideH + TShape.KH <= TShape.InH
            && (TShape.OutW - 1) * TShape.StrideW + TShape.KW <= TShape.InW)
        {
            return; // no padding: every pixel was interior to every tile
        }

        for (var it = new Item(plan, two, first); it.Index < end; it.Next())
        {
            int ohLoI = OhLo(it.Kh0), ohHiI = OhHi(it.Kh0 + it.Th - 1), owLoI = OwLo(it.KwA), owHiI = OwHi(it.KwB);
            if (ohLoI >= ohHiI || owLoI >= owHiI)
            {
                ohLoI = ohHiI = owLoI = owHiI = 0;
            }

            for (int r = 0; r < it.Rows; r++)
            {
                int kh = it.Kh0 + (r / it.Tj);
                int j = it.J0 + (r % it.Tj);
                int kw = j / TShape.InC, c = j - (kw * TShape.InC);
                int ohLo = OhLo(kh), ohHi = OhHi(kh), owLo = OwLo(kw), owHi = OwHi(kw);
                if (ohLo == ohLoI && ohHi == ohHiI && owLo == owLoI && owHi == owHiI)
                {
                    continue;
                }

                EdgeRow(dw + ((long)(it.K0 + r) * f) + it.F0, x, dy + it.F0, samples, kh, kw, c,
                    ohLo, ohHi, owLo, owHi, ohLoI, ohHiI, owLoI, owHiI, it.Vectors, it.Valid);
            }
        }
    }

    /// <summary>Whether <paramref name="items"/> equal items split among the parts within 1/8 of the ideal.</summary>
    private static bool Balanced(int items, int parts) => items % parts == 0 || items >= 8 * parts;

    /// <summary>First output row whose kernel row <paramref name="kh"/> reads inside the image.</summary>
    private static int OhLo(int kh)
    {
        int t = TShape.PadTop - kh;
        return t <= 0 ? 0 : Math.Min(TShape.OutH, (t + TShape.StrideH - 1) / TShape.StrideH);
    }

    /// <summary>One past the last output row whose kernel row <paramref name="kh"/> reads inside the image.</summary>
    private static int OhHi(int kh)
    {
        int t = TShape.InH - 1 + TShape.PadTop - kh;
        return t < 0 ? 0 : Math.Min(TShape.OutH, (t / TShape.StrideH) + 1);
    }

    private static int OwLo(int kw)
    {
        int t = TShape.PadLeft - kw;
        return t <= 0 ? 0 : Math.Min(TShape.OutW, (t + TShape.StrideW - 1) / TShape.StrideW);
    }

    private static int OwHi(int kw)
    {
        int t = TShape.InW - 1 + TShape.PadLeft - kw;
        return t < 0 ? 0 : Math.Min(TShape.OutW, (t / TShape.StrideW) + 1);
    }

    /// <summary>
    /// Adds to one row of dw its products over the pixels of [ohLo, ohHi) x [owLo, owHi) outside the interior
    /// rectangle (which its tile already reduced over).
    /// </summary>
    private static void EdgeRow(float* dwRow, float* x, float* dy, int samples, int kh, int kw, int c,
        int ohLo, int ohHi, int owLo, int owHi, int ohLoI, int ohHiI, int owLoI, int owHiI, int vectors, int valid)
    {
        int vl = TS.Count, f = TShape.Filters;
        TV acc0 = TS.Zero, acc1 = TS.Zero;
        long xImage = (long)TShape.InH * TShape.InW * TShape.InC, dyImage = (long)TShape.OutH * TShape.OutW * f;
        for (int n = 0; n < samples; n++)
        {
            for (int oh = ohLo; oh < ohHi; oh++)
            {
                float* xr = x + (n * xImage) + ((((long)((oh * TShape.StrideH) - TShape.PadTop + kh) * TShape.InW) - TShape.PadLeft + kw) * TShape.InC) + c;
                float* dr = dy + (n * dyImage) + ((long)oh * TShape.OutW * f);
                bool inside = oh >= ohLoI && oh < ohHiI;
                for (int ow = owLo; ow < owHi; ow++)
                {
                    if (inside && ow >= owLoI && ow < owHiI)
                    {
                        ow = owHiI - 1;
                        continue;
                    }

                    TV xv = TS.Broadcast(xr[(long)ow * TShape.StrideW * TShape.InC]);
                    acc0 = TS.Fma(xv, TS.Load(dr + ((long)ow * f)), acc0);
                    if (vectors == 2)
                    {
                        acc1 = TS.Fma(xv, TS.Load(dr + ((long)ow * f) + vl), acc1);
                    }
                }
            }
        }

        if (vectors == 2)
        {
            TS.Store(dwRow, TS.Add(TS.Load(dwRow), acc0));
            ConvSimd.Store<TS, TV>(dwRow + vl, TS.Add(TS.Load(dwRow + vl), acc1), valid);
        }
        else
        {
            ConvSimd.Store<TS, TV>(dwRow, TS.Add(TS.Load(dwRow), acc0), valid);
        }
    }

    /// <summary>
    /// How the KH*KW*C rows of dw are cut into tiles: kernel rows in <c>Groups</c> groups (of <c>ThBase</c> or
    /// <c>ThBase</c> + 1 rows, the first <c>ThExtra</c> larger), each kernel row's run of KW*C in <c>Runs</c> pieces
    /// (of <c>TjBase</c> or + 1). A tile spans several kernel rows only when it covers their whole runs.
    /// </summary>
    private readonly struct Plan
    {
        public readonly int Groups, ThBase, ThExtra, Runs, TjBase, TjExtra;

        public Plan(int maxRows)
        {
            int run = RunLen, kh = TShape.KH;
            if (run <= maxRows)
            {
                int th = Math.Min(kh, maxRows / run);
                Groups = (kh + th - 1) / th;
                ThBase = kh / Groups;
                ThExtra = kh % Groups;
                Runs = 1;
                TjBase = run;
                TjExtra = 0;
            }
            else
            {
                Groups = kh;
                ThBase = 1;
                ThExtra = 0;
                Runs = (run + maxRows - 1) / maxRows;
                TjBase = run / Runs;
                TjExtra = run % Runs;
            }
        }

        public int Tiles => Groups * Runs;
    }

    /// <summary>A cursor over the work items (tile, filter block), in order.</summary>
    private struct Item
    {
        private readonly Plan _plan;
        private readonly bool _two;
        private readonly int _blocks;
        private int _group, _run, _block;

        public Item(Plan plan, bool two, int index)
        {
            _plan = plan;
            _two = two;
            int vl = TS.Count;
            _blocks = two ? (TShape.Filters + (2 * vl) - 1) / (2 * vl) : (TShape.Filters + vl - 1) / vl;
            Index = index;
            int tile = index / _blocks;
            _block = index - (tile * _blocks);
            _group = tile / plan.Runs;
            _run = tile - (_group * plan.Runs);
            Update();
        }

        public int Index { get; private set; }

        public int Kh0 { get; private set; }

        public int Th { get; private set; }

        public int J0 { get; private set; }

        public int Tj { get; private set; }

        public readonly int Rows => Th * Tj;

        public readonly int K0 => (Kh0 * RunLen) + J0;

        public readonly int KwA => J0 / TShape.InC;

        public readonly int KwB => (J0 + Tj - 1) / TShape.InC;

        public int F0 { get; private set; }

        public int Vectors { get; private set; }

        /// <summary>Valid lanes of the last vector.</summary>
        public int Valid { get; private set; }

        public void Next()
        {
            Index++;
            if (++_block == _blocks)
            {
                _block = 0;
                if (++_run == _plan.Runs)
                {
                    _run = 0;
                    _group++;
                }
            }

            Update();
        }

        private void Update()
        {
            int vl = TS.Count, f = TShape.Filters;
            Kh0 = (_group * _plan.ThBase) + Math.Min(_group, _plan.ThExtra);
            Th = _plan.ThBase + (_group < _plan.ThExtra ? 1 : 0);
            J0 = (_run * _plan.TjBase) + Math.Min(_run, _plan.TjExtra);
            Tj = _plan.TjBase + (_run < _plan.TjExtra ? 1 : 0);
            if (_two)
            {
                F0 = _block * 2 * vl;
                int rest = f - F0;
                Vectors = rest > vl ? 2 : 1;
                Valid = rest > vl ? Math.Min(vl, rest - vl) : rest;
            }
            else
            {
                F0 = _block * vl;
                Vectors = 1;
                Valid = Math.Min(vl, f - F0);
            }
        }
    }

    private static void Dispatch(int tj, int th, int vectors, in ConvWeightGradientTask task)
    {
        switch (tj)
        {
            case 1:
                Dispatch<ConvN1>(th, vectors, in task);
                break;
            case 2:
                Dispatch<ConvN2>(th, vectors, in task);
                break;
            case 3:
                Dispatch<ConvN3>(th, vectors, in task);
                break;
            case 4:
                Dispatch<ConvN4>(th, vectors, in task);
                break;
            case 5:
                Dispatch<ConvN5>(th, vectors, in task);
                break;
            case 6:
                Dispatch<ConvN6>(th, vectors, in task);
                break;
            case 7:
                Dispatch<ConvN7>(th, vectors, in task);
                break;
            case 8:
                Dispatch<ConvN8>(th, vectors, in task);
                break;
            case 9:
                Dispatch<ConvN9>(th, vectors, in task);
                break;
            case 10:
                Dispatch<ConvN10>(th, vectors, in task);
                break;
            case 11:
                Dispatch<ConvN11>(th, vectors, in task);
                break;
            case 12:
                Dispatch<ConvN12>(th, vectors, in task);
                break;
        }
    }

    private static void Dispatch<TJ>(int th, int vectors, in ConvWeightGradientTask task)
        where TJ : IConvCount
    {
        switch (th)
        {
            case 1:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN1>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN1>(in task);
                }

                break;
            case 2:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN2>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN2>(in task);
                }

                break;
            case 3:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN3>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN3>(in task);
                }

                break;
            case 4:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN4>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN4>(in task);
                }

                break;
            case 5:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN5>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN5>(in task);
                }

                break;
            case 6:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN6>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN6>(in task);
                }

                break;
            case 7:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN7>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN7>(in task);
                }

                break;
            case 8:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN8>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN8>(in task);
                }

                break;
            case 9:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN9>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN9>(in task);
                }

                break;
            case 10:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN10>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN10>(in task);
                }

                break;
            case 11:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN11>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN11>(in task);
                }

                break;
            case 12:
                if (vectors == 2)
                {
                    Tile2<TJ, ConvN12>(in task);
                }
                else
                {
                    Tile1<TJ, ConvN12>(in task);
                }

                break;
        }
    }

    /// <summary>A tile of <typeparamref name="TH"/> kernel rows x <typeparamref name="TJ"/> run positions x 2 vectors of filters.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile2<TJ, TH>(in ConvWeightGradientTask task)
        where TJ : IConvCount
        where TH : IConvCount
    {
        int tj = TJ.Value, rows = TJ.Value * TH.Value, vl = TS.Count, f = TShape.Filters;
        int tap = TShape.InW * TShape.InC;
        int step = TShape.StrideW * TShape.InC;
        float* dw = task.Dw;
        TV c00 = rows > 0 ? TS.Load(dw + (0 * f)) : TS.Zero, c01 = rows > 0 ? TS.Load(dw + (0 * f) + vl) : TS.Zero;
        TV c10 = rows > 1 ? TS.Load(dw + (1 * f)) : TS.Zero, c11 = rows > 1 ? TS.Load(dw + (1 * f) + vl) : TS.Zero;
        TV c20 = rows > 2 ? TS.Load(dw + (2 * f)) : TS.Zero, c21 = rows > 2 ? TS.Load(dw + (2 * f) + vl) : TS.Zero;
        TV c30 = rows > 3 ? TS.Load(dw + (3 * f)) : TS.Zero, c31 = rows > 3 ? TS.Load(dw + (3 * f) + vl) : TS.Zero;
        TV c40 = rows > 4 ? TS.Load(dw + (4 * f)) : TS.Zero, c41 = rows > 4 ? TS.Load(dw + (4 * f) + vl) : TS.Zero;
        TV c50 = rows > 5 ? TS.Load(dw + (5 * f)) : TS.Zero, c51 = rows > 5 ? TS.Load(dw + (5 * f) + vl) : TS.Zero;
        TV c60 = rows > 6 ? TS.Load(dw + (6 * f)) : TS.Zero, c61 = rows > 6 ? TS.Load(dw + (6 * f) + vl) : TS.Zero;
        TV c70 = rows > 7 ? TS.Load(dw + (7 * f)) : TS.Zero, c71 = rows > 7 ? TS.Load(dw + (7 * f) + vl) : TS.Zero;
        TV c80 = rows > 8 ? TS.Load(dw + (8 * f)) : TS.Zero, c81 = rows > 8 ? TS.Load(dw + (8 * f) + vl) : TS.Zero;
        TV c90 = rows > 9 ? TS.Load(dw + (9 * f)) : TS.Zero, c91 = rows > 9 ? TS.Load(dw + (9 * f) + vl) : TS.Zero;
        TV c100 = rows > 10 ? TS.Load(dw + (10 * f)) : TS.Zero, c101 = rows > 10 ? TS.Load(dw + (10 * f) + vl) : TS.Zero;
        TV c110 = rows > 11 ? TS.Load(dw + (11 * f)) : TS.Zero, c111 = rows > 11 ? TS.Load(dw + (11 * f) + vl) : TS.Zero;
        for (int oh = task.OhA; oh < task.OhB; oh++)
        {
            float* a = task.X + ((((long)oh * TShape.StrideH * TShape.InW) + ((long)task.OwA * TShape.StrideW)) * TShape.InC);
            float* d = task.Dy + ((((long)oh * TShape.OutW) + task.OwA) * f);
            float* dEnd = d + ((long)(task.OwB - task.OwA) * f);
            while (d < dEnd)
            {
                TV d0 = TS.Load(d);
                TV d1 = TS.Load(d + vl);
                TV x0 = TS.Broadcast(a[0]);
                c00 = TS.Fma(x0, d0, c00);
                c01 = TS.Fma(x0, d1, c01);

                if (rows > 1)
                {
                    TV x1 = TS.Broadcast(a[(((1 / tj) * tap) + (1 % tj))]);
                    c10 = TS.Fma(x1, d0, c10);
                    c11 = TS.Fma(x1, d1, c11);
                }

                if (rows > 2)
                {
                    TV x2 = TS.Broadcast(a[(((2 / tj) * tap) + (2 % tj))]);
                    c20 = TS.Fma(x2, d0, c20);
                    c21 = TS.Fma(x2, d1, c21);
                }

                if (rows > 3)
                {
                    TV x3 = TS.Broadcast(a[(((3 / tj) * tap) + (3 % tj))]);
                    c30 = TS.Fma(x3, d0, c30);
                    c31 = TS.Fma(x3, d1, c31);
                }

                if (rows > 4)
                {
                    TV x4 = TS.Broadcast(a[(((4 / tj) * tap) + (4 % tj))]);
                    c40 = TS.Fma(x4, d0, c40);
                    c41 = TS.Fma(x4, d1, c41);
                }

                if (rows > 5)
                {
                    TV x5 = TS.Broadcast(a[(((5 / tj) * tap) + (5 % tj))]);
                    c50 = TS.Fma(x5, d0, c50);
                    c51 = TS.Fma(x5, d1, c51);
                }

                if (rows > 6)
                {
                    TV x6 = TS.Broadcast(a[(((6 / tj) * tap) + (6 % tj))]);
                    c60 = TS.Fma(x6, d0, c60);
                    c61 = TS.Fma(x6, d1, c61);
                }

                if (rows > 7)
                {
                    TV x7 = TS.Broadcast(a[(((7 / tj) * tap) + (7 % tj))]);
                    c70 = TS.Fma(x7, d0, c70);
                    c71 = TS.Fma(x7, d1, c71);
                }

                if (rows > 8)
                {
                    TV x8 = TS.Broadcast(a[(((8 / tj) * tap) + (8 % tj))]);
                    c80 = TS.Fma(x8, d0, c80);
                    c81 = TS.Fma(x8, d1, c81);
                }

                if (rows > 9)
                {
                    TV x9 = TS.Broadcast(a[(((9 / tj) * tap) + (9 % tj))]);
                    c90 = TS.Fma(x9, d0, c90);
                    c91 = TS.Fma(x9, d1, c91);
                }

                if (rows > 10)
                {
                    TV x10 = TS.Broadcast(a[(((10 / tj) * tap) + (10 % tj))]);
                    c100 = TS.Fma(x10, d0, c100);
                    c101 = TS.Fma(x10, d1, c101);
                }

                if (rows > 11)
                {
                    TV x11 = TS.Broadcast(a[(((11 / tj) * tap) + (11 % tj))]);
                    c110 = TS.Fma(x11, d0, c110);
                    c111 = TS.Fma(x11, d1, c111);
                }

                a += step;
                d += f;
            }
        }

        TS.Store(dw + (0 * f), c00);
        ConvSimd.Store<TS, TV>(dw + (0 * f) + vl, c01, task.Valid);

        if (rows > 1)
        {
            TS.Store(dw + (1 * f), c10);
            ConvSimd.Store<TS, TV>(dw + (1 * f) + vl, c11, task.Valid);
        }

        if (rows > 2)
        {
            TS.Store(dw + (2 * f), c20);
            ConvSimd.Store<TS, TV>(dw + (2 * f) + vl, c21, task.Valid);
        }

        if (rows > 3)
        {
            TS.Store(dw + (3 * f), c30);
            ConvSimd.Store<TS, TV>(dw + (3 * f) + vl, c31, task.Valid);
        }

        if (rows > 4)
        {
            TS.Store(dw + (4 * f), c40);
            ConvSimd.Store<TS, TV>(dw + (4 * f) + vl, c41, task.Valid);
        }

        if (rows > 5)
        {
            TS.Store(dw + (5 * f), c50);
            ConvSimd.Store<TS, TV>(dw + (5 * f) + vl, c51, task.Valid);
        }

        if (rows > 6)
        {
            TS.Store(dw + (6 * f), c60);
            ConvSimd.Store<TS, TV>(dw + (6 * f) + vl, c61, task.Valid);
        }

        if (rows > 7)
        {
            TS.Store(dw + (7 * f), c70);
            ConvSimd.Store<TS, TV>(dw + (7 * f) + vl, c71, task.Valid);
        }

        if (rows > 8)
        {
            TS.Store(dw + (8 * f), c80);
            ConvSimd.Store<TS, TV>(dw + (8 * f) + vl, c81, task.Valid);
        }

        if (rows > 9)
        {
            TS.Store(dw + (9 * f), c90);
            ConvSimd.Store<TS, TV>(dw + (9 * f) + vl, c91, task.Valid);
        }

        if (rows > 10)
        {
            TS.Store(dw + (10 * f), c100);
            ConvSimd.Store<TS, TV>(dw + (10 * f) + vl, c101, task.Valid);
        }

        if (rows > 11)
        {
            TS.Store(dw + (11 * f), c110);
            ConvSimd.Store<TS, TV>(dw + (11 * f) + vl, c111, task.Valid);
        }
    }

    /// <summary>A tile of <typeparamref name="TH"/> kernel rows x <typeparamref name="TJ"/> run positions x 1 vector of filters.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1<TJ, TH>(in ConvWeightGradientTask task)
        where TJ : IConvCount
        where TH : IConvCount
    {
        int tj = TJ.Value, rows = TJ.Value * TH.Value, f = TShape.Filters;
        int tap = TShape.InW * TShape.InC;
        int step = TShape.StrideW * TShape.InC;
        float* dw = task.Dw;
        TV c0 = rows > 0 ? TS.Load(dw + (0 * f)) : TS.Zero;
        TV c1 = rows > 1 ? TS.Load(dw + (1 * f)) : TS.Zero;
        TV c2 = rows > 2 ? TS.Load(dw + (2 * f)) : TS.Zero;
        TV c3 = rows > 3 ? TS.Load(dw + (3 * f)) : TS.Zero;
        TV c4 = rows > 4 ? TS.Load(dw + (4 * f)) : TS.Zero;
        TV c5 = rows > 5 ? TS.Load(dw + (5 * f)) : TS.Zero;
        TV c6 = rows > 6 ? TS.Load(dw + (6 * f)) : TS.Zero;
        TV c7 = rows > 7 ? TS.Load(dw + (7 * f)) : TS.Zero;
        TV c8 = rows > 8 ? TS.Load(dw + (8 * f)) : TS.Zero;
        TV c9 = rows > 9 ? TS.Load(dw + (9 * f)) : TS.Zero;
        TV c10 = rows > 10 ? TS.Load(dw + (10 * f)) : TS.Zero;
        TV c11 = rows > 11 ? TS.Load(dw + (11 * f)) : TS.Zero;
        for (int oh = task.OhA; oh < task.OhB; oh++)
        {
            float* a = task.X + ((((long)oh * TShape.StrideH * TShape.InW) + ((long)task.OwA * TShape.StrideW)) * TShape.InC);
            float* d = task.Dy + ((((long)oh * TShape.OutW) + task.OwA) * f);
            float* dEnd = d + ((long)(task.OwB - task.OwA) * f);
            while (d < dEnd)
            {
                TV d0 = TS.Load(d);
                c0 = TS.Fma(TS.Broadcast(a[0]), d0, c0);

                if (rows > 1)
                {
                    c1 = TS.Fma(TS.Broadcast(a[(((1 / tj) * tap) + (1 % tj))]), d0, c1);
                }

                if (rows > 2)
                {
                    c2 = TS.Fma(TS.Broadcast(a[(((2 / tj) * tap) + (2 % tj))]), d0, c2);
                }

                if (rows > 3)
                {
                    c3 = TS.Fma(TS.Broadcast(a[(((3 / tj) * tap) + (3 % tj))]), d0, c3);
                }

                if (rows > 4)
                {
                    c4 = TS.Fma(TS.Broadcast(a[(((4 / tj) * tap) + (4 % tj))]), d0, c4);
                }

                if (rows > 5)
                {
                    c5 = TS.Fma(TS.Broadcast(a[(((5 / tj) * tap) + (5 % tj))]), d0, c5);
                }

                if (rows > 6)
                {
                    c6 = TS.Fma(TS.Broadcast(a[(((6 / tj) * tap) + (6 % tj))]), d0, c6);
                }

                if (rows > 7)
                {
                    c7 = TS.Fma(TS.Broadcast(a[(((7 / tj) * tap) + (7 % tj))]), d0, c7);
                }

                if (rows > 8)
                {
                    c8 = TS.Fma(TS.Broadcast(a[(((8 / tj) * tap) + (8 % tj))]), d0, c8);
                }

                if (rows > 9)
                {
                    c9 = TS.Fma(TS.Broadcast(a[(((9 / tj) * tap) + (9 % tj))]), d0, c9);
                }

                if (rows > 10)
                {
                    c10 = TS.Fma(TS.Broadcast(a[(((10 / tj) * tap) + (10 % tj))]), d0, c10);
                }

                if (rows > 11)
                {
                    c11 = TS.Fma(TS.Broadcast(a[(((11 / tj) * tap) + (11 % tj))]), d0, c11);
                }

                a += step;
                d += f;
            }
        }

        ConvSimd.Store<TS, TV>(dw + (0 * f), c0, task.Valid);

        if (rows > 1)
        {
            ConvSimd.Store<TS, TV>(dw + (1 * f), c1, task.Valid);
        }

        if (rows > 2)
        {
            ConvSimd.Store<TS, TV>(dw + (2 * f), c2, task.Valid);
        }

        if (rows > 3)
        {
            ConvSimd.Store<TS, TV>(dw + (3 * f), c3, task.Valid);
        }

        if (rows > 4)
        {
            ConvSimd.Store<TS, TV>(dw + (4 * f), c4, task.Valid);
        }

        if (rows > 5)
        {
            ConvSimd.Store<TS, TV>(dw + (5 * f), c5, task.Valid);
        }

        if (rows > 6)
        {
            ConvSimd.Store<TS, TV>(dw + (6 * f), c6, task.Valid);
        }

        if (rows > 7)
        {
            ConvSimd.Store<TS, TV>(dw + (7 * f), c7, task.Valid);
        }

        if (rows > 8)
        {
            ConvSimd.Store<TS, TV>(dw + (8 * f), c8, task.Valid);
        }

        if (rows > 9)
        {
            ConvSimd.Store<TS, TV>(dw + (9 * f), c9, task.Valid);
        }

        if (rows > 10)
        {
            ConvSimd.Store<TS, TV>(dw + (10 * f), c10, task.Valid);
        }

        if (rows > 11)
        {
            ConvSimd.Store<TS, TV>(dw + (11 * f), c11, task.Valid);
        }
    }
}

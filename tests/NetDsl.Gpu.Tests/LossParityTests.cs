using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using NetDsl.Kernels;
using Xunit.Abstractions;

namespace NetDsl.Gpu.Tests;

/// <summary>The rows a parity kernel works on: every kind and offset as a value (the generated kernels have literals).</summary>
public struct RowArgs
{
    public int Loss, Activation, Cols, Signed;
    public long Z, Y, G, T, L;
    public float Scale;
}

/// <summary>One CPU accelerator and its compiled parity kernels, shared by the tests of the class.</summary>
public sealed class LossKernels : IDisposable
{
    public LossKernels()
    {
        Device = GpuDevice.CreateCpuAccelerator(2);
        var a = Device.Accelerator;
        Dense = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, RowArgs>(DenseKernel);
        Sparse = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, RowArgs>(SparseKernel);
        Output = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, RowArgs>(OutputKernel);
        Backward = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, RowArgs>(BackwardKernel);
        SparseSoftmax10 = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, GpuStep>(LiteralSparseSoftmax10);
        MseTanh3 = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, GpuStep>(LiteralMseTanh3);
    }

    public GpuDevice Device { get; }
    public Action<Index1D, ArrayView<float>, RowArgs> Dense { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<int>, RowArgs> Sparse { get; }
    public Action<Index1D, ArrayView<float>, RowArgs> Output { get; }
    public Action<Index1D, ArrayView<float>, RowArgs> Backward { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<int>, GpuStep> SparseSoftmax10 { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<int>, GpuStep> MseTanh3 { get; }

    public void Dispose() => Device.Dispose();

    private static void DenseKernel(Index1D r, ArrayView<float> arena, RowArgs a)
    {
        long o = (long)r.X * a.Cols;
        arena[a.L + r.X] = GpuLoss.Row(arena, a.Loss, a.Activation, a.Z + o, a.Y + o, a.G + o, a.T + o, a.Cols, a.Scale, a.Signed != 0);
    }

    private static void SparseKernel(Index1D r, ArrayView<float> arena, ArrayView<int> labels, RowArgs a)
    {
        long o = (long)r.X * a.Cols;
        arena[a.L + r.X] = GpuLoss.SparseRow(arena, a.Activation, a.Z + o, a.Y + o, a.G + o, labels[r], a.Cols, a.Scale);
    }

    private static void OutputKernel(Index1D r, ArrayView<float> arena, RowArgs a)
    {
        long o = (long)r.X * a.Cols;
        GpuActivation.OutputRow(arena, a.Activation, a.Z + o, a.Y + o, a.Cols);
    }

    private static void BackwardKernel(Index1D r, ArrayView<float> arena, RowArgs a)
    {
        long o = (long)r.X * a.Cols;
        GpuActivation.BackwardRow(arena, a.Activation, a.G + o, a.Y + o, a.Cols);
    }

    // As the generator emits them: literal kinds, widths and offsets (buffers at constant multiples of the capacity).
    private static void LiteralSparseSoftmax10(Index1D r, ArrayView<float> arena, ArrayView<int> labels, GpuStep step)
    {
        if (r.X >= step.Rows)
        {
            return;
        }

        long o = (long)r.X * 10;
        long cap = step.Capacity;
        arena[4 * cap * 10 + r.X] = GpuLoss.SparseRow(arena, 4, 0 + o, cap * 10 + o, 2 * cap * 10 + o, labels[r], 10, 1f / step.Rows);
    }

    private static void LiteralMseTanh3(Index1D r, ArrayView<float> arena, ArrayView<int> labels, GpuStep step)
    {
        if (r.X >= step.Rows)
        {
            return;
        }

        long o = (long)r.X * 3;
        long cap = step.Capacity;
        arena[4 * cap * 3 + r.X] = GpuLoss.Row(arena, 3, 3, 0 + o, cap * 3 + o, 2 * cap * 3 + o, 3 * cap * 3 + o, 3, 1f / step.Rows, false);
    }
}

/// <summary>
/// The device functions of <see cref="GpuLoss"/> and <see cref="GpuActivation"/>, run in ILGPU kernels on the CPU
/// accelerator (one thread per row), against the CPU kernels (<see cref="Losses"/>, <see cref="RowKernels"/>,
/// <see cref="Elementwise"/>) for every (loss, head activation) pair the generator can produce.
/// </summary>
/// <remarks>
/// Tolerance: <c>|gpu - cpu| &lt;= 1e-5 |cpu| + 1e-6</c> per output, gradient and row loss. The two compute the same
/// formulas but round differently: the CPU evaluates exp/log in its vector paths with .NET's vectorised
/// approximations (a few ulps from MathF's), sums rows in vector lanes (and dot products and categorical losses in
/// double), the GPU sums sequentially in float. Each value is a sum of at most 17 terms of a few roundings each,
/// so differences stay near 10-20 ulps (about 1e-6 relative) of the largest term, and gradients after a softmax inherit
/// the cancellation of <c>g - sum(g y)</c> at the scale of that sum (the 1e-6 floor, gradients here are at most ~1).
/// Measured (each test prints its worst): at most 22% of the tolerance (MAPE + Sigmoid gradient, 3.9e-6 relative);
/// the largest relative error, 1.5e-5, is a tanh output near 0 (2.4e-7 absolute, inside the floor). A
/// wrong formula, epsilon, clip, branch or scale errs by 1e-3 relative or more.
/// </remarks>
public sealed class LossParityTests(LossKernels kernels, ITestOutputHelper output) : IClassFixture<LossKernels>
{
    private const int Rows = 9;
    private const float Relative = 1e-5f, Absolute = 1e-6f;
    private static readonly int[] Widths = [1, 3, 10, 17];

    private static readonly string[] LossNames =
    [
        "SparseCategoricalCrossEntropy", "CategoricalCrossEntropy", "BinaryCrossEntropy", "MeanSquaredError", "MeanAbsoluteError",
        "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Hinge", "SquaredHinge",
    ];

    private static readonly string[] ActNames = ["Linear", "ReLU", "Sigmoid", "Tanh", "Softmax"];

    /// <summary>The (loss, head activation) pairs the generator emits: the Lowerer's headActivation after ShapeInference's pairing rules.</summary>
    public static TheoryData<int, int> AllowedPairs()
    {
        var data = new TheoryData<int, int>
        {
            { GpuLoss.SparseCategoricalCrossEntropy, GpuActivation.Softmax },
            { GpuLoss.CategoricalCrossEntropy, GpuActivation.Softmax },
            { GpuLoss.BinaryCrossEntropy, GpuActivation.Sigmoid },
        };
        foreach (int loss in new[] { GpuLoss.MeanSquaredError, GpuLoss.MeanAbsoluteError, GpuLoss.MeanAbsolutePercentageError })
        {
            for (int act = 0; act <= 4; act++)
            {
                data.Add(loss, act);
            }
        }

        foreach (int act in new[] { GpuActivation.ReLU, GpuActivation.Sigmoid, GpuActivation.Softmax })
        {
            data.Add(GpuLoss.MeanSquaredLogarithmicError, act);
        }

        foreach (int loss in new[] { GpuLoss.Hinge, GpuLoss.SquaredHinge })
        {
            data.Add(loss, GpuActivation.Linear);
            data.Add(loss, GpuActivation.Tanh);
        }

        return data;
    }

    public static TheoryData<int> Activations() => new() { 0, 1, 2, 3, 4 };

    [Theory]
    [MemberData(nameof(AllowedPairs))]
    public void Loss_rows_match_the_cpu_kernel(int loss, int act)
    {
        var worst = new Worst();
        foreach (int cols in Widths)
        {
            if ((act == GpuActivation.Softmax || loss <= GpuLoss.CategoricalCrossEntropy) && cols < 2)
            {
                continue; // ShapeInference: a softmax or a categorical loss over one unit is an error.
            }

            int variants = loss is GpuLoss.Hinge or GpuLoss.SquaredHinge ? 2 : 1;
            for (int variant = 0; variant < variants; variant++)
            {
                foreach (bool alias in new[] { false, true })
                {
                    Compare(loss, act, cols, variant, alias, worst);
                }
            }
        }

        output.WriteLine($"{LossNames[loss]} + {ActNames[act]}: {worst}");
        worst.Assert();
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void Output_rows_and_activation_gradients_match_the_cpu_kernels(int act)
    {
        var worst = new Worst();
        foreach (int cols in Widths)
        {
            if (act == GpuActivation.Softmax && cols < 2)
            {
                continue;
            }

            var random = new Random(1000 * act + cols);
            float[] z = Logits(random, cols);
            float[] dy = Enumerable.Range(0, Rows * cols).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            long size = Arena.Padded((long)Rows * cols);
            using var arena = new Arena(4 * size);
            z.CopyTo(arena.GetSpan(0, z.Length));
            dy.CopyTo(arena.GetSpan(2 * size, dy.Length));

            var args = new RowArgs { Activation = act, Cols = cols, Z = 0, Y = size, G = 2 * size, L = 3 * size };
            float[] gpu = Run(arena, args, launch: (view, a) =>
            {
                kernels.Output(Rows, view, a);
                kernels.Backward(Rows, view, a);
            });

            // CPU: the head's activation through Losses.Activate; the gradient through the same function the hidden
            // layers use (Elementwise) or RowKernels.SoftmaxBackward.
            DispatchActivate(act, arena, 0, size, cols);
            if (act == GpuActivation.Softmax)
            {
                RowKernels.SoftmaxBackward(arena, 2 * size, size, 2 * size, cols, 0, Rows);
            }
            else
            {
                DispatchElementwiseBackward(act, arena, 2 * size, size, Rows * cols);
            }

            string what = $"{ActNames[act]} K={cols}";
            worst.Check(arena.GetSpan(size, Rows * cols), gpu.AsSpan((int)size, Rows * cols), what + " y");
            worst.Check(arena.GetSpan(2 * size, Rows * cols), gpu.AsSpan((int)(2 * size), Rows * cols), what + " dz");

            // The element-wise Forward also matches the hidden layers' kernel.
            if (act != GpuActivation.Softmax)
            {
                DispatchElementwiseForward(act, arena, 0, 3 * size, Rows * cols);
                worst.Check(arena.GetSpan(3 * size, Rows * cols), gpu.AsSpan((int)size, Rows * cols), what + " Elementwise.Forward");
            }
        }

        output.WriteLine($"{ActNames[act]}: {worst}");
        worst.Assert();
    }

    [Fact]
    public void Softmax_row_matches_RowKernels_in_place_and_with_huge_logits()
    {
        var worst = new Worst();
        foreach (int cols in new[] { 2, 10, 17 })
        {
            var random = new Random(cols);
            float[] z = Logits(random, cols);
            long size = Arena.Padded((long)Rows * cols);
            using var arena = new Arena(2 * size);
            z.CopyTo(arena.GetSpan(0, z.Length));
            z.CopyTo(arena.GetSpan(size, z.Length));
            var args = new RowArgs { Activation = GpuActivation.Softmax, Cols = cols, Z = size, Y = size };
            float[] gpu = Run(arena, args, (view, a) => kernels.Output(Rows, view, a)); // in place
            RowKernels.Softmax(arena, 0, 0, cols, 0, Rows);
            worst.Check(arena.GetSpan(0, Rows * cols), gpu.AsSpan((int)size, Rows * cols), $"softmax K={cols}");
            Assert.All(gpu.AsSpan((int)size, Rows * cols).ToArray(), p => Assert.True(float.IsFinite(p) && p >= 0 && p <= 1));
        }

        output.WriteLine(worst.ToString());
        worst.Assert();
    }

    [Fact]
    public void Literal_kernels_as_the_generator_emits_them_match_the_parameterised_ones()
    {
        foreach (var (loss, act, cols) in new[] { (0, 4, 10), (3, 3, 3) })
        {
            var random = new Random(cols);
            int capacity = 16, rows = Rows;
            long size = (long)capacity * cols;
            float[] data = new float[4 * size + capacity];
            Logits(random, cols).CopyTo(data, 0);
            float[] targets = Targets(random, loss, cols, variant: 0, Logits(random, cols));
            targets.CopyTo(data, 3 * size);
            int[] labels = Labels(random, cols);

            float[] literal = RunRaw(data, labels, (view, lab) =>
                (loss == 0 ? kernels.SparseSoftmax10 : kernels.MseTanh3)(capacity, view, lab, new GpuStep { Rows = rows, Capacity = capacity }));
            var args = new RowArgs { Loss = loss, Activation = act, Cols = cols, Z = 0, Y = size, G = 2 * size, T = 3 * size, L = 4 * size, Scale = 1f / rows };
            float[] parameterised = RunRaw(data, labels, (view, lab) =>
            {
                if (loss == 0)
                {
                    kernels.Sparse(rows, view, lab, args);
                }
                else
                {
                    kernels.Dense(rows, view, args);
                }
            });
            Assert.Equal(parameterised, literal);
        }
    }

    private void Compare(int loss, int act, int cols, int variant, bool alias, Worst worst)
    {
        var random = new Random(100 * loss + 10 * act + cols + 1000 * variant);
        float[] z = Logits(random, cols);
        float[] targets = Targets(random, loss, cols, variant, z);
        int[] labels = Labels(random, cols);
        const float scale = 1f / Rows;
        long size = Arena.Padded((long)Rows * cols);
        long zAt = 0, yAt = size, gAt = alias ? 0 : 2 * size, tAt = 3 * size, lAt = 4 * size;
        using var arena = new Arena(4 * size + Arena.Padded(Rows));
        z.CopyTo(arena.GetSpan(zAt, z.Length));
        targets.CopyTo(arena.GetSpan(tAt, targets.Length));

        bool signed = GpuLoss.HasSignedTargets(loss) && GpuLoss.AllZeroOrOne(targets);
        var args = new RowArgs { Loss = loss, Activation = act, Cols = cols, Signed = signed ? 1 : 0, Z = zAt, Y = yAt, G = gAt, T = tAt, L = lAt, Scale = scale };
        float[] gpu = loss == GpuLoss.SparseCategoricalCrossEntropy
            ? RunRaw(ArenaArray(arena), labels, (view, lab) => kernels.Sparse(Rows, view, lab, args))
            : Run(arena, args, (view, a) => kernels.Dense(Rows, view, a));

        // CPU, row by row so each row's loss is compared too.
        var cpuLoss = new float[Rows];
        for (int r = 0; r < Rows; r++)
        {
            cpuLoss[r] = loss == GpuLoss.SparseCategoricalCrossEntropy
                ? DispatchSparse(act, arena, zAt, yAt, gAt, labels, cols, r, scale)
                : DispatchDense(loss, act, arena, zAt, yAt, gAt, targets, cols, r, scale);
        }

        string what = $"{LossNames[loss]}+{ActNames[act]} K={cols}{(variant == 1 ? " ±1 targets" : "")}{(alias ? " g=z" : "")}";
        worst.Check(arena.GetSpan(yAt, Rows * cols), gpu.AsSpan((int)yAt, Rows * cols), what + " y");
        worst.Check(arena.GetSpan(gAt, Rows * cols), gpu.AsSpan((int)gAt, Rows * cols), what + " g");
        worst.Check(cpuLoss, gpu.AsSpan((int)lAt, Rows), what + " loss");
    }

    /// <summary>Seeded logits in [-4, 4], with stress rows: huge ±50, ties, exact 0 and ±1 (kinks), all equal.</summary>
    private static float[] Logits(Random random, int cols)
    {
        var z = new float[Rows * cols];
        for (int i = 0; i < z.Length; i++)
        {
            z[i] = (float)(random.NextDouble() * 8 - 4);
        }

        for (int j = 0; j < cols; j++)
        {
            z[j] = j % 2 == 0 ? 50f : -50f;                // row 0: huge logits
            z[cols + j] = 1.5f;                             // row 1: all tied
            z[2 * cols + j] = (j % 3) - 1f;                 // row 2: exact -1, 0, 1 (ReLU, hinge kinks)
            z[3 * cols + j] = j == cols - 1 ? 50f : -50f;   // row 3: one dominant class at the end
        }

        return z;
    }

    /// <summary>Class labels: the first class, the last, then random.</summary>
    private static int[] Labels(Random random, int cols)
    {
        var labels = new int[Rows];
        for (int r = 0; r < Rows; r++)
        {
            labels[r] = r == 0 ? 0 : r == 1 || r == 3 ? cols - 1 : random.Next(cols);
        }

        return labels;
    }

    private static float[] Targets(Random random, int loss, int cols, int variant, float[] z)
    {
        var t = new float[Rows * cols];
        for (int r = 0; r < Rows; r++)
        {
            var row = t.AsSpan(r * cols, cols);
            switch (loss)
            {
                case GpuLoss.CategoricalCrossEntropy:
                    if (r % 3 == 2)
                    {
                        // Soft targets (not summing to 1), with zeros.
                        for (int j = 0; j < cols; j++)
                        {
                            row[j] = j % 2 == 0 ? (float)random.NextDouble() : 0f;
                        }
                    }
                    else
                    {
                        row[r == 0 ? 0 : r == 1 ? cols - 1 : random.Next(cols)] = 1f; // one-hot, both ends
                    }

                    break;
                case GpuLoss.BinaryCrossEntropy:
                    for (int j = 0; j < cols; j++)
                    {
                        row[j] = r % 2 == 0 ? random.Next(2) : (float)random.NextDouble();
                    }

                    break;
                case GpuLoss.Hinge or GpuLoss.SquaredHinge:
                    for (int j = 0; j < cols; j++)
                    {
                        // Variant 0: 0/1 (mapped to -1/1 per batch); variant 1: -1/1 as given.
                        int bit = r == 2 ? (j % 3 == 0 ? 0 : 1) : random.Next(2); // row 2 puts t y = 1 at the kink for z = ±1
                        row[j] = variant == 0 ? bit : 2 * bit - 1;
                    }

                    break;
                default:
                    for (int j = 0; j < cols; j++)
                    {
                        row[j] = loss == GpuLoss.MeanSquaredLogarithmicError ? (float)(random.NextDouble() * 3 - 0.5) : (float)(random.NextDouble() * 4 - 2);
                    }

                    if (r == 2)
                    {
                        row[0] = z[2 * cols];  // y = t for a Linear head (Abs/Sign at 0)
                        if (cols > 1)
                        {
                            row[1] = 0f;        // MAPE's max(|t|, eps)
                        }
                    }

                    break;
            }
        }

        return t;
    }

    private float[] Run(Arena arena, RowArgs args, Action<ArrayView<float>, RowArgs> launch)
        => RunRaw(ArenaArray(arena), [0], (view, _) => launch(view, args));

    private static float[] ArenaArray(Arena arena) => arena.GetSpan(0, checked((int)arena.Length)).ToArray();

    private float[] RunRaw(float[] data, int[] labels, Action<ArrayView<float>, ArrayView<int>> launch)
    {
        var accelerator = kernels.Device.Accelerator;
        using var buffer = accelerator.Allocate1D(data);
        using var labelBuffer = accelerator.Allocate1D(labels);
        launch(buffer.View, labelBuffer.View);
        accelerator.Synchronize();
        return buffer.GetAsArray1D();
    }

    private static float DispatchDense(int loss, int act, Arena arena, long z, long y, long g, float[] targets, int cols, int row, float scale)
    {
        var method = typeof(Losses).GetMethod(nameof(Losses.Compute))!.MakeGenericMethod(
            typeof(LossFunctions).GetNestedType(LossNames[loss])!, typeof(OutputAct).GetNestedType(ActNames[act])!);
        return InvokeSpan<float>(method, arena, z, y, g, targets, cols, row, scale);
    }

    private static float DispatchSparse(int act, Arena arena, long z, long y, long g, int[] labels, int cols, int row, float scale)
    {
        var method = typeof(Losses).GetMethod(nameof(Losses.ComputeSparse))!.MakeGenericMethod(typeof(OutputAct).GetNestedType(ActNames[act])!);
        return InvokeSpan<int>(method, arena, z, y, g, labels, cols, row, scale);
    }

    // Spans cannot be boxed for reflection: a typed delegate over the generic method instead.
    private delegate float LossCall<T>(Arena arena, long z, long y, long g, ReadOnlySpan<T> data, int cols, int start, int end, float scale);

    private static float InvokeSpan<T>(MethodInfo method, Arena arena, long z, long y, long g, T[] data, int cols, int row, float scale)
        => method.CreateDelegate<LossCall<T>>()(arena, z, y, g, data, cols, row, row + 1, scale);

    private static void DispatchActivate(int act, Arena arena, long z, long y, int cols)
        => typeof(Losses).GetMethod(nameof(Losses.Activate))!.MakeGenericMethod(typeof(OutputAct).GetNestedType(ActNames[act])!)
            .Invoke(null, [arena, z, y, cols, 0, Rows]);

    private static void DispatchElementwiseForward(int act, Arena arena, long x, long y, long count)
        => typeof(Elementwise).GetMethod(nameof(Elementwise.Forward))!.MakeGenericMethod(typeof(Act).GetNestedType(ActNames[act])!)
            .Invoke(null, [arena, x, y, count, 0, 1]);

    private static void DispatchElementwiseBackward(int act, Arena arena, long dy, long y, long count)
        => typeof(Elementwise).GetMethod(nameof(Elementwise.Backward))!.MakeGenericMethod(typeof(Act).GetNestedType(ActNames[act])!)
            .Invoke(null, [arena, dy, y, dy, count, 0, 1]);

    /// <summary>The worst differences seen: absolute, relative (where |cpu| &gt;= 1e-3), and as a fraction of the tolerance.</summary>
    private sealed class Worst
    {
        private double _abs, _rel, _used;
        private string _where = "";
        private readonly List<string> _failures = [];

        public void Check(ReadOnlySpan<float> cpu, ReadOnlySpan<float> gpu, string what)
        {
            for (int i = 0; i < cpu.Length; i++)
            {
                double c = cpu[i], d = Math.Abs((double)gpu[i] - c);
                if (float.IsNaN(cpu[i]) || float.IsNaN(gpu[i]))
                {
                    _failures.Add($"{what}[{i}]: gpu {gpu[i]} cpu {cpu[i]} (NaN)");
                    continue;
                }

                if (cpu[i] == gpu[i])
                {
                    continue;
                }

                double used = d / (Relative * Math.Abs(c) + Absolute);
                _abs = Math.Max(_abs, d);
                if (Math.Abs(c) >= 1e-3)
                {
                    _rel = Math.Max(_rel, d / Math.Abs(c));
                }

                if (used > _used)
                {
                    _used = used;
                    _where = $"{what}[{i}] gpu {gpu[i]:R} cpu {cpu[i]:R}";
                }

                if (used > 1)
                {
                    _failures.Add($"{what}[{i}]: gpu {gpu[i]:R} cpu {cpu[i]:R}");
                }
            }
        }

        public void Assert() => Xunit.Assert.True(_failures.Count == 0, string.Join("\n", _failures.Take(20)));

        public override string ToString() => $"worst abs {_abs:E2}, rel {_rel:E2}, tolerance used {_used:P1} at {_where}";
    }
}

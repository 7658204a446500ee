namespace NetDsl.Tests.Numerics;

/// <summary>A tensor shape of one sample, channels first; flat vectors are (features, 1, 1).</summary>
public readonly record struct CnnShape(int C, int H, int W)
{
    public int Size => C * H * W;

    public bool IsFlat => H == 1 && W == 1;

    public static CnnShape Flat(int features) => new(features, 1, 1);

    /// <summary>The shape as NetDsl's <see cref="Layer.OutputShape"/> reports it: (C, H, W) for images, (features) for vectors.</summary>
    public int[] ToNetDsl(bool image) => image ? [C, H, W] : [Size];

    public override string ToString() => $"({C}, {H}, {W})";
}

/// <summary>
/// Options of one forward/backward pass of <see cref="CnnReference"/>: training or inference, and the dropout masks
/// (keep flags per element of the layer's batch output, in the reference's channels-first layout), which the caller
/// chooses: the reference draws nothing at random.
/// </summary>
public sealed class CnnPass
{
    public static CnnPass Inference { get; } = new(false);

    public CnnPass(bool training, IReadOnlyDictionary<int, bool[]>? masks = null)
    {
        Training = training;
        Masks = masks ?? new Dictionary<int, bool[]>();
    }

    /// <summary>Training mode: dropout active (needs a mask), BatchNorm on batch statistics unless it is in inference mode.</summary>
    public bool Training { get; }

    /// <summary>Dropout keep masks by layer index, <c>rows * layer size</c> flags each, channels first.</summary>
    public IReadOnlyDictionary<int, bool[]> Masks { get; }

    public static CnnPass Train(IReadOnlyDictionary<int, bool[]>? masks = null) => new(true, masks);
}

/// <summary>
/// One layer of <see cref="CnnReference"/>. Every layer maps a batch of <c>rows</c> samples of shape
/// <see cref="In"/> (channels first, sample after sample) to a batch of shape <see cref="Out"/>: first an
/// "affine" part (<see cref="Forward"/>, giving the pre-activation) and then an element-wise or row-wise
/// <see cref="Activation"/> (Linear for layers without one).
/// </summary>
public abstract class CnnRefLayer
{
    protected CnnRefLayer(CnnShape input, CnnShape output, Activation activation = Activation.Linear)
    {
        In = input;
        Out = output;
        Activation = activation;
        if (activation == Activation.Softmax && !output.IsFlat)
        {
            throw new ArgumentException("Softmax needs a flat output.");
        }
    }

    public CnnShape In { get; }

    public CnnShape Out { get; }

    public Activation Activation { get; }

    /// <summary>The trainable parameter tensors (e.g. W, b; gamma, beta), in a fixed order.</summary>
    public virtual IReadOnlyList<double[]> Parameters => [];

    /// <summary>Pre-activation of the batch.</summary>
    public abstract double[] Forward(double[] x, int rows, CnnPass pass, int index);

    /// <summary>
    /// Given <c>dL/dpre</c>, returns <c>dL/dx</c> and the gradients of the mean loss with respect to
    /// <see cref="Parameters"/> (same order and lengths).
    /// </summary>
    public abstract (double[] Dx, double[][] Parameters) Backward(double[] x, double[] dPre, int rows, CnnPass pass, int index);

    /// <summary>
    /// One window axis with Keras padding, or explicit symmetric padding <paramref name="pad"/> (PyTorch): output size
    /// (floored) and padding before the first element.
    /// </summary>
    public static (int Out, int PadBefore) Axis(int size, int window, int stride, Padding padding, int pad, bool ceil = false)
    {
        if (ceil)
        {
            // PyTorch: ceil((size + 2 pad - window) / stride) + 1, less one if that last window would start past the input.
            int outSize = (size + 2 * pad - window + stride - 1) / stride + 1;
            return ((outSize - 1) * stride >= size + pad ? outSize - 1 : outSize, pad);
        }

        if (pad != 0)
        {
            return ((size + 2 * pad - window) / stride + 1, pad);
        }

        return Axis(size, window, stride, padding);
    }

    /// <summary>One window axis with Keras padding: output size and padding before the first element.</summary>
    public static (int Out, int PadBefore) Axis(int size, int window, int stride, Padding padding)
    {
        if (padding == Padding.Same)
        {
            int outSize = (size + stride - 1) / stride; // ceil(size / stride)
            int total = Math.Max((outSize - 1) * stride + window - size, 0);
            return (outSize, total / 2); // the odd row/column goes after (bottom/right)
        }

        if (window > size)
        {
            throw new ArgumentException($"Window {window} larger than input {size}.");
        }

        return ((size - window) / stride + 1, 0);
    }

    protected static int Index(CnnShape s, int r, int c, int h, int w) => ((r * s.C + c) * s.H + h) * s.W + w;
}

/// <summary>
/// 2-D convolution (cross-correlation, as Keras): <c>pre[f, oy, ox] = b[f] + Σ_{ky, kx, c} x[c, oy·sh + ky − pt, ox·sw + kx − pl] ·
/// W[ky, kx, c, f]</c>, where cells outside the input are zero. W is [KH, KW, InC, Filters] row-major (Keras' layout).
/// </summary>
public sealed class ConvRef : CnnRefLayer
{
    public ConvRef(CnnShape input, int filters, int kh, int kw, int strideH, int strideW, Padding padding, Activation activation, bool useBias, int padH = 0, int padW = 0)
        : base(input, new CnnShape(filters, Axis(input.H, kh, strideH, padding, padH).Out, Axis(input.W, kw, strideW, padding, padW).Out), activation)
    {
        Filters = filters;
        KH = kh;
        KW = kw;
        StrideH = strideH;
        StrideW = strideW;
        PadTop = Axis(input.H, kh, strideH, padding, padH).PadBefore;
        PadLeft = Axis(input.W, kw, strideW, padding, padW).PadBefore;
        Weights = new double[kh * kw * input.C * filters];
        Bias = useBias ? new double[filters] : null;
    }

    public int Filters { get; }

    public int KH { get; }

    public int KW { get; }

    public int StrideH { get; }

    public int StrideW { get; }

    public int PadTop { get; }

    public int PadLeft { get; }

    /// <summary>W[ky, kx, c, f] = Weights[((ky * KW + kx) * InC + c) * Filters + f].</summary>
    public double[] Weights { get; }

    public double[]? Bias { get; }

    public override IReadOnlyList<double[]> Parameters => Bias is null ? [Weights] : [Weights, Bias];

    private int W(int ky, int kx, int c, int f) => ((ky * KW + kx) * In.C + c) * Filters + f;

    public override double[] Forward(double[] x, int rows, CnnPass pass, int index)
    {
        var y = new double[rows * Out.Size];
        for (int r = 0; r < rows; r++)
        {
            for (int f = 0; f < Filters; f++)
            {
                for (int oy = 0; oy < Out.H; oy++)
                {
                    for (int ox = 0; ox < Out.W; ox++)
                    {
                        double s = Bias is null ? 0 : Bias[f];
                        for (int ky = 0; ky < KH; ky++)
                        {
                            int iy = oy * StrideH + ky - PadTop;
                            if (iy < 0 || iy >= In.H)
                            {
                                continue;
                            }

                            for (int kx = 0; kx < KW; kx++)
                            {
                                int ix = ox * StrideW + kx - PadLeft;
                                if (ix < 0 || ix >= In.W)
                                {
                                    continue;
                                }

                                for (int c = 0; c < In.C; c++)
                                {
                                    s += x[Index(In, r, c, iy, ix)] * Weights[W(ky, kx, c, f)];
                                }
                            }
                        }

                        y[Index(Out, r, f, oy, ox)] = s;
                    }
                }
            }
        }

        return y;
    }

    public override (double[] Dx, double[][] Parameters) Backward(double[] x, double[] dPre, int rows, CnnPass pass, int index)
    {
        var dx = new double[x.Length];
        var dw = new double[Weights.Length];
        var db = Bias is null ? null : new double[Filters];
        for (int r = 0; r < rows; r++)
        {
            for (int f = 0; f < Filters; f++)
            {
                for (int oy = 0; oy < Out.H; oy++)
                {
                    for (int ox = 0; ox < Out.W; ox++)
                    {
                        double g = dPre[Index(Out, r, f, oy, ox)];
                        if (db is not null)
                        {
                            db[f] += g;
                        }

                        for (int ky = 0; ky < KH; ky++)
                        {
                            int iy = oy * StrideH + ky - PadTop;
                            if (iy < 0 || iy >= In.H)
                            {
                                continue;
                            }

                            for (int kx = 0; kx < KW; kx++)
                            {
                                int ix = ox * StrideW + kx - PadLeft;
                                if (ix < 0 || ix >= In.W)
                                {
                                    continue;
                                }

                                for (int c = 0; c < In.C; c++)
                                {
                                    int xi = Index(In, r, c, iy, ix);
                                    int wi = W(ky, kx, c, f);
                                    dw[wi] += x[xi] * g;
                                    dx[xi] += Weights[wi] * g;
                                }
                            }
                        }
                    }
                }
            }
        }

        return (dx, db is null ? [dw] : [dw, db]);
    }
}

/// <summary>
/// Local response normalisation across channels, from the definition (PyTorch/ONNX): <c>s_c = k + α/n Σ x_c'^2</c> over
/// c' in [c - (n-1)/2, c + n/2], <c>y_c = x_c s_c^-β</c>; backward by the chain rule through every s_c' that holds x_c.
/// </summary>
public sealed class LrnRef(CnnShape input, int size, double alpha, double beta, double bias) : CnnRefLayer(input, input)
{
    private double S(double[] x, int r, int c, int h, int w)
    {
        double squares = 0;
        for (int k = Math.Max(0, c - (size - 1) / 2); k <= Math.Min(In.C - 1, c + size / 2); k++)
        {
            double v = x[Index(In, r, k, h, w)];
            squares += v * v;
        }

        return bias + alpha / size * squares;
    }

    public override double[] Forward(double[] x, int rows, CnnPass pass, int index)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < In.C; c++)
        for (int h = 0; h < In.H; h++)
        for (int w = 0; w < In.W; w++)
        {
            y[Index(In, r, c, h, w)] = x[Index(In, r, c, h, w)] * Math.Pow(S(x, r, c, h, w), -beta);
        }

        return y;
    }

    public override (double[] Dx, double[][] Parameters) Backward(double[] x, double[] dPre, int rows, CnnPass pass, int index)
    {
        var dx = new double[x.Length];
        for (int r = 0; r < rows; r++)
        for (int h = 0; h < In.H; h++)
        for (int w = 0; w < In.W; w++)
        for (int o = 0; o < In.C; o++)
        {
            // y_o = x_o s_o^-β: d y_o / d x_o = s_o^-β, and d y_o / d x_c = -β x_o s_o^(-β-1) · 2 α/n x_c for c in o's window.
            int at = Index(In, r, o, h, w);
            double s = S(x, r, o, h, w);
            dx[at] += dPre[at] * Math.Pow(s, -beta);
            for (int c = Math.Max(0, o - (size - 1) / 2); c <= Math.Min(In.C - 1, o + size / 2); c++)
            {
                int ci = Index(In, r, c, h, w);
                dx[ci] -= dPre[at] * beta * x[at] * Math.Pow(s, -beta - 1) * 2 * alpha / size * x[ci];
            }
        }

        return (dx, []);
    }
}

/// <summary>Zeros around each image: the output copies the input into its interior; the gradient is the interior's.</summary>
public sealed class ZeroPadRef(CnnShape input, int top, int bottom, int left, int right)
    : CnnRefLayer(input, new CnnShape(input.C, input.H + top + bottom, input.W + left + right))
{
    public override double[] Forward(double[] x, int rows, CnnPass pass, int index)
    {
        var y = new double[rows * Out.Size];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < In.C; c++)
            {
                for (int h = 0; h < In.H; h++)
                {
                    for (int w = 0; w < In.W; w++)
                    {
                        y[Index(Out, r, c, h + top, w + left)] = x[Index(In, r, c, h, w)];
                    }
                }
            }
        }

        return y;
    }

    public override (double[] Dx, double[][] Parameters) Backward(double[] x, double[] dPre, int rows, CnnPass pass, int index)
    {
        var dx = new double[rows * In.Size];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < In.C; c++)
            {
                for (int h = 0; h < In.H; h++)
                {
                    for (int w = 0; w < In.W; w++)
                    {
                        dx[Index(In, r, c, h, w)] = dPre[Index(Out, r, c, h + top, w + left)];
                    }
                }
            }
        }

        return (dx, []);
    }
}

/// <summary>
/// Max or average pooling per channel with Keras padding. Cells outside the input never win a max and are not
/// counted in an average. Max routes the gradient to the first maximal cell in row-major order of the window.
/// </summary>
public sealed class PoolRef : CnnRefLayer
{
    public PoolRef(CnnShape input, bool isMax, int ph, int pw, int strideH, int strideW, Padding padding, int padH = 0, int padW = 0, bool ceil = false)
        : base(input, new CnnShape(input.C, Axis(input.H, ph, strideH, padding, padH, ceil).Out, Axis(input.W, pw, strideW, padding, padW, ceil).Out))
    {
        IsMax = isMax;
        PH = ph;
        PW = pw;
        StrideH = strideH;
        StrideW = strideW;
        PadTop = Axis(input.H, ph, strideH, padding, padH).PadBefore;
        PadLeft = Axis(input.W, pw, strideW, padding, padW).PadBefore;
    }

    public bool IsMax { get; }

    public int PH { get; }

    public int PW { get; }

    public int StrideH { get; }

    public int StrideW { get; }

    public int PadTop { get; }

    public int PadLeft { get; }

    /// <summary>The input cells (indices into the batch) of window (r, c, oy, ox), row-major.</summary>
    private List<int> Window(int r, int c, int oy, int ox)
    {
        var cells = new List<int>(PH * PW);
        for (int ky = 0; ky < PH; ky++)
        {
            int iy = oy * StrideH + ky - PadTop;
            for (int kx = 0; kx < PW; kx++)
            {
                int ix = ox * StrideW + kx - PadLeft;
                if (iy >= 0 && iy < In.H && ix >= 0 && ix < In.W)
                {
                    cells.Add(Index(In, r, c, iy, ix));
                }
            }
        }

        if (cells.Count == 0)
        {
            throw new InvalidOperationException("A window lies entirely in padding.");
        }

        return cells;
    }

    private int ArgMax(double[] x, List<int> cells)
    {
        int best = cells[0];
        foreach (int i in cells)
        {
            if (x[i] > x[best])
            {
                best = i; // strictly greater: ties stay with the first cell
            }
        }

        return best;
    }

    public override double[] Forward(double[] x, int rows, CnnPass pass, int index)
    {
        var y = new double[rows * Out.Size];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < Out.C; c++)
            {
                for (int oy = 0; oy < Out.H; oy++)
                {
                    for (int ox = 0; ox < Out.W; ox++)
                    {
                        var cells = Window(r, c, oy, ox);
                        y[Index(Out, r, c, oy, ox)] = IsMax ? x[ArgMax(x, cells)] : cells.Sum(i => x[i]) / cells.Count;
                    }
                }
            }
        }

        return y;
    }

    public override (double[] Dx, double[][] Parameters) Backward(double[] x, double[] dPre, int rows, CnnPass pass, int index)
    {
        var dx = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < Out.C; c++)
            {
                for (int oy = 0; oy < Out.H; oy++)
                {
                    for (int ox = 0; ox < Out.W; ox++)
                    {
                        var cells = Window(r, c, oy, ox);
                        double g = dPre[Index(Out, r, c, oy, ox)];
                        if (IsMax)
                        {
                            dx[ArgMax(x, cells)] += g;
                        }
                        else
                        {
                            foreach (int i in cells)
                            {
                                dx[i] += g / cells.Count;
                            }
                        }
                    }
                }
            }
        }

        return (dx, []);
    }
}

/// <summary>Flattens (C, H, W) to features ordered (H, W, C), NetDsl's (and Keras' channels-last) order: feature (h·W + w)·C + c.</summary>
public sealed class FlattenRef(CnnShape input) : CnnRefLayer(input, CnnShape.Flat(input.Size))
{
    public override double[] Forward(double[] x, int rows, CnnPass pass, int index)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < In.C; c++)
            {
                for (int h = 0; h < In.H; h++)
                {
                    for (int w = 0; w < In.W; w++)
                    {
                        y[r * In.Size + (h * In.W + w) * In.C + c] = x[Index(In, r, c, h, w)];
                    }
                }
            }
        }

        return y;
    }

    public override (double[] Dx, double[][] Parameters) Backward(double[] x, double[] dPre, int rows, CnnPass pass, int index)
    {
        var dx = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < In.C; c++)
            {
                for (int h = 0; h < In.H; h++)
                {
                    for (int w = 0; w < In.W; w++)
                    {
                        dx[Index(In, r, c, h, w)] = dPre[r * In.Size + (h * In.W + w) * In.C + c];
                    }
                }
            }
        }

        return (dx, []);
    }
}

/// <summary>Fully connected: <c>pre[j] = b[j] + Σ_i x[i] W[i, j]</c>, W [inputs, units] row-major.</summary>
public sealed class DenseRef : CnnRefLayer
{
    public DenseRef(CnnShape input, int units, Activation activation, bool useBias)
        : base(input.IsFlat ? input : throw new ArgumentException("Dense needs a flat input."), CnnShape.Flat(units), activation)
    {
        Units = units;
        Weights = new double[input.Size * units];
        Bias = useBias ? new double[units] : null;
    }

    public int Units { get; }

    public double[] Weights { get; }

    public double[]? Bias { get; }

    public override IReadOnlyList<double[]> Parameters => Bias is null ? [Weights] : [Weights, Bias];

    public override double[] Forward(double[] x, int rows, CnnPass pass, int index)
    {
        int n = In.Size;
        var y = new double[rows * Units];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < Units; j++)
            {
                double s = Bias is null ? 0 : Bias[j];
                for (int i = 0; i < n; i++)
                {
                    s += x[r * n + i] * Weights[i * Units + j];
                }

                y[r * Units + j] = s;
            }
        }

        return y;
    }

    public override (double[] Dx, double[][] Parameters) Backward(double[] x, double[] dPre, int rows, CnnPass pass, int index)
    {
        int n = In.Size;
        var dx = new double[x.Length];
        var dw = new double[Weights.Length];
        var db = Bias is null ? null : new double[Units];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < Units; j++)
            {
                double g = dPre[r * Units + j];
                if (db is not null)
                {
                    db[j] += g;
                }

                for (int i = 0; i < n; i++)
                {
                    dw[i * Units + j] += x[r * n + i] * g;
                    dx[r * n + i] += Weights[i * Units + j] * g;
                }
            }
        }

        return (dx, db is null ? [dw] : [dw, db]);
    }
}

/// <summary>
/// Batch normalisation per channel (per feature for flat inputs), statistics over the <c>rows·H·W</c> values of a
/// channel. Training mode: <c>μ = mean(x)</c>, <c>σ² = mean((x − μ)²)</c> (biased), <c>x̂ = (x − μ)/√(σ² + ε)</c>,
/// <c>y = γ x̂ + β</c>; gradient (from <c>y</c> through μ and σ², n = rows·H·W):
/// <c>dβ = Σ dy</c>, <c>dγ = Σ dy x̂</c>, <c>dx = γ/√(σ² + ε) · (dy − dβ/n − x̂ dγ/n)</c>.
/// Inference mode (<see cref="InferenceMode"/> or an inference pass): <c>y = γ (x − m)/√(v + ε) + β</c> with the
/// moving statistics, a per-channel affine map. Moving statistics after a training pass (Keras 2, see
/// <see cref="UpdatedMovingStatistics"/>): <c>m ← m·momentum + μ(1 − momentum)</c>, <c>v ← v·momentum + σ²·n/(n − 1)·(1 − momentum)</c>.
/// </summary>
public sealed class BatchNormRef : CnnRefLayer
{
    public BatchNormRef(CnnShape input, double momentum, double epsilon)
        : base(input, input)
    {
        Momentum = momentum;
        Epsilon = epsilon;
        Gamma = Enumerable.Repeat(1.0, input.C).ToArray();
        Beta = new double[input.C];
        MovingMean = new double[input.C];
        MovingVariance = Enumerable.Repeat(1.0, input.C).ToArray();
    }

    public double Momentum { get; }

    public double Epsilon { get; }

    public double[] Gamma { get; }

    public double[] Beta { get; }

    public double[] MovingMean { get; }

    public double[] MovingVariance { get; }

    /// <summary>Use the moving statistics even in training passes (a frozen BatchNorm, as Keras).</summary>
    public bool InferenceMode { get; set; }

    public override IReadOnlyList<double[]> Parameters => [Gamma, Beta];

    private bool UsesBatchStatistics(CnnPass pass) => pass.Training && !InferenceMode;

    private int Plane => In.H * In.W;

    /// <summary>Per channel: batch mean and biased variance.</summary>
    public (double[] Mean, double[] Variance) BatchStatistics(double[] x, int rows)
    {
        var mean = new double[In.C];
        var variance = new double[In.C];
        int n = rows * Plane;
        for (int c = 0; c < In.C; c++)
        {
            double s = 0;
            foreach (int i in Cells(rows, c))
            {
                s += x[i];
            }

            mean[c] = s / n;
            double q = 0;
            foreach (int i in Cells(rows, c))
            {
                q += (x[i] - mean[c]) * (x[i] - mean[c]);
            }

            variance[c] = q / n;
        }

        return (mean, variance);
    }

    /// <summary>The moving statistics after one training pass on <paramref name="x"/> (Keras 2: unbiased variance, factor 1 for n = 1).</summary>
    public (double[] Mean, double[] Variance) UpdatedMovingStatistics(double[] x, int rows)
    {
        var (mean, variance) = BatchStatistics(x, rows);
        int n = rows * Plane;
        double bessel = n > 1 ? (double)n / (n - 1) : 1;
        var m = new double[In.C];
        var v = new double[In.C];
        for (int c = 0; c < In.C; c++)
        {
            m[c] = MovingMean[c] * Momentum + mean[c] * (1 - Momentum);
            v[c] = MovingVariance[c] * Momentum + variance[c] * bessel * (1 - Momentum);
        }

        return (m, v);
    }

    private IEnumerable<int> Cells(int rows, int c)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int p = 0; p < Plane; p++)
            {
                yield return (r * In.C + c) * Plane + p;
            }
        }
    }

    public override double[] Forward(double[] x, int rows, CnnPass pass, int index)
    {
        var y = new double[x.Length];
        double[] mean, variance;
        if (UsesBatchStatistics(pass))
        {
            (mean, variance) = BatchStatistics(x, rows);
        }
        else
        {
            (mean, variance) = (MovingMean, MovingVariance);
        }

        for (int c = 0; c < In.C; c++)
        {
            double invStd = 1 / Math.Sqrt(variance[c] + Epsilon);
            foreach (int i in Cells(rows, c))
            {
                y[i] = Gamma[c] * (x[i] - mean[c]) * invStd + Beta[c];
            }
        }

        return y;
    }

    /// <summary>
    /// Per channel, the sums of the magnitudes of the terms of <c>dγ = Σ dy·x̂</c> and <c>dβ = Σ dy</c>: the scale of
    /// their rounding and propagated errors, which cancellation can make far larger than the results themselves.
    /// </summary>
    public (double[] Gamma, double[] Beta) GradientMagnitudes(double[] x, double[] dPre, int rows, CnnPass pass)
    {
        var (mean, variance) = UsesBatchStatistics(pass) ? BatchStatistics(x, rows) : (MovingMean, MovingVariance);
        var gamma = new double[In.C];
        var beta = new double[In.C];
        for (int c = 0; c < In.C; c++)
        {
            double invStd = 1 / Math.Sqrt(variance[c] + Epsilon);
            foreach (int i in Cells(rows, c))
            {
                gamma[c] += Math.Abs(dPre[i] * (x[i] - mean[c]) * invStd);
                beta[c] += Math.Abs(dPre[i]);
            }
        }

        return (gamma, beta);
    }

    public override (double[] Dx, double[][] Parameters) Backward(double[] x, double[] dPre, int rows, CnnPass pass, int index)
    {
        var dx = new double[x.Length];
        var dGamma = new double[In.C];
        var dBeta = new double[In.C];
        bool batch = UsesBatchStatistics(pass);
        var (mean, variance) = batch ? BatchStatistics(x, rows) : (MovingMean, MovingVariance);
        int n = rows * Plane;
        for (int c = 0; c < In.C; c++)
        {
            double invStd = 1 / Math.Sqrt(variance[c] + Epsilon);
            foreach (int i in Cells(rows, c))
            {
                double xhat = (x[i] - mean[c]) * invStd;
                dBeta[c] += dPre[i];
                dGamma[c] += dPre[i] * xhat;
            }

            foreach (int i in Cells(rows, c))
            {
                double xhat = (x[i] - mean[c]) * invStd;
                dx[i] = batch
                    ? Gamma[c] * invStd * (dPre[i] - dBeta[c] / n - xhat * dGamma[c] / n)
                    : Gamma[c] * invStd * dPre[i];
            }
        }

        return (dx, [dGamma, dBeta]);
    }
}

/// <summary>A standalone activation: the affine part is the identity.</summary>
public sealed class ActivationRef(CnnShape input, Activation activation) : CnnRefLayer(input, input, activation)
{
    public override double[] Forward(double[] x, int rows, CnnPass pass, int index) => (double[])x.Clone();

    public override (double[] Dx, double[][] Parameters) Backward(double[] x, double[] dPre, int rows, CnnPass pass, int index) =>
        ((double[])dPre.Clone(), []);
}

/// <summary>
/// Inverted dropout with an externally given mask: in training <c>y = keep ? x / (1 − rate) : 0</c>, the mask taken
/// from <see cref="CnnPass.Masks"/> (rate 0 needs none); in inference the identity.
/// </summary>
public sealed class DropoutRef(CnnShape input, double rate) : CnnRefLayer(input, input)
{
    public double Rate { get; } = rate;

    private double[] Scale(int rows, CnnPass pass, int index)
    {
        var scale = new double[rows * In.Size];
        if (!pass.Training)
        {
            Array.Fill(scale, 1.0);
            return scale;
        }

        if (!pass.Masks.TryGetValue(index, out var mask))
        {
            if (Rate != 0)
            {
                throw new InvalidOperationException($"Dropout layer {index} needs a mask in training.");
            }

            Array.Fill(scale, 1.0);
            return scale;
        }

        if (mask.Length != scale.Length)
        {
            throw new ArgumentException($"Mask of layer {index} has {mask.Length} flags, expected {scale.Length}.");
        }

        for (int i = 0; i < scale.Length; i++)
        {
            scale[i] = mask[i] ? 1 / (1 - Rate) : 0;
        }

        return scale;
    }

    public override double[] Forward(double[] x, int rows, CnnPass pass, int index)
    {
        var s = Scale(rows, pass, index);
        return x.Select((v, i) => v * s[i]).ToArray();
    }

    public override (double[] Dx, double[][] Parameters) Backward(double[] x, double[] dPre, int rows, CnnPass pass, int index)
    {
        var s = Scale(rows, pass, index);
        return (dPre.Select((v, i) => v * s[i]).ToArray(), []);
    }
}

/// <summary>
/// The result of <see cref="CnnReference.Gradients"/>: the mean loss, per layer the gradients of its
/// <see cref="CnnRefLayer.Parameters"/>, the input gradient, and per layer its input and the gradient with respect to
/// its pre-activation (for error analysis).
/// </summary>
public sealed record CnnGradients(double Loss, double[][][] Parameters, double[] Input, double[][] LayerInputs, double[][] PreActivationGradients, int Rows);

/// <summary>
/// A plain double-precision CNN written from the math (not from NetDsl's kernels), channels first like NetDsl's
/// public input layout, used as the oracle for generated CNNs. Loss: sparse categorical cross-entropy of the softmax
/// of the logits, mean over the batch; the logits are the last layer's pre-activation, whose activation must be
/// Softmax or Linear (NetDsl fuses the softmax into the loss). Backward by the chain rule, layer by layer:
/// <c>dpre_last = (softmax(logits) − onehot) / rows</c>; each layer maps <c>dpre</c> to <c>dx</c>; the activation
/// below is differentiated at its pre-activation (softmax: <c>dz_j = s_j (da_j − Σ_k da_k s_k)</c>).
/// </summary>
public sealed class CnnReference
{
    public CnnReference(CnnShape input, params CnnRefLayer[] layers)
    {
        Input = input;
        Layers = layers;
        var shape = input;
        foreach (var layer in layers)
        {
            if (layer.In != shape)
            {
                throw new ArgumentException($"{layer.GetType().Name} expects {layer.In}, previous output is {shape}.");
            }

            shape = layer.Out;
        }

        if (layers[^1].Activation is not (Activation.Softmax or Activation.Linear) || !shape.IsFlat)
        {
            throw new ArgumentException("The last layer must give flat Softmax or Linear class scores.");
        }
    }

    public CnnShape Input { get; }

    public CnnRefLayer[] Layers { get; }

    public int Classes => Layers[^1].Out.Size;

    /// <summary>Builds a fluent list of layers from an input shape.</summary>
    public sealed class Builder(CnnShape input)
    {
        private readonly List<CnnRefLayer> _layers = [];

        private CnnShape Current => _layers.Count == 0 ? input : _layers[^1].Out;

        public Builder Conv(int filters, int kh, int kw, Activation activation, int strideH = 1, int strideW = 1, Padding padding = Padding.Valid, bool useBias = true,
            int padH = 0, int padW = 0)
            => Add(new ConvRef(Current, filters, kh, kw, strideH, strideW, padding, activation, useBias, padH, padW));

        public Builder Pool(bool isMax, int ph, int pw, int strideH, int strideW, Padding padding = Padding.Valid, bool ceil = false)
            => Add(new PoolRef(Current, isMax, ph, pw, strideH, strideW, padding, ceil: ceil));

        public Builder Lrn(int size, double alpha, double beta, double bias) => Add(new LrnRef(Current, size, alpha, beta, bias));

        public Builder ZeroPad(int top, int bottom, int left, int right) => Add(new ZeroPadRef(Current, top, bottom, left, right));

        public Builder Flatten() => Add(new FlattenRef(Current));

        public Builder Dense(int units, Activation activation, bool useBias = true) => Add(new DenseRef(Current, units, activation, useBias));

        public Builder BatchNorm(double momentum = 0.99, double epsilon = 1e-3) => Add(new BatchNormRef(Current, momentum, epsilon));

        public Builder Act(Activation activation) => Add(new ActivationRef(Current, activation));

        public Builder Dropout(double rate) => Add(new DropoutRef(Current, rate));

        public CnnReference Build() => new(input, [.. _layers]);

        private Builder Add(CnnRefLayer layer)
        {
            _layers.Add(layer);
            return this;
        }
    }

    /// <summary>
    /// A reference with the architecture and the (widened) parameters of a generated CNN whose input shape is
    /// <paramref name="input"/> (channels first). Every layer's output shape is checked against NetDsl's. A frozen
    /// BatchNorm is put in inference mode (NetDsl runs it so).
    /// </summary>
    public static CnnReference From(Network network, CnnShape input)
    {
        var layers = new List<CnnRefLayer>();
        var shape = input;
        bool image = true; // NetDsl reports images as (C, H, W), vectors as (features)
        foreach (var layer in network.Layers)
        {
            var r = ToReference(layer, shape, ref image);
            layers.Add(r);
            shape = r.Out;
        }

        return new CnnReference(input, [.. layers]);
    }

    /// <summary>
    /// The reference layer of one generated layer whose input has shape <paramref name="shape"/> (channels first), with
    /// its (widened) parameters; its output shape is checked against NetDsl's. <paramref name="image"/> says whether
    /// NetDsl reports the input as an image (C, H, W) or a vector, and is updated for the output.
    /// </summary>
    public static CnnRefLayer ToReference(Layer layer, CnnShape shape, ref bool image)
    {
        CnnRefLayer r;
        switch (layer)
        {
            case Conv2DLayer conv:
            {
                var c = new ConvRef(shape, conv.Filters, conv.KernelHeight, conv.KernelWidth, conv.StrideHeight, conv.StrideWidth, conv.Padding, conv.Activation, conv.UseBias,
                    conv.PadHeight, conv.PadWidth);
                Assert(conv.InputChannels == shape.C, $"{conv.Name}: {conv.InputChannels} input channels, reference {shape.C}");
                Copy(conv.Weights, c.Weights);
                if (c.Bias is not null)
                {
                    Copy(conv.Bias, c.Bias);
                }

                r = c;
                break;
            }

            case LocalResponseNormalizationLayer lrn:
                r = new LrnRef(shape, lrn.Size, lrn.Alpha, lrn.Beta, lrn.Bias);
                break;
            case ZeroPaddingLayer pad:
                r = new ZeroPadRef(shape, pad.Top, pad.Bottom, pad.Left, pad.Right);
                break;
            case PoolingLayer { IsGlobal: true }:
                // The mean of each channel over the image: an average pooling whose window is the image.
                r = new PoolRef(shape, false, shape.H, shape.W, shape.H, shape.W, Padding.Valid);
                break;
            case PoolingLayer pool:
                r = new PoolRef(shape, pool.IsMax, pool.PoolHeight, pool.PoolWidth, pool.StrideHeight, pool.StrideWidth, pool.Padding, pool.PadHeight, pool.PadWidth, pool.CeilMode);
                break;
            case FlattenLayer:
                r = new FlattenRef(shape);
                break;
            case DenseLayer dense:
            {
                var d = new DenseRef(shape, dense.Units, dense.Activation, dense.UseBias);
                Assert(dense.Inputs == shape.Size, $"{dense.Name}: {dense.Inputs} inputs, reference {shape.Size}");
                Copy(dense.Weights, d.Weights);
                if (d.Bias is not null)
                {
                    Copy(dense.Bias, d.Bias);
                }

                r = d;
                break;
            }

            case BatchNormLayer bn:
            {
                var b = new BatchNormRef(shape, bn.Momentum, bn.Epsilon) { InferenceMode = !bn.Trainable };
                Assert(bn.Channels == shape.C, $"{bn.Name}: {bn.Channels} channels, reference {shape.C}");
                Copy(bn.Gamma, b.Gamma);
                Copy(bn.Beta, b.Beta);
                Copy(bn.MovingMean, b.MovingMean);
                Copy(bn.MovingVariance, b.MovingVariance);
                r = b;
                break;
            }

            case ActivationLayer act:
                r = new ActivationRef(shape, act.Activation);
                break;
            case DropoutLayer drop:
                r = new DropoutRef(shape, drop.Rate);
                break;
            default:
                throw new NotSupportedException(layer.GetType().Name);
        }

        image = layer switch
        {
            PoolingLayer { IsGlobal: true } => false,
            Conv2DLayer or PoolingLayer or ZeroPaddingLayer or LocalResponseNormalizationLayer => true,
            FlattenLayer or DenseLayer => false,
            _ => image,
        };
        int[] expected = r.Out.ToNetDsl(image);
        Assert(layer.OutputShape.SequenceEqual(expected),
            $"{layer.Name}: NetDsl output shape ({string.Join(", ", layer.OutputShape.ToArray())}), reference ({string.Join(", ", expected)})");
        return r;
    }

    /// <summary>Forward pass: per layer its input, pre-activation and output ([rows x size] each, channels first).</summary>
    public (double[][] Inputs, double[][] Pre, double[][] Post) Forward(double[] x, int rows, CnnPass pass)
    {
        if (x.Length != rows * Input.Size)
        {
            throw new ArgumentException($"Input has {x.Length} values, expected {rows} x {Input.Size}.");
        }

        var inputs = new double[Layers.Length][];
        var pre = new double[Layers.Length][];
        var post = new double[Layers.Length][];
        double[] current = x;
        for (int l = 0; l < Layers.Length; l++)
        {
            var layer = Layers[l];
            inputs[l] = current;
            pre[l] = layer.Forward(current, rows, pass, l);
            post[l] = Activate(layer.Activation, pre[l], rows, layer.Out.Size);
            current = post[l];
        }

        return (inputs, pre, post);
    }

    /// <summary>Class probabilities, [rows x classes].</summary>
    public double[] Probabilities(double[] x, int rows, CnnPass? pass = null)
    {
        var (_, pre, _) = Forward(x, rows, pass ?? CnnPass.Inference);
        return Activate(Activation.Softmax, pre[^1], rows, Classes);
    }

    /// <summary>Mean cross-entropy of the batch.</summary>
    public double Loss(double[] x, int[] labels, int rows, CnnPass pass)
    {
        var (_, pre, _) = Forward(x, rows, pass);
        return ReferenceMlp.LossFromLogits(pre[^1], labels, rows, Classes);
    }

    /// <summary>Loss and the gradients of the mean loss with respect to every parameter and the input.</summary>
    public CnnGradients Gradients(double[] x, int[] labels, int rows, CnnPass pass)
    {
        var (inputs, pre, _) = Forward(x, rows, pass);
        int classes = Classes;
        double loss = ReferenceMlp.LossFromLogits(pre[^1], labels, rows, classes);
        var d = new double[rows * classes];
        for (int r = 0; r < rows; r++)
        {
            ReferenceMlp.SoftmaxRow(pre[^1].AsSpan(r * classes, classes), d.AsSpan(r * classes, classes));
            d[r * classes + labels[r]] -= 1;
        }

        for (int i = 0; i < d.Length; i++)
        {
            d[i] /= rows;
        }

        var grads = new double[Layers.Length][][];
        var dPre = new double[Layers.Length][];
        for (int l = Layers.Length - 1; l >= 0; l--)
        {
            dPre[l] = d;
            var (dx, parameters) = Layers[l].Backward(inputs[l], d, rows, pass, l);
            grads[l] = parameters;
            d = l > 0 ? ActivationBackward(Layers[l - 1].Activation, pre[l - 1], dx, rows, Layers[l - 1].Out.Size) : dx;
        }

        return new CnnGradients(loss, grads, d, inputs, dPre, rows);
    }

    /// <summary>f(pre) element-wise, or row-wise for Softmax.</summary>
    public static double[] Activate(Activation activation, double[] pre, int rows, int width)
    {
        var y = new double[pre.Length];
        if (activation == Activation.Softmax)
        {
            for (int r = 0; r < rows; r++)
            {
                ReferenceMlp.SoftmaxRow(pre.AsSpan(r * width, width), y.AsSpan(r * width, width));
            }
        }
        else
        {
            for (int i = 0; i < pre.Length; i++)
            {
                y[i] = ReferenceMlp.Apply(activation, pre[i]);
            }
        }

        return y;
    }

    /// <summary>dL/dpre from dL/dpost.</summary>
    public static double[] ActivationBackward(Activation activation, double[] pre, double[] dPost, int rows, int width)
    {
        var d = new double[pre.Length];
        if (activation == Activation.Softmax)
        {
            var s = new double[width];
            for (int r = 0; r < rows; r++)
            {
                ReferenceMlp.SoftmaxRow(pre.AsSpan(r * width, width), s);
                double dot = 0;
                for (int k = 0; k < width; k++)
                {
                    dot += dPost[r * width + k] * s[k];
                }

                for (int k = 0; k < width; k++)
                {
                    d[r * width + k] = s[k] * (dPost[r * width + k] - dot);
                }
            }
        }
        else
        {
            for (int i = 0; i < pre.Length; i++)
            {
                d[i] = dPost[i] * ReferenceMlp.Derivative(activation, pre[i]);
            }
        }

        return d;
    }

    private static void Copy(ReadOnlySpan<float> source, double[] destination)
    {
        Assert(source.Length == destination.Length, $"length {source.Length} vs {destination.Length}");
        for (int i = 0; i < source.Length; i++)
        {
            destination[i] = source[i];
        }
    }

    private static void Assert(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}

/// <summary>Conversions between NetDsl's internal channels-last order and the reference's channels-first order.</summary>
public static class CnnLayout
{
    /// <summary>Index in a channels-last batch buffer of element (r, c, h, w) of shape <paramref name="s"/>.</summary>
    public static int ChannelsLastIndex(CnnShape s, int r, int c, int h, int w) => r * s.Size + (h * s.W + w) * s.C + c;

    /// <summary>A per-element flag array given by a function of the channels-last index, in channels-first order.</summary>
    public static bool[] ChannelsFirst(CnnShape s, int rows, Func<int, bool> channelsLast)
    {
        var result = new bool[rows * s.Size];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < s.C; c++)
            {
                for (int h = 0; h < s.H; h++)
                {
                    for (int w = 0; w < s.W; w++)
                    {
                        result[((r * s.C + c) * s.H + h) * s.W + w] = channelsLast(ChannelsLastIndex(s, r, c, h, w));
                    }
                }
            }
        }

        return result;
    }
}

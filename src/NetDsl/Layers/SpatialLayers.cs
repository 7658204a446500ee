namespace NetDsl;

/// <summary>A 2-D convolution: <c>y = activation(conv(x, W) + b)</c>.</summary>
public sealed class Conv2DLayer : Layer
{
    private readonly long _weights;
    private readonly long _bias;

    /// <summary>Creates the view (called by generated code).</summary>
    public Conv2DLayer(Network owner, string name, int index, int[] outputShape, int inputChannels, int filters, int kernelHeight, int kernelWidth,
        int strideHeight, int strideWidth, Padding padding, Activation activation, bool useBias, long weightOffset, long biasOffset, int parameterLength,
        int padHeight = 0, int padWidth = 0)
        : base(owner, name, index, outputShape, weightOffset, parameterLength, kernelHeight * kernelWidth * inputChannels * filters + (useBias ? filters : 0))
    {
        PadHeight = padHeight;
        PadWidth = padWidth;
        InputChannels = inputChannels;
        Filters = filters;
        KernelHeight = kernelHeight;
        KernelWidth = kernelWidth;
        StrideHeight = strideHeight;
        StrideWidth = strideWidth;
        Padding = padding;
        Activation = activation;
        UseBias = useBias;
        _weights = weightOffset;
        _bias = biasOffset;
    }

    /// <inheritdoc/>
    public override string Kind => "Conv2D";

    /// <summary>Input channels.</summary>
    public int InputChannels { get; }

    /// <summary>Output channels.</summary>
    public int Filters { get; }

    /// <summary>Kernel rows.</summary>
    public int KernelHeight { get; }

    /// <summary>Kernel columns.</summary>
    public int KernelWidth { get; }

    /// <summary>Vertical step.</summary>
    public int StrideHeight { get; }

    /// <summary>Horizontal step.</summary>
    public int StrideWidth { get; }

    /// <summary>Border handling.</summary>
    public Padding Padding { get; }

    /// <summary>Explicit rows of zeros above and below (with <see cref="Padding.Valid"/>).</summary>
    public int PadHeight { get; }

    /// <summary>Explicit columns of zeros left and right (with <see cref="Padding.Valid"/>).</summary>
    public int PadWidth { get; }

    /// <summary>The fused activation.</summary>
    public Activation Activation { get; }

    /// <summary>Whether the layer has a bias.</summary>
    public bool UseBias { get; }

    /// <summary>
    /// Whether the forward pass and the input gradient run Winograd F(2x2, 3x3) rather than the direct convolution:
    /// 3x3 kernels at stride 1 with input channels and filters multiples of 16 (at most 1,024 in product). The weight
    /// gradient takes it too when the network's thread count divides <c>InputChannels / 16</c>. The two algorithms
    /// agree to float rounding (see the README's design notes).
    /// </summary>
    public bool UsesWinograd => Kernels.ConvWinograd.Applies(KernelHeight, KernelWidth, StrideHeight, StrideWidth, InputChannels, Filters);

    private int WeightCount => KernelHeight * KernelWidth * InputChannels * Filters;

    /// <summary>The kernels, [KernelHeight, KernelWidth, InputChannels, Filters] row-major (the Keras layout).</summary>
    public Span<float> Weights => Arena.GetSpan(_weights, WeightCount);

    /// <summary>The bias, [Filters] (empty without bias).</summary>
    public Span<float> Bias => UseBias ? Arena.GetSpan(_bias, Filters) : Span<float>.Empty;

    /// <summary>Gradient of the last computed loss with respect to <see cref="Weights"/>.</summary>
    public Span<float> WeightGradients => Arena.GetSpan(_weights + GradientShift, WeightCount);

    /// <summary>Gradient of the last computed loss with respect to <see cref="Bias"/>.</summary>
    public Span<float> BiasGradients => UseBias ? Arena.GetSpan(_bias + GradientShift, Filters) : Span<float>.Empty;

    /// <summary><c>kernel</c> [KernelHeight, KernelWidth, InputChannels, Filters] and, with a bias, <c>bias</c> [Filters].</summary>
    private protected override LayerTensor[] CreateTensors() => UseBias
        ? [Tensor("kernel", _weights, true, KernelHeight, KernelWidth, InputChannels, Filters), Tensor("bias", _bias, true, Filters)]
        : [Tensor("kernel", _weights, true, KernelHeight, KernelWidth, InputChannels, Filters)];
}

/// <summary>A 2-D max or average pooling layer, or a global average pooling (no parameters).</summary>
public sealed class PoolingLayer : Layer
{
    /// <summary>Creates the view (called by generated code).</summary>
    public PoolingLayer(Network owner, string name, int index, int[] outputShape, bool isMax, int poolHeight, int poolWidth, int strideHeight, int strideWidth, Padding padding,
        int padHeight = 0, int padWidth = 0, bool isGlobal = false, bool ceilMode = false)
        : base(owner, name, index, outputShape, 0, 0, 0)
    {
        CeilMode = ceilMode;
        PadHeight = padHeight;
        PadWidth = padWidth;
        IsGlobal = isGlobal;
        IsMax = isMax;
        PoolHeight = poolHeight;
        PoolWidth = poolWidth;
        StrideHeight = strideHeight;
        StrideWidth = strideWidth;
        Padding = padding;
    }

    /// <inheritdoc/>
    public override string Kind => IsGlobal ? "GlobalAveragePooling2D" : IsMax ? "MaxPool2D" : "AvgPool2D";

    /// <summary>Whether the output size rounds up (PyTorch's ceil_mode).</summary>
    public bool CeilMode { get; }

    /// <summary>A global average pooling: the window is the whole image, the output a vector of channels.</summary>
    public bool IsGlobal { get; }

    /// <summary>Explicit rows of padding above and below (with <see cref="Padding.Valid"/>).</summary>
    public int PadHeight { get; }

    /// <summary>Explicit columns of padding left and right (with <see cref="Padding.Valid"/>).</summary>
    public int PadWidth { get; }

    /// <summary>Max pooling (otherwise average).</summary>
    public bool IsMax { get; }

    /// <summary>Window rows.</summary>
    public int PoolHeight { get; }

    /// <summary>Window columns.</summary>
    public int PoolWidth { get; }

    /// <summary>Vertical step.</summary>
    public int StrideHeight { get; }

    /// <summary>Horizontal step.</summary>
    public int StrideWidth { get; }

    /// <summary>Border handling.</summary>
    public Padding Padding { get; }
}

/// <summary>Local response normalisation across channels (no parameters).</summary>
public sealed class LocalResponseNormalizationLayer : Layer
{
    /// <summary>Creates the view (called by generated code).</summary>
    public LocalResponseNormalizationLayer(Network owner, string name, int index, int[] outputShape, int size, float alpha, float beta, float bias)
        : base(owner, name, index, outputShape, 0, 0, 0)
    {
        Size = size;
        Alpha = alpha;
        Beta = beta;
        Bias = bias;
    }

    /// <inheritdoc/>
    public override string Kind => "LocalResponseNormalization";

    /// <summary>Channels summed.</summary>
    public int Size { get; }

    /// <summary>Scale of the sum of squares (divided by <see cref="Size"/>).</summary>
    public float Alpha { get; }

    /// <summary>Exponent.</summary>
    public float Beta { get; }

    /// <summary>Additive constant.</summary>
    public float Bias { get; }
}

/// <summary>Zeros around an image (no parameters).</summary>
public sealed class ZeroPaddingLayer : Layer
{
    /// <summary>Creates the view (called by generated code).</summary>
    public ZeroPaddingLayer(Network owner, string name, int index, int[] outputShape, int top, int bottom, int left, int right)
        : base(owner, name, index, outputShape, 0, 0, 0)
    {
        Top = top;
        Bottom = bottom;
        Left = left;
        Right = right;
    }

    /// <inheritdoc/>
    public override string Kind => "ZeroPadding2D";

    /// <summary>Rows above.</summary>
    public int Top { get; }

    /// <summary>Rows below.</summary>
    public int Bottom { get; }

    /// <summary>Columns on the left.</summary>
    public int Left { get; }

    /// <summary>Columns on the right.</summary>
    public int Right { get; }
}

/// <summary>Flattens an image to a feature vector, ordered (height, width, channels). No parameters, no copy.</summary>
public sealed class FlattenLayer : Layer
{
    /// <summary>Creates the view (called by generated code).</summary>
    public FlattenLayer(Network owner, string name, int index, int[] outputShape)
        : base(owner, name, index, outputShape, 0, 0, 0)
    {
    }

    /// <inheritdoc/>
    public override string Kind => "Flatten";
}

/// <summary>A merge of several layers' outputs: an element-wise sum (<c>Add</c>) or a concatenation (<c>Concat</c>). No parameters.</summary>
public sealed class MergeLayer : Layer
{
    private readonly string[] _inputs;

    /// <summary>Creates the view (called by generated code).</summary>
    public MergeLayer(Network owner, string name, int index, int[] outputShape, bool concatenates, string[] inputs, Activation activation)
        : base(owner, name, index, outputShape, 0, 0, 0)
    {
        Concatenates = concatenates;
        _inputs = inputs;
        Activation = activation;
    }

    /// <inheritdoc/>
    public override string Kind => Concatenates ? "Concat" : "Add";

    /// <summary>Whether the layer concatenates its inputs (along channels or features) rather than adding them.</summary>
    public bool Concatenates { get; }

    /// <summary>The merged layers' names, in order.</summary>
    public IReadOnlyList<string> Inputs => _inputs;

    /// <summary>The activation applied after the sum (Linear for a concatenation).</summary>
    public Activation Activation { get; }
}

/// <summary>Inverted dropout (training only).</summary>
public sealed class DropoutLayer : Layer
{
    /// <summary>Creates the view (called by generated code).</summary>
    public DropoutLayer(Network owner, string name, int index, int[] outputShape, float rate)
        : base(owner, name, index, outputShape, 0, 0, 0) => Rate = rate;

    /// <inheritdoc/>
    public override string Kind => "Dropout";

    /// <summary>Probability of dropping a value in training.</summary>
    public float Rate { get; }
}

/// <summary>A standalone activation.</summary>
public sealed class ActivationLayer : Layer
{
    /// <summary>Creates the view (called by generated code).</summary>
    public ActivationLayer(Network owner, string name, int index, int[] outputShape, Activation activation)
        : base(owner, name, index, outputShape, 0, 0, 0) => Activation = activation;

    /// <inheritdoc/>
    public override string Kind => "Activation";

    /// <summary>The function applied.</summary>
    public Activation Activation { get; }
}

/// <summary>
/// Batch normalisation: <c>y = gamma * (x - mean) / sqrt(var + epsilon) + beta</c> per channel. Gamma and beta train;
/// the moving mean and variance are updated from batch statistics in training and used in inference (and whenever
/// the layer is frozen, as Keras does).
/// </summary>
public sealed class BatchNormLayer : Layer
{
    private readonly long _gamma;
    private readonly long _beta;
    private readonly long _movingMean;
    private readonly long _movingVariance;

    /// <summary>Creates the view (called by generated code).</summary>
    public BatchNormLayer(Network owner, string name, int index, int[] outputShape, int channels, float momentum, float epsilon,
        long gammaOffset, long betaOffset, long movingMeanOffset, long movingVarianceOffset, int parameterLength)
        : base(owner, name, index, outputShape, gammaOffset, parameterLength, 2 * channels, 2 * channels)
    {
        Channels = channels;
        Momentum = momentum;
        Epsilon = epsilon;
        _gamma = gammaOffset;
        _beta = betaOffset;
        _movingMean = movingMeanOffset;
        _movingVariance = movingVarianceOffset;
    }

    /// <inheritdoc/>
    public override string Kind => "BatchNorm";

    /// <summary>Normalised channels (or features).</summary>
    public int Channels { get; }

    /// <summary>Weight of the old moving statistics in each update.</summary>
    public float Momentum { get; }

    /// <summary>Added to the variance before the square root.</summary>
    public float Epsilon { get; }

    /// <summary>Scale, [Channels] (starts at 1).</summary>
    public Span<float> Gamma => Arena.GetSpan(_gamma, Channels);

    /// <summary>Shift, [Channels] (starts at 0).</summary>
    public Span<float> Beta => Arena.GetSpan(_beta, Channels);

    /// <summary>Moving mean, [Channels] (starts at 0).</summary>
    public Span<float> MovingMean => Arena.GetSpan(_movingMean, Channels);

    /// <summary>Moving variance, [Channels] (starts at 1).</summary>
    public Span<float> MovingVariance => Arena.GetSpan(_movingVariance, Channels);

    /// <summary>Gradient of the last computed loss with respect to <see cref="Gamma"/>.</summary>
    public Span<float> GammaGradients => Arena.GetSpan(_gamma + GradientShift, Channels);

    /// <summary>Gradient of the last computed loss with respect to <see cref="Beta"/>.</summary>
    public Span<float> BetaGradients => Arena.GetSpan(_beta + GradientShift, Channels);

    /// <summary><c>gamma</c>, <c>beta</c> (trained), <c>moving_mean</c>, <c>moving_variance</c> (statistics), each [Channels].</summary>
    private protected override LayerTensor[] CreateTensors() =>
    [
        Tensor("gamma", _gamma, true, Channels),
        Tensor("beta", _beta, true, Channels),
        Tensor("moving_mean", _movingMean, false, Channels),
        Tensor("moving_variance", _movingVariance, false, Channels),
    ];
}

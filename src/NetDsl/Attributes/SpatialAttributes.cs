namespace NetDsl;

/// <summary>How a convolution or pooling window treats the borders (Keras semantics).</summary>
public enum Padding
{
    /// <summary>
    /// No padding beyond the explicit <c>Pad</c> amounts (0 by default): <c>out = floor((in + 2 pad - k) / stride) + 1</c>,
    /// rows and columns the stride cannot reach dropped (an error instead with <c>[Network(ExactWindows = true)]</c>).
    /// </summary>
    Valid = 0,

    /// <summary>Zero padding so that <c>out = ceil(in / stride)</c>; the extra row/column, if any, goes at the bottom/right.</summary>
    Same = 1,
}

/// <summary>
/// A 2-D convolution over a (channels, height, width) input: <c>filters</c> kernels of
/// <c>kernelHeight x kernelWidth x channels</c>, bias, and a fused activation. Put it on a <c>partial Conv2DLayer</c>
/// property. Weights start Glorot-uniform (fan-in k*k*c, fan-out k*k*filters), bias zero.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class Conv2DAttribute : LayerAttribute
{
    /// <summary>Declares a square-kernel convolution.</summary>
    public Conv2DAttribute(int filters, int kernelSize, Activation activation = Activation.Linear)
        : this(filters, kernelSize, kernelSize, activation)
    {
    }

    /// <summary>Declares a convolution with a <paramref name="kernelHeight"/> x <paramref name="kernelWidth"/> kernel.</summary>
    public Conv2DAttribute(int filters, int kernelHeight, int kernelWidth, Activation activation = Activation.Linear)
    {
        Filters = filters;
        KernelHeight = kernelHeight;
        KernelWidth = kernelWidth;
        Activation = activation;
    }

    /// <summary>Output channels.</summary>
    public int Filters { get; }

    /// <summary>Kernel rows.</summary>
    public int KernelHeight { get; }

    /// <summary>Kernel columns.</summary>
    public int KernelWidth { get; }

    /// <summary>The fused activation.</summary>
    public Activation Activation { get; }

    /// <summary>Step in both directions (default 1); <see cref="StrideHeight"/>/<see cref="StrideWidth"/> override it per direction.</summary>
    public int Stride { get; set; } = 1;

    /// <summary>Vertical step (0: use <see cref="Stride"/>).</summary>
    public int StrideHeight { get; set; }

    /// <summary>Horizontal step (0: use <see cref="Stride"/>).</summary>
    public int StrideWidth { get; set; }

    /// <summary>Border handling (default <see cref="Padding.Valid"/>).</summary>
    public Padding Padding { get; set; } = Padding.Valid;

    /// <summary>Zeros added on every side (PyTorch's and ONNX's symmetric <c>padding</c>/<c>pads</c>), with <see cref="Padding.Valid"/>;
    /// <see cref="PadHeight"/>/<see cref="PadWidth"/> override it per direction.</summary>
    public int Pad { get; set; }

    /// <summary>Rows of zeros above and below (0: use <see cref="Pad"/>).</summary>
    public int PadHeight { get; set; }

    /// <summary>Columns of zeros left and right (0: use <see cref="Pad"/>).</summary>
    public int PadWidth { get; set; }

    /// <summary>Whether the layer adds a bias per filter (default true).</summary>
    public bool UseBias { get; set; } = true;
}

/// <summary>What max and average pooling share: the window, the stride and the border handling.</summary>
public abstract class Pool2DAttribute : LayerAttribute
{
    /// <summary>Declares a <paramref name="poolHeight"/> x <paramref name="poolWidth"/> window.</summary>
    protected Pool2DAttribute(int poolHeight, int poolWidth)
    {
        PoolHeight = poolHeight;
        PoolWidth = poolWidth;
    }

    /// <summary>Window rows.</summary>
    public int PoolHeight { get; }

    /// <summary>Window columns.</summary>
    public int PoolWidth { get; }

    /// <summary>Step in both directions (0, the default: the window size, as Keras).</summary>
    public int Stride { get; set; }

    /// <summary>Border handling (default <see cref="Padding.Valid"/>).</summary>
    public Padding Padding { get; set; } = Padding.Valid;

    /// <summary>Padding on every side, with <see cref="Padding.Valid"/> (ResNet's 3x3 max pooling uses 1): padding cells never win a
    /// maximum and are not counted in an average. <see cref="PadHeight"/>/<see cref="PadWidth"/> override it per direction.</summary>
    public int Pad { get; set; }

    /// <summary>Rows of padding above and below (0: use <see cref="Pad"/>).</summary>
    public int PadHeight { get; set; }

    /// <summary>Columns of padding left and right (0: use <see cref="Pad"/>).</summary>
    public int PadWidth { get; set; }

    /// <summary>
    /// Round the output size up instead of down (PyTorch's <c>ceil_mode</c>, which GoogLeNet's pools use): a last,
    /// partial window is kept when it starts inside the input; its missing cells count as padding.
    /// </summary>
    public bool CeilMode { get; set; }
}

/// <summary>
/// Local response normalisation across channels (AlexNet, GoogLeNet; PyTorch's and ONNX's LRN):
/// <c>y_c = x_c / (Bias + Alpha / size * Σ x_c'^2)^Beta</c>, the sum over the <c>size</c> channels around c
/// (c - (size - 1) / 2 to c + size / 2). Put it on a <c>partial LocalResponseNormalizationLayer</c> property.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class LocalResponseNormalizationAttribute : LayerAttribute
{
    /// <summary>Declares the layer.</summary>
    /// <param name="size">Channels summed (the reference papers use 5).</param>
    public LocalResponseNormalizationAttribute(int size) => Size = size;

    /// <summary>Channels summed.</summary>
    public int Size { get; }

    /// <summary>Scale of the sum of squares (default 1e-4, divided by the size as PyTorch and ONNX do).</summary>
    public double Alpha { get; set; } = 1e-4;

    /// <summary>Exponent (default 0.75).</summary>
    public double Beta { get; set; } = 0.75;

    /// <summary>Additive constant (PyTorch's k, ONNX's bias; default 1).</summary>
    public double Bias { get; set; } = 1.0;
}

/// <summary>
/// Zeros around an image (Keras' ZeroPadding2D, ONNX's Pad): (C, H, W) to (C, top + H + bottom, left + W + right). Put it
/// on a <c>partial ZeroPaddingLayer</c> property.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class ZeroPadding2DAttribute : LayerAttribute
{
    /// <summary>The same padding on every side.</summary>
    public ZeroPadding2DAttribute(int padding) : this(padding, padding, padding, padding)
    {
    }

    /// <summary><paramref name="height"/> rows above and below, <paramref name="width"/> columns left and right.</summary>
    public ZeroPadding2DAttribute(int height, int width) : this(height, height, width, width)
    {
    }

    /// <summary>Each side's padding.</summary>
    public ZeroPadding2DAttribute(int top, int bottom, int left, int right)
    {
        Top = top;
        Bottom = bottom;
        Left = left;
        Right = right;
    }

    /// <summary>Rows above.</summary>
    public int Top { get; }

    /// <summary>Rows below.</summary>
    public int Bottom { get; }

    /// <summary>Columns on the left.</summary>
    public int Left { get; }

    /// <summary>Columns on the right.</summary>
    public int Right { get; }
}

/// <summary>
/// The average of each channel over the whole image: (channels, height, width) to a vector of channels (Keras'
/// GlobalAveragePooling2D, the head of ResNet and GoogLeNet). Put it on a <c>partial PoolingLayer</c> property.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class GlobalAveragePooling2DAttribute : LayerAttribute
{
}

/// <summary>2-D max pooling over each channel. Put it on a <c>partial PoolingLayer</c> property.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class MaxPool2DAttribute : Pool2DAttribute
{
    /// <summary>Declares a square window.</summary>
    public MaxPool2DAttribute(int poolSize) : base(poolSize, poolSize)
    {
    }

    /// <summary>Declares a <paramref name="poolHeight"/> x <paramref name="poolWidth"/> window.</summary>
    public MaxPool2DAttribute(int poolHeight, int poolWidth) : base(poolHeight, poolWidth)
    {
    }
}

/// <summary>2-D average pooling over each channel (padding cells are not counted). Put it on a <c>partial PoolingLayer</c> property.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class AvgPool2DAttribute : Pool2DAttribute
{
    /// <summary>Declares a square window.</summary>
    public AvgPool2DAttribute(int poolSize) : base(poolSize, poolSize)
    {
    }

    /// <summary>Declares a <paramref name="poolHeight"/> x <paramref name="poolWidth"/> window.</summary>
    public AvgPool2DAttribute(int poolHeight, int poolWidth) : base(poolHeight, poolWidth)
    {
    }
}

/// <summary>
/// Flattens a (channels, height, width) input to one feature vector. The internal layout is channels-last, so the
/// features are ordered (height, width, channels), as Keras' default. Put it on a <c>partial FlattenLayer</c> property.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class FlattenAttribute : LayerAttribute
{
}

/// <summary>
/// Inverted dropout: in training each value is zeroed with probability <c>rate</c> and the rest scaled by
/// <c>1 / (1 - rate)</c>; in inference it is the identity. Masks come from a counter-based generator seeded by the
/// network's seed and the step number (reproducible, no mask buffer). Put it on a <c>partial DropoutLayer</c> property.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class DropoutAttribute : LayerAttribute
{
    /// <summary>Declares the layer.</summary>
    /// <param name="rate">Probability of dropping a value, in [0, 1).</param>
    public DropoutAttribute(double rate) => Rate = rate;

    /// <summary>Probability of dropping a value.</summary>
    public double Rate { get; }
}

/// <summary>
/// Batch normalisation per channel (after a convolution) or per feature (after a dense layer): batch statistics in
/// training, moving statistics in inference; a frozen BatchNorm runs in inference mode, as Keras. Put it on a
/// <c>partial BatchNormLayer</c> property.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class BatchNormAttribute : LayerAttribute
{
    /// <summary>Weight of the old moving statistics in each update (Keras default 0.99).</summary>
    public double Momentum { get; set; } = 0.99;

    /// <summary>Added to the variance before the square root (Keras default 0.001).</summary>
    public double Epsilon { get; set; } = 0.001;
}

/// <summary>A standalone activation layer. Put it on a <c>partial ActivationLayer</c> property.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class ActivationAttribute : LayerAttribute
{
    /// <summary>Declares the layer.</summary>
    public ActivationAttribute(Activation activation) => Activation = activation;

    /// <summary>The function applied.</summary>
    public Activation Activation { get; }
}

namespace NetDsl;

/// <summary>
/// Marks a <c>partial class</c> as a NetDsl network. Its layers are the partial properties carrying a layer
/// attribute (such as <see cref="DenseAttribute"/>), in declaration order; its input is given by
/// <see cref="InputAttribute"/>. The NetDsl source generator checks the shapes at compile time and emits the
/// training and inference code for exactly this architecture.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class NetworkAttribute : Attribute
{
    /// <summary>The loss minimised by <c>TrainStep</c>.</summary>
    public Loss Loss { get; set; } = Loss.SparseCategoricalCrossEntropy;

    /// <summary>
    /// Whether every convolution and pooling window must tile its (padded) input exactly (default false: the last rows
    /// and columns a stride cannot reach are dropped, as in Keras and PyTorch). With true, such a layer is compile error
    /// NDSL0017, which names the numbers.
    /// </summary>
    public bool ExactWindows { get; set; }
}

/// <summary>The shape of one input sample, channels first (e.g. <c>[Input(784)]</c> or <c>[Input(1, 28, 28)]</c>).</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class InputAttribute : Attribute
{
    /// <summary>Declares the input shape.</summary>
    public InputAttribute(params int[] shape) => Shape = shape;

    /// <summary>The dimensions of one sample.</summary>
    public int[] Shape { get; }
}

/// <summary>Base of the attributes that declare a layer on a partial property.</summary>
/// <remarks>
/// A network is a graph of layers. By default a layer takes the output of the layer declared just before it (the
/// network's input for the first one), so a plain list of properties is a chain; <see cref="Input"/> names another
/// layer, and the merge layers (<see cref="AddAttribute"/>, <see cref="ConcatAttribute"/>) name several. Layers are
/// declared after the layers they read, every layer's output must be used, and the last layer is the network's output.
/// </remarks>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public abstract class LayerAttribute : Attribute
{
    /// <summary>The name <see cref="Input"/> gives the network's input (not a layer name: no property can have it).</summary>
    public const string NetworkInput = "(input)";

    /// <summary>
    /// The layer whose output this layer takes, by property name (write <c>nameof(Stem)</c>), or <see cref="NetworkInput"/>;
    /// null (the default): the layer declared just before this one. Merge layers take theirs from their constructor.
    /// </summary>
    public string? Input { get; set; }
}

/// <summary>Base of the layers that combine the outputs of several layers.</summary>
public abstract class MergeAttribute : LayerAttribute
{
    /// <summary>Declares the merge of <paramref name="inputs"/>.</summary>
    /// <param name="inputs">The layers merged, by property name (<c>nameof(...)</c>; <see cref="LayerAttribute.NetworkInput"/> for the input), at least two.</param>
    protected MergeAttribute(string[] inputs) => Inputs = inputs;

    /// <summary>The merged layers' names, in order.</summary>
    public string[] Inputs { get; }
}

/// <summary>
/// Element-wise sum of layers of the same shape, then an optional activation (a residual connection:
/// <c>[Add(nameof(Conv2b), nameof(Shortcut), Activation = Activation.ReLU)]</c>). Put it on a <c>partial MergeLayer</c> property.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class AddAttribute : MergeAttribute
{
    /// <summary>Declares the sum of <paramref name="inputs"/> (at least two layers of the same shape).</summary>
    public AddAttribute(params string[] inputs) : base(inputs)
    {
    }

    /// <summary>The activation applied to the sum (default Linear).</summary>
    public Activation Activation { get; set; } = Activation.Linear;
}

/// <summary>
/// Concatenation of layers along the channels (images of the same height and width, as an Inception module's branches)
/// or along the features (vectors). Put it on a <c>partial MergeLayer</c> property.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class ConcatAttribute : MergeAttribute
{
    /// <summary>Declares the concatenation of <paramref name="inputs"/>, in order (at least two).</summary>
    public ConcatAttribute(params string[] inputs) : base(inputs)
    {
    }
}

/// <summary>
/// A fully connected layer <c>y = activation(x · W + b)</c> with <c>W</c> of shape [inputs, units] (the Keras
/// kernel layout). Put it on a <c>partial DenseLayer</c> property. Weights start Glorot-uniform, bias zero.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false, AllowMultiple = false)]
public sealed class DenseAttribute : LayerAttribute
{
    /// <summary>Declares the layer.</summary>
    /// <param name="units">Output features, positive.</param>
    /// <param name="activation">The activation fused into the layer.</param>
    public DenseAttribute(int units, Activation activation = Activation.Linear)
    {
        Units = units;
        Activation = activation;
    }

    /// <summary>Output features.</summary>
    public int Units { get; }

    /// <summary>The fused activation.</summary>
    public Activation Activation { get; }

    /// <summary>Whether the layer adds a bias (default true).</summary>
    public bool UseBias { get; set; } = true;
}

/// <summary>Element-wise (or, for <see cref="Softmax"/>, row-wise) activations.</summary>
public enum Activation
{
    /// <summary><c>f(x) = x</c>.</summary>
    Linear = 0,
    /// <summary><c>f(x) = max(x, 0)</c>.</summary>
    ReLU = 1,
    /// <summary><c>f(x) = 1 / (1 + e^-x)</c>.</summary>
    Sigmoid = 2,
    /// <summary><c>f(x) = tanh(x)</c>.</summary>
    Tanh = 3,
    /// <summary>Row-wise <c>e^x / sum(e^x)</c>.</summary>
    Softmax = 4,
}

/// <summary>Losses a network can be trained with.</summary>
public enum Loss
{
    /// <summary>
    /// Cross-entropy between integer class labels and the softmax of the last layer. The last layer must have
    /// <see cref="Activation.Softmax"/> or <see cref="Activation.Linear"/> (logits); either way the softmax and
    /// the loss are fused, and the backward pass starts from <c>p - onehot(label)</c>. <c>Predict</c> returns
    /// probabilities. Takes integer labels.
    /// </summary>
    SparseCategoricalCrossEntropy = 0,

    /// <summary>
    /// Cross-entropy between target distributions (one-hot rows) and the softmax of the last layer, summed over the
    /// classes: <c>-sum t log p</c>. Softmax or Linear (logits) last layer, fused like the sparse form. Float targets.
    /// </summary>
    CategoricalCrossEntropy = 1,

    /// <summary>
    /// Binary cross-entropy of each output as an independent probability, averaged over the outputs. Sigmoid or
    /// Linear (logits) last layer; the sigmoid is fused and the loss computed stably from the logits. Float targets in [0, 1].
    /// </summary>
    BinaryCrossEntropy = 2,

    /// <summary>Mean squared error over the outputs: <c>mean (y - t)^2</c>. Float targets (regression).</summary>
    MeanSquaredError = 3,

    /// <summary>Mean absolute error over the outputs: <c>mean |y - t|</c>. Float targets (regression).</summary>
    MeanAbsoluteError = 4,

    /// <summary>Mean absolute percentage error: <c>100 mean |t - y| / max(|t|, 1e-7)</c>. Float targets (regression).</summary>
    MeanAbsolutePercentageError = 5,

    /// <summary>Mean squared logarithmic error: <c>mean (log(1 + max(y, 1e-7)) - log(1 + max(t, 1e-7)))^2</c>. Float targets.</summary>
    MeanSquaredLogarithmicError = 6,

    /// <summary>Hinge loss <c>mean max(0, 1 - t y)</c> on raw scores (Linear or Tanh last layer); targets -1/1 (0/1 are converted, as Keras does).</summary>
    Hinge = 7,

    /// <summary>Squared hinge loss <c>mean max(0, 1 - t y)^2</c>; as <see cref="Hinge"/> otherwise.</summary>
    SquaredHinge = 8,
}

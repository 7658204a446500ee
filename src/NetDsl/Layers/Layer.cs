namespace NetDsl;

/// <summary>
/// A view of one layer of a generated network: its shapes, its parameters and gradients (spans into the
/// network's arena) and whether training updates it.
/// </summary>
public abstract class Layer
{
    private readonly Network _owner;
    private readonly int[] _outputShape;
    private LayerTensor[]? _tensors;
    private Layer?[] _sources = [];

    /// <summary>Creates the view (called by generated code).</summary>
    /// <param name="owner">The network.</param>
    /// <param name="name">The declaring property's name.</param>
    /// <param name="index">Position in the network.</param>
    /// <param name="outputShape">One output sample's shape (channels first for images).</param>
    /// <param name="parameterOffset">Start of the layer's trainable block in the arena.</param>
    /// <param name="parameterLength">Floats of the trainable block the optimizer updates (padding included).</param>
    /// <param name="parameterCount">Trainable parameters.</param>
    /// <param name="nonTrainableCount">Parameters that training never updates through gradients (e.g. moving statistics).</param>
    protected Layer(Network owner, string name, int index, int[] outputShape, long parameterOffset, int parameterLength, int parameterCount, int nonTrainableCount = 0)
    {
        _owner = owner;
        Name = name;
        Index = index;
        _outputShape = outputShape;
        ParameterOffset = parameterOffset;
        ParameterLength = parameterLength;
        ParameterCount = parameterCount + nonTrainableCount;
        NonTrainableParameterCount = nonTrainableCount;
    }

    /// <summary>The property name that declared the layer.</summary>
    public string Name { get; }

    /// <summary>Position in the network, from 0.</summary>
    public int Index { get; }

    /// <summary>The layer type as the summary shows it (e.g. "Dense").</summary>
    public abstract string Kind { get; }

    /// <summary>
    /// The layers whose outputs this layer reads, in order (one for most layers, several for merge layers); null
    /// stands for the network's input. Tools that walk the network as a graph (ONNX import and export) read this.
    /// </summary>
    public IReadOnlyList<Layer?> Sources => _sources;

    /// <summary>Sets <see cref="Sources"/> (the generated constructor, through <c>Network.SetGraph</c>).</summary>
    internal void SetSources(Layer?[] sources) => _sources = sources;

    /// <summary>Shape of one sample of the layer's output (without the batch dimension).</summary>
    public ReadOnlySpan<int> OutputShape => _outputShape;

    /// <summary>Number of parameters (weights, biases, and statistics such as BatchNorm's moving mean and variance).</summary>
    public int ParameterCount { get; }

    /// <summary>Parameters never updated by gradients (e.g. BatchNorm's moving statistics).</summary>
    public int NonTrainableParameterCount { get; }

    /// <summary>
    /// Whether training computes gradients for and updates this layer (default true). A frozen layer's
    /// parameters stay bit-identical, and the backward pass stops below the lowest trainable layer.
    /// </summary>
    public bool Trainable { get; set; } = true;

    /// <summary>Start of this layer's parameter block in the arena (its gradients sit at the same place in the gradient block).</summary>
    internal long ParameterOffset { get; }

    /// <summary>Floats in the parameter block, alignment padding included.</summary>
    internal int ParameterLength { get; }

    /// <summary>
    /// The layer's named tensors (e.g. <c>kernel</c> and <c>bias</c>), in arena order: the parameters the layer
    /// really has, never alignment padding. Their <see cref="LayerTensor.FullName"/>s are the tensor names of weight
    /// files and checkpoints. Empty for layers without parameters.
    /// </summary>
    public IReadOnlyList<LayerTensor> Tensors => _tensors ??= CreateTensors();

    /// <summary>The owning network's arena.</summary>
    protected Arena Arena => _owner.Arena;

    /// <summary>Offset between a parameter and its gradient.</summary>
    protected long GradientShift => _owner.GradientShift;

    /// <summary>A view of the owner's arena (for <see cref="LayerTensor.Values"/>).</summary>
    internal Span<float> ArenaSpan(long offset, int length) => _owner.Arena.GetSpan(offset, length);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Kind}), output ({string.Join(", ", _outputShape)}), {ParameterCount} params";

    /// <summary>Describes the layer's tensors (called once, on first use of <see cref="Tensors"/>); none by default.</summary>
    private protected virtual LayerTensor[] CreateTensors() => [];

    /// <summary>A tensor of this layer at <paramref name="offset"/> in the arena.</summary>
    private protected LayerTensor Tensor(string name, long offset, bool trainable, params int[] shape) => new(this, name, shape, offset, trainable);
}

/// <summary>
/// One named tensor of a layer (e.g. a Dense layer's <c>kernel</c>): its name, its shape in the layer's documented
/// layout, where it lives in the network's arena, and whether the optimizer trains it.
/// </summary>
public sealed class LayerTensor
{
    private readonly int[] _shape;

    internal LayerTensor(Layer layer, string name, int[] shape, long offset, bool trainable)
    {
        Layer = layer;
        Name = name;
        FullName = $"{layer.Name}.{name}";
        _shape = shape;
        long length = 1;
        foreach (int dimension in shape)
        {
            length *= dimension;
        }

        Length = checked((int)length);
        Offset = offset;
        Trainable = trainable;
    }

    /// <summary>The layer the tensor belongs to.</summary>
    public Layer Layer { get; }

    /// <summary>The tensor's name within its layer, as Keras names it: <c>kernel</c>, <c>bias</c>, <c>gamma</c>, <c>beta</c>, <c>moving_mean</c>, <c>moving_variance</c>.</summary>
    public string Name { get; }

    /// <summary><c>{Layer}.{Name}</c>, e.g. <c>Conv1.kernel</c>: the tensor's name in weight files and checkpoints.</summary>
    public string FullName { get; }

    /// <summary>The shape, row-major, in the layer's documented layout (Dense kernel [inputs, units], Conv2D kernel [kh, kw, in, filters]).</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>Number of floats (the product of <see cref="Shape"/>).</summary>
    public int Length { get; }

    /// <summary>
    /// Whether the optimizer updates the tensor from gradients (and keeps state for it): true for kernels, biases,
    /// BatchNorm's gamma and beta; false for statistics such as BatchNorm's moving mean and variance. Independent of
    /// freezing (<see cref="Layer.Trainable"/>).
    /// </summary>
    public bool Trainable { get; }

    /// <summary>The tensor's values: a view into the network's arena.</summary>
    public Span<float> Values => Layer.ArenaSpan(Offset, Length);

    /// <summary>Start of the tensor in the arena, in floats; its gradient and optimizer state sit at fixed distances from it.</summary>
    internal long Offset { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{FullName} [{string.Join(", ", _shape)}]{(Trainable ? "" : " (not trainable)")}";
}

/// <summary>A fully connected layer: <c>y = activation(x · W + b)</c>.</summary>
public sealed class DenseLayer : Layer
{
    private readonly long _weights;
    private readonly long _bias;

    /// <summary>Creates the view (called by generated code).</summary>
    public DenseLayer(Network owner, string name, int index, int inputs, int units, Activation activation, bool useBias,
        long weightOffset, long biasOffset, int parameterLength)
        : base(owner, name, index, [units], weightOffset, parameterLength, inputs * units + (useBias ? units : 0))
    {
        Inputs = inputs;
        Units = units;
        Activation = activation;
        UseBias = useBias;
        _weights = weightOffset;
        _bias = biasOffset;
    }

    /// <inheritdoc/>
    public override string Kind => "Dense";

    /// <summary>Input features.</summary>
    public int Inputs { get; }

    /// <summary>Output features.</summary>
    public int Units { get; }

    /// <summary>The fused activation.</summary>
    public Activation Activation { get; }

    /// <summary>Whether the layer has a bias.</summary>
    public bool UseBias { get; }

    /// <summary>The weights, [Inputs, Units] row-major (Keras kernel layout).</summary>
    public Span<float> Weights => Arena.GetSpan(_weights, Inputs * Units);

    /// <summary>The bias, [Units] (empty without bias).</summary>
    public Span<float> Bias => UseBias ? Arena.GetSpan(_bias, Units) : Span<float>.Empty;

    /// <summary>Gradient of the last computed loss with respect to <see cref="Weights"/>.</summary>
    public Span<float> WeightGradients => Arena.GetSpan(_weights + GradientShift, Inputs * Units);

    /// <summary>Gradient of the last computed loss with respect to <see cref="Bias"/>.</summary>
    public Span<float> BiasGradients => UseBias ? Arena.GetSpan(_bias + GradientShift, Units) : Span<float>.Empty;

    /// <summary><c>kernel</c> [Inputs, Units] and, with a bias, <c>bias</c> [Units].</summary>
    private protected override LayerTensor[] CreateTensors() => UseBias
        ? [Tensor("kernel", _weights, true, Inputs, Units), Tensor("bias", _bias, true, Units)]
        : [Tensor("kernel", _weights, true, Inputs, Units)];
}

namespace NetDsl.Generators.Model;

/// <summary>Layer kinds the DSL knows (mirrors the runtime's layer attributes).</summary>
public enum LayerKind
{
    Dense,
    Conv2D,
    MaxPool2D,
    AvgPool2D,
    Flatten,
    Dropout,
    BatchNorm,
    Activation,
    Add,
    Concat,
    GlobalAveragePooling2D,
    ZeroPadding2D,
    LocalResponseNormalization,
    /// <summary>A use of a block class (expanded into the block's layers before shape inference).</summary>
    Blocks,
}

/// <summary>Mirrors NetDsl.Padding (same numeric values).</summary>
public enum PaddingKind
{
    Valid = 0,
    Same = 1,
}

/// <summary>Mirrors NetDsl.Activation (same numeric values).</summary>
public enum ActivationKind
{
    Linear = 0,
    ReLU = 1,
    Sigmoid = 2,
    Tanh = 3,
    Softmax = 4,
}

/// <summary>Mirrors NetDsl.Loss (same numeric values).</summary>
public enum LossKind
{
    SparseCategoricalCrossEntropy = 0,
    CategoricalCrossEntropy = 1,
    BinaryCrossEntropy = 2,
    MeanSquaredError = 3,
    MeanAbsoluteError = 4,
    MeanAbsolutePercentageError = 5,
    MeanSquaredLogarithmicError = 6,
    Hinge = 7,
    SquaredHinge = 8,
}

/// <summary>One declared layer, as written (values may be invalid: shape inference checks them).</summary>
/// <param name="Name">The property name.</param>
/// <param name="Kind">Which layer attribute.</param>
/// <param name="Units">Dense: output features; Conv2D: filters.</param>
/// <param name="Activation">The fused (or, for an Activation layer, the applied) activation, raw value.</param>
/// <param name="UseBias">Whether a bias is added.</param>
/// <param name="PropertyType">The property's declared type, fully qualified.</param>
/// <param name="Accessibility">The property's accessibility keywords as written (e.g. "public").</param>
/// <param name="Attribute">Where the layer attribute is.</param>
/// <param name="WindowHeight">Conv2D kernel or pooling window rows.</param>
/// <param name="WindowWidth">Conv2D kernel or pooling window columns.</param>
/// <param name="StrideHeight">Vertical stride as written (0: default).</param>
/// <param name="StrideWidth">Horizontal stride as written (0: default).</param>
/// <param name="Padding">Raw NetDsl.Padding value.</param>
/// <param name="Rate">Dropout rate.</param>
/// <param name="Momentum">BatchNorm momentum.</param>
/// <param name="Epsilon">BatchNorm epsilon.</param>
/// <param name="Inputs">The layers read, by name as written: empty for the previous layer (the default), one name for
/// <c>Input = ...</c>, a merge's names; <see cref="NetworkInputName"/> for the network's input; null entries for names that
/// were not constant strings.</param>
/// <param name="MergeSetsInput">A merge layer that also set <c>Input</c> (its inputs come from its constructor).</param>
/// <param name="PadHeight">Explicit rows of padding above and below (Conv2D, pooling; with Padding.Valid).</param>
/// <param name="PadWidth">Explicit columns of padding left and right.</param>
/// <param name="CeilMode">Pooling: round the output size up (PyTorch's ceil_mode).</param>
/// <param name="Alpha">LocalResponseNormalization: the scale of the sum of squares (Units: the size; Beta and Bias below).</param>
/// <param name="Beta">LocalResponseNormalization: the exponent.</param>
/// <param name="Bias">LocalResponseNormalization: the additive constant.</param>
/// <param name="PadBottom">ZeroPadding2D: rows below (PadHeight: rows above).</param>
/// <param name="PadRight">ZeroPadding2D: columns on the right (PadWidth: columns on the left).</param>
/// <param name="BlockType">A <c>Blocks</c> use: the block class, fully qualified.</param>
/// <param name="Arguments">A <c>Blocks</c> use: the values of the block's parameters.</param>
/// <param name="Owner">A layer of a block use: the use's property name (the layer has no property of its own).</param>
public sealed record LayerSpec(
    string Name,
    LayerKind Kind,
    int Units,
    int Activation,
    bool UseBias,
    string PropertyType,
    string Accessibility,
    LocationInfo? Attribute,
    int WindowHeight = 0,
    int WindowWidth = 0,
    int StrideHeight = 0,
    int StrideWidth = 0,
    int Padding = 0,
    double Rate = 0,
    double Momentum = 0.99,
    double Epsilon = 0.001,
    EquatableArray<string> Inputs = default,
    bool MergeSetsInput = false,
    int PadHeight = 0,
    int PadWidth = 0,
    bool CeilMode = false,
    double Alpha = 0,
    double Beta = 0,
    double Bias = 0,
    int PadBottom = 0,
    int PadRight = 0,
    string? BlockType = null,
    EquatableArray<int> Arguments = default,
    string? Owner = null)
{
    /// <summary>Mirrors NetDsl.LayerAttribute.NetworkInput.</summary>
    public const string NetworkInputName = "(input)";

    public bool IsMerge => Kind is LayerKind.Add or LayerKind.Concat;
}

/// <summary>The whole declaration, as plain equatable data: the output of the syntax stage.</summary>
public sealed record NetworkSpec(
    string? Namespace,
    string ClassName,
    string Accessibility,
    int Loss,
    LocationInfo? NetworkAttribute,
    EquatableArray<int> InputShape,
    bool HasInput,
    LocationInfo? InputAttribute,
    EquatableArray<LayerSpec> Layers,
    bool ExactWindows = false,
    EquatableArray<BlockUseSpec> BlockUses = default);

/// <summary>
/// One <c>[Blocks(...)]</c> property after expansion: its name, declared type and accessibility, the block class, and
/// the names (relative to one block) of the block's layers, which are <c>Name[i].Layer</c> in the network.
/// </summary>
public sealed record BlockUseSpec(string Name, string PropertyType, string Accessibility, string BlockType, int Count, EquatableArray<string> LayerNames);

/// <summary>
/// A <c>[Block]</c> class as written: its parameters (the names of its placeholder constants, by position) and its layers
/// with placeholder values unreplaced.
/// </summary>
public sealed record BlockSpec(
    string? Namespace,
    string ClassName,
    string FullName,
    string Accessibility,
    EquatableArray<string> Parameters,
    EquatableArray<LayerSpec> Layers,
    LocationInfo? Attribute);

/// <summary>
/// What the syntax stage produced for a block class: its spec when it can be used, its diagnostics, and (for a block
/// with errors) its full name and the stub that keeps its partial properties compiling.
/// </summary>
public sealed record BlockParseResult(BlockSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics, string? FullName = null, ErrorStubSpec? Stub = null);

/// <summary>
/// What the syntax stage produced: a spec when the class can be generated, its diagnostics, and the stub emitted
/// instead of the network when any stage finds an error.
/// </summary>
public sealed record ParseResult(NetworkSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics, ErrorStubSpec? Stub = null);

/// <summary>What a stub derives from, which decides the members it can give the class.</summary>
public enum StubBase
{
    /// <summary>Neither (an unsupported class shape): only the partial properties are implemented.</summary>
    None,
    /// <summary>NetDsl.Network: constructors, ForInference, Summary and the abstract members too.</summary>
    Network,
    /// <summary>NetDsl.Block: the constructor the network's code calls.</summary>
    Block,
}

/// <summary>
/// A partial property without an implementation, as declared: its name as C# spells it (<c>@int</c>, or an indexer's
/// <c>this[...]</c>), modifiers and accessors as written, the type fully qualified.
/// </summary>
public sealed record StubProperty(string Name, string Type, string Modifiers, EquatableArray<string> Accessors);

/// <summary>
/// The smallest implementation that compiles, for a network or block class whose declaration has errors: every member
/// throws an InvalidOperationException naming the errors, so the build shows the NDSL errors and nothing else.
/// </summary>
/// <param name="Namespace">The class's namespace, or null.</param>
/// <param name="ClassName">The class's name.</param>
/// <param name="Containers">The declarations of the types it is nested in, outermost first (all partial).</param>
/// <param name="Declaration">The class's declaration header without modifiers (<c>partial class Foo&lt;T&gt;</c>).</param>
/// <param name="Base">What it derives from.</param>
/// <param name="Properties">The partial properties to implement, each name once.</param>
/// <param name="Causes">Errors reported elsewhere that stop this class (a broken block it uses), for the message.</param>
/// <param name="What">"Network" or "Block", for the message.</param>
public sealed record ErrorStubSpec(
    string? Namespace,
    string ClassName,
    EquatableArray<string> Containers,
    string Declaration,
    StubBase Base,
    EquatableArray<StubProperty> Properties,
    EquatableArray<DiagnosticInfo> Causes = default,
    string What = "Network");

namespace NetDsl.Generators.Model;

/// <summary>Layer kinds the DSL knows (mirrors the runtime's layer attributes).</summary>
public enum LayerKind
{
    Dense,
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
}

/// <summary>One declared layer, as written: the output of the syntax stage.</summary>
/// <param name="Name">The property name.</param>
/// <param name="Kind">Which layer attribute.</param>
/// <param name="Units">Dense: output features as written (may be invalid; shape inference checks).</param>
/// <param name="Activation">The fused activation (raw value; may be out of range).</param>
/// <param name="UseBias">Whether a bias is added.</param>
/// <param name="PropertyType">The property's declared type, fully qualified.</param>
/// <param name="Accessibility">The property's accessibility keywords as written (e.g. "public").</param>
/// <param name="Attribute">Where the layer attribute is.</param>
public sealed record LayerSpec(
    string Name,
    LayerKind Kind,
    int Units,
    int Activation,
    bool UseBias,
    string PropertyType,
    string Accessibility,
    LocationInfo? Attribute);

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
    EquatableArray<LayerSpec> Layers);

/// <summary>What the syntax stage produced: a spec when the class can be generated, and its diagnostics.</summary>
public sealed record ParseResult(NetworkSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);

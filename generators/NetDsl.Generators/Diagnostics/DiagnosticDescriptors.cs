using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace NetDsl.Generators.Diagnostics;

/// <summary>
/// Every diagnostic the generator reports, with stable ids. Ids are never reused; a retired diagnostic keeps its
/// id reserved (see AnalyzerReleases.*.md).
/// </summary>
public static class DiagnosticDescriptors
{
    private const string Category = "NetDsl";

    public static readonly DiagnosticDescriptor ClassNotPartial = new(
        "NDSL0001", "Network class must be partial",
        "The network class '{0}' must be declared 'partial' so NetDsl can generate its implementation",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MissingInput = new(
        "NDSL0002", "Network has no input",
        "The network '{0}' has no [Input(...)] attribute declaring the shape of one sample",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NonPositiveSize = new(
        "NDSL0003", "Sizes must be positive",
        "{0} is {1}; it must be a positive integer",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor LossActivationMismatch = new(
        "NDSL0004", "Activation does not fit the loss",
        "The last layer '{0}' uses activation {1}, which makes no sense with loss {2}: {3}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownMember = new(
        "NDSL0005", "Unknown network member",
        "The partial property '{0}' of network '{1}' has no layer attribute; NetDsl cannot implement it (add a layer attribute such as [Dense(...)] or make it a normal property)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NoLayers = new(
        "NDSL0006", "Network has no layers",
        "The network '{0}' declares no layers; add partial properties with layer attributes such as [Dense(10)]",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor LayerTypeMismatch = new(
        "NDSL0007", "Layer property has the wrong type",
        "The layer '{0}' is declared with [{1}] and must have type {2}, not {3}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor LayerNotPartial = new(
        "NDSL0008", "Layer property must be partial",
        "The layer property '{0}' must be an instance property declared 'partial' with only a getter, such as 'public partial DenseLayer {0} {{ get; }}'",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnsupportedClassShape = new(
        "NDSL0009", "Unsupported network class",
        "The network class '{0}' cannot be generated: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DenseNeedsFlatInput = new(
        "NDSL0010", "Dense needs a flat input",
        "The Dense layer '{0}' receives an input of shape {1}; Dense takes a 1-D input",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor TooFewClasses = new(
        "NDSL0011", "Classifier needs at least two classes",
        "The last layer '{0}' has {1} unit(s), but {2} needs at least 2 classes",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownEnumValue = new(
        "NDSL0012", "Unknown option value",
        "{0} has the value {1}, which is not a defined {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NetworkTooLarge = new(
        "NDSL0013", "Network too large",
        "The network '{0}' needs {1} floats of parameters, more than the {2} a NetDsl arena block supports",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ReservedLayerName = new(
        "NDSL0014", "Layer name is reserved",
        "The layer name '{0}' collides with a member NetDsl generates or inherits from NetDsl.Network; rename the property",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NeedsImageInput = new(
        "NDSL0015", "Layer needs an image input",
        "The {0} layer '{1}' needs a (channels, height, width) input, but receives {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor WindowLargerThanInput = new(
        "NDSL0016", "Window larger than its input",
        "The {0} layer '{1}' has a {2}x{3} window, larger than its {4}x{5} input",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NonIntegralOutput = new(
        "NDSL0017", "Window does not tile the input",
        "The {0} layer '{1}' does not tile its input {2}: (size - window) / stride + 1 = ({3} - {4}) / {5} + 1 = {6} is not a whole number, and the network asks for exact windows (ExactWindows = true); change the stride, the window or the padding, or use Padding.Same",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MisplacedLayer = new(
        "NDSL0018", "Layer placed where it makes no sense",
        "The {0} layer '{1}' makes no sense here: {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor OutOfRange = new(
        "NDSL0019", "Option out of range",
        "{0} is {1}; it must be in {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor LossNeedsClassScores = new(
        "NDSL0020", "Loss needs class scores",
        "The last layer '{0}' outputs {1}, but {2} needs a flat output (one score per class or one value per target); end the network with Flatten and Dense(units)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NoTrainableLayer = new(
        "NDSL0021", "No trainable layer",
        "The network '{0}' has no layer with trainable parameters; add a Dense or Conv2D layer",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownInput = new(
        "NDSL0022", "Unknown input layer",
        "'{0}' takes its input from '{1}', which is not a layer of '{2}'{3}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InputNotDeclaredBefore = new(
        "NDSL0023", "Layer reads a layer declared after it",
        "'{0}' takes its input from '{1}', {2}; declare every layer after the layers it reads",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnusedLayer = new(
        "NDSL0024", "Layer output never used",
        "The output of '{0}' is never used: no later layer reads it and it is not the last layer ('{1}', the network's output)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MergeShapeMismatch = new(
        "NDSL0025", "Merged shapes do not match",
        "{0} '{1}': '{2}' is {3} but '{4}' is {5}{6}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadMergeInputs = new(
        "NDSL0026", "Merge needs two or more distinct inputs",
        "{0} '{1}' {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BadBlockUse = new(
        "NDSL0027", "Block use does not fit its block",
        "The block use '{0}' cannot be expanded: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DuplicateLayer = new(
        "NDSL0028", "Layer declared twice",
        "The layer '{0}' of '{1}' is already declared at {2}; a layer property is declared once, in one partial declaration of the class",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InternalError = new(
        "NDSL9999", "NetDsl generator internal error",
        "NetDsl could not generate '{0}' because of an internal error ({1}); please report it",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>All descriptors, by id.</summary>
    public static readonly IReadOnlyDictionary<string, DiagnosticDescriptor> ById = new[]
    {
        ClassNotPartial, MissingInput, NonPositiveSize, LossActivationMismatch, UnknownMember, NoLayers,
        LayerTypeMismatch, LayerNotPartial, UnsupportedClassShape, DenseNeedsFlatInput, TooFewClasses,
        UnknownEnumValue, NetworkTooLarge, ReservedLayerName, NeedsImageInput, WindowLargerThanInput, NonIntegralOutput,
        MisplacedLayer, OutOfRange, LossNeedsClassScores, NoTrainableLayer, UnknownInput, InputNotDeclaredBefore, UnusedLayer,
        MergeShapeMismatch, BadMergeInputs, BadBlockUse, DuplicateLayer, InternalError,
    }.ToDictionary(d => d.Id);
}

using System;
using System.Collections.Generic;
using System.Linq;
using NetDsl.Generators.Diagnostics;
using NetDsl.Generators.Model;

namespace NetDsl.Generators.Shapes;

/// <summary>A layer with its shapes resolved.</summary>
/// <param name="Spec">The declaration.</param>
/// <param name="Index">Position, from 0.</param>
/// <param name="InputShape">Shape of one input sample.</param>
/// <param name="OutputShape">Shape of one output sample.</param>
/// <param name="ParameterCount">Weights plus biases (and BatchNorm statistics).</param>
/// <param name="Window">Conv2D and pooling window arithmetic.</param>
/// <param name="Inputs">The indices of the layers it reads (-1: the network's input); a chain's layer reads the one before.</param>
public sealed record ShapedLayer(LayerSpec Spec, int Index, EquatableArray<int> InputShape, EquatableArray<int> OutputShape, long ParameterCount, Geometry? Window = null,
    EquatableArray<int> Inputs = default)
{
    /// <summary>The layers it reads (-1: the network's input); a layer built without them reads the one before it.</summary>
    public IReadOnlyList<int> InputLayers => Inputs.Count > 0 ? Inputs : new[] { Index - 1 };

    /// <summary>The single layer it reads (-1: the network's input); a merge's first.</summary>
    public int Producer => InputLayers[0];

    public LayerKind Kind => Spec.Kind;
    public bool IsImage => OutputShape.Count == 3;

    public string Name => Spec.Name;
    public ActivationKind Activation => (ActivationKind)Spec.Activation;
    public int InputSize => Product(InputShape);
    public int OutputSize => Product(OutputShape);

    internal static int Product(EquatableArray<int> shape) => (int)Math.Min(int.MaxValue, LongProduct(shape));

    internal static long LongProduct(EquatableArray<int> shape) => shape.Aggregate(1L, (a, b) => Math.Min(a * Math.Max(b, 0), long.MaxValue / int.MaxValue));
}

/// <summary>
/// The resolved window arithmetic of a Conv2D or pooling layer (input channels-last internally: H, W, C).
/// </summary>
public sealed record Geometry(int InH, int InW, int InC, int KH, int KW, int StrideH, int StrideW, int PadTop, int PadLeft, int OutH, int OutW, int OutC);

/// <summary>A network whose every shape checked out.</summary>
public sealed record ShapedNetwork(NetworkSpec Spec, EquatableArray<ShapedLayer> Layers, long ParameterCount)
{
    public LossKind Loss => (LossKind)Spec.Loss;
    public int InputSize => ShapedLayer.Product(Spec.InputShape);
    public ShapedLayer Last => Layers[Layers.Count - 1];

    /// <summary>The output shape of layer <paramref name="layer"/>, or of the network's input for -1.</summary>
    public EquatableArray<int> OutputShapeOf(int layer) => layer < 0 ? Spec.InputShape : Layers[layer].OutputShape;

    /// <summary>The channels (features) each input of a concatenation brings, in order.</summary>
    public IReadOnlyList<int> ConcatenatedChannels(ShapedLayer concat) => concat.InputLayers.Select(p => OutputShapeOf(p)[0]).ToList();
}

/// <summary>Stage 2 result: the shaped network, if every check passed, and the diagnostics.</summary>
/// <param name="Network">The shaped network, when every check passed.</param>
/// <param name="Diagnostics">Every diagnostic so far (parsing, block expansion, shapes).</param>
/// <param name="Stub">What the error stub implements, emitted instead of the network when there are errors.</param>
public sealed record ShapeResult(ShapedNetwork? Network, EquatableArray<DiagnosticInfo> Diagnostics, ErrorStubSpec? Stub = null);

/// <summary>
/// Stage 2: propagates shapes through the layers and checks everything that can be wrong with a declaration,
/// reporting each problem at the attribute that caused it, with the numbers in the message.
/// </summary>
public static class ShapeInference
{
    /// <summary>Largest parameter block the runtime's int-indexed spans can address.</summary>
    public const long MaxParameters = int.MaxValue / 4;

    /// <summary>Largest tensor one sample may produce (kernels index a batch with ints and longs; a sample must fit an int span).</summary>
    public const long MaxSampleFloats = int.MaxValue / 16;

    public static ShapeResult Run(ParseResult parsed)
    {
        var diagnostics = parsed.Diagnostics.ToList();
        var spec = parsed.Spec;
        if (spec is null)
        {
            return new ShapeResult(null, diagnostics.ToEquatableArray(), parsed.Stub);
        }

        try
        {
            var network = Infer(spec, diagnostics);
            return new ShapeResult(network, OnePerUse(diagnostics).ToEquatableArray(), parsed.Stub);
        }
        catch (Exception e)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, spec.NetworkAttribute, spec.ClassName, e.GetType().Name + ": " + e.Message));
            return new ShapeResult(null, diagnostics.ToEquatableArray(), parsed.Stub);
        }
    }

    private static ShapedNetwork? Infer(NetworkSpec spec, List<DiagnosticInfo> diagnostics)
    {
        int before = diagnostics.Count;
        bool lossKnown = Enum.IsDefined(typeof(LossKind), spec.Loss);
        if (!lossKnown)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnknownEnumValue, spec.NetworkAttribute, "Loss", spec.Loss, "NetDsl.Loss"));
        }

        CheckNames(spec, diagnostics);
        int inputBefore = diagnostics.Count;
        if (!spec.HasInput)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MissingInput, spec.NetworkAttribute, spec.ClassName));
            return null;
        }

        if (spec.InputShape.Count == 0)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonPositiveSize, spec.InputAttribute, "The input shape's rank", 0));
            return null;
        }

        for (int d = 0; d < spec.InputShape.Count; d++)
        {
            if (spec.InputShape[d] <= 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonPositiveSize, spec.InputAttribute, $"Input dimension {d}", spec.InputShape[d]));
            }
        }

        if (diagnostics.Count == inputBefore && ShapedLayer.LongProduct(spec.InputShape) > MaxSampleFloats)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, spec.InputAttribute, $"The input sample {FormatShape(spec.InputShape)}",
                ShapedLayer.LongProduct(spec.InputShape) + " floats", $"[1, {MaxSampleFloats}]"));
        }

        if (spec.Layers.Count == 0)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NoLayers, spec.NetworkAttribute, spec.ClassName));
            return null;
        }

        if (diagnostics.Count > inputBefore)
        {
            return null;
        }

        var producers = ResolveInputs(spec, diagnostics);
        var shaped = new ShapedLayer?[spec.Layers.Count];
        long total = 0;
        bool shapesKnown = true;
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            var layer = spec.Layers[i];
            if (!Enum.IsDefined(typeof(ActivationKind), layer.Activation))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnknownEnumValue, layer.Attribute, $"The activation of '{layer.Name}'", layer.Activation, "NetDsl.Activation"));
            }

            // Options are checked for every layer; shapes only where every input's shape is known.
            var inputs = producers[i];
            EquatableArray<int>? ShapeOf(int p) => p < 0 ? spec.InputShape : shaped[p]?.OutputShape;
            bool known = inputs is not null && inputs.All(p => ShapeOf(p) is not null);
            var result = layer.IsMerge
                ? Merge(layer, i, known ? inputs!.Select(p => (p < 0 ? "input" : spec.Layers[p].Name, ShapeOf(p)!.Value)).ToList() : null, diagnostics)
                : Propagate(layer, i, known ? ShapeOf(inputs![0]) : null, known && inputs![0] >= 0 ? spec.Layers[inputs[0]].Kind : null, spec.ExactWindows, diagnostics);
            if (result is null)
            {
                shapesKnown = false;
                continue;
            }

            if (ShapedLayer.LongProduct(result.OutputShape) > MaxSampleFloats)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, layer.Attribute, $"The output of '{layer.Name}' per sample ({FormatShape(result.OutputShape)} floats)",
                    ShapedLayer.LongProduct(result.OutputShape), $"[1, {MaxSampleFloats}]"));
                shapesKnown = false;
                continue;
            }

            total += result.ParameterCount;
            shaped[i] = result with { Inputs = inputs!.ToEquatableArray() };
        }

        if (producers.All(p => p is not null))
        {
            CheckEveryOutputIsUsed(spec, producers!, diagnostics);
        }

        var layers = shaped.Where(l => l is not null).Select(l => l!).ToList();

        if (total > MaxParameters)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NetworkTooLarge, spec.NetworkAttribute, spec.ClassName, total, MaxParameters));
        }

        if (diagnostics.Count > before || !shapesKnown)
        {
            return null;
        }

        var network = new ShapedNetwork(spec, layers.ToEquatableArray(), total);
        if (!layers.Any(l => l.Kind is LayerKind.Dense or LayerKind.Conv2D or LayerKind.BatchNorm))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NoTrainableLayer, spec.NetworkAttribute, spec.ClassName));
        }

        if (lossKnown)
        {
            CheckLoss(network, diagnostics);
        }

        return diagnostics.Count > before ? null : WithoutLocations(network);
    }

    /// <summary>
    /// The model that flows to lowering and emission carries no source locations: diagnostics were reported here,
    /// and without spans an edit that only moves the declaration leaves the later stages cached.
    /// </summary>
    private static ShapedNetwork WithoutLocations(ShapedNetwork network)
    {
        var spec = network.Spec with
        {
            NetworkAttribute = null,
            InputAttribute = null,
            Layers = network.Spec.Layers.Select(l => l with { Attribute = null }).ToEquatableArray(),
        };
        var layers = network.Layers.Select(l => l with { Spec = spec.Layers[l.Index] }).ToEquatableArray();
        return new ShapedNetwork(spec, layers, network.ParameterCount);
    }

    /// <summary>
    /// One mistake inside a block used many times is one error per use: the copies of a use share its location, and their
    /// messages differ only in the copy's index (<c>Stage[3].Conv</c>), so only the first copy's diagnostic is kept.
    /// </summary>
    private static IEnumerable<DiagnosticInfo> OnePerUse(List<DiagnosticInfo> diagnostics)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var diagnostic in diagnostics)
        {
            string key = diagnostic.Id + "|" + diagnostic.Location + "|" + string.Join("|", diagnostic.Arguments.Select(CopyIndexFree));
            if (seen.Add(key))
            {
                yield return diagnostic;
            }
        }
    }

    private static string CopyIndexFree(string text)
    {
        var b = new System.Text.StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            b.Append(text[i]);
            if (text[i] == '[')
            {
                int j = i + 1;
                while (j < text.Length && char.IsDigit(text[j]))
                {
                    j++;
                }

                if (j > i + 1 && j < text.Length && text[j] == ']')
                {
                    b.Append('#');
                    i = j - 1;
                }
            }
        }

        return b.ToString();
    }

    /// <summary>
    /// The layers each layer reads (indices; -1 is the network's input), or null for a layer whose inputs are wrong (with
    /// a diagnostic at its attribute): unknown names, itself, a layer declared after it (which would allow cycles), a
    /// merge with fewer than two distinct inputs.
    /// </summary>
    private static List<int>?[] ResolveInputs(NetworkSpec spec, List<DiagnosticInfo> diagnostics)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            index[spec.Layers[i].Name] = i;
        }

        var result = new List<int>?[spec.Layers.Count];
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            var layer = spec.Layers[i];
            string kind = layer.Kind.ToString();
            if (layer.MergeSetsInput)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BadMergeInputs, layer.Attribute, kind, layer.Name,
                    "takes its inputs from its constructor; remove Input = ..."));
                continue;
            }

            if (layer.Inputs.Count == 0)
            {
                if (layer.IsMerge)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BadMergeInputs, layer.Attribute, kind, layer.Name,
                        "names no inputs; name at least two layers, e.g. [" + kind + "(nameof(A), nameof(B))]"));
                    continue;
                }

                result[i] = new List<int> { i - 1 };
                continue;
            }

            var inputs = new List<int>();
            foreach (string name in layer.Inputs)
            {
                if (name == LayerSpec.NetworkInputName)
                {
                    inputs.Add(-1);
                }
                else if (!index.TryGetValue(name, out int p))
                {
                    string known = string.Join(", ", spec.Layers.Take(i).Select(l => l.Name));
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnknownInput, layer.Attribute, layer.Name, name, spec.ClassName,
                        i == 0 ? "; the first layer can only read the network's input (LayerAttribute.NetworkInput)" : $"; the layers before it are {known}, and LayerAttribute.NetworkInput names the network's input"));
                    inputs = null;
                    break;
                }
                else if (p >= i)
                {
                    string why = p == i ? "itself" : CycleThrough(spec, index, p, i) is { } cycle ? $"declared after it (a cycle: {cycle})" : "declared after it";
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InputNotDeclaredBefore, layer.Attribute, layer.Name, name, why));
                    inputs = null;
                    break;
                }
                else
                {
                    inputs.Add(p);
                }
            }

            if (inputs is null)
            {
                continue;
            }

            if (layer.IsMerge)
            {
                var twice = inputs.GroupBy(p => p).FirstOrDefault(g => g.Count() > 1);
                if (inputs.Count < 2)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BadMergeInputs, layer.Attribute, kind, layer.Name,
                        $"names {inputs.Count} input; a merge needs at least two"));
                    continue;
                }

                if (twice is not null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BadMergeInputs, layer.Attribute, kind, layer.Name,
                        $"names '{(twice.Key < 0 ? LayerSpec.NetworkInputName : spec.Layers[twice.Key].Name)}' more than once"));
                    continue;
                }
            }

            result[i] = inputs;
        }

        return result;
    }

    /// <summary>"A -> B -> A" when following inputs from layer <paramref name="from"/> reaches layer <paramref name="target"/>, else null.</summary>
    private static string? CycleThrough(NetworkSpec spec, Dictionary<string, int> index, int from, int target)
    {
        var path = new List<int> { target };
        var seen = new HashSet<int>();
        bool Walk(int at)
        {
            path.Add(at);
            if (at == target)
            {
                return true;
            }

            if (seen.Add(at))
            {
                var names = spec.Layers[at].Inputs.Count > 0 ? spec.Layers[at].Inputs.ToList() : at > 0 ? new List<string> { spec.Layers[at - 1].Name } : new List<string>();
                foreach (string name in names)
                {
                    if (index.TryGetValue(name, out int next) && Walk(next))
                    {
                        return true;
                    }
                }
            }

            path.RemoveAt(path.Count - 1);
            return false;
        }

        return Walk(from) ? string.Join(" -> ", path.Select(p => spec.Layers[p].Name)) : null;
    }

    /// <summary>Every layer but the last feeds some later layer: a branch that goes nowhere is a mistake.</summary>
    private static void CheckEveryOutputIsUsed(NetworkSpec spec, List<int>[] producers, List<DiagnosticInfo> diagnostics)
    {
        var used = new bool[spec.Layers.Count];
        foreach (var inputs in producers)
        {
            foreach (int p in inputs.Where(p => p >= 0))
            {
                used[p] = true;
            }
        }

        string last = spec.Layers[spec.Layers.Count - 1].Name;
        for (int i = 0; i < spec.Layers.Count - 1; i++)
        {
            if (!used[i])
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnusedLayer, spec.Layers[i].Attribute, spec.Layers[i].Name, last));
            }
        }
    }

    /// <summary>An Add or Concat from its inputs' (name, shape), or null (with a diagnostic) when they do not fit together.</summary>
    private static ShapedLayer? Merge(LayerSpec layer, int index, List<(string Name, EquatableArray<int> Shape)>? inputs, List<DiagnosticInfo> diagnostics)
    {
        var activation = (ActivationKind)layer.Activation;
        string kind = layer.Kind.ToString();
        if (inputs is null)
        {
            return null;
        }

        var first = inputs[0];
        if (layer.Kind == LayerKind.Add)
        {
            foreach (var other in inputs.Skip(1))
            {
                if (!other.Shape.Equals(first.Shape))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MergeShapeMismatch, layer.Attribute, kind, layer.Name,
                        first.Name, FormatShape(first.Shape), other.Name, FormatShape(other.Shape), "; Add needs inputs of the same shape"));
                    return null;
                }
            }

            if (activation == ActivationKind.Softmax && first.Shape.Count != 1)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MisplacedLayer, layer.Attribute, kind, layer.Name, $"Softmax needs a flat input, but the sum is {FormatShape(first.Shape)}"));
                return null;
            }

            return new ShapedLayer(layer, index, first.Shape, first.Shape, 0);
        }

        if (activation != ActivationKind.Linear)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MisplacedLayer, layer.Attribute, kind, layer.Name, "a concatenation has no activation; add an Activation layer after it"));
            return null;
        }

        long size = 0;
        foreach (var other in inputs.Skip(1))
        {
            bool fits = first.Shape.Count == 3
                ? other.Shape.Count == 3 && other.Shape[1] == first.Shape[1] && other.Shape[2] == first.Shape[2]
                : other.Shape.Count == 1 && first.Shape.Count == 1;
            if (!fits)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MergeShapeMismatch, layer.Attribute, kind, layer.Name,
                    first.Name, FormatShape(first.Shape), other.Name, FormatShape(other.Shape),
                    "; Concat joins images of the same height and width along their channels, or vectors along their features"));
                return null;
            }
        }

        foreach (var input in inputs)
        {
            size += input.Shape[0];
        }

        if (size > MaxSampleFloats)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, layer.Attribute, $"The channels of '{layer.Name}'", size, $"[1, {MaxSampleFloats}]"));
            return null;
        }

        var output = first.Shape.Count == 3 ? Shape((int)size, first.Shape[1], first.Shape[2]) : Shape((int)size);
        return new ShapedLayer(layer, index, first.Shape, output, 0);
    }

    /// <summary>Layer names must not collide with what the generated class declares or inherits.</summary>
    private static void CheckNames(NetworkSpec spec, List<DiagnosticInfo> diagnostics)
    {
        var generated = new HashSet<string>(Naming.FixedMembers);
        foreach (var layer in spec.Layers)
        {
            generated.UnionWith(Naming.LayerMembers(layer.Name));
        }

        foreach (var layer in spec.Layers)
        {
            if (Naming.BaseMembers.Contains(layer.Name) || generated.Contains(layer.Name))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ReservedLayerName, layer.Attribute, layer.Name));
            }
        }
    }

    /// <summary>One layer's output shape from its input shape, or null (with diagnostics) when it cannot be computed.</summary>
    private static ShapedLayer? Propagate(LayerSpec layer, int index, EquatableArray<int>? knownShape, LayerKind? previous, bool exactWindows, List<DiagnosticInfo> diagnostics)
    {
        var shape = knownShape ?? EquatableArray<int>.Empty;
        int before = diagnostics.Count;
        string kind = layer.Kind.ToString();
        var activation = (ActivationKind)layer.Activation;
        switch (layer.Kind)
        {
            case LayerKind.Dense:
            {
                if (layer.Units <= 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonPositiveSize, layer.Attribute, $"The unit count of Dense layer '{layer.Name}'", layer.Units));
                    return null;
                }

                if (knownShape is null)
                {
                    return null;
                }

                if (shape.Count != 1)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DenseNeedsFlatInput, layer.Attribute, layer.Name, FormatShape(shape)));
                    return null;
                }

                long parameters = (long)shape[0] * layer.Units + (layer.UseBias ? layer.Units : 0);
                return new ShapedLayer(layer, index, shape, Shape(layer.Units), parameters);
            }

            case LayerKind.Conv2D:
            case LayerKind.MaxPool2D:
            case LayerKind.AvgPool2D:
            {
                bool conv = layer.Kind == LayerKind.Conv2D;
                if (conv && layer.Units <= 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonPositiveSize, layer.Attribute, $"The filter count of Conv2D layer '{layer.Name}'", layer.Units));
                }

                string window = conv ? "kernel" : "pool";
                if (layer.WindowHeight <= 0 || layer.WindowWidth <= 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonPositiveSize, layer.Attribute, $"The {window} size of {kind} layer '{layer.Name}'",
                        layer.WindowHeight <= 0 ? layer.WindowHeight : layer.WindowWidth));
                }

                int strideH = layer.StrideHeight == 0 && !conv ? layer.WindowHeight : layer.StrideHeight;
                int strideW = layer.StrideWidth == 0 && !conv ? layer.WindowWidth : layer.StrideWidth;
                bool defaultedFromBadWindow = !conv && (layer.StrideHeight == 0 && layer.WindowHeight <= 0 || layer.StrideWidth == 0 && layer.WindowWidth <= 0);
                if ((strideH <= 0 || strideW <= 0) && !defaultedFromBadWindow)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonPositiveSize, layer.Attribute, $"The stride of {kind} layer '{layer.Name}'", strideH <= 0 ? strideH : strideW));
                }

                if (!Enum.IsDefined(typeof(PaddingKind), layer.Padding))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnknownEnumValue, layer.Attribute, $"The padding of '{layer.Name}'", layer.Padding, "NetDsl.Padding"));
                }

                // One diagnostic per mistake: Pad sets both directions, so equal problems on both are reported once.
                bool square = layer.PadHeight == layer.PadWidth && layer.WindowHeight == layer.WindowWidth;
                if ((PaddingKind)layer.Padding == PaddingKind.Same && (layer.PadHeight != 0 || layer.PadWidth != 0))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, layer.Attribute, $"The explicit padding of {kind} layer '{layer.Name}' with Padding.Same",
                        square ? layer.PadHeight.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{layer.PadHeight} x {layer.PadWidth}",
                        "[0, 0] with Padding.Same (it computes its own; use Padding.Valid with Pad)"));
                }
                else
                {
                    foreach (var (pad, size, axis) in square ? new[] { (layer.PadHeight, layer.WindowHeight, "") } : new[] { (layer.PadHeight, layer.WindowHeight, "height "), (layer.PadWidth, layer.WindowWidth, "width ") })
                    {
                        if (pad < 0 || (size > 0 && pad > size / 2))
                        {
                            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, layer.Attribute, $"The {axis}padding of {kind} layer '{layer.Name}'",
                                pad, $"[0, {Math.Max(size, 0) / 2}] (at most half the {size}-wide window)"));
                        }
                    }
                }

                if (conv && activation == ActivationKind.Softmax)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MisplacedLayer, layer.Attribute, kind, layer.Name, "a Softmax activation needs a flat input; put it on a Dense layer"));
                }

                if (knownShape is null || diagnostics.Count > before)
                {
                    return null;
                }

                if (shape.Count != 3)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NeedsImageInput, layer.Attribute, kind, layer.Name, FormatShape(shape)));
                }

                if (diagnostics.Count > before)
                {
                    return null;
                }

                int c = shape[0], h = shape[1], w = shape[2];
                var rows = Axis(layer, kind, "height", h, layer.WindowHeight, strideH, layer.PadHeight, exactWindows, shape, diagnostics);
                var cols = Axis(layer, kind, "width", w, layer.WindowWidth, strideW, layer.PadWidth, exactWindows, shape, diagnostics);
                if (rows is null || cols is null)
                {
                    if (diagnostics.Count == before)
                    {
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.WindowLargerThanInput, layer.Attribute, kind, layer.Name, layer.WindowHeight, layer.WindowWidth,
                            h + 2 * layer.PadHeight, w + 2 * layer.PadWidth));
                    }

                    return null;
                }

                int outC = conv ? layer.Units : c;
                var geometry = new Geometry(h, w, c, layer.WindowHeight, layer.WindowWidth, strideH, strideW, rows.Value.Pad, cols.Value.Pad, rows.Value.Out, cols.Value.Out, outC);
                long parameters = conv ? (long)layer.WindowHeight * layer.WindowWidth * c * outC + (layer.UseBias ? outC : 0) : 0;
                return new ShapedLayer(layer, index, shape, Shape(outC, rows.Value.Out, cols.Value.Out), parameters, geometry);
            }

            case LayerKind.LocalResponseNormalization:
            {
                if (layer.Units <= 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonPositiveSize, layer.Attribute, $"The size of LocalResponseNormalization layer '{layer.Name}'", layer.Units));
                    return null;
                }

                if (!(layer.Bias > 0) || !(layer.Alpha >= 0) || !(layer.Beta >= 0) || double.IsInfinity(layer.Alpha) || double.IsInfinity(layer.Beta) || double.IsInfinity(layer.Bias))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, layer.Attribute, $"The Alpha, Beta, Bias of '{layer.Name}'",
                        string.Join(", ", new[] { layer.Alpha, layer.Beta, layer.Bias }.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))),
                        "Alpha >= 0, Beta >= 0, Bias > 0 (finite)"));
                    return null;
                }

                if (knownShape is null)
                {
                    return null;
                }

                if (shape.Count != 3)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NeedsImageInput, layer.Attribute, kind, layer.Name, FormatShape(shape)));
                    return null;
                }

                return new ShapedLayer(layer, index, shape, shape, 0);
            }

            case LayerKind.ZeroPadding2D:
            {
                int[] sides = { layer.PadHeight, layer.PadBottom, layer.PadWidth, layer.PadRight };
                if (sides.Any(p => p < 0))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonPositiveSize, layer.Attribute, $"A padding of ZeroPadding2D layer '{layer.Name}'", sides.First(p => p < 0)));
                    return null;
                }

                if (knownShape is null)
                {
                    return null;
                }

                if (shape.Count != 3)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NeedsImageInput, layer.Attribute, kind, layer.Name, FormatShape(shape)));
                    return null;
                }

                // A 1x1 average pooling at stride 1 whose padding is the zeros: every output cell copies its input cell or,
                // in the padding, is 0; the gradient flows back to the input cells only.
                int c = shape[0], h = shape[1], w = shape[2];
                int outH = h + layer.PadHeight + layer.PadBottom, outW = w + layer.PadWidth + layer.PadRight;
                return new ShapedLayer(layer, index, shape, Shape(c, outH, outW), 0, new Geometry(h, w, c, 1, 1, 1, 1, layer.PadHeight, layer.PadWidth, outH, outW, c));
            }

            case LayerKind.GlobalAveragePooling2D:
            {
                if (knownShape is null)
                {
                    return null;
                }

                if (shape.Count != 3)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NeedsImageInput, layer.Attribute, kind, layer.Name, FormatShape(shape)));
                    return null;
                }

                // An average pooling whose window is the whole image; its 1 x 1 x C output is the C-vector in memory.
                int c = shape[0], h = shape[1], w = shape[2];
                return new ShapedLayer(layer, index, shape, Shape(c), 0, new Geometry(h, w, c, h, w, h, w, 0, 0, 1, 1, c));
            }

            case LayerKind.Flatten:
                if (knownShape is null)
                {
                    return null;
                }

                if (shape.Count == 1)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MisplacedLayer, layer.Attribute, kind, layer.Name, $"its input {FormatShape(shape)} is already flat"));
                    return null;
                }

                return new ShapedLayer(layer, index, shape, Shape(ShapedLayer.Product(shape)), 0);

            case LayerKind.Dropout:
                if (!(layer.Rate >= 0 && layer.Rate < 1))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, layer.Attribute, $"The dropout rate of '{layer.Name}'",
                        layer.Rate.ToString("R", System.Globalization.CultureInfo.InvariantCulture), "[0, 1)"));
                    return null;
                }

                return knownShape is null ? null : new ShapedLayer(layer, index, shape, shape, 0);

            case LayerKind.BatchNorm:
            {
                if (previous == LayerKind.BatchNorm)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MisplacedLayer, layer.Attribute, kind, layer.Name, "it directly follows another BatchNorm, which already normalised these values"));
                }

                if (!(layer.Momentum >= 0 && layer.Momentum < 1))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, layer.Attribute, $"The momentum of '{layer.Name}'",
                        layer.Momentum.ToString("R", System.Globalization.CultureInfo.InvariantCulture), "[0, 1)"));
                }

                if (!(layer.Epsilon > 0 && layer.Epsilon < 1))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, layer.Attribute, $"The epsilon of '{layer.Name}'",
                        layer.Epsilon.ToString("R", System.Globalization.CultureInfo.InvariantCulture), "(0, 1)"));
                }

                if (knownShape is null || diagnostics.Count > before)
                {
                    return null;
                }

                int channels = shape.Count == 3 ? shape[0] : ShapedLayer.Product(shape);
                return new ShapedLayer(layer, index, shape, shape, 4L * channels);
            }

            case LayerKind.Activation:
                if (knownShape is null)
                {
                    return null;
                }

                if (activation == ActivationKind.Softmax && shape.Count != 1)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MisplacedLayer, layer.Attribute, kind, layer.Name, $"Softmax needs a flat input, but receives {FormatShape(shape)}; add Flatten first"));
                    return null;
                }

                return new ShapedLayer(layer, index, shape, shape, 0);
        }

        return null;
    }

    /// <summary>Output size and leading padding along one axis, or null (with a diagnostic) when the window does not fit.</summary>
    /// <summary>
    /// Output size and leading padding along one axis, or null (with a diagnostic) when the window does not fit. Valid
    /// padding (with explicit <paramref name="pad"/>s) floors: rows the stride cannot reach are dropped, unless the
    /// network asks for exact windows.
    /// </summary>
    private static (int Out, int Pad)? Axis(LayerSpec layer, string kind, string axis, int size, int window, int stride, int pad, bool exact, EquatableArray<int> shape,
        List<DiagnosticInfo> diagnostics)
    {
        if ((PaddingKind)layer.Padding == PaddingKind.Same)
        {
            int outSize = (size + stride - 1) / stride;
            int total = Math.Max((outSize - 1) * stride + window - size, 0);
            return (outSize, total / 2);
        }

        int padded = size + 2 * pad;
        if (window > padded)
        {
            return null;
        }

        if (exact && !layer.CeilMode && (padded - window) % stride != 0)
        {
            string value = ((double)(padded - window) / stride + 1).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
            string sizeText = pad == 0 ? size.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{size} + 2 x {pad}";
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonIntegralOutput, layer.Attribute, kind, layer.Name, $"{FormatShape(shape)} along its {axis}", sizeText, window, stride, value));
            return null;
        }

        int windows = (padded - window) / stride + 1;
        if (layer.CeilMode && (padded - window) % stride != 0 && windows * stride < size + pad)
        {
            windows++; // PyTorch's ceil_mode: one more window, if it starts inside the input (or its left padding)
        }

        return (windows, pad);
    }

    private static EquatableArray<int> Shape(params int[] dims) => new(dims);

    private static void CheckLoss(ShapedNetwork network, List<DiagnosticInfo> diagnostics)
    {
        var last = network.Last;
        var loss = network.Loss;
        if (last.OutputShape.Count != 1)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LossNeedsClassScores, last.Spec.Attribute, last.Name, FormatShape(last.OutputShape), loss));
            return;
        }

        if (last.Kind is not (LayerKind.Dense or LayerKind.Activation))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MisplacedLayer, last.Spec.Attribute, last.Kind.ToString(), last.Name,
                $"it cannot be the last layer: {loss} needs the outputs of a Dense layer (optionally followed by an Activation layer)"));
            return;
        }

        if (PairingProblem(loss, last.Activation, last.OutputSize) is { } reason)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LossActivationMismatch, last.Spec.Attribute, last.Name, last.Activation, loss, reason));
        }

        if (loss is LossKind.SparseCategoricalCrossEntropy or LossKind.CategoricalCrossEntropy && last.OutputSize < 2)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TooFewClasses, last.Spec.Attribute, last.Name, last.OutputSize, loss));
        }

        if (last.Kind == LayerKind.Activation && last.Producer >= 0
            && network.Layers[last.Producer] is { Kind: LayerKind.Dense or LayerKind.Activation } before
            && before.Activation != ActivationKind.Linear)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MisplacedLayer, last.Spec.Attribute, last.Kind.ToString(), last.Name,
                $"the loss fuses this {last.Activation} with the outputs of '{before.Name}', which must then be Linear, not {before.Activation}"));
        }
    }

    /// <summary>Why the last layer's activation makes no sense with the loss, or null when the pairing is fine.</summary>
    private static string? PairingProblem(LossKind loss, ActivationKind activation, int units) => loss switch
    {
        LossKind.MeanSquaredError or LossKind.MeanAbsoluteError or LossKind.MeanAbsolutePercentageError or LossKind.MeanSquaredLogarithmicError
            when activation == ActivationKind.Softmax && units == 1
            => "a softmax over a single output is always 1, so the loss and its gradient never change; use Sigmoid or Linear",
        LossKind.MeanSquaredLogarithmicError when activation is ActivationKind.Linear or ActivationKind.Tanh
            => $"the logarithm clips outputs below 1e-7, and {activation} outputs can be negative: clipped outputs get no gradient and the units stop learning; use ReLU, Sigmoid or Softmax",
        LossKind.SparseCategoricalCrossEntropy or LossKind.CategoricalCrossEntropy when activation is not (ActivationKind.Softmax or ActivationKind.Linear)
            => "cross-entropy needs class probabilities, so the last layer must be Softmax (or Linear logits, with the softmax fused into the loss)",
        LossKind.BinaryCrossEntropy when activation is not (ActivationKind.Sigmoid or ActivationKind.Linear)
            => "binary cross-entropy treats every output as an independent probability, so the last layer must be Sigmoid (or Linear logits, with the sigmoid fused into the loss); "
               + "for mutually exclusive classes use CategoricalCrossEntropy with Softmax",
        LossKind.Hinge or LossKind.SquaredHinge when activation is not (ActivationKind.Linear or ActivationKind.Tanh)
            => $"the hinge compares raw scores with -1/+1 targets and a margin of 1, which {activation} outputs cannot express (they are never negative); use Linear or Tanh",
        _ => null,
    };

    public static string FormatShape(EquatableArray<int> shape) => "(" + string.Join(", ", shape) + ")";
}

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
/// <param name="ParameterCount">Weights plus biases.</param>
public sealed record ShapedLayer(LayerSpec Spec, int Index, EquatableArray<int> InputShape, EquatableArray<int> OutputShape, long ParameterCount)
{
    public string Name => Spec.Name;
    public ActivationKind Activation => (ActivationKind)Spec.Activation;
    public int InputSize => Product(InputShape);
    public int OutputSize => Product(OutputShape);

    internal static int Product(EquatableArray<int> shape) => shape.Aggregate(1, (a, b) => a * b);
}

/// <summary>A network whose every shape checked out.</summary>
public sealed record ShapedNetwork(NetworkSpec Spec, EquatableArray<ShapedLayer> Layers, long ParameterCount)
{
    public LossKind Loss => (LossKind)Spec.Loss;
    public int InputSize => ShapedLayer.Product(Spec.InputShape);
    public ShapedLayer Last => Layers[Layers.Count - 1];
}

/// <summary>Stage 2 result: the shaped network, if every check passed, and the diagnostics.</summary>
public sealed record ShapeResult(ShapedNetwork? Network, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>
/// Stage 2: propagates shapes through the layers and checks everything that can be wrong with a declaration,
/// reporting each problem at the attribute that caused it, with the numbers in the message.
/// </summary>
public static class ShapeInference
{
    /// <summary>Largest parameter block the runtime's int-indexed spans can address.</summary>
    public const long MaxParameters = int.MaxValue / 4;

    public static ShapeResult Run(ParseResult parsed)
    {
        var diagnostics = parsed.Diagnostics.ToList();
        var spec = parsed.Spec;
        if (spec is null)
        {
            return new ShapeResult(null, diagnostics.ToEquatableArray());
        }

        try
        {
            var network = Infer(spec, diagnostics);
            return new ShapeResult(network, diagnostics.ToEquatableArray());
        }
        catch (Exception e)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, spec.NetworkAttribute, spec.ClassName, e.GetType().Name + ": " + e.Message));
            return new ShapeResult(null, diagnostics.ToEquatableArray());
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

        if (spec.Layers.Count == 0)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NoLayers, spec.NetworkAttribute, spec.ClassName));
            return null;
        }

        if (diagnostics.Count > inputBefore)
        {
            return null;
        }

        var layers = new List<ShapedLayer>();
        var shape = spec.InputShape;
        long total = 0;
        bool shapesKnown = true;
        foreach (var layer in spec.Layers)
        {
            if (!Enum.IsDefined(typeof(ActivationKind), layer.Activation))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnknownEnumValue, layer.Attribute, $"The activation of '{layer.Name}'", layer.Activation, "NetDsl.Activation"));
            }

            switch (layer.Kind)
            {
                case LayerKind.Dense:
                    if (layer.Units <= 0)
                    {
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonPositiveSize, layer.Attribute, $"The unit count of Dense layer '{layer.Name}'", layer.Units));
                        shapesKnown = false;
                        break;
                    }

                    if (!shapesKnown)
                    {
                        break;
                    }

                    if (shape.Count != 1)
                    {
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DenseNeedsFlatInput, layer.Attribute, layer.Name, FormatShape(shape)));
                        shapesKnown = false;
                        break;
                    }

                    long parameters = (long)shape[0] * layer.Units + (layer.UseBias ? layer.Units : 0);
                    total += parameters;
                    var output = new EquatableArray<int>(new[] { layer.Units });
                    layers.Add(new ShapedLayer(layer, layers.Count, shape, output, parameters));
                    shape = output;
                    break;
            }
        }

        if (total > MaxParameters)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NetworkTooLarge, spec.NetworkAttribute, spec.ClassName, total, MaxParameters));
        }

        if (diagnostics.Count > before || !shapesKnown)
        {
            return null;
        }

        var network = new ShapedNetwork(spec, layers.ToEquatableArray(), total);
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

    private static void CheckLoss(ShapedNetwork network, List<DiagnosticInfo> diagnostics)
    {
        var last = network.Last;
        switch (network.Loss)
        {
            case LossKind.SparseCategoricalCrossEntropy:
                if (last.Activation is not (ActivationKind.Softmax or ActivationKind.Linear))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LossActivationMismatch, last.Spec.Attribute,
                        last.Name, last.Activation, network.Loss,
                        "cross-entropy needs class probabilities, so the last layer must be Softmax (or Linear logits, with the softmax fused into the loss)"));
                }

                if (last.OutputSize < 2)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TooFewClasses, last.Spec.Attribute, last.Name, last.OutputSize, network.Loss));
                }

                break;
        }
    }

    public static string FormatShape(EquatableArray<int> shape) => "(" + string.Join(", ", shape) + ")";
}

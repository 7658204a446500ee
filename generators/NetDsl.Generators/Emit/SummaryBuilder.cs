using System.Globalization;
using System.Linq;
using System.Text;
using NetDsl.Generators.Model;
using NetDsl.Generators.Shapes;

namespace NetDsl.Generators.Emit;

/// <summary>The Keras-like architecture table, built at compile time.</summary>
public static class SummaryBuilder
{
    private const int NameWidth = 34;
    private const int ShapeWidth = 22;
    private const int ParamWidth = 12;
    private static readonly int Width = NameWidth + ShapeWidth + ParamWidth + 1;

    public static string Build(ShapedNetwork network)
    {
        var b = new StringBuilder();
        b.Append("Model: \"").Append(network.Spec.ClassName).Append("\"\n");
        b.Append('_', Width).Append('\n');
        Row(b, "Layer (type)", "Output Shape", "Param #");
        b.Append('=', Width).Append('\n');
        Row(b, "input (Input)", Shape(network.Spec.InputShape), "0");
        foreach (var layer in network.Layers)
        {
            string type = layer.Spec.Kind is LayerKind.Dense or LayerKind.Conv2D or LayerKind.Activation
                ? layer.Activation == ActivationKind.Linear && layer.Spec.Kind != LayerKind.Activation ? layer.Spec.Kind.ToString() : layer.Spec.Kind + ", " + layer.Activation
                : layer.Spec.Kind.ToString();
            Row(b, $"{layer.Name} ({type})", Shape(layer.OutputShape), Count(layer.ParameterCount));
        }

        b.Append('=', Width).Append('\n');
        double kilobytes = network.ParameterCount * 4 / 1024.0;
        b.Append("Total params: ").Append(Count(network.ParameterCount)).Append(" (")
            .Append(kilobytes.ToString("N2", CultureInfo.InvariantCulture)).Append(" KB)\n");
        // BatchNorm's moving mean and variance are parameters that gradients never update (as Keras counts them).
        long nonTrainable = network.Layers.Where(l => l.Spec.Kind == LayerKind.BatchNorm).Sum(l => l.ParameterCount / 2);
        b.Append("Trainable params: ").Append(Count(network.ParameterCount - nonTrainable)).Append('\n');
        b.Append("Non-trainable params: ").Append(Count(nonTrainable)).Append('\n');
        b.Append("Loss: ").Append(network.Loss).Append('\n');
        b.Append('_', Width);
        return b.ToString();
    }

    private static void Row(StringBuilder b, string name, string shape, string parameters)
    {
        b.Append(' ').Append(name.PadRight(NameWidth - 1)).Append(shape.PadRight(ShapeWidth)).Append(parameters.PadLeft(ParamWidth)).Append('\n');
    }

    private static string Shape(EquatableArray<int> shape) => "(None, " + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")";

    private static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}

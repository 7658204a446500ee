using System.Globalization;
using System.Linq;
using System.Text;
using NetDsl.Generators.Model;
using NetDsl.Generators.Shapes;

namespace NetDsl.Generators.Emit;

/// <summary>The Keras-like architecture table, built at compile time.</summary>
public static class SummaryBuilder
{
    private const int MinNameWidth = 34;
    private const int ShapeWidth = 22;
    private const int ParamWidth = 12;

    public static string Build(ShapedNetwork network) => Build(network, null);

    /// <summary>The table, with the CPU arena's size at batch 1 and 32 when <paramref name="plan"/> is given.</summary>
    public static string Build(ShapedNetwork network, Lowering.ExecutionPlan? plan)
    {
        var labels = network.Layers.Select(Label).ToList();
        // Block layers are named by path (Stage3[4].Conv2 (Conv2D)): the name column widens to fit them.
        int nameWidth = System.Math.Max(MinNameWidth, labels.Count == 0 ? 0 : labels.Max(l => l.Length) + 2);
        int width = nameWidth + ShapeWidth + ParamWidth + 1;
        var b = new StringBuilder();
        b.Append("Model: \"").Append(network.Spec.ClassName).Append("\"\n");
        b.Append('_', width).Append('\n');
        Row(b, nameWidth, "Layer (type)", "Output Shape", "Param #");
        b.Append('=', width).Append('\n');
        Row(b, nameWidth, "input (Input)", Shape(network.Spec.InputShape), "0");
        for (int i = 0; i < network.Layers.Count; i++)
        {
            var layer = network.Layers[i];
            Row(b, nameWidth, labels[i], Shape(layer.OutputShape), Count(layer.ParameterCount));
        }

        b.Append('=', width).Append('\n');
        double kilobytes = network.ParameterCount * 4 / 1024.0;
        b.Append("Total params: ").Append(Count(network.ParameterCount)).Append(" (")
            .Append(kilobytes.ToString("N2", CultureInfo.InvariantCulture)).Append(" KB)\n");
        // BatchNorm's moving mean and variance are parameters that gradients never update (as Keras counts them).
        long nonTrainable = network.Layers.Where(l => l.Spec.Kind == LayerKind.BatchNorm).Sum(l => l.ParameterCount / 2);
        b.Append("Trainable params: ").Append(Count(network.ParameterCount - nonTrainable)).Append('\n');
        b.Append("Non-trainable params: ").Append(Count(nonTrainable)).Append('\n');
        b.Append("Forward multiply-adds per sample: ").Append(Count(MultiplyAdds(network))).Append('\n');
        if (plan is not null)
        {
            // Training: [parameters | gradients | 2 optimizer-state mirrors | scratch | per-batch tensors placed by their
            // lives]; inference only: [parameters | what Predict touches, placed by its lives]. The naive sums give every
            // tensor memory of its own. (The CPU kernels' weight re-layouts, sized by the kernels at run time, are left out.)
            long fixedFloats = (2 + Lowering.Lowerer.OptimizerStateSlots) * plan.ParameterLength + plan.ScratchLength;
            var tensors = Lowering.Liveness.Tensors(plan);
            var (training, inference) = Lowering.Liveness.Of(plan);
            var measured = Enumerable.Range(0, tensors.Count).Where(i => tensors[i].SizedBy is null).ToList();
            long Arena(int batch, bool inferenceOnly)
            {
                long[] sizes = measured.Select(i => Size(i, batch)).ToArray();
                NetDsl.ArenaPlanner.Place(sizes, measured.Select(i => training[i]).ToArray(), measured.Select(i => inference[i]).ToArray(), inferenceOnly, 0, out long end);
                return 4 * ((inferenceOnly ? plan.ParameterLength : fixedFloats) + end);
            }

            long Naive(int batch, bool inferenceOnly) => 4 * ((inferenceOnly ? plan.ParameterLength : fixedFloats)
                + measured.Where(i => inferenceOnly ? inference[i].IsUsed : training[i].IsUsed || inference[i].IsUsed).Sum(i => Size(i, batch)));
            long Size(int i, int batch) => Lowering.Lowerer.Padded(tensors[i].Size * (tensors[i].BatchIndependent ? 1 : batch));

            foreach (bool inferenceOnly in new[] { false, true })
            {
                b.Append(inferenceOnly ? "Arena for inference only: " : "Arena for training: ")
                    .Append(Bytes(Arena(1, inferenceOnly))).Append(" at batch 1, ").Append(Bytes(Arena(32, inferenceOnly))).Append(" at batch 32 (naive sum of its tensors ")
                    .Append(Bytes(Naive(1, inferenceOnly))).Append(" and ").Append(Bytes(Naive(32, inferenceOnly))).Append(")\n");
            }
        }

        b.Append("Loss: ").Append(network.Loss).Append('\n');
        b.Append('_', width);
        return b.ToString();
    }

    /// <summary>
    /// The multiply-adds of one sample's forward pass in the dense and convolution layers (the count papers and
    /// torchvision report; pooling, normalisation and activations add a few percent of additions).
    /// </summary>
    public static long MultiplyAdds(ShapedNetwork network) => network.Layers.Sum(layer => layer.Kind switch
    {
        LayerKind.Dense => (long)layer.InputSize * layer.OutputSize,
        LayerKind.Conv2D => (long)layer.Window!.OutH * layer.Window.OutW * layer.Window.OutC * layer.Window.KH * layer.Window.KW * layer.Window.InC,
        _ => 0L,
    });

    private static string Label(ShapedLayer layer)
    {
        string type = layer.Spec.Kind is LayerKind.Dense or LayerKind.Conv2D or LayerKind.Activation
            ? layer.Activation == ActivationKind.Linear && layer.Spec.Kind != LayerKind.Activation ? layer.Spec.Kind.ToString() : layer.Spec.Kind + ", " + layer.Activation
            : layer.Spec.Kind.ToString();
        return $"{layer.Name} ({type})";
    }

    private static void Row(StringBuilder b, int nameWidth, string name, string shape, string parameters)
    {
        b.Append(' ').Append(name.PadRight(nameWidth - 1)).Append(shape.PadRight(ShapeWidth)).Append(parameters.PadLeft(ParamWidth)).Append('\n');
    }

    private static string Shape(EquatableArray<int> shape) => "(None, " + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")";

    private static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Bytes(long bytes) => bytes >= 1L << 30 ? (bytes / (double)(1L << 30)).ToString("N2", CultureInfo.InvariantCulture) + " GiB"
        : bytes >= 1L << 20 ? (bytes / (double)(1L << 20)).ToString("N1", CultureInfo.InvariantCulture) + " MiB"
        : (bytes / 1024.0).ToString("N1", CultureInfo.InvariantCulture) + " KiB";
}

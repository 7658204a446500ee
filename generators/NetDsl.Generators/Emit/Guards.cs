using System;
using System.Collections.Generic;
using System.Linq;
using NetDsl.Generators.Lowering;
using NetDsl.Generators.Model;
using NetDsl.Generators.Shapes;

namespace NetDsl.Generators.Emit;

/// <summary>
/// The runtime conditions of the plan's ops, as C# text, shared by the emitters: a layer passes its input gradient down
/// only when some layer below it trains, and each op runs under its <see cref="Guard"/>. The emitters differ only in how
/// they name a layer's <c>Trainable</c> flag.
/// </summary>
internal static class Guards
{
    /// <summary>
    /// The assignments of the input-gradient flags, in declaration order (<c>_inputGradient_X = ...;</c>): a layer needs
    /// its input gradient when a layer it reads trains, or needs its own input gradient.
    /// </summary>
    public static IEnumerable<string> InputGradientFlags(ShapedNetwork network, Func<ShapedLayer, string> trainable)
    {
        foreach (var layer in network.Layers.Where(l => l.Index > 0))
        {
            var terms = new List<string>();
            foreach (int p in layer.InputLayers.Where(p => p >= 0))
            {
                var producer = network.Layers[p];
                if (p > 0)
                {
                    terms.Add(Naming.InputGradientFlag(producer.Name));
                }

                if (producer.ParameterCount > 0)
                {
                    terms.Add(trainable(producer));
                }
            }

            yield return $"{Naming.InputGradientFlag(layer.Name)} = {(terms.Count == 0 ? "false" : string.Join(" || ", terms.Distinct()))};";
        }
    }

    /// <summary>The condition under which <paramref name="op"/> runs ("true" when always).</summary>
    public static string Expression(ShapedNetwork network, KernelOp op, Func<ShapedLayer, string> trainable)
    {
        var layer = network.Layers[op.Layer];
        string flag = layer.ParameterCount > 0 ? trainable(layer) : "false";
        string below = layer.Index > 0 ? Naming.InputGradientFlag(layer.Name) : "false";
        return op.Guard switch
        {
            Guard.LayerTrainable => flag,
            Guard.InputGradientNeeded => below,
            Guard.GradientNeeded => flag == "false" ? below : below == "false" ? flag : $"{flag} || {below}",
            _ => "true",
        };
    }
}

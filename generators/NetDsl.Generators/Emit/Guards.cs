using System;
using System.Collections.Generic;
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
    /// <summary>The assignments of the input-gradient flags, bottom up (<c>_inputGradient_X = ...;</c>).</summary>
    public static IEnumerable<string> InputGradientFlags(ShapedNetwork network, Func<ShapedLayer, string> trainable)
    {
        string below = "false";
        foreach (var layer in network.Layers)
        {
            if (layer.Index > 0)
            {
                yield return $"{Naming.InputGradientFlag(layer.Name)} = {below};";
                below = Naming.InputGradientFlag(layer.Name);
            }

            if (layer.ParameterCount > 0)
            {
                below = below == "false" ? trainable(layer) : $"{below} || {trainable(layer)}";
            }
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

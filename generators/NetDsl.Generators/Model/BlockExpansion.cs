using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using NetDsl.Generators.Diagnostics;

namespace NetDsl.Generators.Model;

/// <summary>
/// Between parsing and shapes: every <c>[Blocks(typeof(B), n, args)]</c> use of a network becomes the layers of n copies
/// of block B in a row, named by path (<c>Stage[2].Conv1</c>), with B's parameter placeholders replaced by the use's
/// arguments and B's input (<c>LayerAttribute.NetworkInput</c> inside the block) wired to the layer before the copy.
/// The inner layers carry the use's location, so every diagnostic about them points at the use and names the layer by
/// its path. A layer naming the use reads its last block's output.
/// </summary>
public static class BlockExpansion
{
    public static ParseResult Expand(ParseResult parsed, ImmutableArray<BlockParseResult> blocks)
    {
        if (parsed.Spec is not { } spec || !spec.Layers.Any(l => l.Kind == LayerKind.Blocks))
        {
            return parsed;
        }

        var byName = new Dictionary<string, BlockSpec>();
        var broken = new Dictionary<string, EquatableArray<DiagnosticInfo>>();
        foreach (var block in blocks)
        {
            if (block.Spec is { } b && !byName.ContainsKey(b.FullName))
            {
                byName.Add(b.FullName, b);
            }
            else if (block.Spec is null && block.FullName is { } name && block.Diagnostics.Count > 0)
            {
                broken[name] = block.Diagnostics;
            }
        }

        // A use of a block with errors of its own adds no error: the block's are reported once, at the block, and
        // name what to fix; the network is stubbed, its message citing them.
        var causes = new List<DiagnosticInfo>();
        var diagnostics = parsed.Diagnostics.ToList();
        var layers = new List<LayerSpec>();
        var uses = new List<BlockUseSpec>();
        var outputs = new Dictionary<string, string>();
        bool ok = true;
        foreach (var layer in spec.Layers)
        {
            if (layer.Kind != LayerKind.Blocks)
            {
                layers.Add(layer);
                continue;
            }

            if (layer.BlockType is not null && broken.TryGetValue(layer.BlockType, out var blockErrors))
            {
                foreach (var error in blockErrors)
                {
                    if (!causes.Contains(error))
                    {
                        causes.Add(error);
                    }
                }

                ok = false;
                continue;
            }

            if (layer.BlockType is null || !byName.TryGetValue(layer.BlockType, out var block))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BadBlockUse, layer.Attribute, layer.Name,
                    $"'{layer.BlockType ?? "(no type)"}' is not a usable [Block] class (mark a partial class deriving from NetDsl.Block with [Block], and fix its own errors)"));
                ok = false;
                continue;
            }

            if (layer.Units < 1)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonPositiveSize, layer.Attribute, $"The block count of '{layer.Name}'", layer.Units));
                ok = false;
                continue;
            }

            if (layer.Arguments.Count != block.Parameters.Count)
            {
                string names = block.Parameters.Count == 0 ? "none" : string.Join(", ", block.Parameters);
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BadBlockUse, layer.Attribute, layer.Name,
                    $"{block.ClassName} takes {block.Parameters.Count} argument(s) ({names}), but the use gives {layer.Arguments.Count}"));
                ok = false;
                continue;
            }

            string input = layer.Inputs.Count > 0 ? outputs.TryGetValue(layer.Inputs[0], out var o) ? o : layer.Inputs[0]
                : layers.Count > 0 ? layers[layers.Count - 1].Name : LayerSpec.NetworkInputName;
            for (int i = 0; i < layer.Units; i++)
            {
                string prefix = $"{layer.Name}[{i}]";
                for (int j = 0; j < block.Layers.Count; j++)
                {
                    var inner = block.Layers[j];
                    var inputs = inner.Inputs.Select(n => n == LayerSpec.NetworkInputName ? input : prefix + "." + n).ToList();
                    if (inputs.Count == 0 && j == 0)
                    {
                        inputs.Add(input); // the block's first layer reads the block's input
                    }

                    var expanded = Substitute(inner, layer.Arguments) with
                    {
                        Name = prefix + "." + inner.Name,
                        Inputs = inputs.ToEquatableArray(),
                        Attribute = layer.Attribute,
                        Owner = layer.Name,
                    };
                    if (PlaceholderLeft(expanded) is { } field)
                    {
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BadBlockUse, layer.Attribute, layer.Name,
                            $"{block.ClassName}.{inner.Name}'s {field} is computed from a block parameter; use the parameters as they are (give a derived size as a parameter of its own)"));
                        ok = false;
                        break;
                    }

                    layers.Add(expanded);
                }

                input = prefix + "." + block.Layers[block.Layers.Count - 1].Name;
            }

            outputs[layer.Name] = input;
            uses.Add(new BlockUseSpec(layer.Name, layer.PropertyType, layer.Accessibility, block.FullName, layer.Units, block.Layers.Select(l => l.Name).ToEquatableArray()));
        }

        if (!ok)
        {
            var stub = parsed.Stub is { } s && causes.Count > 0 ? s with { Causes = causes.ToEquatableArray() } : parsed.Stub;
            return new ParseResult(null, diagnostics.ToEquatableArray(), stub);
        }

        // A layer that names a block use reads the use's last block.
        var rewired = layers.Select(l => l.Inputs.Any(outputs.ContainsKey)
            ? l with { Inputs = l.Inputs.Select(n => outputs.TryGetValue(n, out var output) ? output : n).ToEquatableArray() }
            : l).ToEquatableArray();
        return parsed with { Spec = spec with { Layers = rewired, BlockUses = uses.ToEquatableArray() }, Diagnostics = diagnostics.ToEquatableArray() };
    }

    private static LayerSpec Substitute(LayerSpec layer, EquatableArray<int> arguments)
    {
        int Value(int v)
        {
            int position = v - Parsing.BlockParser.FirstPlaceholder;
            return position >= 0 && position < arguments.Count ? arguments[position] : v;
        }

        return layer with
        {
            Units = Value(layer.Units),
            WindowHeight = Value(layer.WindowHeight),
            WindowWidth = Value(layer.WindowWidth),
            StrideHeight = Value(layer.StrideHeight),
            StrideWidth = Value(layer.StrideWidth),
            PadHeight = Value(layer.PadHeight),
            PadWidth = Value(layer.PadWidth),
        };
    }

    private static string? PlaceholderLeft(LayerSpec layer) =>
        Parsing.BlockParser.LooksLikePlaceholder(layer.Units) ? "size" :
        Parsing.BlockParser.LooksLikePlaceholder(layer.WindowHeight) || Parsing.BlockParser.LooksLikePlaceholder(layer.WindowWidth) ? "window" :
        Parsing.BlockParser.LooksLikePlaceholder(layer.StrideHeight) || Parsing.BlockParser.LooksLikePlaceholder(layer.StrideWidth) ? "stride" :
        Parsing.BlockParser.LooksLikePlaceholder(layer.PadHeight) || Parsing.BlockParser.LooksLikePlaceholder(layer.PadWidth) ? "padding" : null;
}

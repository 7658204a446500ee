using System.Text;
using NetDsl.Onnx.Schema;
using AttributeType = NetDsl.Onnx.Schema.AttributeProto.Types.AttributeType;

namespace NetDsl.Onnx.Tests;

/// <summary>A model as text: its header, inputs and outputs, every node with its attributes and the shapes of the
/// initializers it reads, then totals per op type (what RESNET18_ONNX.md was written from).</summary>
internal static class GraphText
{
    public static string Describe(OnnxModelFile file)
    {
        var m = file.Model;
        var g = file.Graph;
        var sb = new StringBuilder();
        sb.AppendLine($"ir_version {m.IrVersion}, opsets [{string.Join(", ", m.OpsetImport.Select(o => $"'{o.Domain}' {o.Version}"))}], " +
            $"producer '{m.ProducerName}' {m.ProducerVersion}, domain '{m.Domain}', model_version {m.ModelVersion}, graph '{g.Name}'");
        if (m.DocString.Length > 0) sb.AppendLine($"doc: {m.DocString}");
        foreach (var p in m.MetadataProps) sb.AppendLine($"metadata {p.Key} = {p.Value}");
        foreach (var i in g.Input) sb.AppendLine($"input  {i.Name} {TypeText(i.Type)}{(file.Initializers.ContainsKey(i.Name) ? " (initializer)" : "")}");
        foreach (var o in g.Output) sb.AppendLine($"output {o.Name} {TypeText(o.Type)}");
        sb.AppendLine($"{g.Node.Count} nodes, {g.Initializer.Count} initializers ({g.Initializer.Sum(t => t.Dims.Aggregate(1L, (a, b) => a * b)):N0} values), {g.ValueInfo.Count} value_info");
        for (int n = 0; n < g.Node.Count; n++)
        {
            var node = g.Node[n];
            var inputs = node.Input.Select(x => file.Initializers.TryGetValue(x, out var t)
                ? $"{x}{OnnxModelFile.FormatShape(t.Dims)}{(t.DataType != 1 ? ":" + OnnxModelFile.DataTypeName(t.DataType) : "")}"
                : x);
            sb.Append($"#{n,-3} {node.OpType} '{node.Name}' ({string.Join(", ", inputs)}) -> ({string.Join(", ", node.Output)})");
            foreach (var a in node.Attribute) sb.Append($" {a.Name}={AttributeText(a)}");
            if (node.Domain.Length > 0) sb.Append($" domain={node.Domain}");
            sb.AppendLine();
        }

        sb.AppendLine("ops: " + string.Join(", ", g.Node.GroupBy(x => x.OpType).Select(x => $"{x.Key} x{x.Count()}")));
        var used = g.Node.SelectMany(x => x.Input).ToHashSet();
        var unused = g.Initializer.Where(t => !used.Contains(t.Name)).Select(t => t.Name).ToList();
        sb.AppendLine($"initializers no node reads: {(unused.Count == 0 ? "none" : string.Join(", ", unused))}");
        return sb.ToString();
    }

    public static string AttributeText(AttributeProto a) => a.Type switch
    {
        AttributeType.Float => a.F.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        AttributeType.Int => a.I.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AttributeType.String => $"'{a.S.ToStringUtf8()}'",
        AttributeType.Ints => "[" + string.Join(",", a.Ints) + "]",
        AttributeType.Floats => "[" + string.Join(",", a.Floats.Select(f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "]",
        AttributeType.Tensor => $"tensor{OnnxModelFile.FormatShape(a.T.Dims)}:{OnnxModelFile.DataTypeName(a.T.DataType)}" +
            (a.T.DataType == 1 && a.T.Dims.Aggregate(1L, (x, y) => x * y) <= 8 ? "{" + string.Join(",", OnnxModelFile.ReadFloats(a.T)) + "}" : ""),
        AttributeType.Graph => $"graph '{a.G.Name}' ({a.G.Node.Count} nodes)",
        _ => a.Type.ToString(),
    };

    private static string TypeText(TypeProto? type)
    {
        if (type?.TensorType is not { } t) return type?.ToString() ?? "(no type)";
        string dims = t.Shape is null ? "(no shape)" : "[" + string.Join(", ", t.Shape.Dim.Select(d => d.HasDimValue ? d.DimValue.ToString() : d.HasDimParam ? d.DimParam : "?")) + "]";
        return $"{OnnxModelFile.DataTypeName(t.ElemType)}{dims}";
    }
}

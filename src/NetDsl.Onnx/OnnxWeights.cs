using NetDsl.Onnx.Schema;

namespace NetDsl.Onnx;

/// <summary>One pairing the import made: an ONNX node and the NetDsl layer whose weights it supplied.</summary>
/// <param name="Node">The ONNX node's name (or <c>#index</c> when it has none) and op type.</param>
/// <param name="Layer">The NetDsl layer's name (its path inside blocks, e.g. <c>Layer3[1].Conv2</c>).</param>
/// <param name="Tensors">The tensors loaded, as <c>onnx initializer -> layer tensor [shape]</c>.</param>
public sealed record OnnxWeightMapping(string Node, string Layer, IReadOnlyList<string> Tensors);

/// <summary>
/// Loads the initializers of an ONNX model into a declared NetDsl network. Tensors are paired by the structure of the
/// two graphs, never by name: both are walked from their outputs back to their inputs, op by op (a NetDsl layer's fused
/// activation counts as an op of its own; Flatten, Dropout, Identity and linear activations are looked through), and
/// at each residual Add both orders of its inputs are tried, so graphs that list a shortcut before the main path (as
/// CNTK's exports do) pair correctly. Every op's kind and settings (kernel, strides, pooling) and every tensor's shape
/// are checked; the first mismatch is reported naming the ONNX node, the layer and both shapes. Nothing is written
/// until everything has been checked.
/// </summary>
public static class OnnxWeights
{
    /// <summary>
    /// Loads the weights of the ONNX model at <paramref name="path"/> into <paramref name="network"/>: convolution
    /// kernels and biases (ONNX <c>[filters, in, kh, kw]</c> re-laid-out to <c>[kh, kw, in, filters]</c>), BatchNorm
    /// scale, shift, mean and variance, and dense (<c>Gemm</c>) weights and biases (rows re-ordered when the dense layer
    /// reads a flattened image: ONNX flattens channels first, NetDsl channels last).
    /// </summary>
    /// <returns>The pairs made, in the network's layer order.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid ONNX model, or its graph does not have the network's
    /// structure, or a tensor's shape differs; the network is unchanged.</exception>
    public static IReadOnlyList<OnnxWeightMapping> LoadOnnxWeights(this Network network, string path, OnnxReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrEmpty(path);
        return network.LoadOnnxWeights(OnnxModelFile.Read(path, options));
    }

    /// <summary>Loads the weights of an already read ONNX model; see <see cref="LoadOnnxWeights(Network, string, OnnxReadOptions?)"/>.</summary>
    public static IReadOnlyList<OnnxWeightMapping> LoadOnnxWeights(this Network network, OnnxModelFile model)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(model);
        var matcher = new Matcher(network, model);
        matcher.MatchOutputs();
        var writes = matcher.PrepareWrites(out var mappings);
        foreach (var (destination, values) in writes)
        {
            values.CopyTo(destination());
        }

        return mappings;
    }

    /// <summary>A NetDsl op: a layer's core op, or the activation fused into it (<see cref="IsActivation"/>).</summary>
    private readonly record struct NetOp(Layer Layer, bool IsActivation)
    {
        public override string ToString() => IsActivation ? $"{Layer.Name} ({OnnxLayout.FusedActivation(Layer)})" : $"{Layer.Name} ({Layer.Kind})";
    }

    private sealed class Matcher
    {
        private readonly Network _network;
        private readonly OnnxModelFile _model;
        private readonly Dictionary<string, (NodeProto Node, int Index)> _producers = new(StringComparer.Ordinal);
        private readonly HashSet<string> _graphInputs = new(StringComparer.Ordinal);
        private Dictionary<NodeProto, NetOp> _pairs = new(ReferenceEqualityComparer.Instance);
        private Dictionary<NetOp, NodeProto> _matched = new();
        private string? _firstMismatch;

        public Matcher(Network network, OnnxModelFile model)
        {
            _network = network;
            _model = model;
            var nodes = model.Graph.Node;
            for (int i = 0; i < nodes.Count; i++)
            {
                foreach (string output in nodes[i].Output)
                {
                    _producers[output] = (nodes[i], i);
                }
            }

            foreach (var input in model.Graph.Input)
            {
                if (!model.Initializers.ContainsKey(input.Name))
                {
                    _graphInputs.Add(input.Name);
                }
            }
        }

        public void MatchOutputs()
        {
            var layers = _network.Layers;
            if (_model.Graph.Output.Count != 1)
            {
                throw Invalid($"the graph has {_model.Graph.Output.Count} outputs; a NetDsl network has one");
            }

            if (_graphInputs.Count != 1)
            {
                throw Invalid($"the graph has {_graphInputs.Count} inputs that are not initializers; a NetDsl network has one");
            }

            // An export ends with the activation Predict applies for the loss when the last layer does not (a classifier's
            // softmax on logits): step over it.
            string output = _model.Graph.Output[0].Name;
            if (OnnxExport.HeadActivation(_network.Loss, layers[^1]) is { } head && _producers.TryGetValue(output, out var last)
                && last.Node.OpType == OnnxLayout.OpType(head))
            {
                output = last.Node.Input[0];
            }

            if (!Match(output, Top(layers[^1])))
            {
                throw Invalid($"its graph does not have {_network.GetType().Name}'s structure: {_firstMismatch ?? "the outputs differ"}");
            }
        }

        /// <summary>The op that produces a layer's output: its fused activation when it has one.</summary>
        private static NetOp? Top(Layer? layer) => layer is null ? null : new NetOp(layer, OnnxLayout.FusedActivation(layer) is not Activation.Linear);

        /// <summary>The op below <paramref name="op"/> reading input <paramref name="i"/>.</summary>
        private static NetOp? Below(NetOp op, int i) => op.IsActivation ? new NetOp(op.Layer, false) : Top(op.Layer.Sources[i]);

        /// <summary>Looks through the ops that compute nothing for the weights: Flatten, Dropout, linear activations.</summary>
        private static NetOp? SkipNet(NetOp? op)
        {
            while (op is { } o && !o.IsActivation && o.Layer is FlattenLayer or DropoutLayer or ActivationLayer { Activation: Activation.Linear })
            {
                op = Top(o.Layer.Sources[0]);
            }

            return op;
        }

        /// <summary>The node producing <paramref name="value"/>, looking through Flatten, Reshape, Dropout and Identity; null for the graph input.</summary>
        private NodeProto? SkipOnnx(string value, out bool unknown)
        {
            unknown = false;
            while (true)
            {
                if (_graphInputs.Contains(value))
                {
                    return null;
                }

                if (!_producers.TryGetValue(value, out var producer))
                {
                    unknown = true; // an initializer or a constant where an activation was expected
                    return null;
                }

                if (producer.Node.OpType is "Flatten" or "Reshape" or "Dropout" or "Identity")
                {
                    value = producer.Node.Input[0];
                    continue;
                }

                return producer.Node;
            }
        }

        private bool Match(string value, NetOp? op)
        {
            var node = SkipOnnx(value, out bool unknown);
            op = SkipNet(op);
            if (unknown)
            {
                return Fail($"'{value}' is neither computed by a node nor the graph input, where {Describe(op)} is expected");
            }

            if (node is null || op is null)
            {
                return node is null && op is null || Fail(node is null
                    ? $"the ONNX graph reaches its input where {Describe(op)} is expected"
                    : $"{NodeName(node)} has no counterpart: the network reaches its input there");
            }

            var o = op.Value;
            if (_pairs.TryGetValue(node, out var paired))
            {
                return paired.Equals(o) || Fail($"{NodeName(node)} is reached both as {paired} and as {o}");
            }

            if (_matched.TryGetValue(o, out var other))
            {
                return Fail($"{o} is reached from both {NodeName(other)} and {NodeName(node)}");
            }

            if (!Compatible(node, o, out string? why))
            {
                return Fail($"{NodeName(node)} cannot be {o}: {why}");
            }

            Pair(node, o);
            var inputs = ActivationInputs(node);
            if (o.IsActivation || o.Layer is not MergeLayer)
            {
                return Match(inputs[0], Below(o, 0));
            }

            var merge = (MergeLayer)o.Layer;
            if (inputs.Count != merge.Sources.Count)
            {
                return Fail($"{NodeName(node)} has {inputs.Count} inputs but {o} has {merge.Sources.Count}");
            }

            if (merge.Concatenates || inputs.Count != 2)
            {
                for (int i = 0; i < inputs.Count; i++)
                {
                    if (!Match(inputs[i], Below(o, i)))
                    {
                        return false;
                    }
                }

                return true;
            }

            // A sum: its inputs may be listed in either order; try one, and the other when the first does not fit.
            var pairs = new Dictionary<NodeProto, NetOp>(_pairs, ReferenceEqualityComparer.Instance);
            var matched = new Dictionary<NetOp, NodeProto>(_matched);
            if (Match(inputs[0], Below(o, 0)) && Match(inputs[1], Below(o, 1)))
            {
                return true;
            }

            string? first = _firstMismatch;
            _pairs = pairs;
            _matched = matched;
            _firstMismatch = null;
            if (Match(inputs[1], Below(o, 0)) && Match(inputs[0], Below(o, 1)))
            {
                return true;
            }

            _firstMismatch = first ?? _firstMismatch;
            return false;
        }

        private void Pair(NodeProto node, NetOp op)
        {
            _pairs[node] = op;
            _matched[op] = node;
        }

        /// <summary>The inputs of a node that carry activations (not its weights).</summary>
        private List<string> ActivationInputs(NodeProto node) => node.OpType switch
        {
            "Conv" or "BatchNormalization" or "Gemm" or "MatMul" or "Pad" => [node.Input[0]],
            _ => [.. node.Input.Where(i => i.Length > 0 && !_model.Initializers.ContainsKey(i))],
        };

        private bool Compatible(NodeProto node, NetOp op, out string? why)
        {
            why = null;
            if (op.IsActivation)
            {
                string expected = OnnxLayout.OpType(OnnxLayout.FusedActivation(op.Layer));
                why = node.OpType == expected ? null : $"it is {node.OpType}, the layer applies {expected}";
                return why is null;
            }

            switch (op.Layer)
            {
                case Conv2DLayer conv:
                    if (node.OpType != "Conv")
                    {
                        why = $"it is {node.OpType}, not Conv";
                        return false;
                    }

                    if (Int(node, "group", 1) != 1 || Ints(node, "dilations") is { } d && d.Any(x => x != 1))
                    {
                        why = "grouped or dilated convolutions have no NetDsl counterpart";
                        return false;
                    }

                    long[] strides = Ints(node, "strides") ?? [1, 1];
                    if (strides.Length != 2 || strides[0] != conv.StrideHeight || strides[1] != conv.StrideWidth)
                    {
                        why = $"strides {OnnxModelFile.FormatShape(strides)} against the layer's [{conv.StrideHeight}, {conv.StrideWidth}]";
                        return false;
                    }

                    return true;
                case BatchNormLayer:
                    why = node.OpType == "BatchNormalization" ? null : $"it is {node.OpType}, not BatchNormalization";
                    return why is null;
                case DenseLayer:
                    why = node.OpType is "Gemm" or "MatMul" ? null : $"it is {node.OpType}, not Gemm or MatMul";
                    return why is null;
                case PoolingLayer pool:
                {
                    if (pool.IsGlobal)
                    {
                        bool whole = node.OpType == "GlobalAveragePool" || node.OpType == "AveragePool" && Ints(node, "kernel_shape") is { Length: 2 } k
                            && k[0] == pool.Sources[0]!.OutputShape[1] && k[1] == pool.Sources[0]!.OutputShape[2] && (Ints(node, "pads") ?? []).All(p => p == 0);
                        why = whole ? null : $"it is {node.OpType}, not a global average pool";
                        return whole;
                    }

                    string expected = pool.IsMax ? "MaxPool" : "AveragePool";
                    long[]? kernel = Ints(node, "kernel_shape");
                    long[] poolStrides = Ints(node, "strides") ?? [1, 1];
                    if (node.OpType != expected || kernel is not [var kh, var kw] || kh != pool.PoolHeight || kw != pool.PoolWidth
                        || poolStrides.Length != 2 || poolStrides[0] != pool.StrideHeight || poolStrides[1] != pool.StrideWidth)
                    {
                        why = $"{node.OpType} {OnnxModelFile.FormatShape(kernel ?? [])} stride {OnnxModelFile.FormatShape(poolStrides)} against {expected} [{pool.PoolHeight}, {pool.PoolWidth}] stride [{pool.StrideHeight}, {pool.StrideWidth}]";
                        return false;
                    }

                    return true;
                }

                case MergeLayer merge:
                    bool same = merge.Concatenates ? node.OpType == "Concat" : node.OpType is "Add" or "Sum";
                    why = same ? null : $"it is {node.OpType}, not {(merge.Concatenates ? "Concat" : "Add or Sum")}";
                    return why is null;
                case LocalResponseNormalizationLayer lrn:
                    why = node.OpType == "LRN" && Int(node, "size", 0) == lrn.Size ? null : $"it is {node.OpType} (size {Int(node, "size", 0)}), not LRN of size {lrn.Size}";
                    return why is null;
                case ZeroPaddingLayer:
                    why = node.OpType == "Pad" ? null : $"it is {node.OpType}, not Pad";
                    return why is null;
                case ActivationLayer activation:
                    string act = OnnxLayout.OpType(activation.Activation);
                    why = node.OpType == act ? null : $"it is {node.OpType}, not {act}";
                    return why is null;
                default:
                    why = $"{op.Layer.Kind} layers cannot be imported";
                    return false;
            }
        }

        /// <summary>Every tensor to write, checked; the network is not touched yet.</summary>
        public List<(Func<Span<float>> Destination, float[] Values)> PrepareWrites(out List<OnnxWeightMapping> mappings)
        {
            var writes = new List<(Func<Span<float>>, float[])>();
            mappings = [];
            foreach (var layer in _network.Layers)
            {
                if (layer.ParameterCount == 0)
                {
                    continue;
                }

                if (!_matched.TryGetValue(new NetOp(layer, false), out var node))
                {
                    throw Invalid($"layer '{layer.Name}' ({layer.Kind}) has parameters but no ONNX node was paired with it");
                }

                var loaded = new List<string>();
                switch (layer)
                {
                    case Conv2DLayer conv:
                    {
                        float[] w = Tensor(node, 1, layer, [conv.Filters, conv.InputChannels, conv.KernelHeight, conv.KernelWidth], "kernel", loaded);
                        writes.Add((() => conv.Weights, OnnxLayout.Kernel(w, conv.Filters, conv.InputChannels, conv.KernelHeight, conv.KernelWidth, toOnnx: false)));
                        BiasOf(node, 2, conv.UseBias, conv.Filters, layer, loaded, v => writes.Add((() => conv.Bias, v)));
                        break;
                    }

                    case BatchNormLayer bn:
                    {
                        float epsilon = Float(node, "epsilon", 1e-5f);
                        if (MathF.Abs(epsilon - bn.Epsilon) > 1e-6f * MathF.Max(epsilon, bn.Epsilon))
                        {
                            throw Invalid($"{NodeName(node)} normalises with epsilon {epsilon:R} but layer '{bn.Name}' with {bn.Epsilon:R}");
                        }

                        string[] names = ["gamma", "beta", "moving_mean", "moving_variance"];
                        var values = new float[4][];
                        for (int i = 0; i < 4; i++)
                        {
                            values[i] = Tensor(node, i + 1, layer, [bn.Channels], names[i], loaded);
                        }

                        writes.Add((() => bn.Gamma, values[0]));
                        writes.Add((() => bn.Beta, values[1]));
                        writes.Add((() => bn.MovingMean, values[2]));
                        writes.Add((() => bn.MovingVariance, values[3]));
                        break;
                    }

                    case DenseLayer dense:
                    {
                        bool transposed = node.OpType == "Gemm" && Int(node, "transB", 0) == 1;
                        if (node.OpType == "Gemm" && (Int(node, "transA", 0) != 0 || Float(node, "alpha", 1f) != 1f || Float(node, "beta", 1f) != 1f))
                        {
                            throw Invalid($"{NodeName(node)} scales or transposes its input (transA, alpha, beta), which a dense layer does not");
                        }

                        float[] w = Tensor(node, 1, layer, transposed ? [dense.Units, dense.Inputs] : [dense.Inputs, dense.Units], "kernel", loaded);
                        writes.Add((() => dense.Weights, OnnxLayout.DenseRows(dense, transposed ? Transpose(w, dense.Units, dense.Inputs) : w, toOnnx: false)));
                        BiasOf(node, 2, dense.UseBias, dense.Units, layer, loaded, v => writes.Add((() => dense.Bias, v)));
                        break;
                    }

                    default:
                        throw Invalid($"layer '{layer.Name}' ({layer.Kind}) has parameters the import does not know");
                }

                mappings.Add(new OnnxWeightMapping(NodeName(node), layer.Name, loaded));
            }

            return writes;
        }

        private float[] Tensor(NodeProto node, int input, Layer layer, long[] expected, string what, List<string> loaded)
        {
            if (node.Input.Count <= input || node.Input[input].Length == 0)
            {
                throw Invalid($"{NodeName(node)} has no input {input} for layer '{layer.Name}' {what}");
            }

            string name = node.Input[input];
            if (!_model.Initializers.TryGetValue(name, out var tensor))
            {
                throw Invalid($"{NodeName(node)} reads '{name}' for layer '{layer.Name}' {what}, which is computed, not an initializer");
            }

            long[] dims = OnnxModelFile.Dims(tensor);
            if (!dims.SequenceEqual(expected))
            {
                throw Invalid($"{NodeName(node)} has '{name}' of shape {OnnxModelFile.FormatShape(dims)} but layer '{layer.Name}' {what} needs {OnnxModelFile.FormatShape(expected)}");
            }

            loaded.Add($"{name} -> {what} {OnnxModelFile.FormatShape(expected)}");
            return OnnxModelFile.ReadFloats(tensor);
        }

        private void BiasOf(NodeProto node, int input, bool layerHasBias, int units, Layer layer, List<string> loaded, Action<float[]> write)
        {
            bool onnxHasBias = node.Input.Count > input && node.Input[input].Length > 0;
            if (onnxHasBias && !layerHasBias)
            {
                throw Invalid($"{NodeName(node)} adds a bias '{node.Input[input]}' but layer '{layer.Name}' has none (UseBias = false)");
            }

            if (layerHasBias)
            {
                write(onnxHasBias ? Tensor(node, input, layer, [units], "bias", loaded) : new float[units]); // ONNX: no bias input means a zero bias
            }
        }

        private static float[] Transpose(float[] w, int rows, int columns)
        {
            var result = new float[w.Length];
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < columns; c++)
                {
                    result[c * rows + r] = w[r * columns + c];
                }
            }

            return result;
        }

        private bool Fail(string why)
        {
            _firstMismatch ??= why;
            return false;
        }

        private string NodeName(NodeProto node) => $"node '{(node.Name.Length > 0 ? node.Name : "#" + _producers[node.Output[0]].Index)}' ({node.OpType})";

        private string Describe(NetOp? op) => op is { } o ? o.ToString() : "the network input";

        private InvalidDataException Invalid(string why) => new($"'{_model.Source}' cannot be loaded into {_network.GetType().Name}: {why}.");
    }

    private static AttributeProto? Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);

    private static long Int(NodeProto node, string name, long fallback) => Attribute(node, name) is { } a ? a.I : fallback;

    private static float Float(NodeProto node, string name, float fallback) => Attribute(node, name) is { } a ? a.F : fallback;

    private static long[]? Ints(NodeProto node, string name) => Attribute(node, name) is { } a ? [.. a.Ints] : null;
}

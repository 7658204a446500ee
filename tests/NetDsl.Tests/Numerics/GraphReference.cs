namespace NetDsl.Tests.Numerics;

/// <summary>
/// A double-precision reference for networks that are graphs, written from the math: every node is a
/// <see cref="CnnRefLayer"/> reading one earlier node, or an element-wise sum (Add, then its activation) or a
/// channel concatenation (Concat) of several. Values are channels first per sample, as <see cref="CnnReference"/>.
/// Backward by the chain rule over the graph: a node read by several nodes sums their gradients. Loss: sparse
/// categorical cross-entropy of the softmax of the last node's pre-activation (as <see cref="CnnReference"/>). The graph
/// is described by the test, independently of the generator's wiring; node i must be the network's layer i.
/// </summary>
public sealed class GraphReference(CnnShape input)
{
    private readonly List<Node> _nodes = [];

    private sealed record Node(CnnRefLayer? Layer, int[] From, bool Concat, Activation Activation, CnnShape Out);

    public CnnShape Input { get; } = input;

    public int Count => _nodes.Count;

    /// <summary>The reference layer of node <paramref name="node"/> (null for a merge).</summary>
    public CnnRefLayer? LayerAt(int node) => _nodes[node].Layer;

    /// <summary>Adds the generated layer <paramref name="view"/> (its parameters copied), reading node <paramref name="from"/> (-1: the input).</summary>
    public int Layer(Layer view, int from = int.MinValue)
    {
        int source = from == int.MinValue ? _nodes.Count - 1 : from;
        bool image = !ShapeOf(source).IsFlat; // the test networks have no 1 x 1 images
        var layer = CnnReference.ToReference(view, ShapeOf(source), ref image);
        return Append(view, new Node(layer, [source], false, layer.Activation, layer.Out));
    }

    /// <summary>Adds an element-wise sum of <paramref name="from"/>, then <paramref name="activation"/>.</summary>
    public int Add(Layer view, Activation activation, params int[] from)
    {
        var shape = ShapeOf(from[0]);
        if (from.Any(f => ShapeOf(f) != shape))
        {
            throw new ArgumentException("Add of different shapes");
        }

        return Append(view, new Node(null, from, false, activation, shape));
    }

    /// <summary>Adds a concatenation of <paramref name="from"/> along the channels.</summary>
    public int Concat(Layer view, params int[] from)
    {
        var first = ShapeOf(from[0]);
        return Append(view, new Node(null, from, true, Activation.Linear, new CnnShape(from.Sum(f => ShapeOf(f).C), first.H, first.W)));
    }

    private int Append(Layer view, Node node)
    {
        if (view.Index != _nodes.Count)
        {
            throw new ArgumentException($"{view.Name} is layer {view.Index} of the network but would be node {_nodes.Count}.");
        }

        _nodes.Add(node);
        return _nodes.Count - 1;
    }

    private CnnShape ShapeOf(int node) => node < 0 ? Input : _nodes[node].Out;

    /// <summary>Each node's input (first input for merges), pre-activation and output, [rows x size] channels first.</summary>
    public (double[][] Inputs, double[][] Pre, double[][] Post) Forward(double[] x, int rows, CnnPass pass)
    {
        var inputs = new double[_nodes.Count][];
        var pre = new double[_nodes.Count][];
        var post = new double[_nodes.Count][];
        double[] Value(int n) => n < 0 ? x : post[n];
        for (int n = 0; n < _nodes.Count; n++)
        {
            var node = _nodes[n];
            inputs[n] = Value(node.From[0]);
            if (node.Layer is { } layer)
            {
                pre[n] = layer.Forward(inputs[n], rows, pass, n);
            }
            else if (node.Concat)
            {
                pre[n] = new double[rows * node.Out.Size];
                for (int r = 0; r < rows; r++)
                {
                    int at = r * node.Out.Size;
                    foreach (int f in node.From)
                    {
                        int size = ShapeOf(f).Size;
                        Array.Copy(Value(f), r * size, pre[n], at, size);
                        at += size;
                    }
                }
            }
            else
            {
                pre[n] = new double[rows * node.Out.Size];
                foreach (int f in node.From)
                {
                    var v = Value(f);
                    for (int i = 0; i < v.Length; i++)
                    {
                        pre[n][i] += v[i];
                    }
                }
            }

            post[n] = CnnReference.Activate(node.Activation, pre[n], rows, node.Out.Size);
        }

        return (inputs, pre, post);
    }

    /// <summary>Class probabilities, [rows x classes].</summary>
    public double[] Probabilities(double[] x, int rows, CnnPass? pass = null)
    {
        var (_, pre, _) = Forward(x, rows, pass ?? CnnPass.Inference);
        return CnnReference.Activate(Activation.Softmax, pre[^1], rows, _nodes[^1].Out.Size);
    }

    /// <summary>Loss and the gradients of the mean loss with respect to every node's parameters.</summary>
    public CnnGradients Gradients(double[] x, int[] labels, int rows, CnnPass pass)
    {
        var (inputs, pre, _) = Forward(x, rows, pass);
        int classes = _nodes[^1].Out.Size;
        double loss = ReferenceMlp.LossFromLogits(pre[^1], labels, rows, classes);
        var dPost = new double[_nodes.Count][];
        var dPre = new double[_nodes.Count][];
        var grads = new double[_nodes.Count][][];
        double[]? dInput = null;
        void Accumulate(int node, double[] d)
        {
            if (node < 0)
            {
                dInput = d;
                return;
            }

            if (dPost[node] is null)
            {
                dPost[node] = (double[])d.Clone();
                return;
            }

            for (int i = 0; i < d.Length; i++)
            {
                dPost[node][i] += d[i];
            }
        }

        for (int n = _nodes.Count - 1; n >= 0; n--)
        {
            var node = _nodes[n];
            grads[n] = [];
            if (n == _nodes.Count - 1)
            {
                var d = new double[rows * classes];
                for (int r = 0; r < rows; r++)
                {
                    ReferenceMlp.SoftmaxRow(pre[n].AsSpan(r * classes, classes), d.AsSpan(r * classes, classes));
                    d[r * classes + labels[r]] -= 1;
                }

                dPre[n] = d.Select(v => v / rows).ToArray();
            }
            else if (dPost[n] is null)
            {
                continue;
            }
            else
            {
                dPre[n] = CnnReference.ActivationBackward(node.Activation, pre[n], dPost[n], rows, node.Out.Size);
            }

            if (node.Layer is { } layer)
            {
                var (dx, parameters) = layer.Backward(inputs[n], dPre[n], rows, pass, n);
                grads[n] = parameters;
                Accumulate(node.From[0], dx);
            }
            else if (node.Concat)
            {
                int at = 0;
                foreach (int f in node.From)
                {
                    int size = ShapeOf(f).Size;
                    var d = new double[rows * size];
                    for (int r = 0; r < rows; r++)
                    {
                        Array.Copy(dPre[n], r * node.Out.Size + at, d, r * size, size);
                    }

                    Accumulate(f, d);
                    at += size;
                }
            }
            else
            {
                foreach (int f in node.From)
                {
                    Accumulate(f, dPre[n]);
                }
            }
        }

        return new CnnGradients(loss, grads, dInput ?? [], inputs, dPre, rows);
    }
}

using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Numerics;

/// <summary>
/// Networks that are graphs (named inputs, Add, Concat, layers read by several layers) against the double-precision
/// <see cref="GraphReference"/>, with the same tolerances as <see cref="CnnGradientTests"/> (the sums are of the same
/// lengths; a graph only adds sums of two gradient contributions, exact to one rounding).
/// </summary>
public class GraphTests(ITestOutputHelper output)
{
    public static TheoryData<string, int> Cases() => new()
    {
        { "GraphResidual", 1 }, { "GraphResidual", 2 }, { "GraphDense", 1 }, { "GraphDense", 2 }, { "TinyResNet", 1 }, { "TinyResNet", 2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Loss_gradients_and_predictions_match_the_reference(string name, int threads)
    {
        var random = new Random(name.Length * 10 + threads);
        using var network = Create(name, 6, threads);
        CnnNetworkFactory.RandomizeExtras(network, random);
        var stats = new CnnCompare.Stats();
        foreach (int rows in new[] { 6, 1, 4 })
        {
            var reference = Reference(network);
            float[] x = CnnCompare.RandomInputs(random, rows, reference.Input);
            int[] labels = NetworkFactory.RandomLabels(random, rows, network.OutputSize);
            float loss = network.ComputeGradients(x, labels);
            var wide = NetworkFactory.Widen(x);
            var expected = reference.Gradients(wide, labels, rows, CnnPass.Train());
            string what = $"{name} threads {threads} rows {rows}";
            CnnCompare.Loss(loss, expected.Loss, what, stats);
            foreach (var layer in network.Layers)
            {
                var g = expected.Parameters[layer.Index];
                switch (layer)
                {
                    case Conv2DLayer conv:
                        CnnCompare.Tensor(conv.WeightGradients, g[0], $"{what} {conv.Name}.WeightGradients", stats);
                        if (conv.UseBias)
                        {
                            CnnCompare.Tensor(conv.BiasGradients, g[1], $"{what} {conv.Name}.BiasGradients", stats);
                        }

                        break;
                    case DenseLayer dense:
                        CnnCompare.Tensor(dense.WeightGradients, g[0], $"{what} {dense.Name}.WeightGradients", stats);
                        CnnCompare.Tensor(dense.BiasGradients, g[1], $"{what} {dense.Name}.BiasGradients", stats);
                        break;
                    case BatchNormLayer bn:
                    {
                        var (gammaTerms, betaTerms) = ((BatchNormRef)reference.LayerAt(bn.Index)!).GradientMagnitudes(
                            expected.LayerInputs[bn.Index], expected.PreActivationGradients[bn.Index], rows, CnnPass.Train());
                        CnnCompare.Tensor(bn.GammaGradients, g[0], $"{what} {bn.Name}.GammaGradients", stats, terms: gammaTerms);
                        CnnCompare.Tensor(bn.BetaGradients, g[1], $"{what} {bn.Name}.BetaGradients", stats, terms: betaTerms);
                        break;
                    }
                }
            }
        }

        var finalReference = Reference(network);
        float[] inputs = CnnCompare.RandomInputs(random, 13, finalReference.Input);
        var predicted = new float[13 * network.OutputSize];
        network.Predict(inputs, predicted);
        CnnCompare.Probabilities(predicted, finalReference.Probabilities(NetworkFactory.Widen(inputs), 13), $"{name} threads {threads} Predict", stats);
        output.WriteLine($"{name}, threads {threads}: {stats}");
    }

    /// <summary>A graph trains: a few SGD steps on a fixed batch lower its loss (the update reaches every branch).</summary>
    [Theory]
    [InlineData("GraphResidual")]
    [InlineData("GraphDense")]
    [InlineData("TinyResNet")]
    public void Training_lowers_the_loss(string name)
    {
        using var network = Create(name, 8, 1);
        var random = new Random(3);
        float[] x = NetworkFactory.RandomFloats(random, 8 * network.InputSize);
        int[] labels = NetworkFactory.RandomLabels(random, 8, network.OutputSize);
        var sgd = new Optimizers.Sgd(0.1f, momentum: 0.9f);
        float first = network.TrainStep(x, labels, sgd), last = first;
        for (int i = 0; i < 30; i++)
        {
            last = network.TrainStep(x, labels, sgd);
        }

        Assert.True(last < first * 0.7, $"{name}: loss {first} -> {last}");
    }

    /// <summary>A block's layers are views named by their path; weight files name tensors by it and round-trip.</summary>
    [Fact]
    public void Block_layers_are_views_named_by_path()
    {
        using var network = new TinyResNet(2, seed: 1);
        Assert.Equal(2, network.Stage1.Count);
        Assert.Equal("Stage1[1].Conv2", network.Stage1[1].Conv2.Name);
        Assert.Same(network.Layers.Single(l => l.Name == "Stage2[0].Project"), network.Stage2[0].Project);
        Assert.Equal(8, network.Stage2[0].Layers.Count);
        Assert.Contains(network.Layers.SelectMany(l => l.Tensors), t => t.FullName == "Stage2[0].Project.kernel");

        network.Stage1.Trainable = false;
        Assert.All(network.Stage1.SelectMany(b => b.Layers), l => Assert.False(l.Trainable));

        string path = Path.Combine(Path.GetTempPath(), $"netdsl-blocks-{Guid.NewGuid():N}.safetensors");
        try
        {
            network.SaveWeights(path);
            using var other = new TinyResNet(2, seed: 2);
            Assert.NotEqual(network.Stage2[0].Conv2.Weights.ToArray(), other.Stage2[0].Conv2.Weights.ToArray());
            other.LoadWeights(path);
            Assert.Equal(network.Stage2[0].Conv2.Weights.ToArray(), other.Stage2[0].Conv2.Weights.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static Network Create(string name, int batch, int threads) => name switch
    {
        "GraphResidual" => new GraphResidual(batch, seed: 5, threads: threads),
        "GraphDense" => new GraphDense(batch, seed: 5, threads: threads),
        "TinyResNet" => new TinyResNet(batch, seed: 5, threads: threads),
        _ => throw new ArgumentException(name),
    };

    /// <summary>The reference graph of each network, written out from its declaration (not from the generator's wiring).</summary>
    public static GraphReference Reference(Network network)
    {
        switch (network)
        {
            case GraphResidual n:
            {
                var g = new GraphReference(new CnnShape(2, 6, 6));
                int stem = g.Layer(n.Stem, -1);
                g.Layer(n.Conv1, stem);
                g.Layer(n.Conv2);
                int norm = g.Layer(n.Norm);
                int sum = g.Add(n.Sum, Activation.ReLU, norm, stem);
                int b1 = g.Layer(n.Branch1, sum);
                g.Layer(n.Branch2a, sum);
                int b2 = g.Layer(n.Branch2b);
                g.Concat(n.Mixed, b1, b2);
                g.Layer(n.Pool);
                g.Layer(n.Flat);
                g.Layer(n.Output);
                return g;
            }

            case GraphDense n:
            {
                var g = new GraphReference(CnnShape.Flat(8));
                int a = g.Layer(n.A, -1);
                int b = g.Layer(n.B, -1);
                int sum = g.Add(n.Sum, Activation.Linear, a, b);
                g.Concat(n.Joined, sum, a);
                g.Layer(n.Squash);
                g.Layer(n.Output);
                return g;
            }

            case TinyResNet n:
            {
                // Written from the paper's wiring, through the block views (model.Stage1[i].Conv1, ...).
                var g = new GraphReference(new CnnShape(2, 6 + 2, 8));
                int x = g.Layer(n.Stem, -1);
                foreach (var block in n.Stage1)
                {
                    g.Layer(block.Conv1, x);
                    g.Layer(block.Norm1);
                    g.Layer(block.Relu);
                    g.Layer(block.Conv2);
                    int norm2 = g.Layer(block.Norm2);
                    x = g.Add(block.Sum, Activation.ReLU, norm2, x);
                }

                var down = n.Stage2[0];
                g.Layer(down.Conv1, x);
                g.Layer(down.Norm1);
                g.Layer(down.Relu);
                g.Layer(down.Conv2);
                int main = g.Layer(down.Norm2);
                g.Layer(down.Project, x);
                int shortcut = g.Layer(down.ProjectNorm);
                x = g.Add(down.Sum, Activation.ReLU, main, shortcut);
                g.Layer(n.Gap, x);
                g.Layer(n.Output);
                return g;
            }

            default:
                throw new ArgumentException(network.GetType().Name);
        }
    }
}

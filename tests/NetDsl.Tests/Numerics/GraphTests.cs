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
    public static TheoryData<string, int> Cases() => new() { { "GraphResidual", 1 }, { "GraphResidual", 2 }, { "GraphDense", 1 }, { "GraphDense", 2 } };

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

    public static Network Create(string name, int batch, int threads) => name switch
    {
        "GraphResidual" => new GraphResidual(batch, seed: 5, threads: threads),
        "GraphDense" => new GraphDense(batch, seed: 5, threads: threads),
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

            default:
                throw new ArgumentException(network.GetType().Name);
        }
    }
}

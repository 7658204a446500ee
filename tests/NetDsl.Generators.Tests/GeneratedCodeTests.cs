using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using System.Text.RegularExpressions;

namespace NetDsl.Generators.Tests;

/// <summary>
/// Compiles the generated code, loads it and runs it: the Summary table's numbers, the layer views, and the
/// backward pass against finite differences (so the snapshot baselines are known to encode correct code).
/// </summary>
public partial class GeneratedCodeTests
{
    private static Type LoadNetworkType(string source, string fullName)
    {
        var run = GeneratorHarness.Run(source);
        GeneratorHarness.AssertCleanOutput(run);
        using var stream = new MemoryStream();
        var emit = run.OutputCompilation.Emit(stream);
        Assert.True(emit.Success, GeneratorRun.Describe(emit.Diagnostics));
        stream.Position = 0;
        var context = new AssemblyLoadContext("generated-" + fullName, isCollectible: true);
        var assembly = context.LoadFromStream(stream);
        return assembly.GetType(fullName, throwOnError: true)!;
    }

    private static Network Create(Type type, int batchSize, int seed, int threads)
        => (Network)Activator.CreateInstance(type, batchSize, seed, threads)!;

    private static string N0(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    [Fact]
    public void MnistMlpSummary_HasLayerRowsAndTotals()
    {
        const int inputs = 784, hidden = 256, classes = 10;
        long hiddenParams = (long)inputs * hidden + hidden;
        long outputParams = (long)hidden * classes + classes;
        long total = hiddenParams + outputParams;
        Assert.Equal(200_960, hiddenParams);

        var type = LoadNetworkType(TestNetworks.MnistMlp, "MnistMlp.DigitsMlp");
        string summary = (string)type.GetProperty("Summary", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
        var lines = summary.Split('\n');

        Assert.Equal("Model: \"DigitsMlp\"", lines[0]);
        AssertRow(lines, "input (Input)", $"(None, {inputs})", "0");
        AssertRow(lines, "Hidden (Dense, ReLU)", $"(None, {hidden})", N0(hiddenParams));
        AssertRow(lines, "Output (Dense, Softmax)", $"(None, {classes})", N0(outputParams));
        Assert.Contains($"Total params: {N0(total)} ({(total * 4 / 1024.0).ToString("N2", CultureInfo.InvariantCulture)} KB)", lines);
        Assert.Contains($"Trainable params: {N0(total)}", lines);
        Assert.Contains("Non-trainable params: 0", lines);
        Assert.Contains("Loss: SparseCategoricalCrossEntropy", lines);

        // The table is aligned: header and layer rows have the same width, the parameter column is right-aligned.
        var rows = lines.Where(l => l.StartsWith(' ')).ToList();
        Assert.Equal(4, rows.Count);
        Assert.Single(rows.Select(r => r.Length).Distinct());
        Assert.EndsWith("Param #", rows[0], StringComparison.Ordinal);

        // Rows appear in layer order, between the rules.
        int input = Array.FindIndex(lines, l => l.Contains("input (Input)", StringComparison.Ordinal));
        int first = Array.FindIndex(lines, l => l.Contains("Hidden (", StringComparison.Ordinal));
        int second = Array.FindIndex(lines, l => l.Contains("Output (", StringComparison.Ordinal));
        Assert.True(input < first && first < second, "rows out of order:\n" + summary);
    }

    private static void AssertRow(string[] lines, string name, string shape, string parameters)
    {
        var pattern = new Regex($@"^ {Regex.Escape(name)} +{Regex.Escape(shape)} +{Regex.Escape(parameters)}$");
        Assert.True(lines.Count(l => pattern.IsMatch(l)) == 1, $"no single row '{name} | {shape} | {parameters}' in:\n{string.Join("\n", lines)}");
    }

    [Fact]
    public void MnistMlp_RunsWithTheDeclaredShapes()
    {
        var type = LoadNetworkType(TestNetworks.MnistMlp, "MnistMlp.DigitsMlp");
        using var network = Create(type, batchSize: 4, seed: 1, threads: 2);
        Assert.Equal(784, network.InputSize);
        Assert.Equal(10, network.OutputSize);
        Assert.Equal(784L * 256 + 256 + 256L * 10 + 10, network.ParameterCount);
        Assert.Equal(new[] { "Hidden", "Output" }, network.Layers.Select(l => l.Name));
        var hidden = Assert.IsType<DenseLayer>(network.Layers[0]);
        Assert.Equal((784, 256, Activation.ReLU, true), (hidden.Inputs, hidden.Units, hidden.Activation, hidden.UseBias));
        Assert.Same(hidden, type.GetProperty("Hidden")!.GetValue(network));

        // Glorot-uniform weights (non-zero, bounded by sqrt(6 / (fan in + fan out))), zero bias.
        float limit = MathF.Sqrt(6f / (784 + 256));
        Assert.Contains(hidden.Weights.ToArray(), w => w != 0f);
        Assert.All(hidden.Weights.ToArray(), w => Assert.InRange(w, -limit, limit));
        Assert.All(hidden.Bias.ToArray(), b => Assert.Equal(0f, b));

        var inputs = new float[7 * 784];
        var random = new Random(5);
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = (float)random.NextDouble();
        }

        var outputs = new float[7 * 10];
        network.Predict(inputs, outputs);
        for (int row = 0; row < 7; row++)
        {
            var p = outputs.AsSpan(row * 10, 10).ToArray();
            Assert.All(p, v => Assert.InRange(v, 0f, 1f));
            Assert.Equal(1.0, p.Sum(v => (double)v), 4);
        }
    }

    public static TheoryData<string, string> GradientNetworks() => new()
    {
        { TestNetworks.MixedActivations, "Tests.Mixed.MixedNet" },
        { TestNetworks.HiddenSoftmax, "Tests.Softmax.AttentionLike" },
        { TestNetworks.OddSizes, "Tests.Odd.OddNet" },
    };

    /// <summary>The generated backward pass agrees with central finite differences of the generated forward pass.</summary>
    [Theory]
    [MemberData(nameof(GradientNetworks))]
    public void GeneratedGradients_MatchFiniteDifferences(string source, string typeName)
    {
        var type = LoadNetworkType(source, typeName);
        const int rows = 5;
        using var network = Create(type, batchSize: 8, seed: 3, threads: 2);
        var random = new Random(11);
        var inputs = Enumerable.Range(0, rows * network.InputSize).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var labels = Enumerable.Range(0, rows).Select(i => i % network.OutputSize).ToArray();

        // Give the biases non-zero values so their gradients are exercised through every activation.
        foreach (var layer in network.Layers.Cast<DenseLayer>())
        {
            var bias = layer.Bias;
            for (int i = 0; i < bias.Length; i++)
            {
                bias[i] = (float)(random.NextDouble() - 0.5);
            }
        }

        network.ComputeGradients(inputs, labels);
        var analytic = network.Layers.Cast<DenseLayer>().Select(l => (l.WeightGradients.ToArray(), l.BiasGradients.ToArray())).ToList();

        const float eps = 1e-2f;
        int checkedCount = 0;
        for (int l = 0; l < network.Layers.Count; l++)
        {
            var layer = (DenseLayer)network.Layers[l];
            foreach (var (isBias, length) in new[] { (false, layer.Weights.Length), (true, layer.Bias.Length) })
            {
                for (int k = 0; k < Math.Min(length, 6); k++)
                {
                    int index = (k * 7919) % length;
                    Span<float> values = isBias ? layer.Bias : layer.Weights;
                    float saved = values[index];
                    values[index] = saved + eps;
                    double plus = network.ComputeGradients(inputs, labels);
                    values = isBias ? layer.Bias : layer.Weights;
                    values[index] = saved - eps;
                    double minus = network.ComputeGradients(inputs, labels);
                    values = isBias ? layer.Bias : layer.Weights;
                    values[index] = saved;
                    double numeric = (plus - minus) / (2 * eps);
                    double got = isBias ? analytic[l].Item2[index] : analytic[l].Item1[index];
                    Assert.True(Math.Abs(numeric - got) <= 2e-3 + 0.05 * Math.Abs(numeric),
                        $"{layer.Name} {(isBias ? "bias" : "weight")}[{index}]: backward {got}, finite difference {numeric}");
                    checkedCount++;
                }
            }
        }

        Assert.True(checkedCount >= 10);
    }
}

using System.Text;

namespace NetDsl.Generators.Tests;

/// <summary>
/// Random valid graphs (dense layers, sums, concatenations, activations, dropouts, BatchNorm; every output read): the
/// generator plans each one without an internal error and the code compiles cleanly, for CPU and GPU. The backward
/// planning (shared gradients, sums of contributions, the buffer pool) sees many shapes of fan-out this way.
/// </summary>
public class RandomGraphTests
{
    public static TheoryData<int> Seeds() => new(Enumerable.Range(1, 24));

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomGraphsGenerateCleanCode(int seed)
    {
        string source = RandomGraph(new Random(seed));
        var run = GeneratorHarness.Run(GeneratorHarness.CreateGpuCompilation(source));
        GeneratorHarness.AssertCleanOutput(run);
        Assert.Equal(2, run.GeneratedSources.Count);
    }

    /// <summary>A network of vector layers: each new layer reads one or two random earlier layers; unread outputs are concatenated before the head.</summary>
    private static string RandomGraph(Random random)
    {
        var sizes = new List<int>();
        var names = new List<string>();
        var read = new List<bool>();
        var body = new StringBuilder();
        string Pick(int exceptSize = -1)
        {
            var candidates = Enumerable.Range(-1, names.Count + 1).Where(i => exceptSize < 0 || (i < 0 ? 8 : sizes[i]) == exceptSize).ToList();
            int at = candidates[random.Next(candidates.Count)];
            if (at >= 0)
            {
                read[at] = true;
            }

            return at < 0 ? "LayerAttribute.NetworkInput" : $"nameof({names[at]})";
        }

        void Add(string name, int size, string declaration)
        {
            body.AppendLine($"    [{declaration}] public partial {(declaration.StartsWith("Add", StringComparison.Ordinal) || declaration.StartsWith("Concat", StringComparison.Ordinal) ? "MergeLayer" : declaration.Split('(')[0] switch { "Dense" => "DenseLayer", "Activation" => "ActivationLayer", "Dropout" => "DropoutLayer", _ => "BatchNormLayer" })} {name} {{ get; }}");
            names.Add(name);
            sizes.Add(size);
            read.Add(false);
        }

        int count = random.Next(4, 12);
        for (int i = 0; i < count; i++)
        {
            string name = "L" + i;
            switch (random.Next(6))
            {
                case 0:
                case 1:
                {
                    int units = random.Next(2) == 0 ? 8 : 5;
                    Add(name, units, $"Dense({units}, Activation.{(random.Next(3) switch { 0 => "ReLU", 1 => "Tanh", _ => "Linear" })}, Input = {Pick()})");
                    break;
                }

                case 2:
                {
                    var before = read.ToList();
                    string a = Pick(8), b = Pick(8);
                    if (a == b)
                    {
                        read = before; // nothing read after all
                        goto case 0;
                    }

                    Add(name, 8, $"Add({a}, {b}, Activation = Activation.{(random.Next(2) == 0 ? "ReLU" : "Linear")})");
                    break;
                }

                case 3:
                {
                    var before = read.ToList();
                    string a = Pick(), b = Pick();
                    if (a == b)
                    {
                        read = before; // nothing read after all
                        goto case 0;
                    }

                    int size = (a == "LayerAttribute.NetworkInput" ? 8 : sizes[names.IndexOf(a[7..^1])]) + (b == "LayerAttribute.NetworkInput" ? 8 : sizes[names.IndexOf(b[7..^1])]);
                    Add(name, size, $"Concat({a}, {b})");
                    break;
                }

                case 4:
                {
                    string input = Pick();
                    int size = input == "LayerAttribute.NetworkInput" ? 8 : sizes[names.IndexOf(input[7..^1])];
                    Add(name, size, random.Next(3) switch
                    {
                        0 => $"Activation(Activation.Sigmoid, Input = {input})",
                        1 => $"Dropout(0.25, Input = {input})",
                        _ => $"BatchNorm(Input = {input})",
                    });
                    break;
                }

                default:
                    goto case 0;
            }
        }

        var unread = Enumerable.Range(0, names.Count).Where(i => !read[i]).Select(i => $"nameof({names[i]})").ToList();
        string head = unread.Count == 1 ? $"Input = {unread[0]}" : "Input = nameof(Joined)";
        if (unread.Count > 1)
        {
            Add("Joined", 0, $"Concat({string.Join(", ", unread)})");
        }

        Add("Output", 3, $"Dense(3, Activation.Softmax, {head})");
        return $$"""
            using NetDsl;
            namespace Tests.Random;
            [Network]
            [Input(8)]
            public partial class RandomGraph
            {
            {{body}}
            }
            """;
    }
}

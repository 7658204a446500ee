using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.CodeAnalysis.CSharp;

namespace NetDsl.Generators.Tests;

/// <summary>
/// The generator must never throw and never hit its internal-error path, whatever half-typed or garbled source
/// it sees (that is what an IDE feeds it on every keystroke). Each valid declaration is cut at every 7th
/// character and garbled 200 times with a fixed seed, so failures reproduce.
/// </summary>
public class FuzzTests
{
    private const int GarblesPerSource = 200;
    private const int TruncationStep = 7;
    private static readonly TimeSpan PerRunLimit = TimeSpan.FromSeconds(20);

    private static readonly string[] Insertions = { ")", "]", "{", ",", "0", "-1", "(", "}", "[", ";", "\n", "\"", "/*", "-2147483648", "2147483647" };

    private static readonly string[] Replacements =
    {
        "0", "-1", "1", "2147483647", "-2147483648", "65536", "(Activation)42", "(Loss)7", "null", "default", "Activation.Softmax",
        "partial", "static", "abstract", "DenseLayer", "int", "Network", "Input", "Dense", "set;", "class", "namespace", ",", ")", "[", "]",
        // CNN vocabulary, so garbles swap layer kinds, property types and options.
        "Conv2D", "MaxPool2D", "AvgPool2D", "Flatten", "Dropout", "BatchNorm", "Activation", "Conv2DLayer", "PoolingLayer", "FlattenLayer",
        "DropoutLayer", "BatchNormLayer", "(Padding)5", "Padding = Padding.Same", "Stride = 0", "Stride = 3", "1.0", "-0.5", "double.NaN",
    };

    public static TheoryData<string, string, int> Sources() => new()
    {
        { "MnistMlp", TestNetworks.MnistMlp, 101 },
        { "MixedActivations", TestNetworks.MixedActivations, 202 },
        { "InternalNetwork", TestNetworks.InternalNetwork, 303 },
        { "TransferCnn", TestNetworks.TransferCnn, 404 },
    };

    [Theory]
    [MemberData(nameof(Sources))]
    public void GeneratorNeverThrows_OnTruncationsAndGarbles(string name, string source, int seed)
    {
        source = Baseline.Normalize(source);
        var inputs = new List<string>();
        for (int length = 0; length < source.Length; length += TruncationStep)
        {
            inputs.Add(source.Substring(0, length));
        }

        var random = new Random(seed);
        for (int i = 0; i < GarblesPerSource; i++)
        {
            string garbled = source;
            int mutations = 1 + random.Next(3);
            for (int m = 0; m < mutations; m++)
            {
                garbled = Garble(garbled, random);
            }

            inputs.Add(garbled);
        }

        Assert.True(inputs.Count > GarblesPerSource + source.Length / TruncationStep - 2);
        Assert.Contains(source.Substring(0, (source.Length - 1) / TruncationStep * TruncationStep), inputs);

        var clock = Stopwatch.StartNew();
        var failures = new ConcurrentBag<string>();
        int generated = 0, diagnosed = 0;
        Parallel.ForEach(inputs, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(2, Environment.ProcessorCount) }, input =>
        {
            var task = Task.Run(() => GeneratorHarness.Run(input));
            if (!task.Wait(PerRunLimit))
            {
                failures.Add($"did not complete within {PerRunLimit.TotalSeconds} s:\n{input}");
                return;
            }

            var run = task.Result;
            if (run.Result.GeneratedSources.Length > 0)
            {
                Interlocked.Increment(ref generated);
            }

            if (run.GeneratorDiagnostics.Any(d => d.Id.StartsWith("NDSL", StringComparison.Ordinal)))
            {
                Interlocked.Increment(ref diagnosed);
            }

            if (run.Result.Exception is { } exception)
            {
                failures.Add($"threw {exception.GetType().Name}: {exception.Message}\n{input}");
            }
            else if (run.GeneratorDiagnostics.FirstOrDefault(d => d.Id is "NDSL9999" or "CS8785") is { } internalError)
            {
                failures.Add($"reported {internalError}\n{input}");
            }
        });

        Assert.True(failures.IsEmpty,
            $"{name}: {failures.Count} of {inputs.Count} inputs broke the generator. First ones:\n\n" +
            string.Join("\n\n----------\n\n", failures.OrderBy(f => f.Length).Take(3)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"fuzzing {inputs.Count} inputs took {clock.Elapsed}");

        // The garbles must reach the later stages, not only break the parse: many still generate, some are diagnosed.
        Assert.True(generated >= GarblesPerSource / 10, $"{name}: only {generated} of {inputs.Count} inputs generated code");
        Assert.True(diagnosed >= GarblesPerSource / 10, $"{name}: only {diagnosed} of {inputs.Count} inputs got an NDSL diagnostic");
    }

    /// <summary>One random edit: a token or character deleted, duplicated or replaced, two lines swapped, or junk inserted.</summary>
    private static string Garble(string text, Random random)
    {
        if (text.Length == 0)
        {
            return Insertions[random.Next(Insertions.Length)];
        }

        var tokens = SyntaxFactory.ParseTokens(text).Where(t => t.Span.Length > 0).Select(t => t.Span).ToList();
        switch (random.Next(8))
        {
            case 0 when tokens.Count > 0: // delete a token
            {
                var span = tokens[random.Next(tokens.Count)];
                return text.Remove(span.Start, span.Length);
            }

            case 1 when tokens.Count > 0: // duplicate a token
            {
                var span = tokens[random.Next(tokens.Count)];
                return text.Insert(span.End, " " + text.Substring(span.Start, span.Length));
            }

            case 2 when tokens.Count > 0: // replace a token
            {
                var span = tokens[random.Next(tokens.Count)];
                var other = tokens[random.Next(tokens.Count)];
                string replacement = random.Next(2) == 0 ? Replacements[random.Next(Replacements.Length)] : text.Substring(other.Start, other.Length);
                return text.Remove(span.Start, span.Length).Insert(span.Start, replacement);
            }

            case 3: // delete a character
                return text.Remove(random.Next(text.Length), 1);

            case 4: // duplicate a character
            {
                int at = random.Next(text.Length);
                return text.Insert(at, text[at].ToString());
            }

            case 5: // replace a character
            {
                const string junk = "(){}[],;:=-+0123456789aZ_ \n\"/*@<>?!.";
                int at = random.Next(text.Length);
                return text.Remove(at, 1).Insert(at, junk[random.Next(junk.Length)].ToString());
            }

            case 6: // swap two lines
            {
                var lines = text.Split('\n');
                int a = random.Next(lines.Length), b = random.Next(lines.Length);
                (lines[a], lines[b]) = (lines[b], lines[a]);
                return string.Join("\n", lines);
            }

            default: // insert junk
                return text.Insert(random.Next(text.Length + 1), Insertions[random.Next(Insertions.Length)]);
        }
    }
}

using System.Diagnostics;
using NetDsl.Models;

namespace NetDsl.Benchmarks;

/// <summary>Where a model-table network's inference time goes, phase by phase (<see cref="Network.PhaseTimings"/>).</summary>
public static class Profile
{
    public static void Run(string model, int batch, int threads)
    {
        using Network network = model switch
        {
            "ResNet18" => ResNet18.ForInference(batch, seed: 1, threads: threads),
            "ResNet50" => ResNet50.ForInference(batch, seed: 1, threads: threads),
            "GoogLeNet" => GoogLeNet.ForInference(batch, seed: 1, threads: threads),
            "Vgg16" => Vgg16.ForInference(batch, seed: 1, threads: threads),
            _ => throw new ArgumentException($"unknown model '{model}'"),
        };
        var random = new Random(1);
        float[] input = [.. Enumerable.Range(0, batch * network.InputSize).Select(_ => (float)random.NextDouble())];
        float[] output = new float[batch * network.OutputSize];
        for (int i = 0; i < 40; i++)
        {
            network.Predict(input, output); // past tiered compilation's first tiers
        }

        network.Profiling = true;
        const int runs = 20;
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < runs; i++)
        {
            network.Predict(input, output);
        }

        double total = watch.Elapsed.TotalMilliseconds / runs;
        var timings = network.PhaseTimings();
        double phases = timings.Sum(t => t.Total.TotalMilliseconds) / runs;
        Console.WriteLine($"{model}, batch {batch}, {threads} thread(s): {total:F2} ms per pass, {phases:F2} ms in {timings.Count} phases");
        Console.WriteLine($"{"ms",8} {"%",6}  phase");
        foreach (var t in timings.Take(25))
        {
            double ms = t.Total.TotalMilliseconds / runs;
            Console.WriteLine($"{ms,8:F3} {100 * ms / phases,5:F1}%  {t.Phase}: {t.Description}");
        }
    }
}

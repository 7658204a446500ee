using System.Globalization;
using MnistMlp;
using NetDsl;
using NetDsl.Data;
using NetDsl.Datasets;
using NetDsl.Optimizers;
using NetDsl.Samples;
using NetDsl.Training;

// Trains the DigitsMlp declared in MnistMlp.cs on the 10,000 real MNIST digits embedded in NetDsl.Datasets
// (per digit: first 80% train, rest test) and reports test accuracy.
//   dotnet run -c Release --project samples/MnistMlp [-- --epochs 15 --batch 64 --lr 0.05 --momentum 0.9 --seed 1 --threads 0 --device cpu|gpu --json]
var options = Options.Parse(args);
if (options is null)
{
    return 2;
}

var (train, test) = MnistDigits.Load();
if (!options.Json)
{
    Console.WriteLine(DigitsMlp.Summary);
    Console.WriteLine($"Data: {train.Count} training and {test.Count} test digits (real MNIST, embedded).");
}

using var model = new DigitsMlp(options.BatchSize, options.Seed, options.Threads);
using var device = DeviceChoice.CreateOrReport(options.Device);
if (device is null)
{
    return 2;
}

Model trainer = model;
#if NETDSL_GPU
using var session = device.Gpu is { } gpu ? model.ToGpu(gpu) : null;
trainer = (Model?)session ?? model;
#endif
if (!options.Json)
{
    Console.WriteLine($"Device: {device.Description}");
}

var history = trainer.Fit(train, new Sgd(options.LearningRate, options.Momentum), new FitOptions
{
    Epochs = options.Epochs,
    BatchSize = options.BatchSize,
    Verbose = options.Json ? Verbosity.Silent : Verbosity.Auto,
});
double trainSeconds = history[History.SecondsKey].Sum();
double lastLoss = history.Loss[^1];
double testAccuracy = Evaluation.Accuracy(trainer, test);
double imagesPerSecond = (double)train.Count * history.Count / trainSeconds;
if (options.Json)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{{\"test_accuracy\":{testAccuracy:F4},\"train_images_per_s\":{imagesPerSecond:F0},\"final_loss\":{lastLoss:F5},\"epochs\":{options.Epochs},\"batch_size\":{options.BatchSize},\"threads\":{model.Threads},\"device\":\"{device.Kind}\",\"train_seconds\":{trainSeconds:F3}}}"));
}
else
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Test accuracy: {testAccuracy:P2} on {test.Count} held-out digits"));
}

return 0;

/// <summary>Command-line options of the sample.</summary>
internal sealed record Options(int Epochs, int BatchSize, float LearningRate, float Momentum, int Seed, int Threads, bool Json, string Device)
{
    public static Options? Parse(string[] args)
    {
        var o = new Options(Epochs: 15, BatchSize: 64, LearningRate: 0.05f, Momentum: 0.9f, Seed: 1, Threads: 0, Json: false, Device: "cpu");
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
                o = args[i] switch
                {
                    "--epochs" => o with { Epochs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--batch" => o with { BatchSize = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--lr" => o with { LearningRate = float.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--momentum" => o with { Momentum = float.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--seed" => o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--threads" => o with { Threads = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--json" => o with { Json = true },
                    "--device" => o with { Device = Next() },
                    _ => throw new FormatException($"unknown option '{args[i]}'"),
                };
            }

            if (o.Device is not ("cpu" or "gpu"))
            {
                throw new FormatException($"--device must be cpu or gpu, not '{o.Device}'");
            }

            if (o.Epochs < 1 || o.BatchSize < 1 || o.Threads < 0)
            {
                throw new FormatException("--epochs and --batch must be positive, --threads 0 or more");
            }
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine("usage: MnistMlp [--epochs N] [--batch N] [--lr X] [--momentum X] [--seed N] [--threads N] [--device cpu|gpu] [--json]");
            return null;
        }

        return o;
    }
}

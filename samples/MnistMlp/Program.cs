using System.CommandLine;
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
var options = Options.Parse(args, out int exitCode);
if (options is null)
{
    return exitCode;
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
    /// <summary>Parses the command line (System.CommandLine): the options, or null after <c>--help</c> (exit 0) or an error (exit 2, with the usage).</summary>
    public static Options? Parse(string[] args, out int exitCode)
    {
        var epochs = SampleCommandLine.Option("--epochs", 15, "Epochs").AtLeast(1);
        var batch = SampleCommandLine.Option("--batch", 64, "Batch size").AtLeast(1);
        var lr = SampleCommandLine.Option("--lr", 0.05f, "SGD learning rate");
        var momentum = SampleCommandLine.Option("--momentum", 0.9f, "SGD momentum");
        var seed = SampleCommandLine.Option("--seed", 1, "Weights and shuffling seed");
        var threads = SampleCommandLine.Option("--threads", 0, "Threads, 0 = all processors").AtLeast(0);
        var device = SampleCommandLine.Option("--device", "cpu", "cpu | gpu (CUDA when present, else ILGPU's CPU accelerator)").AcceptOnlyFromAmong("cpu", "gpu");
        var json = new Option<bool>("--json") { Description = "One JSON line with the results instead of the progress output" };
        var command = new RootCommand("Trains a two-layer perceptron on the 10,000 embedded MNIST digits and reports the test accuracy.")
        {
            epochs, batch, lr, momentum, seed, threads, device, json,
        };
        if (SampleCommandLine.Parse(command, args, out var result) is int code)
        {
            exitCode = code;
            return null;
        }

        exitCode = 0;
        return new Options(result.GetValue(epochs), result.GetValue(batch), result.GetValue(lr), result.GetValue(momentum), result.GetValue(seed),
            result.GetValue(threads), result.GetValue(json), result.GetValue(device)!);
    }
}

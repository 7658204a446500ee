using System.CommandLine;
using System.Globalization;
using MnistTransfer;
using NetDsl;
using NetDsl.Data;
using NetDsl.Datasets;
using NetDsl.Metrics;
using NetDsl.Optimizers;
using NetDsl.Samples;
using NetDsl.Training;

// Keras' mnist_transfer_cnn, for real, on the 10,000 MNIST digits embedded in NetDsl.Datasets (per digit: first 80%
// train, the rest test): phase 1 trains the whole network on digits 0-4; phase 2 freezes both convolutions and
// trains the dense layers on digits 5-9 (labels minus 5). Defaults: Adadelta(lr 1.0, rho 0.95, eps 1e-6), batch 128,
// 5 epochs per phase, sparse categorical cross-entropy.
//   dotnet run -c Release --project samples/MnistTransfer [-- --help]
var options = Options.Parse(args, out int exitCode);
if (options is null)
{
    return exitCode;
}

var (train, test) = MnistDigits.Load();
var train1 = train.Where(l => l < 5);
var test1 = test.Where(l => l < 5);
var train2 = train.Where(l => l >= 5).SelectLabels(l => l - 5);
var test2 = test.Where(l => l >= 5).SelectLabels(l => l - 5);

using Network model = options.Loss switch
{
    "categorical" => new TransferCnnCategorical(options.BatchSize, options.Seed, options.Threads),
    "mse" => new TransferCnnMse(options.BatchSize, options.Seed, options.Threads),
    _ => new TransferCnn(options.BatchSize, options.Seed, options.Threads),
};

// --device gpu: the same network through its generated GPU session (weights copied up; the network keeps the layer
// flags, and the session copies the weights back at epoch ends and when asked).
using var device = DeviceChoice.CreateOrReport(options.Device);
if (device is null)
{
    return 2;
}

Model trainer = model;
#if NETDSL_GPU
using var session = device.Gpu is not { } gpu ? null : model switch
{
    TransferCnnCategorical m => m.ToGpu(gpu),
    TransferCnnMse m => m.ToGpu(gpu),
    TransferCnn m => (NetDsl.Gpu.GpuSession)m.ToGpu(gpu),
    _ => null,
};
trainer = (Model?)session ?? model;
#endif

void Say(string line)
{
    if (!options.Json)
    {
        Console.WriteLine(line);
    }
}

Say(TransferCnn.Summary.Replace("Loss: SparseCategoricalCrossEntropy", $"Loss: {model.Loss}", StringComparison.Ordinal));
Say($"Device: {device.Description}");
PhaseResult phase1;
if (options.LoadPhase1 is { } saved)
{
    model.LoadWeights(saved);
#if NETDSL_GPU
    session?.CopyFromHost();
#endif
    Say($"Phase 1: loaded the weights from {saved} (not trained).");
    phase1 = new PhaseResult(Accuracy(trainer, test1), 0, double.NaN);
}
else
{
    Say($"Phase 1: train all layers on digits 0-4 ({train1.Count} training, {test1.Count} test digits), {options.Describe()}.");
    phase1 = Train(trainer, train1, test1, options, "phase1");
}

if (options.SavePhase1 is { } path)
{
#if NETDSL_GPU
    session?.CopyToHost();
#endif
    model.SaveWeights(path);
    Say($"Saved the phase-1 weights to {path} (safetensors).");
}

foreach (var layer in model.Layers.Where(l => l.Name is "Conv1" or "Conv2"))
{
    layer.Trainable = false;
}

Say($"Phase 2: freeze Conv1 and Conv2, train the dense layers on digits 5-9 ({train2.Count} training, {test2.Count} test digits).");
var phase2 = Train(trainer, train2, test2, options, "phase2");
if (options.HistoryDirectory is { } historyDirectory)
{
    Say($"Training curves: {Path.GetFullPath(historyDirectory)} (phase1.svg, phase2.svg and the CSV files).");
}

if (options.Json)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{{\"phase1_test_accuracy\":{phase1.Accuracy:F4},\"phase2_test_accuracy\":{phase2.Accuracy:F4},\"phase1_seconds\":{phase1.Seconds:F3},\"phase2_seconds\":{phase2.Seconds:F3},\"phase1_train_images_per_s\":{Json(phase1.ImagesPerSecond)},\"phase2_train_images_per_s\":{Json(phase2.ImagesPerSecond)},\"epochs\":{options.Epochs},\"threads\":{model.Threads},\"device\":\"{device.Kind}\"}}"));
}
else
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Test accuracy: phase 1 (digits 0-4) {phase1.Accuracy:P2}, phase 2 (digits 5-9, convolutions frozen) {phase2.Accuracy:P2}"));
}

return 0;

static string Json(double value) => double.IsFinite(value) ? value.ToString("F0", CultureInfo.InvariantCulture) : "null";

// The sample's classes are labels 0-4; the one-hot losses see them as rows of 5 targets.
static IDataSource Source(Model model, Dataset data) => model.TakesClassLabels ? data : OneHot(data, 5);

static MemoryDataSource OneHot(Dataset data, int classes)
{
    var targets = new float[data.Count * classes];
    for (int i = 0; i < data.Count; i++)
    {
        targets[i * classes + data.Labels[i]] = 1;
    }

    return new MemoryDataSource(data.Features, targets, data.SampleSize, classes);
}

static double Accuracy(Model model, Dataset test) => model.Evaluate(Source(model, test), [new NetDsl.Metrics.Accuracy()])["accuracy"];

static PhaseResult Train(Model model, Dataset train, Dataset test, Options options, string name)
{
    // A fresh optimizer per phase, as Keras recompiles the model between the phases.
    var history = model.Fit(Source(model, train), options.CreateOptimizer(), new FitOptions
    {
        Epochs = options.Epochs,
        BatchSize = options.BatchSize,
        ValidationData = Source(model, test),
        Metrics = [new Accuracy()], // categorical accuracy for every loss here, MSE included
        Verbose = options.Json ? Verbosity.Silent : Verbosity.Auto,
    });
    if (options.HistoryDirectory is { } directory)
    {
        Directory.CreateDirectory(directory);
        history.SaveCsv(Path.Combine(directory, name + ".csv"));
        history.SaveSvg(Path.Combine(directory, name + ".svg"));
    }

    double seconds = history[History.SecondsKey].Sum();
    return new PhaseResult(history["val_accuracy"][^1], seconds, (double)train.Count * history.Count / seconds);
}

internal sealed record PhaseResult(double Accuracy, double Seconds, double ImagesPerSecond);

/// <summary>Command-line options of the sample.</summary>
internal sealed record Options(int Epochs, int BatchSize, int Seed, int Threads, bool Json, string Loss, string Optimizer,
    float? LearningRate, float Decay, float Momentum, string? SavePhase1, string? LoadPhase1, string? HistoryDirectory, string Device = "cpu")
{
    /// <summary>Parses the command line (System.CommandLine): the options, or null after <c>--help</c> (exit 0) or an error (exit 2, with the usage).</summary>
    public static Options? Parse(string[] args, out int exitCode)
    {
        var epochs = SampleCommandLine.Option("--epochs", 5, "Epochs per phase").AtLeast(1);
        var batch = SampleCommandLine.Option("--batch", 128, "Batch size").AtLeast(1);
        var seed = SampleCommandLine.Option("--seed", 1, "Weights, dropout and shuffling seed");
        var threads = SampleCommandLine.Option("--threads", 0, "Threads, 0 = all processors").AtLeast(0);
        var device = SampleCommandLine.Option("--device", "cpu", "cpu | gpu: CUDA when present, else ILGPU's CPU accelerator (slow)").AcceptOnlyFromAmong("cpu", "gpu");
        var loss = SampleCommandLine.Option("--loss", "sparse", "sparse | categorical (one-hot targets, as Keras' example) | mse").AcceptOnlyFromAmong("sparse", "categorical", "mse");
        var optimizer = SampleCommandLine.Option("--optimizer", "adadelta", "adadelta | sgd | adam | adamw | rmsprop | adagrad")
            .AcceptOnlyFromAmong("adadelta", "sgd", "adam", "adamw", "rmsprop", "adagrad");
        var lr = new Option<float?>("--lr") { Description = "Learning rate (adadelta 1.0, sgd 0.01, adagrad 0.01, others 0.001)" };
        var decay = SampleCommandLine.Option("--decay", 0f, "Time-based decay: lr / (1 + decay * step)");
        var momentum = SampleCommandLine.Option("--momentum", 0f, "Momentum for sgd and rmsprop");
        var savePhase1 = new Option<string?>("--save-phase1") { Description = "Save the phase-1 weights (safetensors)", HelpName = "FILE" };
        var loadPhase1 = new Option<string?>("--load-phase1") { Description = "Skip phase 1 and start phase 2 from saved weights", HelpName = "FILE" };
        var history = SampleCommandLine.Option("--history", "MnistTransfer-history", "Where each phase's History goes, as CSV and an SVG chart");
        var noHistory = new Option<bool>("--no-history") { Description = "Do not write the History files" };
        var json = new Option<bool>("--json") { Description = "One JSON line with the results instead of the progress output" };
        var command = new RootCommand("Keras' mnist_transfer_cnn on the 10,000 embedded MNIST digits: phase 1 trains every layer on digits 0-4, phase 2 the dense layers on digits 5-9.")
        {
            epochs, batch, seed, threads, device, loss, optimizer, lr, decay, momentum, savePhase1, loadPhase1, history, noHistory, json,
        };
        if (SampleCommandLine.Parse(command, args, out var parsed) is int code)
        {
            exitCode = code;
            return null;
        }

        var options = new Options(parsed.GetValue(epochs), parsed.GetValue(batch), parsed.GetValue(seed), parsed.GetValue(threads), parsed.GetValue(json),
            parsed.GetValue(loss)!, parsed.GetValue(optimizer)!, parsed.GetValue(lr), parsed.GetValue(decay), parsed.GetValue(momentum),
            parsed.GetValue(savePhase1), parsed.GetValue(loadPhase1), parsed.GetValue(noHistory) ? null : parsed.GetValue(history), parsed.GetValue(device)!);
        try
        {
            _ = options.CreateOptimizer(); // validates the optimizer's settings now
        }
        catch (ArgumentException e)
        {
            exitCode = SampleCommandLine.Fail(command, e.Message);
            return null;
        }

        exitCode = 0;
        return options;
    }

    /// <summary>The optimizer the options name (a new instance: its state starts at zero).</summary>
    public IOptimizer CreateOptimizer()
    {
        var schedule = Decay > 0 ? new OptimizerOptions { Schedule = new InverseTimeDecay(Decay) } : null;
        return Optimizer switch
        {
            "adadelta" => new Adadelta(LearningRate ?? 1.0f, rho: 0.95f, epsilon: 1e-6f, options: schedule), // Keras 2's Adadelta
            "sgd" => new Sgd(LearningRate ?? 0.01f, Momentum, decay: Decay),
            "adam" => new Adam(LearningRate ?? 0.001f, options: schedule),
            "adamw" => new AdamW(LearningRate ?? 0.001f, options: schedule),
            "rmsprop" => new RmsProp(LearningRate ?? 0.001f, momentum: Momentum, options: schedule),
            "adagrad" => new Adagrad(LearningRate ?? 0.01f, options: schedule),
            _ => throw new FormatException($"unknown optimizer '{Optimizer}'"),
        };
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Optimizer}{(LearningRate is { } lr ? $" lr {lr}" : "")}{(Decay > 0 ? $" decay {Decay}" : "")}{(Momentum > 0 ? $" momentum {Momentum}" : "")}, loss {Loss}, batch {BatchSize}");
}

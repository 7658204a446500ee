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
var options = Options.Parse(args);
if (options is null)
{
    return 2;
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
    private const string Usage = """
        usage: MnistTransfer [options]
          --epochs N            epochs per phase (5)
          --batch N             batch size (128)
          --seed N              weights, dropout and shuffling seed (1)
          --threads N           threads, 0 = all processors (0)
          --device D            cpu (default) | gpu: CUDA when present, else ILGPU's CPU accelerator (slow)
          --loss L              sparse (default) | categorical (one-hot targets, as Keras' example) | mse
          --optimizer O         adadelta (default) | sgd | adam | adamw | rmsprop | adagrad
          --lr X                learning rate (adadelta 1.0, sgd 0.01, adagrad 0.01, others 0.001)
          --decay X             time-based decay: lr / (1 + decay * step) (0)
          --momentum X          momentum for sgd and rmsprop (0)
          --save-phase1 FILE    save the phase-1 weights (safetensors)
          --load-phase1 FILE    skip phase 1 and start phase 2 from saved weights
          --history DIR         where each phase's History goes, as CSV and an SVG chart (MnistTransfer-history)
          --no-history          do not write the History files
          --json                one JSON line with the results instead of the progress output
        """;

    public static Options? Parse(string[] args)
    {
        var o = new Options(5, 128, 1, 0, false, "sparse", "adadelta", null, 0, 0, null, null, "MnistTransfer-history");
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
                float Float() => float.Parse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture);
                int Int() => int.Parse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture);
                o = args[i] switch
                {
                    "--epochs" => o with { Epochs = Int() },
                    "--batch" => o with { BatchSize = Int() },
                    "--seed" => o with { Seed = Int() },
                    "--threads" => o with { Threads = Int() },
                    "--loss" => o with { Loss = Next() },
                    "--optimizer" => o with { Optimizer = Next() },
                    "--lr" => o with { LearningRate = Float() },
                    "--decay" => o with { Decay = Float() },
                    "--momentum" => o with { Momentum = Float() },
                    "--save-phase1" => o with { SavePhase1 = Next() },
                    "--load-phase1" => o with { LoadPhase1 = Next() },
                    "--history" => o with { HistoryDirectory = Next() },
                    "--no-history" => o with { HistoryDirectory = null },
                    "--json" => o with { Json = true },
                    "--device" => o with { Device = Next() },
                    "--help" or "-h" => throw new FormatException("help"),
                    _ => throw new FormatException($"unknown option '{args[i]}'"),
                };
            }

            if (o.Epochs < 1 || o.BatchSize < 1 || o.Threads < 0)
            {
                throw new FormatException("--epochs and --batch must be positive, --threads 0 or more");
            }

            if (o.Device is not ("cpu" or "gpu"))
            {
                throw new FormatException($"--device must be cpu or gpu, not '{o.Device}'");
            }

            if (o.Loss is not ("sparse" or "categorical" or "mse"))
            {
                throw new FormatException($"unknown loss '{o.Loss}'");
            }

            _ = o.CreateOptimizer(); // validates the optimizer's name and settings now
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            if (e.Message != "help")
            {
                Console.Error.WriteLine($"error: {e.Message}");
            }

            Console.Error.WriteLine(Usage);
            return null;
        }

        return o;
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

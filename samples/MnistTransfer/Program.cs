using System.Diagnostics;
using System.Globalization;
using MnistTransfer;
using NetDsl;
using NetDsl.Data;
using NetDsl.Datasets;
using NetDsl.Optimizers;

// Keras' mnist_transfer_cnn, for real, on the 10,000 MNIST digits embedded in NetDsl.Datasets (per digit: first 80%
// train, the rest test): phase 1 trains the whole network on digits 0-4; phase 2 freezes both convolutions and
// trains the dense layers on digits 5-9 (labels minus 5). Adadelta(lr 1.0, rho 0.95, eps 1e-6), batch 128.
//   dotnet run -c Release --project samples/MnistTransfer [-- --epochs 5 --batch 128 --seed 1 --threads 0 --json]
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

using var model = new TransferCnn(options.BatchSize, options.Seed, options.Threads);
void Say(string line)
{
    if (!options.Json)
    {
        Console.WriteLine(line);
    }
}

Say(TransferCnn.Summary);
Say($"Phase 1: train all layers on digits 0-4 ({train1.Count} training, {test1.Count} test digits).");
var phase1 = Train(model, train1, test1, options, Say);

model.Conv1.Trainable = false;
model.Conv2.Trainable = false;
Say($"Phase 2: freeze Conv1 and Conv2, train the dense layers on digits 5-9 ({train2.Count} training, {test2.Count} test digits).");
var phase2 = Train(model, train2, test2, options, Say);

if (options.Json)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{{\"phase1_test_accuracy\":{phase1.Accuracy:F4},\"phase2_test_accuracy\":{phase2.Accuracy:F4},\"phase1_seconds\":{phase1.Seconds:F3},\"phase2_seconds\":{phase2.Seconds:F3},\"phase1_train_images_per_s\":{phase1.ImagesPerSecond:F0},\"phase2_train_images_per_s\":{phase2.ImagesPerSecond:F0},\"epochs\":{options.Epochs},\"threads\":{model.Threads}}}"));
}
else
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Test accuracy: phase 1 (digits 0-4) {phase1.Accuracy:P2}, phase 2 (digits 5-9, convolutions frozen) {phase2.Accuracy:P2}"));
}

return 0;

static PhaseResult Train(TransferCnn model, Dataset train, Dataset test, Options options, Action<string> say)
{
    var optimizer = new Adadelta(learningRate: 1.0f, rho: 0.95f, epsilon: 1e-6f); // Keras 2's Adadelta, fresh per phase (Keras recompiles)
    var batches = new Batcher(train, options.BatchSize, (ulong)options.Seed);
    double seconds = 0;
    for (int epoch = 1; epoch <= options.Epochs; epoch++)
    {
        batches.StartEpoch();
        double lossSum = 0;
        int steps = 0;
        var clock = Stopwatch.StartNew();
        while (batches.MoveNext())
        {
            lossSum += model.TrainStep(batches.Features, batches.Labels, optimizer);
            steps++;
        }

        double elapsed = clock.Elapsed.TotalSeconds;
        seconds += elapsed;
        double accuracy = Evaluation.Accuracy(model, test);
        say(string.Create(CultureInfo.InvariantCulture,
            $"  Epoch {epoch,2}/{options.Epochs}  loss {lossSum / steps:F4}  test accuracy {accuracy:P2}  {elapsed:F2} s  {train.Count / elapsed:N0} images/s"));
    }

    return new PhaseResult(Evaluation.Accuracy(model, test), seconds, (double)train.Count * options.Epochs / seconds);
}

internal sealed record PhaseResult(double Accuracy, double Seconds, double ImagesPerSecond);

/// <summary>Command-line options of the sample.</summary>
internal sealed record Options(int Epochs, int BatchSize, int Seed, int Threads, bool Json)
{
    public static Options? Parse(string[] args)
    {
        var o = new Options(Epochs: 5, BatchSize: 128, Seed: 1, Threads: 0, Json: false);
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
                o = args[i] switch
                {
                    "--epochs" => o with { Epochs = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--batch" => o with { BatchSize = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--seed" => o with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--threads" => o with { Threads = int.Parse(Next(), CultureInfo.InvariantCulture) },
                    "--json" => o with { Json = true },
                    _ => throw new FormatException($"unknown option '{args[i]}'"),
                };
            }

            if (o.Epochs < 1 || o.BatchSize < 1 || o.Threads < 0)
            {
                throw new FormatException("--epochs and --batch must be positive, --threads 0 or more");
            }
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine("usage: MnistTransfer [--epochs N] [--batch N] [--seed N] [--threads N] [--json]");
            return null;
        }

        return o;
    }
}

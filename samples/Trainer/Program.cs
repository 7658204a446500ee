using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using NetDsl.Metrics;
using NetDslTrainer;

// A trainer for the network declared in TrainerNetwork.cs that survives crashes: with --checkpoint-dir it writes
// complete, sealed checkpoints atomically, and --resume continues from the newest valid one exactly where it was, so
// a run killed at any moment and resumed ends with the same weights, bit for bit, as one that never stopped.
//   dotnet run -c Release --project samples/Trainer -- --epochs 5 --checkpoint-dir ckpt --checkpoint-every 100 --resume
// Exit codes: 0 done, 1 unexpected error, 2 bad arguments, 3 bad data, 4 checkpoint directory or output not
// writable (or full), 130 SIGINT and 143 SIGTERM (after the step in progress and a checkpoint).
var options = TrainerOptions.Parse(args, out int parseExit);
if (options is null)
{
    return parseExit;
}

// --json keeps stdout for the one JSON line (progress goes to stderr); --quiet drops the progress.
TextWriter progress = options.Quiet ? TextWriter.Null : options.Json ? Console.Error : Console.Out;
TextWriter warnings = Console.Error;

// SIGINT / SIGTERM: finish the step in progress, write a checkpoint, exit 130 / 143. A second signal ends the
// process at once (the default action); the checkpoints on disk stay valid either way.
var stop = new StopRequest();
void OnSignal(PosixSignalContext context, int exitCode)
{
    if (stop.Request(exitCode))
    {
        context.Cancel = true;
        warnings.WriteLine($"{context.Signal}: stopping after the step in progress{(options.CheckpointDirectory is null ? "" : " and writing a checkpoint")} (send it again to stop at once).");
    }
}

using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => OnSignal(context, ExitCodes.Interrupted));
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => OnSignal(context, ExitCodes.Terminated));

try
{
    var data = TrainerData.Load(options);
    using var store = options.CheckpointDirectory is { } directory
        ? CheckpointStore.Open(directory, options.Keep, warnings, options.TestWriteDelayMilliseconds)
        : null;
    if (store is not null && !options.Resume && store.List() is { Count: > 0 } existing)
    {
        // Never train over another run's checkpoints by accident: they would be mixed with this run's.
        warnings.WriteLine($"error: {store.Directory} already holds checkpoints ({Path.GetFileName(existing[0].Path)}, ...): pass --resume to continue from the newest valid one, or choose another --checkpoint-dir.");
        return ExitCodes.Usage;
    }

    using var network = new TrainerNetwork(options.BatchSize, options.Seed, options.Threads);
    var optimizer = options.CreateOptimizer();
    progress.WriteLine(TrainerNetwork.Summary);
    progress.WriteLine($"Data: {data.Description}.");
    progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Training: {options.Epochs} epoch(s), {options.DescribeOptimizer()}, batch {options.BatchSize}, {network.Threads} thread(s), seed {options.Seed}; ") +
        (store is null ? "no checkpoints." : $"checkpoints in {store.Directory} {(options.CheckpointEvery > 0 ? $"every {options.CheckpointEvery} steps" : "at each epoch end")}, the last {options.Keep} kept."));

    var loop = new TrainingLoop(network, optimizer, data, options, store, stop, progress, warnings);
    var result = loop.Run();
    if (result.Stopped)
    {
        progress.WriteLine($"Stopped after step {result.Final.Step}" + (result.LastCheckpoint is { } saved ? $"; the newest checkpoint is {saved} (continue with --resume)." : "."));
        return stop.ExitCode;
    }

    EvaluationResult? test = data.Test is { } testData ? network.Evaluate(testData) : null;
    if (options.SaveWeights is { } weightsPath)
    {
        try
        {
            network.SaveWeights(weightsPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warnings.WriteLine($"error: cannot save the weights to '{weightsPath}': {e.Message}");
            return ExitCodes.Checkpoint;
        }

        progress.WriteLine($"Weights saved to {weightsPath} (safetensors).");
    }

    double imagesPerSecond = result.Seconds > 0 ? result.Images / result.Seconds : 0;
    progress.WriteLine(test is null
        ? "No test set."
        : string.Create(CultureInfo.InvariantCulture, $"Test accuracy: {test["accuracy"]:P2} on {test.Samples} samples (loss {test.Loss:F4})."));
    if (options.Json)
    {
        Console.Out.WriteLine(Json(writer =>
        {
            Number(writer, "test_accuracy", test?["accuracy"], 4);
            Number(writer, "test_loss", test?.Loss, 5);
            Number(writer, "val_accuracy", result.ValidationAccuracy, 4);
            Number(writer, "val_loss", result.ValidationLoss, 5);
            Number(writer, "final_loss", result.LastEpochLoss, 5);
            writer.WriteNumber("epochs", result.Final.Epoch);
            writer.WriteNumber("steps", result.Final.Step);
            writer.WriteNumber("batch_size", options.BatchSize);
            writer.WriteString("optimizer", options.Optimizer);
            writer.WriteNumber("learning_rate", double.Parse(options.EffectiveLearningRate.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
            writer.WriteNumber("threads", network.Threads);
            Number(writer, "train_seconds", result.Seconds, 3);
            Number(writer, "images_per_s", imagesPerSecond, 0);
            Number(writer, "first_step_seconds", loop.FirstStepSeconds, 3);
            Number(writer, "total_train_seconds", result.Final.TrainSeconds, 3);
            Number(writer, "resumed_from_step", result.ResumedFromStep, 0);
            writer.WriteNumber("checkpoints_written", result.CheckpointsWritten);
            writer.WriteString("checkpoint", result.LastCheckpoint);
        }));
    }

    return stop.IsRequested ? stop.ExitCode : ExitCodes.Success;
}
catch (TrainerDataException e)
{
    warnings.WriteLine($"error: {e.Message}");
    return ExitCodes.Data;
}
catch (CheckpointStoreException e)
{
    warnings.WriteLine($"error: {e.Message}");
    return ExitCodes.Checkpoint;
}
catch (Exception e)
{
    warnings.WriteLine($"error: {e}");
    return ExitCodes.Failure;
}

static string Json(Action<Utf8JsonWriter> body)
{
    using var buffer = new MemoryStream();
    using (var writer = new Utf8JsonWriter(buffer))
    {
        writer.WriteStartObject();
        body(writer);
        writer.WriteEndObject();
    }

    return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
}

static void Number(Utf8JsonWriter writer, string name, double? value, int digits)
{
    if (value is { } v && double.IsFinite(v))
    {
        writer.WriteNumber(name, Math.Round(v, digits));
    }
    else
    {
        writer.WriteNull(name);
    }
}

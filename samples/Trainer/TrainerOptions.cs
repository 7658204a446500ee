using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using NetDsl.Optimizers;

namespace NetDslTrainer;

/// <summary>The trainer's exit codes.</summary>
internal static class ExitCodes
{
    /// <summary>Training (or the resumed rest of it) finished; the results were printed.</summary>
    public const int Success = 0;

    /// <summary>An unexpected error (a bug, or a failure of the machine); the message says what.</summary>
    public const int Failure = 1;

    /// <summary>An argument error: unknown option, bad value, conflicting options. The usage is printed.</summary>
    public const int Usage = 2;

    /// <summary>A data error: an IDX file is missing, corrupt, or does not fit the network (the message names the file).</summary>
    public const int Data = 3;

    /// <summary>
    /// The checkpoint directory cannot be used: not writable (read-only, no permission), the disk is full, or another
    /// trainer holds it. The message names the directory; the checkpoints already there are untouched.
    /// </summary>
    public const int Checkpoint = 4;

    /// <summary>SIGINT (Ctrl+C): the step in progress finished and a checkpoint was written (128 + 2).</summary>
    public const int Interrupted = 130;

    /// <summary>SIGTERM: the step in progress finished and a checkpoint was written (128 + 15).</summary>
    public const int Terminated = 143;
}

/// <summary>The trainer's command line (System.CommandLine 2.0; <c>--help</c> lists every option).</summary>
internal sealed record TrainerOptions
{
    /// <summary>The optimizers <c>--optimizer</c> names.</summary>
    public static readonly string[] Optimizers = ["adam", "adamw", "sgd", "adadelta", "rmsprop", "adagrad"];

    public int Epochs { get; init; } = 5;

    public int BatchSize { get; init; } = 64;

    public string Optimizer { get; init; } = "adam";

    /// <summary>The learning rate; null for the optimizer's default (<see cref="DefaultLearningRate"/>).</summary>
    public float? LearningRate { get; init; }

    public int Seed { get; init; } = 1;

    public int Threads { get; init; }

    public string? TrainImages { get; init; }

    public string? TrainLabels { get; init; }

    public string? TestImages { get; init; }

    public string? TestLabels { get; init; }

    public int Limit { get; init; }

    public double ValidationSplit { get; init; }

    public string? CheckpointDirectory { get; init; }

    public int CheckpointEvery { get; init; }

    public int Keep { get; init; } = 3;

    public bool Resume { get; init; }

    public string? SaveWeights { get; init; }

    public bool Json { get; init; }

    public bool Quiet { get; init; }

    /// <summary>Hidden, for tests: pauses every checkpoint write half-way for this many milliseconds (to kill it there).</summary>
    public int TestWriteDelayMilliseconds { get; init; }

    /// <summary>The learning rate the optimizer runs with.</summary>
    public float EffectiveLearningRate => LearningRate ?? DefaultLearningRate(Optimizer);

    /// <summary>Keras' defaults (Adadelta as Keras 2's mnist_transfer_cnn used it).</summary>
    public static float DefaultLearningRate(string optimizer) => optimizer switch
    {
        "adadelta" => 1.0f,
        "sgd" or "adagrad" => 0.01f,
        _ => 0.001f,
    };

    /// <summary>
    /// A new optimizer as the options name it (its state starts at zero; a checkpoint restores it). SGD uses momentum
    /// 0.9, Adadelta rho 0.95 and epsilon 1e-6, the others Keras' defaults.
    /// </summary>
    /// <exception cref="ArgumentException">The learning rate is out of the optimizer's range.</exception>
    public IOptimizer CreateOptimizer()
    {
        float rate = EffectiveLearningRate;
        return Optimizer switch
        {
            "adam" => new Adam(rate),
            "adamw" => new AdamW(rate),
            "sgd" => new Sgd(rate, momentum: 0.9f),
            "adadelta" => new Adadelta(rate, rho: 0.95f, epsilon: 1e-6f),
            "rmsprop" => new RmsProp(rate),
            "adagrad" => new Adagrad(rate),
            _ => throw new ArgumentException($"Unknown optimizer '{Optimizer}'; one of {string.Join(", ", Optimizers)}."),
        };
    }

    /// <summary>The optimizer and its settings in words (checkpoints compare it: a run resumes only with the same).</summary>
    public string DescribeOptimizer() => string.Create(CultureInfo.InvariantCulture, $"{Optimizer} lr={EffectiveLearningRate:R}");

    /// <summary>
    /// Parses the command line. Returns the options, or null with <paramref name="exitCode"/> set: 0 after
    /// <c>--help</c> or <c>--version</c>, <see cref="ExitCodes.Usage"/> after an error (errors and usage printed to stderr).
    /// </summary>
    public static TrainerOptions? Parse(string[] args, out int exitCode)
    {
        var d = new TrainerOptions();
        var epochs = Option("--epochs", d.Epochs, "N", "Epochs to train (a resumed run trains up to this many in all)");
        var batchSize = Option("--batch-size", d.BatchSize, "N", "Samples per step");
        var optimizer = Option("--optimizer", d.Optimizer, "NAME", "adam | adamw | sgd (momentum 0.9) | adadelta | rmsprop | adagrad");
        optimizer.AcceptOnlyFromAmong(Optimizers);
        var learningRate = new Option<float?>("--learning-rate", "--lr")
        {
            HelpName = "X",
            Description = "Learning rate [default: adadelta 1.0, sgd and adagrad 0.01, the others 0.001]",
        };
        var seed = Option("--seed", d.Seed, "N", "Seed of the initial weights, the shuffles and the dropout masks");
        var threads = Option("--threads", d.Threads, "N", "Threads per step, 0 = all processors (results are bit-identical for a given count)");
        var trainImages = Path("--train-images", "Training images (IDX, raw or .gz); without it the embedded MNIST digits are used");
        var trainLabels = Path("--train-labels", "Training labels (IDX), with --train-images");
        var testImages = Path("--test-images", "Test images (IDX); default: the embedded test digits when training on the embedded ones");
        var testLabels = Path("--test-labels", "Test labels (IDX), with --test-images");
        var limit = Option("--limit", d.Limit, "N", "Train on the first N training samples only, 0 = all");
        var validationSplit = Option("--validation-split", d.ValidationSplit, "F", "Hold out this last fraction of the training data for validation after each epoch");
        var checkpointDirectory = Path("--checkpoint-dir", "Write checkpoints here (created if missing); none without it");
        var checkpointEvery = Option("--checkpoint-every", d.CheckpointEvery, "N", "Checkpoint every N steps, 0 = at the end of each epoch");
        var keep = Option("--keep", d.Keep, "K", "Keep the last K checkpoints (older ones this run wrote are deleted)");
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest valid checkpoint in --checkpoint-dir (start afresh when there is none)" };
        var saveWeights = Path("--save-weights", "Save the final weights here (safetensors)");
        var json = new Option<bool>("--json") { Description = "Print one JSON line with the results to stdout (progress goes to stderr)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress output (warnings and errors still go to stderr)" };
        var writeDelay = new Option<int>("--test-write-delay-ms") { Hidden = true };

        var command = new RootCommand("Trains the network of TrainerNetwork.cs, with checkpoints that survive crashes: a run killed at any moment and resumed with --resume ends with the same weights, bit for bit, as an uninterrupted one.")
        {
            epochs, batchSize, optimizer, learningRate, seed, threads, trainImages, trainLabels, testImages, testLabels, limit, validationSplit,
            checkpointDirectory, checkpointEvery, keep, resume, saveWeights, json, quiet, writeDelay,
        };

        ParseResult result = command.Parse(args);
        if (result.Errors.Count > 0)
        {
            exitCode = Fail(command, [.. result.Errors.Select(e => e.Message)]);
            return null;
        }

        if (result.Action is not null)
        {
            exitCode = result.Invoke(); // --help or --version
            return null;
        }

        var options = new TrainerOptions
        {
            Epochs = result.GetValue(epochs),
            BatchSize = result.GetValue(batchSize),
            Optimizer = result.GetValue(optimizer)!,
            LearningRate = result.GetValue(learningRate),
            Seed = result.GetValue(seed),
            Threads = result.GetValue(threads),
            TrainImages = result.GetValue(trainImages),
            TrainLabels = result.GetValue(trainLabels),
            TestImages = result.GetValue(testImages),
            TestLabels = result.GetValue(testLabels),
            Limit = result.GetValue(limit),
            ValidationSplit = result.GetValue(validationSplit),
            CheckpointDirectory = result.GetValue(checkpointDirectory),
            CheckpointEvery = result.GetValue(checkpointEvery),
            Keep = result.GetValue(keep),
            Resume = result.GetValue(resume),
            SaveWeights = result.GetValue(saveWeights),
            Json = result.GetValue(json),
            Quiet = result.GetValue(quiet),
            TestWriteDelayMilliseconds = result.GetValue(writeDelay),
        };

        string[] problems = [.. options.Check()];
        exitCode = problems.Length > 0 ? Fail(command, problems) : ExitCodes.Success;
        return problems.Length > 0 ? null : options;
    }

    /// <summary>What is wrong with the options, in words (nothing when they are fine).</summary>
    private IEnumerable<string> Check()
    {
        if (Epochs < 1)
        {
            yield return $"--epochs must be at least 1, not {Epochs}";
        }

        if (BatchSize < 1)
        {
            yield return $"--batch-size must be at least 1, not {BatchSize}";
        }

        if (Threads < 0)
        {
            yield return $"--threads must be 0 (all processors) or more, not {Threads}";
        }

        if (Limit < 0)
        {
            yield return $"--limit must be 0 (all) or more, not {Limit}";
        }

        if (!(ValidationSplit >= 0 && ValidationSplit < 1))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"--validation-split must be in [0, 1), not {ValidationSplit}");
        }

        if (CheckpointEvery < 0)
        {
            yield return $"--checkpoint-every must be 0 (each epoch end) or more, not {CheckpointEvery}";
        }

        if (Keep < 1)
        {
            yield return $"--keep must be at least 1, not {Keep}";
        }

        if (TestWriteDelayMilliseconds < 0)
        {
            yield return "--test-write-delay-ms must not be negative";
        }

        if ((TrainImages is null) != (TrainLabels is null))
        {
            yield return "--train-images and --train-labels go together";
        }

        if ((TestImages is null) != (TestLabels is null))
        {
            yield return "--test-images and --test-labels go together";
        }

        if (Resume && CheckpointDirectory is null)
        {
            yield return "--resume needs --checkpoint-dir";
        }

        string? rateProblem = null;
        try
        {
            _ = CreateOptimizer();
        }
        catch (ArgumentException e)
        {
            rateProblem = $"--learning-rate {LearningRate?.ToString("R", CultureInfo.InvariantCulture)}: {e.Message.Split('\n')[0]}";
        }

        if (rateProblem is not null)
        {
            yield return rateProblem;
        }
    }

    /// <summary>Prints the errors and the usage to stderr; returns <see cref="ExitCodes.Usage"/>.</summary>
    private static int Fail(RootCommand command, IEnumerable<string> errors)
    {
        foreach (string error in errors)
        {
            Console.Error.WriteLine($"error: {error}");
        }

        command.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = Console.Error });
        return ExitCodes.Usage;
    }

    private static Option<T> Option<T>(string name, T defaultValue, string helpName, string description) =>
        new(name) { DefaultValueFactory = _ => defaultValue, HelpName = helpName, Description = description };

    private static Option<string?> Path(string name, string description) =>
        new(name) { HelpName = name.EndsWith("-dir", StringComparison.Ordinal) ? "DIR" : "FILE", Description = description };
}

using System.Globalization;
using NetDsl;
using NetDsl.Data;
using NetDsl.Datasets;
using NetDsl.Distributed;
using NetDsl.Optimizers;
using NetDsl.Training;

/// <summary>
/// Data-parallel <c>Fit</c> under mpirun (<c>--fit DIR</c> and <c>--fit-resume DIR</c>): every rank calls <c>Fit</c> with
/// <see cref="FitOptions.Distributed"/> on the same 640 digits (global batches of 64, validation on 160 more, Adam),
/// with a ModelCheckpoint and a CsvLogger in DIR; rank 0 then trains the same network alone with the same options and
/// compares weights and history. <c>--fit</c> runs 2 epochs; <c>--fit-resume</c> loads the checkpoint of epoch 1 that a
/// <c>--fit</c> run (with any other rank count) left in DIR on every rank and runs epoch 2, which must match 2 epochs
/// of one process. <c>--fit-mismatch DIR</c> gives the last rank fewer samples: every rank must throw. Prints one line
/// per rank; exits 0 when everything matches.
/// </summary>
internal static class FitCheck
{
    private const int Samples = 640, ValidationSamples = 160, GlobalBatch = 64, ShardCapacity = 32, Seed = 5, Epochs = 2;

    public static int Run(MpiCommunicator world, string directory, bool resume, bool mismatch = false)
    {
        var (train, _) = Subsets();
        if (mismatch && world.Rank == world.Size - 1)
        {
            train = train.Take(Samples - GlobalBatch); // a rank given other data must stop every rank, not hang or diverge
        }

        using var network = new ShardedCnn(ShardCapacity, Seed, threads: 1);
        var optimizer = new Adam(0.002f);
        int initialEpoch = 0;
        if (resume)
        {
            initialEpoch = network.LoadCheckpoint(Path.Combine(directory, "epoch-1.safetensors"), optimizer).Epoch; // every rank
        }

        var output = new StringWriter();
        var history = network.Fit(train, optimizer, Options(world, directory, initialEpoch, output));
        string log = output.ToString();
        string line = string.Create(CultureInfo.InvariantCulture, $"rank={world.Rank} size={world.Size} initial_epoch={initialEpoch} epochs={history.Count} output_chars={log.Length}");
        bool ok = world.IsRoot ? log.Contains("Epoch 2/2", StringComparison.Ordinal) : log.Length == 0; // only rank 0 prints

        // Every rank must hold rank 0's parameters exactly, and the same history.
        float[] root = network.Parameters.ToArray();
        world.Broadcast(root, root: 0);
        double[] mismatches = [network.Parameters.SequenceEqual(root) ? 0 : 1];
        world.AllreduceSum(mismatches);
        ok &= mismatches[0] == 0;
        line += string.Create(CultureInfo.InvariantCulture, $" ranks_differing={mismatches[0]}");

        if (world.IsRoot)
        {
            // The reference: one process, a network that takes the whole global batch, 2 uninterrupted epochs.
            using var single = new ShardedCnn(GlobalBatch, Seed, threads: 1);
            var referenceHistory = single.Fit(train, new Adam(0.002f), Options(null, null, 0, TextWriter.Null));
            var (maxDiff, maxParam) = Differences(single.Parameters, root);

            // Tolerance as in the step test: shard sums and the Allreduce change the order of the float sums (a few ulps
            // per step); Adam divides by the root of the second moment, which magnifies that for tiny gradients, so
            // 20 steps are allowed 1e-4 of the largest parameter (measured below 1e-6). A wrong average moves them by
            // ~1e-2 of it.
            double tolerance = 1e-4 * maxParam;
            ok &= maxDiff <= tolerance;
            foreach (string key in new[] { "loss", "accuracy", "val_loss", "val_accuracy" })
            {
                double got = history[key][^1], want = referenceHistory[key][^1];
                bool close = Math.Abs(got - want) <= (key.EndsWith("accuracy", StringComparison.Ordinal) ? 2.0 / Samples : 1e-3 * Math.Abs(want));
                ok &= close;
                line += string.Create(CultureInfo.InvariantCulture, $" {key}={got:F5}/{want:F5}");
            }

            // Files: rank 0 alone wrote the checkpoints and the CSV log (one header, one line per epoch of this run).
            ok &= File.Exists(Path.Combine(directory, "epoch-2.safetensors"));
            string[] csv = File.ReadAllLines(Path.Combine(directory, resume ? "resumed.csv" : "log.csv"));
            ok &= csv.Length == 1 + Epochs - initialEpoch;
            line += string.Create(CultureInfo.InvariantCulture, $" max_diff={maxDiff:E3} tolerance={tolerance:E3} csv_lines={csv.Length}");
        }

        line += $" ok={ok}";
        Console.WriteLine(line);
        double[] failures = [ok ? 0 : 1];
        world.AllreduceSum(failures);
        return failures[0] == 0 ? 0 : 1;
    }

    /// <summary>The largest absolute difference between <paramref name="expected"/> and <paramref name="actual"/>, and the largest |expected|.</summary>
    public static (double MaxDiff, double MaxParam) Differences(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double maxDiff = 0, maxParam = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            maxParam = Math.Max(maxParam, Math.Abs(expected[i]));
        }

        return (maxDiff, maxParam);
    }

    private static FitOptions Options(MpiCommunicator? world, string? directory, int initialEpoch, TextWriter output) => new()
    {
        Epochs = Epochs,
        InitialEpoch = initialEpoch,
        BatchSize = GlobalBatch,
        ValidationData = Subsets().Validation,
        Verbose = Verbosity.EpochLines,
        Output = output,
        Distributed = world,
        Callbacks = directory is null ? null :
        [
            new ModelCheckpoint(Path.Combine(directory, "epoch-{epoch}.safetensors"), weightsOnly: false),
            new CsvLogger(Path.Combine(directory, initialEpoch > 0 ? "resumed.csv" : "log.csv")),
        ],
    };

    /// <summary>640 training and 160 validation digits spread over the classes (the embedded digits are stored by class).</summary>
    private static (Dataset Train, Dataset Validation) Subsets()
    {
        var (all, _) = MnistDigits.Load();
        return (Pick(all, 0, Samples), Pick(all, Samples, ValidationSamples));
    }

    private static Dataset Pick(Dataset all, int offset, int count)
    {
        int size = all.SampleSize;
        var features = new float[count * size];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int index = (int)((long)(offset + i) * 7919 % all.Count);
            all.GetSample(index).CopyTo(features.AsSpan(i * size, size));
            labels[i] = all.GetLabel(index);
        }

        return new Dataset(features, labels, 1, 28, 28);
    }
}

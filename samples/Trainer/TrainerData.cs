using System.Runtime.InteropServices;
using System.Security.Cryptography;
using NetDsl;
using NetDsl.Data;
using NetDsl.Datasets;

namespace NetDslTrainer;

/// <summary>A data problem the user must fix (a missing or corrupt file, a size that does not fit): exit code 3.</summary>
internal sealed class TrainerDataException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The data of a run: training samples, the validation samples held out of them, and the test samples.</summary>
/// <param name="Train">What the network trains on.</param>
/// <param name="Validation">Evaluated after each epoch; null without <c>--validation-split</c>.</param>
/// <param name="Test">Evaluated at the end; null when training on IDX files without test files.</param>
/// <param name="Description">Where the data came from, in words.</param>
internal sealed record TrainerData(Dataset Train, Dataset? Validation, Dataset? Test, string Description)
{
    /// <summary>The shape of one sample the network takes (channels, height, width).</summary>
    public static readonly int[] SampleShape = [1, 28, 28];

    /// <summary>The number of classes (the network's outputs).</summary>
    public const int Classes = 10;

    /// <summary>
    /// Loads the data the options name: IDX files (the full MNIST or Fashion-MNIST, raw or gzip), or the 10,000 MNIST
    /// digits embedded in NetDsl.Datasets, split as <c>MnistDigits.Load</c> splits them (per digit the first 80% train,
    /// the rest test). The embedded training digits come sorted by digit, so they are mixed once, with a fixed
    /// permutation, before <c>--limit</c> and <c>--validation-split</c> take their parts (IDX files are used in their
    /// order, which for MNIST is already mixed). Then <c>--limit</c> keeps the first N training samples and
    /// <c>--validation-split</c> holds out the last fraction of those, as Keras' <c>validation_split</c>.
    /// </summary>
    /// <exception cref="TrainerDataException">A file is missing, unreadable, malformed, or does not fit the network.</exception>
    public static TrainerData Load(TrainerOptions options)
    {
        Dataset train;
        Dataset? test;
        string description;
        if (options.TrainImages is { } trainImages)
        {
            train = LoadIdx(trainImages, options.TrainLabels!, "training");
            test = options.TestImages is { } testImages ? LoadIdx(testImages, options.TestLabels!, "test") : null;
            description = $"{train.Count} training samples from {trainImages}" + (test is null ? ", no test set" : $", {test.Count} test samples from {options.TestImages}");
        }
        else
        {
            (train, var embeddedTest) = MnistDigits.Load();
            int[] order = [.. Enumerable.Range(0, train.Count)];
            new DeterministicRandom(0x4D4E495354UL).Shuffle(order.AsSpan()); // fixed: the same mix in every run
            train = train.Subset(order);
            test = options.TestImages is { } testImages ? LoadIdx(testImages, options.TestLabels!, "test") : embeddedTest;
            description = $"{train.Count} training digits (real MNIST, embedded)" + (options.TestImages is null ? $", {test.Count} test digits" : $", {test.Count} test samples from {options.TestImages}");
        }

        if (options.Limit > 0 && options.Limit < train.Count)
        {
            train = train.Take(options.Limit);
            description += $"; training on the first {train.Count}";
        }

        Dataset? validation = null;
        if (options.ValidationSplit > 0)
        {
            int keep = (int)(train.Count * (1 - options.ValidationSplit)); // Keras: split_at = int(n * (1 - split))
            if (keep < 1 || keep >= train.Count)
            {
                throw new TrainerDataException($"--validation-split {options.ValidationSplit} of {train.Count} training samples leaves {keep} for training and {train.Count - keep} for validation; both need at least one.");
            }

            validation = train.Subset([.. Enumerable.Range(keep, train.Count - keep)]);
            train = train.Take(keep);
            description += $"; {validation.Count} held out for validation";
        }

        return new TrainerData(train, validation, test, description);
    }

    /// <summary>
    /// A SHA-256 of the training samples and labels in their order: a checkpoint records it, and a run resumes only
    /// from checkpoints of the same data (other data would continue another training).
    /// </summary>
    public static string Fingerprint(Dataset data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(MemoryMarshal.AsBytes(data.Features.AsSpan()));
        hash.AppendData(MemoryMarshal.AsBytes(data.Labels.AsSpan()));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static Dataset LoadIdx(string images, string labels, string role)
    {
        foreach (var (path, kind) in new[] { (images, "images"), (labels, "labels") })
        {
            if (!File.Exists(path))
            {
                throw new TrainerDataException($"The {role} {kind} file '{path}' does not exist.");
            }
        }

        Dataset data;
        try
        {
            data = Idx.LoadDataset(images, labels);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException or IOException or UnauthorizedAccessException)
        {
            // Idx's messages name the file and the problem (bad magic, truncated, count mismatch, ...).
            throw new TrainerDataException($"Cannot read the {role} data: {e.Message}", e);
        }

        if (!data.SampleShape.SequenceEqual(SampleShape))
        {
            throw new TrainerDataException($"'{images}' holds images of {data.SampleShape[1]} x {data.SampleShape[2]} pixels; the network takes {SampleShape[1]} x {SampleShape[2]} (see TrainerNetwork.cs).");
        }

        if (data.Count == 0)
        {
            throw new TrainerDataException($"'{images}' holds no images.");
        }

        for (int i = 0; i < data.Count; i++)
        {
            if ((uint)data.Labels[i] >= Classes)
            {
                throw new TrainerDataException($"'{labels}': sample {i} has label {data.Labels[i]}; the network has {Classes} classes (labels 0 to {Classes - 1}).");
            }
        }

        return data;
    }
}

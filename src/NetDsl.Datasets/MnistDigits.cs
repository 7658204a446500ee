using NetDsl.Data;

namespace NetDsl.Datasets;

/// <summary>
/// 10,000 real MNIST handwritten digits embedded in this assembly, for samples and tests that must run without a
/// download (the full MNIST has 70,000). See <c>data/mnist/README.md</c> for provenance and licence.
/// </summary>
/// <remarks>
/// Samples have shape <c>[1, 28, 28]</c> (channels, height, width), pixels in [0, 1] (<c>byte / 255f</c>) and
/// labels 0 to 9. The embedded order is every 0 (in source order), then every 1, and so on. Each call returns new
/// <see cref="Dataset"/> instances with their own arrays, so callers may modify them freely.
/// </remarks>
public static class MnistDigits
{
    /// <summary>The number of classes (the digits 0 to 9).</summary>
    public const int ClassCount = 10;

    private const string ImagesResource = "NetDsl.Datasets.mnist-10k-images-idx3-ubyte.gz";
    private const string LabelsResource = "NetDsl.Datasets.mnist-10k-labels-idx1-ubyte.gz";

    // Decoded once; never handed out (callers always get copies).
    private static readonly Lazy<Dataset> All = new(Decode, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>All 10,000 digits in embedded order (digit 0 first, then 1, ..., 9).</summary>
    /// <returns>A new dataset with its own arrays.</returns>
    public static Dataset LoadAll()
    {
        Dataset all = All.Value;
        return new Dataset((float[])all.Features.Clone(), (int[])all.Labels.Clone(), all.SampleShape.ToArray());
    }

    /// <summary>
    /// A deterministic train/test split, in the spirit of Keras' <c>mnist.load_data()</c>: for each digit, the
    /// first <c>floor(0.8 * n)</c> of its <c>n</c> samples (in embedded order) go to <c>Train</c> and the rest to
    /// <c>Test</c>. Both sets hold the digits in ascending order and are not shuffled (shuffle when training).
    /// </summary>
    /// <returns>New datasets with their own arrays: 7,996 training and 2,004 test samples.</returns>
    public static (Dataset Train, Dataset Test) Load()
    {
        Dataset all = All.Value;
        var byDigit = new List<int>[ClassCount];
        for (int d = 0; d < ClassCount; d++)
        {
            byDigit[d] = [];
        }

        for (int i = 0; i < all.Count; i++)
        {
            byDigit[all.Labels[i]].Add(i);
        }

        var train = new List<int>(all.Count);
        var test = new List<int>(all.Count);
        foreach (List<int> indices in byDigit)
        {
            int cut = indices.Count * 4 / 5; // floor(0.8 n) in exact integer arithmetic
            train.AddRange(indices.GetRange(0, cut));
            test.AddRange(indices.GetRange(cut, indices.Count - cut));
        }

        return (all.Subset(train.ToArray()), all.Subset(test.ToArray()));
    }

    private static Dataset Decode()
    {
        using Stream images = OpenResource(ImagesResource);
        using Stream labels = OpenResource(LabelsResource);
        Dataset all = Idx.LoadDataset(images, labels, ImagesResource, LabelsResource);
        for (int i = 0; i < all.Count; i++)
        {
            if ((uint)all.Labels[i] >= ClassCount)
            {
                throw new InvalidDataException($"{LabelsResource}: sample {i} has label {all.Labels[i]}, not a digit.");
            }
        }

        return all;
    }

    private static Stream OpenResource(string name) =>
        typeof(MnistDigits).Assembly.GetManifestResourceStream(name)
        ?? throw new InvalidOperationException($"Embedded resource '{name}' is missing from {typeof(MnistDigits).Assembly.GetName().Name}.");
}

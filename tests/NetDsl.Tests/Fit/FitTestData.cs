using NetDsl.Data;
using NetDsl.Training;

namespace NetDsl.Tests.Fit;

/// <summary>8 -> 16 ReLU -> 4 Softmax: the network the Fit tests train.</summary>
[Network]
[Input(8)]
public partial class FitMlp
{
    [Dense(16, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    [Dense(4, Activation.Softmax)] public partial DenseLayer Output { get; }
}

/// <summary>Synthetic data and small helpers shared by the Fit tests.</summary>
internal static class FitTestData
{
    /// <summary>
    /// Four well separated blobs in 8 dimensions: class c has centre 2 * u_c (u_c uniform in [-1, 1]^8, drawn once
    /// from a fixed seed, pairwise at least 2 apart) plus uniform noise in [-0.5, 0.5] per coordinate. Labels cycle
    /// 0, 1, 2, 3, so every contiguous slice (e.g. a validation split) holds all classes.
    /// </summary>
    public static Dataset Blobs(int count, int seed = 11, int classes = 4, int dims = 8)
    {
        var centres = Centres(classes, dims);
        var random = new Random(seed);
        var features = new float[count * dims];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int c = i % classes;
            labels[i] = c;
            for (int d = 0; d < dims; d++)
            {
                features[i * dims + d] = centres[c][d] + (float)(random.NextDouble() - 0.5);
            }
        }

        return new Dataset(features, labels, dims);
    }

    private static float[][] Centres(int classes, int dims)
    {
        var random = new Random(1234);
        var centres = new List<float[]>();
        while (centres.Count < classes)
        {
            var candidate = Enumerable.Range(0, dims).Select(_ => (float)(2 * (2 * random.NextDouble() - 1))).ToArray();
            if (centres.All(c => Distance(c, candidate) >= 2))
            {
                centres.Add(candidate);
            }
        }

        return [.. centres];
    }

    private static double Distance(float[] a, float[] b) => Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum());

    /// <summary>Every series of a history except the timing ones, for exact comparisons.</summary>
    public static Dictionary<string, double[]> Values(History history) =>
        history.Keys.Where(k => k is not (History.SecondsKey or History.ImagesPerSecondKey))
            .ToDictionary(k => k, k => history[k].ToArray());
}

/// <summary>A user data source (the public interface) over arrays, optionally recording which samples were read.</summary>
internal sealed class ArraySource(float[] features, int[] labels, int sampleSize) : IDataSource
{
    public List<int> Reads { get; } = [];

    public bool Record { get; set; }

    public int Count => labels.Length;

    public int SampleSize => sampleSize;

    public void CopyFeatures(int index, Span<float> destination)
    {
        if (Record)
        {
            Reads.Add(index);
        }

        features.AsSpan(index * sampleSize, sampleSize).CopyTo(destination);
    }

    public int GetLabel(int index) => labels[index];
}

/// <summary>A callback that records every event as text and keeps snapshots of what it saw.</summary>
internal sealed class RecordingCallback : Callback
{
    public List<string> Events { get; } = [];

    public List<float[]> EpochEndWeights { get; } = [];

    public List<Logs> EpochLogs { get; } = [];

    public Action<int, int>? OnBatch { get; set; }

    private int _epoch;

    public override void OnTrainBegin(Logs logs) => Events.Add("train_begin");

    public override void OnTrainEnd(Logs logs) => Events.Add("train_end");

    public override void OnEpochBegin(int epoch, Logs logs)
    {
        _epoch = epoch;
        Events.Add($"epoch_begin {epoch}");
    }

    public override void OnEpochEnd(int epoch, Logs logs)
    {
        Events.Add($"epoch_end {epoch}");
        EpochEndWeights.Add(Context.Network.Parameters.ToArray());
        EpochLogs.Add(logs.Clone());
    }

    public override void OnBatchEnd(int batch, Logs logs) => OnBatch?.Invoke(_epoch, batch);
}

using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using FashionMnist;
using NetDsl;
using NetDsl.Data;
using NetDsl.IO;
using NetDsl.Metrics;
using NetDsl.Optimizers;
using NetDsl.Training;

namespace TransferResNet18;

/// <summary>512 features per image for the training and test sets, with the seconds their extraction took.</summary>
internal sealed record FeatureSet(float[] Train, int[] TrainLabels, float[] Test, int[] TestLabels, double TrainSeconds, double TestSeconds, bool Cached);

/// <summary>A trained head or CNN: wall-clock training seconds, training images/s, test accuracy.</summary>
internal sealed record TrainResult(double Seconds, double ImagesPerSecond, double Accuracy, double Epochs);

/// <summary>The sample's steps: preprocessing, feature extraction with a cache, the head, the CNN baseline.</summary>
internal sealed class Transfer(int size, int seed, int threads, float[] bgrMean, string? cacheDirectory, string modelPath)
{
    public const int FeatureCount = 512;
    private const int ExtractBatch = 64;
    private const int Chunk = 512;
    private const int Batch = 128;

    /// <summary>An inference-only trunk at the chosen size, randomly initialised from the seed.</summary>
    public Network CreateTrunk() => size == 64
        ? ResNet18Trunk64.ForInference(ExtractBatch, seed, threads)
        : ResNet18Trunk96.ForInference(ExtractBatch, seed, threads);

    /// <summary>The mean of each plane of MeanImage [1, 3, 224, 224] (B, G, R): the per-pixel mean image only fits 224x224.</summary>
    public static float[] ChannelMeans(float[] meanImage)
    {
        int plane = meanImage.Length / 3;
        var means = new float[3];
        for (int c = 0; c < 3; c++)
        {
            double sum = 0;
            for (int i = 0; i < plane; i++)
            {
                sum += meanImage[c * plane + i];
            }

            means[c] = (float)(sum / plane);
        }

        return means;
    }

    /// <summary>Features of both sets from the trunk <paramref name="create"/> makes (only called when the cache misses).</summary>
    public FeatureSet Features(string kind, Func<Network> create, Dataset train, Dataset test)
    {
        string? trainPath = CachePath(kind, "train", train), testPath = CachePath(kind, "test", test);
        if (TryRead(trainPath, Key(kind, "train", train), train.Count, out var trainFeatures, out double trainSeconds)
            && TryRead(testPath, Key(kind, "test", test), test.Count, out var testFeatures, out double testSeconds))
        {
            Console.WriteLine($"[{kind}] features read from the cache {Path.GetDirectoryName(trainPath)} (extracted earlier in {trainSeconds:F1} + {testSeconds:F1} s).");
            return new FeatureSet(trainFeatures, train.Labels, testFeatures, test.Labels, trainSeconds, testSeconds, Cached: true);
        }

        using Network trunk = create();
        trainFeatures = Extract(trunk, kind, "train", train, out trainSeconds);
        testFeatures = Extract(trunk, kind, "test", test, out testSeconds);
        Write(trainPath, Key(kind, "train", train), trainFeatures, trainSeconds);
        Write(testPath, Key(kind, "test", test), testFeatures, testSeconds);
        return new FeatureSet(trainFeatures, train.Labels, testFeatures, test.Labels, trainSeconds, testSeconds, Cached: false);
    }

    private float[] Extract(Network trunk, string kind, string split, Dataset set, out double seconds)
    {
        var features = new float[(long)set.Count * FeatureCount];
        int inputSize = 3 * size * size;
        var inputs = new float[Chunk * inputSize];
        var resize = new BilinearResize(28, size);
        var clock = Stopwatch.StartNew();
        double nextReport = 0.1;
        for (int start = 0; start < set.Count; start += Chunk)
        {
            int n = Math.Min(Chunk, set.Count - start);
            for (int k = 0; k < n; k++)
            {
                Preprocess(set.GetSample(start + k), resize, inputs.AsSpan(k * inputSize, inputSize));
            }

            trunk.Predict(inputs.AsSpan(0, n * inputSize), features.AsSpan(start * FeatureCount, n * FeatureCount));
            double done = (double)(start + n) / set.Count;
            if (done >= nextReport || start + n == set.Count)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{kind}] {split} features: {start + n,6}/{set.Count} ({done:P0}), {clock.Elapsed.TotalSeconds:F1} s, {(start + n) / clock.Elapsed.TotalSeconds:N0} images/s"));
                while (nextReport <= done)
                {
                    nextReport += 0.1;
                }
            }
        }

        seconds = clock.Elapsed.TotalSeconds;
        return features;
    }

    /// <summary>A 28x28 grey image on [0, 1] to the trunk's input: resized, on 0..255, replicated to B, G, R, minus each channel's mean.</summary>
    private void Preprocess(ReadOnlySpan<float> grey, BilinearResize resize, Span<float> input)
    {
        int plane = size * size;
        Span<float> resized = input[..plane];
        resize.Apply(grey, resized);
        for (int c = 2; c >= 0; c--) // plane 0 last: it holds the resized image until then
        {
            float mean = bgrMean[c];
            Span<float> destination = input.Slice(c * plane, plane);
            for (int i = 0; i < plane; i++)
            {
                destination[i] = resized[i] * 255f - mean;
            }
        }
    }

    /// <summary>The head on standardised features (train-set mean and deviation per feature), Adam 1e-3, batch 128.</summary>
    public TrainResult TrainHead(string kind, FeatureSet set, int epochs)
    {
        var (mean, scale) = Standardisation(set.Train);
        var train = new MemoryDataSource(Standardise(set.Train, mean, scale), set.TrainLabels, FeatureCount);
        var test = new MemoryDataSource(Standardise(set.Test, mean, scale), set.TestLabels, FeatureCount);
        using var head = new FeatureHead(Batch, seed, threads);
        Console.WriteLine($"[{kind}] head: 512 -> 128 (ReLU) -> 10, {head.ParameterCount:N0} parameters, {epochs} epoch(s) of {train.Count} feature vectors");
        var clock = Stopwatch.StartNew();
        head.Fit(train, new Adam(learningRate: 1e-3f), new FitOptions
        {
            Epochs = epochs,
            BatchSize = Batch,
            ShuffleSeed = (ulong)seed,
            Metrics = [new Accuracy()],
            Verbose = Verbosity.EpochLines,
        });
        double seconds = clock.Elapsed.TotalSeconds;
        double accuracy = head.Evaluate(test, [new Accuracy()])["accuracy"];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{kind}] head: test accuracy {accuracy:P2}, {seconds:F1} s, {epochs * (double)train.Count / seconds:N0} images/s"));
        return new TrainResult(seconds, epochs * (double)train.Count / seconds, accuracy, epochs);
    }

    /// <summary>samples/FashionMnist's CNN (Adadelta 1.0/0.95/1e-6, batch 128) on the raw images for <paramref name="budgetSeconds"/>.</summary>
    public TrainResult TrainCnn(Dataset train, Dataset test, double budgetSeconds)
    {
        using var cnn = new FashionCnn(Batch, seed, threads);
        var counter = new ImageCounter(train.Count, Batch);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[cnn] FashionCnn from scratch for {budgetSeconds:F1} s (the pretrained pipeline's train-feature extraction + head training), stopped between batches"));
        using var budget = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        budget.CancelAfter(TimeSpan.FromSeconds(budgetSeconds));
        try
        {
            cnn.Fit(train, new Adadelta(learningRate: 1.0f, rho: 0.95f, epsilon: 1e-6f), new FitOptions
            {
                Epochs = 1_000_000,
                BatchSize = Batch,
                ShuffleSeed = (ulong)seed,
                Callbacks = [counter],
                Verbose = Verbosity.EpochLines,
            }, budget.Token);
        }
        catch (OperationCanceledException)
        {
            // The budget ran out: the weights are those after the last complete batch.
        }

        double seconds = clock.Elapsed.TotalSeconds;
        double accuracy = cnn.Evaluate(test, [new Accuracy()])["accuracy"];
        double epochs = counter.Images / (double)train.Count;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[cnn] test accuracy {accuracy:P2} after {counter.Images:N0} images ({epochs:F2} epochs), {seconds:F1} s, {counter.Images / seconds:N0} images/s"));
        return new TrainResult(seconds, counter.Images / seconds, accuracy, epochs);
    }

    private static (float[] Mean, float[] Scale) Standardisation(float[] features)
    {
        int count = features.Length / FeatureCount;
        var sum = new double[FeatureCount];
        var squares = new double[FeatureCount];
        for (int s = 0; s < count; s++)
        {
            for (int f = 0; f < FeatureCount; f++)
            {
                double v = features[s * FeatureCount + f];
                sum[f] += v;
                squares[f] += v * v;
            }
        }

        var mean = new float[FeatureCount];
        var scale = new float[FeatureCount];
        for (int f = 0; f < FeatureCount; f++)
        {
            double m = sum[f] / count, variance = Math.Max(0, squares[f] / count - m * m);
            mean[f] = (float)m;
            scale[f] = variance > 1e-12 ? (float)(1 / Math.Sqrt(variance)) : 1f; // a constant feature stays 0
        }

        return (mean, scale);
    }

    private static float[] Standardise(float[] features, float[] mean, float[] scale)
    {
        var result = new float[features.Length];
        for (int i = 0; i < features.Length; i++)
        {
            int f = i % FeatureCount;
            result[i] = (features[i] - mean[f]) * scale[f];
        }

        return result;
    }

    // ---- The cache: one file per trunk and split, a text key line then the floats; written atomically. ----

    private const string Magic = "NetDslFeatures 1";

    private string? CachePath(string kind, string split, Dataset set) =>
        cacheDirectory is null ? null : Path.Combine(cacheDirectory, $"resnet18-{kind}-{size}-{split}-{set.Count}.features");

    /// <summary>What the features depend on: trunk, size, split, model file, and the images themselves (a hash).</summary>
    private string Key(string kind, string split, Dataset set) => string.Create(CultureInfo.InvariantCulture,
        $"trunk={kind};size={size};split={split};count={set.Count};features={FeatureCount};model={new FileInfo(modelPath).Length};mean={bgrMean[0]:R},{bgrMean[1]:R},{bgrMean[2]:R};images={Fingerprint(set):x16}");

    private static ulong Fingerprint(Dataset set)
    {
        ulong hash = 14695981039346656037UL;
        foreach (int label in set.Labels)
        {
            hash = (hash ^ (uint)label) * 1099511628211UL;
        }

        ReadOnlySpan<int> bits = MemoryMarshal.Cast<float, int>(set.Features);
        for (int i = 0; i < bits.Length; i += 7)
        {
            hash = (hash ^ (uint)bits[i]) * 1099511628211UL;
        }

        return hash;
    }

    private static bool TryRead(string? path, string key, int count, out float[] features, out double seconds)
    {
        features = [];
        seconds = 0;
        if (path is null || !File.Exists(path))
        {
            return false;
        }

        try
        {
            using var stream = File.OpenRead(path);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            if (reader.ReadString() != Magic || reader.ReadString() != key)
            {
                Console.WriteLine($"cache {path}: written for other data or settings; extracting again.");
                return false;
            }

            seconds = reader.ReadDouble();
            long floats = (long)count * FeatureCount;
            if (stream.Length - stream.Position != floats * sizeof(float))
            {
                Console.WriteLine($"cache {path}: wrong length; extracting again.");
                return false;
            }

            features = new float[floats];
            stream.ReadExactly(MemoryMarshal.AsBytes(features.AsSpan()));
            return true;
        }
        catch (Exception e) when (e is IOException or EndOfStreamException)
        {
            Console.WriteLine($"cache {path}: unreadable ({e.Message}); extracting again.");
            return false;
        }
    }

    private static void Write(string? path, string key, float[] features, double seconds)
    {
        if (path is null)
        {
            return;
        }

        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(key);
            writer.Write(seconds);
            writer.Flush();
            stream.Write(MemoryMarshal.AsBytes(features.AsSpan()));
        });
        Console.WriteLine($"cache {path} written.");
    }

    /// <summary>Counts the training images Fit went through, including an epoch the budget interrupted.</summary>
    private sealed class ImageCounter(int perEpoch, int batch) : Callback
    {
        private long _completed;
        private int _batches;

        public long Images => _completed + Math.Min((long)_batches * batch, perEpoch);

        public override void OnEpochBegin(int epoch, Logs logs) => _batches = 0;

        public override void OnBatchEnd(int batchIndex, Logs logs) => _batches++;

        public override void OnEpochEnd(int epoch, Logs logs)
        {
            _completed += perEpoch;
            _batches = 0;
        }
    }
}

/// <summary>Bilinear resizing of a square grey image with half-pixel centres (as OpenCV, PIL and ONNX Resize's default).</summary>
internal sealed class BilinearResize
{
    private readonly int _from, _to;
    private readonly int[] _low, _high;
    private readonly float[] _fraction;

    public BilinearResize(int from, int to)
    {
        (_from, _to) = (from, to);
        (_low, _high, _fraction) = (new int[to], new int[to], new float[to]);
        for (int d = 0; d < to; d++)
        {
            double source = Math.Clamp((d + 0.5) * from / to - 0.5, 0, from - 1);
            _low[d] = (int)Math.Floor(source);
            _high[d] = Math.Min(_low[d] + 1, from - 1);
            _fraction[d] = (float)(source - _low[d]);
        }
    }

    public void Apply(ReadOnlySpan<float> source, Span<float> destination)
    {
        for (int y = 0; y < _to; y++)
        {
            ReadOnlySpan<float> top = source.Slice(_low[y] * _from, _from), bottom = source.Slice(_high[y] * _from, _from);
            float fy = _fraction[y];
            for (int x = 0; x < _to; x++)
            {
                float fx = _fraction[x];
                float upper = top[_low[x]] + (top[_high[x]] - top[_low[x]]) * fx;
                float lower = bottom[_low[x]] + (bottom[_high[x]] - bottom[_low[x]]) * fx;
                destination[y * _to + x] = upper + (lower - upper) * fy;
            }
        }
    }
}

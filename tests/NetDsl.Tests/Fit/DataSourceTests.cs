using NetDsl.Data;
using NetDsl.Optimizers;
using NetDsl.Tests.Data;
using NetDsl.Training;
using Xunit;

namespace NetDsl.Tests.Fit;

/// <summary>16 -> 3 Softmax, for the 4 x 4 images of the IDX tests.</summary>
[Network]
[Input(16)]
public partial class IdxNet
{
    [Dense(3, Activation.Softmax)] public partial DenseLayer Output { get; }
}

public class DataSourceTests
{
    [Fact]
    public void Memory_source_reads_labels_targets_or_nothing_without_copying()
    {
        float[] features = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        var labelled = new MemoryDataSource(features.AsMemory(2, 6), new[] { 7, 8, 9 }, 2);
        Assert.Equal(3, labelled.Count);
        Assert.Equal(TargetKind.ClassLabels, labelled.TargetKind);
        float[] sample = new float[2];
        labelled.CopyFeatures(1, sample);
        Assert.Equal([4f, 5f], sample);
        features[4] = 40;
        labelled.CopyFeatures(1, sample);
        Assert.Equal(40f, sample[0]); // a view, not a copy
        Assert.Equal(8, labelled.GetLabel(1));
        Assert.Throws<NotSupportedException>(() => labelled.CopyTargets(0, sample));
        Assert.Throws<ArgumentOutOfRangeException>(() => labelled.GetLabel(3));

        var regression = new MemoryDataSource(features, new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 5, 5);
        Assert.Equal((2, TargetKind.Values, 5), (regression.Count, regression.TargetKind, regression.TargetSize));
        float[] target = new float[5];
        regression.CopyTargets(1, target);
        Assert.Equal([6f, 7, 8, 9, 10], target);
        Assert.Throws<NotSupportedException>(() => regression.GetLabel(0));

        var unlabelled = MemoryDataSource.Unlabeled(features, 10);
        Assert.Equal((1, TargetKind.None, 0), (unlabelled.Count, unlabelled.TargetKind, unlabelled.TargetSize));

        Assert.Throws<ArgumentException>(() => new MemoryDataSource(features, new int[4], 2));
        Assert.Throws<ArgumentException>(() => new MemoryDataSource(features, new int[3], 3));
        Assert.Throws<ArgumentException>(() => new MemoryDataSource(features, new float[3], 5, 2));
    }

    [Fact]
    public void Interface_defaults_describe_a_labelled_source()
    {
        IDataSource source = new ArraySource(new float[6], [0, 1, 2], 2);
        Assert.Equal(TargetKind.ClassLabels, source.TargetKind);
        Assert.Equal(1, source.TargetSize);
        Assert.Throws<NotSupportedException>(() => source.CopyTargets(0, new float[1]));
        IDataSource dataset = new Dataset(new float[6], [0, 1, 2], 2);
        Assert.Equal(TargetKind.ClassLabels, dataset.TargetKind);
        Assert.Equal(2, dataset.GetLabel(2));
    }

    [Theory]
    [InlineData(10, 0.2, 8)]
    [InlineData(10, 0.25, 7)]
    [InlineData(10, 0.3, 7)]
    [InlineData(3, 0.5, 1)]
    [InlineData(1000, 0.1, 900)]
    public void SplitLast_keeps_floor_of_the_rest_for_training(int count, double fraction, int trainCount)
    {
        var data = FitTestData.Blobs(count);
        var (training, validation) = DataSource.SplitLast(data, fraction);
        Assert.Equal(trainCount, training.Count);
        Assert.Equal(count - trainCount, validation.Count);
        Assert.Equal(data.GetLabel(trainCount), validation.GetLabel(0));
        var sample = new float[8];
        validation.CopyFeatures(validation.Count - 1, sample);
        Assert.Equal(data.GetSample(count - 1).ToArray(), sample);
        Assert.Throws<ArgumentOutOfRangeException>(() => training.GetLabel(trainCount));
    }

    [Fact]
    public void Slice_and_split_reject_bad_ranges()
    {
        var data = FitTestData.Blobs(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSource.Slice(data, 5, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSource.Slice(data, -1, 2));
        Assert.Equal(0, DataSource.Slice(data, 10, 0).Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSource.SplitLast(data, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSource.SplitLast(data, 1e-17)); // 1 - 1e-17 rounds to 1: nothing to validate on
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSource.SplitLast(data, 0.95)); // nothing to train on
    }

    [Fact]
    public void Batcher_over_a_user_source_matches_the_dataset_batcher()
    {
        var data = FitTestData.Blobs(70);
        var a = new Batcher(data, 16, seed: 5);
        var b = new Batcher(new ArraySource(data.Features, data.Labels, 8), 16, seed: 5);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            a.StartEpoch(epoch);
            b.StartEpoch(epoch);
            while (a.MoveNext())
            {
                Assert.True(b.MoveNext());
                Assert.Equal(a.Rows, b.Rows);
                Assert.Equal(a.Features.ToArray(), b.Features.ToArray());
                Assert.Equal(a.Labels.ToArray(), b.Labels.ToArray());
                Assert.True(b.Targets.IsEmpty);
            }

            Assert.False(b.MoveNext());
        }
    }

    private static int[] Order(Batcher batcher)
    {
        var order = new List<int>();
        while (batcher.MoveNext())
        {
            for (int r = 0; r < batcher.Rows; r++)
            {
                order.Add((int)batcher.Features[r]);
            }
        }

        return [.. order];
    }

    [Fact]
    public void Epoch_order_depends_only_on_the_seed_and_the_epoch()
    {
        var data = new Dataset(Enumerable.Range(0, 50).Select(i => (float)i).ToArray(), new int[50], 1);
        var walked = new Batcher(data, 7, seed: 3);
        var direct = new Batcher(data, 7, seed: 3);
        var orders = new List<int[]>();
        for (int epoch = 0; epoch < 4; epoch++)
        {
            walked.StartEpoch(epoch);
            orders.Add(Order(walked));
        }

        direct.StartEpoch(3);
        Assert.Equal(orders[3], Order(direct));
        Assert.Equal(Enumerable.Range(0, 50), orders[3].Order());
        Assert.Equal(4, orders.Select(o => string.Join(",", o)).Distinct().Count());

        var other = new Batcher(data, 7, seed: 4);
        other.StartEpoch(3);
        Assert.NotEqual(orders[3], Order(other));

        var unshuffled = new Batcher(data, 7, seed: 3, shuffle: false);
        unshuffled.StartEpoch(2);
        Assert.Equal(Enumerable.Range(0, 50), Order(unshuffled));
    }

    [Fact]
    public void Batcher_gathers_float_targets()
    {
        float[] x = Enumerable.Range(0, 10).Select(i => (float)i).ToArray();
        float[] t = Enumerable.Range(0, 20).Select(i => i * 0.5f).ToArray();
        var batcher = new Batcher(new MemoryDataSource(x, t, 1, 2), 4, shuffle: false);
        batcher.StartEpoch(0);
        Assert.True(batcher.MoveNext());
        Assert.True(batcher.Labels.IsEmpty);
        Assert.Equal(t.AsSpan(0, 8).ToArray(), batcher.Targets.ToArray());
        Assert.True(batcher.MoveNext());
        Assert.True(batcher.MoveNext());
        Assert.Equal(2, batcher.Rows);
        Assert.Equal(t.AsSpan(16, 4).ToArray(), batcher.Targets.ToArray());
    }

    /// <summary>An MNIST-style directory of 4 x 4 images, 30 of them in 3 classes (class c has a bright pixel at
    /// position c), written as the test IDX files; LoadSplit finds each naming variant and the result trains.</summary>
    [Theory]
    [InlineData("train-{0}-idx{1}-ubyte.gz", true)]
    [InlineData("train-{0}-idx{1}-ubyte", false)]
    [InlineData("train-{0}.idx{1}-ubyte", false)]
    public void Idx_split_loads_a_dataset_that_fit_can_train_on(string pattern, bool gzip)
    {
        const int Count = 30;
        var pixels = new byte[Count * 16];
        var labels = new byte[Count];
        var random = new Random(2);
        for (int i = 0; i < Count; i++)
        {
            labels[i] = (byte)(i % 3);
            for (int p = 0; p < 16; p++)
            {
                pixels[i * 16 + p] = (byte)random.Next(0, 40);
            }

            pixels[i * 16 + labels[i]] = 255;
        }

        byte[] images = IdxTestFiles.Ubyte([Count, 4, 4], pixels);
        byte[] labelFile = IdxTestFiles.Ubyte([Count], labels);
        using var dir = new TempDir();
        dir.Write(string.Format(pattern, "images", 3), gzip ? IdxTestFiles.Gzip(images) : images);
        dir.Write(string.Format(pattern, "labels", 1), gzip ? IdxTestFiles.Gzip(labelFile) : labelFile);

        Dataset data = Idx.LoadSplit(dir.Path, "train");
        Assert.Equal(Count, data.Count);
        Assert.Equal([1, 4, 4], data.SampleShape.ToArray());
        Assert.Equal(labels.Select(l => (int)l), data.Labels);
        Assert.Equal(pixels[17] / 255f, data.Features[17]);

        using var net = new IdxNet(8, seed: 1, threads: 1);
        var history = net.Fit(data, new Sgd(0.5f), new FitOptions { Epochs = 20, Verbose = Verbosity.Silent });
        Assert.True(history.Loss[^1] < history.Loss[0] / 2, $"loss {history.Loss[0]} -> {history.Loss[^1]}");
        Assert.Equal(1.0, net.Evaluate(data)["accuracy"]);
    }

    [Fact]
    public void Idx_split_prefers_gzip_and_names_what_it_tried()
    {
        using var dir = new TempDir();
        dir.Write("t10k-images-idx3-ubyte.gz", IdxTestFiles.Gzip(IdxTestFiles.Ubyte([2, 1, 1], [0, 255])));
        dir.Write("t10k-labels-idx1-ubyte.gz", IdxTestFiles.Gzip(IdxTestFiles.Ubyte([2], [1, 0])));
        dir.Write("t10k-images-idx3-ubyte", IdxTestFiles.Ubyte([1, 1, 1], [0]));
        Assert.Equal(2, Idx.LoadSplit(dir.Path, "t10k").Count);

        var e = Assert.Throws<FileNotFoundException>(() => Idx.LoadSplit(dir.Path, "train"));
        Assert.Contains("train-images-idx3-ubyte.gz", e.Message);
        Assert.Contains("train-images.idx3-ubyte", e.Message);
    }
}

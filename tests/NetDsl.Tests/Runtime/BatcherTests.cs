using NetDsl.Data;
using Xunit;

namespace NetDsl.Tests.Runtime;

public class BatcherTests
{
    /// <summary>Sample i has features (i, -i, 0.5 i) and label i % 7, so a batch row identifies its sample.</summary>
    private static Dataset Indexed(int count)
    {
        var features = new float[count * 3];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            features[3 * i] = i;
            features[3 * i + 1] = -i;
            features[3 * i + 2] = 0.5f * i;
            labels[i] = i % 7;
        }

        return new Dataset(features, labels, 3);
    }

    private static List<int> Epoch(Batcher batcher, List<int>? sizes = null)
    {
        var order = new List<int>();
        batcher.StartEpoch();
        while (batcher.MoveNext())
        {
            int rows = batcher.Labels.Length;
            Assert.Equal(rows * 3, batcher.Features.Length);
            sizes?.Add(rows);
            for (int r = 0; r < rows; r++)
            {
                int index = (int)batcher.Features[3 * r];
                Assert.Equal(-index, batcher.Features[3 * r + 1]);
                Assert.Equal(0.5f * index, batcher.Features[3 * r + 2]);
                Assert.Equal(index % 7, batcher.Labels[r]);
                order.Add(index);
            }
        }

        Assert.True(batcher.Features.IsEmpty);
        Assert.True(batcher.Labels.IsEmpty);
        Assert.False(batcher.MoveNext());
        return order;
    }

    [Theory]
    [InlineData(100, 32)]
    [InlineData(100, 25)]
    [InlineData(7, 64)]
    [InlineData(1, 1)]
    [InlineData(33, 1)]
    public void An_epoch_covers_every_sample_once_with_a_partial_last_batch(int count, int batchSize)
    {
        var batcher = new Batcher(Indexed(count), batchSize, seed: 3);
        Assert.Equal((count + batchSize - 1) / batchSize, batcher.BatchesPerEpoch);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var sizes = new List<int>();
            var order = Epoch(batcher, sizes);
            Assert.Equal(Enumerable.Range(0, count), order.Order());
            Assert.Equal(batcher.BatchesPerEpoch, sizes.Count);
            Assert.All(sizes.Take(sizes.Count - 1), s => Assert.Equal(batchSize, s));
            Assert.Equal(count - batchSize * (sizes.Count - 1), sizes[^1]);
        }
    }

    [Fact]
    public void Shuffles_differ_between_epochs_and_are_deterministic_per_seed()
    {
        var a = new Batcher(Indexed(200), 16, seed: 9);
        var b = new Batcher(Indexed(200), 16, seed: 9);
        var c = new Batcher(Indexed(200), 16, seed: 10);
        var a1 = Epoch(a);
        var a2 = Epoch(a);
        Assert.Equal(a1, Epoch(b));
        Assert.Equal(a2, Epoch(b));
        Assert.NotEqual(a1, a2);
        Assert.NotEqual(a1, Epoch(c));
        Assert.NotEqual(Enumerable.Range(0, 200), a1);
    }

    [Fact]
    public void Without_shuffle_the_dataset_order_is_kept()
    {
        var batcher = new Batcher(Indexed(50), 16, seed: 1, shuffle: false);
        Assert.Equal(Enumerable.Range(0, 50), Epoch(batcher));
        Assert.Equal(Enumerable.Range(0, 50), Epoch(batcher));
    }

    [Fact]
    public void MoveNext_before_StartEpoch_returns_false()
    {
        var batcher = new Batcher(Indexed(10), 4);
        Assert.False(batcher.MoveNext());
        Assert.True(batcher.Labels.IsEmpty);
    }

    [Fact]
    public void Constructor_validates_arguments()
    {
        Assert.Throws<ArgumentNullException>(() => new Batcher(null!, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Batcher(Indexed(3), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Batcher(Indexed(3), -2));
    }
}

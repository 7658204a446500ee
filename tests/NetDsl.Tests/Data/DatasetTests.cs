using NetDsl.Data;
using Xunit;

namespace NetDsl.Tests.Data;

public class DatasetTests
{
    // 5 samples of shape [1, 1, 2]; sample i = (10 i, 10 i + 1), labels 3, 1, 4, 1, 5.
    private static Dataset Small()
    {
        var features = new float[10];
        for (int i = 0; i < 5; i++)
        {
            features[2 * i] = 10 * i;
            features[(2 * i) + 1] = (10 * i) + 1;
        }

        return new Dataset(features, [3, 1, 4, 1, 5], 1, 1, 2);
    }

    [Fact]
    public void Constructor_exposes_shape_size_and_count()
    {
        Dataset d = Small();

        Assert.Equal(5, d.Count);
        Assert.Equal(2, d.SampleSize);
        Assert.Equal([1, 1, 2], d.SampleShape.ToArray());
        Assert.Equal([20f, 21f], d.GetSample(2).ToArray());
        Assert.Equal("Dataset(5 samples of shape [1, 1, 2])", d.ToString());
    }

    [Fact]
    public void Constructor_copies_the_shape_array()
    {
        int[] shape = [2, 3];
        var d = new Dataset(new float[12], [0, 1], shape);
        shape[0] = 99;

        Assert.Equal([2, 3], d.SampleShape.ToArray());
    }

    [Fact]
    public void Constructor_rejects_length_mismatch_with_numbers()
    {
        var e = Assert.Throws<ArgumentException>(() => new Dataset(new float[100], [0, 1, 2], 1, 28, 28));

        Assert.Equal("features", e.ParamName);
        Assert.Contains("100", e.Message);
        Assert.Contains("3 labels", e.Message);
        Assert.Contains("784", e.Message);
        Assert.Contains("2352", e.Message);
    }

    [Theory]
    [InlineData(new int[0])]
    [InlineData(new[] { 1, 0, 28 })]
    [InlineData(new[] { -1 })]
    [InlineData(new[] { 65536, 65536 })]
    public void Constructor_rejects_bad_shapes(int[] shape)
    {
        var e = Assert.Throws<ArgumentException>(() => new Dataset([], [], shape));

        Assert.Equal("sampleShape", e.ParamName);
    }

    [Fact]
    public void Empty_dataset_is_allowed()
    {
        var d = new Dataset([], [], 3);

        Assert.Equal(0, d.Count);
        Assert.Equal([0, 0], d.ClassCounts(2));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5)]
    public void GetSample_rejects_out_of_range_index(int index)
    {
        Dataset d = Small();

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => d.GetSample(index).ToArray());

        Assert.Contains($"{index}", e.Message);
    }

    [Fact]
    public void Where_keeps_matching_samples_in_order()
    {
        Dataset d = Small().Where(label => label != 1);

        Assert.Equal([3, 4, 5], d.Labels);
        Assert.Equal([0f, 1f, 20f, 21f, 40f, 41f], d.Features);
        Assert.Equal([1, 1, 2], d.SampleShape.ToArray());
    }

    [Fact]
    public void SelectLabels_maps_labels_and_owns_its_arrays()
    {
        Dataset source = Small();
        Dataset mapped = source.SelectLabels(label => label - 1);

        Assert.Equal([2, 0, 3, 0, 4], mapped.Labels);
        Assert.Equal(source.Features, mapped.Features);

        mapped.Features[0] = -7f;
        Assert.Equal(0f, source.Features[0]);
    }

    [Fact]
    public void Take_returns_a_prefix_and_clamps()
    {
        Dataset source = Small();

        Assert.Equal([3, 1], source.Take(2).Labels);
        Assert.Equal([0f, 1f, 10f, 11f], source.Take(2).Features);
        Assert.Equal(5, source.Take(50).Count);
        Assert.Equal(0, source.Take(0).Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => source.Take(-1));
    }

    [Fact]
    public void Subset_follows_the_given_order_and_allows_repeats()
    {
        Dataset d = Small().Subset([4, 0, 4]);

        Assert.Equal([5, 3, 5], d.Labels);
        Assert.Equal([40f, 41f, 0f, 1f, 40f, 41f], d.Features);
    }

    [Fact]
    public void Subset_rejects_out_of_range_indices()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Small().Subset([0, 5]));

        Assert.Contains("5", e.Message);
    }

    [Fact]
    public void ClassCounts_counts_each_label()
    {
        Assert.Equal([0, 2, 0, 1, 1, 1], Small().ClassCounts(6));
    }

    [Fact]
    public void ClassCounts_rejects_labels_outside_the_range()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Small().ClassCounts(5));

        Assert.Contains("Sample 4 has label 5", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Small().ClassCounts(0));
    }
}

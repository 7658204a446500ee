using System.IO.Compression;
using NetDsl.Data;
using Xunit;

namespace NetDsl.Tests.Data;

/// <summary>
/// Reads the real Fashion-MNIST files installed by the Debian package <c>dataset-fashion-mnist</c>. These tests fail
/// (never skip) when the files are absent: CI installs the package.
/// </summary>
public class FashionMnistTests
{
    private const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    private static string Directory_
    {
        get
        {
            string dir = Environment.GetEnvironmentVariable("NETDSL_FASHION_MNIST_DIR") is { Length: > 0 } overridden
                ? overridden
                : DefaultDirectory;
            foreach (string name in new[] { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
            {
                if (!File.Exists(Path.Combine(dir, name)))
                {
                    Assert.Fail(
                        $"Fashion-MNIST file {Path.Combine(dir, name)} is missing. Install the Debian package " +
                        "dataset-fashion-mnist (sudo apt-get install -y dataset-fashion-mnist; CI installs it), " +
                        "or point NETDSL_FASHION_MNIST_DIR at a directory holding the four original .gz files.");
                }
            }

            return dir;
        }
    }

    [Theory]
    [InlineData("train", 60000, 6000, 76247L, 3431114169L, new[] { 9, 0, 0, 3, 0 })]
    [InlineData("t10k", 10000, 1000, 33456L, 573469082L, new[] { 9, 2, 1, 1, 6 })]
    public void Split_has_expected_shape_labels_and_pixels(
        string prefix, int count, int perClass, long firstImageSum, long totalSum, int[] firstLabels)
    {
        string dir = Directory_;
        string imagesPath = Path.Combine(dir, $"{prefix}-images-idx3-ubyte.gz");
        string labelsPath = Path.Combine(dir, $"{prefix}-labels-idx1-ubyte.gz");

        Dataset data = Idx.LoadDataset(imagesPath, labelsPath);

        Assert.Equal(count, data.Count);
        Assert.Equal([1, 28, 28], data.SampleShape.ToArray());
        Assert.Equal(784, data.SampleSize);
        Assert.All(data.Labels, label => Assert.InRange(label, 0, 9));
        Assert.Equal(Enumerable.Repeat(perClass, 10).ToArray(), data.ClassCounts(10));
        Assert.Equal(firstLabels, data.Labels.Take(firstLabels.Length).ToArray());

        // The first image's byte sum, read by hand from the gzip stream (16-byte header, then pixels).
        long handSum = 0;
        using (var gzip = new GZipStream(File.OpenRead(imagesPath), CompressionMode.Decompress))
        {
            var header = new byte[16];
            gzip.ReadExactly(header);
            Assert.Equal([0, 0, 8, 3], header[..4]);
            var pixels = new byte[784];
            gzip.ReadExactly(pixels);
            foreach (byte b in pixels)
            {
                handSum += b;
            }
        }

        Assert.Equal(firstImageSum, handSum);
        Assert.Equal(firstImageSum, ByteSum(data.GetSample(0)));
        Assert.Equal(totalSum, ByteSum(data.Features));
    }

    [Fact]
    public void Raw_idx_arrays_have_the_documented_headers()
    {
        string dir = Directory_;

        IdxArray images = Idx.Read(Path.Combine(dir, "t10k-images-idx3-ubyte.gz"));
        IdxArray labels = Idx.Read(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"));

        Assert.Equal([10000, 28, 28], images.Dimensions.ToArray());
        Assert.Equal(784, images.ItemSize);
        Assert.Equal(7_840_000, images.Data.Length);
        Assert.Equal([10000], labels.Dimensions.ToArray());
    }

    // Sum of the original bytes, recovered from pixels stored as byte / 255f.
    private static long ByteSum(ReadOnlySpan<float> pixels)
    {
        long sum = 0;
        foreach (float p in pixels)
        {
            float scaled = p * 255f;
            int b = (int)MathF.Round(scaled);
            if (!(MathF.Abs(scaled - b) < 1e-3f && b is >= 0 and <= 255))
            {
                Assert.Fail($"pixel {p} is not byte/255");
            }

            sum += b;
        }

        return sum;
    }
}

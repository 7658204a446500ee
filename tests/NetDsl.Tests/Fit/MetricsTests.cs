using NetDsl.Data;
using NetDsl.Metrics;
using NetDsl.Tests.Numerics;
using Xunit;

namespace NetDsl.Tests.Fit;

public class MetricsTests
{
    /// <summary>Random rows of distinct values (no ties), so any correct top-k definition agrees with sorting.</summary>
    private static (float[] Outputs, int[] Labels) RandomBatch(int rows, int classes, int seed)
    {
        var random = new Random(seed);
        var outputs = new float[rows * classes];
        for (int r = 0; r < rows; r++)
        {
            var values = Enumerable.Range(0, classes).Select(_ => (float)random.NextDouble()).ToArray();
            while (values.Distinct().Count() != classes)
            {
                values = Enumerable.Range(0, classes).Select(_ => (float)random.NextDouble()).ToArray();
            }

            values.CopyTo(outputs, r * classes);
        }

        return (outputs, NetworkFactory.RandomLabels(random, rows, classes));
    }

    private static bool NaiveInTopK(ReadOnlySpan<float> row, int label, int k) =>
        row.ToArray().Select((v, i) => (v, i)).OrderByDescending(p => p.v).Take(k).Any(p => p.i == label);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(10)]
    public void Top_k_accuracy_and_error_match_a_naive_sort(int k)
    {
        var (outputs, labels) = RandomBatch(300, 10, seed: k);
        int hits = 0;
        for (int r = 0; r < 300; r++)
        {
            hits += NaiveInTopK(outputs.AsSpan(r * 10, 10), labels[r], k) ? 1 : 0;
        }

        var accuracy = new TopKAccuracy(k);
        var error = new TopKError(k);
        // In two uneven batches, to check the metric accumulates.
        accuracy.Update(new MetricBatch(outputs.AsSpan(0, 70 * 10), 10, labels.AsSpan(0, 70)));
        accuracy.Update(new MetricBatch(outputs.AsSpan(700), 10, labels.AsSpan(70)));
        error.Update(new MetricBatch(outputs, 10, labels));
        Assert.Equal(hits / 300.0, accuracy.Result, 12);
        Assert.Equal(1 - hits / 300.0, error.Result, 12);
        Assert.Equal($"top_{k}_accuracy", accuracy.Name);
        Assert.Equal($"top_{k}_error", error.Name);
        Assert.Equal(MetricDirection.Minimize, error.Direction);
        if (k == 1)
        {
            var top1 = new Accuracy();
            top1.Update(new MetricBatch(outputs, 10, labels));
            Assert.Equal(accuracy.Result, top1.Result); // without ties top-1 is accuracy
        }

        if (k == 10)
        {
            Assert.Equal(1.0, accuracy.Result);
        }
    }

    [Fact]
    public void Ties_at_the_boundary_count_as_in_the_top_k_while_accuracy_takes_the_first_maximum()
    {
        float[] row = [0.3f, 0.3f, 0.4f];
        Assert.True(TopKAccuracy.InTopK(row, 0, 2));
        Assert.True(TopKAccuracy.InTopK(row, 1, 2));
        Assert.False(TopKAccuracy.InTopK(row, 0, 1));
        float[] tie = [0.5f, 0.5f, 0f];
        Assert.True(TopKAccuracy.InTopK(tie, 1, 1)); // TensorFlow's in_top_k
        Assert.Equal(0, Evaluation.ArgMax(tie));     // argmax: the first
        Assert.False(TopKAccuracy.InTopK([float.NaN, 0.1f], 0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TopKAccuracy(0));
    }

    [Fact]
    public void Metrics_reset_and_report_nan_before_any_sample()
    {
        var accuracy = new Accuracy();
        Assert.True(double.IsNaN(accuracy.Result));
        accuracy.Update(new MetricBatch([0.1f, 0.9f], 2, [1]));
        Assert.Equal(1.0, accuracy.Result);
        accuracy.Reset();
        Assert.True(double.IsNaN(accuracy.Result));
        Assert.Throws<NotSupportedException>(() => accuracy.Update(new MetricBatch([0.1f, 0.9f], 2, [0.5f], 1)));
        Assert.Throws<ArgumentException>(() => new MetricBatch([0.1f, 0.9f, 0.3f], 2, [1]));
    }

    [Fact]
    public void Confusion_matrix_matches_naive_counts_precision_and_recall()
    {
        var (outputs, labels) = RandomBatch(500, 6, seed: 3);
        var matrix = new ConfusionMatrix(6);
        matrix.Update(new MetricBatch(outputs, 6, labels));

        var counts = new long[6, 6];
        for (int r = 0; r < 500; r++)
        {
            var row = outputs.AsSpan(r * 6, 6).ToArray();
            counts[labels[r], Array.IndexOf(row, row.Max())]++;
        }

        Assert.Equal(500, matrix.Total);
        for (int a = 0; a < 6; a++)
        {
            for (int p = 0; p < 6; p++)
            {
                Assert.Equal(counts[a, p], matrix[a, p]);
            }

            long support = Enumerable.Range(0, 6).Sum(p => counts[a, p]);
            long predicted = Enumerable.Range(0, 6).Sum(x => counts[x, a]);
            Assert.Equal(support, matrix.Support(a));
            Assert.Equal(predicted, matrix.PredictedCount(a));
            Assert.Equal((double)counts[a, a] / predicted, matrix.Precision(a), 12);
            Assert.Equal((double)counts[a, a] / support, matrix.Recall(a), 12);
            double pr = matrix.Precision(a), rc = matrix.Recall(a);
            Assert.Equal(2 * pr * rc / (pr + rc), matrix.F1(a), 12);
        }

        Assert.Equal(Enumerable.Range(0, 6).Sum(c => counts[c, c]) / 500.0, matrix.Accuracy, 12);
    }

    [Fact]
    public void Confusion_matrix_table_is_readable_and_marks_undefined_values()
    {
        var matrix = new ConfusionMatrix(3, ["cat", "dog", "bird"]);
        matrix.Add(0, 0);
        matrix.Add(0, 0);
        matrix.Add(0, 1);
        matrix.Add(1, 1);
        // bird: never seen, never predicted: precision and recall undefined.
        string expected =
            "Confusion matrix: 4 samples, accuracy 0.7500 (rows: actual class, columns: predicted class)\n" +
            "actual \\ predicted   cat   dog  bird   support  precision  recall      f1\n" +
            "cat                    2     1     0         3     1.0000  0.6667  0.8000\n" +
            "dog                    0     1     0         1     0.5000  1.0000  0.6667\n" +
            "bird                   0     0     0         0          -       -       -\n" +
            "predicted              2     2     0         4\n";
        Assert.Equal(expected, matrix.ToString());
        Assert.True(double.IsNaN(matrix.Precision(2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => matrix.Add(3, 0));
        matrix.Reset();
        Assert.Equal(0, matrix.Total);
        Assert.Equal(0, matrix[0, 0]);
    }

    [Fact]
    public void Evaluation_helpers_agree_with_predict()
    {
        var data = FitTestData.Blobs(101, seed: 8);
        using var net = new FitMlp(16, seed: 3, threads: 1);
        float[] outputs = new float[101 * 4];
        net.Predict(data.Features, outputs);
        int correct = 0, top2 = 0;
        var naive = new long[4, 4];
        for (int i = 0; i < 101; i++)
        {
            var row = outputs.AsSpan(i * 4, 4);
            int predicted = Evaluation.ArgMax(row);
            correct += predicted == data.Labels[i] ? 1 : 0;
            top2 += NaiveInTopK(row, data.Labels[i], 2) ? 1 : 0;
            naive[data.Labels[i], predicted]++;
        }

        Assert.Equal(correct / 101.0, Evaluation.Accuracy(net, data), 12);
        Assert.Equal(top2 / 101.0, Evaluation.TopKAccuracy(net, data, 2), 12);
        var matrix = Evaluation.ConfusionMatrix(net, data);
        for (int a = 0; a < 4; a++)
        {
            for (int p = 0; p < 4; p++)
            {
                Assert.Equal(naive[a, p], matrix[a, p]);
            }
        }

        Assert.Equal(0, Evaluation.Accuracy(net, new Dataset([], [], 8)));
    }

    /// <summary>Evaluate's loss (cross-entropy from probabilities) equals the kernel's loss from logits on a network
    /// without dropout; it is the mean over all samples whatever the batch size, for a Dataset or a user source.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    public void Evaluate_matches_the_network_loss_for_any_batch_size_and_source(int batchSize)
    {
        var data = FitTestData.Blobs(37, seed: 4);
        using var net = new FitMlp(37, seed: 3, threads: 1);
        float reference = net.ComputeGradients(data.Features, data.Labels);
        using var small = new FitMlp(16, seed: 3, threads: 1);
        var result = small.Evaluate(data, [new Accuracy(), new TopKAccuracy(2)], batchSize);
        var viaSource = small.Evaluate(new ArraySource(data.Features, data.Labels, 8), [new Accuracy(), new TopKAccuracy(2)], batchSize);

        Assert.Equal(37, result.Samples);
        Assert.Equal(reference, result.Loss, 5);
        Assert.Equal(result.Loss, viaSource.Loss, 12);
        Assert.Equal(result["accuracy"], viaSource["accuracy"]);
        Assert.Equal(Evaluation.Accuracy(small, data), result["accuracy"], 12);
        Assert.Equal(result.Loss, result["loss"]);
        Assert.StartsWith("loss: ", result.ToString());
        Assert.Throws<KeyNotFoundException>(() => result["nope"]);
    }

    [Fact]
    public void Evaluate_rejects_bad_labels_float_targets_and_sizes()
    {
        using var net = new FitMlp(4, seed: 3, threads: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Evaluate(new Dataset(new float[16], [0, 4], 8)));
        Assert.Contains("takes class labels", Assert.Throws<ArgumentException>(() => net.Evaluate(new MemoryDataSource(new float[16], new float[2], 8, 1))).Message);
        Assert.Throws<ArgumentException>(() => net.Evaluate(new Dataset(new float[14], [0, 1], 7)));
        Assert.Throws<ArgumentOutOfRangeException>(() => net.Evaluate(FitTestData.Blobs(8), batchSize: 5));
        Assert.True(double.IsNaN(net.Evaluate(new Dataset([], [], 8)).Loss));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(33)]
    public void Predict_over_a_source_matches_predict_over_a_span(int count)
    {
        var data = FitTestData.Blobs(count, seed: 6);
        using var net = new FitMlp(16, seed: 3, threads: 1);
        float[] expected = new float[count * 4];
        net.Predict(data.Features, expected);
        Assert.Equal(expected, net.Predict(data));
        Assert.Equal(expected, net.Predict(new ArraySource(data.Features, data.Labels, 8)));
        Assert.Equal(expected, net.Predict(MemoryDataSource.Unlabeled(data.Features, 8)));
        Assert.Equal(expected, net.Predict(new MemoryDataSource(data.Features, new float[count * 3], 8, 3)));
        Assert.Throws<ArgumentException>(() => net.Predict(data, new float[count * 4 + 1]));
    }
}

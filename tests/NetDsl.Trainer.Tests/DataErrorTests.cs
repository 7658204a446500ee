using System.Buffers.Binary;

namespace NetDsl.Trainer.Tests;

/// <summary>Data errors: exit code 3 with a message naming the file and the problem.</summary>
public sealed class DataErrorTests
{
    [Fact]
    public void MissingIdxFile_ExitsThree_NamingIt()
    {
        using var temp = new TempDirectory();
        string images = temp["train-images-idx3-ubyte"];
        WriteImages(images, 4, 28, 28);
        string labels = temp["missing-labels-idx1-ubyte"];
        using var run = TrainerProcess.Run(CommandLineTests.Timeout, "--train-images", images, "--train-labels", labels);
        Assert.True(run.ExitCode == 3, run.Describe());
        Assert.Contains($"'{labels}' does not exist", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedIdxFile_ExitsThree_NamingIt()
    {
        using var temp = new TempDirectory();
        string images = temp["train-images"], labels = temp["train-labels"];
        WriteImages(images, 10, 28, 28, truncateTo: 16 + 500);
        WriteLabels(labels, 10);
        using var run = TrainerProcess.Run(CommandLineTests.Timeout, "--train-images", images, "--train-labels", labels);
        Assert.True(run.ExitCode == 3, run.Describe());
        Assert.Contains(images, run.Stderr, StringComparison.Ordinal);
        Assert.Contains("truncated", run.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void CountMismatch_ExitsThree_NamingBothFiles()
    {
        using var temp = new TempDirectory();
        string images = temp["test-images"], labels = temp["test-labels"];
        WriteImages(images, 10, 28, 28);
        WriteLabels(labels, 9);
        using var run = TrainerProcess.Run(CommandLineTests.Timeout, "--test-images", images, "--test-labels", labels, "--epochs", "1", "--limit", "64");
        Assert.True(run.ExitCode == 3, run.Describe());
        Assert.Contains(images, run.Stderr, StringComparison.Ordinal);
        Assert.Contains(labels, run.Stderr, StringComparison.Ordinal);
        Assert.Contains("does not match label count 9", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ImagesOfAnotherSize_ExitThree()
    {
        using var temp = new TempDirectory();
        string images = temp["train-images"], labels = temp["train-labels"];
        WriteImages(images, 10, 14, 14);
        WriteLabels(labels, 10);
        using var run = TrainerProcess.Run(CommandLineTests.Timeout, "--train-images", images, "--train-labels", labels);
        Assert.True(run.ExitCode == 3, run.Describe());
        Assert.Contains($"'{images}' holds images of 14 x 14 pixels; the network takes 28 x 28", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void LabelOutOfRange_ExitsThree()
    {
        using var temp = new TempDirectory();
        string images = temp["train-images"], labels = temp["train-labels"];
        WriteImages(images, 10, 28, 28);
        WriteLabels(labels, 10, bad: 12);
        using var run = TrainerProcess.Run(CommandLineTests.Timeout, "--train-images", images, "--train-labels", labels);
        Assert.True(run.ExitCode == 3, run.Describe());
        Assert.Contains($"'{labels}': sample 3 has label 12", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void IdxFiles_Train()
    {
        using var temp = new TempDirectory();
        string images = temp["train-images"], labels = temp["train-labels"];
        WriteImages(images, 100, 28, 28);
        WriteLabels(labels, 100);
        using var run = TrainerProcess.Run(CommandLineTests.Timeout, "--train-images", images, "--train-labels", labels, "--test-images", images, "--test-labels", labels,
            "--epochs", "1", "--batch-size", "32", "--threads", "2", "--json");
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains("\"steps\":4,", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("100 training samples from " + images, run.Stderr, StringComparison.Ordinal);
    }

    /// <summary>An IDX image file of <paramref name="count"/> images (pixel values from a fixed pattern).</summary>
    internal static void WriteImages(string path, int count, int rows, int columns, int? truncateTo = null)
    {
        var bytes = new byte[16 + count * rows * columns];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 0x00000803);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), columns);
        for (int i = 16; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i * 7 % 251);
        }

        File.WriteAllBytes(path, truncateTo is { } length ? bytes[..length] : bytes);
    }

    /// <summary>An IDX label file: labels i % 10, except sample 3 labelled <paramref name="bad"/> when given.</summary>
    internal static void WriteLabels(string path, int count, int? bad = null)
    {
        var bytes = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 0x00000801);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        for (int i = 0; i < count; i++)
        {
            bytes[8 + i] = (byte)(i == 3 && bad is { } b ? b : i % 10);
        }

        File.WriteAllBytes(path, bytes);
    }
}

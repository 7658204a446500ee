using NetDsl.Data;
using NetDsl.Optimizers;
using NetDsl.Tests.Numerics;
using NetDsl.Training;
using Xunit;

namespace NetDsl.Tests.Fit;

public sealed class ModelCheckpointTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("netdsl-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static FitOptions Quiet(int epochs, params Callback[] callbacks) => new() { Epochs = epochs, Verbose = Verbosity.Silent, BatchSize = 8, Callbacks = callbacks };

    /// <summary>Records the parameters at the end of every epoch.</summary>
    private sealed class Snapshots : Callback
    {
        public List<float[]> Weights { get; } = [];

        public override void OnEpochEnd(int epoch, Logs logs) => Weights.Add(Context.Network.Parameters.ToArray());
    }

    [Fact]
    public void Every_epoch_gets_its_own_file_holding_that_epochs_weights()
    {
        using var net = new FitMlp(8, seed: 1, threads: 1);
        var snapshots = new Snapshots();
        var checkpoint = new ModelCheckpoint(Path.Combine(_directory, "w-{epoch:02d}.safetensors"));
        net.Fit(FitTestData.Blobs(64), new Sgd(0.05f), Quiet(3, snapshots, checkpoint));
        Assert.Equal(["w-01.safetensors", "w-02.safetensors", "w-03.safetensors"], Directory.GetFiles(_directory).Select(Path.GetFileName).Order());
        using var other = new FitMlp(8, seed: 99, threads: 1);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            other.LoadWeights(checkpoint.FileFor(epoch));
            Assert.Equal(snapshots.Weights[epoch], other.Parameters.ToArray());
        }
    }

    [Fact]
    public void Save_best_only_keeps_the_epoch_with_the_lowest_validation_loss()
    {
        using var net = new FitMlp(8, seed: 2, threads: 1);
        var snapshots = new Snapshots();
        string path = Path.Combine(_directory, "best.safetensors");
        var checkpoint = new ModelCheckpoint(path, saveBestOnly: true);
        // A large learning rate makes the validation loss go up and down, so "best" is not simply "last".
        var history = net.Fit(FitTestData.Blobs(96), new Sgd(0.9f, momentum: 0.9f), Quiet(8, snapshots, checkpoint) with { ValidationSplit = 0.25 });
        double[] valLoss = [.. history["val_loss"]];
        int best = Array.IndexOf(valLoss, valLoss.Where(v => !double.IsNaN(v)).Min());
        Assert.Equal(valLoss[best], checkpoint.Best);
        using var other = new FitMlp(8, seed: 3, threads: 1);
        other.LoadWeights(path);
        Assert.Equal(snapshots.Weights[best], other.Parameters.ToArray());
    }

    /// <summary>
    /// The exact resume, through Fit: 3 epochs straight equal 2 epochs, a full checkpoint, a fresh network and
    /// optimizer loading it, and Fit resumed at the checkpoint's epoch: bit-identical weights (one thread, dropout on).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_full_checkpoint_resumes_fit_exactly(int threads)
    {
        var random = new Random(8);
        float[] x = [.. Enumerable.Range(0, 48 * 128).Select(_ => (float)random.NextDouble())];
        int[] y = [.. Enumerable.Range(0, 48).Select(i => i % 3)];
        var data = new Dataset(x, y, 2, 8, 8);

        using var straight = new CnnDropout(8, seed: 5, threads: threads);
        straight.Fit(data, new Adadelta(), Quiet(3));

        using var first = new CnnDropout(8, seed: 5, threads: threads);
        var checkpoint = new ModelCheckpoint(Path.Combine(_directory, "c{epoch}.safetensors"), weightsOnly: false);
        first.Fit(data, new Adadelta(), Quiet(2, checkpoint));

        using var resumed = new CnnDropout(8, seed: 5, threads: threads);
        var optimizer = new Adadelta();
        var progress = resumed.LoadCheckpoint(checkpoint.FileFor(1), optimizer);
        Assert.Equal(2, progress.Epoch);
        resumed.Fit(data, optimizer, Quiet(3) with { InitialEpoch = progress.Epoch });
        Assert.Equal(straight.Parameters.ToArray(), resumed.Parameters.ToArray());
        Assert.Equal(straight.Steps, resumed.Steps);
    }

    [Fact]
    public void Epoch_placeholders_and_arguments()
    {
        var checkpoint = new ModelCheckpoint("run/e{epoch}-{epoch:000}.st");
        Assert.Equal("run/e7-007.st", checkpoint.FileFor(6));
        Assert.Throws<ArgumentException>(() => new ModelCheckpoint(" "));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ModelCheckpoint("a", mode: (MonitorMode)9));
    }
}

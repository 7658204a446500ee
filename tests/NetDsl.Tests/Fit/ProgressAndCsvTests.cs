using System.Globalization;
using System.Text.RegularExpressions;
using NetDsl.Metrics;
using NetDsl.Optimizers;
using NetDsl.Training;
using Xunit;

namespace NetDsl.Tests.Fit;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock : TimeProvider
{
    public long Ticks { get; set; }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Ticks;

    public void Advance(TimeSpan by) => Ticks += by.Ticks;
}

public class ProgressTests
{
    private static readonly Regex EpochLine = new(
        @"^Epoch (\d+)/3 - 5/5 - \d+s \d+(us|ms|s)/step - loss: \d+\.\d{4} - accuracy: [01]\.\d{4} - val_loss: \d+\.\d{4} - val_accuracy: [01]\.\d{4} - [\d,]+ img/s$");

    [Fact]
    public void Epoch_lines_mode_prints_one_plain_line_per_epoch()
    {
        var writer = new StringWriter { NewLine = "\n" };
        using var net = new FitMlp(8, seed: 1, threads: 1);
        net.Fit(FitTestData.Blobs(50), new Sgd(0.05f), new FitOptions { Epochs = 3, ValidationSplit = 0.2, Verbose = Verbosity.EpochLines, Output = writer });
        string text = writer.ToString();
        Assert.DoesNotContain('\r', text);
        string[] lines = text.Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Equal("", lines[3]);
        for (int i = 0; i < 3; i++)
        {
            var match = EpochLine.Match(lines[i]);
            Assert.True(match.Success, $"line {i}: '{lines[i]}'");
            Assert.Equal((i + 1).ToString(CultureInfo.InvariantCulture), match.Groups[1].Value);
        }
    }

    [Fact]
    public void Auto_mode_with_an_injected_writer_prints_plain_lines()
    {
        var writer = new StringWriter { NewLine = "\n" };
        using var net = new FitMlp(8, seed: 1, threads: 1);
        net.Fit(FitTestData.Blobs(40), new Sgd(0.05f), new FitOptions { Epochs = 2, Output = writer });
        Assert.DoesNotContain('\r', writer.ToString());
        Assert.Equal(2, writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Silent_mode_prints_nothing_and_gives_callbacks_no_log()
    {
        var writer = new StringWriter { NewLine = "\n" };
        var recorder = new RecordingCallback();
        using var net = new FitMlp(8, seed: 1, threads: 1);
        net.Fit(FitTestData.Blobs(40), new Sgd(0.05f), new FitOptions
        {
            Epochs = 3, Output = writer, Verbose = Verbosity.Silent, Callbacks = [recorder, new EarlyStopping("missing", verbose: true)],
        });
        Assert.Equal("", writer.ToString());
        Assert.Null(recorder.Context.Log);
    }

    /// <summary>Progress bar mode inside a real run: a header per epoch, redraws prefixed with '\r', and the final
    /// state of each epoch (full bar, time per step, every log but lr, throughput) ended by a line break.</summary>
    [Fact]
    public void Progress_bar_mode_redraws_in_place_and_ends_each_epoch_with_the_full_bar()
    {
        var writer = new StringWriter { NewLine = "\n" };
        using var net = new FitMlp(8, seed: 1, threads: 1);
        net.Fit(FitTestData.Blobs(50), new Sgd(0.05f), new FitOptions { Epochs = 2, ValidationSplit = 0.2, Verbose = Verbosity.ProgressBar, Output = writer });
        string[] lines = writer.ToString().Split('\n');
        Assert.Equal(5, lines.Length); // header, bar, header, bar, ""
        var finalState = new Regex(@"^5/5 \[={30}\] - \d+s \d+(us|ms|s)/step - loss: \d+\.\d{4} - accuracy: [01]\.\d{4} - val_loss: \d+\.\d{4} - val_accuracy: [01]\.\d{4} - [\d,]+ img/s *$");
        for (int epoch = 0; epoch < 2; epoch++)
        {
            Assert.Equal($"Epoch {epoch + 1}/2", lines[2 * epoch]);
            string[] draws = lines[2 * epoch + 1].Split('\r');
            Assert.Equal("", draws[0]);
            Assert.InRange(draws.Length, 3, 6); // the first batch at least, then the final state
            Assert.StartsWith("1/5 [=====>........................] - ETA: ", draws[1]);
            Assert.Matches(finalState, draws[^1]);
            Assert.DoesNotContain("lr", draws[^1]);
        }
    }

    private static (ProgressLogger Logger, TrainingContext Context, ManualClock Clock, StringWriter Writer) Logger(TimeSpan interval, int steps = 100)
    {
        var clock = new ManualClock();
        var writer = new StringWriter { NewLine = "\n" };
        var logger = new ProgressLogger(writer, Verbosity.ProgressBar, clock, interval);
        var context = new TrainingContext
        {
            Network = null!, Optimizer = new Sgd(), Epochs = 3, StepsPerEpoch = steps, BatchSize = 10, TrainingSamples = steps * 10 - 5,
        };
        logger.SetContext(context);
        logger.OnTrainBegin(new Logs());
        return (logger, context, clock, writer);
    }

    /// <summary>100 batches one second apart with a 5 s redraw interval: batches 0, 5, 10, ..., 95 are drawn (20
    /// redraws; the last batch is left to the epoch's end), then the final state. Exact text for a few draws.</summary>
    [Fact]
    public void Redraws_are_throttled_by_the_clock_and_the_text_is_keras_like()
    {
        var (logger, _, clock, writer) = Logger(TimeSpan.FromSeconds(5));
        var logs = new Logs { ["loss"] = 0.5, ["accuracy"] = 0.25 };
        logger.OnEpochBegin(1, new Logs());
        for (int batch = 0; batch < 100; batch++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            logs["loss"] = batch == 50 ? 0.0001234 : 0.5;
            logger.OnBatchEnd(batch, logs);
        }

        clock.Advance(TimeSpan.FromSeconds(10)); // validation
        logger.OnEpochEnd(1, new Logs { ["loss"] = 0.5, ["accuracy"] = 0.25, ["val_loss"] = 0.75, ["val_accuracy"] = 0.5, ["lr"] = 0.01 });

        string[] lines = writer.ToString().Split('\n');
        Assert.Equal("Epoch 2/3", lines[0]);
        string[] draws = lines[1].Split('\r');
        Assert.Equal(22, draws.Length); // "", 20 redraws, the final state
        Assert.Equal("  1/100 [..............................] - ETA: 1:39 - loss: 0.5000 - accuracy: 0.2500 - 10 img/s", draws[1]);
        Assert.Equal("  6/100 [>.............................] - ETA: 1:34 - loss: 0.5000 - accuracy: 0.2500 - 10 img/s", draws[2]);
        Assert.Equal(" 51/100 [==============>...............] - ETA: 49s - loss: 1.2340e-04 - accuracy: 0.2500 - 10 img/s", draws[11]);
        Assert.Equal(" 56/100 [===============>..............] - ETA: 44s - loss: 0.5000 - accuracy: 0.2500 - 10 img/s    ", draws[12]); // padded over the longer line before
        Assert.Equal(" 96/100 [===========================>..] - ETA: 4s - loss: 0.5000 - accuracy: 0.2500 - 10 img/s", draws[20]);
        Assert.Equal("100/100 [==============================] - 110s 1s/step - loss: 0.5000 - accuracy: 0.2500 - val_loss: 0.7500 - val_accuracy: 0.5000 - 10 img/s", draws[21]);
        Assert.Equal("", lines[2]);
    }

    [Fact]
    public void Without_time_passing_only_the_first_batch_and_the_end_are_drawn()
    {
        var (logger, _, _, writer) = Logger(TimeSpan.FromMilliseconds(100));
        var logs = new Logs { ["loss"] = 1 };
        logger.OnEpochBegin(0, new Logs());
        for (int batch = 0; batch < 100; batch++)
        {
            logger.OnBatchEnd(batch, logs);
        }

        logger.OnEpochEnd(0, logs);
        Assert.Equal(2, writer.ToString().Count(c => c == '\r'));
        Assert.DoesNotContain("img/s", writer.ToString()); // no time, no rate
    }

    [Fact]
    public void Eta_format_follows_keras()
    {
        var (logger, _, clock, writer) = Logger(TimeSpan.Zero, steps: 10000);
        logger.OnEpochBegin(0, new Logs());
        clock.Advance(TimeSpan.FromSeconds(1));
        logger.OnBatchEnd(0, new Logs());
        Assert.Contains("ETA: 2:46:39", writer.ToString());
    }
}

public sealed class CsvLoggerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("netdsl-fit-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string[][] Rows(string path) =>
        File.ReadAllText(path).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(',')).ToArray();

    [Fact]
    public void Writes_keras_columns_one_row_per_epoch_matching_the_history()
    {
        string path = Path.Combine(_dir, "log.csv");
        using var net = new FitMlp(8, seed: 1, threads: 1);
        var history = net.Fit(FitTestData.Blobs(50), new Sgd(0.05f), new FitOptions
        {
            Epochs = 3, ValidationSplit = 0.2, Verbose = Verbosity.Silent, Callbacks = [new CsvLogger(path)],
        });

        var rows = Rows(path);
        Assert.Equal(["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"], rows[0]);
        Assert.Equal(4, rows.Length);
        for (int e = 0; e < 3; e++)
        {
            Assert.Equal(e.ToString(CultureInfo.InvariantCulture), rows[e + 1][0]);
            for (int c = 1; c < rows[0].Length; c++)
            {
                Assert.Equal(history[rows[0][c]][e], double.Parse(rows[e + 1][c], CultureInfo.InvariantCulture));
            }
        }

        Assert.DoesNotContain(Directory.GetFiles(_dir), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void Append_mode_continues_a_resumed_run_without_a_second_header()
    {
        string path = Path.Combine(_dir, "log.csv");
        using var net = new FitMlp(8, seed: 1, threads: 1);
        var sgd = new Sgd(0.05f);
        var options = new FitOptions { Epochs = 2, Verbose = Verbosity.Silent, Callbacks = [new CsvLogger(path, append: true)] };
        net.Fit(FitTestData.Blobs(32), sgd, options);
        net.Fit(FitTestData.Blobs(32), sgd, options with { Epochs = 4, InitialEpoch = 2 });
        var rows = Rows(path);
        Assert.Equal(5, rows.Length);
        Assert.Equal("epoch", rows[0][0]);
        Assert.Equal(["0", "1", "2", "3"], rows.Skip(1).Select(r => r[0]));

        // Without append the file starts over.
        net.Fit(FitTestData.Blobs(32), sgd, options with { Callbacks = [new CsvLogger(path)] });
        Assert.Equal(3, Rows(path).Length);
    }

    [Fact]
    public void Missing_keys_non_finite_values_separator_and_empty_existing_file()
    {
        string path = Path.Combine(_dir, "log.tsv");
        File.WriteAllText(path, "");
        var logger = new CsvLogger(path, separator: '\t', append: true);
        using var net = new FitMlp(8, seed: 1, threads: 1);
        logger.SetContext(new TrainingContext { Network = net, Optimizer = new Sgd() });
        logger.OnTrainBegin(new Logs());
        logger.OnEpochEnd(0, new Logs { ["loss"] = double.NaN, ["my,key"] = double.PositiveInfinity, ["lr"] = 0.1f });
        logger.OnEpochEnd(1, new Logs { ["loss"] = 0.25, ["lr"] = 1e-5 });
        Assert.Equal("epoch\tloss\tmy,key\tlr\n0\tnan\tinf\t0.10000000149011612\n1\t0.25\tNA\t1E-05\n", File.ReadAllText(path));
    }
}

using System.Globalization;
using System.Text;

namespace NetDsl.Training;

/// <summary>How much <c>Network.Fit</c> prints (Keras' <c>verbose</c>).</summary>
public enum Verbosity
{
    /// <summary>
    /// <see cref="ProgressBar"/> when writing to the console and the console is interactive (not redirected),
    /// <see cref="EpochLines"/> otherwise (redirected output, or a writer other than <see cref="Console.Out"/>).
    /// </summary>
    Auto = 0,

    /// <summary>Nothing (Keras' <c>verbose=0</c>); callbacks get no <see cref="TrainingContext.Log"/> either.</summary>
    Silent = 1,

    /// <summary>A live progress bar per epoch, redrawn in place with <c>'\r'</c> (Keras' <c>verbose=1</c>).</summary>
    ProgressBar = 2,

    /// <summary>One plain line per epoch (Keras' <c>verbose=2</c>, on one line), for logs and redirected output.</summary>
    EpochLines = 3,
}

/// <summary>
/// Keras-like progress output, the callback <c>Network.Fit</c> puts first in its list unless it is silent.
/// </summary>
/// <remarks>
/// <para><see cref="Verbosity.ProgressBar"/>: a line <c>Epoch 3/10</c>, then one line redrawn in place (prefix
/// <c>'\r'</c>, padded with spaces over a longer previous line), at most once per <see cref="RedrawInterval"/> of
/// the injected clock, e.g. <c>12/32 [==========>...................] - ETA: 3s - loss: 0.4321 - accuracy: 0.8765 -
/// 4,512 img/s</c>; at the epoch's end the final state <c>32/32 [==============================] - 2s 61ms/step -
/// loss: ... - val_loss: ... - 4,512 img/s</c> and a line break.</para>
/// <para><see cref="Verbosity.EpochLines"/>: one line per epoch, <c>Epoch 3/10 - 32/32 - 2s 61ms/step - loss: ... -
/// val_loss: ... - 4,512 img/s</c>.</para>
/// <para>Values use Keras' format (4 decimals, exponent form below 1e-3) in the invariant culture; the learning rate
/// (<c>lr</c>) is not shown. Images per second count the training samples over the training time of the epoch (not
/// validation).</para>
/// </remarks>
public sealed class ProgressLogger : Callback
{
    private const int BarWidth = 30;
    private readonly TextWriter _writer;
    private readonly TimeProvider _time;
    private readonly StringBuilder _line = new();
    private long _epochStart;
    private long _lastDraw;
    private long _trainEnd;
    private int _seen;
    private int _samples;
    private int _previousWidth;
    private bool _drawn;
    private bool _open;

    /// <summary>Creates the logger.</summary>
    /// <param name="writer">Where to write.</param>
    /// <param name="style"><see cref="Verbosity.ProgressBar"/> or <see cref="Verbosity.EpochLines"/>.</param>
    /// <param name="timeProvider">The clock (for tests); the system clock by default.</param>
    /// <param name="redrawInterval">The least time between two redraws of the bar; 100 ms by default.</param>
    public ProgressLogger(TextWriter writer, Verbosity style = Verbosity.ProgressBar, TimeProvider? timeProvider = null, TimeSpan? redrawInterval = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (style is not (Verbosity.ProgressBar or Verbosity.EpochLines))
        {
            throw new ArgumentOutOfRangeException(nameof(style), style, "A progress logger draws a ProgressBar or EpochLines.");
        }

        _writer = writer;
        Style = style;
        _time = timeProvider ?? TimeProvider.System;
        RedrawInterval = redrawInterval ?? TimeSpan.FromMilliseconds(100);
        if (RedrawInterval < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(redrawInterval), redrawInterval, "The redraw interval cannot be negative.");
        }
    }

    /// <summary>The output style.</summary>
    public Verbosity Style { get; }

    /// <summary>The least time between two redraws of the bar.</summary>
    public TimeSpan RedrawInterval { get; }

    /// <inheritdoc/>
    public override void OnEpochBegin(int epoch, Logs logs)
    {
        _epochStart = _time.GetTimestamp();
        _trainEnd = _epochStart;
        _seen = 0;
        _samples = 0;
        _previousWidth = 0;
        _drawn = false;
        if (Style == Verbosity.ProgressBar)
        {
            _writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Epoch {epoch + 1}/{Context.Epochs}"));
            _open = true;
        }
    }

    /// <inheritdoc/>
    public override void OnBatchEnd(int batch, Logs logs)
    {
        ArgumentNullException.ThrowIfNull(logs);
        var context = Context;
        _seen = batch + 1;
        _samples = (int)Math.Min((long)_seen * context.BatchSize, context.TrainingSamples);
        long now = _time.GetTimestamp();
        _trainEnd = now;
        if (Style != Verbosity.ProgressBar || _seen >= context.StepsPerEpoch)
        {
            return; // the epoch's end draws the final state
        }

        if (_drawn && _time.GetElapsedTime(_lastDraw, now) < RedrawInterval)
        {
            return;
        }

        _lastDraw = now;
        _drawn = true;
        _line.Clear();
        AppendCounter(_seen, context.StepsPerEpoch);
        AppendBar(_seen, context.StepsPerEpoch);
        double elapsed = _time.GetElapsedTime(_epochStart, now).TotalSeconds;
        double eta = elapsed / _seen * (context.StepsPerEpoch - _seen);
        _line.Append(" - ETA: ").Append(FormatEta(eta));
        AppendLogs(logs);
        AppendRate(elapsed);
        Redraw();
    }

    /// <inheritdoc/>
    public override void OnEpochEnd(int epoch, Logs logs)
    {
        ArgumentNullException.ThrowIfNull(logs);
        var context = Context;
        long now = _time.GetTimestamp();
        double total = _time.GetElapsedTime(_epochStart, now).TotalSeconds;
        double training = _time.GetElapsedTime(_epochStart, _trainEnd).TotalSeconds;
        _line.Clear();
        if (Style == Verbosity.EpochLines)
        {
            _line.Append(CultureInfo.InvariantCulture, $"Epoch {epoch + 1}/{context.Epochs} - ");
        }

        AppendCounter(_seen, context.StepsPerEpoch);
        if (Style == Verbosity.ProgressBar)
        {
            AppendBar(_seen, context.StepsPerEpoch);
        }

        _line.Append(" - ").Append(FormatDuration(total));
        if (_seen > 0)
        {
            _line.Append(' ').Append(FormatPerStep(total / _seen));
        }

        AppendLogs(logs);
        AppendRate(training);
        if (Style == Verbosity.ProgressBar)
        {
            Redraw();
            _writer.WriteLine();
        }
        else
        {
            _writer.WriteLine(_line.ToString());
        }

        _open = false;
        _writer.Flush();
    }

    /// <inheritdoc/>
    internal override void OnTrainAborted()
    {
        if (_open)
        {
            _writer.WriteLine();
            _open = false;
        }

        _writer.Flush();
    }

    /// <summary>Keras' ETA format: <c>5s</c>, <c>2:05</c>, <c>1:02:05</c>.</summary>
    internal static string FormatEta(double seconds)
    {
        long s = double.IsFinite(seconds) ? (long)Math.Max(0, seconds) : 0;
        return s >= 3600
            ? string.Create(CultureInfo.InvariantCulture, $"{s / 3600}:{s % 3600 / 60:00}:{s % 60:00}")
            : s >= 60 ? string.Create(CultureInfo.InvariantCulture, $"{s / 60}:{s % 60:00}") : string.Create(CultureInfo.InvariantCulture, $"{s}s");
    }

    private static string FormatDuration(double seconds) => string.Create(CultureInfo.InvariantCulture, $"{seconds:F0}s");

    private static string FormatPerStep(double seconds) => seconds >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{seconds:F0}s/step")
        : seconds >= 1e-3 ? string.Create(CultureInfo.InvariantCulture, $"{seconds * 1e3:F0}ms/step") : string.Create(CultureInfo.InvariantCulture, $"{seconds * 1e6:F0}us/step");

    private void AppendCounter(int seen, int total)
    {
        string totalText = total.ToString(CultureInfo.InvariantCulture);
        _line.Append(seen.ToString(CultureInfo.InvariantCulture).PadLeft(totalText.Length)).Append('/').Append(totalText);
    }

    private void AppendBar(int seen, int total)
    {
        int filled = total == 0 ? BarWidth : (int)((long)BarWidth * seen / total);
        _line.Append(" [");
        if (filled > 0)
        {
            _line.Append('=', filled - 1).Append(seen < total ? '>' : '=');
        }

        _line.Append('.', BarWidth - filled).Append(']');
    }

    private void AppendLogs(Logs logs)
    {
        foreach (var (key, value) in logs)
        {
            if (key is "lr" or "learning_rate")
            {
                continue;
            }

            _line.Append(" - ").Append(key).Append(": ").Append(Logs.FormatValue(value));
        }
    }

    private void AppendRate(double seconds)
    {
        if (seconds > 0 && _samples > 0)
        {
            _line.Append(CultureInfo.InvariantCulture, $" - {_samples / seconds:N0} img/s");
        }
    }

    private void Redraw()
    {
        int width = _line.Length;
        if (_previousWidth > width)
        {
            _line.Append(' ', _previousWidth - width);
        }

        _previousWidth = width;
        _writer.Write('\r');
        _writer.Write(_line.ToString());
        _writer.Flush();
    }
}

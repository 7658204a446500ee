using System.Globalization;

namespace NetDsl.Training;

/// <summary>
/// Sets the learning rate at the start of every epoch to <c>schedule(epoch, currentRate)</c>, like Keras'
/// <c>LearningRateScheduler</c> (epochs are 0-based and absolute: a resumed run continues the schedule).
/// </summary>
public sealed class LearningRateScheduler : Callback
{
    private readonly Func<int, float, float> _schedule;

    /// <summary>Creates the callback.</summary>
    /// <param name="schedule">Maps (epoch, current learning rate) to the epoch's learning rate, finite and not negative.</param>
    /// <param name="verbose">Print the new rate to <see cref="TrainingContext.Log"/> each epoch.</param>
    public LearningRateScheduler(Func<int, float, float> schedule, bool verbose = false)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        _schedule = schedule;
        Verbose = verbose;
    }

    /// <summary>Whether the new rate is printed.</summary>
    public bool Verbose { get; }

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The schedule returned NaN, an infinity or a negative rate.</exception>
    public override void OnEpochBegin(int epoch, Logs logs)
    {
        var optimizer = Context.Optimizer;
        float rate = _schedule(epoch, optimizer.LearningRate);
        if (!float.IsFinite(rate) || rate < 0)
        {
            throw new InvalidOperationException($"The learning-rate schedule returned {rate} for epoch {epoch}; it must be finite and not negative.");
        }

        optimizer.LearningRate = rate;
        if (Verbose)
        {
            Context.Log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}."));
        }
    }
}

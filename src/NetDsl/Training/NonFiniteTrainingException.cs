namespace NetDsl.Training;

/// <summary>
/// Thrown by <c>Fit</c> when a training step met a NaN or infinite loss or gradient (a NaN or infinity in the inputs or
/// the weights, or a learning rate that makes training diverge). That step's update was skipped, so the weights and the
/// optimizer state are those before it. Add <see cref="TerminateOnNaN"/> to stop quietly instead (Keras' behaviour).
/// </summary>
public sealed class NonFiniteTrainingException : ArithmeticException
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteTrainingException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What happened.</param>
    public NonFiniteTrainingException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The cause.</param>
    public NonFiniteTrainingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a skipped step.</summary>
    /// <param name="epoch">The 0-based epoch.</param>
    /// <param name="step">The 0-based step within the epoch.</param>
    /// <param name="message">What happened.</param>
    public NonFiniteTrainingException(int epoch, int step, string message)
        : base(message)
    {
        Epoch = epoch;
        Step = step;
    }

    /// <summary>The 0-based epoch of the step (shown 1-based in the message, as the progress bar counts).</summary>
    public int Epoch { get; }

    /// <summary>The 0-based step (batch) within the epoch.</summary>
    public int Step { get; }
}

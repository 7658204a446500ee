using NetDsl.Optimizers;
using NetDsl.Threading;

namespace NetDsl;

/// <summary>The optimizer half of <see cref="Network"/>: the training step and the fused parameter update.</summary>
public abstract partial class Network
{
    /// <summary>The job id of the optimizer pass; generated jobs use ids from 0 up.</summary>
    private const int OptimizerJob = -1;

    private IOptimizer? _optimizer;

    /// <summary>One training step: forward, backward and an optimizer update; returns the mean loss of the batch.</summary>
    /// <param name="inputs">Samples, <see cref="InputSize"/> floats each, 1 to <see cref="BatchSize"/> of them.</param>
    /// <param name="labels">One class index per sample.</param>
    /// <param name="optimizer">The update rule. Its state lives in this network's arena and restarts from zero whenever a different optimizer instance is passed.</param>
    public float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<int> labels, IOptimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        float loss = ComputeGradients(inputs, labels);
        Update(optimizer);
        return loss;
    }

    /// <summary>
    /// One training step for a network trained with float targets (every loss but sparse categorical
    /// cross-entropy): forward, backward and an optimizer update; returns the mean loss of the batch.
    /// </summary>
    /// <param name="inputs">Samples, <see cref="InputSize"/> floats each, 1 to <see cref="BatchSize"/> of them.</param>
    /// <param name="targets"><see cref="OutputSize"/> finite floats per sample.</param>
    /// <param name="optimizer">The update rule. Its state lives in this network's arena and restarts from zero whenever a different optimizer instance is passed.</param>
    public float TrainStep(ReadOnlySpan<float> inputs, ReadOnlySpan<float> targets, IOptimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        float loss = ComputeGradients(inputs, targets);
        Update(optimizer);
        return loss;
    }

    /// <summary>Applies <paramref name="optimizer"/> to the gradients of the last pass.</summary>
    private void Update(IOptimizer optimizer)
    {
        if (!ReferenceEquals(optimizer, _optimizer))
        {
            if (optimizer.StateSlots is < 0 or > ParameterSlice.MaxStateSlots)
            {
                throw new ArgumentException($"The optimizer asks for {optimizer.StateSlots} state slots per parameter; at most {ParameterSlice.MaxStateSlots} are reserved.", nameof(optimizer));
            }

            Arena.GetSpan(Layout.StateOffset, checked(ParameterSlice.MaxStateSlots * Layout.ParameterLength)).Clear();
            _optimizer = optimizer;
        }

        optimizer.BeginStep();
        _pool.Run(this, OptimizerJob);
    }

    private void UpdateParameters(int part, int parts)
    {
        var optimizer = _optimizer!;
        int slots = optimizer.StateSlots;
        foreach (var layer in _layers)
        {
            if (!layer.Trainable || layer.ParameterLength == 0)
            {
                continue;
            }

            var (start, end) = Partition.Range(layer.ParameterLength, part, parts, Arena.AlignmentFloats);
            if (start == end)
            {
                continue;
            }

            long offset = layer.ParameterOffset + start;
            int length = end - start;
            var slice = new ParameterSlice(
                Arena.GetSpan(offset, length),
                Arena.GetSpan(offset + Layout.GradientOffset, length),
                slots > 0 ? Arena.GetSpan(offset + Layout.StateOffset, length) : default,
                slots > 1 ? Arena.GetSpan(offset + Layout.StateOffset + Layout.ParameterLength, length) : default);
            optimizer.Update(slice);
        }
    }
}

using NetDsl.Kernels;

namespace NetDsl.Tests.Numerics;

/// <summary>Calls the generic loss kernels by <see cref="LossName"/> and <see cref="OutputName"/> (theories enumerate the pairs).</summary>
public static class LossRunner
{
    public static readonly LossName[] AllLosses = Enum.GetValues<LossName>();

    public static readonly OutputName[] AllOutputs = Enum.GetValues<OutputName>();

    public static float Dense(LossName loss, OutputName act, Arena arena, long z, long y, long g, ReadOnlySpan<float> targets,
        int cols, int rowStart, int rowEnd, float scale) => loss switch
        {
            LossName.MeanSquaredError => Dense<LossFunctions.MeanSquaredError>(act, arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            LossName.MeanAbsoluteError => Dense<LossFunctions.MeanAbsoluteError>(act, arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            LossName.MeanAbsolutePercentageError => Dense<LossFunctions.MeanAbsolutePercentageError>(act, arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            LossName.MeanSquaredLogarithmicError => Dense<LossFunctions.MeanSquaredLogarithmicError>(act, arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            LossName.Hinge => Dense<LossFunctions.Hinge>(act, arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            LossName.SquaredHinge => Dense<LossFunctions.SquaredHinge>(act, arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            LossName.CategoricalCrossEntropy => Dense<LossFunctions.CategoricalCrossEntropy>(act, arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            LossName.BinaryCrossEntropy => Dense<LossFunctions.BinaryCrossEntropy>(act, arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            _ => throw new ArgumentOutOfRangeException(nameof(loss)),
        };

    public static float Sparse(OutputName act, Arena arena, long z, long y, long g, ReadOnlySpan<int> labels,
        int cols, int rowStart, int rowEnd, float scale) => act switch
        {
            OutputName.Linear => Losses.ComputeSparse<OutputAct.Linear>(arena, z, y, g, labels, cols, rowStart, rowEnd, scale),
            OutputName.ReLU => Losses.ComputeSparse<OutputAct.ReLU>(arena, z, y, g, labels, cols, rowStart, rowEnd, scale),
            OutputName.Sigmoid => Losses.ComputeSparse<OutputAct.Sigmoid>(arena, z, y, g, labels, cols, rowStart, rowEnd, scale),
            OutputName.Tanh => Losses.ComputeSparse<OutputAct.Tanh>(arena, z, y, g, labels, cols, rowStart, rowEnd, scale),
            OutputName.Softmax => Losses.ComputeSparse<OutputAct.Softmax>(arena, z, y, g, labels, cols, rowStart, rowEnd, scale),
            _ => throw new ArgumentOutOfRangeException(nameof(act)),
        };

    public static void Activate(OutputName act, Arena arena, long z, long y, int cols, int rowStart, int rowEnd)
    {
        switch (act)
        {
            case OutputName.Linear: Losses.Activate<OutputAct.Linear>(arena, z, y, cols, rowStart, rowEnd); break;
            case OutputName.ReLU: Losses.Activate<OutputAct.ReLU>(arena, z, y, cols, rowStart, rowEnd); break;
            case OutputName.Sigmoid: Losses.Activate<OutputAct.Sigmoid>(arena, z, y, cols, rowStart, rowEnd); break;
            case OutputName.Tanh: Losses.Activate<OutputAct.Tanh>(arena, z, y, cols, rowStart, rowEnd); break;
            case OutputName.Softmax: Losses.Activate<OutputAct.Softmax>(arena, z, y, cols, rowStart, rowEnd); break;
            default: throw new ArgumentOutOfRangeException(nameof(act));
        }
    }

    private static float Dense<TLoss>(OutputName act, Arena arena, long z, long y, long g, ReadOnlySpan<float> targets,
        int cols, int rowStart, int rowEnd, float scale) where TLoss : ILoss => act switch
        {
            OutputName.Linear => Losses.Compute<TLoss, OutputAct.Linear>(arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            OutputName.ReLU => Losses.Compute<TLoss, OutputAct.ReLU>(arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            OutputName.Sigmoid => Losses.Compute<TLoss, OutputAct.Sigmoid>(arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            OutputName.Tanh => Losses.Compute<TLoss, OutputAct.Tanh>(arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            OutputName.Softmax => Losses.Compute<TLoss, OutputAct.Softmax>(arena, z, y, g, targets, cols, rowStart, rowEnd, scale),
            _ => throw new ArgumentOutOfRangeException(nameof(act)),
        };
}

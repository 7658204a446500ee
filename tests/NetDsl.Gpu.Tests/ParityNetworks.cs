using NetDsl.Tests.Numerics;

namespace NetDsl.Gpu.Tests;

/// <summary>Builds the parity networks by name, their GPU sessions, and random batches of the right kind.</summary>
internal static class ParityNetworks
{
    public static readonly string[] Names =
    [
        nameof(CnnTiny), nameof(CnnOdd), nameof(CnnBatchNorm), nameof(CnnDropout), nameof(CnnPoolDropout), nameof(CnnStrided), nameof(CnnWinograd), nameof(CnnFlatInput),
        nameof(LossMse), nameof(LossMae), nameof(LossMape), nameof(LossMsle), nameof(LossHinge), nameof(LossSquaredHinge),
        nameof(LossCce), nameof(LossCceLogits), nameof(LossBce), nameof(LossBceLogits), nameof(DigitsMlpSmall), nameof(GraphResidual), nameof(GraphDense), nameof(CnnPadded), nameof(TinyResNet),
    ];

    public static Network Create(string name, int batch, int seed) => name switch
    {
        nameof(CnnTiny) => new CnnTiny(batch, seed, 1),
        nameof(CnnOdd) => new CnnOdd(batch, seed, 1),
        nameof(CnnBatchNorm) => new CnnBatchNorm(batch, seed, 1),
        nameof(CnnDropout) => new CnnDropout(batch, seed, 1),
        nameof(CnnPoolDropout) => new CnnPoolDropout(batch, seed, 1),
        nameof(CnnStrided) => new CnnStrided(batch, seed, 1),
        nameof(CnnWinograd) => new CnnWinograd(batch, seed, 1),
        nameof(CnnFlatInput) => new CnnFlatInput(batch, seed, 1),
        nameof(LossMse) => new LossMse(batch, seed, 1),
        nameof(LossMae) => new LossMae(batch, seed, 1),
        nameof(LossMape) => new LossMape(batch, seed, 1),
        nameof(LossMsle) => new LossMsle(batch, seed, 1),
        nameof(LossHinge) => new LossHinge(batch, seed, 1),
        nameof(LossSquaredHinge) => new LossSquaredHinge(batch, seed, 1),
        nameof(LossCce) => new LossCce(batch, seed, 1),
        nameof(LossCceLogits) => new LossCceLogits(batch, seed, 1),
        nameof(LossBce) => new LossBce(batch, seed, 1),
        nameof(LossBceLogits) => new LossBceLogits(batch, seed, 1),
        nameof(DigitsMlpSmall) => new DigitsMlpSmall(batch, seed, 1),
        nameof(GraphResidual) => new GraphResidual(batch, seed, 1),
        nameof(GraphDense) => new GraphDense(batch, seed, 1),
        nameof(CnnPadded) => new CnnPadded(batch, seed, 1),
        nameof(TinyResNet) => new TinyResNet(batch, seed, 1),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown parity network."),
    };

    public static GpuSession ToGpu(Network network, GpuDevice device) => network switch
    {
        CnnTiny n => n.ToGpu(device),
        CnnOdd n => n.ToGpu(device),
        CnnBatchNorm n => n.ToGpu(device),
        CnnDropout n => n.ToGpu(device),
        CnnPoolDropout n => n.ToGpu(device),
        CnnStrided n => n.ToGpu(device),
        CnnWinograd n => n.ToGpu(device),
        CnnFlatInput n => n.ToGpu(device),
        LossMse n => n.ToGpu(device),
        LossMae n => n.ToGpu(device),
        LossMape n => n.ToGpu(device),
        LossMsle n => n.ToGpu(device),
        LossHinge n => n.ToGpu(device),
        LossSquaredHinge n => n.ToGpu(device),
        LossCce n => n.ToGpu(device),
        LossCceLogits n => n.ToGpu(device),
        LossBce n => n.ToGpu(device),
        LossBceLogits n => n.ToGpu(device),
        DigitsMlpSmall n => n.ToGpu(device),
        GraphResidual n => n.ToGpu(device),
        GraphDense n => n.ToGpu(device),
        CnnPadded n => n.ToGpu(device),
        TinyResNet n => n.ToGpu(device),
        _ => throw new ArgumentOutOfRangeException(nameof(network), network.GetType().Name, "Unknown parity network."),
    };

    /// <summary>Random inputs in [-1, 1) and, as the loss takes them, class labels or float targets of the loss's kind.</summary>
    public static (float[] Inputs, int[]? Labels, float[]? Targets) Batch(Network network, int rows, Random random)
    {
        var inputs = new float[rows * network.InputSize];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = (float)(random.NextDouble() * 2 - 1);
        }

        if (network.TakesClassLabels)
        {
            var labels = new int[rows];
            for (int r = 0; r < rows; r++)
            {
                labels[r] = random.Next(network.OutputSize);
            }

            return (inputs, labels, null);
        }

        var targets = new float[rows * network.OutputSize];
        for (int r = 0; r < rows; r++)
        {
            int hot = random.Next(network.OutputSize);
            for (int j = 0; j < network.OutputSize; j++)
            {
                targets[r * network.OutputSize + j] = network.Loss switch
                {
                    Loss.CategoricalCrossEntropy => j == hot ? 1f : 0f,
                    Loss.BinaryCrossEntropy => random.Next(2),
                    Loss.Hinge or Loss.SquaredHinge => random.Next(2) * 2 - 1,
                    Loss.MeanSquaredLogarithmicError or Loss.MeanAbsolutePercentageError => (float)(0.1 + random.NextDouble()),
                    _ => (float)(random.NextDouble() * 2 - 1),
                };
            }
        }

        return (inputs, null, targets);
    }
}

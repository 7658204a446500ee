using System.Globalization;
using NetDsl;
using NetDsl.Datasets;
using NetDsl.Optimizers;

// A user's first trainer: a small CNN on the embedded digits, a few training steps, then predictions.
// Prints one line: "loss_first=... loss_last=... accuracy=... vector512=..." for the packaging test to check.
const int Batch = 64, Steps = 40;
var (train, test) = MnistDigits.Load();
using var model = new TinyCnn(Batch, seed: 7);
var optimizer = new Adam(0.002f);
float[] inputs = new float[Batch * model.InputSize];
int[] labels = new int[Batch];
float first = 0, last = 0;
for (int step = 0; step < Steps; step++)
{
    for (int i = 0; i < Batch; i++)
    {
        // The digits are stored grouped by class: step through them with a prime stride so every batch mixes classes.
        int index = (int)((long)(step * Batch + i) * 7919 % train.Count);
        train.GetSample(index).CopyTo(inputs.AsSpan(i * model.InputSize, model.InputSize));
        labels[i] = train.GetLabel(index);
    }

    float loss = model.TrainStep(inputs, labels, optimizer);
    if (step == 0)
    {
        first = loss;
    }

    last = loss;
}

float[] outputs = new float[Batch * model.OutputSize];
int correct = 0, seen = 0;
for (int start = 0; start + Batch <= test.Count; start += Batch)
{
    for (int i = 0; i < Batch; i++)
    {
        test.GetSample(start + i).CopyTo(inputs.AsSpan(i * model.InputSize, model.InputSize));
    }

    model.Predict(inputs, outputs);
    for (int i = 0; i < Batch; i++)
    {
        correct += Evaluation.ArgMax(outputs.AsSpan(i * model.OutputSize, model.OutputSize)) == test.GetLabel(start + i) ? 1 : 0;
        seen++;
    }
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"loss_first={first:F5} loss_last={last:F5} accuracy={(double)correct / seen:F4} vector512={System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated} vector256={System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated}"));
return 0;

[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(1, 28, 28)]
public partial class TinyCnn
{
    [Conv2D(16, 3, Activation.ReLU)] public partial Conv2DLayer Conv { get; }
    [MaxPool2D(2)]                   public partial PoolingLayer Pool { get; }
    [Flatten]                        public partial FlattenLayer Flatten { get; }
    [Dense(10, Activation.Softmax)]  public partial DenseLayer Output { get; }
}

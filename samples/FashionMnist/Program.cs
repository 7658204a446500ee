using System.Diagnostics;
using System.Globalization;
using FashionMnist;
using NetDsl;
using NetDsl.Data;
using NetDsl.Optimizers;

// The mnist_transfer_cnn architecture on the full Fashion-MNIST (60,000 training and 10,000 test images), read from
// the standard IDX files, e.g. Debian's dataset-fashion-mnist package:
//   dotnet run -c Release --project samples/FashionMnist [-- --data /usr/share/datasets/fashion-mnist --epochs 5 --batch 128 --seed 1 --threads 0 --limit N]
string data = "/usr/share/datasets/fashion-mnist";
int epochs = 5, batch = 128, seed = 1, threads = 0, limit = 0;
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--data": data = Next(); break;
            case "--epochs": epochs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--batch": batch = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--limit": limit = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            default: throw new FormatException($"unknown option '{args[i]}'");
        }
    }
}
catch (FormatException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("usage: FashionMnist [--data DIR] [--epochs N] [--batch N] [--seed N] [--threads N] [--limit N]");
    return 2;
}

Dataset train, test;
try
{
    train = Idx.LoadDataset(Path.Combine(data, "train-images-idx3-ubyte.gz"), Path.Combine(data, "train-labels-idx1-ubyte.gz"));
    test = Idx.LoadDataset(Path.Combine(data, "t10k-images-idx3-ubyte.gz"), Path.Combine(data, "t10k-labels-idx1-ubyte.gz"));
}
catch (Exception e) when (e is IOException or InvalidDataException)
{
    Console.Error.WriteLine($"error: cannot read Fashion-MNIST from {data}: {e.Message}");
    Console.Error.WriteLine("Install Debian's dataset-fashion-mnist package or pass --data DIR with the four IDX files.");
    return 1;
}

if (limit > 0)
{
    train = train.Take(limit);
}

using var model = new FashionCnn(batch, seed, threads);
Console.WriteLine(FashionCnn.Summary);
Console.WriteLine($"Fashion-MNIST: {train.Count} training and {test.Count} test images from {data}.");
var optimizer = new Adadelta(learningRate: 1.0f, rho: 0.95f, epsilon: 1e-6f);
var batches = new Batcher(train, batch, (ulong)seed);
for (int epoch = 1; epoch <= epochs; epoch++)
{
    batches.StartEpoch();
    double lossSum = 0;
    int steps = 0;
    var clock = Stopwatch.StartNew();
    while (batches.MoveNext())
    {
        lossSum += model.TrainStep(batches.Features, batches.Labels, optimizer);
        steps++;
    }

    double seconds = clock.Elapsed.TotalSeconds;
    double accuracy = Evaluation.Accuracy(model, test);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Epoch {epoch,2}/{epochs}  loss {lossSum / steps:F4}  test accuracy {accuracy:P2}  {seconds:F1} s  {train.Count / seconds:N0} images/s"));
}

return 0;

using System.CommandLine;
using System.Globalization;
using FashionMnist;
using NetDsl;
using NetDsl.Data;
using NetDsl.Metrics;
using NetDsl.Optimizers;
using NetDsl.Samples;
using NetDsl.Training;

// The mnist_transfer_cnn architecture (--model cnn, the default; Adadelta) or a small ResNet built from the model
// table's residual blocks (--model resnet, FashionResNet.cs; Adam) on the full Fashion-MNIST (60,000 training and
// 10,000 test images), read from the standard IDX files, e.g. Debian's dataset-fashion-mnist package:
//   dotnet run -c Release --project samples/FashionMnist [-- --model cnn|resnet --data /usr/share/datasets/fashion-mnist --epochs 5 --batch 128 --seed 1 --threads 0 --limit N --history DIR --device cpu|gpu]
var modelOption = SampleCommandLine.Option("--model", "cnn", "cnn (mnist_transfer_cnn, Adadelta) | resnet (a small ResNet of the model table's blocks, Adam)").AcceptOnlyFromAmong("cnn", "resnet");
var dataOption = SampleCommandLine.Option("--data", "/usr/share/datasets/fashion-mnist", "Directory with the four Fashion-MNIST IDX files");
var epochsOption = SampleCommandLine.Option("--epochs", 5, "Epochs").AtLeast(1);
var batchOption = SampleCommandLine.Option("--batch", 128, "Batch size").AtLeast(1);
var seedOption = SampleCommandLine.Option("--seed", 1, "Weights, dropout and shuffling seed");
var threadsOption = SampleCommandLine.Option("--threads", 0, "Threads, 0 = all processors").AtLeast(0);
var limitOption = SampleCommandLine.Option("--limit", 0, "Train on the first N training images only (0 = all)").AtLeast(0);
var historyOption = new Option<string?>("--history") { Description = "Write the History as CSV and an SVG chart to this directory" };
var deviceOption = SampleCommandLine.Option("--device", "cpu", "cpu | gpu (CUDA when present, else ILGPU's CPU accelerator)").AcceptOnlyFromAmong("cpu", "gpu");
var command = new RootCommand("Trains a CNN or a small ResNet on the full Fashion-MNIST and prints the confusion matrix.")
{
    modelOption, dataOption, epochsOption, batchOption, seedOption, threadsOption, limitOption, historyOption, deviceOption,
};
if (SampleCommandLine.Parse(command, args, out var parsed) is int exitCode)
{
    return exitCode;
}

string modelName = parsed.GetValue(modelOption)!;
string data = parsed.GetValue(dataOption)!;
int epochs = parsed.GetValue(epochsOption), batch = parsed.GetValue(batchOption), seed = parsed.GetValue(seedOption);
int threads = parsed.GetValue(threadsOption), limit = parsed.GetValue(limitOption);
string? historyDirectory = parsed.GetValue(historyOption);
string deviceName = parsed.GetValue(deviceOption)!;

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

bool resnet = modelName == "resnet";
using Network model = resnet ? new FashionResNet(batch, seed, threads) : new FashionCnn(batch, seed, threads);
using var device = DeviceChoice.CreateOrReport(deviceName);
if (device is null)
{
    return 2;
}

Model trainer = model;
#if NETDSL_GPU
using Model? session = device.Gpu is not { } gpu ? null
    : model is FashionResNet resNet ? resNet.ToGpu(gpu) : ((FashionCnn)model).ToGpu(gpu);
trainer = session ?? model;
#endif
Console.WriteLine(resnet ? FashionResNet.Summary : FashionCnn.Summary);
Console.WriteLine($"Device: {device.Description}");
Console.WriteLine($"Fashion-MNIST: {train.Count} training and {test.Count} test images from {data}.");
// The CNN keeps mnist_transfer_cnn's Adadelta; the ResNet (BatchNorm, no dropout) trains with Adam at Keras' defaults.
Optimizer optimizer = resnet ? new Adam(learningRate: 1e-3f) : new Adadelta(learningRate: 1.0f, rho: 0.95f, epsilon: 1e-6f);
var history = trainer.Fit(train, optimizer, new FitOptions
{
    Epochs = epochs,
    BatchSize = batch,
    ValidationData = test, // per-epoch test accuracy, as Keras' validation_data
    Metrics = [new Accuracy(), new TopKAccuracy(2)],
});
if (resnet)
{
    // The run in a few lines: test accuracy after every epoch, and the training throughput (validation excluded).
    var seconds = history[History.SecondsKey];
    var imagesPerSecond = history[History.ImagesPerSecondKey];
    for (int e = 0; e < history.Count; e++)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"After epoch {history.Epochs[e] + 1}: test accuracy {history["val_accuracy"][e]:P2}, training {seconds[e]:F1} s, {imagesPerSecond[e]:N0} images/s"));
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Training: {seconds.Sum():F1} s for {history.Count} epoch(s) of {train.Count} images, {history.Count * (double)train.Count / seconds.Sum():N0} images/s; {model.ParameterCount:N0} parameters."));
}

string historyName = resnet ? "fashion-resnet" : "fashion";
if (historyDirectory is not null)
{
    Directory.CreateDirectory(historyDirectory);
    history.SaveCsv(Path.Combine(historyDirectory, historyName + ".csv"));
    history.SaveSvg(Path.Combine(historyDirectory, historyName + ".svg"));
    Console.WriteLine($"History written to {historyDirectory} ({historyName}.csv, {historyName}.svg).");
}

Console.WriteLine("Confusion matrix on the test set (rows: true class, columns: predicted):");
Console.WriteLine(Evaluation.ConfusionMatrix(trainer, test, ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]));
return 0;

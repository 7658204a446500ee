using System.Globalization;
using System.Reflection;
using System.Text;
using NetDsl;
using NetDsl.Data;
using NetDsl.Onnx;
using TransferResNet18;

// Transfer learning (issue 11): the pretrained ResNet-18 trunk of NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18, frozen,
// as a feature extractor for Fashion-MNIST; a new dense head trained on its 512 cached features; compared with the same
// head on features of a randomly initialised trunk, and with samples/FashionMnist's CNN trained from scratch for the same
// wall-clock time as the pretrained pipeline's training side (train-set feature extraction + head training).
//   dotnet run -c Release --project samples/TransferResNet18 [-- --data DIR --size 64|96 --epochs 10 --seed 1
//       --threads 2 --limit N --cache DIR --model PATH/ResNet18.onnx --json]
// Smoke (CI): --limit 512 --epochs 1 (512 training and 512 test images).
//
// Frozen: the trunks are ForInference networks, which have no gradient buffers or optimizer state at all, so no
// backward pass can run through them (stronger than Trainable = false on a training network, and a 48 MiB arena at 224
// instead of 209 MiB); their features are computed once and cached (--cache), the "feature extraction tool" use.
string data = "/usr/share/datasets/fashion-mnist";
int epochs = 10, seed = 1, threads = 2, limit = 0, size = 64;
string? cacheDirectory = null, modelPath = null;
bool json = false;
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--data": data = Next(); break;
            case "--size": size = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--epochs": epochs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--limit": limit = int.Parse(Next(), CultureInfo.InvariantCulture); break;
            case "--cache": cacheDirectory = Next(); break;
            case "--model": modelPath = Next(); break;
            case "--json": json = true; break;
            default: throw new FormatException($"unknown option '{args[i]}'");
        }
    }

    if (size is not (64 or 96))
    {
        throw new FormatException($"--size must be 64 or 96 (the declared trunks), not {size}");
    }

    if (epochs < 1 || limit < 0 || threads < 0)
    {
        throw new FormatException("--epochs must be at least 1, --limit and --threads not negative");
    }
}
catch (FormatException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("usage: TransferResNet18 [--data DIR] [--size 64|96] [--epochs N] [--seed N] [--threads N] [--limit N] [--cache DIR] [--model PATH] [--json]");
    return 2;
}

// The ONNX files: where NuGet put the package (this project references it without assets), or --model.
string modelsFolder = typeof(Transfer).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "DnnImageModels").Value ?? "";
modelPath ??= Path.Combine(modelsFolder, "ResNet18Onnx", "ResNet18.onnx");
if (!File.Exists(modelPath))
{
    Console.Error.WriteLine($"error: {modelPath} is missing: it comes with the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0, " +
        "which a restore of this project (or of tests/NetDsl.Onnx.Tests) brings; or pass --model PATH/ResNet18.onnx.");
    return 3;
}

// The preprocessing's mean image sits next to the model in the package (../ResNetPrepOnnx/ResNetPreprocess.onnx).
string preprocessPath = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(modelPath)))!, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
float[] bgrMean;
if (File.Exists(preprocessPath))
{
    bgrMean = Transfer.ChannelMeans(OnnxModelFile.ReadFloats(OnnxModelFile.Read(preprocessPath).Initializer("MeanImage")));
}
else
{
    bgrMean = [103.06f, 115.90f, 123.15f]; // RESNET18_ONNX.md's per-channel means of MeanImage
    Console.WriteLine($"warning: {preprocessPath} is missing; using the documented per-channel means.");
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
    train = train.Take(Math.Min(limit, train.Count));
    test = test.Take(Math.Min(limit, test.Count));
}

if (cacheDirectory is not null)
{
    Directory.CreateDirectory(cacheDirectory);
}

Console.WriteLine($"Fashion-MNIST: {train.Count} training and {test.Count} test images from {data}; grey replicated to BGR, " +
    $"resized 28x28 -> {size}x{size} (bilinear), minus MeanImage's channel means B {bgrMean[0]:F2} G {bgrMean[1]:F2} R {bgrMean[2]:F2}.");
Console.WriteLine($"Model: {modelPath}; seed {seed}, {threads} thread(s), head epochs {epochs}.");

var run = new Transfer(size, seed, threads, bgrMean, cacheDirectory, modelPath);

// 1. Pretrained trunk: import the file at 224, copy the weights into the trunk of the chosen size.
Func<Network> pretrained = () =>
{
    using var full = ResNet18Trunk224.ForInference(1, seed, threads);
    var mappings = full.LoadOnnxWeights(modelPath);
    using var weights = new MemoryStream();
    full.SaveWeights(weights);
    weights.Position = 0;
    Network trunk = run.CreateTrunk();
    trunk.LoadWeights(weights, sourceName: "ResNet18Trunk224");
    Console.WriteLine($"Imported {mappings.Count} ONNX nodes' weights ({full.ParameterCount:N0} parameters) into the {size}x{size} trunk.");
    return trunk;
};
var pre = run.Features("pretrained", pretrained, train, test);
var preHead = run.TrainHead("pretrained", pre, epochs);

// 2. The same declaration, randomly initialised (seeded), no import.
var rnd = run.Features($"random-seed{seed}", run.CreateTrunk, train, test);
var rndHead = run.TrainHead("random", rnd, epochs);

// 3. The seed CNN from scratch on the raw 28x28 images, for the pretrained pipeline's training time: a time budget
//    (cancellation between batches), not a number of epochs.
double budget = pre.TrainSeconds + preHead.Seconds;
var cnn = run.TrainCnn(train, test, budget);

var table = new StringBuilder();
table.AppendLine();
table.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Fashion-MNIST, {train.Count} train / {test.Count} test, trunk input {size}x{size}, {threads} thread(s), seed {seed}:"));
table.AppendLine("| pipeline | seconds | images/s | test accuracy |");
table.AppendLine("|---|--:|--:|--:|");
void Row(string name, double seconds, double imagesPerSecond, double? accuracy) =>
    table.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {seconds:F1} | {imagesPerSecond:N0} | {(accuracy is { } a ? a.ToString("P2", CultureInfo.InvariantCulture) : "")} |"));
Row("pretrained trunk: train features", pre.TrainSeconds, train.Count / pre.TrainSeconds, null);
Row("pretrained trunk: test features", pre.TestSeconds, test.Count / pre.TestSeconds, null);
Row($"head on pretrained features ({epochs} epochs)", preHead.Seconds, preHead.ImagesPerSecond, preHead.Accuracy);
Row("**pretrained pipeline** (train features + head)", budget, train.Count / budget, preHead.Accuracy);
Row("random trunk: train features", rnd.TrainSeconds, train.Count / rnd.TrainSeconds, null);
Row($"head on random-trunk features ({epochs} epochs)", rndHead.Seconds, rndHead.ImagesPerSecond, rndHead.Accuracy);
Row("random-trunk pipeline (train features + head)", rnd.TrainSeconds + rndHead.Seconds, train.Count / (rnd.TrainSeconds + rndHead.Seconds), rndHead.Accuracy);
Row(string.Create(CultureInfo.InvariantCulture, $"FashionCnn from scratch, same time ({cnn.Epochs:F2} epochs)"), cnn.Seconds, cnn.ImagesPerSecond, cnn.Accuracy);
if (pre.Cached || rnd.Cached)
{
    table.AppendLine("(features read from the cache: their seconds are those measured when the cache was written)");
}

Console.Write(table.ToString());
if (json)
{
    var c = CultureInfo.InvariantCulture;
    Console.WriteLine(string.Create(c,
        $"{{\"size\":{size},\"train\":{train.Count},\"test\":{test.Count},\"threads\":{threads},\"seed\":{seed},\"epochs\":{epochs}," +
        $"\"pretrained\":{{\"extract_seconds\":{pre.TrainSeconds:F2},\"extract_images_per_second\":{train.Count / pre.TrainSeconds:F1},\"test_extract_seconds\":{pre.TestSeconds:F2},\"head_seconds\":{preHead.Seconds:F2},\"head_images_per_second\":{preHead.ImagesPerSecond:F0},\"test_accuracy\":{preHead.Accuracy:F4},\"cached\":{(pre.Cached ? "true" : "false")}}}," +
        $"\"random\":{{\"extract_seconds\":{rnd.TrainSeconds:F2},\"extract_images_per_second\":{train.Count / rnd.TrainSeconds:F1},\"head_seconds\":{rndHead.Seconds:F2},\"head_images_per_second\":{rndHead.ImagesPerSecond:F0},\"test_accuracy\":{rndHead.Accuracy:F4},\"cached\":{(rnd.Cached ? "true" : "false")}}}," +
        $"\"cnn\":{{\"budget_seconds\":{budget:F2},\"seconds\":{cnn.Seconds:F2},\"epochs\":{cnn.Epochs:F3},\"images_per_second\":{cnn.ImagesPerSecond:F0},\"test_accuracy\":{cnn.Accuracy:F4}}}}}"));
}

return 0;

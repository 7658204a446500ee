using Microsoft.ML.OnnxRuntime;
using NetDsl.Gpu;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Onnx.Tests;

/// <summary>
/// The pretrained ResNet-18 of NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18 imported into <see cref="CntkResNet18Trunk"/>
/// (the model table's blocks) is the same function as the ONNX file run by ONNX Runtime: on real photographs, the 512
/// features agree within 1e-4 of the feature vector's norm.
/// </summary>
public class PretrainedResNet18Tests(ITestOutputHelper output)
{
    private const int Size = 224;

    [SkippableFact]
    public void Imported_weights_give_ONNX_Runtimes_features_on_photographs()
    {
        Skip.IfNot(File.Exists(TestData.ResNet18Path), TestData.ModelMissing(TestData.ResNet18Path));
        Skip.IfNot(File.Exists(TestData.PreprocessPath), TestData.ModelMissing(TestData.PreprocessPath));
        Skip.IfNot(TestData.HavePhotos, TestData.PhotosMissing);

        using var trunk = CntkResNet18Trunk.ForInference(1, threads: 2);
        var mappings = trunk.LoadOnnxWeights(TestData.ResNet18Path);
        Assert.Equal(44, mappings.Count); // 22 convolutions (the stem, 2 x 9 in the blocks, 3 projections) and their 22 BatchNorms
        foreach (var m in mappings.Where(m => m.Layer.Contains("Downsample", StringComparison.Ordinal) || m.Layer.StartsWith("Stem", StringComparison.Ordinal)))
        {
            output.WriteLine($"{m.Layer,-28} <- {m.Node}: {string.Join("; ", m.Tensors)}");
        }

        Compare(trunk, TestData.Photos, "CPU");
    }

    /// <summary>
    /// The GPU backend with the imported weights: on CUDA when a GPU is present, else on ILGPU's CPU accelerator (an
    /// emulator, ~1 min for one 224 x 224 image, so one photograph there).
    /// </summary>
    [SkippableFact]
    public void The_GPU_backend_gives_ONNX_Runtimes_features_too()
    {
        Skip.IfNot(File.Exists(TestData.ResNet18Path), TestData.ModelMissing(TestData.ResNet18Path));
        Skip.IfNot(File.Exists(TestData.PreprocessPath), TestData.ModelMissing(TestData.PreprocessPath));
        Skip.IfNot(TestData.HavePhotos, TestData.PhotosMissing);

        using var host = new CntkResNet18Trunk(1, threads: 2);
        host.LoadOnnxWeights(TestData.ResNet18Path);
        bool cuda = GpuDevice.IsCudaAvailable();
        using var device = cuda ? GpuDevice.CreateCuda() : GpuDevice.CreateCpuAccelerator(2);
        using var gpu = host.ToGpu(device);
        Compare(gpu, cuda ? TestData.Photos : TestData.Photos.Take(1).ToArray(), cuda ? "CUDA" : "ILGPU CPU accelerator");
    }

    private void Compare(Model model, IReadOnlyList<string> photos, string backend)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1 };
        using var resnet = new InferenceSession(TestData.ResNet18Path, options);
        float[] mean = OnnxModelFile.ReadFloats(OnnxModelFile.Read(TestData.PreprocessPath).Initializer("MeanImage"));
        foreach (string photo in photos)
        {
            // ResNetPreprocess.onnx's function (OnnxRuntimeTests checks it against the file).
            float[] input = OnnxRuntimeTests.Preprocess(OnnxRuntimeTests.DecodeRgbPlanes(Path.Combine(TestData.PhotoDirectory, photo)), mean);

            using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, Size, Size]);
            using var runOptions = new RunOptions();
            using var results = resnet.Run(runOptions, [resnet.InputNames[0]], [value], [resnet.OutputNames[0]]);
            float[] expected = results[0].GetTensorDataAsSpan<float>().ToArray();

            float[] actual = new float[512];
            var watch = System.Diagnostics.Stopwatch.StartNew();
            model.Predict(input, actual);
            double norm = Math.Sqrt(expected.Sum(v => (double)v * v));
            double worst = expected.Zip(actual, (e, a) => Math.Abs((double)e - a)).Max();
            output.WriteLine($"{backend}: {photo,-20} |features| {norm:F3}, max |NetDsl - ONNX Runtime| {worst:E2} = {worst / norm:E2} of the norm ({watch.ElapsedMilliseconds} ms)");
            Assert.True(worst / norm <= 1e-4, $"{backend}, {photo}: features differ by {worst:E2} (norm {norm:F3})");
        }
    }
}

using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Onnx.Tests;

/// <summary>
/// ONNX Runtime (NuGet Microsoft.ML.OnnxRuntime, its own linux-x64 native library) runs the pretrained ResNet-18 on real
/// photographs decoded and resized by SkiaSharp: the reference the weight import will be compared with.
/// </summary>
public class OnnxRuntimeTests(ITestOutputHelper output)
{
    private const int Size = 224;

    [SkippableFact]
    public void Runs_the_pretrained_ResNet18_on_photographs()
    {
        Skip.IfNot(File.Exists(TestData.ResNet18Path), TestData.ModelMissing(TestData.ResNet18Path));
        Skip.IfNot(File.Exists(TestData.PreprocessPath), TestData.ModelMissing(TestData.PreprocessPath));
        Skip.IfNot(TestData.HavePhotos, TestData.PhotosMissing);

        using var options = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1 };
        var load = Stopwatch.StartNew();
        using var preprocess = new InferenceSession(TestData.PreprocessPath, options);
        using var resnet = new InferenceSession(TestData.ResNet18Path, options);
        output.WriteLine($"ONNX Runtime {OrtEnv.Instance().GetVersionString()}: sessions created in {load.ElapsedMilliseconds} ms; " +
            $"ResNet18 input '{resnet.InputNames[0]}' {Dims(resnet.InputMetadata.Values.First().Dimensions)}, " +
            $"output '{resnet.OutputNames[0]}' {Dims(resnet.OutputMetadata.Values.First().Dimensions)}");

        float[] mean = OnnxModelFile.ReadFloats(OnnxModelFile.Read(TestData.PreprocessPath).Initializer("MeanImage"));
        var features = new List<float[]>();
        foreach (string photo in TestData.Photos)
        {
            float[] rgb = DecodeRgbPlanes(Path.Combine(TestData.PhotoDirectory, photo));
            float[] prepared = Run(preprocess, rgb);

            // The preprocessing model is a channel swap and a mean image: BGR planes minus MeanImage (0..255 scale).
            float[] expected = Preprocess(rgb, mean);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.Equal(expected[i], prepared[i], 1e-4f);
            }

            Run(resnet, prepared); // warm-up
            var watch = Stopwatch.StartNew();
            const int runs = 5;
            float[] f = [];
            for (int r = 0; r < runs; r++)
            {
                f = Run(resnet, prepared);
            }

            double ms = watch.Elapsed.TotalMilliseconds / runs;
            Assert.Equal(512, f.Length);
            Assert.All(f, v => Assert.True(float.IsFinite(v) && v >= 0, $"feature {v} (after ReLU and averaging, features are >= 0)"));
            output.WriteLine($"{photo,-20} forward {ms,6:F1} ms; mean {f.Average():F4}, max {f.Max():F4}, zeros {f.Count(v => v == 0)}; " +
                $"first [{string.Join(", ", f.Take(6).Select(v => v.ToString("F5")))}]");
            features.Add(f);
        }

        // Different photographs give clearly different features (the network is not degenerate).
        for (int a = 0; a < features.Count; a++)
        {
            for (int b = a + 1; b < features.Count; b++)
            {
                Assert.True(Cosine(features[a], features[b]) < 0.95, $"{TestData.Photos[a]} and {TestData.Photos[b]} give near-identical features");
            }
        }
    }

    /// <summary>Decodes a photograph, resizes it to 224 x 224 (bilinear, aspect ratio not kept, as ML.NET's ResizeImages
    /// does by default) and returns its R, G and B planes as floats in 0..255: the (1, 3, 224, 224) tensor the
    /// preprocessing model takes.</summary>
    internal static float[] DecodeRgbPlanes(string path)
    {
        using var decoded = SKBitmap.Decode(path) ?? throw new InvalidDataException($"SkiaSharp cannot decode {path}");
        var info = new SKImageInfo(Size, Size, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var resized = decoded.Resize(info, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None))
            ?? throw new InvalidOperationException($"SkiaSharp cannot resize {path}");
        ReadOnlySpan<byte> pixels = resized.GetPixelSpan();
        const int plane = Size * Size;
        var planes = new float[3 * plane];
        for (int i = 0; i < plane; i++)
        {
            planes[i] = pixels[4 * i];
            planes[plane + i] = pixels[4 * i + 1];
            planes[2 * plane + i] = pixels[4 * i + 2];
        }

        return planes;
    }

    /// <summary>ResNetPreprocess.onnx's function: the B, G and R planes (in that order) minus the mean image.</summary>
    internal static float[] Preprocess(float[] rgb, float[] mean)
    {
        const int plane = Size * Size;
        var bgr = new float[3 * plane];
        for (int c = 0; c < 3; c++)
        {
            for (int i = 0; i < plane; i++)
            {
                bgr[c * plane + i] = rgb[(2 - c) * plane + i] - mean[c * plane + i];
            }
        }

        return bgr;
    }

    private static float[] Run(InferenceSession session, float[] input)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, Size, Size]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [session.InputNames[0]], [value], [session.OutputNames[0]]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }

        return dot / Math.Sqrt(na * nb);
    }

    private static string Dims(int[] dims) => "[" + string.Join(", ", dims) + "]";
}

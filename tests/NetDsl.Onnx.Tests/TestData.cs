using System.Reflection;

namespace NetDsl.Onnx.Tests;

/// <summary>Where the tests' real data lives: the pretrained models of NuGet's Microsoft.ML.DnnImageFeaturizer.ResNet18
/// (a package reference of this project, so a restore brings them) and the photographs of Debian's python3-skimage.</summary>
internal static class TestData
{
    /// <summary>Debian's python3-skimage installs scikit-image's sample photographs here.</summary>
    public const string PhotoDirectory = "/usr/lib/python3/dist-packages/skimage/data";

    /// <summary>Colour photographs among them (RGB PNG/JPEG of real scenes).</summary>
    public static readonly string[] Photos = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"];

    public static string RepositoryRoot => Metadata("RepositoryRoot");

    /// <summary>The featurizer package's model folder (NETDSL_DNN_IMAGE_MODELS overrides it).</summary>
    public static string DnnImageModels =>
        Environment.GetEnvironmentVariable("NETDSL_DNN_IMAGE_MODELS") is { Length: > 0 } overridden ? overridden : Metadata("DnnImageModels");

    public static string ResNet18Path => Path.Combine(DnnImageModels, "ResNet18Onnx", "ResNet18.onnx");

    public static string PreprocessPath => Path.Combine(DnnImageModels, "ResNetPrepOnnx", "ResNetPreprocess.onnx");

    public static string ModelMissing(string path) =>
        $"{path} is missing: it comes with the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0, which a " +
        "restore of tests/NetDsl.Onnx.Tests brings (or point NETDSL_DNN_IMAGE_MODELS at its tools/DnnImageModels folder).";

    public static string PhotosMissing =>
        $"The photographs of {PhotoDirectory} are missing: install Debian's python3-skimage " +
        "(apt-get install -y --no-install-recommends python3-skimage).";

    public static bool HavePhotos => Photos.All(p => File.Exists(Path.Combine(PhotoDirectory, p)));

    private static string Metadata(string key) =>
        typeof(TestData).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"no assembly metadata {key}");
}

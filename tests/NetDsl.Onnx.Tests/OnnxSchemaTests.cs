using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace NetDsl.Onnx.Tests;

/// <summary>The vendored schema is the ONNX release's file, and the checked-in C# is what protoc makes of it.</summary>
public class OnnxSchemaTests
{
    private static string SchemaDirectory => Path.Combine(TestData.RepositoryRoot, "src", "NetDsl.Onnx", "Schema");

    [Fact]
    public void Vendored_onnx_proto_is_the_v1_22_0_file_byte_for_byte()
    {
        string text = File.ReadAllText(Path.Combine(SchemaDirectory, "onnx.proto"));
        const string begin = "// ==== BEGIN onnx/onnx.proto v1.22.0 ====\n";
        const string end = "// ==== END onnx/onnx.proto v1.22.0 ====\n";
        int from = text.IndexOf(begin, StringComparison.Ordinal) + begin.Length;
        int to = text.IndexOf(end, StringComparison.Ordinal);
        string original = text[from..to];
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(original)));
        Assert.Equal("a05cfbcd1370608b809c5b84c44e3198d3369036458e0b5f297e76ceaf9c4e1b", hash);
    }

    [SkippableFact]
    public void Checked_in_csharp_is_what_generate_sh_makes()
    {
        string nuget = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string protoc = Path.Combine(nuget, "google.protobuf.tools", "3.36.2", "tools", "linux_x64", "protoc");
        Skip.IfNot(OperatingSystem.IsLinux() && File.Exists(protoc), $"protoc is not at {protoc} (restore src/NetDsl.Onnx on Linux x64)");

        string output = Path.Combine(Path.GetTempPath(), $"netdsl-onnx-schema-{Guid.NewGuid():N}.g.cs");
        try
        {
            var start = new ProcessStartInfo("bash", [Path.Combine(SchemaDirectory, "generate.sh"), output]) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var process = Process.Start(start)!;
            string errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, errors);
            Assert.True(File.ReadAllText(output) == File.ReadAllText(Path.Combine(SchemaDirectory, "OnnxSchema.g.cs")),
                "src/NetDsl.Onnx/Schema/OnnxSchema.g.cs is stale: run bash src/NetDsl.Onnx/Schema/generate.sh");
        }
        finally
        {
            File.Delete(output);
        }
    }
}

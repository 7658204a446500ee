using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace NetDsl.Gpu.Tests.Ptx;

/// <summary>What ptxas reports for one function (an entry kernel or a device function it calls).</summary>
public sealed record PtxasFunction(string Name, bool IsEntry)
{
    public int Registers { get; set; }
    public int SpillStoreBytes { get; set; }
    public int SpillLoadBytes { get; set; }
    public int SharedMemoryBytes { get; set; }
    public int StackFrameBytes { get; set; }
}

/// <summary>The outcome of assembling one PTX module: its functions' resources, or the errors.</summary>
public sealed record PtxasResult(int ExitCode, string Output, IReadOnlyList<PtxasFunction> Functions, IReadOnlyList<string> Errors)
{
    public bool Succeeded => ExitCode == 0 && Errors.Count == 0;

    /// <summary>Spill bytes (stores plus loads) of every function in the module.</summary>
    public int TotalSpillBytes => Functions.Sum(f => f.SpillStoreBytes + f.SpillLoadBytes);
}

/// <summary>
/// NVIDIA's PTX assembler, run as <c>ptxas -arch=sm_XX -v</c> on a temporary file; its verbose output is parsed into
/// registers, spills, shared memory and stack frame per function. Found on PATH, or where CUDA installs put it.
/// </summary>
public static partial class Ptxas
{
    private static readonly Lazy<string?> s_path = new(Locate);
    private static readonly Lazy<string> s_version = new(ReadVersion);

    /// <summary>The ptxas executable, or null when none is installed.</summary>
    public static string? Path => s_path.Value;

    public static bool IsAvailable => Path is not null;

    /// <summary>ptxas' release line (e.g. "Cuda compilation tools, release 11.8, V11.8.89").</summary>
    public static string Version => s_version.Value;

    /// <summary>Why the ptxas tests are skipped when it is missing.</summary>
    public const string MissingMessage =
        "ptxas was not found (PATH, /usr/lib/nvidia-cuda-toolkit/bin, /usr/local/cuda/bin, or $NETDSL_PTXAS): " +
        "install Debian's nvidia-cuda-toolkit (non-free), as .ci/run does";

    /// <summary>Assembles <paramref name="ptx"/> for <paramref name="arch"/> (e.g. "sm_90").</summary>
    public static PtxasResult Assemble(string ptx, string arch)
    {
        string ptxas = Path ?? throw new InvalidOperationException(MissingMessage);
        string dir = Directory.CreateTempSubdirectory("netdsl-ptxas-").FullName;
        try
        {
            string input = System.IO.Path.Combine(dir, "kernel.ptx");
            File.WriteAllText(input, ptx);
            var (exitCode, output) = Run(ptxas, "-arch=" + arch, "-v", "-o", System.IO.Path.Combine(dir, "kernel.cubin"), input);
            var (functions, errors) = Parse(output);
            if (exitCode != 0 && errors.Count == 0)
            {
                errors.Add($"ptxas exited with code {exitCode}");
            }

            return new PtxasResult(exitCode, output, functions, errors);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Parses ptxas' verbose output (stdout and stderr together).</summary>
    public static (List<PtxasFunction> Functions, List<string> Errors) Parse(string output)
    {
        var functions = new Dictionary<string, PtxasFunction>();
        var order = new List<PtxasFunction>();
        var errors = new List<string>();
        PtxasFunction? compiling = null; // the function the "Used N registers" line belongs to
        PtxasFunction? properties = null; // the function the next "stack frame" line belongs to

        PtxasFunction Get(string name, bool entry)
        {
            if (!functions.TryGetValue(name, out var function))
            {
                function = new PtxasFunction(name, entry);
                functions.Add(name, function);
                order.Add(function);
            }

            return function;
        }

        foreach (string raw in output.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            Match m;
            if ((m = CompilingRegex().Match(line)).Success)
            {
                compiling = Get(m.Groups["name"].Value, m.Groups["kind"].Value == "entry function");
            }
            else if ((m = PropertiesRegex().Match(line)).Success)
            {
                properties = Get(m.Groups["name"].Value, entry: functions.TryGetValue(m.Groups["name"].Value, out var f) && f.IsEntry);
            }
            else if ((m = FrameRegex().Match(line)).Success && properties is not null)
            {
                properties.StackFrameBytes = Int(m, "stack");
                properties.SpillStoreBytes = Int(m, "stores");
                properties.SpillLoadBytes = Int(m, "loads");
                properties = null;
            }
            else if ((m = UsedRegex().Match(line)).Success && compiling is not null)
            {
                compiling.Registers = Int(m, "registers");
                var smem = SharedRegex().Match(line);
                compiling.SharedMemoryBytes = smem.Success ? Int(smem, "bytes") : 0;
            }
            else if (ErrorRegex().IsMatch(line))
            {
                errors.Add(line.Trim());
            }
        }

        return (order, errors);
    }

    private static int Int(Match m, string group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"Compiling (?<kind>entry function|function) '(?<name>[^']+)' for 'sm_\d+a?'")]
    private static partial Regex CompilingRegex();

    [GeneratedRegex(@"Function properties for (?<name>\S+)")]
    private static partial Regex PropertiesRegex();

    [GeneratedRegex(@"(?<stack>\d+) bytes stack frame, (?<stores>\d+) bytes spill stores, (?<loads>\d+) bytes spill loads")]
    private static partial Regex FrameRegex();

    [GeneratedRegex(@"Used (?<registers>\d+) registers")]
    private static partial Regex UsedRegex();

    [GeneratedRegex(@"(?<bytes>\d+) bytes smem")]
    private static partial Regex SharedRegex();

    [GeneratedRegex(@"\b(error|fatal)\b\s*:", RegexOptions.IgnoreCase)]
    private static partial Regex ErrorRegex();

    private static string? Locate()
    {
        string? configured = Environment.GetEnvironmentVariable("NETDSL_PTXAS");
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(configured) ? configured : null;
        }

        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => System.IO.Path.Combine(dir, "ptxas"))
            // Debian's nvidia-cuda-toolkit puts ptxas in /usr/bin; NVIDIA's own installers in /usr/local/cuda/bin.
            .Append("/usr/lib/nvidia-cuda-toolkit/bin/ptxas")
            .Append("/usr/local/cuda/bin/ptxas");
        return candidates.FirstOrDefault(File.Exists);
    }

    private static string ReadVersion()
    {
        if (Path is null)
        {
            return "ptxas not installed";
        }

        var (_, output) = Run(Path, "--version");
        return output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Contains("release", StringComparison.Ordinal))
            ?? output.Trim();
    }

    private static (int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }
}

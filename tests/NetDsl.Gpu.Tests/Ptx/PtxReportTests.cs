using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using ILGPU.Runtime.Cuda;
using Xunit.Abstractions;

namespace NetDsl.Gpu.Tests.Ptx;

/// <summary>Compiles and assembles each (kernel, architecture) once per test run; the theories and the report share it.</summary>
public sealed class PtxFixture : IDisposable
{
    private readonly PtxCompiler _compiler = new();
    private readonly ConcurrentDictionary<(string, string), Lazy<(string? Ptx, Exception? Error)>> _ptx = new();
    private readonly ConcurrentDictionary<(string, string), Lazy<PtxasResult>> _assembled = new();

    public static IReadOnlyDictionary<string, CudaArchitecture> Architectures { get; } = new Dictionary<string, CudaArchitecture>
    {
        ["sm_80"] = CudaArchitecture.SM_80,
        ["sm_90"] = CudaArchitecture.SM_90,
    };

    /// <summary>ILGPU's PTX for the kernel, or the compile error.</summary>
    public (string? Ptx, Exception? Error) Ptx(GpuKernelMethod kernel, string arch) =>
        _ptx.GetOrAdd((kernel.Id, arch), _ => new(() =>
        {
            try
            {
                return (_compiler.Compile(kernel.Method, Architectures[arch], kernel.GroupSize > 0), null);
            }
            catch (PtxCompileException e)
            {
                return (null, e);
            }
        })).Value;

    /// <summary>ptxas' result for the kernel's PTX (only called when the PTX compiled).</summary>
    public PtxasResult Assemble(GpuKernelMethod kernel, string arch) =>
        _assembled.GetOrAdd((kernel.Id, arch), _ => new(() => Ptxas.Assemble(Ptx(kernel, arch).Ptx!, arch))).Value;

    public void Dispose() => _compiler.Dispose();
}

/// <summary>
/// The PTX report: every [GpuKernel] method (NetDsl.Gpu's own and this assembly's) compiled offline by ILGPU for sm_80
/// and sm_90 (PTX ISA 7.8) and assembled by NVIDIA's ptxas. Compile errors, ptxas errors, and spills in hot kernels
/// fail; the registers, spills, shared memory and stack frame of every kernel are written as a markdown table. The
/// ptxas tests are skipped (not passed) where ptxas is not installed.
/// </summary>
public sealed class PtxReportTests(PtxFixture fixture, ITestOutputHelper output) : IClassFixture<PtxFixture>
{
    /// <summary>Where the report is also written, when set (e.g. a path the README includes).</summary>
    public const string ReportPathVariable = "NETDSL_PTX_REPORT";

    public const string ReportFileName = "ptx-report.md";

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var kernel in GpuKernels.All)
        {
            foreach (string arch in PtxFixture.Architectures.Keys)
            {
                data.Add(kernel.Id, arch);
            }
        }

        return data;
    }

    [Fact]
    public void KernelsOfTheRuntimeAndOfThisAssemblyAreFound()
    {
        var dense = GpuKernels.Find(typeof(SampleKernels).FullName + "." + nameof(SampleKernels.DenseReluForward));
        var loss = GpuKernels.Find(typeof(SampleKernels).FullName + "." + nameof(SampleKernels.SquaredErrorGradient));
        Assert.True(dense.Hot);
        Assert.False(loss.Hot);
        Assert.Contains(typeof(GpuKernelAttribute).Assembly, GpuKernels.Assemblies);
        Assert.All(GpuKernels.All, k =>
        {
            Assert.True(k.Method.IsStatic, $"{k.Id}: a [GpuKernel] method must be static");
            Assert.False(k.Method.ContainsGenericParameters, $"{k.Id}: a [GpuKernel] method must not be generic");
        });
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CompilesToPtx(string kernelId, string arch)
    {
        var kernel = GpuKernels.Find(kernelId);
        var (ptx, error) = fixture.Ptx(kernel, arch);
        Assert.True(error is null, error?.ToString());
        Assert.Contains(".version 7.8", ptx);
        Assert.Contains(".entry ", ptx);
        // ILGPU targets the lowest architecture that has every capability the kernel uses, up to the device's (so an
        // sm_90 launch usually gets ".target sm_80" PTX, which ptxas or the driver then compiles for sm_90).
        var target = Regex.Match(ptx!, @"^\.target sm_(\d+)", RegexOptions.Multiline);
        Assert.True(target.Success, "no .target line");
        Assert.InRange(int.Parse(target.Groups[1].Value, CultureInfo.InvariantCulture), 20, int.Parse(arch[3..], CultureInfo.InvariantCulture));
        output.WriteLine($"{kernelId} {arch}: {ptx!.Length} characters of PTX, {target.Value}");
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void AssemblesWithPtxas(string kernelId, string arch)
    {
        Skip.IfNot(Ptxas.IsAvailable, Ptxas.MissingMessage);
        var kernel = GpuKernels.Find(kernelId);
        string? problem = Problem(kernel, arch, out var result);
        if (result is not null)
        {
            output.WriteLine(result.Output);
        }

        Assert.True(problem is null, problem);
    }

    [SkippableFact]
    public void Report()
    {
        Skip.IfNot(Ptxas.IsAvailable, Ptxas.MissingMessage);
        var problems = new List<string>();
        var report = new StringBuilder();
        string ilgpu = typeof(ILGPU.Context).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(ILGPU.Context).Assembly.GetName().Version!.ToString();
        report.AppendLine(
            $"PTX from ILGPU {ilgpu.Split('+')[0]} (PTX ISA 7.8; Index1D entry points grouped automatically, tiled kernels in " +
            $"groups of their own size), assembled by ptxas ({Ptxas.Version}). Spills, shared memory and stack frame in bytes; " +
            "spills count the kernel and any device function it calls. Hot kernels (convolutions, matrix products, optimizers) " +
            $"must not spill; tiled kernels must keep at least {MinimumResidentThreads} threads resident per multiprocessor (half of its 2,048; resident groups " +
            "are limited by 64K registers, allocated per warp in steps of 8 per thread, 2,048 threads, 32 groups and 164 KiB of shared " +
            "memory per SM on sm_80 and sm_90).");
        report.AppendLine();
        report.AppendLine("| Kernel | Arch | Registers | Spill stores / loads | Shared memory | Stack frame | Group | Threads per SM |");
        report.AppendLine("|---|---|--:|--:|--:|--:|--:|--:|");
        foreach (var kernel in GpuKernels.All)
        {
            foreach (string arch in PtxFixture.Architectures.Keys)
            {
                string? problem = Problem(kernel, arch, out var result);
                if (problem is not null)
                {
                    problems.Add(problem);
                }

                string name = kernel.Id + (kernel.Hot ? " (hot)" : "");
                var entry = result?.Functions.FirstOrDefault(f => f.IsEntry);
                if (result is null || !result.Succeeded || entry is null)
                {
                    report.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {arch} | failed | | | | | |");
                    continue;
                }

                int stores = result.Functions.Sum(f => f.SpillStoreBytes), loads = result.Functions.Sum(f => f.SpillLoadBytes);
                string group = kernel.GroupSize > 0
                    ? string.Create(CultureInfo.InvariantCulture, $"{kernel.GroupSize} | {kernel.GroupSize * ResidentGroups(kernel.GroupSize, entry.Registers, entry.SharedMemoryBytes)}")
                    : "auto | ";
                report.AppendLine(CultureInfo.InvariantCulture,
                    $"| {name} | {arch} | {entry.Registers} | {stores} / {loads} | {entry.SharedMemoryBytes} | {entry.StackFrameBytes} | {group} |");
            }
        }

        string markdown = report.ToString();
        output.WriteLine(markdown);
        string local = Path.Combine(AppContext.BaseDirectory, ReportFileName);
        File.WriteAllText(local, markdown);
        output.WriteLine($"written to {local}");
        string? stable = Environment.GetEnvironmentVariable(ReportPathVariable);
        if (!string.IsNullOrEmpty(stable))
        {
            string full = Path.GetFullPath(stable);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, markdown);
            output.WriteLine($"written to {full}");
        }

        Assert.True(problems.Count == 0, string.Join("\n\n", problems));
    }

    /// <summary>Threads a tiled kernel must keep resident per multiprocessor: half the 2,048 of sm_80/sm_90 (at most 64 registers a thread).</summary>
    public const int MinimumResidentThreads = 1024;

    /// <summary>Groups of <paramref name="groupSize"/> threads resident on one sm_80/sm_90 multiprocessor.</summary>
    public static int ResidentGroups(int groupSize, int registers, int sharedBytes)
    {
        int byThreads = Math.Min(2048 / groupSize, 32);
        int perThread = Math.Max(8, (registers + 7) / 8 * 8);
        int byRegisters = 65536 / (perThread * ((groupSize + 31) / 32 * 32));
        int byShared = sharedBytes == 0 ? int.MaxValue : 164 * 1024 / sharedBytes;
        return Math.Min(byThreads, Math.Min(byRegisters, byShared));
    }

    /// <summary>Why (kernel, arch) fails the report, or null: an ILGPU error, a ptxas error, or spills in a hot kernel.</summary>
    private string? Problem(GpuKernelMethod kernel, string arch, out PtxasResult? result)
    {
        result = null;
        var (_, error) = fixture.Ptx(kernel, arch);
        if (error is not null)
        {
            return $"{kernel.Id} ({arch}): {error.Message}";
        }

        result = fixture.Assemble(kernel, arch);
        if (!result.Succeeded)
        {
            return $"{kernel.Id} ({arch}): ptxas failed (exit code {result.ExitCode}):\n{result.Output}";
        }

        if (result.Functions.All(f => !f.IsEntry))
        {
            return $"{kernel.Id} ({arch}): ptxas reported no entry function:\n{result.Output}";
        }

        if (kernel.Hot && result.TotalSpillBytes > 0)
        {
            return $"{kernel.Id} ({arch}): a hot kernel spills {result.TotalSpillBytes} bytes:\n{result.Output}";
        }

        var entry = result.Functions.First(f => f.IsEntry);
        int resident = kernel.GroupSize == 0 ? int.MaxValue : kernel.GroupSize * ResidentGroups(kernel.GroupSize, entry.Registers, entry.SharedMemoryBytes);
        if (resident < MinimumResidentThreads)
        {
            return $"{kernel.Id} ({arch}): {entry.Registers} registers x {kernel.GroupSize} threads and {entry.SharedMemoryBytes} bytes of shared memory " +
                   $"keep {resident} threads resident per multiprocessor; the tiles are designed for at least {MinimumResidentThreads}:\n{result.Output}";
        }

        return null;
    }
}

namespace NetDsl.Gpu.Tests.Ptx;

/// <summary>The parsing of ptxas' verbose output (canned output: runs everywhere), and ptxas' errors surfacing (needs ptxas).</summary>
public class PtxasTests
{
    [Fact]
    public void ParsesRegistersSpillsSharedMemoryAndStackFramePerFunction()
    {
        const string output = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Function properties for helper
                16 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads
            ptxas info    : Compiling entry function 'Kernel_Gemm' for 'sm_90'
            ptxas info    : Function properties for Kernel_Gemm
                64 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads
            ptxas info    : Used 38 registers, 8192 bytes smem, 416 bytes cmem[0]
            """;
        var (functions, errors) = Ptxas.Parse(output);
        Assert.Empty(errors);
        var gemm = Assert.Single(functions, f => f.IsEntry);
        Assert.Equal("Kernel_Gemm", gemm.Name);
        Assert.Equal(38, gemm.Registers);
        Assert.Equal(8192, gemm.SharedMemoryBytes);
        Assert.Equal(64, gemm.StackFrameBytes);
        Assert.Equal((8, 12), (gemm.SpillStoreBytes, gemm.SpillLoadBytes));
        var helper = Assert.Single(functions, f => !f.IsEntry);
        Assert.Equal((16, 4, 4), (helper.StackFrameBytes, helper.SpillStoreBytes, helper.SpillLoadBytes));
        Assert.Equal(28, new PtxasResult(0, output, functions, errors).TotalSpillBytes);
    }

    [Fact]
    public void ParsesAKernelWithoutSharedMemory()
    {
        var (functions, _) = Ptxas.Parse("""
            ptxas info    : Compiling entry function 'Kernel_Dense' for 'sm_80'
            ptxas info    : Function properties for Kernel_Dense
                0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 14 registers, 416 bytes cmem[0]
            """);
        var dense = Assert.Single(functions);
        Assert.True(dense.IsEntry);
        Assert.Equal((14, 0, 0, 0, 0), (dense.Registers, dense.SharedMemoryBytes, dense.StackFrameBytes, dense.SpillStoreBytes, dense.SpillLoadBytes));
    }

    [Fact]
    public void CollectsErrors()
    {
        var (_, errors) = Ptxas.Parse("""
            ptxas kernel.ptx, line 1; fatal   : Unsupported .version 8.4; current version is '7.8'
            ptxas fatal   : Ptx assembly aborted due to errors
            """);
        Assert.Equal(2, errors.Count);
        Assert.Contains("Unsupported .version 8.4", errors[0]);
    }

    [SkippableFact]
    public void ReportsWhatPtxasRejects()
    {
        Skip.IfNot(Ptxas.IsAvailable, Ptxas.MissingMessage);
        var result = Ptxas.Assemble(".version 7.8\n.target sm_80\n.address_size 64\n.visible .entry K()\n{\n  bogus %r1;\n  ret;\n}\n", "sm_80");
        Assert.False(result.Succeeded);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(result.Errors, e => e.Contains("bogus", StringComparison.Ordinal));
    }
}

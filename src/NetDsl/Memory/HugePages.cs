using System.Runtime.InteropServices;

namespace NetDsl;

/// <summary>
/// Transparent huge pages for large arenas on Linux. Most kernels ship THP in <c>madvise</c> mode, so a plain
/// allocation gets 4 KB pages: a convolution that walks a 9 MB weight matrix row by row (2 KB apart, one row per
/// 4 KB page every other row) then misses the TLB on most rows. Asking for 2 MB pages before the memory is first
/// touched removes those misses. Best effort: where the call is unavailable or refused the arena keeps small pages.
/// </summary>
internal static unsafe partial class HugePages
{
    /// <summary>The huge page size the arena aligns to (x86-64 and arm64 Linux).</summary>
    public const nuint Size = 2 * 1024 * 1024;

    private const int MadviseHugePage = 14; // MADV_HUGEPAGE, linux/mman.h

    private static bool s_unavailable;

    /// <summary>Whether an allocation of <paramref name="bytes"/> should ask for huge pages.</summary>
    public static bool Worthwhile(nuint bytes) => OperatingSystem.IsLinux() && !s_unavailable && bytes >= 2 * Size;

    /// <summary>Advises huge pages for the whole 2 MB pages inside [p, p + bytes); p is 2 MB-aligned.</summary>
    public static void Advise(void* p, nuint bytes)
    {
        nuint whole = bytes / Size * Size;
        try
        {
            _ = Madvise(p, whole, MadviseHugePage); // a refusal (EINVAL where THP is off) only means small pages
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_unavailable = true;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}

using System.Buffers.Binary;
using System.Text;

namespace NetDsl.TorchBenchmarks;

/// <summary>
/// Makes TorchSharp 0.107's native glue load on Debian 12 (bookworm). <c>libLibTorchSharp.so</c> was linked against
/// GCC 13's libstdc++ and so lists the symbol version <c>GLIBCXX_3.4.32</c> among its needs, while bookworm's
/// libstdc++6 (GCC 12.2) ends at <c>GLIBCXX_3.4.30</c>: the dynamic loader refuses the library
/// ("version `GLIBCXX_3.4.32' not found"). The only symbol bound to that version is
/// <c>std::ios_base_library_init()</c>, which GCC 13's <c>&lt;iostream&gt;</c> references through a bare
/// <c>.globl</c> to pull in the version, with no relocation against it: it is never called (the library's other
/// libstdc++ needs, CXXABI_1.3.13 and GLIBCXX_3.4.30, bookworm has). LibTorch's own libraries need only
/// GLIBCXX_3.4.26. A newer libstdc++ is no way out here: trixie's libstdc++6 (GCC 14.2) needs glibc 2.38
/// (<c>__isoc23_strtoul</c>), bookworm has 2.36. So the copy of <c>libLibTorchSharp.so</c> in the build output (never
/// the NuGet cache) gets the <c>GLIBCXX_3.4.32</c> entry of its version-needs section marked
/// <c>VER_FLG_WEAK</c>: glibc then accepts a missing weak version silently, and everything else is checked as before.
/// Idempotent; done before TorchSharp first loads its native library (in every BenchmarkDotNet process).
/// </summary>
public static class LibStdCxxCompat
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;
    private const string Version = "GLIBCXX_3.4.32";

    /// <summary>Patches <c>libLibTorchSharp.so</c> next to the running assembly when it needs it; returns what it did.</summary>
    public static string EnsurePatched(string? directory = null)
    {
        directory ??= AppContext.BaseDirectory;
        string path = Path.Combine(directory, "libLibTorchSharp.so");
        if (!File.Exists(path))
        {
            path = Path.Combine(directory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        }

        if (!File.Exists(path))
        {
            return $"no libLibTorchSharp.so under {directory}";
        }

        if (SystemHas(Version))
        {
            return $"the system's libstdc++ has {Version}: nothing to do";
        }

        byte[] elf = File.ReadAllBytes(path);
        switch (MarkWeak(elf, Version))
        {
            case PatchResult.AlreadyWeak:
                return $"{path}: {Version} already weak";
            case PatchResult.NotNeeded:
                return $"{path}: does not need {Version}";
            case PatchResult.Patched:
                string temporary = path + ".patching";
                File.WriteAllBytes(temporary, elf);
                File.Move(temporary, path, overwrite: true);
                return $"{path}: {Version} marked weak";
            default:
                throw new InvalidOperationException($"{path}: not an ELF64 library with a version-needs section");
        }
    }

    /// <summary>What <see cref="MarkWeak"/> found.</summary>
    public enum PatchResult { NotElf, NotNeeded, AlreadyWeak, Patched }

    /// <summary>Sets VER_FLG_WEAK on every version-needs entry named <paramref name="version"/>, in place.</summary>
    public static PatchResult MarkWeak(byte[] elf, string version)
    {
        var span = elf.AsSpan();
        if (elf.Length < 64 || span[0] != 0x7f || span[1] != (byte)'E' || span[2] != (byte)'L' || span[3] != (byte)'F' || span[4] != 2 || span[5] != 1)
        {
            return PatchResult.NotElf; // ELF64 little-endian only
        }

        long shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        var result = PatchResult.NotElf;
        for (int s = 0; s < shnum; s++)
        {
            var sh = span[(int)(shoff + s * shentsize)..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed)
            {
                continue;
            }

            result = PatchResult.NotNeeded;
            long offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]);
            int link = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
            int count = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[0x2C..]);
            long strtab = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[(int)(shoff + link * shentsize + 0x18)..]);
            long need = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(need + 2)..]);
                long aux = need + BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(need + 8)..]);
                for (int a = 0; a < auxCount; a++)
                {
                    uint name = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(aux + 8)..]);
                    if (ReadString(span, strtab + name) == version)
                    {
                        var flags = span[(int)(aux + 4)..];
                        ushort value = BinaryPrimitives.ReadUInt16LittleEndian(flags);
                        if ((value & VerFlgWeak) != 0)
                        {
                            result = result == PatchResult.Patched ? result : PatchResult.AlreadyWeak;
                        }
                        else
                        {
                            BinaryPrimitives.WriteUInt16LittleEndian(flags, (ushort)(value | VerFlgWeak));
                            result = PatchResult.Patched;
                        }
                    }

                    aux += BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(aux + 12)..]);
                }

                need += BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(need + 12)..]);
            }
        }

        return result;
    }

    private static string ReadString(ReadOnlySpan<byte> span, long offset)
    {
        var rest = span[(int)offset..];
        return Encoding.ASCII.GetString(rest[..rest.IndexOf((byte)0)]);
    }

    private static bool SystemHas(string version)
    {
        foreach (string candidate in new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" })
        {
            if (File.Exists(candidate))
            {
                byte[] bytes = File.ReadAllBytes(candidate);
                return bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(version + "\0")) >= 0;
            }
        }

        return false;
    }
}

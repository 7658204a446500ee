using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace NetDslTrainer;

/// <summary>The checkpoint directory cannot be used (read-only, no permission, disk full, held by another trainer): exit code 4.</summary>
internal sealed class CheckpointStoreException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The checkpoint directory: sealed files written atomically, the newest valid one found again after a crash, the
/// last K kept.
/// </summary>
/// <remarks>
/// <para><b>Files.</b> <c>ckpt-{step}.safetensors</c>, the global step zero-padded to 10 digits, so the newest sorts
/// last. Each is one NetDsl checkpoint (<c>Network.SaveCheckpoint</c>: weights, optimizer state, <c>netdsl.*</c>
/// metadata) with the trainer's own <c>trainer.*</c> entries added to the safetensors <c>__metadata__</c> map (see
/// <see cref="TrainingLoop"/>), and sealed: <c>trainer.sha256</c> is the SHA-256 of the whole file as written with 64
/// zeros in place of that value. A file is one complete state, so there is no second file to keep in step with it,
/// and it stays a standard safetensors file that PyTorch's tools and <c>Network.LoadWeights</c>/<c>LoadCheckpoint</c>
/// read.</para>
/// <para><b>Writes.</b> To <c>.ckpt-{step}.safetensors.tmp-{pid}</c> in the same directory, flushed to the disk
/// (fsync), renamed to the final name (atomic on one file system; never over an existing file), then the directory
/// itself is synced so the rename survives a power cut. A crash leaves either no file or the complete one; a
/// failure (disk full, read-only) deletes the temporary file and changes nothing else.</para>
/// <para><b>Reads.</b> Newest first; a file that is truncated, damaged (seal mismatch), not a checkpoint, or written by
/// another run (other data, batch size, optimizer, seed or network: <see cref="Accept"/>) is reported with its name and
/// the reason and skipped, and the next older one is tried. Such a file is never deleted or overwritten: pruning
/// deletes only files this store verified as its run's own, and a new checkpoint whose name is taken is not written.</para>
/// <para><b>Exclusive.</b> <c>trainer.lock</c> is held open with an exclusive lock (released by the kernel when the
/// process dies, even by SIGKILL), so two trainers never share a directory, and the temporary files of a dead writer
/// can be removed safely.</para>
/// </remarks>
internal sealed class CheckpointStore : IDisposable
{
    /// <summary>The metadata key of the seal.</summary>
    public const string SealKey = "trainer.sha256";

    private const string FilePrefix = "ckpt-";
    private const string FileSuffix = ".safetensors";
    private const string TempMarker = ".tmp-";
    private const string LockName = "trainer.lock";
    private const string MetadataKey = "__metadata__";
    private const int MaxHeaderBytes = 100_000_000;
    private static readonly string Placeholder = new('0', 64);

    private readonly FileStream _lock;
    private readonly TextWriter _warnings;
    private readonly int _writeDelayMilliseconds;

    /// <summary>What is known of each file already looked at (by name, size and time), so pruning reads a file once.</summary>
    private readonly Dictionary<(string Name, long Length, DateTime Written), string?> _verdicts = [];

    private CheckpointStore(string directory, int keep, FileStream lockFile, TextWriter warnings, int writeDelayMilliseconds)
    {
        Directory = directory;
        Keep = keep;
        _lock = lockFile;
        _warnings = warnings;
        _writeDelayMilliseconds = writeDelayMilliseconds;
    }

    /// <summary>The directory (full path).</summary>
    public string Directory { get; }

    /// <summary>How many of this run's checkpoints are kept.</summary>
    public int Keep { get; }

    /// <summary>
    /// Decides whether a (sealed, intact) checkpoint belongs to this run: null if it does, otherwise why not. Files
    /// it rejects are skipped by <see cref="LoadNewest{T}"/> and never pruned.
    /// </summary>
    public Func<IReadOnlyDictionary<string, string>, string?> Accept { get; set; } = _ => null;

    /// <summary>
    /// Opens (creating it if needed) and locks <paramref name="directory"/>, checks that files can be created in it,
    /// and removes the temporary files a killed writer left behind.
    /// </summary>
    /// <exception cref="CheckpointStoreException">The directory cannot be created or written, or another trainer holds it.</exception>
    public static CheckpointStore Open(string directory, int keep, TextWriter warnings, int writeDelayMilliseconds = 0)
    {
        string full = Path.GetFullPath(directory);
        FileStream? lockFile = null;
        try
        {
            System.IO.Directory.CreateDirectory(full);
            // FileShare.None takes an exclusive advisory lock (flock) on Unix: a second trainer fails here ("... being
            // used by another process").
            lockFile = new FileStream(Path.Combine(full, LockName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);

            // A probe: a directory whose lock file exists may still refuse new files (read-only, full, no permission).
            string probe = Path.Combine(full, $".probe{TempMarker}{Environment.ProcessId}");
            File.WriteAllBytes(probe, new byte[4096]);
            File.Delete(probe);
            foreach (string pattern in new[] { "." + FilePrefix + "*" + TempMarker + "*", ".probe" + TempMarker + "*" })
            {
                foreach (string stale in System.IO.Directory.EnumerateFiles(full, pattern))
                {
                    File.Delete(stale); // a temporary file of a writer that died (we hold the lock): never a checkpoint, those have no leading dot
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            lockFile?.Dispose();
            throw new CheckpointStoreException($"Cannot use the checkpoint directory '{full}': {e.Message}", e);
        }

        return new CheckpointStore(full, keep, lockFile!, warnings, writeDelayMilliseconds);
    }

    /// <summary>The checkpoint files in the directory (by name, valid or not), newest (highest step) first.</summary>
    public IReadOnlyList<(string Path, long Step)> List()
    {
        var files = new List<(string, long)>();
        foreach (string path in System.IO.Directory.EnumerateFiles(Directory, FilePrefix + "*" + FileSuffix))
        {
            string name = Path.GetFileName(path);
            ReadOnlySpan<char> digits = name.AsSpan(FilePrefix.Length, name.Length - FilePrefix.Length - FileSuffix.Length);
            if (digits.Length > 0 && !digits.ContainsAnyExceptInRange('0', '9') && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long step))
            {
                files.Add((path, step));
            }
        }

        files.Sort((a, b) => b.Item2.CompareTo(a.Item2));
        return files;
    }

    /// <summary>The file name of the checkpoint after <paramref name="step"/> steps.</summary>
    public static string FileName(long step) => FilePrefix + step.ToString("D10", CultureInfo.InvariantCulture) + FileSuffix;

    /// <summary>
    /// Tries the checkpoints newest first: reads and verifies each (seal, <see cref="Accept"/>), then hands its bytes
    /// and metadata to <paramref name="load"/>, which restores it or throws <see cref="InvalidDataException"/>. Every
    /// file skipped is reported with its name and the reason. Returns the first one loaded, or null.
    /// </summary>
    public (string Path, T Value)? LoadNewest<T>(Func<byte[], IReadOnlyDictionary<string, string>, string, T> load)
    {
        foreach (var (path, step) in List())
        {
            string? problem;
            try
            {
                byte[] bytes = File.ReadAllBytes(path);
                var metadata = Verify(bytes, step);
                problem = Accept(metadata);
                if (problem is null)
                {
                    T value = load(bytes, metadata, path);
                    Remember(path, null);
                    return (path, value);
                }
            }
            catch (InvalidDataException e)
            {
                problem = e.Message;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = $"cannot be read: {e.Message}";
            }

            Remember(path, problem);
            _warnings.WriteLine($"warning: skipping checkpoint '{path}': {problem}; trying the previous one.");
        }

        return null;
    }

    /// <summary>
    /// Writes the sealed checkpoint of <paramref name="step"/> atomically, then deletes this run's checkpoints beyond
    /// the newest <see cref="Keep"/>. Returns the file's path, or null when the name is taken: by this run's own
    /// checkpoint of the same step (the same state: a resumed run repeats the steps bit for bit) or by a file that is
    /// not (never overwritten; a warning says so).
    /// </summary>
    /// <exception cref="CheckpointStoreException">The file could not be written (disk full, read-only); nothing was left behind.</exception>
    public string? Write(long step, byte[] content)
    {
        string path = Path.Combine(Directory, FileName(step));
        if (File.Exists(path))
        {
            string? problem = Examine(path, step);
            if (problem is not null)
            {
                _warnings.WriteLine($"warning: not writing checkpoint '{path}': a file of that name is there and is not this run's ({problem}); it is left as it is.");
            }

            return null;
        }

        string temp = Path.Combine(Directory, $".{FileName(step)}{TempMarker}{Environment.ProcessId}");
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                int half = _writeDelayMilliseconds > 0 ? content.Length / 2 : content.Length;
                stream.Write(content, 0, half);
                if (half < content.Length)
                {
                    stream.Flush();
                    Thread.Sleep(_writeDelayMilliseconds); // tests kill the process here: a half-written temporary file
                    stream.Write(content, half, content.Length - half);
                }

                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: false);
            SyncDirectory(Directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new CheckpointStoreException($"Cannot write checkpoint {FileName(step)} to the directory '{Directory}': {e.Message} (the checkpoints already there are unchanged).", e);
        }

        Remember(path, null);
        Prune();
        return path;
    }

    /// <inheritdoc/>
    public void Dispose() => _lock.Dispose();

    /// <summary>
    /// Adds <paramref name="entries"/> to the <c>__metadata__</c> of a safetensors file and seals it (see the remarks):
    /// the tensors and their data are unchanged; the header is rewritten and padded to a multiple of 8 bytes.
    /// </summary>
    public static byte[] Seal(byte[] safetensors, IEnumerable<KeyValuePair<string, string>> entries)
    {
        var (header, dataStart) = SplitHeader(safetensors);
        using var document = JsonDocument.Parse(header);
        var buffer = new ArrayBufferWriter<byte>(header.Length + 1024);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal);
            if (document.RootElement.TryGetProperty(MetadataKey, out var existing))
            {
                foreach (var entry in existing.EnumerateObject())
                {
                    metadata[entry.Name] = entry.Value.GetString() ?? "";
                }
            }

            foreach (var (key, value) in entries)
            {
                if (!metadata.TryAdd(key, value))
                {
                    throw new ArgumentException($"The metadata already has '{key}'.", nameof(entries));
                }
            }

            metadata.Add(SealKey, Placeholder);
            json.WriteStartObject();
            json.WriteStartObject(MetadataKey);
            foreach (var (key, value) in metadata)
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!property.NameEquals(MetadataKey))
                {
                    property.WriteTo(json);
                }
            }

            json.WriteEndObject();
        }

        int headerLength = (buffer.WrittenCount + 7) / 8 * 8;
        int dataLength = safetensors.Length - dataStart;
        var result = new byte[8 + headerLength + dataLength];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)headerLength);
        buffer.WrittenSpan.CopyTo(result.AsSpan(8));
        result.AsSpan(8 + buffer.WrittenCount, headerLength - buffer.WrittenCount).Fill((byte)' ');
        safetensors.AsSpan(dataStart).CopyTo(result.AsSpan(8 + headerLength));
        int seal = SealPosition(result.AsSpan(8, headerLength)) + 8;
        Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(result))).CopyTo(result.AsSpan(seal));
        return result;
    }

    /// <summary>
    /// Checks that <paramref name="file"/> is a complete, sealed checkpoint of step <paramref name="step"/> and returns
    /// its metadata; <see cref="InvalidDataException"/> says what is wrong (in words for the user).
    /// </summary>
    public static Dictionary<string, string> Verify(byte[] file, long step)
    {
        var (header, _) = SplitHeader(file);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var document = JsonDocument.Parse(header);
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty(MetadataKey, out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("it is not a checkpoint of this trainer (its header has no metadata)");
            }

            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String || !metadata.TryAdd(entry.Name, entry.Value.GetString()!))
                {
                    throw new InvalidDataException($"its metadata entry '{entry.Name}' is not a single string (corrupt)");
                }
            }
        }
        catch (JsonException)
        {
            throw new InvalidDataException("its header is not valid JSON (corrupt)");
        }

        if (!metadata.TryGetValue(SealKey, out string? expected) || expected.Length != 64 || expected.AsSpan().ContainsAnyExcept("0123456789abcdef"))
        {
            throw new InvalidDataException($"it is not a checkpoint of this trainer (no {SealKey} seal)");
        }

        int seal = SealPosition(header.Span) + 8;
        if (seal < 8 || !file.AsSpan(seal, 64).SequenceEqual(Encoding.ASCII.GetBytes(expected)))
        {
            throw new InvalidDataException($"its {SealKey} seal cannot be located (corrupt)");
        }

        // The hash of the file as it was sealed: the seal's value replaced by the zeros it was computed over.
        byte[] sealedOver = (byte[])file.Clone();
        Encoding.ASCII.GetBytes(Placeholder).CopyTo(sealedOver.AsSpan(seal));
        if (Convert.ToHexStringLower(SHA256.HashData(sealedOver)) != expected)
        {
            throw new InvalidDataException("its content does not match its SHA-256 seal: the file was damaged after it was written (truncated, overwritten or changed)");
        }

        if (!metadata.TryGetValue("trainer.step", out string? stored) || stored != step.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidDataException($"its name says step {step} but it holds step '{stored ?? "none"}' (renamed?)");
        }

        return metadata;
    }

    /// <summary>The JSON header of a safetensors file and where its data section starts.</summary>
    private static (ReadOnlyMemory<byte> Header, int DataStart) SplitHeader(byte[] file)
    {
        if (file.Length < 8)
        {
            throw new InvalidDataException($"it is {file.Length} bytes long, too short for a safetensors file (truncated)");
        }

        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (length > MaxHeaderBytes || length > (ulong)(file.Length - 8))
        {
            throw new InvalidDataException($"it declares a {length}-byte header but holds {file.Length - 8} bytes after the length field (truncated, or not a safetensors file)");
        }

        return (file.AsMemory(8, (int)length), 8 + (int)length);
    }

    /// <summary>Where the seal's 64 hex digits start in <paramref name="header"/>, or -1.</summary>
    private static int SealPosition(ReadOnlySpan<byte> header)
    {
        ReadOnlySpan<byte> key = "\"trainer.sha256\":\""u8;
        int at = header.IndexOf(key);
        return at < 0 || header[(at + 1)..].IndexOf(key) >= 0 || at + key.Length + 64 > header.Length ? -1 : at + key.Length;
    }

    /// <summary>Whether the file at <paramref name="path"/> is this run's intact checkpoint of <paramref name="step"/>: null if so, otherwise why not (remembered).</summary>
    private string? Examine(string path, long step)
    {
        var info = new FileInfo(path);
        var key = (info.Name, info.Length, info.LastWriteTimeUtc);
        if (_verdicts.TryGetValue(key, out string? known))
        {
            return known;
        }

        string? problem;
        try
        {
            problem = Accept(Verify(File.ReadAllBytes(path), step));
        }
        catch (InvalidDataException e)
        {
            problem = e.Message;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"cannot be read: {e.Message}";
        }

        _verdicts[key] = problem;
        return problem;
    }

    private void Remember(string path, string? problem)
    {
        var info = new FileInfo(path);
        _verdicts[(info.Name, info.Length, info.LastWriteTimeUtc)] = problem;
    }

    /// <summary>Deletes this run's own intact checkpoints beyond the newest <see cref="Keep"/>; other files stay.</summary>
    private void Prune()
    {
        int kept = 0;
        foreach (var (path, step) in List())
        {
            if (Examine(path, step) is not null)
            {
                continue; // not this run's, or damaged: not ours to delete
            }

            if (++kept > Keep)
            {
                try
                {
                    File.Delete(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _warnings.WriteLine($"warning: cannot delete the old checkpoint '{path}': {e.Message}");
                }
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: Open removes leftovers the next time
        }
    }

    /// <summary>fsync on the directory, so that a rename in it is on the disk (POSIX; elsewhere the rename is enough).</summary>
    private static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        try
        {
            int fd = Posix.Open(directory, 0 /* O_RDONLY */);
            if (fd >= 0)
            {
                _ = Posix.FSync(fd);
                _ = Posix.Close(fd);
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // no C library to call (an unusual platform): the rename is atomic all the same, only its durability waits for the OS
        }
    }

    private static class Posix
    {
        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        public static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
        public static extern int FSync(int fd);

        [DllImport("libc", EntryPoint = "close")]
        public static extern int Close(int fd);
    }
}

using System.Buffers.Binary;
using System.IO.Compression;

namespace NetDsl.Data;

/// <summary>
/// Reads unsigned-byte IDX files, the format of the MNIST and Fashion-MNIST distributions, raw or gzip-compressed
/// (recognised by the gzip magic bytes <c>1F 8B</c>).
/// </summary>
/// <remarks>
/// An IDX file is a header followed by the data: two zero bytes, a type byte (only <c>0x08</c>, unsigned byte,
/// is supported), the number of dimensions (1 to 4), then each dimension as a big-endian 32-bit integer. Every
/// input is validated; malformed files raise <see cref="InvalidDataException"/> (or
/// <see cref="NotSupportedException"/> for a valid but unsupported element type) whose message names the file and
/// the problem. A header cannot make the reader allocate much more than the data actually present.
/// </remarks>
public static class Idx
{
    /// <summary>The largest number of data bytes an IDX file may declare (the largest byte array .NET allows).</summary>
    public static readonly long MaxDataBytes = Array.MaxLength;

    private const byte UnsignedByteType = 0x08;
    private const int InitialChunk = 1 << 20;
    private const int TrailingCountLimit = 1 << 16;

    /// <summary>Reads an unsigned-byte IDX file, raw or gzip-compressed.</summary>
    /// <param name="path">The file to read.</param>
    /// <returns>The file's dimensions and bytes.</returns>
    /// <exception cref="InvalidDataException">The file is not a well-formed IDX file (bad magic, bad dimensions,
    /// truncated, trailing bytes, corrupt gzip data).</exception>
    /// <exception cref="NotSupportedException">The file holds an element type other than unsigned bytes.</exception>
    public static IdxArray Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Read(file, path);
    }

    /// <summary>Reads an unsigned-byte IDX file, raw or gzip-compressed, from the current position of
    /// <paramref name="stream"/> to its end. The stream is not closed.</summary>
    /// <param name="stream">The stream to read.</param>
    /// <param name="sourceName">What to call the stream in error messages (for example its file name).</param>
    /// <returns>The file's dimensions and bytes.</returns>
    /// <exception cref="InvalidDataException">The stream is not a well-formed IDX file.</exception>
    /// <exception cref="NotSupportedException">The stream holds an element type other than unsigned bytes.</exception>
    public static IdxArray Read(Stream stream, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        string source = sourceName ?? "IDX stream";

        var signature = new byte[2];
        int got = stream.ReadAtLeast(signature, signature.Length, throwOnEndOfStream: false);
        if (got == 2 && signature[0] == 0x1F && signature[1] == 0x8B)
        {
            string gzipSource = source + " (gzip)";
            using var compressed = new GzipSourceStream(signature, stream);
            using var gzip = new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: true);
            IdxArray array = ReadIdx(gzip, gzipSource, ReadOnlySpan<byte>.Empty, remaining: null);
            compressed.VerifyTrailer(gzipSource, array);
            return array;
        }

        long? remaining = stream.CanSeek ? Math.Max(0, stream.Length - stream.Position) : null;
        return ReadIdx(stream, source, signature.AsSpan(0, got), remaining);
    }

    /// <summary>Loads an image file (dimensions count x rows x columns) and a label file (dimension count) as a
    /// <see cref="Dataset"/>: pixels scaled to [0, 1] by <c>byte / 255f</c>, sample shape <c>[1, rows, columns]</c>.</summary>
    /// <param name="imagesPath">The IDX image file (raw or gzip).</param>
    /// <param name="labelsPath">The IDX label file (raw or gzip).</param>
    /// <exception cref="InvalidDataException">A file is malformed, has the wrong number of dimensions, or the
    /// image and label counts differ.</exception>
    /// <exception cref="NotSupportedException">A file holds an element type other than unsigned bytes.</exception>
    public static Dataset LoadDataset(string imagesPath, string labelsPath)
    {
        ArgumentNullException.ThrowIfNull(imagesPath);
        ArgumentNullException.ThrowIfNull(labelsPath);
        return ToDataset(Read(imagesPath), imagesPath, Read(labelsPath), labelsPath);
    }

    /// <summary>Loads an image stream and a label stream as a <see cref="Dataset"/>; see
    /// <see cref="LoadDataset(string, string)"/>. The streams are not closed.</summary>
    /// <param name="images">The IDX image data (raw or gzip).</param>
    /// <param name="labels">The IDX label data (raw or gzip).</param>
    /// <param name="imagesName">What to call the image stream in error messages.</param>
    /// <param name="labelsName">What to call the label stream in error messages.</param>
    /// <exception cref="InvalidDataException">A stream is malformed, has the wrong number of dimensions, or the
    /// image and label counts differ.</exception>
    /// <exception cref="NotSupportedException">A stream holds an element type other than unsigned bytes.</exception>
    public static Dataset LoadDataset(Stream images, Stream labels, string? imagesName = null, string? labelsName = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        imagesName ??= "image stream";
        labelsName ??= "label stream";
        return ToDataset(Read(images, imagesName), imagesName, Read(labels, labelsName), labelsName);
    }

    /// <summary>
    /// Loads one split of an MNIST-style directory: <c>{split}-images-idx3-ubyte</c> and
    /// <c>{split}-labels-idx1-ubyte</c>, each found as <c>.gz</c>, uncompressed, or with the <c>.idx3-ubyte</c> /
    /// <c>.idx1-ubyte</c> spelling of some mirrors, in that order of preference. For MNIST and Fashion-MNIST the
    /// splits are <c>"train"</c> and <c>"t10k"</c>. See <see cref="LoadDataset(string, string)"/> for the result.
    /// </summary>
    /// <param name="directory">The directory holding the files.</param>
    /// <param name="split">The file name prefix, e.g. <c>"train"</c> or <c>"t10k"</c>.</param>
    /// <exception cref="FileNotFoundException">No candidate file exists; the message lists the names tried.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, or the image and label counts differ.</exception>
    public static Dataset LoadSplit(string directory, string split)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(split);
        return LoadDataset(FindSplitFile(directory, split, "images", 3), FindSplitFile(directory, split, "labels", 1));
    }

    private static string FindSplitFile(string directory, string split, string kind, int rank)
    {
        string[] names =
        [
            $"{split}-{kind}-idx{rank}-ubyte.gz",
            $"{split}-{kind}-idx{rank}-ubyte",
            $"{split}-{kind}.idx{rank}-ubyte.gz",
            $"{split}-{kind}.idx{rank}-ubyte",
        ];
        foreach (string name in names)
        {
            string path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException(
            $"No {kind} file for split '{split}' in {directory}; tried {string.Join(", ", names)}.",
            Path.Combine(directory, names[0]));
    }

    private static Dataset ToDataset(IdxArray images, string imagesName, IdxArray labels, string labelsName)
    {
        if (images.Dimensions.Length != 3)
        {
            throw new InvalidDataException(
                $"{imagesName}: an image file needs 3 dimensions (count, rows, columns) but has " +
                $"{images.Dimensions.Length}: [{string.Join(", ", images.Dimensions.ToArray())}].");
        }

        if (labels.Dimensions.Length != 1)
        {
            throw new InvalidDataException(
                $"{labelsName}: a label file needs 1 dimension (count) but has " +
                $"{labels.Dimensions.Length}: [{string.Join(", ", labels.Dimensions.ToArray())}].");
        }

        if (images.Count != labels.Count)
        {
            throw new InvalidDataException(
                $"Image count {images.Count} ({imagesName}) does not match label count {labels.Count} ({labelsName}).");
        }

        byte[] pixels = images.Data;
        var features = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++)
        {
            features[i] = pixels[i] / 255f;
        }

        var labelValues = new int[labels.Count];
        for (int i = 0; i < labelValues.Length; i++)
        {
            labelValues[i] = labels.Data[i];
        }

        return new Dataset(features, labelValues, 1, images.Dimensions[1], images.Dimensions[2]);
    }

    private static IdxArray ReadIdx(Stream stream, string source, ReadOnlySpan<byte> prefix, long? remaining)
    {
        // Fixed part of the header: 0, 0, type, number of dimensions.
        Span<byte> head = stackalloc byte[4 + 4 * 4];
        prefix.CopyTo(head);
        int have = prefix.Length + ReadFully(stream, head[prefix.Length..4], source);
        if (have < 4)
        {
            throw new InvalidDataException($"{source}: truncated header: expected at least 4 bytes, got {have}.");
        }

        if (head[0] != 0 || head[1] != 0)
        {
            throw new InvalidDataException(
                $"{source}: bad magic number 0x{BinaryPrimitives.ReadUInt32BigEndian(head):X8}: an IDX file starts with " +
                "two zero bytes, a type byte and a dimension count (a gzip file starts with 1F 8B).");
        }

        byte type = head[2];
        if (type != UnsignedByteType)
        {
            string? name = type switch
            {
                0x09 => "signed byte",
                0x0B => "int16",
                0x0C => "int32",
                0x0D => "float32",
                0x0E => "float64",
                _ => null,
            };
            if (name is null)
            {
                throw new InvalidDataException(
                    $"{source}: unknown IDX element type 0x{type:X2} (known types: 08, 09, 0B, 0C, 0D, 0E).");
            }

            throw new NotSupportedException(
                $"{source}: IDX element type 0x{type:X2} ({name}) is not supported; only 0x08 (unsigned byte) is.");
        }

        int rank = head[3];
        if (rank is < 1 or > 4)
        {
            throw new InvalidDataException($"{source}: the header declares {rank} dimensions; 1 to 4 are supported.");
        }

        int headerLength = 4 + 4 * rank;
        have += ReadFully(stream, head[have..headerLength], source);
        if (have < headerLength)
        {
            throw new InvalidDataException(
                $"{source}: truncated header: expected {headerLength} bytes for {rank} dimensions, got {have}.");
        }

        var dims = new int[rank];
        long total = 1;
        for (int i = 0; i < rank; i++)
        {
            uint dim = BinaryPrimitives.ReadUInt32BigEndian(head.Slice(4 + 4 * i, 4));
            if (dim == 0)
            {
                throw new InvalidDataException($"{source}: dimension {i} is 0; every dimension must be positive.");
            }

            // Each dimension is below 2^32 and the running total stays at most MaxDataBytes (< 2^31): no overflow.
            total *= dim;
            if (total > MaxDataBytes)
            {
                throw new InvalidDataException(
                    $"{source}: the header declares dimensions [{DescribeDims(head, rank)}], more than the " +
                    $"{MaxDataBytes}-byte limit.");
            }

            dims[i] = (int)dim;
        }

        if (remaining is long streamRemaining)
        {
            long available = streamRemaining - (headerLength - prefix.Length);
            if (available < total)
            {
                throw Truncated(source, dims, total, Math.Max(0, available));
            }

            if (available > total)
            {
                throw Trailing(source, total, $"{available - total}");
            }
        }

        byte[] data = ReadData(stream, source, dims, (int)total);

        Span<byte> probe = stackalloc byte[4096];
        long extra = 0;
        int n;
        while (extra <= TrailingCountLimit && (n = ReadSome(stream, probe, source)) > 0)
        {
            extra += n;
        }

        if (extra > 0)
        {
            throw Trailing(source, total, extra > TrailingCountLimit ? $"more than {TrailingCountLimit}" : $"{extra}");
        }

        return new IdxArray(dims, data);
    }

    private static byte[] ReadData(Stream stream, string source, int[] dims, int total)
    {
        // Grow the buffer as data arrives rather than trusting the header: a short file with a huge declared size
        // costs at most twice the data actually present.
        var data = new byte[Math.Min(total, InitialChunk)];
        int filled = 0;
        while (filled < total)
        {
            if (filled == data.Length)
            {
                Array.Resize(ref data, (int)Math.Min(total, 2L * data.Length));
            }

            int n = ReadSome(stream, data.AsSpan(filled), source);
            if (n == 0)
            {
                throw Truncated(source, dims, total, filled);
            }

            filled += n;
        }

        return data;
    }

    private static int ReadFully(Stream stream, Span<byte> buffer, string source)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = ReadSome(stream, buffer[filled..], source);
            if (n == 0)
            {
                break;
            }

            filled += n;
        }

        return filled;
    }

    private static int ReadSome(Stream stream, Span<byte> buffer, string source)
    {
        try
        {
            return stream.Read(buffer);
        }
        catch (InvalidDataException e)
        {
            // Raised by GZipStream for corrupt compressed data.
            throw new InvalidDataException($"{source}: corrupt compressed data: {e.Message}", e);
        }
    }

    private static InvalidDataException Truncated(string source, int[] dims, long expected, long actual) =>
        new($"{source}: truncated data: the header declares [{string.Join(", ", dims)}] = {expected} data bytes " +
            $"but only {actual} follow the header.");

    private static InvalidDataException Trailing(string source, long expected, string extra) =>
        new($"{source}: trailing bytes: {extra} bytes follow the {expected} data bytes the header declares.");

    private static string DescribeDims(ReadOnlySpan<byte> head, int rank)
    {
        var parts = new string[rank];
        for (int i = 0; i < rank; i++)
        {
            parts[i] = BinaryPrimitives.ReadUInt32BigEndian(head.Slice(4 + 4 * i, 4)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return string.Join(", ", parts);
    }

    /// <summary>
    /// The compressed input of a gzip file: a few already-read bytes, then the rest of another stream (which it does
    /// not close). It remembers the last 8 bytes read so that the gzip trailer can be checked once decompression is
    /// done: <see cref="GZipStream"/> accepts a file whose trailer is cut off and ignores bytes after the last member.
    /// </summary>
    private sealed class GzipSourceStream(byte[] prefix, Stream inner) : Stream
    {
        private readonly byte[] _tail = new byte[8];
        private int _offset;
        private long _total;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n;
            if (_offset < prefix.Length)
            {
                n = Math.Min(buffer.Length, prefix.Length - _offset);
                prefix.AsSpan(_offset, n).CopyTo(buffer);
                _offset += n;
            }
            else
            {
                n = inner.Read(buffer);
            }

            Remember(buffer[..n]);
            return n;
        }

        /// <summary>Reads the compressed input to its end and checks that it ends with a gzip trailer (CRC-32 and
        /// length) matching the end of <paramref name="array"/>'s data.</summary>
        public void VerifyTrailer(string source, IdxArray array)
        {
            Span<byte> scratch = stackalloc byte[4096];
            long drained = 0;
            int n;
            while ((n = Read(scratch)) > 0)
            {
                drained += n;
                if (drained > TrailingCountLimit)
                {
                    throw new InvalidDataException(
                        $"{source}: trailing bytes: more than {TrailingCountLimit} bytes follow the compressed data.");
                }
            }

            // Without multi-member files this is the whole data; with them, the last member's share of it (an empty
            // last member is refused: eight zero bytes after the data would otherwise pass for its trailer).
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(_tail);
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(_tail.AsSpan(4));
            byte[] data = array.Data;
            int header = 4 + (4 * array.Dimensions.Length);
            long decompressed = header + (long)data.Length;
            bool valid = _total >= 18 && size >= 1 && size <= decompressed &&
                Crc32(array, header, decompressed - size) == crc;
            if (!valid)
            {
                throw new InvalidDataException(
                    $"{source}: the gzip trailer (CRC-32 and length) is missing or does not match the " +
                    $"{decompressed} decompressed bytes: the file is truncated or has trailing bytes.");
            }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private void Remember(ReadOnlySpan<byte> bytes)
        {
            _total += bytes.Length;
            if (bytes.Length >= _tail.Length)
            {
                bytes[^_tail.Length..].CopyTo(_tail);
            }
            else if (bytes.Length > 0)
            {
                _tail.AsSpan(bytes.Length).CopyTo(_tail);
                bytes.CopyTo(_tail.AsSpan(_tail.Length - bytes.Length));
            }
        }

        // CRC-32 (IEEE 802.3, reflected, as in gzip) of the decompressed bytes from position start to the end; the
        // decompressed bytes are the IDX header (rebuilt from the dimensions) followed by the data.
        private static uint Crc32(IdxArray array, int headerLength, long start)
        {
            Span<byte> header = stackalloc byte[headerLength];
            header[2] = UnsignedByteType;
            header[3] = (byte)array.Dimensions.Length;
            for (int i = 0; i < array.Dimensions.Length; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(header.Slice(4 + (4 * i), 4), array.Dimensions[i]);
            }

            uint crc = 0xFFFFFFFFu;
            if (start < headerLength)
            {
                crc = Crc32Update(crc, header[(int)start..]);
                start = headerLength;
            }

            crc = Crc32Update(crc, array.Data.AsSpan((int)(start - headerLength)));
            return ~crc;
        }
    }

    private static readonly uint[] CrcTable = BuildCrcTable();

    private static uint[] BuildCrcTable()
    {
        // Slicing-by-4 tables: CrcTable[k * 256 + b] advances the CRC by byte b followed by k zero bytes.
        var table = new uint[4 * 256];
        for (uint b = 0; b < 256; b++)
        {
            uint c = b;
            for (int bit = 0; bit < 8; bit++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[b] = c;
        }

        for (int k = 1; k < 4; k++)
        {
            for (int b = 0; b < 256; b++)
            {
                uint previous = table[((k - 1) * 256) + b];
                table[(k * 256) + b] = (previous >> 8) ^ table[previous & 0xFF];
            }
        }

        return table;
    }

    private static uint Crc32Update(uint crc, ReadOnlySpan<byte> bytes)
    {
        uint[] t = CrcTable;
        int i = 0;
        for (; i + 4 <= bytes.Length; i += 4)
        {
            crc ^= BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(i, 4));
            crc = t[768 + (crc & 0xFF)] ^ t[512 + ((crc >> 8) & 0xFF)] ^ t[256 + ((crc >> 16) & 0xFF)] ^ t[crc >> 24];
        }

        for (; i < bytes.Length; i++)
        {
            crc = t[(crc ^ bytes[i]) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }
}

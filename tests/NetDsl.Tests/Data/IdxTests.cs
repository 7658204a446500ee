using NetDsl.Data;
using Xunit;
using static NetDsl.Tests.Data.IdxTestFiles;

namespace NetDsl.Tests.Data;

public class IdxTests
{
    private static readonly uint[] ImageDims = [3, 2, 4];

    public static TheoryData<bool> RawAndGzip => new() { false, true };

    private static byte[] Encode(byte[] raw, bool gzip) => gzip ? Gzip(raw) : raw;

    [Theory]
    [MemberData(nameof(RawAndGzip))]
    public void Read_file_round_trips_dims_and_bytes(bool gzip)
    {
        using var dir = new TempDir();
        byte[] data = Sequence(24);
        string path = dir.Write("images.idx", Encode(Ubyte(ImageDims, data), gzip));

        IdxArray array = Idx.Read(path);

        Assert.Equal([3, 2, 4], array.Dimensions.ToArray());
        Assert.Equal(3, array.Count);
        Assert.Equal(8, array.ItemSize);
        Assert.Equal(data, array.Data);
    }

    [Theory]
    [MemberData(nameof(RawAndGzip))]
    public void Read_non_seekable_stream_round_trips(bool gzip)
    {
        byte[] data = Sequence(2 * 3 * 5 * 7, seed: 11);
        using var stream = new NonSeekableStream(Encode(Ubyte([2, 3, 5, 7], data), gzip));

        IdxArray array = Idx.Read(stream, "pipe");

        Assert.Equal([2, 3, 5, 7], array.Dimensions.ToArray());
        Assert.Equal(data, array.Data);
    }

    [Fact]
    public void Read_one_dimensional_file()
    {
        byte[] labels = [9, 0, 0, 3, 255];
        using var stream = new MemoryStream(Ubyte([5], labels));

        IdxArray array = Idx.Read(stream);

        Assert.Equal([5], array.Dimensions.ToArray());
        Assert.Equal(1, array.ItemSize);
        Assert.Equal(labels, array.Data);
    }

    [Fact]
    public void Read_data_larger_than_the_initial_chunk_from_gzip()
    {
        // 3 MiB: exercises the growing buffer used when the decompressed length is unknown.
        byte[] data = Sequence(3 << 20, seed: 3);
        using var stream = new MemoryStream(Gzip(Ubyte([3, 1024, 1024], data)));

        Assert.Equal(data, Idx.Read(stream).Data);
    }

    [Theory]
    [MemberData(nameof(RawAndGzip))]
    public void LoadDataset_scales_pixels_and_shapes_samples(bool gzip)
    {
        using var dir = new TempDir();
        byte[] pixels = Sequence(24);
        pixels[0] = 0;
        pixels[1] = 255;
        string images = dir.Write("images", Encode(Ubyte(ImageDims, pixels), gzip));
        string labels = dir.Write("labels", Encode(Ubyte([3], [7, 0, 2]), gzip));

        Dataset dataset = Idx.LoadDataset(images, labels);

        Assert.Equal(3, dataset.Count);
        Assert.Equal([1, 2, 4], dataset.SampleShape.ToArray());
        Assert.Equal(8, dataset.SampleSize);
        Assert.Equal([7, 0, 2], dataset.Labels);
        Assert.Equal(0f, dataset.Features[0]);
        Assert.Equal(1f, dataset.Features[1]);
        for (int i = 0; i < pixels.Length; i++)
        {
            Assert.Equal(pixels[i] / 255f, dataset.Features[i]);
        }

        Assert.Equal(pixels[16] / 255f, dataset.GetSample(2)[0]);
    }

    [Theory]
    [MemberData(nameof(RawAndGzip))]
    public void Wrong_magic_is_rejected(bool gzip)
    {
        byte[] raw = Build(0x12, 0x34, 0x08, 1, [2], [1, 2]);
        using var stream = new MemoryStream(Encode(raw, gzip));

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream, "bad.idx"));

        Assert.Contains("bad.idx", e.Message);
        Assert.Contains("magic", e.Message);
        Assert.Contains("0x12340801", e.Message);
    }

    [Theory]
    [InlineData(0x0D, "float32")]
    [InlineData(0x0E, "float64")]
    [InlineData(0x0C, "int32")]
    [InlineData(0x0B, "int16")]
    [InlineData(0x09, "signed byte")]
    public void Other_idx_element_types_are_not_supported(byte type, string name)
    {
        using var stream = new MemoryStream(Build(type, [1], new byte[8]));

        var e = Assert.Throws<NotSupportedException>(() => Idx.Read(stream, "typed.idx"));

        Assert.Contains("typed.idx", e.Message);
        Assert.Contains($"0x{type:X2}", e.Message);
        Assert.Contains(name, e.Message);
    }

    [Fact]
    public void Unknown_element_type_is_invalid_data()
    {
        using var stream = new MemoryStream(Build(0x42, [1], [0]));

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream));

        Assert.Contains("0x42", e.Message);
        Assert.Contains("type", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(255)]
    public void Dimension_count_outside_1_to_4_is_rejected(byte rank)
    {
        using var stream = new MemoryStream(Build(0, 0, 0x08, rank, [], new byte[64]));

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream));

        Assert.Contains($"{rank} dimensions", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void Header_shorter_than_four_bytes_is_truncated(int length)
    {
        byte[] bytes = Ubyte([1], [5])[..length];
        using var stream = new MemoryStream(bytes);

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream, "tiny.idx"));

        Assert.Contains("tiny.idx", e.Message);
        Assert.Contains("truncated header", e.Message);
        Assert.Contains($"got {length}", e.Message);
    }

    [Theory]
    [MemberData(nameof(RawAndGzip))]
    public void Header_cut_inside_the_dimensions_is_truncated(bool gzip)
    {
        byte[] raw = Ubyte(ImageDims, [])[..10]; // 3 dimensions need 16 header bytes
        using var stream = new MemoryStream(Encode(raw, gzip));

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream, "cut.idx"));

        Assert.Contains("truncated header", e.Message);
        Assert.Contains("expected 16", e.Message);
        Assert.Contains("got 10", e.Message);
    }

    [Theory]
    [MemberData(nameof(RawAndGzip))]
    public void Truncated_data_names_file_and_byte_counts(bool gzip)
    {
        using var dir = new TempDir();
        byte[] raw = Ubyte(ImageDims, Sequence(24))[..^5]; // 19 of 24 data bytes
        string path = dir.Write("short.idx", Encode(raw, gzip));

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(path));

        Assert.Contains(path, e.Message);
        Assert.Contains("truncated data", e.Message);
        Assert.Contains("24 data bytes", e.Message);
        Assert.Contains("only 19", e.Message);
    }

    [Fact]
    public void Truncated_data_in_non_seekable_stream_names_byte_counts()
    {
        using var stream = new NonSeekableStream(Ubyte(ImageDims, Sequence(24))[..^1]);

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream, "pipe"));

        Assert.Contains("24 data bytes", e.Message);
        Assert.Contains("only 23", e.Message);
    }

    [Fact]
    public void Cut_gzip_file_is_invalid_data()
    {
        byte[] gz = Gzip(Ubyte([4096], Sequence(4096)));
        using var stream = new MemoryStream(gz[..(gz.Length / 2)]);

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream, "cut.gz"));

        Assert.Contains("cut.gz", e.Message);
    }

    [Fact]
    public void Corrupt_gzip_data_is_invalid_data()
    {
        byte[] gz = Gzip(Ubyte([4096], Sequence(4096)));
        for (int i = 12; i < gz.Length - 8; i++)
        {
            gz[i] ^= 0x5A;
        }

        using var stream = new MemoryStream(gz);

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream, "corrupt.gz"));

        Assert.Contains("corrupt.gz", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(8)]
    public void Gzip_with_cut_trailer_is_rejected(int cut)
    {
        // GZipStream alone accepts a member whose CRC/length trailer is missing; the reader must not.
        byte[] gz = Gzip(Ubyte(ImageDims, Sequence(24)));
        using var stream = new MemoryStream(gz[..^cut]);

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream, "cut-trailer.gz"));

        Assert.Contains("cut-trailer.gz", e.Message);
        Assert.Contains("trailer", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 })]
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    public void Bytes_after_the_gzip_member_are_rejected(byte[] garbage)
    {
        byte[] gz = [.. Gzip(Ubyte(ImageDims, Sequence(24))), .. garbage];
        using var stream = new NonSeekableStream(gz);

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream, "after.gz"));

        Assert.Contains("after.gz", e.Message);
        Assert.Contains("trailing bytes", e.Message);
    }

    [Fact]
    public void Multi_member_gzip_is_read_as_one_file()
    {
        byte[] raw = Ubyte(ImageDims, Sequence(24));
        using var stream = new MemoryStream([.. Gzip(raw[..10]), .. Gzip(raw[10..30]), .. Gzip(raw[30..])]);

        Assert.Equal(Sequence(24), Idx.Read(stream).Data);
    }

    [Theory]
    [MemberData(nameof(RawAndGzip))]
    public void Trailing_bytes_are_rejected(bool gzip)
    {
        using var dir = new TempDir();
        byte[] raw = [.. Ubyte(ImageDims, Sequence(24)), 1, 2];
        string path = dir.Write("long.idx", Encode(raw, gzip));

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(path));

        Assert.Contains(path, e.Message);
        Assert.Contains("trailing bytes", e.Message);
        Assert.Contains("2 bytes follow the 24 data bytes", e.Message);
    }

    [Fact]
    public void Trailing_bytes_in_non_seekable_stream_are_rejected()
    {
        using var stream = new NonSeekableStream([.. Ubyte([2], [1, 2]), 9]);

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream));

        Assert.Contains("1 bytes follow the 2 data bytes", e.Message);
    }

    [Theory]
    [InlineData(new uint[] { 60000, 60000, 60000 })]
    [InlineData(new uint[] { uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue })]
    [InlineData(new uint[] { 0x80000000 })]
    [InlineData(new uint[] { 2, 0x7FFFFFFF })]
    public void Declared_size_beyond_the_limit_is_rejected_before_reading(uint[] dims)
    {
        using var stream = new NonSeekableStream(Ubyte(dims, new byte[16]));

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream, "huge.idx"));

        Assert.Contains("huge.idx", e.Message);
        Assert.Contains("limit", e.Message);
        Assert.Contains(dims[0].ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
    }

    [Theory]
    [MemberData(nameof(RawAndGzip))]
    public void Huge_declared_size_with_little_data_does_not_allocate_the_declared_size(bool gzip)
    {
        // 2,000,000,000 bytes declared (under the limit), 100 present.
        byte[] raw = Ubyte([20_000, 100_000], Sequence(100));
        using var stream = new NonSeekableStream(Encode(raw, gzip));
        long before = GC.GetAllocatedBytesForCurrentThread();

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream, "liar.idx"));

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("2000000000 data bytes", e.Message);
        Assert.Contains("only 100", e.Message);
        Assert.True(allocated < 64L << 20, $"allocated {allocated} bytes for a 100-byte payload");
    }

    [Fact]
    public void Huge_declared_size_in_seekable_file_is_checked_against_its_length()
    {
        using var dir = new TempDir();
        string path = dir.Write("liar.idx", Ubyte([20_000, 100_000], Sequence(100)));
        long before = GC.GetAllocatedBytesForCurrentThread();

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(path));

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1L << 20);
        Assert.Contains("only 100", e.Message);
    }

    [Fact]
    public void Zero_dimension_is_rejected()
    {
        using var stream = new MemoryStream(Ubyte([3, 0, 4], []));

        var e = Assert.Throws<InvalidDataException>(() => Idx.Read(stream));

        Assert.Contains("dimension 1 is 0", e.Message);
    }

    [Fact]
    public void Image_and_label_count_mismatch_names_both_counts()
    {
        using var dir = new TempDir();
        string images = dir.Write("images", Ubyte(ImageDims, Sequence(24)));
        string labels = dir.Write("labels", Ubyte([4], [1, 2, 3, 4]));

        var e = Assert.Throws<InvalidDataException>(() => Idx.LoadDataset(images, labels));

        Assert.Contains("Image count 3", e.Message);
        Assert.Contains("label count 4", e.Message);
        Assert.Contains(images, e.Message);
        Assert.Contains(labels, e.Message);
    }

    [Fact]
    public void Images_and_labels_swapped_is_rejected()
    {
        using var dir = new TempDir();
        string images = dir.Write("images", Ubyte(ImageDims, Sequence(24)));
        string labels = dir.Write("labels", Ubyte([3], [1, 2, 3]));

        var e = Assert.Throws<InvalidDataException>(() => Idx.LoadDataset(labels, images));

        Assert.Contains("3 dimensions", e.Message);
        Assert.Contains(labels, e.Message);
    }

    [Fact]
    public void Missing_file_throws_file_not_found()
    {
        using var dir = new TempDir();
        string path = System.IO.Path.Combine(dir.Path, "absent.idx");

        var e = Assert.Throws<FileNotFoundException>(() => Idx.Read(path));

        Assert.Contains("absent.idx", e.Message);
    }

    [Fact]
    public void Every_prefix_of_a_valid_file_fails_cleanly()
    {
        // No truncation point may surface as IndexOutOfRange, ArgumentException or OutOfMemory.
        byte[] raw = Ubyte(ImageDims, Sequence(24));
        byte[] gz = Gzip(raw);
        foreach (byte[] file in new[] { raw, gz })
        {
            for (int length = 0; length < file.Length; length++)
            {
                using var stream = new MemoryStream(file[..length]);
                Assert.Throws<InvalidDataException>(() => Idx.Read(stream));
            }
        }
    }

    [Fact]
    public void Random_garbage_never_crashes_with_an_unexpected_exception()
    {
        var random = new Random(12345);
        for (int trial = 0; trial < 2000; trial++)
        {
            var bytes = new byte[random.Next(0, 40)];
            random.NextBytes(bytes);
            if (bytes.Length >= 4 && trial % 2 == 0)
            {
                bytes[0] = 0;
                bytes[1] = 0;
                bytes[2] = 0x08;
                bytes[3] = (byte)random.Next(0, 6);
            }

            using var stream = new MemoryStream(bytes);
            try
            {
                Idx.Read(stream);
            }
            catch (InvalidDataException)
            {
            }
            catch (NotSupportedException)
            {
            }
        }
    }
}

using Xunit;

using NetDsl.IO;

namespace NetDsl.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("netdsl-atomic-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Writes_the_whole_content_and_leaves_no_temporary_file()
    {
        string path = Path.Combine(_directory, "a.bin");
        AtomicFile.Write(path, s => s.Write([1, 2, 3]));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_directory));
    }

    [Fact]
    public void A_failing_writer_keeps_the_old_file_and_removes_the_temporary_one()
    {
        string path = Path.Combine(_directory, "b.txt");
        AtomicFile.WriteAllText(path, "old");
        var error = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write([9, 9, 9]);
            throw new InvalidOperationException("crash mid-write");
        }));
        Assert.Equal("crash mid-write", error.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_directory));
    }

    [Fact]
    public void Replaces_an_existing_file()
    {
        string path = Path.Combine(_directory, "c.txt");
        AtomicFile.WriteAllText(path, "first, longer content");
        AtomicFile.WriteAllText(path, "second");
        Assert.Equal("second", File.ReadAllText(path));
    }
}

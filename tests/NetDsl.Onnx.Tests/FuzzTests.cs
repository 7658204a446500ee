using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Onnx.Tests;

/// <summary>Mutated and truncated copies of a valid model: the reader either accepts one or throws
/// <see cref="InvalidDataException"/>, never anything else, and never takes long.</summary>
public class FuzzTests(ITestOutputHelper output)
{
    private const int Cases = 20_000;

    [Fact]
    public void Mutated_models_only_ever_raise_InvalidDataException()
    {
        byte[] valid = TinyModels.ConvNetBytes();
        var random = new Random(11);
        int accepted = 0, rejected = 0;
        var slowest = TimeSpan.Zero;
        var messages = new Dictionary<string, int>();
        var total = Stopwatch.StartNew();
        for (int i = 0; i < Cases; i++)
        {
            byte[] bytes = Mutate(valid, random, out string how);
            var watch = Stopwatch.StartNew();
            try
            {
                OnnxModelFile.Read(bytes, "fuzz");
                accepted++;
            }
            catch (InvalidDataException e)
            {
                rejected++;
                string key = e.Message.Length > 70 ? e.Message[..70] : e.Message;
                messages[key] = messages.GetValueOrDefault(key) + 1;
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i} ({how}): {e.GetType().Name} escaped the reader: {e.Message}\n{Convert.ToBase64String(bytes)}");
            }

            slowest = watch.Elapsed > slowest ? watch.Elapsed : slowest;
        }

        output.WriteLine($"{Cases} cases in {total.Elapsed.TotalSeconds:F1} s: {accepted} accepted, {rejected} rejected; slowest {slowest.TotalMilliseconds:F1} ms");
        foreach (var (message, count) in messages.OrderByDescending(p => p.Value).Take(25))
        {
            output.WriteLine($"{count,6}  {message}");
        }

        Assert.True(rejected > Cases / 4, $"only {rejected} of {Cases} mutations were rejected: the mutations are too gentle");
        Assert.True(slowest < TimeSpan.FromSeconds(2), $"one case took {slowest.TotalMilliseconds:F0} ms");
    }

    private static byte[] Mutate(byte[] valid, Random random, out string how)
    {
        byte[] bytes = (byte[])valid.Clone();
        switch (random.Next(6))
        {
            case 0:
                how = "truncated";
                return bytes[..random.Next(bytes.Length)];
            case 1:
                how = "bytes flipped";
                for (int k = random.Next(1, 4); k > 0; k--)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                }

                return bytes;
            case 2:
                how = "bytes replaced";
                for (int k = random.Next(1, 6); k > 0; k--)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }

                return bytes;
            case 3:
            {
                // A varint (a length prefix, a dimension, a field number) made huge or negative.
                how = "varint inflated";
                int at = random.Next(bytes.Length - 1);
                byte[] big = random.Next(2) == 0 ? [0xFF, 0xFF, 0xFF, 0xFF, 0x0F] : [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
                return [.. bytes[..at], .. big, .. bytes[(at + 1)..]];
            }
            case 4:
            {
                how = "span removed";
                int at = random.Next(bytes.Length);
                int length = random.Next(1, Math.Min(16, bytes.Length - at) + 1);
                return [.. bytes[..at], .. bytes[(at + length)..]];
            }
            default:
            {
                how = "span duplicated";
                int at = random.Next(bytes.Length);
                int length = random.Next(1, Math.Min(32, bytes.Length - at) + 1);
                return [.. bytes[..(at + length)], .. bytes[at..]];
            }
        }
    }
}

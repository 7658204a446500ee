using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using NetDsl.Optimizers;
using NetDsl.Serialization;
using NetDsl.Tests.Numerics;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Serialization;

/// <summary>
/// Seeded mutation fuzzing of weight files and checkpoints: thousands of mutants of valid files (bit flips, byte
/// inserts and deletes, truncation, appended bytes, edits of JSON punctuation and digits in the header, header length
/// changes, header slices duplicated), each loaded through the public API. Every one must load or throw
/// <see cref="InvalidDataException"/> (nothing else: no crash, no other exception type), and a failed load must leave
/// the network unchanged.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    private const int MutantsPerFile = 5000;

    private const string Punctuation = "{}[]\":,-.0123456789eE \\ntfu";

    [Fact]
    public void Mutated_weight_files_load_or_throw_InvalidDataException()
    {
        using var source = new Net13x7x5(2, seed: 1, threads: 1);
        HandBuilt.Randomize(source, 2);
        var saved = new MemoryStream();
        source.SaveWeights(saved);
        byte[] handBuilt = HandBuilt.FromTensors(HandBuilt.Expected(source), "{\"k\": \"v\"}", padding: 3);

        using var net = new Net13x7x5(2, seed: 3, threads: 1);
        Run("weights", [saved.ToArray(), handBuilt], net, (bytes, name, seekable) =>
            net.LoadWeights(seekable ? new MemoryStream(bytes) : new NonSeekableStream(bytes), null, name));
    }

    [Fact]
    public void Mutated_checkpoints_load_or_throw_InvalidDataException()
    {
        using var source = new CnnTiny(4, seed: 1, threads: 1);
        var optimizer = new Sgd(0.05f, momentum: 0.9f);
        var random = new Random(4);
        source.TrainStep(NetworkFactory.RandomFloats(random, 400), [0, 1, 2, 1], optimizer);
        var saved = new MemoryStream();
        source.SaveCheckpoint(saved, optimizer, new TrainingProgress(1, new DeterministicRandom(5).State));

        using var net = new CnnTiny(4, seed: 1, threads: 1);
        Run("checkpoint", [saved.ToArray()], net, (bytes, name, seekable) =>
            net.LoadCheckpoint(seekable ? new MemoryStream(bytes) : new NonSeekableStream(bytes), new Sgd(0.05f, momentum: 0.9f), name));
    }

    private void Run(string what, byte[][] bases, Network net, Action<byte[], string, bool> load)
    {
        var watch = Stopwatch.StartNew();
        var random = new Random(20240611);
        int loaded = 0, rejected = 0;
        foreach (byte[] original in bases)
        {
            load(original, "base", true); // the unmutated file loads
            for (int i = 0; i < MutantsPerFile; i++)
            {
                var log = new StringBuilder();
                byte[] mutant = original;
                int mutations = 1 + (random.Next(4) == 0 ? random.Next(3) : 0);
                for (int m = 0; m < mutations; m++)
                {
                    mutant = Mutate(mutant, random, log);
                }

                string name = $"{what} mutant {i}";
                float[] before = net.Parameters.ToArray();
                long steps = net.Steps;
                try
                {
                    load(mutant, name, i % 8 != 0);
                    loaded++;
                }
                catch (InvalidDataException e)
                {
                    rejected++;
                    Assert.Contains(name, e.Message);
                    if (!before.AsSpan().SequenceEqual(net.Parameters) || steps != net.Steps)
                    {
                        Assert.Fail($"{name} ({log}) failed but changed the network: {e.Message}");
                    }
                }
                catch (Exception e)
                {
                    Assert.Fail($"{name} ({log}) threw {e.GetType().Name}, not InvalidDataException: {e}");
                }
            }
        }

        output.WriteLine($"{what}: {loaded} mutants loaded, {rejected} rejected, {watch.Elapsed.TotalSeconds:F2} s");
        Assert.True(loaded > 50 && rejected > 50, $"the mutations should produce both outcomes ({loaded} loaded, {rejected} rejected)");
    }

    private static byte[] Mutate(byte[] input, Random random, StringBuilder log)
    {
        var bytes = new List<byte>(input);
        int headerLength = bytes.Count >= 8 ? (int)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(input), (ulong)(bytes.Count - 8)) : 0;
        int HeaderPosition() => 8 + random.Next(Math.Max(1, headerLength));
        int AnyPosition() => random.Next(Math.Max(1, bytes.Count));
        bool fixLength = false;
        switch (random.Next(11))
        {
            case 0:
                for (int k = random.Next(1, 5); k > 0 && bytes.Count > 0; k--)
                {
                    int at = AnyPosition();
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    log.Append($"flip@{at} ");
                }

                break;
            case 1:
                if (headerLength > 0)
                {
                    int at = HeaderPosition();
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    log.Append($"header-flip@{at} ");
                }

                break;
            case 2:
            {
                int at = random.Next(bytes.Count + 1), count = random.Next(1, 9);
                bytes.InsertRange(at, Enumerable.Range(0, count).Select(_ => (byte)random.Next(256)));
                fixLength = at >= 8 && at <= 8 + headerLength && random.Next(2) == 0;
                headerLength += fixLength ? count : 0;
                log.Append($"insert{count}@{at} ");
                break;
            }

            case 3:
            {
                int at = AnyPosition(), count = Math.Min(random.Next(1, 9), bytes.Count - at);
                bytes.RemoveRange(at, count);
                fixLength = at >= 8 && at + count <= 8 + headerLength && random.Next(2) == 0;
                headerLength -= fixLength ? count : 0;
                log.Append($"delete{count}@{at} ");
                break;
            }

            case 4:
            {
                int length = random.Next(bytes.Count);
                bytes.RemoveRange(length, bytes.Count - length);
                log.Append($"truncate@{length} ");
                break;
            }

            case 5:
                bytes.AddRange(Enumerable.Range(0, random.Next(1, 17)).Select(_ => (byte)random.Next(256)));
                log.Append("append ");
                break;
            case 6:
                if (headerLength > 0)
                {
                    int at = HeaderPosition();
                    bytes[at] = (byte)Punctuation[random.Next(Punctuation.Length)];
                    log.Append($"punctuation@{at}='{(char)bytes[at]}' ");
                }

                break;
            case 7:
            {
                // A digit of the header changes or gains a neighbour: shapes, offsets and metadata numbers move.
                var digits = Enumerable.Range(8, headerLength).Where(p => p < bytes.Count && bytes[p] is >= (byte)'0' and <= (byte)'9').ToList();
                if (digits.Count > 0)
                {
                    int at = digits[random.Next(digits.Count)];
                    if (random.Next(3) == 0)
                    {
                        bytes.Insert(at, (byte)('0' + random.Next(10)));
                        fixLength = true;
                        headerLength++;
                    }
                    else
                    {
                        bytes[at] = (byte)('0' + random.Next(10));
                    }

                    log.Append($"digit@{at} ");
                }

                break;
            }

            case 8:
            {
                ulong length = random.Next(4) switch
                {
                    0 => (ulong)random.NextInt64(),
                    1 => ulong.MaxValue - (ulong)random.Next(16),
                    _ => (ulong)Math.Max(0, headerLength + random.Next(-16, 17)),
                };
                if (bytes.Count >= 8)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes), length);
                }

                log.Append($"length={length} ");
                break;
            }

            case 9:
            {
                // A slice of the header copied elsewhere in it: duplicated keys, entries, brackets.
                if (headerLength > 2)
                {
                    int from = HeaderPosition(), count = Math.Min(random.Next(1, 80), 8 + headerLength - from), to = HeaderPosition();
                    bytes.InsertRange(to, bytes.GetRange(from, count));
                    fixLength = true;
                    headerLength += count;
                    log.Append($"copy{count}:{from}->{to} ");
                }

                break;
            }

            default:
                if (bytes.Count > 0)
                {
                    int at = AnyPosition();
                    bytes[at] = (byte)random.Next(256);
                    log.Append($"byte@{at} ");
                }

                break;
        }

        byte[] result = [.. bytes];
        if (fixLength && result.Length >= 8 && headerLength >= 0)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)headerLength);
            log.Append("(length fixed) ");
        }

        return result;
    }
}

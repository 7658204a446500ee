using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using NetDsl.Optimizers;
using NetDsl.Serialization;
using NetDsl.Tests.Numerics;
using Xunit;

namespace NetDsl.Tests.Serialization;

/// <summary>
/// Full checkpoints: training 2 epochs, checkpointing, and resuming in a fresh network with a fresh optimizer for a
/// third epoch gives exactly the parameters of 3 uninterrupted epochs; each part of the checkpoint is shown to
/// matter; loads validate network type, seed, optimizer type and settings, and every tensor.
/// </summary>
public sealed class CheckpointTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private const int Samples = 43; // not a multiple of the batch: every epoch ends with a partial batch
    private const int Batch = 8;
    private const int Seed = 3;
    private const ulong ShuffleSeed = 17;

    private readonly string _directory = Directory.CreateTempSubdirectory("netdsl-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private sealed record Data(float[] X, int[] Labels, int SampleSize);

    private static Data MakeData(Network net)
    {
        var random = new Random(21);
        return new(NetworkFactory.RandomFloats(random, Samples * net.InputSize), NetworkFactory.RandomLabels(random, Samples, net.OutputSize), net.InputSize);
    }

    private static IOptimizer NewOptimizer(string kind) => kind switch
    {
        "sgd" => new Sgd(0.05f, momentum: 0.9f),
        "nesterov" => new Sgd(0.05f, momentum: 0.9f, nesterov: true),
        "plain-sgd" => new Sgd(0.05f),
        "adadelta" => new Adadelta(1.0f, 0.95f, 1e-6f),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>
    /// Epochs [<paramref name="from"/>, <paramref name="to"/>): each starts from the identity order, shuffles it with
    /// <paramref name="shuffle"/> and walks it in batches; epoch 1 halves the learning rate first (a schedule whose
    /// effect the checkpoint must carry). Returns the losses.
    /// </summary>
    private static List<float> Train(Network net, IOptimizer optimizer, DeterministicRandom shuffle, Data data, int from, int to)
    {
        var losses = new List<float>();
        var order = new int[Samples];
        var x = new float[Batch * data.SampleSize];
        var labels = new int[Batch];
        for (int epoch = from; epoch < to; epoch++)
        {
            if (epoch == 1)
            {
                optimizer.LearningRate *= 0.5f;
            }

            for (int i = 0; i < order.Length; i++)
            {
                order[i] = i;
            }

            shuffle.Shuffle(order.AsSpan());
            for (int start = 0; start < Samples; start += Batch)
            {
                int rows = Math.Min(Batch, Samples - start);
                for (int r = 0; r < rows; r++)
                {
                    data.X.AsSpan(order[start + r] * data.SampleSize, data.SampleSize).CopyTo(x.AsSpan(r * data.SampleSize));
                    labels[r] = data.Labels[order[start + r]];
                }

                losses.Add(net.TrainStep(x.AsSpan(0, rows * data.SampleSize), labels.AsSpan(0, rows), optimizer));
            }
        }

        return losses;
    }

    /// <summary>Trains 2 epochs in a network of its own and saves a checkpoint.</summary>
    private string TrainAndCheckpoint(string network, string optimizer, int threads, string file = "run.ckpt")
    {
        using var net = CnnNetworkFactory.Create(network, Batch, Seed, threads);
        var opt = NewOptimizer(optimizer);
        var shuffle = new DeterministicRandom(ShuffleSeed);
        Train(net, opt, shuffle, MakeData(net), 0, 2);
        string path = PathOf(file);
        net.SaveCheckpoint(path, opt, new TrainingProgress(2, shuffle.State));
        return path;
    }

    /// <summary>Three uninterrupted epochs: the reference.</summary>
    private static (float[] Parameters, List<float> Losses, IOptimizer Optimizer, long Steps) Straight(string network, string optimizer, int threads)
    {
        using var net = CnnNetworkFactory.Create(network, Batch, Seed, threads);
        var opt = NewOptimizer(optimizer);
        var losses = Train(net, opt, new DeterministicRandom(ShuffleSeed), MakeData(net), 0, 3);
        return (net.Parameters.ToArray(), losses, opt, net.Steps);
    }

    /// <summary>
    /// 2 epochs + checkpoint + (fresh network, fresh optimizer, load, 1 epoch) equals 3 epochs straight, bit for bit:
    /// parameters (BatchNorm moving statistics included), the third epoch's losses, Steps, Iterations and the learning
    /// rate. CnnDropout has two dropout layers, so a wrong Steps gives other masks; momentum and Adadelta keep one and
    /// two state slots per parameter; CnnBatchNorm adds moving statistics. With a fixed thread count the reductions run
    /// in a fixed order, so the 2-thread runs are bit-identical too: the stated tolerance for them is 0.
    /// </summary>
    [Theory]
    [InlineData(nameof(CnnDropout), "sgd", 1)]
    [InlineData(nameof(CnnDropout), "nesterov", 1)]
    [InlineData(nameof(CnnDropout), "adadelta", 1)]
    [InlineData(nameof(CnnDropout), "plain-sgd", 1)]
    [InlineData(nameof(CnnBatchNorm), "sgd", 1)]
    [InlineData(nameof(CnnBatchNorm), "adadelta", 1)]
    [InlineData(nameof(CnnDropout), "sgd", 2)]
    [InlineData(nameof(CnnDropout), "adadelta", 2)]
    [InlineData(nameof(CnnBatchNorm), "adadelta", 2)]
    public void Resuming_a_checkpoint_matches_an_uninterrupted_run_bit_for_bit(string network, string optimizer, int threads)
    {
        var straight = Straight(network, optimizer, threads);
        string path = TrainAndCheckpoint(network, optimizer, threads);

        using var resumed = CnnNetworkFactory.Create(network, Batch, Seed, threads);
        var opt = NewOptimizer(optimizer);
        var progress = resumed.LoadCheckpoint(path, opt);
        Assert.Equal(2, progress.Epoch);
        Assert.Equal(straight.Optimizer.LearningRate, opt.LearningRate); // halved in epoch 1, restored from the file
        var shuffle = new DeterministicRandom(0) { State = progress.ShuffleState!.Value };
        var losses = Train(resumed, opt, shuffle, MakeData(resumed), progress.Epoch, 3);

        HandBuilt.AssertBitEqual(straight.Parameters, resumed.Parameters, $"{network}/{optimizer}/{threads} parameters");
        HandBuilt.AssertBitEqual(straight.Losses.Skip(straight.Losses.Count - losses.Count).ToArray(), losses.ToArray(), "third-epoch losses");
        Assert.Equal(straight.Steps, resumed.Steps);
        Assert.Equal(straight.Optimizer.Iterations, opt.Iterations);
    }

    /// <summary>
    /// The controls: resuming with any one part missing (optimizer state and counters: weights only; the step counter
    /// that seeds the dropout masks; the shuffle state; the learning rate) gives different parameters, so the exact
    /// match above really depends on each.
    /// </summary>
    [Fact]
    public void Each_part_of_the_checkpoint_matters()
    {
        const string Network = nameof(CnnDropout), Optimizer = "sgd";
        var straight = Straight(Network, Optimizer, 1);
        string path = TrainAndCheckpoint(Network, Optimizer, 1);

        float[] Resume(Action<Network, IOptimizer, DeterministicRandom> spoil, bool weightsOnly = false, string? file = null)
        {
            using var net = CnnNetworkFactory.Create(Network, Batch, Seed, 1);
            var opt = NewOptimizer(Optimizer);
            var shuffle = new DeterministicRandom(ShuffleSeed);
            if (weightsOnly)
            {
                net.LoadWeights(path);
                opt.LearningRate *= 0.5f; // as epoch 1 did
                shuffle.State = UInt128.Parse(CheckpointFile.Parse(File.ReadAllBytes(path)).Metadata["netdsl.shuffle_state"], System.Globalization.NumberStyles.HexNumber);
            }
            else
            {
                shuffle.State = net.LoadCheckpoint(file ?? path, opt).ShuffleState!.Value;
            }

            spoil(net, opt, shuffle);
            Train(net, opt, shuffle, MakeData(net), 2, 3);
            return net.Parameters.ToArray();
        }

        static bool Same(float[] a, float[] b) => a.Select(BitConverter.SingleToInt32Bits).SequenceEqual(b.Select(BitConverter.SingleToInt32Bits));

        Assert.True(Same(straight.Parameters, Resume((_, _, _) => { })), "the unspoiled resume must match");
        Assert.False(Same(straight.Parameters, Resume((_, _, _) => { }, weightsOnly: true)), "weights alone (no optimizer state, no Steps) resumed exactly");
        Assert.False(Same(straight.Parameters, Resume((_, _, s) => s.State = new DeterministicRandom(ShuffleSeed).State)), "the shuffle state made no difference");
        Assert.False(Same(straight.Parameters, Resume((_, o, _) => o.LearningRate *= 2f)), "the learning rate made no difference");

        // Steps: the same checkpoint with netdsl.steps one higher (the dropout masks of another step).
        var file = CheckpointFile.Parse(File.ReadAllBytes(path));
        Assert.Equal("12", file.Metadata["netdsl.steps"]); // 2 epochs of 6 batches
        file.Metadata["netdsl.steps"] = "13";
        string edited = PathOf("steps.ckpt");
        File.WriteAllBytes(edited, file.Build());
        Assert.False(Same(straight.Parameters, Resume((_, _, _) => { }, file: edited)), "Steps made no difference");
    }

    /// <summary>
    /// Saved by a 1-thread network, resumed by one with 2, 3 or 7 threads. Different thread counts may sum in another
    /// order (Conv2D splits pixels and weight-gradient tiles by part count: see
    /// <see cref="CnnGradientTests.Results_agree_across_thread_counts"/>), so the third epoch is only required to match
    /// the 1-thread reference within 1e-5 * (1 + |w|) per parameter: a few ulps per step over its 6 steps, while a
    /// lost momentum, a wrong learning rate or another dropout mask moves weights by 1e-3 or more. (Measured on
    /// AVX-512 for these small networks: 0, bit-identical.)
    /// </summary>
    [Theory]
    [InlineData(nameof(CnnDropout), "sgd", 2)]
    [InlineData(nameof(CnnDropout), "adadelta", 3)]
    [InlineData(nameof(CnnBatchNorm), "sgd", 2)]
    [InlineData(nameof(CnnBatchNorm), "adadelta", 7)]
    public void A_checkpoint_saved_with_one_thread_resumes_with_more_within_tolerance(string network, string optimizer, int threads)
    {
        var straight = Straight(network, optimizer, 1);
        string path = TrainAndCheckpoint(network, optimizer, 1);
        using var resumed = CnnNetworkFactory.Create(network, Batch, Seed, threads);
        var opt = NewOptimizer(optimizer);
        var progress = resumed.LoadCheckpoint(path, opt);
        Train(resumed, opt, new DeterministicRandom(0) { State = progress.ShuffleState!.Value }, MakeData(resumed), 2, 3);
        double worst = 0;
        for (int i = 0; i < straight.Parameters.Length; i++)
        {
            double error = Math.Abs(straight.Parameters[i] - resumed.Parameters[i]) / (1 + Math.Abs(straight.Parameters[i]));
            worst = Math.Max(worst, error);
        }

        output.WriteLine($"{network}/{optimizer}: largest relative difference, 1-thread reference vs resumed with {threads} threads: {worst:E2}");
        Assert.True(worst <= 1e-5, $"largest relative difference {worst:E2}");
    }

    [Fact]
    public void Checkpoint_is_a_safetensors_file_with_the_optimizer_state_as_extra_tensors()
    {
        string path = TrainAndCheckpoint(nameof(CnnBatchNorm), "adadelta", 1);
        var file = CheckpointFile.Parse(File.ReadAllBytes(path));
        Assert.Equal("checkpoint", file.Metadata["netdsl.kind"]);
        Assert.Equal(typeof(CnnBatchNorm).FullName, file.Metadata["netdsl.network"]);
        Assert.Equal(typeof(Adadelta).FullName, file.Metadata["netdsl.optimizer"]);
        Assert.Equal("2", file.Metadata["netdsl.optimizer.state_slots"]);
        Assert.Equal("12", file.Metadata["netdsl.optimizer.iterations"]);
        Assert.Equal("0.5", file.Metadata["netdsl.optimizer.learning_rate"]);
        Assert.Equal("2", file.Metadata["netdsl.epoch"]);
        Assert.Equal("3", file.Metadata["netdsl.seed"]);
        Assert.Matches("^[0-9a-f]{32}$", file.Metadata["netdsl.shuffle_state"]);

        using var net = new CnnBatchNorm(Batch, Seed, 1);
        var weights = HandBuilt.Expected(net).Select(t => t.Name).ToList();
        var trainable = net.Layers.SelectMany(l => l.Tensors).Where(t => t.Trainable).Select(t => t.FullName).ToList();
        Assert.Equal(weights.Concat(trainable.Select(n => "optimizer/0/" + n)).Concat(trainable.Select(n => "optimizer/1/" + n)), file.Tensors.Select(t => t.Name));
        Assert.DoesNotContain(file.Tensors, t => t.Name.Contains("moving_") && t.Name.StartsWith("optimizer/"));
        Assert.Contains(file.Tensors, t => t.Name.StartsWith("optimizer/1/") && t.Values.Any(v => v != 0)); // Adadelta's second slot is really saved

        // LoadWeights reads a checkpoint's weights and ignores its optimizer state.
        var report = net.LoadWeights(path);
        Assert.Equal(weights, report.Loaded);
        Assert.Empty(report.Skipped);
    }

    [Fact]
    public void Checkpoint_without_state_slots_or_shuffle_state_round_trips()
    {
        using var net = new CnnTiny(4, seed: 1, threads: 1);
        var opt = new Sgd(0.1f);
        net.TrainStep(new float[4 * 100], [0, 1, 2, 0], opt);
        string path = PathOf("plain.ckpt");
        net.SaveCheckpoint(path, opt, new TrainingProgress(0));
        Assert.DoesNotContain(CheckpointFile.Parse(File.ReadAllBytes(path)).Tensors, t => t.Name.StartsWith("optimizer/"));

        using var other = new CnnTiny(4, seed: 1, threads: 1);
        var progress = other.LoadCheckpoint(new MemoryStream(File.ReadAllBytes(path)), new Sgd(0.3f));
        Assert.Equal(new TrainingProgress(0, null), progress);
        Assert.Equal(1, other.Steps);
        HandBuilt.AssertBitEqual(net.Parameters, other.Parameters, "parameters");
    }

    private (CnnDropout Net, Sgd Optimizer, float[] Parameters) Fresh()
    {
        var net = new CnnDropout(Batch, Seed, 1);
        var opt = new Sgd(0.05f, momentum: 0.9f);
        return (net, opt, net.Parameters.ToArray());
    }

    private static void AssertUnchanged(CnnDropout net, Sgd opt, float[] parameters)
    {
        HandBuilt.AssertBitEqual(parameters, net.Parameters, "parameters after a failed load");
        Assert.Equal(0, net.Steps);
        Assert.Equal(0, opt.Iterations);
        Assert.Equal(0.05f, opt.LearningRate);
    }

    [Fact]
    public void Loading_into_another_network_type_with_the_same_shapes_is_rejected()
    {
        string path = TrainAndCheckpoint(nameof(CnnDropout), "sgd", 1);
        using var other = new CnnDropoutZero(Batch, Seed, 1); // same tensors, same shapes
        var error = Assert.Throws<InvalidDataException>(() => other.LoadCheckpoint(path, NewOptimizer("sgd")));
        Assert.Contains(path, error.Message);
        Assert.Contains($"is a checkpoint of network type {typeof(CnnDropout).FullName}, not of {typeof(CnnDropoutZero).FullName}", error.Message);
    }

    [Fact]
    public void Loading_with_another_seed_optimizer_type_or_optimizer_setting_is_rejected_and_changes_nothing()
    {
        string path = TrainAndCheckpoint(nameof(CnnDropout), "sgd", 1);

        using (var net = new CnnDropout(Batch, seed: 4, threads: 1))
        {
            var error = Assert.Throws<InvalidDataException>(() => net.LoadCheckpoint(path, NewOptimizer("sgd")));
            Assert.Contains("seed 3, but this one has seed 4", error.Message);
        }

        var (a, sgd, before) = Fresh();
        using (a)
        {
            var adadelta = new Adadelta();
            var error = Assert.Throws<InvalidDataException>(() => a.LoadCheckpoint(path, adadelta));
            Assert.Contains($"holds the state of a {typeof(Sgd).FullName} optimizer, not of a {typeof(Adadelta).FullName}", error.Message);
            Assert.Equal(0, adadelta.Iterations);
            Assert.Equal(1f, adadelta.LearningRate);

            var error2 = Assert.Throws<InvalidDataException>(() => a.LoadCheckpoint(path, new Sgd(0.05f, momentum: 0.8f)));
            Assert.Contains("optimizer settings 'momentum=0.9, nesterov=False', but the optimizer given has 'momentum=0.8, nesterov=False'", error2.Message);
            var error3 = Assert.Throws<InvalidDataException>(() => a.LoadCheckpoint(path, new Sgd(0.05f)));
            Assert.Contains("momentum=0,", error3.Message);
            AssertUnchanged(a, sgd, before);
        }
    }

    [Fact]
    public void A_weights_file_is_not_a_checkpoint()
    {
        var (net, opt, before) = Fresh();
        using (net)
        {
            string path = PathOf("weights.safetensors");
            net.SaveWeights(path);
            var error = Assert.Throws<InvalidDataException>(() => net.LoadCheckpoint(path, opt));
            Assert.Contains("is not a NetDsl checkpoint", error.Message);
            AssertUnchanged(net, opt, before);
        }
    }

    /// <summary>A tampered checkpoint (a state tensor missing, one reshaped, a bad counter) fails as a whole: network and optimizer unchanged.</summary>
    [Fact]
    public void A_tampered_checkpoint_is_rejected_naming_the_problem_and_changes_nothing()
    {
        string path = TrainAndCheckpoint(nameof(CnnDropout), "sgd", 1);
        var original = CheckpointFile.Parse(File.ReadAllBytes(path));

        void Reject(Action<CheckpointFile> tamper, string expected)
        {
            var file = CheckpointFile.Parse(File.ReadAllBytes(path));
            tamper(file);
            var (net, opt, before) = Fresh();
            using (net)
            {
                var error = Assert.Throws<InvalidDataException>(() => net.LoadCheckpoint(new MemoryStream(file.Build()), opt, "tampered.ckpt"));
                Assert.Contains("tampered.ckpt", error.Message);
                Assert.Contains(expected, error.Message);
                AssertUnchanged(net, opt, before);
            }
        }

        Reject(f => f.Tensors.RemoveAll(t => t.Name == "optimizer/0/Hidden.kernel"), "tensor 'optimizer/0/Hidden.kernel' (shape [45, 12]) is missing from the file");
        Reject(f => f.Tensors[0] = f.Tensors[0] with { Shape = [3, 3, 5, 2] }, "tensor 'Conv.kernel' has shape [3, 3, 5, 2] in the file but [3, 3, 2, 5] in the network");
        Reject(f => f.Tensors.Add(new HandTensor("optimizer/1/Conv.bias", [5], new float[5])), "tensor 'optimizer/1/Conv.bias' (shape [5]) in the file matches no tensor of the network");
        Reject(f => f.Metadata["netdsl.steps"] = "-1", "has -1 for netdsl.steps");
        Reject(f => f.Metadata["netdsl.optimizer.iterations"] = "many", "'many' for netdsl.optimizer.iterations, not an integer");
        Reject(f => f.Metadata["netdsl.optimizer.learning_rate"] = "NaN", "not a positive finite number");
        Reject(f => f.Metadata["netdsl.optimizer.learning_rate"] = "-1", "not a positive finite number");
        Reject(f => f.Metadata["netdsl.shuffle_state"] = new string('0', 32), "not 32 hexadecimal digits of a valid generator state");
        Reject(f => f.Metadata.Remove("netdsl.epoch"), "its metadata lacks 'netdsl.epoch'");
        Assert.NotEmpty(original.Tensors);
    }

    [Fact]
    public void Saving_validates_its_arguments()
    {
        using var net = new CnnDropout(Batch, Seed, 1);
        var opt = new Sgd(0.05f, momentum: 0.9f);
        net.TrainStep(new float[2 * 128], [0, 1], opt);
        string path = PathOf("args.ckpt");
        var other = Assert.Throws<ArgumentException>(() => net.SaveCheckpoint(path, new Sgd(0.05f, momentum: 0.9f), new TrainingProgress(1)));
        Assert.Contains("another optimizer instance", other.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.SaveCheckpoint(path, opt, new TrainingProgress(-1)));
        Assert.Throws<ArgumentException>(() => net.SaveCheckpoint(path, opt, new TrainingProgress(1, UInt128.Zero)));
        Assert.Throws<ArgumentNullException>(() => net.SaveCheckpoint(path, null!, new TrainingProgress(1)));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public void DeterministicRandom_state_can_be_saved_and_restored()
    {
        var a = new DeterministicRandom(99);
        for (int i = 0; i < 10; i++)
        {
            a.NextUInt32();
        }

        UInt128 state = a.State;
        uint[] expected = Enumerable.Range(0, 100).Select(_ => a.NextUInt32()).ToArray();
        var b = new DeterministicRandom(1) { State = state };
        Assert.Equal(expected, Enumerable.Range(0, 100).Select(_ => b.NextUInt32()));
        Assert.Equal(a.State, b.State);
        Assert.NotEqual(state, a.State);
        Assert.Throws<ArgumentException>(() => b.State = UInt128.Zero);
        Assert.Equal(a.NextUInt32(), b.NextUInt32()); // the failed assignment changed nothing
    }
}

/// <summary>A safetensors file taken apart with the spec in hand (header via JsonDocument, data via offsets), editable and rebuildable with <see cref="HandBuilt"/>.</summary>
public sealed class CheckpointFile
{
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    public List<HandTensor> Tensors { get; } = [];

    public static CheckpointFile Parse(byte[] bytes)
    {
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var data = bytes.AsSpan(8 + headerLength);
        var file = new CheckpointFile();
        using var json = JsonDocument.Parse(bytes.AsMemory(8, headerLength));
        var entries = new List<(long Begin, HandTensor Tensor)>();
        foreach (var property in json.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                foreach (var entry in property.Value.EnumerateObject())
                {
                    file.Metadata[entry.Name] = entry.Value.GetString()!;
                }

                continue;
            }

            long[] offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt64()).ToArray();
            int[] shape = property.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            Assert.Equal("F32", property.Value.GetProperty("dtype").GetString());
            float[] values = new float[(offsets[1] - offsets[0]) / 4];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(data.Slice((int)offsets[0] + 4 * i));
            }

            entries.Add((offsets[0], new HandTensor(property.Name, shape, values)));
        }

        file.Tensors.AddRange(entries.OrderBy(e => e.Begin).Select(e => e.Tensor));
        return file;
    }

    public byte[] Build()
    {
        string metadata = "{" + string.Join(", ", Metadata.Select(p => $"\"{JsonEncodedText.Encode(p.Key)}\": \"{JsonEncodedText.Encode(p.Value)}\"")) + "}";
        return HandBuilt.FromTensors(Tensors, metadata);
    }
}

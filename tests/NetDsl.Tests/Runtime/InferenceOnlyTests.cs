using NetDsl.Data;
using NetDsl.Models;
using NetDsl.Optimizers;
using NetDsl.Serialization;
using NetDsl.Tests.Numerics;
using Xunit;

namespace NetDsl.Tests.Runtime;

/// <summary>
/// Networks built with the generated <c>ForInference</c>: an arena of parameters plus only what Predict touches, its
/// tensors placed by their inference lives. They must predict exactly what the same network built for training does
/// (same kernels, same order: bit for bit), and refuse everything that needs training memory without changing state.
/// </summary>
public class InferenceOnlyTests
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (string name in CnnNetworkFactory.Names.Concat([nameof(CnnDropout), nameof(CnnPoolDropout), "GraphResidual", "GraphDense", "TinyResNet"]))
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Predicts_bit_for_bit_what_the_training_network_predicts_in_a_smaller_arena(string name)
    {
        var random = new Random(name.GetHashCode(StringComparison.Ordinal) & 0xffff);
        using var trained = Create(name, 8, inferenceOnly: false);
        CnnNetworkFactory.RandomizeExtras(trained, random);
        trained.TrainStep(RandomInputs(random, trained, 8), NetworkFactory.RandomLabels(random, 8, trained.OutputSize), new Sgd(0.05f)); // weights no initialiser gave
        using var inference = Create(name, 8, inferenceOnly: true);
        Assert.True(inference.IsInferenceOnly);
        Assert.False(trained.IsInferenceOnly);
        trained.Parameters.CopyTo(inference.Parameters);

        Assert.True(inference.ArenaBytes < trained.ArenaBytes, $"{name}: inference arena {inference.ArenaBytes} B is not smaller than the training arena {trained.ArenaBytes} B");
        foreach (int rows in new[] { 8, 3, 1, 13 }) // 13: two passes through a batch of 8
        {
            float[] x = RandomInputs(random, trained, rows);
            float[] expected = new float[rows * trained.OutputSize], actual = new float[rows * trained.OutputSize];
            trained.Predict(x, expected);
            inference.Predict(x, actual);
            Assert.Equal(expected, actual);
        }
    }

    [Theory]
    [InlineData("TinyResNet")]
    [InlineData(nameof(CnnBatchNorm))]
    public void Training_it_is_refused_with_a_clear_message_and_changes_nothing(string name)
    {
        var random = new Random(7);
        using var inference = Create(name, 4, inferenceOnly: true);
        float[] x = RandomInputs(random, inference, 4);
        int[] labels = NetworkFactory.RandomLabels(random, 4, inference.OutputSize);
        float[] before = new float[4 * inference.OutputSize];
        inference.Predict(x, before);
        float[] weights = inference.Parameters.ToArray();
        var sgd = new Sgd(0.1f);

        void Refused(Action action)
        {
            var e = Assert.Throws<InvalidOperationException>(action);
            Assert.Contains("created for inference only", e.Message);
            Assert.Contains($"new {name}(batchSize)", e.Message);
        }

        Refused(() => inference.TrainStep(x, labels, sgd));
        Refused(() => inference.ComputeGradients(x, labels));
        Refused(() => inference.Fit(new MemoryDataSource(x, labels, inference.InputSize), sgd, epochs: 1, batchSize: 4));
        Refused(() => inference.SaveCheckpoint(new MemoryStream(), sgd, new TrainingProgress(0)));
        Refused(() => inference.LoadCheckpoint(new MemoryStream(), sgd));
        Refused(() => _ = inference.Gradients.Length);
        Refused(() => _ = inference.Layers.OfType<Conv2DLayer>().First().WeightGradients.Length);

        Assert.Equal(weights, inference.Parameters.ToArray());
        float[] after = new float[before.Length];
        inference.Predict(x, after);
        Assert.Equal(before, after);
    }

    [Fact]
    public void Loads_weights_saved_by_a_training_network()
    {
        var random = new Random(11);
        using var trained = Create("TinyResNet", 4, inferenceOnly: false);
        CnnNetworkFactory.RandomizeExtras(trained, random);
        using var file = new MemoryStream();
        trained.SaveWeights(file);
        file.Position = 0;
        using var inference = Create("TinyResNet", 2, inferenceOnly: true, seed: 99); // another seed, another batch size
        inference.LoadWeights(file);

        float[] x = RandomInputs(random, trained, 5);
        float[] expected = new float[5 * trained.OutputSize], actual = new float[5 * trained.OutputSize];
        trained.Predict(x, expected);
        inference.Predict(x, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void ResNet50_inference_arena_at_batch_1_is_within_twice_its_two_largest_activations_plus_parameters()
    {
        // The model-table issue's target. Activations from the layer shapes; the arena as allocated.
        using var network = ResNet50.ForInference(1, threads: 1);
        long[] largest = network.Layers.Select(l => l.OutputShape.ToArray().Aggregate(1L, (a, b) => a * b)).OrderDescending().Take(2).ToArray();
        long bound = 2 * 4 * (largest.Sum() + network.ParameterCount);
        Assert.True(network.ArenaBytes <= bound, $"ResNet-50 inference arena {network.ArenaBytes:N0} B exceeds 2 x (two largest activations + parameters) = {bound:N0} B");
        using var training = new ResNet50(1, threads: 1);
        Assert.True(network.ArenaBytes * 4 < training.ArenaBytes, $"inference {network.ArenaBytes:N0} B against training {training.ArenaBytes:N0} B");
    }

    private static float[] RandomInputs(Random random, Network network, int rows)
        => Enumerable.Range(0, rows * network.InputSize).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

    private static Network Create(string name, int batch, bool inferenceOnly, int seed = 3)
    {
        const int threads = 2;
        if (!inferenceOnly)
        {
            return name switch
            {
                "GraphResidual" or "GraphDense" or "TinyResNet" => GraphTests.Create(name, batch, threads),
                _ => CnnNetworkFactory.Create(name, batch, seed, threads),
            };
        }

        return name switch
        {
            nameof(CnnTiny) => CnnTiny.ForInference(batch, seed, threads),
            nameof(CnnOdd) => CnnOdd.ForInference(batch, seed, threads),
            nameof(CnnBatchNorm) => CnnBatchNorm.ForInference(batch, seed, threads),
            nameof(CnnDropout) => CnnDropout.ForInference(batch, seed, threads),
            nameof(CnnPoolDropout) => CnnPoolDropout.ForInference(batch, seed, threads),
            nameof(CnnDropoutZero) => CnnDropoutZero.ForInference(batch, seed, threads),
            nameof(CnnStrided) => CnnStrided.ForInference(batch, seed, threads),
            nameof(CnnFlatInput) => CnnFlatInput.ForInference(batch, seed, threads),
            nameof(CnnWinograd) => CnnWinograd.ForInference(batch, seed, threads),
            nameof(CnnPadded) => CnnPadded.ForInference(batch, seed, threads),
            "GraphResidual" => GraphResidual.ForInference(batch, seed, threads),
            "GraphDense" => GraphDense.ForInference(batch, seed, threads),
            "TinyResNet" => TinyResNet.ForInference(batch, seed, threads),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown test network."),
        };
    }
}

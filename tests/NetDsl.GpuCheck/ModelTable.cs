using System.Diagnostics;
using System.Reflection;
using MnistTransfer;
using NetDsl;
using NetDsl.Gpu;
using NetDsl.Models;
using NetDsl.Optimizers;

/// <summary>
/// Section 4 of the GPU check: the model table (src/NetDsl.Models, linked into this program so the generator emits each
/// model's GPU session here while the library stays CPU-only) on the device. For each model, one session at the table's
/// batch size (default 32, 224 x 224 x 3, random inputs and labels): inference images/s (<c>Predict</c>) and training
/// images/s (<c>TrainStep</c> with SGD + momentum), each after a warm-up, as a timed loop of synchronised steps (every
/// <c>Predict</c> and <c>TrainStep</c> waits for the device: it reads the outputs or the loss back). A step's time includes
/// the host staging of its batch (the channels-first to channels-last transpose and the copy up); the table prints the
/// transpose's time per batch, measured on the host alone, so it can be told apart. A model that fails (out of device
/// memory, a kernel that does not compile) prints its error and the table continues.
/// </summary>
internal static class ModelTable
{
    /// <summary>Settings of one run of the table.</summary>
    /// <param name="Batch">Samples per step.</param>
    /// <param name="Seconds">Minimum length of each timed loop.</param>
    /// <param name="Iterations">Minimum steps in each timed loop.</param>
    /// <param name="Warmup">Untimed steps before each loop.</param>
    /// <param name="CapSeconds">No model is started when the table has run this long, or would have by the end of the model's
    /// kernel loading as predicted from the models before it (the device's time is budgeted).</param>
    /// <param name="Models">The models to run (names as in <see cref="Entries"/>, case-insensitive); null for all.</param>
    /// <param name="Smoke">Without <paramref name="Models"/>: run the same code path on the small reference CNN (TransferCnn).</param>
    public sealed record Options(int Batch, double Seconds, int Iterations, int Warmup, double CapSeconds, string[]? Models, bool Smoke);

    /// <summary>A model of the table: its name, its label, the reference document's images/s (null: none), a session factory,
    /// its generated session type (whose kernels are counted) and its input image (channels, side).</summary>
    private sealed record Entry(string Name, string Label, double? Reference, Func<int, GpuDevice, (Network Network, GpuSession Session)> Create, Type Gpu, int Channels = 3, int Side = 224);

    // The reference document's images/s column (GPU figures; ResNet-18 has none), in the issue's order.
    private static readonly Entry[] Entries =
    [
        Of("ResNet18", "ResNet-18", null, b => new ResNet18(b, seed: 1, threads: 1), (n, d) => n.ToGpu(d), typeof(ResNet18.Gpu)),
        Of("ResNet50", "ResNet-50", 396.3, b => new ResNet50(b, seed: 1, threads: 1), (n, d) => n.ToGpu(d), typeof(ResNet50.Gpu)),
        Of("ResNet101", "ResNet-101", 247.3, b => new ResNet101(b, seed: 1, threads: 1), (n, d) => n.ToGpu(d), typeof(ResNet101.Gpu)),
        Of("ResNet152", "ResNet-152", 172.5, b => new ResNet152(b, seed: 1, threads: 1), (n, d) => n.ToGpu(d), typeof(ResNet152.Gpu)),
        Of("Vgg19", "VGG19", 166.2, b => new Vgg19(b, seed: 1, threads: 1), (n, d) => n.ToGpu(d), typeof(Vgg19.Gpu)),
        Of("Vgg16", "VGG16", 200.2, b => new Vgg16(b, seed: 1, threads: 1), (n, d) => n.ToGpu(d), typeof(Vgg16.Gpu)),
        Of("GoogLeNet", "GoogLeNet", 770.6, b => new GoogLeNet(b, seed: 1, threads: 1), (n, d) => n.ToGpu(d), typeof(GoogLeNet.Gpu)),
        Of("AlexNet", "AlexNet", 1379.8, b => new AlexNet(b, seed: 1, threads: 1), (n, d) => n.ToGpu(d), typeof(AlexNet.Gpu)),
    ];

    private static readonly Entry SmokeEntry =
        Of("TransferCnn", "TransferCnn (smoke)", null, b => new TransferCnn(b, seed: 1, threads: 1), (n, d) => n.ToGpu(d), typeof(TransferCnn.Gpu)) with { Channels = 1, Side = 28 };

    private static Entry Of<T>(string name, string label, double? reference, Func<int, T> network, Func<T, GpuDevice, GpuSession> toGpu, Type gpu)
        where T : Network =>
        new(name, label, reference, (batch, device) =>
        {
            var n = network(batch);
            try
            {
                return (n, toGpu(n, device));
            }
            catch
            {
                n.Dispose(); // out of device memory, a kernel that does not load: the caller only sees the exception
                throw;
            }
        }, gpu);

    /// <summary>The kernels a session of <paramref name="gpu"/> loads on <paramref name="device"/> (all per-element ones,
    /// plus the tiled ones when the device runs them): loading, i.e. compiling, them is most of a session's start-up.</summary>
    private static int LoadedKernels(Type gpu, GpuDevice device) =>
        gpu.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Count(m => m.IsDefined(typeof(GpuKernelAttribute)) && (device.KernelForm == GpuKernelForm.Tiled || m.GetParameters().Length == 4));

    /// <summary>The model names <c>--table-models</c> accepts.</summary>
    public static IEnumerable<string> Names => Entries.Select(e => e.Name);

    /// <summary>Runs the table on <paramref name="device"/> and prints it; returns the number of models without a row.</summary>
    public static int Run(GpuDevice device, Options options)
    {
        var entries = options.Smoke && options.Models is null ? [SmokeEntry] : Entries.Where(e => options.Models is null || options.Models.Contains(e.Name, StringComparer.OrdinalIgnoreCase)).ToArray();
        if (options.Models is not null)
        {
            foreach (string unknown in options.Models.Where(m => !Entries.Any(e => e.Name.Equals(m, StringComparison.OrdinalIgnoreCase))))
            {
                Console.WriteLine($"unknown model '{unknown}' (known: {string.Join(", ", Names)})");
            }
        }

        Console.WriteLine($"batch {options.Batch}; each figure: {options.Warmup} warm-up step(s), then at least {options.Iterations} step(s) and {options.Seconds:F1} s of synchronised steps;");
        Console.WriteLine("training: SGD (0.01, momentum 0.9) on random labels; host staging (transpose + copy up) is inside every step.");
        // Cheapest start-up first (a session compiles and loads every kernel of its model: 60 for AlexNet, ~2,300 for
        // ResNet-152), so the cap, if it bites, leaves out the models that take longest to start. A model whose start-up,
        // predicted from the slowest seconds per kernel seen so far, would end past the cap is not started.
        var rows = new Dictionary<Entry, string>();
        int missing = 0;
        double secondsPerKernel = 0;
        var table = Stopwatch.StartNew();
        foreach (var entry in entries.OrderBy(e => LoadedKernels(e.Gpu, device)))
        {
            int kernels = LoadedKernels(entry.Gpu, device);
            double predicted = kernels * secondsPerKernel + 2 * options.Seconds;
            if (table.Elapsed.TotalSeconds + predicted > options.CapSeconds)
            {
                Console.WriteLine($"{entry.Label}: skipped: the table has run {table.Elapsed.TotalSeconds:F0} s and this model's {kernels} kernels would take about {kernels * secondsPerKernel:F0} s to load; the cap is {options.CapSeconds:F0} s (--table-cap raises it)");
                rows[entry] = Row(entry, null, null, "skipped (time cap)");
                missing++;
                continue;
            }

            var result = Measure(device, entry, kernels, options);
            rows[entry] = result.Line;
            missing += result.Ok ? 0 : 1;
            if (result.SessionSeconds is { } seconds)
            {
                secondsPerKernel = Math.Max(secondsPerKernel, seconds / kernels);
            }
        }

        Console.WriteLine();
        Console.WriteLine($"{"model",-20} {"inference img/s",16} {"training img/s",15} {"reference img/s",16} {"inference/ref",14} {"training/ref",13}");
        foreach (var entry in entries)
        {
            Console.WriteLine(rows[entry]);
        }

        Console.WriteLine($"(device: {device.Description}; kernels: {device.KernelForm}; table time {table.Elapsed.TotalSeconds:F1} s)");
        return missing;
    }

    private static (string Line, bool Ok, double? SessionSeconds) Measure(GpuDevice device, Entry entry, int kernels, Options options)
    {
        double? sessionSeconds = null;
        Network? network = null;
        GpuSession? session = null;
        double? inference = null, training = null;
        string? error = null;
        var watch = Stopwatch.StartNew();
        try
        {
            Console.Write($"{entry.Label}: network ...");
            (network, session) = entry.Create(options.Batch, device);
            sessionSeconds = watch.Elapsed.TotalSeconds;
            Console.WriteLine($" session up in {sessionSeconds:F1} s ({kernels} kernels loaded, {1000 * sessionSeconds / kernels:F0} ms each with the network's creation; device arena {session.DeviceBytes / (1024.0 * 1024 * 1024):F2} GiB)");
            int batch = options.Batch;
            var random = new Random(1);
            var inputs = new float[batch * network.InputSize];
            for (int i = 0; i < inputs.Length; i++)
            {
                inputs[i] = (float)random.NextDouble();
            }

            var labels = new int[batch];
            for (int i = 0; i < batch; i++)
            {
                labels[i] = random.Next(network.OutputSize);
            }

            var outputs = new float[batch * network.OutputSize];
            double staging = StagingMilliseconds(entry, inputs);
            var s = session;
            try
            {
                inference = Rate(() => s.Predict(inputs, outputs), batch, options);
                Console.WriteLine($"  inference {inference,10:G4} images/s (host transpose {staging:F2} ms per batch)");
            }
            catch (Exception e)
            {
                error = $"inference: {Describe(e)}";
                Console.WriteLine($"  inference FAILED: {Describe(e)}");
            }

            try
            {
                var optimizer = new Sgd(0.01f, 0.9f);
                float loss = 0;
                training = Rate(() => loss = s.TrainStep(inputs, labels, optimizer), batch, options);
                Console.WriteLine($"  training  {training,10:G4} images/s ({s.LastStepLaunches} launches per step, last loss {loss:G4}); {watch.Elapsed.TotalSeconds:F1} s for this model");
                if (!float.IsFinite(loss))
                {
                    Console.WriteLine("  warning: the training loss is not finite");
                }
            }
            catch (Exception e)
            {
                error = (error is null ? "" : error + "; ") + $"training: {Describe(e)}";
                Console.WriteLine($"  training FAILED: {Describe(e)}");
            }
        }
        catch (Exception e)
        {
            error = Describe(e);
            Console.WriteLine();
            Console.WriteLine($"  FAILED after {watch.Elapsed.TotalSeconds:F1} s: {error}");
        }
        finally
        {
            session?.Dispose();
            network?.Dispose();
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return (Row(entry, inference, training, error is null ? null : "FAILED"), inference is not null && training is not null, sessionSeconds);
    }

    /// <summary>images/s of <paramref name="step"/>: warm-up, then a timed loop of at least the options' steps and seconds.</summary>
    private static double Rate(Action step, int batch, Options options)
    {
        for (int i = 0; i < options.Warmup; i++)
        {
            step();
        }

        int steps = 0;
        var watch = Stopwatch.StartNew();
        do
        {
            step();
            steps++;
        }
        while (steps < options.Iterations || watch.Elapsed.TotalSeconds < options.Seconds);
        return steps * (double)batch / watch.Elapsed.TotalSeconds;
    }

    /// <summary>The host half of staging a batch (channels first to channels last), timed alone: part of every step above.</summary>
    private static double StagingMilliseconds(Entry entry, float[] inputs)
    {
        if (entry.Channels <= 1)
        {
            return 0; // staged as is
        }

        var staged = new float[inputs.Length];
        int samples = inputs.Length / (entry.Channels * entry.Side * entry.Side);
        NetDsl.Kernels.Layout.ChannelsFirstToLast(inputs, staged, samples, entry.Channels, entry.Side, entry.Side);
        var watch = Stopwatch.StartNew();
        const int Repeats = 5;
        for (int i = 0; i < Repeats; i++)
        {
            NetDsl.Kernels.Layout.ChannelsFirstToLast(inputs, staged, samples, entry.Channels, entry.Side, entry.Side);
        }

        return watch.Elapsed.TotalMilliseconds / Repeats;
    }

    private static string Row(Entry entry, double? inference, double? training, string? note)
    {
        static string Figure(double? value) => value is { } v ? v.ToString(v >= 100 ? "N1" : "G3") : "-";
        static string Ratio(double? value, double? reference) => value is { } v && reference is { } r ? (v / r).ToString("F2") + "x" : "-";
        string line = $"{entry.Label,-20} {Figure(inference),16} {Figure(training),15} {Figure(entry.Reference),16} {Ratio(inference, entry.Reference),14} {Ratio(training, entry.Reference),13}";
        return note is null ? line : line + "  " + note;
    }

    private static string Describe(Exception e)
    {
        var inner = e;
        while (inner.InnerException is not null && inner is AggregateException or TypeInitializationException or TargetInvocationException)
        {
            inner = inner.InnerException;
        }

        string message = inner.Message.ReplaceLineEndings(" ");
        return $"{inner.GetType().Name}: {(message.Length > 300 ? message[..300] + "..." : message)}";
    }
}

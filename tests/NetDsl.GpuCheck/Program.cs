using System.Diagnostics;
using System.Globalization;
using MnistTransfer;
using NetDsl;
using NetDsl.Data;
using NetDsl.Datasets;
using NetDsl.Gpu;
using NetDsl.Gpu.Tests;
using NetDsl.Tests.Numerics;
using NetDsl.Optimizers;
using NetDsl.Training;

// The GPU check (scripts/gpu-check.sh runs it on a machine with an NVIDIA GPU):
//   1. parity: every network of the GPU test suite, one SGD step and predictions on CUDA against the CPU backend, with
//      the tiled kernels and with the per-element kernels;
//   2. MnistTransfer (Keras' mnist_transfer_cnn recipe, 5 + 5 epochs) on CUDA, accuracies next to the CPU's;
//   3. images/s of the reference CNN's training step and inference at batch 128 and 1024, and device memory used, for
//      each kernel form;
//   4. the model table (src/NetDsl.Models) at 224 x 224 x 3: inference and training images/s at batch 32 next to the
//      reference document's images/s (ModelTable.cs).
// Exit code 0 when every parity case passes, 1 otherwise; --allow-cpu runs it on ILGPU's CPU accelerator (slow),
// --parity-only stops after 1, --quick runs one epoch per phase and a few steps per throughput figure, --no-table
// leaves 4 out. --table-only runs 4 alone (exit code 0 when every model has its figures, 1 otherwise); --table-smoke
// runs 4's code path on the reference CNN (or on the --table-models given) at batch 1, one step per figure, no warm-up,
// on any device (the check of the table without a GPU). 4's settings: --table-models ResNet50,Vgg16 (default: all
// eight), --table-batch N (32), --table-seconds S per timed loop (1.5), --table-cap S (420: no model starts, or is
// predicted to finish loading its kernels, after the table has run this long).
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
bool tableSmoke = args.Contains("--table-smoke");
bool allowCpu = args.Contains("--allow-cpu") || tableSmoke;
bool quick = args.Contains("--quick");
bool parityOnly = args.Contains("--parity-only"); // the check of the check on a machine without a GPU
bool tableOnly = args.Contains("--table-only") || tableSmoke;
bool table = !args.Contains("--no-table");
var tableOptions = new ModelTable.Options(
    Batch: tableSmoke ? 1 : (int)Setting("--table-batch", 32),
    Seconds: tableSmoke ? 0 : Setting("--table-seconds", quick ? 0.3 : 1.5),
    Iterations: tableSmoke ? 1 : quick ? 2 : 3,
    Warmup: tableSmoke ? 0 : 2,
    CapSeconds: Setting("--table-cap", 420),
    Models: Value("--table-models")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
    Smoke: tableSmoke);
using var device = GpuDevice.CreateDefault();
Console.WriteLine($"device: {device.Description}");
if (device.Kind != GpuKind.Cuda && !allowCpu)
{
    Console.Error.WriteLine("no CUDA device: nothing to check (pass --allow-cpu to run on ILGPU's CPU accelerator)");
    return 2;
}

if (tableOnly)
{
    Console.WriteLine();
    Console.WriteLine(tableSmoke ? "== 4. model table, smoke: the same code path at batch 1, one step per figure" : "== 4. model table (src/NetDsl.Models) on the device, 224 x 224 x 3");
    int missing = ModelTable.Run(device, tableOptions);
    Console.WriteLine(missing == 0 ? "model table: every model measured" : $"model table: {missing} model(s) without figures");
    return missing == 0 ? 0 : 1;
}

// The same device with the other kernel form: per-element kernels on CUDA (the tiled ones are the default there), tiled
// ones on the CPU accelerator.
var otherForm = device.KernelForm == GpuKernelForm.Tiled ? GpuKernelForm.PerElement : GpuKernelForm.Tiled;
using var other = device.Kind == GpuKind.Cuda ? GpuDevice.CreateCuda(0, otherForm) : GpuDevice.CreateCpuAccelerator(form: otherForm);
var devices = new[] { device, other };

int failures = 0;
Console.WriteLine();
Console.WriteLine("== 1. parity with the CPU backend (largest difference relative to the tensor's largest magnitude; bound 1e-4, as the tests)");
foreach (var target in devices)
foreach (string name in ParityNetworks.Names)
{
    using var cpu = ParityNetworks.Create(name, 5, 7);
    using var host = ParityNetworks.Create(name, 5, 7);
    using var gpu = ParityNetworks.ToGpu(host, target);
    var (inputs, labels, targets) = ParityNetworks.Batch(cpu, 5, new Random(11));
    float cpuLoss = labels is not null ? cpu.TrainStep(inputs, labels, new Sgd(0.1f, 0.9f)) : cpu.TrainStep(inputs, targets!, new Sgd(0.1f, 0.9f));
    float gpuLoss = labels is not null ? gpu.TrainStep(inputs, labels, new Sgd(0.1f, 0.9f)) : gpu.TrainStep(inputs, targets!, new Sgd(0.1f, 0.9f));
    gpu.CopyToHost();
    var expected = new float[7 * cpu.OutputSize];
    var actual = new float[7 * cpu.OutputSize];
    var (x, _, _) = ParityNetworks.Batch(cpu, 7, new Random(3));
    cpu.Predict(x, expected);
    gpu.Predict(x, actual);
    double loss = Math.Abs(cpuLoss - gpuLoss) / Math.Max(1, Math.Abs(cpuLoss));
    double gradients = Relative(cpu.Gradients, host.Gradients);
    double parameters = Relative(cpu.Parameters, host.Parameters);
    double outputs = Relative(expected, actual);
    bool ok = loss <= 1e-4 && gradients <= 1e-4 && parameters <= 1e-4 && outputs <= 1e-4;
    failures += ok ? 0 : 1;
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {target.KernelForm,-10} {name,-18} loss {loss:E1}  gradients {gradients:E1}  parameters {parameters:E1}  outputs {outputs:E1}");
}

if (parityOnly)
{
    Console.WriteLine(failures == 0 ? "parity: all cases passed" : $"parity: {failures} case(s) FAILED");
    return failures == 0 ? 0 : 1;
}

Console.WriteLine();
Console.WriteLine("== 2. MnistTransfer (phase 1: digits 0-4, all layers; phase 2: digits 5-9, convolutions frozen; Adadelta, batch 128)");
int epochs = quick ? 1 : 5;
var (train, test) = MnistDigits.Load();
foreach (bool onGpu in new[] { true, false })
{
    using var model = new TransferCnn(128, seed: 1);
    using var session = onGpu ? model.ToGpu(device) : null;
    Model trainer = session is null ? model : session;
    var watch = Stopwatch.StartNew();
    double a1 = Phase(trainer, train.Where(l => l < 5), test.Where(l => l < 5), epochs);
    foreach (var layer in model.Layers.Where(l => l.Name is "Conv1" or "Conv2"))
    {
        layer.Trainable = false;
    }

    double a2 = Phase(trainer, train.Where(l => l >= 5).SelectLabels(l => l - 5), test.Where(l => l >= 5).SelectLabels(l => l - 5), epochs);
    Console.WriteLine($"{(onGpu ? "GPU" : "CPU")}: phase 1 {a1:P2}, phase 2 {a2:P2} ({watch.Elapsed.TotalSeconds:F1} s, {epochs} + {epochs} epochs)");
}

Console.WriteLine();
Console.WriteLine("== 3. reference CNN (TransferCnn) throughput on the device, for each kernel form");
foreach (var target in device.Kind == GpuKind.Cuda ? devices : [device])
foreach (int batch in new[] { 128, 1024 })
{
    using var model = new TransferCnn(batch, seed: 1);
    using var session = model.ToGpu(target);
    var inputs = new float[batch * model.InputSize];
    var labels = new int[batch];
    var random = new Random(1);
    for (int i = 0; i < inputs.Length; i++)
    {
        inputs[i] = (float)random.NextDouble();
    }

    for (int i = 0; i < batch; i++)
    {
        labels[i] = random.Next(5);
    }

    var optimizer = new Adadelta();
    int steps = quick ? 3 : batch == 128 ? 200 : 50;
    for (int i = 0; i < 3; i++)
    {
        session.TrainStep(inputs, labels, optimizer);
    }

    var watch = Stopwatch.StartNew();
    for (int i = 0; i < steps; i++)
    {
        session.TrainStep(inputs, labels, optimizer);
    }

    double trainRate = steps * (double)batch / watch.Elapsed.TotalSeconds;
    var outputs = new float[batch * model.OutputSize];
    session.Predict(inputs, outputs);
    watch.Restart();
    for (int i = 0; i < steps; i++)
    {
        session.Predict(inputs, outputs);
    }

    double inferRate = steps * (double)batch / watch.Elapsed.TotalSeconds;
    Console.WriteLine($"{target.KernelForm,-10} batch {batch,4}: training {trainRate,12:N0} images/s ({session.LastStepLaunches} launches + optimizer per step), inference {inferRate,12:N0} images/s, device arena {session.DeviceBytes / (1024.0 * 1024):F1} MiB");
}

if (table)
{
    Console.WriteLine();
    Console.WriteLine("== 4. model table (src/NetDsl.Models) on the device, 224 x 224 x 3");
    int missing = ModelTable.Run(device, tableOptions);
    Console.WriteLine(missing == 0 ? "model table: every model measured" : $"model table: {missing} model(s) without figures");
}

Console.WriteLine();
Console.WriteLine(failures == 0 ? "parity: all cases passed" : $"parity: {failures} case(s) FAILED");
return failures == 0 ? 0 : 1;

string? Value(string flag)
{
    int at = Array.IndexOf(args, flag);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}

double Setting(string flag, double fallback) =>
    Value(flag) is { } text ? double.Parse(text, CultureInfo.InvariantCulture) : fallback;

static double Phase(Model model, Dataset train, Dataset test, int epochs)
{
    model.Fit(train, new Adadelta(), new FitOptions { Epochs = epochs, BatchSize = 128, Verbose = Verbosity.Silent });
    return model.Evaluate(test)["accuracy"];
}

static double Relative(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
{
    double scale = 1e-3, worst = 0;
    for (int i = 0; i < expected.Length; i++)
    {
        scale = Math.Max(scale, Math.Abs(expected[i]));
        worst = Math.Max(worst, Math.Abs((double)expected[i] - actual[i]));
    }

    return worst / scale;
}

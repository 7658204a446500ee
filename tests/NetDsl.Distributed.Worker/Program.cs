using System.Globalization;
using NetDsl;
using NetDsl.Datasets;
using NetDsl.Distributed;
using NetDsl.Optimizers;

// Under mpirun -np N: every rank trains its shard of each global batch of 32 digits with DataParallel; rank 0 also
// trains the same network alone on the whole global batches and compares. Prints one line per rank; exits 0 when the
// ranks' parameters are identical and equal the single process's within the tolerance, else 1.
// "--die-at S": the last rank exits at step S without finalising, as a crashed rank would (the others must not hang).
const int GlobalBatch = 32, Steps = 12, Seed = 3;
int dieAt = args.Length == 2 && args[0] == "--die-at" ? int.Parse(args[1], CultureInfo.InvariantCulture) : -1;
// "--hang-at S": the last rank stops answering at step S (alive, never reaching the reduction); the others must give up
// after MpiCommunicator.Timeout (5 s here) and abort the job.
int hangAt = args.Length == 2 && args[0] == "--hang-at" ? int.Parse(args[1], CultureInfo.InvariantCulture) : -1;
// "--nan-at S": at step S one pixel of the last rank's shard is NaN (in the reference's batch too): the reduced
// gradients are NaN on every rank, so all ranks skip that update together, and the run still ends identical.
int nanAt = args.Length == 2 && args[0] == "--nan-at" ? int.Parse(args[1], CultureInfo.InvariantCulture) : -1;
using var world = MpiCommunicator.World();
if (args.Length == 2 && args[0] is "--fit" or "--fit-resume" or "--fit-mismatch")
{
    return FitCheck.Run(world, args[1], resume: args[0] == "--fit-resume", mismatch: args[0] == "--fit-mismatch");
}

if (args.Length >= 1 && args[0] == "--bench")
{
    return ScalingBenchmark.Run(world, args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1, args.Length > 2 && args[2] == "blocking");
}

int rank = world.Rank, size = world.Size;
var (train, _) = MnistDigits.Load();
int first = rank * GlobalBatch / size, end = (rank + 1) * GlobalBatch / size, rows = end - first;
int largestShard = (GlobalBatch + size - 1) / size;
using var network = new ShardedCnn(largestShard, Seed, threads: 1);
world.Timeout = hangAt >= 0 ? TimeSpan.FromSeconds(5) : TimeSpan.FromMinutes(5);
var trainer = new DataParallel(network, world);
var optimizer = new Sgd(0.05f, momentum: 0.9f);

ShardedCnn? reference = rank == 0 ? new ShardedCnn(GlobalBatch, Seed, threads: 1) : null;
var referenceOptimizer = new Sgd(0.05f, momentum: 0.9f);
int size1 = network.InputSize;
var inputs = new float[GlobalBatch * size1];
var labels = new int[GlobalBatch];
float loss = 0, referenceLoss = 0;
for (int step = 0; step < Steps; step++)
{
    for (int i = 0; i < GlobalBatch; i++)
    {
        int index = (int)((long)(step * GlobalBatch + i) * 7919 % train.Count); // the digits are stored by class
        train.GetSample(index).CopyTo(inputs.AsSpan(i * size1, size1));
        labels[i] = train.GetLabel(index);
    }

    if (nanAt == step)
    {
        inputs[((size - 1) * GlobalBatch / size) * size1 + 300] = float.NaN;
    }

    if (dieAt == step && rank == size - 1)
    {
        Console.Error.WriteLine($"rank {rank}: dying at step {step} (test)");
        Environment.Exit(3); // no MPI_Finalize: as a crash would
    }

    if (hangAt == step && rank == size - 1)
    {
        Console.Error.WriteLine($"rank {rank}: hanging at step {step} (test)");
        Thread.Sleep(Timeout.Infinite);
    }

    loss = trainer.TrainStep(inputs.AsSpan(first * size1, rows * size1), labels.AsSpan(first, rows), optimizer);
    if (reference is not null)
    {
        referenceLoss = reference.TrainStep(inputs, labels, referenceOptimizer);
    }

    if (nanAt == step && (!float.IsNaN(loss) || !network.LastStepSkipped || (reference is not null && !reference.LastStepSkipped)))
    {
        Console.Error.WriteLine($"rank {rank}: step {step} with a NaN pixel was not skipped (loss {loss})");
        return 1;
    }
}

// Every rank must hold rank 0's parameters exactly: the same averaged gradients, the same update.
float[] root = network.Parameters.ToArray();
world.Broadcast(root, root: 0);
double[] mismatches = [network.Parameters.SequenceEqual(root) ? 0 : 1];
world.AllreduceSum(mismatches);

bool ok = mismatches[0] == 0;
ok &= network.Parameters.ToArray().All(float.IsFinite);
string line = string.Create(CultureInfo.InvariantCulture, $"rank={rank} size={size} rows={rows} loss={loss:F6} ranks_differing={mismatches[0]} skipped={network.SkippedSteps}");
if (reference is not null)
{
    // Tolerance: the ranks sum each gradient in another order than one process does (shard means weighted by rows,
    // then an Allreduce), a relative difference of a few float ulps per step (~1e-7 of the gradients); over 12
    // momentum steps at this learning rate that stays below 1e-5 of the largest parameter (measured: 1.3e-7 to 1.9e-7
    // against 3.4e-6 on 2 to 4 ranks). A step that did not average (or double-counted a shard) moves parameters by
    // ~1e-2 of it.
    var (maxDiff, maxParam) = FitCheck.Differences(reference.Parameters, root);

    double tolerance = 1e-5 * maxParam;
    ok &= maxDiff <= tolerance && Math.Abs(loss - referenceLoss) <= 1e-4 * Math.Abs(referenceLoss);
    line += string.Create(CultureInfo.InvariantCulture, $" reference_loss={referenceLoss:F6} max_diff={maxDiff:E3} tolerance={tolerance:E3} ok={ok}");
    reference.Dispose();
}

Console.WriteLine(line);
return ok ? 0 : 1;

/// <summary>A small CNN without BatchNorm or dropout (their per-rank statistics and masks are documented differences).</summary>
[Network(Loss = Loss.SparseCategoricalCrossEntropy)]
[Input(1, 28, 28)]
public partial class ShardedCnn
{
    [Conv2D(8, 3, Activation.ReLU)] public partial Conv2DLayer Conv { get; }
    [MaxPool2D(2)]                  public partial PoolingLayer Pool { get; }
    [Flatten]                       public partial FlattenLayer Flatten { get; }
    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

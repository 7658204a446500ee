using NetDsl.Models;
using NetDsl.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace NetDsl.TorchBenchmarks;

/// <summary>One timed operation: a full training step (forward, loss, backward, update) or one inference forward.</summary>
public interface IWorkload : IDisposable
{
    void Run();
}

/// <summary>
/// A case is "net-op-batch": net is cnn (the reference CNN, Adadelta), mlpW (784-W-W-10, SGD with momentum), resnet
/// (the small ResNet on 32x32x3, SGD with momentum) or resnet18 (224x224x3, inference only); op is train or infer.
/// </summary>
public sealed record Case(string Net, bool Train, int Batch)
{
    public static Case Parse(string text)
    {
        string[] parts = text.Split('-');
        return new Case(parts[0], parts[1] switch { "train" => true, "infer" => false, _ => throw new ArgumentException(text) }, int.Parse(parts[2]));
    }

    public int[] InputShape => Net switch
    {
        "cnn" => [1, 28, 28],
        "resnet" => [3, 32, 32],
        "resnet18" => [3, 224, 224],
        _ when Net.StartsWith("mlp", StringComparison.Ordinal) => [784],
        _ => throw new ArgumentException(Net),
    };

    public int Classes => Net switch { "cnn" => 5, "resnet18" => 1000, _ => 10 };

    public int InputSize => InputShape.Aggregate(1, (a, b) => a * b);
}

public static class Workloads
{
    public static IWorkload NetDsl(string text, int threads)
    {
        var c = Case.Parse(text);
        Network network = (c.Net, c.Train) switch
        {
            ("cnn", true) => new SbsCnn(c.Batch, seed: 1, threads: threads),
            ("cnn", false) => SbsCnn.ForInference(c.Batch, seed: 1, threads: threads),
            ("mlp128", true) => new SbsMlp128(c.Batch, seed: 1, threads: threads),
            ("mlp128", false) => SbsMlp128.ForInference(c.Batch, seed: 1, threads: threads),
            ("mlp256", true) => new SbsMlp256(c.Batch, seed: 1, threads: threads),
            ("mlp256", false) => SbsMlp256.ForInference(c.Batch, seed: 1, threads: threads),
            ("mlp512", true) => new SbsMlp512(c.Batch, seed: 1, threads: threads),
            ("mlp512", false) => SbsMlp512.ForInference(c.Batch, seed: 1, threads: threads),
            ("mlp1024", true) => new SbsMlp1024(c.Batch, seed: 1, threads: threads),
            ("mlp1024", false) => SbsMlp1024.ForInference(c.Batch, seed: 1, threads: threads),
            ("mlp2048", true) => new SbsMlp2048(c.Batch, seed: 1, threads: threads),
            ("mlp2048", false) => SbsMlp2048.ForInference(c.Batch, seed: 1, threads: threads),
            ("resnet", true) => new SbsResNet(c.Batch, seed: 1, threads: threads),
            ("resnet", false) => SbsResNet.ForInference(c.Batch, seed: 1, threads: threads),
            ("resnet18", false) => ResNet18.ForInference(c.Batch, seed: 1, threads: threads),
            _ => throw new ArgumentException(text),
        };
        IOptimizer optimizer = c.Net == "cnn" ? new Adadelta(1.0f, 0.95f, 1e-6f) : new Sgd(0.01f, momentum: 0.9f);
        return new NetDslWorkload(network, c, optimizer);
    }

    public static IWorkload LibTorch(string text, int threads)
    {
        var c = Case.Parse(text);
        LibTorchSetup.Initialize(threads);
        var model = c.Net switch
        {
            "cnn" => TorchNetworks.Cnn(),
            "resnet" => TorchNetworks.SmallResNet(),
            "resnet18" => TorchNetworks.ResNet18(),
            _ when c.Net.StartsWith("mlp", StringComparison.Ordinal) => TorchNetworks.Mlp(int.Parse(c.Net[3..])),
            _ => throw new ArgumentException(text),
        };
        return new TorchWorkload(model, c);
    }

    private sealed class NetDslWorkload : IWorkload
    {
        private readonly Network _network;
        private readonly IOptimizer _optimizer;
        private readonly bool _train;
        private readonly float[] _inputs;
        private readonly int[] _labels;
        private readonly float[] _outputs;

        public NetDslWorkload(Network network, Case c, IOptimizer optimizer)
        {
            _network = network;
            _optimizer = optimizer;
            _train = c.Train;
            var random = new Random(11);
            _inputs = [.. Enumerable.Range(0, c.Batch * c.InputSize).Select(_ => (float)random.NextDouble())];
            _labels = [.. Enumerable.Range(0, c.Batch).Select(_ => random.Next(c.Classes))];
            _outputs = new float[c.Batch * c.Classes];
        }

        public void Run()
        {
            if (_train)
            {
                _network.TrainStep(_inputs, _labels, _optimizer);
            }
            else
            {
                _network.Predict(_inputs, _outputs);
            }
        }

        public void Dispose() => _network.Dispose();
    }

    private sealed class TorchWorkload : IWorkload
    {
        private readonly nn.Module<Tensor, Tensor> _model;
        private readonly Tensor _inputs;
        private readonly Tensor _labels;
        private readonly nn.Module<Tensor, Tensor, Tensor> _loss;
        private readonly optim.Optimizer? _optimizer;

        public TorchWorkload(nn.Module<Tensor, Tensor> model, Case c)
        {
            _model = model;
            torch.manual_seed(11);
            _inputs = torch.rand([c.Batch, .. c.InputShape.Select(d => (long)d)], dtype: ScalarType.Float32);
            _labels = torch.randint(0, c.Classes, [c.Batch], dtype: ScalarType.Int64);
            _loss = nn.CrossEntropyLoss();
            if (c.Train)
            {
                _model.train();
                _optimizer = c.Net == "cnn"
                    ? optim.Adadelta(_model.parameters(), lr: 1.0, rho: 0.95, eps: 1e-6)
                    : optim.SGD(_model.parameters(), 0.01, momentum: 0.9);
            }
            else
            {
                _model.eval();
            }

            foreach (var p in _model.parameters())
            {
                if (p.dtype != ScalarType.Float32)
                {
                    throw new InvalidOperationException($"LibTorch parameter in {p.dtype}, not FP32");
                }
            }
        }

        public void Run()
        {
            using var scope = torch.NewDisposeScope();
            if (_optimizer is not null)
            {
                _optimizer.zero_grad();
                var loss = _loss.call(_model.call(_inputs), _labels);
                loss.backward();
                _optimizer.step();
            }
            else
            {
                using var mode = torch.inference_mode();
                _model.call(_inputs);
            }
        }

        public void Dispose()
        {
            _model.Dispose();
            _inputs.Dispose();
            _labels.Dispose();
            _optimizer?.Dispose();
        }
    }
}

/// <summary>Loads LibTorch once per process: the libstdc++ fix first, then the thread counts.</summary>
public static class LibTorchSetup
{
    private static bool _done;

    public static void Initialize(int threads)
    {
        if (!_done)
        {
            Console.WriteLine("// " + LibStdCxxCompat.EnsurePatched());
            _done = true;
        }

        Configure(threads);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void Configure(int threads)
    {
        torch.set_num_threads(threads);
        try
        {
            torch.set_num_interop_threads(1);
        }
        catch (Exception)
        {
            // Only allowed before the first parallel work; a second setup in the same process keeps the first value.
        }

        Console.WriteLine($"// LibTorch {torch.__version__}: {torch.get_num_threads()} intra-op threads, {torch.get_num_interop_threads()} inter-op, default dtype {torch.get_default_dtype()}");
    }
}

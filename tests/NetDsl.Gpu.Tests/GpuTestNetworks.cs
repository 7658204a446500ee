namespace NetDsl.Gpu.Tests;

// The GPU tests' own network; the coverage networks (tests/Shared/CoverageNetworks.cs, namespace NetDsl.Tests.Numerics)
// are compiled into this project too, so the generator emits their GPU sessions here.

/// <summary>The MNIST MLP of the samples, at test size: 784 -> 32 ReLU -> 10 softmax.</summary>
[Network]
[Input(784)]
public partial class DigitsMlpSmall
{
    [Dense(32, Activation.ReLU)] public partial DenseLayer Hidden { get; }

    [Dense(10, Activation.Softmax)] public partial DenseLayer Output { get; }
}

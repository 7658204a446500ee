using NetDsl.Generators.Model;
using NetDsl.Generators.Shapes;

namespace NetDsl.Generators.Lowering;

/// <summary>Which block of the arena a buffer lives in.</summary>
public enum Region
{
    /// <summary>Trainable tensors; their gradients mirror the block, then the optimizer state slots.</summary>
    Parameters,
    /// <summary>Gradients: a mirror of the parameter block (same offsets, shifted by its length).</summary>
    Gradients,
    /// <summary>Batch-independent work buffers (e.g. transposed weights).</summary>
    Scratch,
    /// <summary>Per-batch tensors: sized by the batch size at construction.</summary>
    Activations,
}

/// <summary>
/// One tensor of the arena plan. Parameter and scratch buffers have a fixed <paramref name="Offset"/> within
/// their block; activation buffers are <paramref name="Size"/> floats per sample, placed in order when the
/// batch size is known. <paramref name="InferenceAlias"/> names the buffer that stands in for this one outside
/// training (a dropout output is its input in inference). A <paramref name="Size"/> of -1 means "as long as the
/// kernel of <paramref name="SizedBy"/> asks for" (known to the runtime, not the generator). A
/// <paramref name="BatchIndependent"/> activation-region buffer is <paramref name="Size"/> floats whatever the batch
/// (placed with the per-batch tensors because it lives only during one program, e.g. a BatchNorm folded for inference).
/// </summary>
public sealed record BufferPlan(string Name, Region Region, long Offset, long Size, string Shape, string Comment,
    string? InferenceAlias = null, string? SizedBy = null, bool BatchIndependent = false);

/// <summary>A dimension that is either a compile-time constant or a constant times the number of samples in the batch.</summary>
public sealed record Dim(int Value, bool IsBatch)
{
    public static Dim Batch { get; } = new(1, true);
    public static Dim Of(int value) => new(value, false);
    public static Dim PerSample(int value) => new(value, true);
    public override string ToString() => !IsBatch ? Value.ToString(System.Globalization.CultureInfo.InvariantCulture)
        : Value == 1 ? "rows" : "rows * " + Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

public enum OpKind
{
    /// <summary>C[M x N] = epilogue(A[M x P] · B[P x N]) (A or B optionally read transposed: <c>TransposeA</c>, <c>TransposeB</c>).</summary>
    MatMul,
    /// <summary>C[j] = sum over rows of A[rows x N].</summary>
    ColumnSum,
    /// <summary>C[N x M] = A[M x N]^T.</summary>
    Transpose,
    /// <summary>C = softmax(A) row-wise.</summary>
    Softmax,
    /// <summary>C = Y * (C - rowsum(C * Y)), Y = Aux: gradient through a softmax, in place.</summary>
    SoftmaxBackward,
    /// <summary>Outputs B = Activation(A), the network's loss summed against the labels or float targets, gradient C = d loss / d A / rows.</summary>
    Loss,
    /// <summary>C = Activation(A) row-wise: the head's activation alone, for Predict.</summary>
    OutputActivation,
    /// <summary>C = epilogue(conv(A, B)) (NetDsl.Kernels.Conv2D.Forward).</summary>
    ConvForward,
    /// <summary>C = dW from input A and output gradient B.</summary>
    ConvWeightGradient,
    /// <summary>C = weights A re-laid-out for the input gradient (a backend re-layout: the CPU convolution's).</summary>
    ConvPrepare,
    /// <summary>C = epilogue(input gradient of output gradient A through weights B; a backend may add re-laid-out weights as Operands[0]).</summary>
    ConvInputGradient,
    /// <summary>C = pool(A).</summary>
    PoolForward,
    /// <summary>C = gradient through the pool, from its input A, output B and output gradient Operands[0].</summary>
    PoolBackward,
    /// <summary>C = dropout(A) (training).</summary>
    DropoutForward,
    /// <summary>C = dropout mask applied to gradient A.</summary>
    DropoutBackward,
    /// <summary>C = batchnorm(A); Operands: gamma, beta, saved mean, saved inverse std, moving mean, moving variance.</summary>
    BatchNormForward,
    /// <summary>Gradient through batchnorm: input A, output gradient B, input gradient C; Operands as forward plus dgamma, dbeta.</summary>
    BatchNormBackward,
    /// <summary>C = f(A) element-wise.</summary>
    ActivationForward,
    /// <summary>C = A * f'(Aux) element-wise (Aux is f's output).</summary>
    ActivationBackward,
    /// <summary>C = f(Operands[0] + Operands[1] + ...) element-wise, M elements (an Add layer).</summary>
    AddForward,
    /// <summary>C = A + B element-wise, M elements: a second gradient contribution added to a tensor's gradient.</summary>
    GradientAdd,
    /// <summary>C = the Operands side by side: per row (pixel), each operand's channels in turn (a Concat layer); M rows.</summary>
    ConcatForward,
    /// <summary>C[row, 0..N) = A[row, Offset..Offset + N) of a Stride-wide A: one input's slice of a concatenation's gradient; M rows.</summary>
    ConcatBackward,
    /// <summary>C = local response normalisation of A across its N channels, M pixels (the layer's size, alpha, beta, bias).</summary>
    LrnForward,
    /// <summary>C = the input gradient of a local response normalisation from its input A and output gradient B; M pixels, N channels.</summary>
    LrnBackward,
    /// <summary>
    /// C[0..N) = shift, C[N..2N) = scale of a BatchNorm with its moving statistics (Operands: gamma, beta, moving mean,
    /// moving variance), folding in the bias B of the convolution before it when B is set: what an
    /// <see cref="EpilogueKind.ScaleShiftActivation"/> epilogue applies.
    /// </summary>
    FoldBatchNorm,
}

public enum EpilogueKind
{
    None,
    BiasActivation,
    Activation,
    ActivationGradient,
    /// <summary>f(acc * scale[j] + shift[j] (+ Aux)): a BatchNorm folded into the convolution before it (Bias = the folded
    /// shift and scale, <see cref="OpKind.FoldBatchNorm"/>), plus the residual tensor Aux of an Add it feeds, then the activation.</summary>
    ScaleShiftActivation,
}

/// <summary>Runs an op only when a runtime condition holds.</summary>
public enum Guard
{
    Always,
    /// <summary>The op's layer is trainable.</summary>
    LayerTrainable,
    /// <summary>Some layer below the op's layer is trainable, so the gradient must flow through it.</summary>
    InputGradientNeeded,
    /// <summary>The op's layer is trainable or some layer below it is (its gradient is needed at all).</summary>
    GradientNeeded,
}

/// <summary>
/// One kernel invocation: backend-neutral (buffers by name, dimensions symbolic). Ops are split between threads
/// over the first dimension of their output (rows of C; columns for <see cref="OpKind.ColumnSum"/>).
/// </summary>
public sealed record KernelOp(
    OpKind Kind,
    string Comment,
    int Layer,
    Guard Guard,
    string A,
    string? B,
    string C,
    Dim M,
    int N,
    Dim P,
    bool TransposeA,
    EpilogueKind Epilogue,
    ActivationKind Activation,
    string? Bias,
    string? Aux,
    EquatableArray<string> Operands = default,
    DropoutFusion? Dropout = null,
    bool TransposeB = false,
    int Offset = 0,
    int Stride = 0);

/// <summary>
/// A dropout layer's mask fused into another op: the op masks the elements it writes (element index = position in
/// its output), so the dropout needs no pass of its own. With <paramref name="Copy"/> (a forward pass, training only)
/// the masked values go to that buffer and the op's output keeps the unmasked ones; without it (a backward pass) the
/// op's output gradient is masked in place.
/// </summary>
public sealed record DropoutFusion(int Layer, string? Copy);

/// <summary>
/// Ops dispatched together: every op of a phase may run on any thread at once, so ops in one phase must be
/// independent, except row-local dependencies between ops split by the same rows (each thread owns the same rows).
/// Phases run one after another.
/// </summary>
public sealed record Phase(string Name, string Comment, EquatableArray<KernelOp> Ops);

/// <summary>
/// Stage 4 output: the complete, backend-neutral program for one network — arena layout, forward phases
/// (training and inference tails) and backward phases. <c>InferenceForward</c> is the forward pass Predict may run
/// instead: the same phases, except where a convolution absorbs the BatchNorm after it (and the activation or residual
/// Add after that); a backend that does not fuse runs <c>Forward</c> for inference too. The CPU emitter consumes it after adding its kernels' weight
/// re-layouts (Emit/CpuPlan); the GPU emitter consumes it as it is.
/// </summary>
public sealed record ExecutionPlan(
    ShapedNetwork Network,
    EquatableArray<BufferPlan> Buffers,
    long ParameterLength,
    long ScratchLength,
    EquatableArray<Phase> Forward,
    EquatableArray<Phase> InferenceTail,
    EquatableArray<Phase> Loss,
    EquatableArray<Phase> Backward,
    string InputBuffer,
    string OutputBuffer,
    EquatableArray<Phase> InferenceForward = default);

/// <summary>Stage 3 result.</summary>
public sealed record LoweringResult(ExecutionPlan? Plan, EquatableArray<DiagnosticInfo> Diagnostics);

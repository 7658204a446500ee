using System;
using System.Collections.Generic;
using System.Linq;
using NetDsl.Generators.Diagnostics;
using NetDsl.Generators.Model;
using NetDsl.Generators.Shapes;

namespace NetDsl.Generators.Lowering;

/// <summary>
/// Stage 3: turns a shaped network into an <see cref="ExecutionPlan"/>: decides fusion (bias + activation into
/// the forward GEMM epilogue, activation derivative into the input-gradient GEMM epilogue, softmax into the
/// cross-entropy loss), lays out the arena (64-byte aligned tensors, gradient buffers shared between layers
/// whose lifetimes do not overlap) and orders the kernels into phases.
/// </summary>
public static class Lowerer
{
    private const int AlignFloats = 16;

    /// <summary>Optimizer state slots reserved per parameter (NetDsl.Optimizers.ParameterSlice.MaxStateSlots).</summary>
    public const int OptimizerStateSlots = 2;

    /// <summary>Lowers a checked network; <paramref name="network"/> is null when shape inference rejected it.</summary>
    public static LoweringResult Run(ShapedNetwork? network)
    {
        if (network is null)
        {
            return new LoweringResult(null, EquatableArray<DiagnosticInfo>.Empty);
        }

        try
        {
            return new LoweringResult(Lower(network), EquatableArray<DiagnosticInfo>.Empty);
        }
        catch (Exception e)
        {
            return new LoweringResult(null, new[]
            {
                DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, null, network.Spec.ClassName, e.GetType().Name + ": " + e.Message),
            }.ToEquatableArray());
        }
    }

    /// <summary>Floats a buffer takes: rounded up to 64 bytes plus one vector of read slack (matches NetDsl.Arena.Padded).</summary>
    public static long Padded(long floats) => (floats + AlignFloats - 1) / AlignFloats * AlignFloats + AlignFloats;

    private static ExecutionPlan Lower(ShapedNetwork network)
    {
        var layers = network.Layers;
        int last = layers.Count - 1;
        var buffers = new List<BufferPlan>();

        // Parameters: per layer W then b, each aligned; gradients mirror them.
        long at = 0;
        foreach (var layer in layers)
        {
            int inputs = layer.InputSize, units = layer.OutputSize;
            buffers.Add(new BufferPlan(W(layer), Region.Parameters, at, (long)inputs * units, $"[{inputs} x {units}]", $"{layer.Name} weights"));
            buffers.Add(new BufferPlan(DW(layer), Region.Gradients, at, (long)inputs * units, $"[{inputs} x {units}]", $"{layer.Name} weight gradients"));
            at += Padded((long)inputs * units);
            if (layer.Spec.UseBias)
            {
                buffers.Add(new BufferPlan(B(layer), Region.Parameters, at, units, $"[{units}]", $"{layer.Name} bias"));
                buffers.Add(new BufferPlan(DB(layer), Region.Gradients, at, units, $"[{units}]", $"{layer.Name} bias gradients"));
                at += Padded(units);
            }
        }

        long parameterLength = at;

        // Scratch: transposed weights of every layer that may pass a gradient down.
        long scratch = 0;
        for (int l = 1; l <= last; l++)
        {
            var layer = layers[l];
            buffers.Add(new BufferPlan(WT(layer), Region.Scratch, scratch, (long)layer.InputSize * layer.OutputSize,
                $"[{layer.OutputSize} x {layer.InputSize}]", $"{layer.Name} weights transposed, for the input gradient"));
            scratch += Padded((long)layer.InputSize * layer.OutputSize);
        }

        // Activations (per sample; placed in this order for the batch size at construction).
        bool fusedLoss = network.Loss == LossKind.SparseCategoricalCrossEntropy;
        buffers.Add(new BufferPlan(Input, Region.Activations, 0, network.InputSize, $"[rows x {network.InputSize}]", "staged input batch"));
        foreach (var layer in layers)
        {
            if (layer.Index == last && fusedLoss)
            {
                buffers.Add(new BufferPlan(Logits, Region.Activations, 0, layer.OutputSize, $"[rows x {layer.OutputSize}]", $"{layer.Name} logits (before the softmax)"));
                buffers.Add(new BufferPlan(Probabilities, Region.Activations, 0, layer.OutputSize, $"[rows x {layer.OutputSize}]", $"{layer.Name} class probabilities (the network output)"));
            }
            else
            {
                buffers.Add(new BufferPlan(Out(layer), Region.Activations, 0, layer.OutputSize, $"[rows x {layer.OutputSize}]", $"{layer.Name} output, after {layer.Activation}"));
            }
        }

        // Gradients with respect to pre-activations: layer l's lives in slot (last - l) % 2; a layer reads its own
        // slot and writes the other, so two buffers of the widest layer serve the whole backward pass.
        int widest = layers.Max(l => l.OutputSize);
        buffers.Add(new BufferPlan(GradSlot(0), Region.Activations, 0, widest, $"[rows x {widest}]", "gradient w.r.t. pre-activations, even layers from the top"));
        if (layers.Count > 1)
        {
            buffers.Add(new BufferPlan(GradSlot(1), Region.Activations, 0, widest, $"[rows x {widest}]", "gradient w.r.t. pre-activations, odd layers from the top"));
        }

        string OutputOf(int l) => l < 0 ? Input : l == last && fusedLoss ? Logits : Out(layers[l]);
        string GradOf(int l) => GradSlot((last - l) % 2);

        // Forward: one phase per layer.
        var forward = new List<Phase>();
        foreach (var layer in layers)
        {
            int l = layer.Index;
            var ops = new List<KernelOp>();
            bool softmaxHere = layer.Activation == ActivationKind.Softmax && !(l == last && fusedLoss);
            var fused = l == last && fusedLoss || softmaxHere ? ActivationKind.Linear : layer.Activation;
            ops.Add(new KernelOp(OpKind.MatMul,
                $"{OutputOf(l)}[rows x {layer.OutputSize}] = {fused}({OutputOf(l - 1)}[rows x {layer.InputSize}] · {W(layer)}[{layer.InputSize} x {layer.OutputSize}]{(layer.Spec.UseBias ? " + " + B(layer) : "")})",
                l, Guard.Always, OutputOf(l - 1), W(layer), OutputOf(l),
                Dim.Batch, layer.OutputSize, Dim.Of(layer.InputSize), false,
                layer.Spec.UseBias ? EpilogueKind.BiasActivation : EpilogueKind.Activation, fused,
                layer.Spec.UseBias ? B(layer) : null, null));
            if (softmaxHere)
            {
                ops.Add(new KernelOp(OpKind.Softmax, $"{OutputOf(l)} = softmax({OutputOf(l)}) row-wise", l, Guard.Always,
                    OutputOf(l), null, OutputOf(l), Dim.Batch, layer.OutputSize, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Softmax, null, null));
            }

            forward.Add(new Phase(Naming.ForwardJob(layer.Name), $"{layer.Name}: Dense {layer.InputSize} -> {layer.OutputSize}, {layer.Activation}", ops.ToEquatableArray()));
        }

        var lastLayer = layers[last];
        var inferenceTail = new List<Phase>();
        if (fusedLoss)
        {
            inferenceTail.Add(new Phase("Predict_Softmax", "class probabilities for Predict", new[]
            {
                new KernelOp(OpKind.Softmax, $"{Probabilities} = softmax({Logits}) row-wise", last, Guard.Always,
                    Logits, null, Probabilities, Dim.Batch, lastLayer.OutputSize, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Softmax, null, null),
            }.ToEquatableArray()));
        }

        // Loss (fused softmax + cross-entropy), plus the weight transposes the backward pass will need.
        var lossOps = new List<KernelOp>
        {
            new(OpKind.SoftmaxCrossEntropy,
                $"{Probabilities} = softmax({Logits}); loss += -log p[label]; {GradOf(last)} = (p - onehot(label)) / rows",
                last, Guard.Always, Logits, Probabilities, GradOf(last), Dim.Batch, lastLayer.OutputSize, Dim.Of(0), false,
                EpilogueKind.None, ActivationKind.Softmax, null, null),
        };
        for (int l = 1; l <= last; l++)
        {
            var layer = layers[l];
            lossOps.Add(new KernelOp(OpKind.Transpose, $"{WT(layer)}[{layer.OutputSize} x {layer.InputSize}] = {W(layer)}^T",
                l, Guard.InputGradientNeeded, W(layer), null, WT(layer), Dim.Of(layer.InputSize), layer.OutputSize, Dim.Of(0), false,
                EpilogueKind.None, ActivationKind.Linear, null, null));
        }

        var lossPhases = new[] { new Phase("Loss", $"{network.Loss}, fused with the softmax", lossOps.ToEquatableArray()) };

        // Backward: one phase per layer, top down.
        var backward = new List<Phase>();
        for (int l = last; l >= 0; l--)
        {
            var layer = layers[l];
            var ops = new List<KernelOp>
            {
                new(OpKind.MatMul, $"{DW(layer)}[{layer.InputSize} x {layer.OutputSize}] = {OutputOf(l - 1)}^T · {GradOf(l)}[rows x {layer.OutputSize}]",
                    l, Guard.LayerTrainable, OutputOf(l - 1), GradOf(l), DW(layer), Dim.Of(layer.InputSize), layer.OutputSize, Dim.Batch, true,
                    EpilogueKind.None, ActivationKind.Linear, null, null),
            };
            if (layer.Spec.UseBias)
            {
                ops.Add(new KernelOp(OpKind.ColumnSum, $"{DB(layer)}[{layer.OutputSize}] = column sums of {GradOf(l)}", l, Guard.LayerTrainable,
                    GradOf(l), null, DB(layer), Dim.Batch, layer.OutputSize, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null));
            }

            if (l > 0)
            {
                var below = layers[l - 1];
                bool softmaxBelow = below.Activation == ActivationKind.Softmax;
                ops.Add(new KernelOp(OpKind.MatMul,
                    softmaxBelow
                        ? $"{GradOf(l - 1)}[rows x {layer.InputSize}] = {GradOf(l)} · {WT(layer)}"
                        : $"{GradOf(l - 1)}[rows x {layer.InputSize}] = ({GradOf(l)} · {WT(layer)}) * {below.Activation}'({Out(below)})",
                    l, Guard.InputGradientNeeded, GradOf(l), WT(layer), GradOf(l - 1), Dim.Batch, layer.InputSize, Dim.Of(layer.OutputSize), false,
                    softmaxBelow ? EpilogueKind.None : EpilogueKind.ActivationGradient, below.Activation, null, softmaxBelow ? null : Out(below)));
                if (softmaxBelow)
                {
                    ops.Add(new KernelOp(OpKind.SoftmaxBackward, $"{GradOf(l - 1)} = gradient through the softmax of {below.Name}", l, Guard.InputGradientNeeded,
                        GradOf(l - 1), null, GradOf(l - 1), Dim.Batch, below.OutputSize, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Softmax, null, Out(below)));
                }
            }

            backward.Add(new Phase(Naming.BackwardJob(layer.Name), l > 0 ? $"{layer.Name}: weight, bias and input gradients" : $"{layer.Name}: weight and bias gradients (nothing below needs an input gradient)", ops.ToEquatableArray()));
        }

        return new ExecutionPlan(network, buffers.ToEquatableArray(), parameterLength, scratch,
            forward.ToEquatableArray(), inferenceTail.ToEquatableArray(), lossPhases.ToEquatableArray(), backward.ToEquatableArray(),
            Input, fusedLoss ? Probabilities : Out(lastLayer));
    }

    public const string Input = "Input";
    public const string Logits = "Logits";
    public const string Probabilities = "Probabilities";
    public static string W(ShapedLayer layer) => Naming.W(layer.Name);
    public static string B(ShapedLayer layer) => Naming.B(layer.Name);
    public static string DW(ShapedLayer layer) => Naming.DW(layer.Name);
    public static string DB(ShapedLayer layer) => Naming.DB(layer.Name);
    public static string WT(ShapedLayer layer) => Naming.WT(layer.Name);
    public static string Out(ShapedLayer layer) => Naming.Out(layer.Name);
    public static string GradSlot(int slot) => "Grad" + slot;
}

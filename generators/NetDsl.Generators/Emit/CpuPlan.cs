using System.Collections.Generic;
using System.Linq;
using NetDsl.Generators.Lowering;
using NetDsl.Generators.Model;
using NetDsl.Generators.Shapes;

namespace NetDsl.Generators.Emit;

/// <summary>
/// What the CPU backend adds to the backend-neutral plan for its SIMD kernels: the dense weights transposed once per
/// step into scratch (the register-blocked GEMM wants the input gradient's B row-major) and each convolution's weights
/// re-laid-out for its input gradient (flipped and transposed, or Winograd-transformed), both prepared in the loss phase
/// when some layer below needs the gradient. The GPU kernels read the weights in place and need neither.
/// </summary>
public static class CpuPlan
{
    public static ExecutionPlan Specialize(ExecutionPlan plan)
    {
        var layers = plan.Network.Layers;
        int last = layers.Count - 1;

        // Scratch: the transposed dense weights first, then the plan's own scratch, shifted.
        var transposed = new List<BufferPlan>();
        long at = 0;
        for (int l = 1; l <= last; l++)
        {
            var layer = layers[l];
            if (layer.Kind == LayerKind.Dense)
            {
                transposed.Add(new BufferPlan(Lowerer.WT(layer), Region.Scratch, at, (long)layer.InputSize * layer.OutputSize,
                    $"[{layer.OutputSize} x {layer.InputSize}]", $"{layer.Name} weights transposed, for the input gradient"));
                at += Lowerer.Padded((long)layer.InputSize * layer.OutputSize);
            }
        }

        var buffers = new List<BufferPlan>();
        buffers.AddRange(plan.Buffers.Where(b => b.Region is Region.Parameters or Region.Gradients));
        buffers.AddRange(transposed);
        buffers.AddRange(plan.Buffers.Where(b => b.Region == Region.Scratch).Select(b => b with { Offset = b.Offset + at }));
        buffers.AddRange(plan.Buffers.Where(b => b.Region == Region.Activations));
        foreach (var layer in layers.Where(l => l.Kind == LayerKind.Conv2D && l.Index > 0))
        {
            buffers.Add(new BufferPlan(Naming.Prepared(layer.Name), Region.Activations, 0, -1, "[kernel-defined]", $"{layer.Name} weights re-laid-out for the input gradient", SizedBy: layer.Name));
        }

        // The re-layouts run in the loss phase, after the loss, in layer order.
        var loss = plan.Loss.Select((phase, i) => i > 0 ? phase : phase with { Ops = phase.Ops.Concat(Relayouts(layers)).ToEquatableArray() });

        // The input-gradient kernels read the re-laid-out weights.
        var backward = plan.Backward.Select(phase => phase with { Ops = phase.Ops.Select(op => op switch
        {
            { Kind: OpKind.MatMul, TransposeB: true } => op with
            {
                B = Naming.WT(layers[op.Layer].Name),
                TransposeB = false,
                Comment = op.Comment.Replace(op.B + "^T", Naming.WT(layers[op.Layer].Name)),
            },
            { Kind: OpKind.ConvInputGradient } => op with { Operands = new[] { Naming.Prepared(layers[op.Layer].Name) }.ToEquatableArray() },
            _ => op,
        }).ToEquatableArray() });

        return plan with
        {
            Buffers = buffers.ToEquatableArray(),
            ScratchLength = plan.ScratchLength + at,
            Loss = loss.ToEquatableArray(),
            Backward = backward.ToEquatableArray(),
        };
    }

    private static IEnumerable<KernelOp> Relayouts(EquatableArray<ShapedLayer> layers)
    {
        for (int l = 1; l < layers.Count; l++)
        {
            var layer = layers[l];
            if (layer.Kind == LayerKind.Dense)
            {
                yield return new KernelOp(OpKind.Transpose, $"{Lowerer.WT(layer)}[{layer.OutputSize} x {layer.InputSize}] = {Lowerer.W(layer)}^T",
                    l, Guard.InputGradientNeeded, Lowerer.W(layer), null, Lowerer.WT(layer), Dim.Of(layer.InputSize), layer.OutputSize, Dim.Of(0), false,
                    EpilogueKind.None, ActivationKind.Linear, null, null);
            }
            else if (layer.Kind == LayerKind.Conv2D)
            {
                yield return new KernelOp(OpKind.ConvPrepare, $"{Naming.Prepared(layer.Name)} = {Lowerer.W(layer)} re-laid-out for the input gradient",
                    l, Guard.InputGradientNeeded, Lowerer.W(layer), null, Naming.Prepared(layer.Name), Dim.Of(0), 0, Dim.Of(0), false,
                    EpilogueKind.None, ActivationKind.Linear, null, null);
            }
        }
    }
}

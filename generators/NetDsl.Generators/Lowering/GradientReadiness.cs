using System.Collections.Generic;
using System.Linq;
using NetDsl.Generators.Model;

namespace NetDsl.Generators.Lowering;

/// <summary>
/// When the gradients become final during the backward pass, for data-parallel training to start reducing them while
/// earlier layers still run (the overlap of communication with computation). The parameters are laid out in layer
/// order and the backward pass runs the layers in reverse, so the final gradients grow as a suffix of the gradient
/// block: after a backward phase, the gradients of parameters <c>[offset, ParameterLength)</c> are final when no later
/// phase touches any of them.
/// </summary>
public static class GradientReadiness
{
    /// <summary>
    /// For each phase of <see cref="ExecutionPlan.Backward"/>, the start of the final suffix when it grew after that
    /// phase, or -1 (the whole block is final after the last phase, where the caller reduces what is left anyway).
    /// </summary>
    public static long[] FinalSuffixAfter(ExecutionPlan plan)
    {
        var gradients = plan.Buffers.Where(b => b.Region == Region.Gradients).ToDictionary(b => b.Name);
        var lastTouch = new Dictionary<string, int>();
        for (int p = 0; p < plan.Backward.Count; p++)
        {
            foreach (var op in plan.Backward[p].Ops)
            {
                foreach (string name in Touched(op))
                {
                    if (gradients.ContainsKey(name))
                    {
                        lastTouch[name] = p;
                    }
                }
            }
        }

        // Buffers by offset, descending: the suffix is final after phase p when every buffer from its start on was
        // last touched at or before p (a gradient the backward pass never touches, e.g. of a frozen-only layer, never
        // blocks: it is not written in this pass at all). Gradients touched in the loss phases are final before the
        // backward pass starts.
        var ordered = gradients.Values.OrderByDescending(b => b.Offset).ToList();
        var result = Enumerable.Repeat(-1L, plan.Backward.Count).ToArray();
        int covered = 0; // buffers of 'ordered' already in the final suffix
        for (int p = 0; p < plan.Backward.Count; p++)
        {
            int before = covered;
            while (covered < ordered.Count && (!lastTouch.TryGetValue(ordered[covered].Name, out int last) || last <= p))
            {
                covered++;
            }

            if (covered > before && p < plan.Backward.Count - 1)
            {
                result[p] = ordered[covered - 1].Offset;
            }
        }

        return result;
    }

    private static IEnumerable<string> Touched(KernelOp op)
    {
        yield return op.A;
        if (op.B is not null)
        {
            yield return op.B;
        }

        yield return op.C;
        if (op.Bias is not null)
        {
            yield return op.Bias;
        }

        if (op.Aux is not null)
        {
            yield return op.Aux;
        }

        foreach (string operand in op.Operands)
        {
            yield return operand;
        }
    }
}

using System.Collections.Generic;
using System.Linq;

namespace NetDsl.Generators.Lowering;

/// <summary>
/// When each per-batch tensor of a plan holds live data, in the two programs a network runs: the training step
/// (staging, forward phases, loss, backward phases, outputs read back) and inference (staging, the forward phases that
/// run outside training, the Predict tail, outputs read back). A backend places its tensors from these lives
/// (<see cref="NetDsl.ArenaPlanner"/>): tensors whose lives do not overlap share memory.
/// </summary>
internal static class Liveness
{
    /// <summary>The plan's per-batch tensors, in plan order: the ones <see cref="Of"/> gives lives for.</summary>
    public static List<BufferPlan> Tensors(ExecutionPlan plan) => plan.Buffers.Where(b => b.Region == Region.Activations).ToList();

    /// <summary>The training and inference lives of <see cref="Tensors"/>, index for index.</summary>
    public static (BufferLife[] Training, BufferLife[] Inference) Of(ExecutionPlan plan)
    {
        var tensors = Tensors(plan);
        var index = new Dictionary<string, int>();
        for (int i = 0; i < tensors.Count; i++)
        {
            index[tensors[i].Name] = i;
        }

        var training = Program(plan, index, tensors,
            plan.Forward.Concat(plan.Loss).Concat(plan.Backward), inference: false);
        var inference = Program(plan, index, tensors, InferencePhases(plan), inference: true);
        return (training, inference);
    }

    /// <summary>The phases Predict runs: the inference forward pass (fused where the plan fused), then the Predict tail.</summary>
    public static IEnumerable<Phase> InferencePhases(ExecutionPlan plan)
        => (plan.InferenceForward.Count > 0 ? plan.InferenceForward : plan.Forward.Where(phase => !TrainingOnly(phase))).Concat(plan.InferenceTail);

    /// <summary>A phase that runs in training only (a dropout's own pass; in inference its output is its input).</summary>
    public static bool TrainingOnly(Phase phase) => phase.Ops.All(o => o.Kind == OpKind.DropoutForward);

    private static BufferLife[] Program(ExecutionPlan plan, Dictionary<string, int> index, List<BufferPlan> tensors, IEnumerable<Phase> phases, bool inference)
    {
        var lives = Enumerable.Repeat(BufferLife.Unused, tensors.Count).ToArray();

        void Touch(string? name, int step)
        {
            if (name is null || !index.TryGetValue(name, out int i))
            {
                return; // a parameter, gradient or scratch tensor: not per batch
            }

            // Outside training a dropout's output is its input (recursively, for stacked dropouts).
            while (inference && tensors[i].InferenceAlias is { } alias && index.TryGetValue(alias, out int aliased))
            {
                i = aliased;
            }

            lives[i] = lives[i].IsUsed ? new BufferLife(lives[i].First, step) : new BufferLife(step, step);
        }

        Touch(plan.InputBuffer, 0); // staged before the program runs
        int step = 0;
        foreach (var phase in phases)
        {
            step++;
            foreach (var op in phase.Ops)
            {
                Touch(op.A, step);
                Touch(op.B, step);
                Touch(op.C, step);
                Touch(op.Bias, step);
                Touch(op.Aux, step);
                foreach (string operand in op.Operands)
                {
                    Touch(operand, step);
                }

                if (!inference)
                {
                    Touch(op.Dropout?.Copy, step); // outside training the fused mask writes no copy
                }
            }
        }

        Touch(plan.OutputBuffer, step + 1); // read back after the program
        return lives;
    }
}

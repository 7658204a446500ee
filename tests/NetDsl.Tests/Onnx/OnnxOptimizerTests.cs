using System.Text;
using NetDsl.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Onnx;

/// <summary>
/// Conformance of NetDsl's optimizers with the ONNX training operators (domain <c>ai.onnx.preview.training</c>:
/// Momentum, Adagrad, Adam) on Debian's libonnx-testdata node tests. Each case's attributes and inputs are mapped onto a
/// NetDsl optimizer driven directly through <see cref="ParameterSlice"/>, <see cref="IOptimizer.LearningRate"/> and
/// <see cref="IOptimizer.Iterations"/> (see <see cref="OnnxOptimizerClassifier"/>), run, and compared with the reference
/// outputs; a case NetDsl cannot express exactly must be listed in <see cref="OnnxOptimizerCases.NotExpressible"/> (and in
/// the "Optimizer cases" section of NOT_EXPRESSIBLE.md) with the reason. A missing data directory fails the tests.
/// </summary>
/// <remarks>
/// Tolerance: <c>|actual − expected| ≤ 1e-5 |expected| + 1e-6</c>. The references are float32 results of a handful of
/// numpy operations on O(1) values (exact to a few ulps, ~3e-7 relative); NetDsl rounds about ten float operations,
/// plus, for Momentum, the conversion of ONNX's velocity v to Keras's v' = −R·v and back (two more roundings): about
/// 1e-6 relative in all. 1e-5 leaves a margin of 10, and is below the effect of every term of the rules: the smallest,
/// the L2 term norm_coefficient·X = 1e-3 in a gradient of ~1, moves Adam's V by ~4e-5 relative and the others by
/// 1e-4 or more. Each tensor is run as it is (1 or 2 elements: the scalar tail) and tiled 19 times (a SIMD body plus a
/// tail), where every copy must come out bitwise identical.
/// </remarks>
public class OnnxOptimizerTests(ITestOutputHelper output)
{
    public const double RelativeTolerance = 1e-5;
    public const double AbsoluteTolerance = 1e-6;

    /// <summary>The optimizer cases not listed as not expressible; one entry asking for the package if it is missing.</summary>
    public static TheoryData<string> ExpressibleCases() =>
        OnnxCoverage.Cases(OnnxOptimizerCases.MatchingCaseNames, n => !OnnxOptimizerCases.NotExpressible.ContainsKey(n));

    [Theory]
    [MemberData(nameof(ExpressibleCases))]
    public void Case_matches_the_reference_outputs(string name)
    {
        OnnxCoverage.RequireData(name);
        var c = OnnxCases.Load(name);
        var (plan, reason) = OnnxOptimizerClassifier.Classify(c);
        Assert.True(plan is not null, $"{name} is not listed in OnnxOptimizerCases.NotExpressible, but the classifier finds it not expressible: {reason}");
        output.WriteLine($"{name}: {plan}");
        foreach (var set in c.DataSets)
        {
            foreach (int copies in new[] { 1, 19 })
            {
                var actual = plan.Run(set, copies);
                Assert.True(actual.Count == set.Outputs.Count, $"{name}: {actual.Count} outputs computed, {set.Outputs.Count} expected.");
                for (int i = 0; i < actual.Count; i++)
                {
                    var (failures, worst) = Compare(set.Outputs[i].AsFloats(), actual[i]);
                    Assert.True(failures.Length == 0, $"{name} {Path.GetFileName(set.Directory)} output {i} ({set.Outputs[i].Name}), {copies} copies:{Environment.NewLine}{failures}");
                    output.WriteLine($"  output {i} ({set.Outputs[i].Name}), {copies} cop{(copies > 1 ? "ies" : "y")}: worst error / tolerance = {worst:F4}");
                }
            }
        }
    }

    /// <summary>Every optimizer case folder is either run or listed with a reason; no listed entry is stale.</summary>
    [Fact]
    public void Every_case_is_run_or_listed_as_not_expressible()
    {
        Assert.True(Directory.Exists(OnnxCases.DataDirectory), OnnxCases.MissingDataMessage);
        var names = OnnxOptimizerCases.MatchingCaseNames();
        var problems = OnnxCoverage.Problems(names, OnnxOptimizerCases.NotExpressible, "OnnxOptimizerCases.NotExpressible", name =>
        {
            var (plan, reason) = OnnxOptimizerClassifier.Classify(OnnxCases.Load(name));
            return (plan?.ToString(), reason);
        }, output.WriteLine);
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void At_least_the_known_number_of_cases_run()
    {
        Assert.True(Directory.Exists(OnnxCases.DataDirectory), OnnxCases.MissingDataMessage);
        var names = OnnxOptimizerCases.MatchingCaseNames();
        int run = names.Count(n => !OnnxOptimizerCases.NotExpressible.ContainsKey(n));
        output.WriteLine($"{run} of {names.Count} optimizer cases run");
        Assert.True(run >= OnnxOptimizerCases.MinimumRunCases, $"Only {run} ONNX optimizer cases are run; at least {OnnxOptimizerCases.MinimumRunCases} were expected.");
    }

    /// <summary>
    /// The "Optimizer cases" section of NOT_EXPRESSIBLE.md lists exactly the table's cases (lines <c>- `case`: reason</c>)
    /// and names every erratum.
    /// </summary>
    [Fact]
    public void The_markdown_section_matches_the_table()
    {
        string? path = FindUp(Path.Combine("tests", "NetDsl.Tests", "Onnx", "NOT_EXPRESSIBLE.md"));
        Assert.True(path is not null, "tests/NetDsl.Tests/Onnx/NOT_EXPRESSIBLE.md not found above the test assembly.");
        var lines = File.ReadAllLines(path);
        int start = Array.IndexOf(lines, "## Optimizer cases");
        Assert.True(start >= 0, "NOT_EXPRESSIBLE.md has no '## Optimizer cases' section.");
        var section = lines.Skip(start + 1).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal)).ToArray();
        var rows = section
            .Where(l => l.StartsWith("- `test_", StringComparison.Ordinal))
            .ToDictionary(l => l[3..l.IndexOf('`', 3)], l => l[(l.IndexOf("`: ", StringComparison.Ordinal) + 3)..]);
        var expected = OnnxOptimizerCases.NotExpressible;
        var missing = expected.Where(kv => !rows.TryGetValue(kv.Key, out string? r) || r != kv.Value).Select(kv => $"- `{kv.Key}`: {kv.Value}");
        var extra = rows.Keys.Where(k => !expected.ContainsKey(k));
        Assert.True(!missing.Any() && !extra.Any(),
            $"The Optimizer cases section is out of step with OnnxOptimizerCases.NotExpressible. Expected lines:{Environment.NewLine}" +
            string.Join(Environment.NewLine, expected.Select(kv => $"- `{kv.Key}`: {kv.Value}")) + $"{Environment.NewLine}Extra: {string.Join(", ", extra)}");
        foreach (string erratum in OnnxOptimizerCases.Errata.Keys)
        {
            Assert.True(section.Any(l => l.Contains($"`{erratum}`", StringComparison.Ordinal)), $"The Optimizer cases section does not explain the erratum of {erratum}.");
        }
    }

    /// <summary>
    /// Each erratum is real and still needed: the model indeed lacks the attribute, and with the attribute's ONNX default
    /// the outputs miss the reference by far more than the tolerance, while with the corrected value they match (above).
    /// </summary>
    [Fact]
    public void Errata_are_real_and_still_needed()
    {
        Assert.True(Directory.Exists(OnnxCases.DataDirectory), OnnxCases.MissingDataMessage);
        foreach (var (name, erratum) in OnnxOptimizerCases.Errata)
        {
            var c = OnnxCases.Load(name);
            var node = Assert.Single(c.Model.Graph.Nodes);
            Assert.False(node.Attributes.ContainsKey(erratum.Attribute),
                $"{name}'s model now sets '{erratum.Attribute}' itself: the data was fixed, remove the erratum from OnnxOptimizerCases.Errata.");
            var (plan, reason) = OnnxOptimizerClassifier.Classify(c, applyErrata: false);
            Assert.True(plan is not null, reason);
            var set = c.DataSets[0];
            var actual = plan.Run(set, 1);
            int mismatched = Enumerable.Range(0, actual.Count).Count(i => Compare(set.Outputs[i].AsFloats(), actual[i]).Failures.Length > 0);
            output.WriteLine($"{name} with the model's own attributes: {mismatched} of {actual.Count} outputs out of tolerance");
            Assert.True(mismatched > 0, $"{name} matches the reference with the model's own attributes: the erratum is not needed.");
        }
    }

    private static (string Failures, double Worst) Compare(float[] expected, float[] actual)
    {
        if (expected.Length != actual.Length)
        {
            return ($"  {actual.Length} values, expected {expected.Length}", double.NaN);
        }

        var failures = new StringBuilder();
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = RelativeTolerance * Math.Abs(expected[i]) + AbsoluteTolerance;
            double error = Math.Abs((double)actual[i] - expected[i]);
            if (!(error <= tolerance))
            {
                failures.AppendLine($"  [{i}]: actual {actual[i]:R}, expected {expected[i]:R}, error {error:E2} > {tolerance:E2}");
            }
            else
            {
                worst = Math.Max(worst, error / tolerance);
            }
        }

        return (failures.ToString(), worst);
    }

    private static string? FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

/// <summary>A correction of a data set's model: the attribute value the reference outputs were computed with.</summary>
public sealed record OnnxErratum(string Attribute, float Value, string Reason);

/// <summary>The ONNX optimizer node tests covered, those NetDsl cannot express, and the data errata.</summary>
public static class OnnxOptimizerCases
{
    /// <summary>Folder-name prefixes of the training operators' cases (glob <c>prefix*</c>).</summary>
    public static readonly string[] Prefixes = ["test_momentum", "test_nesterov_momentum", "test_adagrad", "test_adam"];

    /// <summary>The libonnx-testdata 1.12 count: all seven cases run.</summary>
    public const int MinimumRunCases = 7;

    /// <summary>
    /// Every optimizer case NetDsl cannot express exactly, with the reason (keep the "Optimizer cases" section of
    /// NOT_EXPRESSIBLE.md in step). Empty: every case of the installed data runs. <see cref="OnnxOptimizerClassifier"/>
    /// decides each case, and refuses (with a reason) e.g. Nesterov momentum with T &gt; 0 and beta ≠ 1, Adam with
    /// norm_coefficient_post ≠ 0, or zero epsilons.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> NotExpressible = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// Models whose reference outputs were computed with an attribute value the model does not carry. test_adam_multiple:
    /// ONNX's generator (onnx/backend/test/case/node/adam.py) computed the outputs with epsilon = 1e-2 but did not pass
    /// it to make_node, so the model has the default 1e-6; later ONNX releases pass it. Checked to be real and still
    /// needed by <see cref="OnnxOptimizerTests.Errata_are_real_and_still_needed"/>.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, OnnxErratum> Errata = new SortedDictionary<string, OnnxErratum>(StringComparer.Ordinal)
    {
        ["test_adam_multiple"] = new("epsilon", 1e-2f, "reference outputs computed with epsilon = 1e-2, which the model does not set (default 1e-6)"),
    };

    public static bool Matches(string name) => Prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));

    /// <summary>Every optimizer case folder name, sorted; throws with the install hint if the data is missing.</summary>
    public static IReadOnlyList<string> MatchingCaseNames()
    {
        if (!Directory.Exists(OnnxCases.DataDirectory))
        {
            throw new InvalidOperationException(OnnxCases.MissingDataMessage);
        }

        return [.. Directory.GetDirectories(OnnxCases.DataDirectory).Select(Path.GetFileName).OfType<string>().Where(Matches).Order(StringComparer.Ordinal)];
    }
}

/// <summary>
/// How one ONNX optimizer node maps onto NetDsl: the optimizer, the <see cref="IOptimizer.Iterations"/> to set, and the
/// conversion of ONNX's first state tensor into NetDsl's state slot 0 and back.
/// </summary>
public sealed class OnnxOptimizerPlan(string description, Func<float, float, IOptimizer> create, Func<long, long> iterations, int stateTensors,
    Func<float, float, float> encodeState0, Func<float, float, float> decodeState0)
{
    /// <summary>Runs the node on a data set with every tensor tiled <paramref name="copies"/> times; returns the outputs in graph order.</summary>
    public List<float[]> Run(OnnxDataSet set, int copies)
    {
        float r = set.Inputs[0].AsFloats()[0];
        long t = set.Inputs[1].Int64s![0];
        int n = (set.Inputs.Count - 2) / (2 + stateTensors);
        var optimizer = create(r, t);
        optimizer.Iterations = iterations(t);
        var results = new List<float[]>[1 + stateTensors];
        for (int k = 0; k < results.Length; k++)
        {
            results[k] = [];
        }

        for (int i = 0; i < n; i++)
        {
            float[] x = Tile(set.Inputs[2 + i].AsFloats(), copies);
            float[] g = Tile(set.Inputs[2 + n + i].AsFloats(), copies);
            float[] s0 = Tile(set.Inputs[2 + 2 * n + i].AsFloats(), copies).Select(v => encodeState0(v, r)).ToArray();
            float[] s1 = stateTensors > 1 ? Tile(set.Inputs[2 + 3 * n + i].AsFloats(), copies) : [];
            optimizer.Update(new ParameterSlice(x, g, s0, optimizer.StateSlots > 1 ? s1 : default));
            int length = x.Length / copies;
            results[0].Add(First(x, length, copies, "X"));
            results[1].Add(First(s0, length, copies, "state 0").Select(v => decodeState0(v, r)).ToArray());
            if (stateTensors > 1)
            {
                results[2].Add(First(s1, length, copies, "state 1"));
            }
        }

        return [.. results.SelectMany(r => r)];
    }

    public override string ToString() => description;

    private static float[] Tile(float[] values, int copies) => [.. Enumerable.Repeat(values, copies).SelectMany(v => v)];

    /// <summary>The first copy, after checking that every copy is bitwise equal to it (vector body and scalar tail agree).</summary>
    private static float[] First(float[] tiled, int length, int copies, string what)
    {
        for (int c = 1; c < copies; c++)
        {
            for (int i = 0; i < length; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(tiled[c * length + i]) == BitConverter.SingleToInt32Bits(tiled[i]),
                    $"{what}: copy {c} element {i} is {tiled[c * length + i]:R}, copy 0 has {tiled[i]:R}");
            }
        }

        return tiled[..length];
    }
}

/// <summary>
/// Decides how (and whether) a case maps onto NetDsl, from the operator's documented semantics
/// (https://onnx.ai/onnx/operators/, domain ai.onnx.preview.training, version 1). With <c>g' = norm_coefficient · X + G</c>
/// (NetDsl's coupled weight decay):
/// <list type="bullet">
/// <item>Momentum, standard: <c>V' = α V + β_T g'; X' = X − R V'</c> with β_T = 1 for T = 0, else β. NetDsl's (Keras)
/// velocity holds the rate: with <c>v = −R V</c> and learning rate <c>R β_T</c>, SGD's <c>v' = α v − R β_T g'</c> is
/// <c>−R V'</c> and <c>X + v'</c> is ONNX's X'.</item>
/// <item>Momentum, Nesterov: <c>X' = X − R (g' + α V')</c>; SGD's Nesterov step <c>X + α v' − lr g'</c> equals it only
/// when lr = R·β_T = R, i.e. T = 0 or β = 1.</item>
/// <item>Adagrad: <c>r = R / (1 + T · decay_factor)</c> is <see cref="InverseTimeDecay"/>(decay_factor, 1) at step T
/// (NetDsl Iterations = T + 1); <c>H' = H + g'²; X' = X − r g' / (√H' + ε)</c> is NetDsl's Adagrad with a zero initial
/// accumulator (state slot 0 = H).</item>
/// <item>Adam: <c>V' = α V + (1−α) g'; H' = β H + (1−β) g'²; X' = X − R_T V' / (√H' + ε)</c> with
/// <c>R_T = R √(1−β^T)/(1−α^T)</c>, or R for T = 0: NetDsl's Adam with Iterations = T (no correction at 0), slots V and H;
/// <c>norm_coefficient_post</c> must be 0.</item>
/// </list>
/// </summary>
public static class OnnxOptimizerClassifier
{
    public const string Domain = "ai.onnx.preview.training";

    public static (OnnxOptimizerPlan? Plan, string Reason) Classify(OnnxCase c, bool applyErrata = true)
    {
        if (c.Model.Graph.Nodes.Count != 1)
        {
            return (null, $"{c.Model.Graph.Nodes.Count} nodes (a single optimizer node expected)");
        }

        var node = c.Model.Graph.Nodes[0];
        if (node.Domain != Domain)
        {
            return (null, $"operator {node.OpType} of domain '{node.Domain}', not {Domain}");
        }

        int stateTensors = node.OpType switch { "Momentum" => 1, "Adagrad" => 1, "Adam" => 2, _ => 0 };
        if (stateTensors == 0)
        {
            return (null, $"operator {node.OpType} (NetDsl maps Momentum, Adagrad and Adam)");
        }

        int perTensor = 2 + stateTensors;
        if (node.Inputs.Count < 2 + perTensor || (node.Inputs.Count - 2) % perTensor != 0 || node.Outputs.Count != (node.Inputs.Count - 2) / perTensor * (1 + stateTensors))
        {
            return (null, $"{node.Inputs.Count} inputs and {node.Outputs.Count} outputs do not form R, T and {perTensor} tensors per optimized tensor");
        }

        var rates = c.DataSets.Select(s => c.Input(s, node.Inputs[0]).AsFloats()[0]).ToArray();
        var steps = c.DataSets.Select(s => c.Input(s, node.Inputs[1]).Int64s![0]).ToArray();
        if (rates.Any(r => !(r > 0f) || !float.IsFinite(r)) || steps.Any(t => t < 0))
        {
            return (null, $"R = [{string.Join(", ", rates)}], T = [{string.Join(", ", steps)}] (NetDsl's learning rate is positive and finite, its step count at least 0)");
        }

        float Attribute(string name, float fallback) =>
            applyErrata && OnnxOptimizerCases.Errata.TryGetValue(c.Name, out var e) && e.Attribute == name && !node.Attributes.ContainsKey(name)
                ? e.Value
                : node.Float(name, fallback);

        float norm = Attribute("norm_coefficient", 0f);
        if (!(norm >= 0f))
        {
            return (null, $"norm_coefficient={norm} (NetDsl's weight decay is at least 0)");
        }

        var options = norm > 0f ? new OptimizerOptions { WeightDecay = norm, WeightDecayMode = WeightDecayMode.Coupled } : OptimizerOptions.Default;
        switch (node.OpType)
        {
            case "Momentum":
            {
                if (!node.Attributes.ContainsKey("alpha") || !node.Attributes.ContainsKey("beta") || !node.Attributes.ContainsKey("mode"))
                {
                    return (null, "a required attribute (alpha, beta, mode) is missing");
                }

                float alpha = node.Float("alpha", 0), beta = node.Float("beta", 0);
                string mode = node.String("mode", "");
                if (!(alpha > 0f && alpha < 1f))
                {
                    return (null, $"alpha={alpha} (NetDsl's momentum is in (0, 1) when a velocity is kept)");
                }

                if (mode is not ("standard" or "nesterov"))
                {
                    return (null, $"mode '{mode}'");
                }

                bool nesterov = mode == "nesterov";
                if (nesterov && beta != 1f && steps.Any(t => t > 0))
                {
                    return (null, $"Nesterov with T > 0 and beta={beta}: ONNX steps by R (g + alpha V) with V accumulating beta g, NetDsl (Keras) by one rate for both");
                }

                if (!nesterov && !(beta > 0f) && steps.Any(t => t > 0))
                {
                    return (null, $"beta={beta} with T > 0 (NetDsl's learning rate R·beta must be positive)");
                }

                return (new OnnxOptimizerPlan(
                    $"Sgd(lr = R·{(nesterov ? "1" : $"beta_T (beta {beta})")}, momentum {alpha}, nesterov {nesterov}, coupled weight decay {norm}); slot 0 = −R·V",
                    (r, t) => new Sgd(nesterov || t == 0 ? r : r * beta, alpha, nesterov, options: options),
                    t => t + 1, 1, (v, r) => -r * v, (s, r) => -s / r), "");
            }

            case "Adagrad":
            {
                float decay = Attribute("decay_factor", 0f), epsilon = Attribute("epsilon", 1e-6f);
                if (!(decay >= 0f) || !(epsilon > 0f))
                {
                    return (null, $"decay_factor={decay}, epsilon={epsilon} (NetDsl needs a decay ≥ 0 and ε > 0)");
                }

                var scheduled = decay > 0f ? options with { Schedule = new InverseTimeDecay(decay, 1) } : options;
                return (new OnnxOptimizerPlan(
                    $"Adagrad(lr = R, initial accumulator 0, eps {epsilon}, coupled weight decay {norm}, InverseTimeDecay({decay}, 1)); Iterations = T + 1; slot 0 = H",
                    (r, t) => new Adagrad(r, 0f, epsilon, scheduled),
                    t => t + 1, 1, (h, r) => h, (s, r) => s), "");
            }

            default:
            {
                float alpha = Attribute("alpha", 0.9f), beta = Attribute("beta", 0.999f), epsilon = Attribute("epsilon", 1e-6f), post = Attribute("norm_coefficient_post", 0f);
                if (post != 0f)
                {
                    return (null, $"norm_coefficient_post={post}: ONNX shrinks X after the update, NetDsl's decoupled decay acts before it (and one decay mode at a time)");
                }

                if (!(alpha >= 0f && alpha < 1f) || !(beta >= 0f && beta < 1f) || !(epsilon > 0f))
                {
                    return (null, $"alpha={alpha}, beta={beta}, epsilon={epsilon} (NetDsl needs betas in [0, 1) and ε > 0)");
                }

                return (new OnnxOptimizerPlan(
                    $"Adam(lr = R, beta1 {alpha}, beta2 {beta}, eps {epsilon}, coupled weight decay {norm}); Iterations = T; slots V, H",
                    (r, t) => new Adam(r, alpha, beta, epsilon, options),
                    t => t, 2, (v, r) => v, (s, r) => s), "");
            }
        }
    }
}

using System.Text;
using NetDsl.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Onnx;

/// <summary>How an ONNX loss case maps onto <see cref="Losses"/>: softmax + sparse categorical cross-entropy of [N, C] scores.</summary>
/// <param name="Rows">N, the samples.</param>
/// <param name="Classes">C, the classes.</param>
/// <param name="Reduction">
/// ONNX's reduction: "mean" is NetDsl's batch loss (the kernels' sum over the batch divided by N, as the network does),
/// "sum" the kernels' returned sum itself, "none" the per-sample losses (one single-row range per sample).
/// </param>
/// <param name="LogProb">Whether the case also outputs log_prob: compared as the logarithm of the probabilities the kernel writes (what Predict returns).</param>
public sealed record OnnxLossPlan(int Rows, int Classes, string Reduction, bool LogProb);

/// <summary>
/// Conformance of the loss kernels against the ONNX backend node tests of SoftmaxCrossEntropyLoss (<c>test_sce_*</c>)
/// and NegativeLogLikelihoodLoss (<c>test_nllloss_*</c>): every case NetDsl's losses can express runs through
/// <see cref="Losses.ComputeSparse{TAct}"/> with <see cref="OutputAct.Softmax"/> (and the one-hot
/// <see cref="Losses.Compute{TLoss, TAct}"/>); every other case is listed, with the reason the classifier below gives,
/// in the "Loss cases" section of NOT_EXPRESSIBLE.md. A missing data directory fails the tests.
/// </summary>
/// <remarks>
/// Tolerance: <see cref="OnnxConformanceTests.RelativeTolerance"/> and <see cref="OnnxConformanceTests.AbsoluteTolerance"/>
/// (1e-4 relative + 1e-5). The references are float32 from numpy (float64 inside). A per-sample loss here is
/// <c>log(sum(exp(x - max))) - (x_label - max)</c> over C = 5 classes of values in [0, 1): a few ulps of values
/// around 1.5 (errors ~5e-7), and the mean over N = 3 adds one rounding; <c>log p</c> of a float probability p errs by
/// its relative error (a few ulps, ~5e-7 absolute). Both are 20x below the absolute 1e-5 alone, while a wrong label,
/// reduction or normalisation errs by 1e-2 or more.
/// </remarks>
public class OnnxLossTests(ITestOutputHelper output)
{

    /// <summary>The libonnx-testdata 1.12 count of runnable cases (6 SoftmaxCrossEntropyLoss cases and their expanded graphs).</summary>
    public const int MinimumRunCases = 12;

    public static readonly string[] Prefixes = ["test_sce_", "test_nllloss_"];

    public static IReadOnlyList<string> CaseNames() =>
        [.. Directory.GetDirectories(OnnxCases.DataDirectory).Select(Path.GetFileName).OfType<string>()
            .Where(n => Prefixes.Any(p => n.StartsWith(p, StringComparison.Ordinal))).Order(StringComparer.Ordinal)];

    public static TheoryData<string> ExpressibleCases() =>
        OnnxCoverage.Cases(CaseNames, n => Classify(OnnxCases.Load(n)).Plan is not null);

    [Theory]
    [MemberData(nameof(ExpressibleCases))]
    public void Case_matches_the_reference_outputs(string name)
    {
        OnnxCoverage.RequireData(name);
        var c = OnnxCases.Load(name);
        var (plan, reason) = Classify(c);
        Assert.True(plan is not null, $"{name}: {reason}");
        output.WriteLine($"{name}: {plan}");
        foreach (var set in c.DataSets)
        {
            foreach (int parts in new[] { 1, 3 })
            {
                foreach (bool oneHot in new[] { false, true })
                {
                    var actual = Run(plan, set, parts, oneHot);
                    Assert.True(actual.Count == set.Outputs.Count, $"{name}: {actual.Count} outputs computed, {set.Outputs.Count} expected.");
                    for (int i = 0; i < actual.Count; i++)
                    {
                        double worst = Compare($"{name} {Path.GetFileName(set.Directory)} output {i} ({parts} parts{(oneHot ? ", one-hot" : "")})", set.Outputs[i], actual[i]);
                        output.WriteLine($"  output {i}, {parts} part(s){(oneHot ? ", one-hot" : "")}: worst error / tolerance = {worst:F4}");
                    }
                }
            }
        }
    }

    /// <summary>Every test_sce_* / test_nllloss_* folder runs or is listed with its reason in NOT_EXPRESSIBLE.md; no entry is stale.</summary>
    [Fact]
    public void Every_case_is_run_or_listed_as_not_expressible()
    {
        Assert.True(Directory.Exists(OnnxCases.DataDirectory), OnnxCases.MissingDataMessage);
        var listed = ListedCases();
        var names = CaseNames();
        var problems = new List<string>();
        int run = 0;
        foreach (string name in names)
        {
            var (plan, reason) = Classify(OnnxCases.Load(name));
            bool isListed = listed.TryGetValue(name, out var row);
            if (plan is not null)
            {
                run++;
                output.WriteLine($"run              {name}: {plan}");
                if (isListed)
                {
                    problems.Add($"{name} runs ({plan}) but is listed as not expressible: \"{row.Reason}\"");
                }
            }
            else
            {
                output.WriteLine($"not expressible  {name}: {reason}");
                string expectedRow = MarkdownRow(name, OperatorOf(OnnxCases.Load(name)), reason!);
                if (!isListed)
                {
                    problems.Add($"{name} is not expressible but not listed; add to the Loss cases section: {expectedRow}");
                }
                else if (row.Reason != reason || row.Operator != OperatorOf(OnnxCases.Load(name)))
                {
                    problems.Add($"{name} is listed with another operator or reason; expected: {expectedRow}");
                }
            }
        }

        problems.AddRange(listed.Keys.Where(k => !names.Contains(k)).Select(k => $"{k} is listed but is not a case folder in {OnnxCases.DataDirectory}"));
        output.WriteLine($"{run} run, {names.Count - run} not expressible");
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        Assert.True(run >= MinimumRunCases, $"Only {run} loss cases run; at least {MinimumRunCases} were expected.");
    }

    /// <summary>
    /// Decides from the model and the first data set whether the case is softmax + sparse categorical cross-entropy of a
    /// [N, C] batch: SoftmaxCrossEntropyLoss, or its expanded graph (LogSoftmax then NegativeLogLikelihoodLoss), without
    /// class weights and without ignored labels; NegativeLogLikelihoodLoss only if its inputs are already
    /// log-probabilities (then the softmax the kernel applies is the identity on them). Returns every reason that applies.
    /// </summary>
    public static (OnnxLossPlan? Plan, string? Reason) Classify(OnnxCase c)
    {
        var graph = c.Model.Graph;
        var set = c.DataSets[0];
        var nodes = graph.Nodes;
        var sce = nodes.FirstOrDefault(n => n.OpType == "SoftmaxCrossEntropyLoss");
        var nll = nodes.FirstOrDefault(n => n.OpType == "NegativeLogLikelihoodLoss");
        bool softmax = sce is not null || (nll is not null && nodes.Any(n => n.OpType == "LogSoftmax"));
        var attributes = sce ?? nll; // null: an expanded NegativeLogLikelihoodLoss (Gather/Neg/... graph)

        var reasons = new List<string>();
        var scores = set.Inputs[0];
        var labels = set.Inputs[1];
        if (scores.Floats is null || labels.Int64s is null)
        {
            return (null, $"{scores.DataType} scores and {labels.DataType} labels (NetDsl takes float32 scores and integer labels)");
        }

        if (scores.Dims.Length != 2)
        {
            reasons.Add($"scores [{string.Join(",", scores.Dims)}]: spatial dims after the class axis (NetDsl's loss is over [batch, units])");
        }

        if (!softmax)
        {
            var (low, high) = LogSumExpRange(scores.Floats, scores.Dims);
            if (low < -1e-5 || high > 1e-5)
            {
                reasons.Add($"x is not log-probabilities (logsumexp over the classes {low:F2}..{high:F2}, not 0; NetDsl's sparse cross-entropy applies a softmax)");
            }
        }

        if (c.FedInputs.Count > 2)
        {
            reasons.Add("class weights (NetDsl weighs every sample equally)");
        }

        // An expanded NegativeLogLikelihoodLoss spells ignore_index out in Equal/Where nodes: only a node's attributes are read.
        int classes = (int)scores.Dims[1];
        long? ignore = attributes?.Attributes.ContainsKey("ignore_index") == true ? attributes.Int("ignore_index", 0) : null;
        int ignored = ignore is { } ii ? labels.Int64s.Count(v => v == ii) : 0;
        if (ignored > 0)
        {
            reasons.Add($"ignore_index={ignore} matches {ignored} label{(ignored > 1 ? "s" : "")} (NetDsl has no ignored samples)");
        }

        if (attributes is not null && labels.Int64s.Any(v => v != ignore && (v < 0 || v >= classes)))
        {
            reasons.Add($"labels outside [0, {classes})");
        }

        if (attributes is null && reasons.Count == 0)
        {
            reasons.Add("expanded NegativeLogLikelihoodLoss graph (reduction and ignore_index are not recoverable from one node)");
        }

        if (reasons.Count > 0)
        {
            return (null, string.Join("; ", reasons));
        }

        int outputs = graph.Outputs.Count;
        return (new OnnxLossPlan((int)scores.Dims[0], classes, attributes!.String("reduction", "mean"), outputs > 1), null);
    }

    /// <summary>Runs a case's data set through the loss kernels in <paramref name="parts"/> row ranges.</summary>
    private static List<float[]> Run(OnnxLossPlan plan, OnnxDataSet set, int parts, bool oneHot)
    {
        int n = plan.Rows, k = plan.Classes;
        float[] x = set.Inputs[0].AsFloats();
        int[] labels = [.. set.Inputs[1].Int64s!.Select(v => checked((int)v))];
        float[] targets = new float[n * k];
        for (int r = 0; r < n; r++)
        {
            targets[r * k + labels[r]] = 1f;
        }

        long size = Arena.Padded((long)n * k);
        using var arena = new Arena(3 * size);
        x.CopyTo(arena.GetSpan(0, x.Length));
        float scale = 1f / n;
        var perSample = new float[n];
        double total = 0;
        var ranges = plan.Reduction == "none"
            ? Enumerable.Range(0, n).Select(r => (r, r + 1))
            : Enumerable.Range(0, parts).Select(p => (n * p / parts, n * (p + 1) / parts));
        foreach (var (start, end) in ranges)
        {
            float sum = oneHot
                ? Losses.Compute<LossFunctions.CategoricalCrossEntropy, OutputAct.Softmax>(arena, 0, size, 2 * size, targets, k, start, end, scale)
                : Losses.ComputeSparse<OutputAct.Softmax>(arena, 0, size, 2 * size, labels, k, start, end, scale);
            total += sum;
            if (end == start + 1)
            {
                perSample[start] = sum;
            }
        }

        var results = new List<float[]>
        {
            plan.Reduction switch
            {
                "mean" => [(float)(total / n)],
                "sum" => [(float)total],
                "none" => perSample,
                _ => throw new InvalidDataException($"reduction '{plan.Reduction}'"),
            },
        };
        if (plan.LogProb)
        {
            results.Add([.. arena.GetSpan(size, n * k).ToArray().Select(p => (float)Math.Log(p))]);
        }

        return results;
    }

    private static (double Low, double High) LogSumExpRange(float[] x, long[] dims)
    {
        // x is [N, C, d1, ...]: for each sample and spatial position, logsumexp over the class axis.
        int n = (int)dims[0], c = (int)dims[1];
        int inner = (int)dims.Skip(2).Aggregate(1L, (a, d) => a * d);
        double low = double.PositiveInfinity, high = double.NegativeInfinity;
        for (int s = 0; s < n; s++)
        {
            for (int p = 0; p < inner; p++)
            {
                double max = double.NegativeInfinity, sum = 0;
                for (int j = 0; j < c; j++)
                {
                    max = Math.Max(max, x[(s * c + j) * inner + p]);
                }

                for (int j = 0; j < c; j++)
                {
                    sum += Math.Exp(x[(s * c + j) * inner + p] - max);
                }

                double lse = max + Math.Log(sum);
                low = Math.Min(low, lse);
                high = Math.Max(high, lse);
            }
        }

        return (low, high);
    }

    private static string OperatorOf(OnnxCase c)
    {
        var nodes = c.Model.Graph.Nodes;
        string op = c.Name.StartsWith("test_sce_", StringComparison.Ordinal) ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss";
        return nodes.Count == 1 && nodes[0].OpType == op ? op : $"{op} (expanded)";
    }

    private static string MarkdownRow(string name, string op, string reason) => $"| {op} | `{name}` | {reason} |";

    /// <summary>The rows of the "## Loss cases" section of NOT_EXPRESSIBLE.md: | operator | `case` | reason |.</summary>
    private static Dictionary<string, (string Operator, string Reason)> ListedCases()
    {
        string? path = null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null && path is null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "NetDsl.Tests", "Onnx", "NOT_EXPRESSIBLE.md");
            path = File.Exists(candidate) ? candidate : null;
        }

        Assert.True(path is not null, "tests/NetDsl.Tests/Onnx/NOT_EXPRESSIBLE.md not found above the test assembly.");
        var rows = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        bool inSection = false;
        foreach (string line in File.ReadLines(path))
        {
            if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                inSection = line.Trim() == "## Loss cases";
                continue;
            }

            if (!inSection || !line.StartsWith("| ", StringComparison.Ordinal))
            {
                continue;
            }

            string[] cells = line.Split('|', StringSplitOptions.TrimEntries);
            if (cells.Length == 5 && cells[2].StartsWith("`test_", StringComparison.Ordinal))
            {
                Assert.True(rows.TryAdd(cells[2].Trim('`'), (cells[1], cells[3])), $"{cells[2]} is listed twice");
            }
        }

        return rows;
    }

    private static double Compare(string what, OnnxTensor expectedTensor, float[] actual)
    {
        float[] expected = expectedTensor.AsFloats();
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length} (dims [{string.Join(",", expectedTensor.Dims)}]).");
        double worst = 0;
        var failures = new StringBuilder();
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = OnnxConformanceTests.RelativeTolerance * Math.Abs(expected[i]) + OnnxConformanceTests.AbsoluteTolerance;
            double error = Math.Abs((double)actual[i] - expected[i]);
            if (!(error <= tolerance))
            {
                failures.AppendLine($"  [{i}]: actual {actual[i]:R}, expected {expected[i]:R}, error {error:E2} > {tolerance:E2}");
            }

            worst = Math.Max(worst, error / tolerance);
        }

        Assert.True(failures.Length == 0, $"{what}: values out of tolerance:{Environment.NewLine}{failures}");
        return worst;
    }
}

using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace NetDsl.Tests.Onnx;

/// <summary>
/// Conformance against the ONNX backend node tests (Debian's libonnx-testdata): every case of the covered operators is
/// either run through NetDsl's kernels and compared with the reference outputs, or listed in
/// <see cref="OnnxCases.NotExpressible"/> with the reason. A missing data directory fails the tests (never skips).
/// </summary>
/// <remarks>
/// Tolerance: <c>|actual - expected| &lt;= 1e-4 |expected| + 1e-5</c>. The references are float32 values computed by
/// numpy (often in float64, then rounded). The largest reductions here are 25-term sums (5x5 windows, 3x3 kernels,
/// K = 10 dot products) of O(1) values, for which float32 accumulation in any order errs by at most about
/// K eps Σ|terms| (eps = 2^-24): below 2e-6 relative to the sum of magnitudes. Exp-based outputs (sigmoid, tanh as
/// 2 sigmoid(2x) - 1, softmax) carry a few ulps from the vectorised exp and the division, and batch normalisation a
/// few more from the mean/variance over 40 values and 1/sqrt. 1e-4 relative leaves a margin of 10-50x over those
/// bounds while still catching any wrong index, padding, count or formula (those err by O(1e-2) or more); the absolute
/// 1e-5 covers outputs that cancel to near zero (a sum of signed terms, tanh of a small input computed through
/// 2 sigmoid(2x) - 1, whose absolute error is ~1e-7), where a relative bound is meaningless.
/// </remarks>
public class OnnxConformanceTests(ITestOutputHelper output)
{
    public const double RelativeTolerance = 1e-4;
    public const double AbsoluteTolerance = 1e-5;

    /// <summary>The covered cases not listed as not expressible; one entry asking for the package if it is missing.</summary>
    public static TheoryData<string> ExpressibleCases() =>
        OnnxCoverage.Cases(OnnxCases.MatchingCaseNames, n => !OnnxCases.NotExpressible.ContainsKey(n));

    [Theory]
    [MemberData(nameof(ExpressibleCases))]
    public void Case_matches_the_reference_outputs(string name)
    {
        OnnxCoverage.RequireData(name);
        var c = OnnxCases.Load(name);
        var (plan, reason) = OnnxClassifier.Classify(c);
        Assert.True(plan is not null, $"{name} is not listed in OnnxCases.NotExpressible, but the classifier finds it not expressible: {reason}");
        output.WriteLine($"{name}: {plan}");
        foreach (var set in c.DataSets)
        {
            foreach (int parts in new[] { 1, 3 })
            {
                var actual = OnnxRunner.Run(c, plan, set, parts);
                Assert.True(actual.Count == set.Outputs.Count, $"{name}: {actual.Count} outputs computed, {set.Outputs.Count} expected.");
                for (int i = 0; i < actual.Count; i++)
                {
                    double worst = Compare(name, Path.GetFileName(set.Directory), i, parts, set.Outputs[i], actual[i]);
                    output.WriteLine($"  {Path.GetFileName(set.Directory)} output {i} ({parts} part{(parts > 1 ? "s" : "")}): worst error / tolerance = {worst:F4}");
                }
            }
        }
    }

    /// <summary>Every covered case folder is either expressible (and so run above) or listed with a reason; no entry is stale.</summary>
    [Fact]
    public void Every_case_is_run_or_listed_as_not_expressible()
    {
        Assert.True(Directory.Exists(OnnxCases.DataDirectory), OnnxCases.MissingDataMessage);
        var names = OnnxCases.MatchingCaseNames();
        var perOperator = new SortedDictionary<string, (int Run, int NotExpressible)>(StringComparer.Ordinal);
        var problems = OnnxCoverage.Problems(names, OnnxCases.NotExpressible, "OnnxCases.NotExpressible", name =>
        {
            var (plan, reason) = OnnxClassifier.Classify(OnnxCases.Load(name));
            string op = OnnxCases.Operator(name);
            var (run, not) = perOperator.GetValueOrDefault(op);
            perOperator[op] = plan is null ? (run, not + 1) : (run + 1, not);
            return (plan?.Layer.ToString(), reason);
        }, output.WriteLine);

        output.WriteLine("");
        foreach (var (op, (run, not)) in perOperator)
        {
            output.WriteLine($"{op,-12} run {run,3}  not expressible {not,3}");
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void At_least_the_known_number_of_cases_run()
    {
        Assert.True(Directory.Exists(OnnxCases.DataDirectory), OnnxCases.MissingDataMessage);
        int run = OnnxCases.MatchingCaseNames().Count(n => !OnnxCases.NotExpressible.ContainsKey(n));
        output.WriteLine($"{run} cases run");
        Assert.True(run >= OnnxCases.MinimumRunCases, $"Only {run} ONNX cases are run; at least {OnnxCases.MinimumRunCases} were expected.");
    }

    /// <summary>NOT_EXPRESSIBLE.md lists exactly the table's cases, each with its reason.</summary>
    [Fact]
    public void The_markdown_list_matches_the_table()
    {
        string? path = FindUp(Path.Combine("tests", "NetDsl.Tests", "Onnx", "NOT_EXPRESSIBLE.md"));
        Assert.True(path is not null, "tests/NetDsl.Tests/Onnx/NOT_EXPRESSIBLE.md not found above the test assembly.");
        var rows = File.ReadAllLines(path)
            .Where(l => l.StartsWith("| `test_", StringComparison.Ordinal))
            .Select(l => l.Split('|', StringSplitOptions.TrimEntries))
            .ToDictionary(cells => cells[1].Trim('`'), cells => cells[2]);
        var expected = OnnxCases.NotExpressible;
        var missing = expected.Where(kv => !rows.TryGetValue(kv.Key, out string? r) || r != kv.Value).Select(kv => $"| `{kv.Key}` | {kv.Value} |");
        var extra = rows.Keys.Where(k => !expected.ContainsKey(k));
        Assert.True(!missing.Any() && !extra.Any(),
            $"NOT_EXPRESSIBLE.md is out of step with OnnxCases.NotExpressible. Expected rows:{Environment.NewLine}" +
            string.Join(Environment.NewLine, expected.Select(kv => $"| `{kv.Key}` | {kv.Value} |")) +
            $"{Environment.NewLine}Extra: {string.Join(", ", extra)}");
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

    private static double Compare(string name, string set, int index, int parts, OnnxTensor expectedTensor, float[] actual)
    {
        float[] expected = expectedTensor.Floats
            ?? expectedTensor.Int32s?.Select(v => (float)v).ToArray()
            ?? throw new InvalidOperationException($"{name}: output {index} is {expectedTensor.DataType}.");
        Assert.True(expected.Length == actual.Length, $"{name} {set} output {index}: {actual.Length} values, expected {expected.Length} (dims [{string.Join(",", expectedTensor.Dims)}]).");
        double worst = 0;
        var failures = new StringBuilder();
        int failed = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double tolerance = RelativeTolerance * Math.Abs(expected[i]) + AbsoluteTolerance;
            double error = Math.Abs((double)actual[i] - expected[i]);
            if (!(error <= tolerance))
            {
                if (failed++ < 10)
                {
                    failures.AppendLine($"  [{i}] {Index(expectedTensor.Dims, i)}: actual {actual[i]:R}, expected {expected[i]:R}, error {error:E2} > {tolerance:E2}");
                }
            }
            else
            {
                worst = Math.Max(worst, error / tolerance);
            }
        }

        Assert.True(failed == 0, $"{name} {set} output {index} ({parts} parts): {failed} of {expected.Length} values out of tolerance:{Environment.NewLine}{failures}");
        return worst;
    }

    private static string Index(long[] dims, int flat)
    {
        var index = new long[dims.Length];
        for (int d = dims.Length - 1; d >= 0; d--)
        {
            index[d] = flat % Math.Max(dims[d], 1);
            flat /= (int)Math.Max(dims[d], 1);
        }

        return $"({string.Join(",", index)})";
    }
}

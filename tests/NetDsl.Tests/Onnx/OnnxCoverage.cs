using Xunit;

namespace NetDsl.Tests.Onnx;

/// <summary>
/// What the ONNX suites (layers, losses, optimizers) share: the theory data of the cases to run, which fails loudly
/// when the data set is missing, and the check that every case folder is either run or listed with a reason.
/// </summary>
public static class OnnxCoverage
{
    /// <summary>Stands for the whole data set when it is missing, so the theory fails with the install hint.</summary>
    public const string MissingData = "(libonnx-testdata is not installed)";

    /// <summary>The cases among <paramref name="names"/> that <paramref name="runs"/>; one entry asking for the package if it is missing.</summary>
    public static TheoryData<string> Cases(Func<IEnumerable<string>> names, Func<string, bool> runs)
    {
        var data = new TheoryData<string>();
        if (!Directory.Exists(OnnxCases.DataDirectory))
        {
            data.Add(MissingData);
            return data;
        }

        foreach (string name in names().Where(runs))
        {
            data.Add(name);
        }

        return data;
    }

    /// <summary>Fails unless <paramref name="name"/> is a real case and the data set is installed.</summary>
    public static void RequireData(string name) =>
        Assert.True(name != MissingData && Directory.Exists(OnnxCases.DataDirectory), OnnxCases.MissingDataMessage);

    /// <summary>
    /// The disagreements between a classifier and a not-expressible table: a runnable case that is listed, a case that
    /// cannot run but is not listed, a listed name that is no case folder. <paramref name="classify"/> gives a case's
    /// plan description (null when it cannot run) and the reason.
    /// </summary>
    public static List<string> Problems(IReadOnlyCollection<string> names, IReadOnlyDictionary<string, string> notExpressible, string table,
        Func<string, (string? Plan, string? Reason)> classify, Action<string> log)
    {
        var problems = new List<string>();
        foreach (string name in names)
        {
            var (plan, reason) = classify(name);
            bool listed = notExpressible.TryGetValue(name, out string? listedReason);
            if (plan is not null && listed)
            {
                problems.Add($"{name} is expressible ({plan}) but listed as not expressible: \"{listedReason}\"");
            }
            else if (plan is null && !listed)
            {
                problems.Add($"{name} is not expressible ({reason}) but not listed in {table}");
            }

            log(plan is null ? $"not expressible  {name}: {reason}" : $"run              {name}: {plan}");
        }

        problems.AddRange(notExpressible.Keys.Where(k => !names.Contains(k))
            .Select(k => $"{k} is listed in {table} but is not a covered case folder in {OnnxCases.DataDirectory}"));
        return problems;
    }
}

using System.CommandLine;
using System.CommandLine.Parsing;

namespace NetDsl.Samples;

/// <summary>
/// The samples' command lines, parsed by System.CommandLine: <c>--help</c> prints every option and exits 0; an unknown
/// option, a value that does not parse or a failed check prints the errors and the usage to the standard error and
/// exits 2 (what the hand-written parsers did).
/// </summary>
internal static class SampleCommandLine
{
    /// <summary>The exit code of an argument error.</summary>
    public const int UsageError = 2;

    /// <summary>
    /// Parses <paramref name="args"/>: null when the sample should run with <paramref name="result"/>, otherwise the
    /// exit code to return (0 after <c>--help</c> or <c>--version</c>, <see cref="UsageError"/> after an error).
    /// </summary>
    public static int? Parse(RootCommand command, string[] args, out ParseResult result)
    {
        result = command.Parse(args);
        if (result.Errors.Count > 0)
        {
            return Fail(command, [.. result.Errors.Select(e => e.Message)]);
        }

        // --help and --version carry an action; the samples' root commands have none of their own.
        return result.Action is null ? null : result.Invoke();
    }

    /// <summary>Prints the errors and the usage to the standard error; returns <see cref="UsageError"/>.</summary>
    public static int Fail(RootCommand command, params string[] errors)
    {
        foreach (string error in errors)
        {
            Console.Error.WriteLine($"error: {error}");
        }

        command.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = Console.Error });
        return UsageError;
    }

    /// <summary>An option with a default value and a description.</summary>
    public static Option<T> Option<T>(string name, T defaultValue, string description) =>
        new(name) { DefaultValueFactory = _ => defaultValue, Description = description };

    /// <summary>Rejects values below <paramref name="minimum"/> with "<c>{name} must be at least {minimum}</c>".</summary>
    public static Option<int> AtLeast(this Option<int> option, int minimum)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < minimum)
            {
                result.AddError($"{option.Name} must be {(minimum == 1 ? "positive" : minimum == 0 ? "0 or more" : $"at least {minimum}")}, not {result.GetValueOrDefault<int>()}");
            }
        });
        return option;
    }
}

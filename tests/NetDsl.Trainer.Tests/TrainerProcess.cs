using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace NetDsl.Trainer.Tests;

/// <summary>
/// How the tests start the trainer (samples/Trainer): <c>dotnet Trainer.dll</c> from this build by default, or the
/// executable named by the environment variable <c>NETDSL_TRAINER_COMMAND</c>, e.g. the Native-AOT binary:
/// <code>dotnet publish samples/Trainer -c Release -r linux-x64
/// NETDSL_TRAINER_COMMAND=$PWD/samples/Trainer/bin/Release/net10.0/linux-x64/publish/Trainer dotnet test tests/NetDsl.Trainer.Tests -c Release</code>
/// </summary>
internal static class TrainerCommand
{
    /// <summary>The environment variable that names another trainer executable.</summary>
    public const string Variable = "NETDSL_TRAINER_COMMAND";

    /// <summary>The program to start and the arguments that come before the trainer's own.</summary>
    public static (string FileName, string[] Prefix) Resolve()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } command)
        {
            return (command, []);
        }

        string assembly = typeof(TrainerCommand).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "TrainerAssembly").Value!;
        assembly = Path.GetFullPath(assembly);
        if (!File.Exists(assembly))
        {
            throw new FileNotFoundException($"The trainer is not built: {assembly} is missing (build samples/Trainer, or set {Variable}).", assembly);
        }

        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        return (dotnet, [assembly]);
    }

    /// <summary>The whole command line as a list (program first), for running it through another program (unshare).</summary>
    public static IReadOnlyList<string> Line(IEnumerable<string> args)
    {
        var (fileName, prefix) = Resolve();
        return [fileName, .. prefix, .. args];
    }
}

/// <summary>A trainer process: its output collected as it comes, signals, exit.</summary>
internal sealed class TrainerProcess : IDisposable
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly BlockingCollection<string> _lines = [];

    private TrainerProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Starts the trainer with <paramref name="args"/>.</summary>
    public static TrainerProcess Start(params string[] args)
    {
        var (fileName, prefix) = TrainerCommand.Resolve();
        return StartProgram(fileName, [.. prefix, .. args]);
    }

    /// <summary>Starts any program (e.g. unshare around the trainer) with the same output handling.</summary>
    public static TrainerProcess StartProgram(string fileName, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var process = new Process { StartInfo = info };
        var result = new TrainerProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lock (result._stdout)
                {
                    result._stdout.AppendLine(line);
                }

                result._lines.Add(line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lock (result._stderr)
                {
                    result._stderr.AppendLine(line);
                }

                result._lines.Add(line);
            }
        };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>Runs the trainer to its end (killed after <paramref name="timeout"/>).</summary>
    public static TrainerProcess Run(TimeSpan timeout, params string[] args)
    {
        var process = Start(args);
        process.WaitForExit(timeout);
        return process;
    }

    /// <summary>Waits for the exit (output drained); kills the process and fails after <paramref name="timeout"/>.</summary>
    public void WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            throw new TimeoutException($"The trainer did not finish within {timeout.TotalSeconds} s.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        }

        _process.WaitForExit(); // the output events have all run
    }

    /// <summary>Waits until a line of output (stdout or stderr) contains <paramref name="text"/>; false if the process ended or the time ran out first.</summary>
    public bool WaitForLine(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_lines.TryTake(out string? line, 20) && line.Contains(text, StringComparison.Ordinal))
            {
                return true;
            }

            if (_process.HasExited && _lines.Count == 0)
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>Sends <paramref name="signal"/> (POSIX kill) to the process.</summary>
    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (!_process.HasExited)
            {
                throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {errno}");
            }
        }
    }

    /// <summary>What the process printed, for failure messages.</summary>
    public string Describe() => $"exit {(HasExited ? ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "(running)")}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
        _lines.Dispose();
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

/// <summary>A temporary directory, deleted (with a read-only mode undone) at the end.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("netdsl-trainer-").FullName;
    }

    public string Path { get; }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            foreach (string directory in Directory.EnumerateDirectories(Path, "*", SearchOption.AllDirectories).Prepend(Path))
            {
                File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

global using Xunit;

// The tests start the trainer as a process and send it POSIX signals (kill), and use Unix file modes.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]

using System;
using System.Text;

namespace NetDsl.Generators.Emit;

/// <summary>Builds C# source with consistent indentation.</summary>
public sealed class SourceWriter
{
    private readonly StringBuilder _builder = new();
    private int _indent;

    public void Line(string text = "")
    {
        if (text.Length > 0)
        {
            _builder.Append(' ', _indent * 4);
        }

        _builder.Append(text).Append('\n');
    }

    /// <summary>Writes each line of a multi-line text at the current indentation.</summary>
    public void Lines(string text)
    {
        foreach (var line in text.Split('\n'))
        {
            Line(line.TrimEnd('\r'));
        }
    }

    public void Open(string header)
    {
        Line(header);
        Line("{");
        _indent++;
    }

    public void Close(string suffix = "")
    {
        _indent--;
        Line("}" + suffix);
    }

    public IDisposable Block(string header)
    {
        Open(header);
        return new Closer(this);
    }

    public override string ToString() => _builder.ToString();

    private sealed class Closer : IDisposable
    {
        private readonly SourceWriter _writer;

        public Closer(SourceWriter writer) => _writer = writer;

        public void Dispose() => _writer.Close();
    }
}

using System.Globalization;
using System.Text;

namespace NetDsl.Training;

/// <summary>Draws a <see cref="History"/> as SVG, without any dependency: panels of line charts with axes, ticks and a legend.</summary>
internal static class HistoryChart
{
    private const double PanelWidth = 480;
    private const double PanelHeight = 320;
    private const double Left = 72;
    private const double Right = 20;
    private const double Top = 40;
    private const double Bottom = 52;
    private const string TrainColor = "#1f77b4";
    private const string ValidationColor = "#ff7f0e";

    private static readonly HashSet<string> NotDrawn = new(StringComparer.Ordinal)
    {
        "lr", "learning_rate", History.SecondsKey, History.ImagesPerSecondKey,
    };

    public static string Render(History history)
    {
        var panels = Panels(history);
        int columns = Math.Max(1, Math.Min(2, panels.Count));
        int rows = Math.Max(1, (panels.Count + columns - 1) / columns);
        double width = columns * PanelWidth, height = rows * PanelHeight;
        var svg = new StringBuilder();
        svg.Append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        svg.Append(CultureInfo.InvariantCulture,
            $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{N(width)}\" height=\"{N(height)}\" viewBox=\"0 0 {N(width)} {N(height)}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append("<title>Training history</title>\n");
        svg.Append("<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
        if (panels.Count == 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{N(width / 2)}\" y=\"{N(height / 2)}\" text-anchor=\"middle\">No epochs recorded</text>\n");
        }

        for (int i = 0; i < panels.Count; i++)
        {
            double x = i % columns * PanelWidth, y = i / columns * PanelHeight;
            DrawPanel(svg, history, panels[i], x, y);
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>One panel per quantity: (title, training key or null, validation key or null).</summary>
    private static List<(string Title, string? Train, string? Validation)> Panels(History history)
    {
        var panels = new List<(string, string?, string?)>();
        if (history.Count == 0)
        {
            return panels;
        }

        foreach (string key in history.Keys)
        {
            if (NotDrawn.Contains(key))
            {
                continue;
            }

            if (key.StartsWith("val_", StringComparison.Ordinal))
            {
                string trainKey = key[4..];
                if (!history.Contains(trainKey))
                {
                    panels.Add((trainKey, null, key));
                }

                continue;
            }

            string validation = "val_" + key;
            panels.Add((key, key, history.Contains(validation) ? validation : null));
        }

        // The loss first, as Keras plots usually have it.
        int loss = panels.FindIndex(p => p.Item1 == "loss");
        if (loss > 0)
        {
            var item = panels[loss];
            panels.RemoveAt(loss);
            panels.Insert(0, item);
        }

        return panels;
    }

    private static void DrawPanel(StringBuilder svg, History history, (string Title, string? Train, string? Validation) panel, double originX, double originY)
    {
        double plotWidth = PanelWidth - Left - Right, plotHeight = PanelHeight - Top - Bottom;
        var xs = new double[history.Count];
        for (int i = 0; i < xs.Length; i++)
        {
            xs[i] = history.Epochs[i] + 1;
        }

        var series = new List<(string Key, IReadOnlyList<double> Values, string Color, string Label)>();
        if (panel.Train is { } train)
        {
            series.Add((train, history[train], TrainColor, "train"));
        }

        if (panel.Validation is { } validation)
        {
            series.Add((validation, history[validation], ValidationColor, "validation"));
        }

        var (xLow, xHigh, xTicks) = EpochAxis(xs);
        var (yLow, yHigh, yTicks, yStep) = ValueAxis(series.SelectMany(s => s.Values));
        double MapX(double v) => Left + Scale(v, xLow, xHigh) * plotWidth;
        double MapY(double v) => Top + (1 - Scale(v, yLow, yHigh)) * plotHeight;

        svg.Append(CultureInfo.InvariantCulture, $"<g class=\"panel\" data-panel=\"{Escape(panel.Title)}\" transform=\"translate({N(originX)},{N(originY)})\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{N(Left)}\" y=\"{N(Top - 14)}\" font-size=\"14\" font-weight=\"bold\">{Escape(panel.Title)}</text>\n");

        // Grid and y ticks.
        foreach (double tick in yTicks)
        {
            double y = MapY(tick);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{N(Left)}\" y1=\"{N(y)}\" x2=\"{N(Left + plotWidth)}\" y2=\"{N(y)}\" stroke=\"#e0e0e0\" stroke-width=\"1\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{N(Left - 5)}\" y1=\"{N(y)}\" x2=\"{N(Left)}\" y2=\"{N(y)}\" stroke=\"#000000\" stroke-width=\"1\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text class=\"y-tick\" x=\"{N(Left - 8)}\" y=\"{N(y + 4)}\" text-anchor=\"end\">{Escape(TickLabel(tick, yStep))}</text>\n");
        }

        // x ticks.
        foreach (double tick in xTicks)
        {
            double x = MapX(tick);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{N(x)}\" y1=\"{N(Top + plotHeight)}\" x2=\"{N(x)}\" y2=\"{N(Top + plotHeight + 5)}\" stroke=\"#000000\" stroke-width=\"1\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text class=\"x-tick\" x=\"{N(x)}\" y=\"{N(Top + plotHeight + 19)}\" text-anchor=\"middle\">{tick.ToString("0", CultureInfo.InvariantCulture)}</text>\n");
        }

        // Axes and labels.
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{N(Left)}\" y=\"{N(Top)}\" width=\"{N(plotWidth)}\" height=\"{N(plotHeight)}\" fill=\"none\" stroke=\"#000000\" stroke-width=\"1\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"x-label\" x=\"{N(Left + plotWidth / 2)}\" y=\"{N(PanelHeight - 12)}\" text-anchor=\"middle\">epoch</text>\n");
        double labelX = 16, labelY = Top + plotHeight / 2;
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"y-label\" x=\"{N(labelX)}\" y=\"{N(labelY)}\" text-anchor=\"middle\" transform=\"rotate(-90 {N(labelX)} {N(labelY)})\">{Escape(panel.Title)}</text>\n");

        // The series: one polyline each (non-finite values left out) and a marker per point.
        foreach (var (key, values, color, _) in series)
        {
            var points = new StringBuilder();
            var markers = new StringBuilder();
            for (int i = 0; i < values.Count && i < xs.Length; i++)
            {
                if (!double.IsFinite(values[i]))
                {
                    continue;
                }

                double x = MapX(xs[i]), y = MapY(values[i]);
                if (points.Length > 0)
                {
                    points.Append(' ');
                }

                points.Append(N(x)).Append(',').Append(N(y));
                markers.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{N(x)}\" cy=\"{N(y)}\" r=\"2.5\" fill=\"{color}\"/>\n");
            }

            svg.Append(CultureInfo.InvariantCulture, $"<polyline class=\"series\" data-series=\"{Escape(key)}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"{points}\"/>\n");
            svg.Append(markers);
        }

        // Legend, above the plot at the right (outside the data), items laid out from right to left.
        svg.Append("<g class=\"legend\">\n");
        double right = Left + plotWidth;
        for (int i = series.Count - 1; i >= 0; i--)
        {
            double itemWidth = 30 + 7 * series[i].Label.Length;
            double x = right - itemWidth, y = Top - 18;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{N(x)}\" y1=\"{N(y)}\" x2=\"{N(x + 22)}\" y2=\"{N(y)}\" stroke=\"{series[i].Color}\" stroke-width=\"2\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{N(x + 27)}\" y=\"{N(y + 4)}\">{Escape(series[i].Label)}</text>\n");
            right = x - 12;
        }

        svg.Append("</g>\n</g>\n");
    }

    /// <summary>The x domain and integer ticks for the epochs (one epoch gets a unit-wide domain around it).</summary>
    private static (double Low, double High, List<double> Ticks) EpochAxis(double[] xs)
    {
        double low = xs.Min(), high = xs.Max();
        if (high - low < 1)
        {
            low -= 0.5;
            high += 0.5;
        }

        double step = Math.Max(1, NiceStep((high - low) / 6));
        var ticks = new List<double>();
        for (double t = Math.Ceiling(low / step) * step; t <= high + 1e-9 && ticks.Count < 50; t += step)
        {
            ticks.Add(t);
        }

        return (low, high, ticks);
    }

    /// <summary>A y domain with round ticks that covers every finite value (0 to 1 when there is none; a constant series gets a band around it).</summary>
    private static (double Low, double High, List<double> Ticks, double Step) ValueAxis(IEnumerable<double> values)
    {
        double low = double.PositiveInfinity, high = double.NegativeInfinity;
        foreach (double v in values)
        {
            if (double.IsFinite(v))
            {
                low = Math.Min(low, v);
                high = Math.Max(high, v);
            }
        }

        if (low > high)
        {
            low = 0;
            high = 1;
        }
        else if (high - low <= Math.Max(Math.Abs(low), Math.Abs(high)) * 1e-9)
        {
            double pad = Math.Abs(low) * 0.1;
            if (!(pad > 1e-300))
            {
                pad = 1;
            }

            low -= pad;
            high += pad;
        }

        // Halves keep the span finite for values near the largest doubles.
        double span = high * 0.5 - low * 0.5;
        double step = NiceStep(span / 2.5);
        double first = Math.Floor(low / step) * step, last = Math.Ceiling(high / step) * step;
        if (!double.IsFinite(first) || !double.IsFinite(last))
        {
            first = low;
            last = high;
        }

        var ticks = new List<double>();
        double intervals = Math.Round(last / step - first / step);
        int count = intervals >= 0 ? (int)Math.Min(50, intervals) : 0;
        for (int i = 0; i <= count; i++)
        {
            ticks.Add(first + i * step);
        }

        return (first, last, ticks, step);
    }

    /// <summary>1, 2 or 5 times a power of ten, near <paramref name="rough"/>.</summary>
    private static double NiceStep(double rough)
    {
        if (!(rough > 0) || !double.IsFinite(rough))
        {
            return 1;
        }

        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double fraction = rough / magnitude;
        double nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
        double step = nice * magnitude;
        return step > 0 && double.IsFinite(step) ? step : rough;
    }

    /// <summary>Where <paramref name="v"/> lies between <paramref name="low"/> and <paramref name="high"/>, 0 to 1 (halves keep the span finite).</summary>
    private static double Scale(double v, double low, double high)
    {
        double span = high * 0.5 - low * 0.5;
        return span > 0 ? (v * 0.5 - low * 0.5) / span : 0.5;
    }

    private static string TickLabel(double value, double step)
    {
        if (Math.Abs(value) < step * 1e-6)
        {
            value = 0;
        }

        int decimals = (int)Math.Max(0, -Math.Floor(Math.Log10(step)));
        double magnitude = Math.Abs(value);
        if (decimals > 6 || magnitude >= 1e7)
        {
            return value.ToString("0.###E+0", CultureInfo.InvariantCulture);
        }

        return value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    /// <summary>A coordinate in the invariant culture, two decimals at most.</summary>
    private static string N(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            switch (c)
            {
                case '&': escaped.Append("&amp;"); break;
                case '<': escaped.Append("&lt;"); break;
                case '>': escaped.Append("&gt;"); break;
                case '"': escaped.Append("&quot;"); break;
                case '\'': escaped.Append("&apos;"); break;
                default:
                    if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                    {
                        escaped.Append(c).Append(text[++i]);
                    }
                    else
                    {
                        // Characters XML 1.0 does not allow (control characters, lone surrogates, U+FFFE/U+FFFF) become '?'.
                        bool invalid = (c < 0x20 && c is not ('\t' or '\n' or '\r')) || char.IsSurrogate(c) || c >= '\uFFFE';
                        escaped.Append(invalid ? '?' : c);
                    }

                    break;
            }
        }

        return escaped.ToString();
    }
}

using System.Globalization;
using System.Xml.Linq;
using NetDsl.Metrics;
using NetDsl.Optimizers;
using NetDsl.Training;
using Xunit;

namespace NetDsl.Tests.Fit;

public sealed class HistoryTests : IDisposable
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private readonly string _dir = Directory.CreateTempSubdirectory("netdsl-history-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static History Make(params (string Key, double[] Values)[] series)
    {
        var history = new History();
        int epochs = series[0].Values.Length;
        for (int e = 0; e < epochs; e++)
        {
            var logs = new Logs();
            foreach (var (key, values) in series)
            {
                logs[key] = values[e];
            }

            history.Add(e, logs, seconds: 1.5, imagesPerSecond: 1000);
        }

        return history;
    }

    /// <summary>Parses the SVG and checks what must hold for any history: valid XML in the SVG namespace, every numeric
    /// attribute a finite invariant-culture number, every point inside its plot area.</summary>
    private static XDocument ParseAndCheck(string svg)
    {
        var document = XDocument.Parse(svg);
        Assert.Equal(Svg + "svg", document.Root!.Name);
        string[] numeric = ["x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height"];
        foreach (var element in document.Descendants())
        {
            foreach (var attribute in element.Attributes().Where(a => numeric.Contains(a.Name.LocalName) && !a.Value.EndsWith('%')))
            {
                Assert.True(double.TryParse(attribute.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v),
                    $"{element.Name.LocalName}.{attribute.Name} = '{attribute.Value}'");
            }
        }

        foreach (var circle in document.Descendants(Svg + "circle"))
        {
            Assert.InRange(double.Parse(circle.Attribute("cx")!.Value, CultureInfo.InvariantCulture), 72, 460);
            Assert.InRange(double.Parse(circle.Attribute("cy")!.Value, CultureInfo.InvariantCulture), 40, 268);
        }

        foreach (var line in document.Descendants(Svg + "polyline"))
        {
            foreach (string point in line.Attribute("points")!.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var xy = point.Split(',').Select(p => double.Parse(p, CultureInfo.InvariantCulture)).ToArray();
                Assert.InRange(xy[0], 72, 460);
                Assert.InRange(xy[1], 40, 268);
            }
        }

        return document;
    }

    private static string[] Series(XDocument document) =>
        document.Descendants(Svg + "polyline").Select(p => p.Attribute("data-series")!.Value).ToArray();

    private static int Points(XDocument document, string series) =>
        document.Descendants(Svg + "polyline").Single(p => p.Attribute("data-series")!.Value == series)
            .Attribute("points")!.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;

    [Fact]
    public void Svg_of_a_real_run_has_a_panel_per_quantity_and_a_polyline_per_series()
    {
        using var net = new FitMlp(8, seed: 1, threads: 1);
        var history = net.Fit(FitTestData.Blobs(60), new Sgd(0.05f), new FitOptions
        {
            Epochs = 5, ValidationSplit = 0.2, Verbose = Verbosity.Silent, Metrics = [new Accuracy(), new TopKError(2)],
        });
        string path = Path.Combine(_dir, "history.svg");
        history.SaveSvg(path);
        Assert.Equal(history.ToSvg(), File.ReadAllText(path));

        var document = ParseAndCheck(File.ReadAllText(path));
        Assert.Equal(["loss", "val_loss", "accuracy", "val_accuracy", "top_2_error", "val_top_2_error"], Series(document));
        Assert.All(Series(document), s => Assert.Equal(5, Points(document, s)));
        var panels = document.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "panel").ToArray();
        Assert.Equal(["loss", "accuracy", "top_2_error"], panels.Select(p => p.Attribute("data-panel")!.Value));
        foreach (var panel in panels)
        {
            var texts = panel.Descendants(Svg + "text").Select(t => t.Value).ToArray();
            Assert.Contains("train", texts);
            Assert.Contains("validation", texts);
            Assert.Contains("epoch", texts);
            Assert.Equal(["1", "2", "3", "4", "5"], panel.Descendants(Svg + "text").Where(t => (string?)t.Attribute("class") == "x-tick").Select(t => t.Value));
            Assert.True(panel.Descendants(Svg + "text").Count(t => (string?)t.Attribute("class") == "y-tick") >= 3);
        }

        Assert.DoesNotContain("NaN", File.ReadAllText(path));
    }

    [Theory]
    [InlineData("one epoch")]
    [InlineData("constant")]
    [InlineData("constant zero")]
    [InlineData("with NaN")]
    [InlineData("all NaN")]
    [InlineData("huge")]
    [InlineData("tiny differences")]
    [InlineData("infinite")]
    public void Svg_has_sane_scales_for_degenerate_series(string shape)
    {
        var history = shape switch
        {
            "one epoch" => Make(("loss", [0.7]), ("val_loss", [0.8])),
            "constant" => Make(("loss", [0.5, 0.5, 0.5]), ("val_loss", [0.5, 0.5, 0.5])),
            "constant zero" => Make(("loss", [0.0, 0.0])),
            "with NaN" => Make(("loss", [1, double.NaN, 0.5, 0.25]), ("val_loss", [1.2, 0.9, double.NaN, 0.6])),
            "all NaN" => Make(("loss", [double.NaN, double.NaN]), ("val_loss", [0.5, 0.4])),
            "huge" => Make(("loss", [1e300, -1e300, 1e-300])),
            "tiny differences" => Make(("loss", [1, 1 + 1e-12, 1 - 1e-12])),
            _ => Make(("loss", [double.PositiveInfinity, 2, double.NegativeInfinity])),
        };
        var document = ParseAndCheck(history.ToSvg());
        int finite = history.Loss.Count(double.IsFinite);
        Assert.Equal(finite, Points(document, "loss"));
        Assert.Equal(history.Keys.Count(k => k.Contains("loss", StringComparison.Ordinal)), Series(document).Length);
        var yTicks = document.Descendants(Svg + "text").Where(t => (string?)t.Attribute("class") == "y-tick").Select(t => t.Value).ToArray();
        Assert.True(yTicks.Distinct().Count() >= 2, $"y ticks: {string.Join(", ", yTicks)}");
    }

    [Fact]
    public void Svg_escapes_names_and_draws_validation_only_series()
    {
        var history = Make(("a<b&\"c'", [1, 2]), ("val_only", [0.5, 0.25]), ("lr", [0.1, 0.1]));
        var document = ParseAndCheck(history.ToSvg());
        Assert.Equal(["a<b&\"c'", "val_only"], Series(document)); // lr and the timing series are not drawn
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value == "only");
    }

    [Fact]
    public void Empty_history_gives_a_valid_svg_and_a_header_only_csv()
    {
        var history = new History();
        ParseAndCheck(history.ToSvg());
        Assert.Equal("epoch\n", history.ToCsv());
    }

    [Fact]
    public void Csv_has_every_series_in_order_and_missing_values_as_nan()
    {
        var history = new History();
        history.Add(3, new Logs { ["loss"] = 0.5, ["accuracy"] = 0.75 }, 2, 100);
        history.Add(4, new Logs { ["loss"] = 0.25, ["accuracy"] = 1, ["extra"] = 7 }, 0.5, 400.5);
        string path = Path.Combine(_dir, "history.csv");
        history.SaveCsv(path);
        Assert.Equal(
            "epoch,loss,accuracy,seconds,images_per_second,extra\n" +
            "3,0.5,0.75,2,100,nan\n" +
            "4,0.25,1,0.5,400.5,7\n",
            File.ReadAllText(path));
        Assert.True(double.IsNaN(history["extra"][0]));
        Assert.Equal([3, 4], history.Epochs);
        Assert.Throws<KeyNotFoundException>(() => history["nope"]);
    }
}

using NetDsl.Kernels;
using Xunit;

namespace NetDsl.Tests.Numerics;

/// <summary>
/// <see cref="BatchNorm"/> against double-precision formulas written here: batch mean and biased variance per channel,
/// <c>y = gamma (x - mean) / sqrt(var + eps) + beta</c>; moving statistics <c>m = m momentum + batch (1 - momentum)</c>
/// with the unbiased batch variance <c>var n / (n - 1)</c> for the moving variance (Keras 2 / TF fused convention);
/// the textbook backward pass; and, independently of any backward formula, central finite differences of the double
/// loss <c>L = sum(y * r)</c> for random r (the kernel's backward pass gets dy = r). Rows 1 (degenerate), 7 and
/// 512 (= 128 x 4, a batch of 128 on a 2 x 2 feature map); channels 1, 5, 16, 33 (scalar-width, exactly one 512-bit
/// vector, vectors plus a partial one on every width) and 70; parts 1, 2, 3 (results must be bitwise identical).
/// </summary>
/// <remarks>
/// Inputs have per-channel offsets up to 6 and scales 0.5 to 2.5, so a mean that is not subtracted accurately shows.
/// Tolerances: float statistics are within ~1e-6 relative of the double ones (blocked sums); y, dx within 2e-5 times
/// (1 + magnitude); parameter gradients (sums over up to 512 rows) within 2e-5 times (1 + the sum of the magnitudes
/// of their terms); finite differences in double with h = 1e-4 have truncation error below 1e-7. A wrong formula
/// (biased moving variance, a missing term of dx, a wrong scale) is off by 1e-3 or more.
/// </remarks>
public class BatchNormTests
{
    private const float Sentinel = -777.25f;
    private const float Momentum = 0.9f;
    private const float Epsilon = 1e-3f;

    public static TheoryData<int, int> TrainingCases()
    {
        var data = new TheoryData<int, int>();
        foreach (int rows in new[] { 1, 7, 512 })
        {
            foreach (int channels in new[] { 1, 5, 16, 33 })
            {
                data.Add(rows, channels);
            }
        }

        data.Add(7, 70);
        return data;
    }

    [Theory]
    [MemberData(nameof(TrainingCases))]
    public void Training_forward_and_backward_match_the_reference_and_finite_differences(int rows, int channels)
    {
        var random = new Random(rows * 100 + channels);
        var p = Problem.Random(random, rows, channels);
        var reference = ReferenceForward(p.X, p.Gamma, p.Beta, rows, channels);
        Run? first = null;
        foreach (int parts in new[] { 1, 2, 3 })
        {
            Run run = RunTraining(p, parts);
            string where = $"rows {rows}, channels {channels}, parts {parts}:";

            for (int c = 0; c < channels; c++)
            {
                AssertClose(run.SavedMean[c], reference.Mean[c], 1e-6 * (1 + Math.Abs(reference.Mean[c])), $"{where} mean[{c}]");
                AssertClose(run.SavedInvStd[c], reference.InvStd[c], 1e-5 * reference.InvStd[c], $"{where} invStd[{c}]");
                double unbiased = rows > 1 ? reference.Var[c] * rows / (rows - 1) : 0;
                double expectedMean = p.MovingMean[c] * (double)Momentum + reference.Mean[c] * (1 - (double)Momentum);
                double expectedVar = p.MovingVar[c] * (double)Momentum + unbiased * (1 - (double)Momentum);
                AssertClose(run.MovingMean[c], expectedMean, 1e-6 * (1 + Math.Abs(expectedMean)), $"{where} moving mean[{c}]");
                AssertClose(run.MovingVar[c], expectedVar, 2e-6 * (1 + expectedVar), $"{where} moving variance[{c}]");
            }

            for (int i = 0; i < rows * channels; i++)
            {
                AssertClose(run.Y[i], reference.Y[i], 2e-5 * (1 + Math.Abs(reference.Y[i])), $"{where} y[{i}]");
            }

            var grads = ReferenceBackward(p.X, p.R, p.Gamma, rows, channels);
            for (int i = 0; i < rows * channels; i++)
            {
                AssertClose(run.Dx[i], grads.Dx[i], 2e-5 * (1 + Math.Abs(grads.Dx[i])), $"{where} dx[{i}]");
            }

            for (int c = 0; c < channels; c++)
            {
                AssertClose(run.DGamma[c], grads.DGamma[c], 2e-5 * (1 + grads.DGammaMagnitude[c]), $"{where} dgamma[{c}]");
                AssertClose(run.DBeta[c], grads.DBeta[c], 2e-5 * (1 + grads.DBetaMagnitude[c]), $"{where} dbeta[{c}]");
            }

            if (first is null)
            {
                first = run;
            }
            else
            {
                first.AssertIdentical(run, where);
            }
        }

        CheckFiniteDifferences(p, first!, random);
    }

    /// <summary>
    /// One row: variance 0, so y = beta exactly, invStd = 1 / sqrt(eps), dx = 0, dgamma = 0, dbeta = dy exactly, and the
    /// moving variance decays (the unbiased factor is taken as 1, as TF does, so it is multiplied by momentum).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(33)]
    public void A_single_row_is_normalised_to_beta(int channels)
    {
        var p = Problem.Random(new Random(channels), 1, channels);
        Run run = RunTraining(p, 1);
        for (int c = 0; c < channels; c++)
        {
            Assert.Equal(p.Beta[c], run.Y[c]);
            Assert.Equal(0f, run.Dx[c]);
            Assert.Equal(0f, run.DGamma[c]);
            Assert.Equal(p.R[c], run.DBeta[c]);
            Assert.Equal(p.X[c], run.SavedMean[c]);
            Assert.Equal(1 / Math.Sqrt(Epsilon), run.SavedInvStd[c], 4);
            Assert.Equal(p.MovingVar[c] * Momentum, run.MovingVar[c], 5);
        }
    }

    /// <summary>
    /// A batch of 128 26 x 26 maps (86,528 rows) with offsets near 100 and unit-scale noise: a single float running sum
    /// would be off by ~1e-3 in the mean (its magnitude reaches 8.7e6, where a float's ulp is 1) and ~1e-5 relative in
    /// dbeta; the kernel must stay within 1e-5 absolute and 1e-6 relative.
    /// </summary>
    [Theory]
    [InlineData(3)]
    [InlineData(17)]
    public void Statistics_of_large_batches_stay_accurate(int channels)
    {
        const int Rows = 128 * 26 * 26;
        var random = new Random(channels);
        var x = new float[Rows * channels];
        var dy = new float[Rows * channels];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(100 + i % channels + (2 * random.NextDouble() - 1));
            dy[i] = (float)(2 + (2 * random.NextDouble() - 1));
        }

        var p = new Problem(Rows, channels, x, Enumerable.Repeat(1f, channels).ToArray(), new float[channels], dy,
            new float[channels], Enumerable.Repeat(1f, channels).ToArray());
        Run run = RunTraining(p, 2);
        var reference = ReferenceForward(x, p.Gamma, p.Beta, Rows, channels);
        var grads = ReferenceBackward(x, dy, p.Gamma, Rows, channels);
        for (int c = 0; c < channels; c++)
        {
            AssertClose(run.SavedMean[c], reference.Mean[c], 1e-5, $"mean[{c}]");
            AssertClose(run.SavedInvStd[c], reference.InvStd[c], 1e-5 * reference.InvStd[c], $"invStd[{c}]");
            AssertClose(run.DBeta[c], grads.DBeta[c], 1e-6 * grads.DBetaMagnitude[c], $"dbeta[{c}]");
            AssertClose(run.DGamma[c], grads.DGamma[c], 1e-6 * grads.DGammaMagnitude[c], $"dgamma[{c}]");
        }
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void Gradient_flags_select_what_is_written(bool parameters, bool input)
    {
        const int Rows = 9, Channels = 33;
        var p = Problem.Random(new Random(5), Rows, Channels);
        Run full = RunTraining(p, 2);
        Run partial = RunTraining(p, 2, parameters, input);
        Assert.Equal(full.Y, partial.Y);
        if (input)
        {
            Assert.Equal(full.Dx, partial.Dx);
        }
        else
        {
            Assert.All(partial.Dx, v => Assert.Equal(Sentinel, v));
        }

        if (parameters)
        {
            Assert.Equal(full.DGamma, partial.DGamma);
            Assert.Equal(full.DBeta, partial.DBeta);
        }
        else
        {
            Assert.All(partial.DGamma, v => Assert.Equal(Sentinel, v));
            Assert.All(partial.DBeta, v => Assert.Equal(Sentinel, v));
        }
    }

    [Theory]
    [InlineData(7, 33)]
    [InlineData(64, 16)]
    public void Forward_in_place_and_backward_into_dy_give_the_same_results(int rows, int channels)
    {
        var p = Problem.Random(new Random(rows + channels), rows, channels);
        Run separate = RunTraining(p, 2);
        Run aliased = RunTraining(p, 2, aliasOutputs: true);
        separate.AssertIdentical(aliased, "aliased buffers:");
    }

    public static TheoryData<int, int, int> InferenceCases()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int rows in new[] { 1, 7, 64 })
        {
            foreach (int channels in new[] { 1, 5, 33, 300 })
            {
                data.Add(rows, channels, 1);
                data.Add(rows, channels, 3);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(InferenceCases))]
    public void Inference_forward_and_backward_use_the_moving_statistics(int rows, int channels, int parts)
    {
        var random = new Random(rows * 1000 + channels * 10 + parts);
        var p = Problem.Random(random, rows, channels);
        int n = rows * channels;
        var layout = new BnBuffers(rows, channels);
        using var arena = layout.Allocate(p);
        for (int part = parts - 1; part >= 0; part--)
        {
            BatchNorm.InferenceForward(arena, layout.X, layout.Y, layout.Gamma, layout.Beta, layout.MovingMean, layout.MovingVar, rows, channels, Epsilon, part, parts);
            BatchNorm.InferenceBackward(arena, layout.Dy, layout.Dx, layout.Gamma, layout.MovingVar, rows, channels, Epsilon, part, parts);
        }

        float[] y = arena.GetSpan(layout.Y, n).ToArray();
        float[] dx = arena.GetSpan(layout.Dx, n).ToArray();
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < channels; c++)
            {
                int i = r * channels + c;
                double scale = p.Gamma[c] / Math.Sqrt(p.MovingVar[c] + (double)Epsilon);
                double centred = (p.X[i] - (double)p.MovingMean[c]) * scale;
                AssertClose(y[i], centred + p.Beta[c], 1e-6 * (1 + Math.Abs(centred) + Math.Abs(p.Beta[c])), $"rows {rows}, channels {channels}, parts {parts}: y[{i}]");
                AssertClose(dx[i], p.R[i] * scale, 1e-6 * (1 + Math.Abs(p.R[i] * scale)), $"rows {rows}, channels {channels}, parts {parts}: dx[{i}]");
            }
        }

        layout.AssertSlackUntouched(arena);

        // In place gives the same result.
        p.X.CopyTo(arena.GetSpan(layout.Y, n));
        p.R.CopyTo(arena.GetSpan(layout.Dx, n));
        BatchNorm.InferenceForward(arena, layout.Y, layout.Y, layout.Gamma, layout.Beta, layout.MovingMean, layout.MovingVar, rows, channels, Epsilon, 0, 1);
        BatchNorm.InferenceBackward(arena, layout.Dx, layout.Dx, layout.Gamma, layout.MovingVar, rows, channels, Epsilon, 0, 1);
        Assert.Equal(y, arena.GetSpan(layout.Y, n).ToArray());
        Assert.Equal(dx, arena.GetSpan(layout.Dx, n).ToArray());
    }

    [Fact]
    public void Invalid_parts_are_rejected()
    {
        var layout = new BnBuffers(4, 4);
        using var arena = layout.Allocate(Problem.Random(new Random(1), 4, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchNorm.TrainingForward(arena, layout.X, layout.Y, layout.Gamma, layout.Beta,
            layout.SavedMean, layout.SavedInvStd, layout.MovingMean, layout.MovingVar, 4, 4, Momentum, Epsilon, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchNorm.InferenceForward(arena, layout.X, layout.Y, layout.Gamma, layout.Beta,
            layout.MovingMean, layout.MovingVar, 4, 4, Epsilon, 0, 0));
    }

    [Fact]
    public void Kernels_allocate_nothing()
    {
        const int Rows = 64, Channels = 33;
        var p = Problem.Random(new Random(2), Rows, Channels);
        var l = new BnBuffers(Rows, Channels);
        using var arena = l.Allocate(p);
        void Work()
        {
            for (int part = 0; part < 2; part++)
            {
                BatchNorm.TrainingForward(arena, l.X, l.Y, l.Gamma, l.Beta, l.SavedMean, l.SavedInvStd, l.MovingMean, l.MovingVar, Rows, Channels, Momentum, Epsilon, part, 2);
                BatchNorm.Backward(arena, l.X, l.Dy, l.Dx, l.Gamma, l.DGamma, l.DBeta, l.SavedMean, l.SavedInvStd, Rows, Channels, true, true, part, 2);
                BatchNorm.InferenceForward(arena, l.X, l.Y, l.Gamma, l.Beta, l.MovingMean, l.MovingVar, Rows, Channels, Epsilon, part, 2);
                BatchNorm.InferenceBackward(arena, l.Dy, l.Dx, l.Gamma, l.MovingVar, Rows, Channels, Epsilon, part, 2);
            }
        }

        Work();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            Work();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    // ---------------------------------------------------------------- finite differences

    /// <summary>
    /// dL/dx (20 random elements), dL/dgamma and dL/dbeta (every channel) of the double loss <c>sum(y * r)</c> by central
    /// differences, against the kernel's backward pass.
    /// </summary>
    private static void CheckFiniteDifferences(Problem p, Run run, Random random)
    {
        const double H = 1e-4;
        int rows = p.Rows, channels = p.Channels;
        double[] x = NetworkFactory.Widen(p.X), gamma = NetworkFactory.Widen(p.Gamma), beta = NetworkFactory.Widen(p.Beta);
        double Loss()
        {
            double[] y = ReferenceForward(x, gamma, beta, rows, channels).Y;
            double sum = 0;
            for (int i = 0; i < y.Length; i++)
            {
                sum += y[i] * p.R[i];
            }

            return sum;
        }

        double Derivative(double[] v, int i)
        {
            double saved = v[i];
            v[i] = saved + H;
            double plus = Loss();
            v[i] = saved - H;
            double minus = Loss();
            v[i] = saved;
            return (plus - minus) / (2 * H);
        }

        string where = $"rows {rows}, channels {channels}, finite differences:";
        for (int trial = 0; trial < 20; trial++)
        {
            int i = random.Next(x.Length);
            double fd = Derivative(x, i);
            AssertClose(run.Dx[i], fd, 2e-5 * (1 + Math.Abs(fd)), $"{where} dx[{i}]");
        }

        for (int c = 0; c < channels; c++)
        {
            double fdGamma = Derivative(gamma, c), fdBeta = Derivative(beta, c);
            double magnitude = 0;
            for (int r = 0; r < rows; r++)
            {
                magnitude += Math.Abs(p.R[r * channels + c]);
            }

            AssertClose(run.DGamma[c], fdGamma, 2e-5 * (1 + magnitude), $"{where} dgamma[{c}]");
            AssertClose(run.DBeta[c], fdBeta, 2e-5 * (1 + magnitude), $"{where} dbeta[{c}]");
        }
    }

    // ---------------------------------------------------------------- double references

    private static (double[] Y, double[] Mean, double[] Var, double[] InvStd) ReferenceForward(float[] x, float[] gamma, float[] beta, int rows, int channels)
        => ReferenceForward(NetworkFactory.Widen(x), NetworkFactory.Widen(gamma), NetworkFactory.Widen(beta), rows, channels);

    private static (double[] Y, double[] Mean, double[] Var, double[] InvStd) ReferenceForward(double[] x, double[] gamma, double[] beta, int rows, int channels)
    {
        var mean = new double[channels];
        var variance = new double[channels];
        var invStd = new double[channels];
        var y = new double[x.Length];
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int r = 0; r < rows; r++)
            {
                sum += x[r * channels + c];
            }

            mean[c] = sum / rows;
            double squares = 0;
            for (int r = 0; r < rows; r++)
            {
                double d = x[r * channels + c] - mean[c];
                squares += d * d;
            }

            variance[c] = squares / rows;
            invStd[c] = 1 / Math.Sqrt(variance[c] + Epsilon);
            for (int r = 0; r < rows; r++)
            {
                int i = r * channels + c;
                y[i] = gamma[c] * (x[i] - mean[c]) * invStd[c] + beta[c];
            }
        }

        return (y, mean, variance, invStd);
    }

    /// <summary>
    /// Textbook batch-norm backward: <c>xhat = (x - mean) invStd</c>, <c>dbeta = Σ dy</c>, <c>dgamma = Σ dy xhat</c>,
    /// <c>dx = gamma invStd / N (N dy - dbeta - xhat dgamma)</c>. Also returns, per channel, the sums of the magnitudes
    /// of the terms of dgamma and dbeta (for tolerances).
    /// </summary>
    private static (double[] Dx, double[] DGamma, double[] DBeta, double[] DGammaMagnitude, double[] DBetaMagnitude) ReferenceBackward(
        float[] x, float[] dy, float[] gamma, int rows, int channels)
    {
        var (_, mean, _, invStd) = ReferenceForward(x, gamma, new float[channels], rows, channels);
        var dx = new double[x.Length];
        var dgamma = new double[channels];
        var dbeta = new double[channels];
        var dgammaMagnitude = new double[channels];
        var dbetaMagnitude = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            for (int r = 0; r < rows; r++)
            {
                int i = r * channels + c;
                double xhat = (x[i] - mean[c]) * invStd[c];
                dbeta[c] += dy[i];
                dgamma[c] += dy[i] * xhat;
                dbetaMagnitude[c] += Math.Abs(dy[i]);
                dgammaMagnitude[c] += Math.Abs(dy[i] * xhat);
            }

            for (int r = 0; r < rows; r++)
            {
                int i = r * channels + c;
                double xhat = (x[i] - mean[c]) * invStd[c];
                dx[i] = gamma[c] * invStd[c] / rows * (rows * dy[i] - dbeta[c] - xhat * dgamma[c]);
            }
        }

        return (dx, dgamma, dbeta, dgammaMagnitude, dbetaMagnitude);
    }

    // ---------------------------------------------------------------- running the kernels

    private static Run RunTraining(Problem p, int parts, bool parameters = true, bool input = true, bool aliasOutputs = false)
    {
        int rows = p.Rows, channels = p.Channels, n = rows * channels;
        var l = new BnBuffers(rows, channels);
        using var arena = l.Allocate(p);
        long y = l.Y, dx = l.Dx;
        if (aliasOutputs)
        {
            // Forward in place (y = x), backward into dy (dx = dy); x is copied first as the backward pass needs it.
            p.X.CopyTo(arena.GetSpan(l.Y, n));
            y = l.Y;
            dx = l.Dy;
        }

        long xIn = aliasOutputs ? l.Y : l.X;
        for (int part = parts - 1; part >= 0; part--)
        {
            BatchNorm.TrainingForward(arena, xIn, y, l.Gamma, l.Beta, l.SavedMean, l.SavedInvStd, l.MovingMean, l.MovingVar, rows, channels, Momentum, Epsilon, part, parts);
        }

        for (int part = 0; part < parts; part++)
        {
            BatchNorm.Backward(arena, l.X, l.Dy, dx, l.Gamma, l.DGamma, l.DBeta, l.SavedMean, l.SavedInvStd, rows, channels, parameters, input, part, parts);
        }

        l.AssertSlackUntouched(arena);
        return new Run(
            arena.GetSpan(y, n).ToArray(),
            arena.GetSpan(dx, n).ToArray(),
            arena.GetSpan(l.DGamma, channels).ToArray(),
            arena.GetSpan(l.DBeta, channels).ToArray(),
            arena.GetSpan(l.SavedMean, channels).ToArray(),
            arena.GetSpan(l.SavedInvStd, channels).ToArray(),
            arena.GetSpan(l.MovingMean, channels).ToArray(),
            arena.GetSpan(l.MovingVar, channels).ToArray());
    }

    private static void AssertClose(double actual, double expected, double tolerance, string what)
    {
        if (!(Math.Abs(actual - expected) <= tolerance))
        {
            Assert.Fail($"{what} = {actual:R}, expected {expected:R} (tolerance {tolerance:G3})");
        }
    }

    /// <summary>Inputs: x with per-channel offsets and scales, gamma, beta, the loss weights r (= dy), moving statistics.</summary>
    private sealed record Problem(int Rows, int Channels, float[] X, float[] Gamma, float[] Beta, float[] R, float[] MovingMean, float[] MovingVar)
    {
        public static Problem Random(Random random, int rows, int channels)
        {
            var x = new float[rows * channels];
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < channels; c++)
                {
                    double offset = (c % 5 - 2) * 3, scale = 0.5 + c % 3;
                    x[r * channels + c] = (float)(offset + scale * (2 * random.NextDouble() - 1));
                }
            }

            return new Problem(rows, channels, x,
                NetworkFactory.RandomFloats(random, channels).Select(v => 1f + 0.5f * v).ToArray(),
                NetworkFactory.RandomFloats(random, channels),
                NetworkFactory.RandomFloats(random, rows * channels),
                NetworkFactory.RandomFloats(random, channels, 2f),
                NetworkFactory.RandomFloats(random, channels).Select(v => 1.5f + v).ToArray());
        }
    }

    private sealed record Run(float[] Y, float[] Dx, float[] DGamma, float[] DBeta, float[] SavedMean, float[] SavedInvStd, float[] MovingMean, float[] MovingVar)
    {
        public void AssertIdentical(Run other, string where)
        {
            Assert.True(Y.AsSpan().SequenceEqual(other.Y), $"{where} y differs");
            Assert.True(Dx.AsSpan().SequenceEqual(other.Dx), $"{where} dx differs");
            Assert.True(DGamma.AsSpan().SequenceEqual(other.DGamma), $"{where} dgamma differs");
            Assert.True(DBeta.AsSpan().SequenceEqual(other.DBeta), $"{where} dbeta differs");
            Assert.True(SavedMean.AsSpan().SequenceEqual(other.SavedMean), $"{where} mean differs");
            Assert.True(SavedInvStd.AsSpan().SequenceEqual(other.SavedInvStd), $"{where} invStd differs");
            Assert.True(MovingMean.AsSpan().SequenceEqual(other.MovingMean), $"{where} moving mean differs");
            Assert.True(MovingVar.AsSpan().SequenceEqual(other.MovingVar), $"{where} moving variance differs");
        }
    }

    /// <summary>Every buffer in one arena, each followed by slack filled with sentinels (checked untouched afterwards).</summary>
    private sealed class BnBuffers
    {
        private readonly List<(long Offset, int Length)> _buffers = [];

        public BnBuffers(int rows, int channels)
        {
            int n = rows * channels;
            X = Add(n);
            Y = Add(n);
            Dy = Add(n);
            Dx = Add(n);
            Gamma = Add(channels);
            Beta = Add(channels);
            SavedMean = Add(channels);
            SavedInvStd = Add(channels);
            MovingMean = Add(channels);
            MovingVar = Add(channels);
            DGamma = Add(channels);
            DBeta = Add(channels);
        }

        public long X { get; }
        public long Y { get; }
        public long Dy { get; }
        public long Dx { get; }
        public long Gamma { get; }
        public long Beta { get; }
        public long SavedMean { get; }
        public long SavedInvStd { get; }
        public long MovingMean { get; }
        public long MovingVar { get; }
        public long DGamma { get; }
        public long DBeta { get; }
        private long Length { get; set; }

        public Arena Allocate(Problem p)
        {
            var arena = new Arena(Length);
            arena.GetSpan(0, (int)Length).Fill(Sentinel);
            p.X.CopyTo(arena.GetSpan(X, p.X.Length));
            p.R.CopyTo(arena.GetSpan(Dy, p.R.Length));
            p.Gamma.CopyTo(arena.GetSpan(Gamma, p.Channels));
            p.Beta.CopyTo(arena.GetSpan(Beta, p.Channels));
            p.MovingMean.CopyTo(arena.GetSpan(MovingMean, p.Channels));
            p.MovingVar.CopyTo(arena.GetSpan(MovingVar, p.Channels));
            return arena;
        }

        public void AssertSlackUntouched(Arena arena)
        {
            foreach (var (offset, length) in _buffers)
            {
                long end = offset + Arena.Padded(length);
                ReadOnlySpan<float> slack = arena.GetSpan(offset + length, (int)(end - offset - length));
                for (int i = 0; i < slack.Length; i++)
                {
                    if (slack[i] != Sentinel)
                    {
                        Assert.Fail($"wrote {slack[i]} {i} floats past the end of the buffer at {offset}");
                    }
                }
            }
        }

        private long Add(int length)
        {
            long offset = Length;
            _buffers.Add((offset, length));
            Length += Arena.Padded(length);
            return offset;
        }
    }
}

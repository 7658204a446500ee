using Xunit;

namespace NetDsl.Tests.Runtime;

/// <summary>
/// The liveness placement every generated network uses: checked against a brute-force overlap check on random lives,
/// and against layouts small enough to know the best answer for.
/// </summary>
public class ArenaPlannerTests
{
    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    [InlineData(4, true)]
    [InlineData(5, false)]
    public void Tensors_that_are_live_together_never_share_memory(int seed, bool inferenceOnly)
    {
        var random = new Random(seed);
        for (int trial = 0; trial < 50; trial++)
        {
            int n = random.Next(1, 60), steps = random.Next(2, 40);
            var sizes = new long[n];
            var training = new BufferLife[n];
            var inference = new BufferLife[n];
            for (int i = 0; i < n; i++)
            {
                sizes[i] = 16 * random.Next(1, 200);
                training[i] = RandomLife(random, steps, unusedChance: 0.1);
                inference[i] = RandomLife(random, steps, unusedChance: 0.4);
            }

            long start = 16 * random.Next(0, 100);
            long[] at = ArenaPlanner.Place(sizes, training, inference, inferenceOnly, start, out long end);

            long needed = start;
            for (int i = 0; i < n; i++)
            {
                bool used = inference[i].IsUsed || (!inferenceOnly && training[i].IsUsed);
                if (!used)
                {
                    continue;
                }

                Assert.True(at[i] >= start && at[i] + sizes[i] <= end, $"trial {trial}: tensor {i} at [{at[i]}, {at[i] + sizes[i]}) is outside [{start}, {end})");
                Assert.Equal(0, at[i] % 16); // sizes and start are multiples of 16 floats, so every tensor stays 64-byte aligned
                needed = Math.Max(needed, start + sizes[i]);
                for (int j = 0; j < i; j++)
                {
                    bool usedJ = inference[j].IsUsed || (!inferenceOnly && training[j].IsUsed);
                    bool together = inference[i].Overlaps(inference[j]) || (!inferenceOnly && training[i].Overlaps(training[j]));
                    if (usedJ && together)
                    {
                        Assert.False(at[i] < at[j] + sizes[j] && at[j] < at[i] + sizes[i],
                            $"trial {trial}: tensors {i} {training[i]}/{inference[i]} and {j} {training[j]}/{inference[j]} overlap in memory");
                    }
                }
            }

            // Never worse than giving every tensor its own memory, never better than the largest one alone.
            long naive = start + Enumerable.Range(0, n).Where(i => inference[i].IsUsed || (!inferenceOnly && training[i].IsUsed)).Sum(i => sizes[i]);
            Assert.InRange(end, needed, naive);
        }
    }

    [Fact]
    public void A_chain_needs_only_its_two_largest_neighbours()
    {
        // Layer i reads tensor i and writes tensor i + 1: only neighbours are live together.
        long[] sizes = [64, 512, 128, 1024, 256, 32];
        var lives = sizes.Select((_, i) => new BufferLife(i, i + 1)).ToArray();
        ArenaPlanner.Place(sizes, lives, lives, inferenceOnly: true, 0, out long end);
        Assert.Equal(1024 + 256, end); // the widest adjacent pair
    }

    [Fact]
    public void Inference_only_ignores_training_and_leaves_unused_tensors_out()
    {
        long[] sizes = [100, 200, 300];
        BufferLife[] training = [new(0, 9), new(0, 9), new(0, 9)];
        BufferLife[] inference = [new(0, 1), new(1, 2), BufferLife.Unused];
        ArenaPlanner.Place(sizes, training, inference, inferenceOnly: false, 0, out long both);
        Assert.Equal(600, both); // training keeps all three live at once
        ArenaPlanner.Place(sizes, training, inference, inferenceOnly: true, 0, out long alone);
        Assert.Equal(300, alone); // 0 and 1 overlap at step 1; 2 is never touched
    }

    [Fact]
    public void Mismatched_tables_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => ArenaPlanner.Place([1, 2], [new(0, 1)], [new(0, 1), new(1, 2)], false, 0, out _));
        Assert.Contains("2 sizes need as many lives", e.Message);
        Assert.Throws<ArgumentNullException>(() => ArenaPlanner.Place(null!, [], [], false, 0, out _));
    }

    private static BufferLife RandomLife(Random random, int steps, double unusedChance)
    {
        if (random.NextDouble() < unusedChance)
        {
            return BufferLife.Unused;
        }

        int first = random.Next(0, steps);
        return new BufferLife(first, random.Next(first, Math.Min(steps, first + random.Next(1, 8))));
    }
}

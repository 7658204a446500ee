using NetDsl.Threading;
using Xunit;

namespace NetDsl.Tests.Runtime;

public class PartitionTests
{
    [Fact]
    public void Parts_cover_the_range_exactly_once_with_aligned_inner_boundaries()
    {
        int[] counts = [0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 130, 784, 1000, 4097];
        int[] partCounts = [1, 2, 3, 4, 5, 7, 8, 16, 33];
        int[] aligns = [1, 2, 4, 8, 16, 3];
        foreach (int count in counts)
        {
            foreach (int parts in partCounts)
            {
                foreach (int align in aligns)
                {
                    var covered = new int[count];
                    int previousEnd = 0;
                    for (int part = 0; part < parts; part++)
                    {
                        var (start, end) = Partition.Range(count, part, parts, align);
                        string where = $"count {count}, part {part}/{parts}, align {align}: [{start}, {end})";
                        Assert.True(start == previousEnd, $"{where} does not start where the previous part ended ({previousEnd})");
                        Assert.True(start <= end && end <= count, where);
                        if (end != count)
                        {
                            Assert.True(end % align == 0, $"{where}: inner boundary not aligned");
                        }

                        for (int i = start; i < end; i++)
                        {
                            covered[i]++;
                        }

                        previousEnd = end;
                    }

                    Assert.Equal(count, previousEnd);
                    Assert.All(covered, c => Assert.Equal(1, c));
                }
            }
        }
    }

    [Fact]
    public void Work_is_balanced_to_within_one_block()
    {
        foreach (int count in new[] { 100, 784, 1000, 4097 })
        {
            foreach (int parts in new[] { 2, 3, 4, 8 })
            {
                foreach (int align in new[] { 1, 8, 16 })
                {
                    int min = int.MaxValue, max = 0;
                    for (int part = 0; part < parts; part++)
                    {
                        var (start, end) = Partition.Range(count, part, parts, align);
                        min = Math.Min(min, end - start);
                        max = Math.Max(max, end - start);
                    }

                    Assert.True(max - min <= align, $"count {count}, {parts} parts, align {align}: sizes from {min} to {max}");
                }
            }
        }
    }

    [Fact]
    public void Large_counts_do_not_overflow()
    {
        const int Count = int.MaxValue - 5;
        var (start, end) = Partition.Range(Count, 2, 3, 16);
        Assert.True(start > 0 && start < end && end <= Count);
        Assert.Equal(Count, Partition.Range(Count, 2, 3, 16).End);
        Assert.Equal(0, Partition.Range(Count, 0, 3, 16).Start);
    }
}

using System.Runtime.InteropServices;

namespace NetDsl;

/// <summary>
/// One block of native, 64-byte-aligned, zero-initialised memory holding every float a network uses:
/// parameters, gradients, optimizer state and activations. Generated networks compute the layout at compile
/// time and address the arena by offsets; nothing is allocated per step.
/// </summary>
public sealed unsafe class Arena : IDisposable
{
    /// <summary>Alignment of the block, in bytes (one cache line, one 512-bit vector).</summary>
    public const int AlignmentBytes = 64;

    /// <summary>Alignment of the block, in floats.</summary>
    public const int AlignmentFloats = AlignmentBytes / sizeof(float);

    private float* _pointer;

    /// <summary>
    /// The floats a buffer of <paramref name="floats"/> occupies in an arena plan: rounded up to the alignment,
    /// plus one 512-bit vector of slack, because SIMD kernels may read (never write) up to one vector past a
    /// buffer's end.
    /// </summary>
    public static long Padded(long floats) => (floats + AlignmentFloats - 1) / AlignmentFloats * AlignmentFloats + AlignmentFloats;

    /// <summary>Allocates <paramref name="length"/> floats, all zero.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The length is not positive.</exception>
    public Arena(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Length = length;
        nuint bytes = checked((nuint)length * sizeof(float));
        if (HugePages.Worthwhile(bytes))
        {
            _pointer = (float*)NativeMemory.AlignedAlloc(bytes, HugePages.Size);
            HugePages.Advise(_pointer, bytes); // before the first touch (the clear below)
        }
        else
        {
            _pointer = (float*)NativeMemory.AlignedAlloc(bytes, AlignmentBytes);
        }

        NativeMemory.Clear(_pointer, bytes);
        GC.AddMemoryPressure((long)bytes);
    }

    /// <summary>Size in floats.</summary>
    public long Length { get; }

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => _pointer == null;

    /// <summary>The first float. Throws once the arena is disposed.</summary>
    internal float* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer == null, this);
            return _pointer;
        }
    }

    /// <summary>A view of <paramref name="length"/> floats at <paramref name="offset"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the arena.</exception>
    /// <exception cref="ObjectDisposedException">The arena was disposed.</exception>
    public Span<float> GetSpan(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset > Length - length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"Range [{offset}, {offset + length}) is outside the arena of {Length} floats.");
        }

        return new Span<float>(Pointer + offset, length);
    }

    /// <summary>Frees the memory. Views obtained earlier must not be used afterwards.</summary>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the memory if <see cref="Dispose"/> was never called.</summary>
    ~Arena() => Free();

    private void Free()
    {
        if (_pointer != null)
        {
            NativeMemory.AlignedFree(_pointer);
            _pointer = null;
            GC.RemoveMemoryPressure(Length * sizeof(float));
        }
    }
}

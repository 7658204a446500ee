using NetDsl.Kernels;

namespace NetDsl.Tests.Onnx;

/// <summary>A non-negative int carried by a type, so run-time ONNX shapes can become compile-time kernel shapes.</summary>
public interface ITypeInt
{
    static abstract int Value { get; }
}

/// <summary>A list of ints carried by a type (see <see cref="TypeInts"/>).</summary>
public interface ITypeIntList
{
    static abstract int Count { get; }

    static abstract int Get(int index);
}

#pragma warning disable SA1649, SA1402 // a family of tiny types in one file

/// <summary>0.</summary>
public readonly struct Zero : ITypeInt
{
    public static int Value => 0;
}

/// <summary><c>2 * T</c>: binary digit 0 appended.</summary>
public readonly struct Bit0<T> : ITypeInt where T : struct, ITypeInt
{
    public static int Value => 2 * T.Value;
}

/// <summary><c>2 * T + 1</c>: binary digit 1 appended.</summary>
public readonly struct Bit1<T> : ITypeInt where T : struct, ITypeInt
{
    public static int Value => 2 * T.Value + 1;
}

/// <summary>The empty list.</summary>
public readonly struct Nil : ITypeIntList
{
    public static int Count => 0;

    public static int Get(int index) => throw new ArgumentOutOfRangeException(nameof(index));
}

/// <summary><typeparamref name="THead"/> followed by <typeparamref name="TTail"/>.</summary>
public readonly struct Cons<THead, TTail> : ITypeIntList where THead : struct, ITypeInt where TTail : struct, ITypeIntList
{
    public static int Count => 1 + TTail.Count;

    public static int Get(int index) => index == 0 ? THead.Value : TTail.Get(index - 1);
}

/// <summary>A GEMM shape: the list is (N, AStrideM, AStrideP).</summary>
public readonly struct ListGemmShape<TL> : IGemmShape where TL : struct, ITypeIntList
{
    public static int N => TL.Get(0);

    public static int AStrideM => TL.Get(1);

    public static int AStrideP => TL.Get(2);
}

/// <summary>A pooling shape: the list is (InH, InW, C, PoolH, PoolW, StrideH, StrideW, PadTop, PadLeft, OutH, OutW).</summary>
public readonly struct ListPoolShape<TL> : IPoolShape where TL : struct, ITypeIntList
{
    public static int InH => TL.Get(0);

    public static int InW => TL.Get(1);

    public static int C => TL.Get(2);

    public static int PoolH => TL.Get(3);

    public static int PoolW => TL.Get(4);

    public static int StrideH => TL.Get(5);

    public static int StrideW => TL.Get(6);

    public static int PadTop => TL.Get(7);

    public static int PadLeft => TL.Get(8);

    public static int OutH => TL.Get(9);

    public static int OutW => TL.Get(10);
}

/// <summary>A convolution shape: the list is (InH, InW, InC, KH, KW, StrideH, StrideW, PadTop, PadLeft, OutH, OutW, Filters).</summary>
public readonly struct ListConvShape<TL> : IConvShape where TL : struct, ITypeIntList
{
    public static int InH => TL.Get(0);

    public static int InW => TL.Get(1);

    public static int InC => TL.Get(2);

    public static int KH => TL.Get(3);

    public static int KW => TL.Get(4);

    public static int StrideH => TL.Get(5);

    public static int StrideW => TL.Get(6);

    public static int PadTop => TL.Get(7);

    public static int PadLeft => TL.Get(8);

    public static int OutH => TL.Get(9);

    public static int OutW => TL.Get(10);

    public static int Filters => TL.Get(11);
}

#pragma warning restore SA1649, SA1402

/// <summary>Something to do with a type-level list of ints.</summary>
public interface ITypeIntListAction
{
    void Run<TL>() where TL : struct, ITypeIntList;
}

/// <summary>
/// Turns run-time ints into a <see cref="Cons{THead, TTail}"/> list of binary-encoded <see cref="ITypeInt"/> types, then
/// calls the action with it: the JIT compiles that instantiation with every shape value a constant, as it does for
/// the structs the generator emits. Works for any non-negative values (no table of constants to extend).
/// </summary>
public static class TypeInts
{
    public static void With(ReadOnlySpan<int> values, ITypeIntListAction action)
    {
        foreach (int v in values)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(v, nameof(values));
        }

        Step<Nil>([.. values], values.Length, action);
    }

    private interface IIntAction
    {
        void Run<T>() where T : struct, ITypeInt;
    }

    // Prepends values[n - 1], values[n - 2], ..., values[0] to TL.
    private static void Step<TL>(int[] values, int n, ITypeIntListAction action) where TL : struct, ITypeIntList
    {
        if (n == 0)
        {
            action.Run<TL>();
            return;
        }

        Int(values[n - 1], new Prepend<TL>(values, n - 1, action));
    }

    private static void Int(int value, IIntAction action)
    {
        if (value == 0)
        {
            action.Run<Zero>();
        }
        else
        {
            Int(value >> 1, new AppendBit(value & 1, action));
        }
    }

    private sealed class AppendBit(int bit, IIntAction next) : IIntAction
    {
        public void Run<T>() where T : struct, ITypeInt
        {
            if (bit == 0)
            {
                next.Run<Bit0<T>>();
            }
            else
            {
                next.Run<Bit1<T>>();
            }
        }
    }

    private sealed class Prepend<TL>(int[] values, int n, ITypeIntListAction action) : IIntAction where TL : struct, ITypeIntList
    {
        public void Run<T>() where T : struct, ITypeInt => Step<Cons<T, TL>>(values, n, action);
    }
}

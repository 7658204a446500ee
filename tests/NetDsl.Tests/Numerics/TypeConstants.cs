using NetDsl.Kernels;

namespace NetDsl.Tests.Numerics;

/// <summary>An int known at the type level, so tests can build <see cref="IGemmShape"/> structs from run-time values.</summary>
public interface IConst
{
    static abstract int Value { get; }
}

#pragma warning disable SA1649, SA1402 // many tiny types in one file
public readonly struct C1 : IConst { public static int Value => 1; }
public readonly struct C2 : IConst { public static int Value => 2; }
public readonly struct C3 : IConst { public static int Value => 3; }
public readonly struct C5 : IConst { public static int Value => 5; }
public readonly struct C7 : IConst { public static int Value => 7; }
public readonly struct C8 : IConst { public static int Value => 8; }
public readonly struct C9 : IConst { public static int Value => 9; }
public readonly struct C15 : IConst { public static int Value => 15; }
public readonly struct C16 : IConst { public static int Value => 16; }
public readonly struct C17 : IConst { public static int Value => 17; }
public readonly struct C31 : IConst { public static int Value => 31; }
public readonly struct C32 : IConst { public static int Value => 32; }
public readonly struct C33 : IConst { public static int Value => 33; }
public readonly struct C64 : IConst { public static int Value => 64; }
public readonly struct C70 : IConst { public static int Value => 70; }
public readonly struct C100 : IConst { public static int Value => 100; }
public readonly struct C255 : IConst { public static int Value => 255; }
public readonly struct C256 : IConst { public static int Value => 256; }
public readonly struct C257 : IConst { public static int Value => 257; }
public readonly struct C600 : IConst { public static int Value => 600; }
#pragma warning restore SA1649, SA1402

/// <summary>A GEMM shape assembled from type-level constants.</summary>
public readonly struct Shape<TN, TSM, TSP> : IGemmShape
    where TN : struct, IConst
    where TSM : struct, IConst
    where TSP : struct, IConst
{
    public static int N => TN.Value;

    public static int AStrideM => TSM.Value;

    public static int AStrideP => TSP.Value;
}

/// <summary>Something to do with a shape type.</summary>
public interface IShapeAction
{
    void Run<TShape>() where TShape : struct, IGemmShape;
}

/// <summary>Turns run-time (N, AStrideM, AStrideP) into a <see cref="Shape{TN, TSM, TSP}"/> type argument.</summary>
public static class ShapeDispatch
{
    public static void With(int n, int strideM, int strideP, IShapeAction action) =>
        Const(n, new NStep(strideM, strideP, action));

    private interface IConstAction
    {
        void Run<T>() where T : struct, IConst;
    }

    private static void Const(int value, IConstAction action)
    {
        switch (value)
        {
            case 1: action.Run<C1>(); break;
            case 2: action.Run<C2>(); break;
            case 3: action.Run<C3>(); break;
            case 5: action.Run<C5>(); break;
            case 7: action.Run<C7>(); break;
            case 8: action.Run<C8>(); break;
            case 9: action.Run<C9>(); break;
            case 15: action.Run<C15>(); break;
            case 16: action.Run<C16>(); break;
            case 17: action.Run<C17>(); break;
            case 31: action.Run<C31>(); break;
            case 32: action.Run<C32>(); break;
            case 33: action.Run<C33>(); break;
            case 64: action.Run<C64>(); break;
            case 70: action.Run<C70>(); break;
            case 100: action.Run<C100>(); break;
            case 255: action.Run<C255>(); break;
            case 256: action.Run<C256>(); break;
            case 257: action.Run<C257>(); break;
            case 600: action.Run<C600>(); break;
            default: throw new ArgumentOutOfRangeException(nameof(value), value, "Add a constant type for this value.");
        }
    }

    private sealed class NStep(int strideM, int strideP, IShapeAction action) : IConstAction
    {
        public void Run<TN>() where TN : struct, IConst => Const(strideM, new MStep<TN>(strideP, action));
    }

    private sealed class MStep<TN>(int strideP, IShapeAction action) : IConstAction where TN : struct, IConst
    {
        public void Run<TSM>() where TSM : struct, IConst => Const(strideP, new PStep<TN, TSM>(action));
    }

    private sealed class PStep<TN, TSM>(IShapeAction action) : IConstAction where TN : struct, IConst where TSM : struct, IConst
    {
        public void Run<TSP>() where TSP : struct, IConst => action.Run<Shape<TN, TSM, TSP>>();
    }
}

using NetDsl.Kernels;

namespace NetDsl.Tests.Numerics;

/// <summary>A convolution's free parameters; <see cref="ConvSpecShape{TSpec}"/> derives the rest (Keras rules).</summary>
public interface IConvSpec
{
    static abstract int InH { get; }

    static abstract int InW { get; }

    static abstract int InC { get; }

    static abstract int KH { get; }

    static abstract int KW { get; }

    static abstract int StrideH { get; }

    static abstract int StrideW { get; }

    static abstract int Filters { get; }

    /// <summary>Keras 'same' padding (else 'valid').</summary>
    static abstract bool Same { get; }
}

/// <summary>
/// An <see cref="IConvShape"/> from a spec: valid: out = (in - k) / stride + 1, no padding; same (Keras):
/// out = ceil(in / stride), padTotal = max((out - 1) * stride + k - in, 0), top/left = padTotal / 2.
/// </summary>
public readonly struct ConvSpecShape<TSpec> : IConvShape
    where TSpec : IConvSpec
{
    public static int InH => TSpec.InH;

    public static int InW => TSpec.InW;

    public static int InC => TSpec.InC;

    public static int KH => TSpec.KH;

    public static int KW => TSpec.KW;

    public static int StrideH => TSpec.StrideH;

    public static int StrideW => TSpec.StrideW;

    public static int PadTop => TSpec.Same ? Math.Max(((OutH - 1) * TSpec.StrideH) + TSpec.KH - TSpec.InH, 0) / 2 : 0;

    public static int PadLeft => TSpec.Same ? Math.Max(((OutW - 1) * TSpec.StrideW) + TSpec.KW - TSpec.InW, 0) / 2 : 0;

    public static int OutH => TSpec.Same ? (TSpec.InH + TSpec.StrideH - 1) / TSpec.StrideH : ((TSpec.InH - TSpec.KH) / TSpec.StrideH) + 1;

    public static int OutW => TSpec.Same ? (TSpec.InW + TSpec.StrideW - 1) / TSpec.StrideW : ((TSpec.InW - TSpec.KW) / TSpec.StrideW) + 1;

    public static int Filters => TSpec.Filters;
}

#pragma warning disable SA1649, SA1402 // many tiny types in one file
// Name: kernel, strides, padding, channels -> filters, input size.
public readonly struct K1x1Valid_C3F5 : IConvSpec { public static int InH => 5; public static int InW => 7; public static int InC => 3; public static int KH => 1; public static int KW => 1; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 5; public static bool Same => false; }
public readonly struct K1x1S2Same_C32F17 : IConvSpec { public static int InH => 7; public static int InW => 6; public static int InC => 32; public static int KH => 1; public static int KW => 1; public static int StrideH => 2; public static int StrideW => 2; public static int Filters => 17; public static bool Same => true; }
public readonly struct K1x1Same_C1F1 : IConvSpec { public static int InH => 4; public static int InW => 4; public static int InC => 1; public static int KH => 1; public static int KW => 1; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 1; public static bool Same => true; }
public readonly struct K3x3Valid_C1F32 : IConvSpec { public static int InH => 9; public static int InW => 12; public static int InC => 1; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 32; public static bool Same => false; }
public readonly struct K3x3Valid_C32F32 : IConvSpec { public static int InH => 10; public static int InW => 13; public static int InC => 32; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 32; public static bool Same => false; }
public readonly struct K3x3Same_C32F33 : IConvSpec { public static int InH => 8; public static int InW => 9; public static int InC => 32; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 33; public static bool Same => true; }
public readonly struct K3x3Same_C1F16 : IConvSpec { public static int InH => 11; public static int InW => 9; public static int InC => 1; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 16; public static bool Same => true; }
public readonly struct K3x3Same_C3F17_Wide : IConvSpec { public static int InH => 5; public static int InW => 23; public static int InC => 3; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 17; public static bool Same => true; }
public readonly struct K3x3S2Same_C3F16 : IConvSpec { public static int InH => 9; public static int InW => 8; public static int InC => 3; public static int KH => 3; public static int KW => 3; public static int StrideH => 2; public static int StrideW => 2; public static int Filters => 16; public static bool Same => true; }
public readonly struct K3x3S2Valid_C32F1 : IConvSpec { public static int InH => 9; public static int InW => 11; public static int InC => 32; public static int KH => 3; public static int KW => 3; public static int StrideH => 2; public static int StrideW => 2; public static int Filters => 1; public static bool Same => false; }
public readonly struct K3x3S3x1Same_C3F32 : IConvSpec { public static int InH => 10; public static int InW => 7; public static int InC => 3; public static int KH => 3; public static int KW => 3; public static int StrideH => 3; public static int StrideW => 1; public static int Filters => 32; public static bool Same => true; }
public readonly struct K3x3S2x3Same_C3F5 : IConvSpec { public static int InH => 7; public static int InW => 10; public static int InC => 3; public static int KH => 3; public static int KW => 3; public static int StrideH => 2; public static int StrideW => 3; public static int Filters => 5; public static bool Same => true; }
public readonly struct K5x5Same_C3F17 : IConvSpec { public static int InH => 8; public static int InW => 12; public static int InC => 3; public static int KH => 5; public static int KW => 5; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 17; public static bool Same => true; }
public readonly struct K5x5S2Valid_C1F5 : IConvSpec { public static int InH => 13; public static int InW => 12; public static int InC => 1; public static int KH => 5; public static int KW => 5; public static int StrideH => 2; public static int StrideW => 2; public static int Filters => 5; public static bool Same => false; }
public readonly struct K5x5Valid_C32F16 : IConvSpec { public static int InH => 7; public static int InW => 9; public static int InC => 32; public static int KH => 5; public static int KW => 5; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 16; public static bool Same => false; }
public readonly struct K5x5Same_C3F16_TinyInput : IConvSpec { public static int InH => 3; public static int InW => 4; public static int InC => 3; public static int KH => 5; public static int KW => 5; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 16; public static bool Same => true; }
public readonly struct K2x3Same_C32F5 : IConvSpec { public static int InH => 7; public static int InW => 9; public static int InC => 32; public static int KH => 2; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 5; public static bool Same => true; }
public readonly struct K2x3S2Valid_C1F33 : IConvSpec { public static int InH => 8; public static int InW => 9; public static int InC => 1; public static int KH => 2; public static int KW => 3; public static int StrideH => 2; public static int StrideW => 2; public static int Filters => 33; public static bool Same => false; }
public readonly struct K3x1Same_C32F17 : IConvSpec { public static int InH => 6; public static int InW => 5; public static int InC => 32; public static int KH => 3; public static int KW => 1; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 17; public static bool Same => true; }
public readonly struct K2x2S2Valid_C32F32 : IConvSpec { public static int InH => 8; public static int InW => 8; public static int InC => 32; public static int KH => 2; public static int KW => 2; public static int StrideH => 2; public static int StrideW => 2; public static int Filters => 32; public static bool Same => false; }

// Shapes the Winograd path takes (3x3, stride 1, channels multiples of 16): partial tiles at odd output sizes, 'same'
// padding, a one-row output, filters of three 16-vectors (a 512-bit GEMM's 2-vector and 1-vector blocks).
public readonly struct K3x3Same_C16F32 : IConvSpec { public static int InH => 7; public static int InW => 9; public static int InC => 16; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 32; public static bool Same => true; }
public readonly struct K3x3Valid_C16F48_TinyOutput : IConvSpec { public static int InH => 3; public static int InW => 4; public static int InC => 16; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 48; public static bool Same => false; }
public readonly struct K3x3Same_C32F16_OneRow : IConvSpec { public static int InH => 1; public static int InW => 5; public static int InC => 32; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 16; public static bool Same => true; }

// Shapes the small-map kernel takes (ConvGather: at least 64 input channels, output at most 28 wide, filters a
// multiple of two vectors at 512 and 256 bits): 'same' edges on a 7 x 7 map (the tiles span rows and samples), a
// strided and a 1x1 strided convolution, three 2-vector filter blocks, and a block too large for the stack scratch
// (3 x 3 x 576 rows of 32 filters, read in place at 512 bits).
public readonly struct G3x3Same_C64F64_7x7 : IConvSpec { public static int InH => 7; public static int InW => 7; public static int InC => 64; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 64; public static bool Same => true; }
public readonly struct G3x3S2Same_C64F32 : IConvSpec { public static int InH => 9; public static int InW => 10; public static int InC => 64; public static int KH => 3; public static int KW => 3; public static int StrideH => 2; public static int StrideW => 2; public static int Filters => 32; public static bool Same => true; }
public readonly struct G1x1S2Valid_C96F96 : IConvSpec { public static int InH => 6; public static int InW => 5; public static int InC => 96; public static int KH => 1; public static int KW => 1; public static int StrideH => 2; public static int StrideW => 2; public static int Filters => 96; public static bool Same => false; }
public readonly struct G3x3Valid_C576F32_Unpacked : IConvSpec { public static int InH => 4; public static int InW => 5; public static int InC => 576; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 32; public static bool Same => false; }

/// <summary>The reference CNN's first convolution (mnist_transfer_cnn): 28x28x1 -> 26x26x32, 3x3 valid.</summary>
public readonly struct MnistConv1 : IConvSpec { public static int InH => 28; public static int InW => 28; public static int InC => 1; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 32; public static bool Same => false; }

/// <summary>The reference CNN's second convolution: 26x26x32 -> 24x24x32, 3x3 valid.</summary>
public readonly struct MnistConv2 : IConvSpec { public static int InH => 26; public static int InW => 26; public static int InC => 32; public static int KH => 3; public static int KW => 3; public static int StrideH => 1; public static int StrideW => 1; public static int Filters => 32; public static bool Same => false; }
#pragma warning restore SA1649, SA1402

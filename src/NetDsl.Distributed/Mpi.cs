using System.Runtime.InteropServices;

namespace NetDsl.Distributed;

/// <summary>
/// The few MPI calls data-parallel training needs, bound directly to OpenMPI's <c>libmpi.so.40</c>.
/// </summary>
/// <remarks>
/// Why not MPI.NET 1.4.0 (NuGet): it targets .NET Standard through a C shim it builds per platform, uses reflection to
/// map .NET types to MPI datatypes (not Native-AOT safe) and wraps every buffer in managed arrays; NetDsl reduces one
/// contiguous float block, so six functions with raw pointers are all it needs. OpenMPI's handles (MPI_COMM_WORLD,
/// MPI_FLOAT, MPI_SUM) are addresses of exported globals, read once with <see cref="NativeLibrary.GetExport"/>.
/// </remarks>
internal static unsafe partial class Mpi
{
    public const string Library = "libmpi.so.40";

    public const int Success = 0;

    public const int ThreadMultiple = 3; // MPI_THREAD_MULTIPLE: any thread may call MPI (the progress thread does)

    private static readonly Lazy<Handles> s_handles = new(LoadHandles);

    public static nint CommWorld => s_handles.Value.CommWorld;

    public static nint Float => s_handles.Value.Float;

    public static nint Double => s_handles.Value.Double;

    public static nint Sum => s_handles.Value.Sum;

    public static int InitThread()
    {
        int provided;
        Check(MPI_Init_thread(null, null, ThreadMultiple, &provided), "MPI_Init_thread");
        return provided;
    }

    public static void Check(int code, string call)
    {
        if (code != Success)
        {
            throw new MpiException($"{call} failed with MPI error code {code}.");
        }
    }

    [LibraryImport(Library)]
    public static partial int MPI_Init_thread(int* argc, byte*** argv, int required, int* provided);

    [LibraryImport(Library)]
    public static partial int MPI_Initialized(int* flag);

    [LibraryImport(Library)]
    public static partial int MPI_Finalized(int* flag);

    [LibraryImport(Library)]
    public static partial int MPI_Finalize();

    [LibraryImport(Library)]
    public static partial int MPI_Comm_rank(nint comm, int* rank);

    [LibraryImport(Library)]
    public static partial int MPI_Comm_size(nint comm, int* size);

    [LibraryImport(Library)]
    public static partial int MPI_Allreduce(void* sendBuffer, void* receiveBuffer, int count, nint datatype, nint op, nint comm);

    [LibraryImport(Library)]
    public static partial int MPI_Iallreduce(void* sendBuffer, void* receiveBuffer, int count, nint datatype, nint op, nint comm, nint* request);

    [LibraryImport(Library)]
    public static partial int MPI_Allgatherv(void* sendBuffer, int sendCount, nint sendType, void* receiveBuffer, int* receiveCounts, int* displacements, nint receiveType, nint comm);

    [LibraryImport(Library)]
    public static partial int MPI_Iallgatherv(void* sendBuffer, int sendCount, nint sendType, void* receiveBuffer, int* receiveCounts, int* displacements, nint receiveType, nint comm, nint* request);

    [LibraryImport(Library)]
    public static partial int MPI_Test(nint* request, int* flag, void* status);

    [LibraryImport(Library)]
    public static partial int MPI_Bcast(void* buffer, int count, nint datatype, int root, nint comm);

    [LibraryImport(Library)]
    public static partial int MPI_Barrier(nint comm);

    [LibraryImport(Library)]
    public static partial int MPI_Abort(nint comm, int errorCode);

    /// <summary>MPI_IN_PLACE in OpenMPI.</summary>
    public static void* InPlace => (void*)1;

    private static Handles LoadHandles()
    {
        nint library = NativeLibrary.Load(Library);
        return new Handles(
            NativeLibrary.GetExport(library, "ompi_mpi_comm_world"),
            NativeLibrary.GetExport(library, "ompi_mpi_float"),
            NativeLibrary.GetExport(library, "ompi_mpi_double"),
            NativeLibrary.GetExport(library, "ompi_mpi_op_sum"));
    }

    private sealed record Handles(nint CommWorld, nint Float, nint Double, nint Sum);
}

/// <summary>An MPI call failed, or MPI is not available here.</summary>
public sealed class MpiException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    public MpiException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="inner">The cause.</param>
    public MpiException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

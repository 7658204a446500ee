using System.Reflection;

namespace NetDsl.Gpu.Tests.Ptx;

/// <summary>A method marked <see cref="GpuKernelAttribute"/>, found by reflection.</summary>
/// <param name="Id">Namespace.Type.Method (parameter types appended for overloads).</param>
/// <param name="Method">The kernel method.</param>
/// <param name="Hot">Whether it is on the hot path (must not spill).</param>
/// <param name="GroupSize">Threads per group of an explicitly grouped (tiled) kernel; 0 for an auto-grouped Index1D kernel.</param>
public sealed record GpuKernelMethod(string Id, MethodInfo Method, bool Hot, int GroupSize = 0)
{
    public override string ToString() => Id;
}

/// <summary>
/// Every <see cref="GpuKernelAttribute"/> method in the GPU runtime (NetDsl.Gpu: optimizers and other runtime kernels)
/// and in this test assembly (the generated networks' kernels, and the samples). Types of every visibility, nested ones
/// included; static methods of any visibility.
/// </summary>
public static class GpuKernels
{
    private static readonly Lazy<IReadOnlyList<GpuKernelMethod>> s_all = new(Discover);

    /// <summary>The assemblies searched.</summary>
    public static IReadOnlyList<Assembly> Assemblies { get; } =
        [typeof(GpuKernelAttribute).Assembly, typeof(GpuKernels).Assembly];

    public static IReadOnlyList<GpuKernelMethod> All => s_all.Value;

    public static GpuKernelMethod Find(string id) =>
        All.FirstOrDefault(k => k.Id == id) ?? throw new ArgumentException($"no [GpuKernel] method {id}", nameof(id));

    private static List<GpuKernelMethod> Discover()
    {
        const BindingFlags flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static |
                                   BindingFlags.Instance | BindingFlags.DeclaredOnly;
        var methods = Assemblies.Distinct()
            .SelectMany(LoadableTypes)
            .SelectMany(t => t.GetMethods(flags))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<GpuKernelAttribute>()))
            .Where(x => x.Attribute is not null)
            .ToList();

        // Ids are Namespace.Type.Method; overloads get their parameter types appended so every id is unique.
        var counts = methods.GroupBy(x => BaseId(x.Method)).ToDictionary(g => g.Key, g => g.Count());
        return methods
            .Select(x => new GpuKernelMethod(
                counts[BaseId(x.Method)] == 1
                    ? BaseId(x.Method)
                    : $"{BaseId(x.Method)}({string.Join(", ", x.Method.GetParameters().Select(p => p.ParameterType.Name))})",
                x.Method, x.Attribute!.Hot, x.Attribute.GroupSize))
            .OrderBy(k => k.Id, StringComparer.Ordinal)
            .ToList();
    }

    private static string BaseId(MethodInfo method) => $"{method.DeclaringType!.FullName!.Replace('+', '.')}.{method.Name}";

    private static IEnumerable<Type> LoadableTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            return e.Types.OfType<Type>();
        }
    }
}

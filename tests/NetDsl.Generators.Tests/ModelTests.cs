using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using NetDsl.Generators.Emit;
using NetDsl.Generators.Lowering;
using NetDsl.Generators.Model;
using NetDsl.Generators.Shapes;
using static NetDsl.Generators.NetworkGenerator;

namespace NetDsl.Generators.Tests;

/// <summary>
/// The pipeline's models must be plain data: no Roslyn object may survive the Parse stage (it would pin
/// compilations in memory and defeat caching), and every model must compare by value.
/// </summary>
public class ModelTests
{
    private static readonly string[] ModelNamespaces =
    {
        "NetDsl.Generators.Model", "NetDsl.Generators.Shapes", "NetDsl.Generators.Lowering", "NetDsl.Generators.Emit",
    };

    private static readonly Type[] Forbidden =
    {
        typeof(ISymbol), typeof(SyntaxNode), typeof(SyntaxToken), typeof(SyntaxTrivia), typeof(SyntaxNodeOrToken),
        typeof(SyntaxReference), typeof(Location), typeof(SemanticModel), typeof(Compilation), typeof(SyntaxTree),
        typeof(AttributeData), typeof(TypedConstant), typeof(Diagnostic), typeof(IOperation),
    };

    /// <summary>Roslyn types that are plain immutable values and fine in a model.</summary>
    private static readonly Type[] AllowedRoslynValues = { typeof(TextSpan), typeof(LinePositionSpan), typeof(LinePosition) };

    private static readonly Type[] ExpectedModels =
    {
        typeof(EquatableArray<>), typeof(LocationInfo), typeof(DiagnosticInfo), typeof(LayerSpec), typeof(NetworkSpec), typeof(ParseResult),
        typeof(ShapedLayer), typeof(ShapedNetwork), typeof(ShapeResult),
        typeof(BufferPlan), typeof(Dim), typeof(KernelOp), typeof(Phase), typeof(ExecutionPlan), typeof(LoweringResult),
        typeof(GeneratedSource), typeof(EmitResult),
    };

    private static bool IsRecord(Type t) => t.GetMethod("<Clone>$", BindingFlags.Public | BindingFlags.Instance) is not null
        || (t.IsValueType && t.GetProperty("EqualityContract", BindingFlags.NonPublic | BindingFlags.Instance) is not null);

    /// <summary>Every record or struct (not enum) declared in the model namespaces of the generator assembly.</summary>
    private static List<Type> ModelTypes() => typeof(NetworkGenerator).Assembly.GetTypes()
        .Where(t => t.Namespace is { } ns && ModelNamespaces.Contains(ns))
        .Where(t => !t.IsDefined(typeof(CompilerGeneratedAttribute), false) && !t.IsNested)
        .Where(t => IsRecord(t) || (t.IsValueType && !t.IsEnum))
        .ToList();

    [Fact]
    public void ModelTypes_AreFound()
    {
        var found = ModelTypes();
        var missing = ExpectedModels.Where(e => !found.Contains(e)).ToList();
        Assert.True(missing.Count == 0, "not recognised as model records/structs: " + string.Join(", ", missing.Select(t => t.Name)));
    }

    [Fact]
    public void ModelTypes_HoldNoRoslynObjects()
    {
        var problems = new List<string>();
        var seen = new HashSet<Type>();
        foreach (var type in ModelTypes())
        {
            Walk(type, type.Name, seen, problems);
        }

        Assert.True(problems.Count == 0, "Roslyn objects reachable from pipeline models:\n" + string.Join("\n", problems));
    }

    /// <summary>The walker must be able to fail: a record holding a Location (or one nested in a generic) is caught.</summary>
    [Fact]
    public void Walker_FindsRoslynObjects()
    {
        var problems = new List<string>();
        Walk(typeof(BadModel), nameof(BadModel), new HashSet<Type>(), problems);
        Assert.Contains(problems, p => p.Contains("Location", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("ISymbol", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("SyntaxToken", StringComparison.Ordinal));
    }

    private sealed record BadModel(Location Where, EquatableArray<Holder> Items, (int, SyntaxToken) Pair);

    private sealed record Holder(IReadOnlyList<INamedTypeSymbol> Symbols) : IEquatable<Holder>;

    private static void Walk(Type type, string path, HashSet<Type> seen, List<string> problems)
    {
        foreach (var forbidden in Forbidden)
        {
            if (forbidden.IsAssignableFrom(type))
            {
                problems.Add($"{path}: {type.Name} is a {forbidden.Name}");
                return;
            }
        }

        if (!seen.Add(type) || type.IsPrimitive || type.IsEnum || type == typeof(string) || AllowedRoslynValues.Contains(type))
        {
            return;
        }

        if (type.HasElementType)
        {
            Walk(type.GetElementType()!, path + "[]", seen, problems);
            return;
        }

        if (type.IsGenericType)
        {
            foreach (var argument in type.GetGenericArguments())
            {
                Walk(argument, $"{path}<{argument.Name}>", seen, problems);
            }
        }

        // Members are walked for our own types (and the tests' own fixtures); a BCL type can only reach Roslyn through its type arguments.
        if (type.Assembly != typeof(NetworkGenerator).Assembly && type.Assembly != typeof(ModelTests).Assembly)
        {
            return;
        }

        const BindingFlags instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        foreach (var field in type.GetFields(instance))
        {
            Walk(field.FieldType, $"{path}.{field.Name}", seen, problems);
        }

        foreach (var property in type.GetProperties(instance).Where(p => p.GetIndexParameters().Length == 0))
        {
            Walk(property.PropertyType, $"{path}.{property.Name}", seen, problems);
        }
    }

    /// <summary>
    /// Structural value equality: every field of every model is a primitive, enum, string, plain Roslyn text value,
    /// EquatableArray of such, or another model; never an array, list, ImmutableArray (reference equality) or object.
    /// </summary>
    [Fact]
    public void ModelTypes_HaveValueEqualityStructurally()
    {
        var models = ModelTypes();
        var problems = new List<string>();
        foreach (var type in models)
        {
            if (type.IsValueType && !typeof(IEquatable<>).MakeGenericType(type).IsAssignableFrom(type) && !type.IsGenericTypeDefinition)
            {
                problems.Add($"{type.Name} is a struct without IEquatable<{type.Name}>");
            }

            var equals = type.GetMethod("Equals", new[] { typeof(object) })!;
            if (equals.DeclaringType == typeof(object) || equals.DeclaringType == typeof(ValueType))
            {
                problems.Add($"{type.Name} does not override Equals(object)");
            }

            if (type.IsGenericTypeDefinition)
            {
                continue; // EquatableArray<T>: its array field is compared element-wise by its own Equals.
            }

            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            {
                if (!HasValueEquality(field.FieldType, models))
                {
                    problems.Add($"{type.Name}.{field.Name}: {field.FieldType} does not compare by value");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void ValueEqualityCheck_RejectsReferenceCollections()
    {
        var models = ModelTypes();
        Assert.True(HasValueEquality(typeof(EquatableArray<LayerSpec>), models));
        Assert.True(HasValueEquality(typeof(LocationInfo), models));
        Assert.False(HasValueEquality(typeof(int[]), models));
        Assert.False(HasValueEquality(typeof(List<int>), models));
        Assert.False(HasValueEquality(typeof(System.Collections.Immutable.ImmutableArray<int>), models));
        Assert.False(HasValueEquality(typeof(object), models));
        Assert.False(HasValueEquality(typeof(EquatableArray<Holder>), models));
    }

    private static bool HasValueEquality(Type type, List<Type> models)
    {
        if (type.IsPrimitive || type.IsEnum || type == typeof(string) || AllowedRoslynValues.Contains(type))
        {
            return true;
        }

        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return HasValueEquality(underlying, models);
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(EquatableArray<>))
        {
            return HasValueEquality(type.GetGenericArguments()[0], models);
        }

        return models.Contains(type);
    }

    private static Dictionary<string, object> StepOutputs(string source)
    {
        var run = GeneratorHarness.Run(source);
        GeneratorHarness.AssertCleanOutput(run);
        return new[] { TrackingNames.Parse, TrackingNames.Shapes, TrackingNames.Lowering, TrackingNames.Emit }
            .ToDictionary(s => s, s => run.Result.TrackedSteps[s].SelectMany(r => r.Outputs).Single().Value);
    }

    /// <summary>Two separately built runs over the same source give Equal outputs, with equal hash codes, at every step.</summary>
    [Fact]
    public void PipelineOutputs_FromSeparateRuns_AreEqual()
    {
        var first = StepOutputs(TestNetworks.MnistMlp);
        var second = StepOutputs(TestNetworks.MnistMlp);
        Assert.Equal(4, first.Count);
        foreach (var (step, value) in first)
        {
            var other = second[step];
            Assert.False(ReferenceEquals(value, other), $"{step}: the same instance; the comparison proves nothing");
            Assert.True(value.Equals(other), $"{step}: two equal outputs ({value.GetType().Name}) are not Equal");
            Assert.Equal(value.GetHashCode(), other.GetHashCode());
        }

        Assert.IsType<ParseResult>(first[TrackingNames.Parse]);
        Assert.IsType<ShapeResult>(first[TrackingNames.Shapes]);
        Assert.IsType<LoweringResult>(first[TrackingNames.Lowering]);
        Assert.IsType<EmitResult>(first[TrackingNames.Emit]);
    }

    /// <summary>And equality is not trivially true: one different unit count makes every step's output differ.</summary>
    [Fact]
    public void PipelineOutputs_ForDifferentNetworks_AreNotEqual()
    {
        var first = StepOutputs(TestNetworks.MnistMlp);
        var second = StepOutputs(TestNetworks.MnistMlp.Replace("Dense(256,", "Dense(255,", StringComparison.Ordinal));
        foreach (var (step, value) in first)
        {
            Assert.False(value.Equals(second[step]), $"{step}: outputs of different networks compare Equal");
        }
    }

    /// <summary>The stages are pure functions of their inputs: re-running one on the same input gives an Equal result.</summary>
    [Fact]
    public void Stages_AreDeterministic()
    {
        var outputs = StepOutputs(TestNetworks.HiddenSoftmax);
        var parsed = (ParseResult)outputs[TrackingNames.Parse];
        var shaped = ShapeInference.Run(parsed);
        Assert.Equal(outputs[TrackingNames.Shapes], shaped);
        var lowered = Lowerer.Run(shaped.Network);
        Assert.Equal(outputs[TrackingNames.Lowering], lowered);
        Assert.Equal(outputs[TrackingNames.Emit], CpuEmitter.Run(lowered));
        Assert.Equal(CpuEmitter.Run(lowered), CpuEmitter.Run(Lowerer.Run(ShapeInference.Run(parsed).Network)));
    }

    [Fact]
    public void EquatableArray_ComparesByContent()
    {
        var a = new EquatableArray<int>(new[] { 1, 2, 3 });
        var b = new EquatableArray<int>(new List<int> { 1, 2, 3 });
        Assert.Equal(a, b);
        Assert.True(a == b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, new EquatableArray<int>(new[] { 1, 2, 4 }));
        Assert.NotEqual(a, new EquatableArray<int>(new[] { 1, 2 }));
        Assert.Equal(default, EquatableArray<int>.Empty);
        Assert.Empty(default(EquatableArray<int>));
    }
}

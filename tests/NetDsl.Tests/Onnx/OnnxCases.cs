namespace NetDsl.Tests.Onnx;

/// <summary>One test_data_set: the named inputs and the expected outputs, in graph order.</summary>
public sealed record OnnxDataSet(string Directory, IReadOnlyList<OnnxTensor> Inputs, IReadOnlyList<OnnxTensor> Outputs);

/// <summary>A backend node-test case folder: the model and its data sets.</summary>
public sealed class OnnxCase
{
    private OnnxCase(string name, string directory, OnnxModel model, IReadOnlyList<OnnxDataSet> dataSets)
    {
        Name = name;
        Directory = directory;
        Model = model;
        DataSets = dataSets;
    }

    public string Name { get; }

    public string Directory { get; }

    public OnnxModel Model { get; }

    public IReadOnlyList<OnnxDataSet> DataSets { get; }

    /// <summary>The graph inputs that are fed by the data sets (those not given by an initializer).</summary>
    public IReadOnlyList<OnnxValueInfo> FedInputs =>
        [.. Model.Graph.Inputs.Where(i => Model.Graph.Initializers.All(t => t.Name != i.Name))];

    public static OnnxCase Load(string directory)
    {
        string name = Path.GetFileName(directory);
        var model = OnnxDecoder.LoadModel(Path.Combine(directory, "model.onnx"));
        var sets = new List<OnnxDataSet>();
        foreach (string set in System.IO.Directory.GetDirectories(directory, "test_data_set_*").Order(StringComparer.Ordinal))
        {
            sets.Add(new OnnxDataSet(set, LoadNumbered(set, "input_"), LoadNumbered(set, "output_")));
        }

        if (sets.Count == 0)
        {
            throw new InvalidDataException($"{directory}: no test_data_set_* folder.");
        }

        return new OnnxCase(name, directory, model, sets);
    }

    /// <summary>The tensor of a graph input in a data set (by position among the fed inputs).</summary>
    public OnnxTensor Input(OnnxDataSet set, string inputName)
    {
        var fed = FedInputs;
        for (int i = 0; i < fed.Count; i++)
        {
            if (fed[i].Name == inputName)
            {
                if (i >= set.Inputs.Count)
                {
                    throw new InvalidDataException($"{set.Directory}: no input_{i}.pb for graph input '{inputName}'.");
                }

                return set.Inputs[i];
            }
        }

        var init = Model.Graph.Initializers.FirstOrDefault(t => t.Name == inputName);
        return init ?? throw new InvalidDataException($"{Directory}: '{inputName}' is neither a graph input nor an initializer.");
    }

    private static List<OnnxTensor> LoadNumbered(string directory, string prefix)
    {
        var tensors = new List<OnnxTensor>();
        for (int i = 0; ; i++)
        {
            string path = Path.Combine(directory, $"{prefix}{i}.pb");
            if (!File.Exists(path))
            {
                return tensors;
            }

            tensors.Add(OnnxDecoder.LoadTensor(path));
        }
    }
}

/// <summary>
/// The ONNX backend node tests this conformance suite covers, and the table of those NetDsl's layers cannot express.
/// </summary>
public static class OnnxCases
{
    /// <summary>Where Debian's libonnx-testdata installs the node tests.</summary>
    public const string DataDirectory = "/usr/share/libonnx-testdata/data/node";

    /// <summary>Folder-name prefixes (glob <c>prefix*</c>) and exact names of the covered operators.</summary>
    public static readonly string[] Prefixes =
    [
        "test_conv_", "test_maxpool_", "test_averagepool_", "test_batchnorm_", "test_gemm_", "test_flatten_",
        "test_softmax_", "test_dropout_",
    ];

    public static readonly string[] ExactNames = ["test_relu", "test_sigmoid", "test_tanh"];

    /// <summary>
    /// At least this many cases run (the libonnx-testdata 1.12 count); a new package version may add cases, never
    /// silently drop them.
    /// </summary>
    public const int MinimumRunCases = 37;

    public static string MissingDataMessage =>
        $"The ONNX backend node tests are not installed: {DataDirectory} does not exist. Install them with " +
        "'sudo apt-get install -y libonnx-testdata' (Debian/Ubuntu); CI installs the package before running the tests.";

    /// <summary>
    /// Every covered case NetDsl's layers cannot express, with the reason. <see cref="OnnxClassifier"/> decides each
    /// case from the model; a test asserts that it finds exactly these (no case is skipped silently, no entry is
    /// stale). Keep NOT_EXPRESSIBLE.md in step.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> NotExpressible = new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
        ["test_averagepool_1d_default"] = "1-D pooling (NetDsl pools 2-D images only)",
        ["test_averagepool_2d_ceil"] = "ceil_mode=1",
        ["test_averagepool_2d_pads"] = "explicit pads [2,2,2,2] give a 30x30 output from 28x28: neither 'valid' nor 'same'",
        ["test_averagepool_2d_pads_count_include_pad"] = "count_include_pad=1 (NetDsl averages exclude padding cells); pads [2,2,2,2] are neither 'valid' nor 'same'",
        ["test_averagepool_2d_precomputed_pads_count_include_pad"] = "count_include_pad=1 (NetDsl averages exclude padding cells)",
        ["test_averagepool_2d_precomputed_strides"] = "'valid' with (5 - 2) not a multiple of stride 2 (NetDsl requires a whole output size)",
        ["test_averagepool_2d_same_lower"] = "auto_pad SAME_LOWER with odd total padding (extra cell at top/left; Keras 'same' puts it at bottom/right)",
        ["test_averagepool_3d_default"] = "3-D pooling",
        ["test_conv_with_strides_and_asymmetric_padding"] = "pads [1,0,1,0]: 'same' vertically but 'valid' horizontally (one padding mode for both axes)",
        ["test_flatten_axis0"] = "axis=0 (flattens the batch dimension too)",
        ["test_flatten_axis2"] = "axis=2 (NetDsl's Flatten keeps only the batch axis: axis=1)",
        ["test_flatten_axis3"] = "axis=3 (NetDsl's Flatten keeps only the batch axis: axis=1)",
        ["test_flatten_negative_axis1"] = "axis=-1, i.e. 3 (NetDsl's Flatten keeps only the batch axis: axis=1)",
        ["test_flatten_negative_axis2"] = "axis=-2, i.e. 2 (NetDsl's Flatten keeps only the batch axis: axis=1)",
        ["test_flatten_negative_axis4"] = "axis=-4, i.e. 0 (flattens the batch dimension too)",
        ["test_gemm_all_attributes"] = "alpha=0.25, beta=0.35, transA=1",
        ["test_gemm_alpha"] = "alpha=0.5 (a Dense layer computes x·W + b)",
        ["test_gemm_beta"] = "beta=0.5 (a Dense layer computes x·W + b)",
        ["test_gemm_default_matrix_bias"] = "C of shape [3,4] differs per row (a Dense bias is one value per unit)",
        ["test_gemm_default_scalar_bias"] = "scalar C (broadcast over columns as well as rows)",
        ["test_gemm_default_single_elem_vector_bias"] = "C of shape [1] (broadcast over columns as well as rows)",
        ["test_gemm_transposeA"] = "transA=1 (a Dense layer's input is [batch, features])",
        ["test_maxpool_1d_default"] = "1-D pooling (NetDsl pools 2-D images only)",
        ["test_maxpool_2d_ceil"] = "ceil_mode=1",
        ["test_maxpool_2d_dilations"] = "dilations [2,2]",
        ["test_maxpool_2d_pads"] = "explicit pads [2,2,2,2] give a 30x30 output from 28x28: neither 'valid' nor 'same'",
        ["test_maxpool_2d_precomputed_strides"] = "'valid' with (5 - 2) not a multiple of stride 2 (NetDsl requires a whole output size)",
        ["test_maxpool_2d_same_lower"] = "auto_pad SAME_LOWER with odd total padding (extra cell at top/left; Keras 'same' puts it at bottom/right)",
        ["test_maxpool_2d_uint8"] = "uint8 tensors (NetDsl computes in float32)",
        ["test_maxpool_3d_default"] = "3-D pooling",
        ["test_maxpool_with_argmax_2d_precomputed_pads"] = "second output: argmax indices",
        ["test_maxpool_with_argmax_2d_precomputed_strides"] = "second output: argmax indices (storage_order=1); also 'valid' with (5 - 2) not a multiple of stride 2",
        ["test_softmax_axis_0"] = "3-D input, softmax over axis 0 (NetDsl's softmax is over the units of a [batch, units] Dense output)",
        ["test_softmax_axis_0_expanded"] = "3-D input, softmax over axis 0 (expanded form of test_softmax_axis_0)",
        ["test_softmax_axis_1"] = "3-D input, softmax over axis 1 (NetDsl's softmax is over the units of a [batch, units] Dense output)",
        ["test_softmax_axis_1_expanded"] = "3-D input, softmax over axis 1 (expanded form of test_softmax_axis_1)",
        ["test_softmax_axis_2"] = "3-D input [3,4,5] (NetDsl's softmax is over the units of a [batch, units] Dense output)",
        ["test_softmax_axis_2_expanded"] = "3-D input [3,4,5] (expanded form of test_softmax_axis_2)",
        ["test_softmax_default_axis"] = "3-D input [3,4,5] (NetDsl's softmax is over the units of a [batch, units] Dense output)",
        ["test_softmax_default_axis_expanded"] = "3-D input [3,4,5] (expanded form of test_softmax_default_axis)",
        ["test_softmax_negative_axis"] = "3-D input [3,4,5] (NetDsl's softmax is over the units of a [batch, units] Dense output)",
        ["test_softmax_negative_axis_expanded"] = "3-D input [3,4,5] (expanded form of test_softmax_negative_axis)",
    };

    /// <summary>Whether a folder name is one of the covered operators' cases.</summary>
    public static bool Matches(string name) =>
        ExactNames.Contains(name, StringComparer.Ordinal) || Prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));

    /// <summary>Every covered case folder name, sorted; throws with the install hint if the data is missing.</summary>
    public static IReadOnlyList<string> MatchingCaseNames()
    {
        if (!System.IO.Directory.Exists(DataDirectory))
        {
            throw new InvalidOperationException(MissingDataMessage);
        }

        return [.. System.IO.Directory.GetDirectories(DataDirectory).Select(Path.GetFileName).OfType<string>().Where(Matches).Order(StringComparer.Ordinal)];
    }

    public static OnnxCase Load(string name) => OnnxCase.Load(Path.Combine(DataDirectory, name));

    /// <summary>The operator a case exercises, for per-operator counts (the prefix without "test_" and "_").</summary>
    public static string Operator(string name) =>
        ExactNames.Contains(name, StringComparer.Ordinal) ? name["test_".Length..] : Prefixes.First(p => name.StartsWith(p, StringComparison.Ordinal))["test_".Length..^1];
}

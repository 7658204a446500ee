using System.Globalization;
using NetDsl.IO;
using NetDsl.Optimizers;
using NetDsl.Serialization;

namespace NetDsl;

/// <summary>
/// The persistence half of <see cref="Network"/>: weights and full training checkpoints as safetensors files.
/// </summary>
/// <remarks>
/// <para><b>Format.</b> Both are standard safetensors files (8-byte little-endian header length, UTF-8 JSON header,
/// row-major little-endian data; https://github.com/huggingface/safetensors), readable by the <c>safetensors</c>
/// Python and Rust libraries. Every tensor is F32 and named <c>{Layer}.{tensor}</c> after the declaring property
/// (<see cref="LayerTensor.FullName"/>): <c>kernel</c> and <c>bias</c> for Dense and Conv2D layers; <c>gamma</c>,
/// <c>beta</c>, <c>moving_mean</c> and <c>moving_variance</c> for BatchNorm. Only real parameters are stored, never
/// the arena's alignment padding. The <c>__metadata__</c> map carries <c>netdsl.format_version</c> (1),
/// <c>netdsl.kind</c> (<c>weights</c> or <c>checkpoint</c>) and <c>netdsl.network</c> (the network's type name).</para>
/// <para><b>Layouts</b> are Keras's (channels last): a Dense kernel is <c>[inputs, units]</c> (PyTorch's
/// <c>nn.Linear.weight</c> is <c>[units, inputs]</c>: <c>torch_weight = kernel.T</c>); a Conv2D kernel is
/// <c>[kh, kw, in, filters]</c> (PyTorch's <c>nn.Conv2d.weight</c> is <c>[filters, in, kh, kw]</c>:
/// <c>torch_weight = kernel.permute(3, 2, 0, 1)</c>, and back <c>kernel = torch_weight.permute(2, 3, 1, 0)</c>);
/// biases and BatchNorm vectors are the same in both (<c>gamma</c> = <c>weight</c>, <c>beta</c> = <c>bias</c>,
/// <c>moving_mean</c> = <c>running_mean</c>, <c>moving_variance</c> = <c>running_var</c>). Flatten orders features
/// (height, width, channels), PyTorch's <c>flatten</c> (channels, height, width): the rows of a Dense kernel that
/// follows a Flatten must be permuted accordingly.</para>
/// <para><b>Robustness.</b> Files are validated completely (the safetensors rules: header size at most 100 MB and
/// inside the file, valid UTF-8 JSON without duplicate keys, known dtypes, offsets that tile the data section exactly,
/// shape times dtype size equal to each byte range; then names, shapes and dtypes against the network) before a single
/// value is copied, so a failed load leaves the network unchanged. Malformed or mismatching files raise
/// <see cref="InvalidDataException"/> whose message names the file and the problem; nothing is allocated beyond the
/// file's own size. Files are written atomically (<see cref="AtomicFile"/>): a failed save leaves any previous file
/// intact.</para>
/// </remarks>
public abstract partial class Network
{
    private const string FormatVersion = "1";
    private const string KeyVersion = "netdsl.format_version";
    private const string KeyKind = "netdsl.kind";
    private const string KeyNetwork = "netdsl.network";
    private const string KeyLayout = "netdsl.layout";
    private const string KeySeed = "netdsl.seed";
    private const string KeySteps = "netdsl.steps";
    private const string KeyEpoch = "netdsl.epoch";
    private const string KeyShuffle = "netdsl.shuffle_state";
    private const string KeyOptimizer = "netdsl.optimizer";
    private const string KeyOptimizerConfig = "netdsl.optimizer.config";
    private const string KeyStateSlots = "netdsl.optimizer.state_slots";
    private const string KeyLearningRate = "netdsl.optimizer.learning_rate";
    private const string KeyIterations = "netdsl.optimizer.iterations";
    private const string KindWeights = "weights";
    private const string KindCheckpoint = "checkpoint";
    private const string StatePrefix = "optimizer/";
    private const int MaxListedProblems = 10;

    /// <summary>Saves every layer's tensors to <paramref name="path"/> as a safetensors file, atomically.</summary>
    /// <param name="path">The file to create or replace; its directory must exist.</param>
    /// <exception cref="IOException">The file could not be written; a previous file at <paramref name="path"/> is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    public void SaveWeights(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.Write(path, SaveWeights);
    }

    /// <summary>Writes every layer's tensors to <paramref name="stream"/> as a safetensors file (not closed).</summary>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    public void SaveWeights(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var tensors = WeightTargets().Select(t => new TensorToWrite(t.Name, t.Shape, () => Arena.GetSpan(t.Offset, t.Length))).ToList();
        Safetensors.Write(stream, tensors, Metadata(KindWeights));
    }

    /// <summary>
    /// Loads weights saved by <see cref="SaveWeights(string)"/> (or any safetensors file with the same tensor names,
    /// shapes and F32 data). Strict by default: the file must hold exactly this network's tensors. The optimizer state
    /// is not touched. A checkpoint's weights load too (its optimizer state is ignored).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Strict (null, the default) or partial (<see cref="WeightLoadOptions.Partial"/>).</param>
    /// <returns>The tensors loaded and, for a partial load, those skipped and why.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file, or (strict) a tensor is
    /// missing, extra, of another shape or not F32; the message names each such tensor with both shapes. Nothing was
    /// loaded.</exception>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    public WeightLoadReport LoadWeights(string path, WeightLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = OpenRead(path);
        return LoadWeights(file, options, path);
    }

    /// <summary>Loads weights from a safetensors stream, read from its position to its end (not closed); see <see cref="LoadWeights(string, WeightLoadOptions?)"/>.</summary>
    /// <param name="stream">The stream.</param>
    /// <param name="options">Strict (null, the default) or partial.</param>
    /// <param name="sourceName">What error messages call the stream (e.g. its file name).</param>
    /// <exception cref="InvalidDataException">The stream is not a valid safetensors file or (strict) does not match the network. Nothing was loaded.</exception>
    public WeightLoadReport LoadWeights(Stream stream, WeightLoadOptions? options = null, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var content = Safetensors.Read(stream, sourceName ?? "safetensors stream");
        CheckVersion(content);
        bool checkpoint = content.Metadata.TryGetValue(KeyKind, out string? kind) && kind == KindCheckpoint;
        bool partial = options?.Partial ?? false;
        var plan = Match(content, WeightTargets(), partial, checkpoint ? StatePrefix : null, out var loaded, out var skipped,
            " (WeightLoadOptions.PartialLoad loads only the matching tensors)");
        Apply(content, plan);
        return new WeightLoadReport(loaded, skipped, content.Metadata);
    }

    /// <summary>
    /// Saves everything needed to resume training exactly: the weights, the optimizer's state slots, type,
    /// <see cref="IOptimizer.LearningRate"/> and <see cref="IOptimizer.Iterations"/>, <see cref="Steps"/> (which
    /// drives the dropout masks), <see cref="Seed"/> and <paramref name="progress"/> (epoch, shuffle generator state).
    /// A safetensors file like the weights: the state slots are extra tensors named <c>optimizer/{slot}/{tensor}</c>,
    /// the scalars are <c>netdsl.*</c> metadata. Written atomically.
    /// </summary>
    /// <param name="path">The file to create or replace; its directory must exist.</param>
    /// <param name="optimizer">The optimizer training this network (the one last passed to <see cref="TrainStep(ReadOnlySpan{float}, ReadOnlySpan{int}, IOptimizer)"/>).</param>
    /// <param name="progress">The epoch and shuffle state to store.</param>
    /// <exception cref="ArgumentException">Another optimizer instance owns this network's optimizer state, or the
    /// optimizer's state slots are out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The epoch is negative.</exception>
    /// <exception cref="IOException">The file could not be written; a previous file at <paramref name="path"/> is unchanged.</exception>
    public void SaveCheckpoint(string path, IOptimizer optimizer, TrainingProgress progress)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ThrowIfInferenceOnly();
        var (tensors, metadata) = PrepareCheckpoint(optimizer, progress);
        AtomicFile.Write(path, stream => Safetensors.Write(stream, tensors, metadata));
    }

    /// <summary>Writes a checkpoint to <paramref name="stream"/> (not closed); see <see cref="SaveCheckpoint(string, IOptimizer, TrainingProgress)"/>.</summary>
    public void SaveCheckpoint(Stream stream, IOptimizer optimizer, TrainingProgress progress)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ThrowIfInferenceOnly();
        var (tensors, metadata) = PrepareCheckpoint(optimizer, progress);
        Safetensors.Write(stream, tensors, metadata);
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint(string, IOptimizer, TrainingProgress)"/> into this
    /// network and <paramref name="optimizer"/> (typically both freshly constructed, with the original's seed and
    /// hyperparameters): the weights, the optimizer state slots, <see cref="Steps"/>,
    /// <see cref="IOptimizer.LearningRate"/> and <see cref="IOptimizer.Iterations"/>. The optimizer becomes this
    /// network's current one, so the next <see cref="TrainStep(ReadOnlySpan{float}, ReadOnlySpan{int}, IOptimizer)"/> with it continues from the restored state. With
    /// the same data order (restore the shuffle generator from the returned
    /// <see cref="TrainingProgress.ShuffleState"/>) and thread count, training then continues bit-identically to an
    /// uninterrupted run. <see cref="Layer.Trainable"/> flags are not stored: set them as the original run did.
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="optimizer">An optimizer of the checkpoint's type and hyperparameters.</param>
    /// <returns>The stored epoch and shuffle state.</returns>
    /// <exception cref="InvalidDataException">The file is not a valid checkpoint, or is one of another network type,
    /// seed, optimizer type or optimizer configuration, or a tensor is missing, extra or of another shape. Nothing
    /// was changed.</exception>
    /// <exception cref="ArgumentException">The optimizer's state slots are out of range.</exception>
    public TrainingProgress LoadCheckpoint(string path, IOptimizer optimizer)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(optimizer);
        using var file = OpenRead(path);
        return LoadCheckpoint(file, optimizer, path);
    }

    /// <summary>Restores a checkpoint from a stream, read from its position to its end (not closed); see <see cref="LoadCheckpoint(string, IOptimizer)"/>.</summary>
    /// <param name="stream">The stream.</param>
    /// <param name="optimizer">An optimizer of the checkpoint's type and hyperparameters.</param>
    /// <param name="sourceName">What error messages call the stream.</param>
    public TrainingProgress LoadCheckpoint(Stream stream, IOptimizer optimizer, string? sourceName = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(optimizer);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ThrowIfInferenceOnly();
        int slots = CheckStateSlots(optimizer);
        var content = Safetensors.Read(stream, sourceName ?? "checkpoint stream");
        string source = content.Source;
        CheckVersion(content);
        if (!content.Metadata.TryGetValue(KeyKind, out string? kind) || kind != KindCheckpoint)
        {
            throw new InvalidDataException($"'{source}' is not a NetDsl checkpoint (metadata {KeyKind} is '{kind ?? "absent"}'): it holds no optimizer state. LoadWeights loads plain weights.");
        }

        string networkType = Required(content, KeyNetwork);
        if (networkType != NetworkTypeName)
        {
            throw new InvalidDataException($"'{source}' is a checkpoint of network type {networkType}, not of {NetworkTypeName}.");
        }

        int seed = (int)ParseInt64(content, KeySeed, int.MinValue, int.MaxValue);
        if (seed != Seed)
        {
            throw new InvalidDataException($"'{source}' was saved from a network with seed {seed}, but this one has seed {Seed}: its dropout masks would differ. Construct the network with seed {seed}.");
        }

        string optimizerType = Required(content, KeyOptimizer);
        if (optimizerType != OptimizerTypeName(optimizer))
        {
            throw new InvalidDataException($"'{source}' holds the state of a {optimizerType} optimizer, not of a {OptimizerTypeName(optimizer)}.");
        }

        string config = content.Metadata.GetValueOrDefault(KeyOptimizerConfig, "");
        if (config != OptimizerConfig(optimizer))
        {
            throw new InvalidDataException($"'{source}' was saved with optimizer settings '{config}', but the optimizer given has '{OptimizerConfig(optimizer)}'.");
        }

        long storedSlots = ParseInt64(content, KeyStateSlots, 0, ParameterSlice.MaxStateSlots);
        if (storedSlots != slots)
        {
            throw new InvalidDataException($"'{source}' holds {storedSlots} optimizer state slots per parameter, but the optimizer given uses {slots}.");
        }

        long steps = ParseInt64(content, KeySteps, 0, long.MaxValue);
        long iterations = ParseInt64(content, KeyIterations, 0, long.MaxValue);
        int epoch = (int)ParseInt64(content, KeyEpoch, 0, int.MaxValue);
        string rateText = Required(content, KeyLearningRate);
        if (!float.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out float learningRate) || !float.IsFinite(learningRate) || !(learningRate > 0f))
        {
            throw new InvalidDataException($"'{source}' has the learning rate '{Safetensors.Clip(rateText)}' (metadata {KeyLearningRate}), not a positive finite number.");
        }

        UInt128? shuffle = null;
        if (content.Metadata.TryGetValue(KeyShuffle, out string? shuffleText))
        {
            if (shuffleText.Length != 32 || !UInt128.TryParse(shuffleText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out UInt128 state) || state == UInt128.Zero)
            {
                throw new InvalidDataException($"'{source}' has the shuffle state '{Safetensors.Clip(shuffleText)}' (metadata {KeyShuffle}), not 32 hexadecimal digits of a valid generator state.");
            }

            shuffle = state;
        }

        var plan = Match(content, CheckpointTargets(slots), partial: false, ignorePrefix: null, out _, out _, "");

        CheckFinite(content, plan);

        // Everything is validated; only the learning rate setter (the optimizer's own range check) can still refuse.
        float previousRate = optimizer.LearningRate;
        try
        {
            optimizer.LearningRate = learningRate;
        }
        catch (ArgumentException e)
        {
            optimizer.LearningRate = previousRate;
            throw new InvalidDataException($"'{source}' has the learning rate {learningRate.ToString("R", CultureInfo.InvariantCulture)}, which the optimizer refuses: {e.Message}", e);
        }

        optimizer.Iterations = iterations;
        Arena.GetSpan(Layout.StateOffset, checked(ParameterSlice.MaxStateSlots * Layout.ParameterLength)).Clear();
        Apply(content, plan);
        Steps = steps;
        _optimizer = optimizer;
        return new TrainingProgress(epoch, shuffle);
    }

    /// <summary>A tensor of the network as files see it: name, shape and place in the arena.</summary>
    private readonly record struct TensorTarget(string Name, int[] Shape, long Offset, int Length);

    private string NetworkTypeName => GetType().FullName ?? GetType().Name;

    private static string OptimizerTypeName(IOptimizer optimizer) => optimizer.GetType().FullName ?? optimizer.GetType().Name;

    /// <summary>The hyperparameters that are fixed at construction, for the optimizers this library knows; "" otherwise.</summary>
    private static string OptimizerConfig(IOptimizer optimizer) => optimizer switch
    {
        Sgd sgd => string.Create(CultureInfo.InvariantCulture, $"momentum={sgd.Momentum:R}, nesterov={sgd.Nesterov}"),
        Adadelta adadelta => string.Create(CultureInfo.InvariantCulture, $"rho={adadelta.Rho:R}, epsilon={adadelta.Epsilon:R}"),
        _ => "",
    };

    private static FileStream OpenRead(string path) => new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);

    private static int CheckStateSlots(IOptimizer optimizer)
    {
        int slots = optimizer.StateSlots;
        if (slots is < 0 or > ParameterSlice.MaxStateSlots)
        {
            throw new ArgumentException($"The optimizer asks for {slots} state slots per parameter; at most {ParameterSlice.MaxStateSlots} are reserved.", nameof(optimizer));
        }

        return slots;
    }

    private List<TensorTarget> WeightTargets() =>
        [.. _layers.SelectMany(l => l.Tensors).Select(t => new TensorTarget(t.FullName, t.Shape.ToArray(), t.Offset, t.Length))];

    /// <summary>The weights, then for each state slot the state of every trainable tensor (same offset, shifted into the state block).</summary>
    private List<TensorTarget> CheckpointTargets(int slots)
    {
        var targets = WeightTargets();
        var trainable = _layers.SelectMany(l => l.Tensors).Where(t => t.Trainable).ToList();
        for (int slot = 0; slot < slots; slot++)
        {
            long shift = Layout.StateOffset + (long)slot * Layout.ParameterLength;
            foreach (var tensor in trainable)
            {
                targets.Add(new TensorTarget($"{StatePrefix}{slot}/{tensor.FullName}", tensor.Shape.ToArray(), tensor.Offset + shift, tensor.Length));
            }
        }

        return targets;
    }

    private Dictionary<string, string> Metadata(string kind) => new(StringComparer.Ordinal)
    {
        [KeyVersion] = FormatVersion,
        [KeyKind] = kind,
        [KeyNetwork] = NetworkTypeName,
        [KeyLayout] = "keras: Dense kernel [inputs, units], Conv2D kernel [kh, kw, in, filters], Flatten order (h, w, c)",
    };

    private (List<TensorToWrite> Tensors, Dictionary<string, string> Metadata) PrepareCheckpoint(IOptimizer optimizer, TrainingProgress progress)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(progress.Epoch, nameof(progress));
        int slots = CheckStateSlots(optimizer);
        if (_optimizer is not null && !ReferenceEquals(_optimizer, optimizer))
        {
            throw new ArgumentException(
                "This network's optimizer state belongs to another optimizer instance (the last one passed to TrainStep or LoadCheckpoint); save with that one.", nameof(optimizer));
        }

        if (progress.ShuffleState == UInt128.Zero)
        {
            throw new ArgumentException("The shuffle state 0 is not a valid generator state.", nameof(progress));
        }

        var tensors = CheckpointTargets(slots).Select(t => new TensorToWrite(t.Name, t.Shape, () => Arena.GetSpan(t.Offset, t.Length))).ToList();
        var metadata = Metadata(KindCheckpoint);
        var invariant = CultureInfo.InvariantCulture;
        metadata[KeySeed] = Seed.ToString(invariant);
        metadata[KeySteps] = Steps.ToString(invariant);
        metadata[KeyEpoch] = progress.Epoch.ToString(invariant);
        metadata[KeyOptimizer] = OptimizerTypeName(optimizer);
        metadata[KeyOptimizerConfig] = OptimizerConfig(optimizer);
        metadata[KeyStateSlots] = slots.ToString(invariant);
        metadata[KeyLearningRate] = optimizer.LearningRate.ToString("R", invariant);
        metadata[KeyIterations] = optimizer.Iterations.ToString(invariant);
        if (progress.ShuffleState is UInt128 shuffle)
        {
            metadata[KeyShuffle] = shuffle.ToString("x32", invariant);
        }

        return (tensors, metadata);
    }

    private static void CheckVersion(SafetensorsContent content)
    {
        if (content.Metadata.TryGetValue(KeyVersion, out string? version) && version != FormatVersion)
        {
            throw new InvalidDataException($"'{content.Source}' has NetDsl format version '{Safetensors.Clip(version)}'; this library reads version {FormatVersion}.");
        }
    }

    private static string Required(SafetensorsContent content, string key) =>
        content.Metadata.TryGetValue(key, out string? value)
            ? value
            : throw new InvalidDataException($"'{content.Source}' is an incomplete checkpoint: its metadata lacks '{key}'.");

    private static long ParseInt64(SafetensorsContent content, string key, long min, long max)
    {
        string text = Required(content, key);
        if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            throw new InvalidDataException($"'{content.Source}' has '{Safetensors.Clip(text)}' for {key}, not an integer.");
        }

        if (value < min || value > max)
        {
            throw new InvalidDataException($"'{content.Source}' has {value} for {key}, outside [{min}, {max}].");
        }

        return value;
    }

    /// <summary>
    /// Pairs the file's tensors with <paramref name="targets"/> by name, checking shapes and dtypes; collects what
    /// cannot be loaded and, unless <paramref name="partial"/>, throws listing it. Tensors under
    /// <paramref name="ignorePrefix"/> in the file are neither loaded nor reported.
    /// </summary>
    private List<(SafetensorsTensor Source, TensorTarget Target)> Match(SafetensorsContent content, List<TensorTarget> targets, bool partial, string? ignorePrefix,
        out List<string> loaded, out List<SkippedTensor> skipped, string hint)
    {
        var plan = new List<(SafetensorsTensor, TensorTarget)>(targets.Count);
        loaded = [];
        skipped = [];
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var target in targets)
        {
            names.Add(target.Name);
            string shape = Safetensors.FormatShape(target.Shape);
            if (!content.ByName.TryGetValue(target.Name, out var tensor))
            {
                skipped.Add(new(target.Name, WeightSkipReason.NotInFile, $"tensor '{target.Name}' (shape {shape}) is missing from the file"));
            }
            else if (!tensor.HasShape(target.Shape))
            {
                skipped.Add(new(target.Name, WeightSkipReason.ShapeMismatch,
                    $"tensor '{target.Name}' has shape {Safetensors.Clip(tensor.ShapeText)} in the file but {shape} in the network"));
            }
            else if (tensor.DType != Safetensors.F32)
            {
                skipped.Add(new(target.Name, WeightSkipReason.DTypeMismatch, $"tensor '{target.Name}' is {tensor.DType} in the file; only F32 tensors can be loaded"));
            }
            else
            {
                plan.Add((tensor, target));
                loaded.Add(target.Name);
            }
        }

        foreach (var tensor in content.Tensors)
        {
            if (!names.Contains(tensor.Name) && !(ignorePrefix is not null && tensor.Name.StartsWith(ignorePrefix, StringComparison.Ordinal)))
            {
                skipped.Add(new(tensor.Name, WeightSkipReason.NotInNetwork,
                    $"tensor '{Safetensors.Clip(tensor.Name)}' (shape {Safetensors.Clip(tensor.ShapeText)}) in the file matches no tensor of the network"));
            }
        }

        if (!partial && skipped.Count > 0)
        {
            string more = skipped.Count > MaxListedProblems ? $"; and {skipped.Count - MaxListedProblems} more" : "";
            throw new InvalidDataException(
                $"'{content.Source}' does not match {GetType().Name} ({skipped.Count} problem{(skipped.Count == 1 ? "" : "s")}): " +
                $"{string.Join("; ", skipped.Take(MaxListedProblems).Select(s => s.Message))}{more}. Nothing was loaded{hint}.");
        }

        return plan;
    }

    /// <summary>
    /// Copies the planned tensors into the arena, after checking every value: a NaN or infinity anywhere is an
    /// <see cref="InvalidDataException"/> naming the tensor, the index and the value, and nothing is copied (training on
    /// such weights would only make every step's update be skipped).
    /// </summary>
    private void Apply(SafetensorsContent content, List<(SafetensorsTensor Source, TensorTarget Target)> plan)
    {
        CheckFinite(content, plan);
        foreach (var (source, target) in plan)
        {
            content.CopyTo(source, Arena.GetSpan(target.Offset, target.Length));
        }
    }

    /// <summary>Throws <see cref="InvalidDataException"/> naming the first NaN or infinity of the planned tensors.</summary>
    private static void CheckFinite(SafetensorsContent content, List<(SafetensorsTensor Source, TensorTarget Target)> plan)
    {
        foreach (var (source, target) in plan)
        {
            long index = content.FirstNonFinite(source, out float value);
            if (index >= 0)
            {
                throw new InvalidDataException(FormattableString.Invariant(
                    $"'{content.Source}': tensor '{target.Name}' (shape {Safetensors.FormatShape(target.Shape)}) holds {value} at flat index {index}; weights must be finite. Nothing was loaded."));
            }
        }
    }
}

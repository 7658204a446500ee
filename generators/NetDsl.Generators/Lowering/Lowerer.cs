using System;
using System.Collections.Generic;
using System.Linq;
using NetDsl.Generators.Diagnostics;
using NetDsl.Generators.Model;
using NetDsl.Generators.Shapes;

namespace NetDsl.Generators.Lowering;

/// <summary>
/// Stage 3: turns a shaped network into an <see cref="ExecutionPlan"/>: decides fusion (bias + activation into
/// the forward GEMM epilogue, activation derivative into the input-gradient GEMM epilogue, softmax into the
/// cross-entropy loss), lays out the arena (64-byte aligned tensors, gradient buffers shared between layers
/// whose lifetimes do not overlap) and orders the kernels into phases.
/// </summary>
public static class Lowerer
{
    private const int AlignFloats = 16;

    /// <summary>Optimizer state slots reserved per parameter (NetDsl.Optimizers.ParameterSlice.MaxStateSlots).</summary>
    public const int OptimizerStateSlots = 2;

    /// <summary>Lowers a checked network; <paramref name="network"/> is null when shape inference rejected it.</summary>
    public static LoweringResult Run(ShapedNetwork? network)
    {
        if (network is null)
        {
            return new LoweringResult(null, EquatableArray<DiagnosticInfo>.Empty);
        }

        try
        {
            return new LoweringResult(Lower(network), EquatableArray<DiagnosticInfo>.Empty);
        }
        catch (Exception e)
        {
            return new LoweringResult(null, new[]
            {
                DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, null, network.Spec.ClassName, e.GetType().Name + ": " + e.Message),
            }.ToEquatableArray());
        }
    }

    /// <summary>Floats a buffer takes: rounded up to 64 bytes plus one vector of read slack (matches NetDsl.Arena.Padded).</summary>
    public static long Padded(long floats) => (floats + AlignFloats - 1) / AlignFloats * AlignFloats + AlignFloats;

    private static ExecutionPlan Lower(ShapedNetwork network)
    {
        var layers = network.Layers;
        int last = layers.Count - 1;
        var buffers = new List<BufferPlan>();
        // Every loss takes the head's pre-activations (logits) and applies the head's activation itself, fused with the
        // loss and its gradient; Predict applies the activation alone.
        bool classifier = network.Loss is LossKind.SparseCategoricalCrossEntropy or LossKind.CategoricalCrossEntropy or LossKind.BinaryCrossEntropy;
        string outputs = classifier ? Probabilities : Outputs;
        // The activation the loss applies: cross-entropies always see probabilities (a Linear head gives logits).
        var headActivation = network.Loss switch
        {
            LossKind.SparseCategoricalCrossEntropy or LossKind.CategoricalCrossEntropy => ActivationKind.Softmax,
            LossKind.BinaryCrossEntropy => ActivationKind.Sigmoid,
            _ => layers[last].Activation,
        };
        string headName = headActivation is ActivationKind.Softmax or ActivationKind.Sigmoid or ActivationKind.Tanh
            ? headActivation.ToString().ToLowerInvariant() : headActivation.ToString();

        // The layer producing the logits: the last layer, or the one before a final Activation layer, whose
        // softmax the loss fuses.
        bool headIsActivation = layers[last].Kind == LayerKind.Activation && layers[last].Producer >= 0;
        int logitsLayer = headIsActivation ? layers[last].Producer : last;

        // The graph: who reads each layer's output. A chain's layer reads the one before it.
        var consumers = Enumerable.Range(0, layers.Count).Select(_ => new List<int>()).ToArray();
        foreach (var layer in layers)
        {
            foreach (int p in layer.InputLayers.Where(p => p >= 0))
            {
                consumers[p].Add(layer.Index);
            }
        }

        string InputNames(ShapedLayer layer) => string.Join(", ", layer.InputLayers.Select(p => p < 0 ? "the input" : layers[p].Name));

        // The only consumer of layer l's output, or -1 (none, or several).
        int Single(int l) => consumers[l].Count == 1 ? consumers[l][0] : -1;

        // ---- Parameters: per layer, each tensor aligned; gradients mirror them. ----
        long at = 0;
        foreach (var layer in layers)
        {
            switch (layer.Kind)
            {
                case LayerKind.Dense:
                case LayerKind.Conv2D:
                {
                    long weights = layer.Kind == LayerKind.Dense ? (long)layer.InputSize * layer.OutputSize : layer.ParameterCount - (layer.Spec.UseBias ? layer.Window!.OutC : 0);
                    int units = layer.Kind == LayerKind.Dense ? layer.OutputSize : layer.Window!.OutC;
                    string shape = layer.Kind == LayerKind.Dense ? $"[{layer.InputSize} x {units}]" : $"[{layer.Window!.KH} x {layer.Window.KW} x {layer.Window.InC} x {units}]";
                    buffers.Add(new BufferPlan(W(layer), Region.Parameters, at, weights, shape, $"{layer.Name} weights"));
                    buffers.Add(new BufferPlan(DW(layer), Region.Gradients, at, weights, shape, $"{layer.Name} weight gradients"));
                    at += Padded(weights);
                    if (layer.Spec.UseBias)
                    {
                        buffers.Add(new BufferPlan(B(layer), Region.Parameters, at, units, $"[{units}]", $"{layer.Name} bias"));
                        buffers.Add(new BufferPlan(DB(layer), Region.Gradients, at, units, $"[{units}]", $"{layer.Name} bias gradients"));
                        at += Padded(units);
                    }

                    break;
                }

                case LayerKind.BatchNorm:
                {
                    int channels = Channels(layer);
                    string shape = $"[{channels}]";
                    buffers.Add(new BufferPlan(Naming.Gamma(layer.Name), Region.Parameters, at, channels, shape, $"{layer.Name} scale (gamma)"));
                    buffers.Add(new BufferPlan(Naming.DGamma(layer.Name), Region.Gradients, at, channels, shape, $"{layer.Name} scale gradients"));
                    at += Padded(channels);
                    buffers.Add(new BufferPlan(Naming.Beta(layer.Name), Region.Parameters, at, channels, shape, $"{layer.Name} shift (beta)"));
                    buffers.Add(new BufferPlan(Naming.DBeta(layer.Name), Region.Gradients, at, channels, shape, $"{layer.Name} shift gradients"));
                    at += Padded(channels);
                    // Moving statistics sit after the trainable block: saved with the weights, never touched by optimizers.
                    buffers.Add(new BufferPlan(Naming.MovingMean(layer.Name), Region.Parameters, at, channels, shape, $"{layer.Name} moving mean (not trainable)"));
                    at += Padded(channels);
                    buffers.Add(new BufferPlan(Naming.MovingVariance(layer.Name), Region.Parameters, at, channels, shape, $"{layer.Name} moving variance (not trainable)"));
                    at += Padded(channels);
                    break;
                }
            }
        }

        long parameterLength = at;

        // ---- Scratch (batch-independent). Backend re-layouts of the weights are not part of the plan: a backend whose
        // kernels want them adds them (the CPU emitter's CpuPlan). ----
        long scratch = 0;
        foreach (var layer in layers.Where(l => l.Kind == LayerKind.BatchNorm))
        {
            int channels = Channels(layer);
            buffers.Add(new BufferPlan(Naming.SavedMean(layer.Name), Region.Scratch, scratch, channels, $"[{channels}]", $"{layer.Name} batch mean, for the backward pass"));
            scratch += Padded(channels);
            buffers.Add(new BufferPlan(Naming.SavedInvStd(layer.Name), Region.Scratch, scratch, channels, $"[{channels}]", $"{layer.Name} batch 1/sqrt(var + eps), for the backward pass"));
            scratch += Padded(channels);
        }

        // ---- Activations (per sample; placed in order for the batch size at construction). ----
        buffers.Add(new BufferPlan(Input, Region.Activations, 0, network.InputSize, $"[rows x {Describe(network.Spec.InputShape)}]", "staged input batch (channels last)"));
        var output = new string[layers.Count];
        string In(int l) => layers[l].Producer < 0 ? Input : output[layers[l].Producer];
        for (int l = 0; l <= last; l++)
        {
            var layer = layers[l];
            string below = In(l);
            if (layer.Kind == LayerKind.Flatten)
            {
                output[l] = below; // a view: channels-last images are already flat in memory
            }
            else if (l == logitsLayer)
            {
                buffers.Add(new BufferPlan(Logits, Region.Activations, 0, layer.OutputSize, $"[rows x {layer.OutputSize}]", headActivation == ActivationKind.Linear ? $"{layer.Name} outputs (a Linear head)" : $"{layer.Name} logits (before the {headName})",
                    InferenceAlias: layer.Kind == LayerKind.Dropout ? below : null));
                output[l] = Logits;
            }
            else if (l == last)
            {
                output[l] = outputs; // the fused head
            }
            else
            {
                buffers.Add(new BufferPlan(Out(layer), Region.Activations, 0, layer.OutputSize, $"[rows x {Describe(layer.OutputShape)}]",
                    $"{layer.Name} output{(layer.Kind is LayerKind.Dense or LayerKind.Conv2D or LayerKind.Add ? ", after " + layer.Activation : "")}",
                    InferenceAlias: layer.Kind == LayerKind.Dropout ? below : null));
                output[l] = Out(layer);
            }
        }

        buffers.Add(new BufferPlan(outputs, Region.Activations, 0, layers[last].OutputSize, $"[rows x {layers[last].OutputSize}]",
            classifier ? "class probabilities (the network output)" : $"{headActivation} outputs (the network output)"));

        int widest = layers.Max(l => l.OutputSize);
        int gradientBuffersAt = buffers.Count; // the gradient buffers go here once the backward pass knows how many it needs

        ActivationKind Act(int l) => layers[l].Kind is LayerKind.Dense or LayerKind.Conv2D or LayerKind.Activation or LayerKind.Add ? layers[l].Activation : ActivationKind.Linear;

        // Dropout fusion. Forward: the producer (Flatten looked through) writes the masked copy as it stores its output,
        // when it is a pooling layer or a dense layer with an element-wise activation. Backward: the consumer's
        // input-gradient GEMM masks the gradient as it stores it, when the consumer is a dense layer. Other neighbours
        // keep the dropout's own pass.
        int ProducerOf(int l)
        {
            int p = layers[l].Producer;
            while (p >= 0 && layers[p].Kind == LayerKind.Flatten)
            {
                p = layers[p].Producer;
            }

            return p;
        }

        // The only consumer of layer l's output, Flatten looked through, or -1.
        int DirectConsumerOf(int l)
        {
            int c = Single(l);
            while (c >= 0 && layers[c].Kind == LayerKind.Flatten)
            {
                c = Single(c);
            }

            return c;
        }

        bool DropoutFusedForward(int l)
        {
            if (layers[l].Kind != LayerKind.Dropout || l == last || l == logitsLayer || ProducerOf(l) < 0)
            {
                return false;
            }

            var producer = layers[ProducerOf(l)];
            return producer.Kind is LayerKind.MaxPool2D or LayerKind.AvgPool2D or LayerKind.GlobalAveragePooling2D
                || (producer.Kind == LayerKind.Dense && producer.Activation != ActivationKind.Softmax && producer.Index != logitsLayer);
        }

        bool DropoutFusedBackward(int l) => layers[l].Kind == LayerKind.Dropout && layers[l].Producer >= 0 && DirectConsumerOf(l) >= 0
            && layers[DirectConsumerOf(l)].Kind == LayerKind.Dense;

        // The dropout (if any) fused into layer l's forward store.
        DropoutFusion? ForwardMaskOf(int l)
        {
            int d = DirectConsumerOf(l);
            return d >= 0 && DropoutFusedForward(d) && ProducerOf(d) == l ? new DropoutFusion(d, Out(layers[d])) : null;
        }

        // The layer whose gradient consumes layer l's output (its only reader): Flatten and dropouts fused into their
        // consumer are looked through; -1 when several layers read it.
        int ConsumerOf(int l)
        {
            int c = Single(l);
            while (c >= 0 && (layers[c].Kind == LayerKind.Flatten || DropoutFusedBackward(c)))
            {
                c = Single(c);
            }

            return c;
        }

        // Kernels that can apply the producer's activation derivative as they write the gradient: the input-gradient
        // GEMM/convolution epilogues, and max-pooling (the routed gradient meets the window maximum, whose value is the
        // producer's output there). Flatten is looked through; max-pooling must consume the producer directly.
        bool HasInputGradientKernel(int c) => c >= 0 && layers[c].Kind is LayerKind.Dense or LayerKind.Conv2D or LayerKind.MaxPool2D;

        // The consumer's input-gradient epilogue applies layer l's activation derivative when it can (element-wise
        // activations only); otherwise layer l applies it itself in a phase of its own.
        bool FusedByConsumer(int l) => Act(l) is not (ActivationKind.Linear or ActivationKind.Softmax) && HasInputGradientKernel(ConsumerOf(l))
            && !(layers[ConsumerOf(l)].Kind == LayerKind.MaxPool2D && layers[ConsumerOf(l)].Producer != l);

        // ---- Forward. ----
        var forward = new List<Phase>();
        var forwardPhaseOf = new Phase?[layers.Count];
        for (int l = 0; l <= last; l++)
        {
            var layer = layers[l];
            string x = In(l);
            string y = output[l];
            var ops = new List<KernelOp>();
            bool softmaxSeparately = layer.Activation == ActivationKind.Softmax && l != logitsLayer;
            var fused = l == logitsLayer || softmaxSeparately ? ActivationKind.Linear : layer.Activation;
            string describe = $"{layer.Name}: {layer.Kind} {Describe(layer.InputShape)} -> {Describe(layer.OutputShape)}";
            switch (layer.Kind)
            {
                case LayerKind.Dense:
                    ops.Add(new KernelOp(OpKind.MatMul,
                        $"{y}[rows x {layer.OutputSize}] = {fused}({x}[rows x {layer.InputSize}] · {W(layer)}[{layer.InputSize} x {layer.OutputSize}]{(layer.Spec.UseBias ? " + " + B(layer) : "")})",
                        l, Guard.Always, x, W(layer), y, Dim.Batch, layer.OutputSize, Dim.Of(layer.InputSize), false,
                        layer.Spec.UseBias ? EpilogueKind.BiasActivation : EpilogueKind.Activation, fused, layer.Spec.UseBias ? B(layer) : null, null,
                        Dropout: ForwardMaskOf(l)));
                    if (softmaxSeparately)
                    {
                        ops.Add(new KernelOp(OpKind.Softmax, $"{y} = softmax({y}) row-wise", l, Guard.Always,
                            y, null, y, Dim.Batch, layer.OutputSize, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Softmax, null, null));
                    }

                    describe += $", {layer.Activation}";
                    if (ForwardMaskOf(l) is { } denseMask)
                    {
                        describe += $", {layers[denseMask.Layer].Name} fused";
                    }

                    break;
                case LayerKind.Conv2D:
                    ops.Add(new KernelOp(OpKind.ConvForward,
                        $"{y} = {fused}(conv{layer.Window!.KH}x{layer.Window.KW}({x}, {W(layer)}){(layer.Spec.UseBias ? " + " + B(layer) : "")})",
                        l, Guard.Always, x, W(layer), y, Dim.Batch, layer.Window.OutC, Dim.Of(0), false,
                        layer.Spec.UseBias ? EpilogueKind.BiasActivation : EpilogueKind.Activation, fused, layer.Spec.UseBias ? B(layer) : null, null));
                    describe += $", {layer.Activation}";
                    break;
                case LayerKind.MaxPool2D:
                case LayerKind.AvgPool2D:
                case LayerKind.GlobalAveragePooling2D:
                case LayerKind.ZeroPadding2D:
                    ops.Add(new KernelOp(OpKind.PoolForward, $"{y} = {(layer.Kind == LayerKind.MaxPool2D ? "max" : "average")} over {layer.Window!.KH}x{layer.Window.KW} windows of {x}",
                        l, Guard.Always, x, null, y, Dim.Batch, 0, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null,
                        Dropout: ForwardMaskOf(l)));
                    if (ForwardMaskOf(l) is { } poolMask)
                    {
                        describe += $", {layers[poolMask.Layer].Name} fused";
                    }

                    break;
                case LayerKind.Dropout:
                    if (DropoutFusedForward(l))
                    {
                        continue; // its producer writes the masked copy
                    }

                    ops.Add(new KernelOp(OpKind.DropoutForward, $"{y} = dropout({x}, rate {Rate(layer)}) (training only; in inference {y} is {x})",
                        l, Guard.Always, x, null, y, Dim.PerSample(layer.OutputSize), 0, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null));
                    break;
                case LayerKind.BatchNorm:
                    ops.Add(new KernelOp(OpKind.BatchNormForward, $"{y} = batchnorm({x}) over {Channels(layer)} channels (batch statistics in training, moving statistics otherwise)",
                        l, Guard.Always, x, null, y, Dim.PerSample(layer.OutputSize / Channels(layer)), Channels(layer), Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null,
                        BatchNormOperands(layer)));
                    break;
                case LayerKind.Activation:
                    if (l == last)
                    {
                        continue; // the loss (training) and the inference tail apply it
                    }

                    ops.Add(layer.Activation == ActivationKind.Softmax
                        ? new KernelOp(OpKind.Softmax, $"{y} = softmax({x}) row-wise", l, Guard.Always, x, null, y, Dim.Batch, layer.OutputSize, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Softmax, null, null)
                        : new KernelOp(OpKind.ActivationForward, $"{y} = {layer.Activation}({x})", l, Guard.Always, x, null, y, Dim.PerSample(layer.OutputSize), 0, Dim.Of(0), false, EpilogueKind.None, layer.Activation, null, null));
                    describe += $", {layer.Activation}";
                    break;
                case LayerKind.Add:
                {
                    var inputs = layer.InputLayers.Select(p => p < 0 ? Input : output[p]).ToEquatableArray();
                    ops.Add(new KernelOp(OpKind.AddForward, $"{y} = {fused}({string.Join(" + ", inputs)})", l, Guard.Always, inputs[0], null, y,
                        Dim.PerSample(layer.OutputSize), 0, Dim.Of(0), false, EpilogueKind.None, fused, null, null, inputs));
                    if (softmaxSeparately)
                    {
                        ops.Add(new KernelOp(OpKind.Softmax, $"{y} = softmax({y}) row-wise", l, Guard.Always,
                            y, null, y, Dim.Batch, layer.OutputSize, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Softmax, null, null));
                    }

                    describe += $" of {InputNames(layer)}, {layer.Activation}";
                    break;
                }

                case LayerKind.Concat:
                {
                    var inputs = layer.InputLayers.Select(p => p < 0 ? Input : output[p]).ToEquatableArray();
                    ops.Add(new KernelOp(OpKind.ConcatForward, $"{y} = {string.Join(" | ", inputs)} side by side along the {(layer.IsImage ? "channels" : "features")}", l, Guard.Always,
                        inputs[0], null, y, Dim.PerSample(Pixels(layer)), layer.OutputShape[0], Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null, inputs));
                    describe += $" of {InputNames(layer)}";
                    break;
                }

                case LayerKind.LocalResponseNormalization:
                    ops.Add(new KernelOp(OpKind.LrnForward, $"{y} = local response normalisation of {x} over {layer.Spec.Units} channels", l, Guard.Always,
                        x, null, y, Dim.PerSample(Pixels(layer)), layer.OutputShape[0], Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null));
                    break;
                case LayerKind.Flatten:
                    continue; // no work: a view of its input
            }

            forward.Add(forwardPhaseOf[l] = new Phase(Naming.ForwardJob(layer.Name), describe, ops.ToEquatableArray()));
        }

        var inferenceForward = InferenceForward(network, forwardPhaseOf, output, buffers, Single, l => ForwardMaskOf(l) is not null, logitsLayer);

        var head = layers[logitsLayer];
        string logits = output[logitsLayer]; // "Logits", or the buffer a Flatten views
        var inferenceTail = new List<Phase>();
        inferenceTail.Add(headActivation == ActivationKind.Softmax
            ? new Phase("Predict_Softmax", "class probabilities for Predict", new[]
            {
                new KernelOp(OpKind.Softmax, $"{outputs} = softmax({logits}) row-wise", last, Guard.Always,
                    logits, null, outputs, Dim.Batch, head.OutputSize, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Softmax, null, null),
            }.ToEquatableArray())
            : new Phase($"Predict_{headActivation}", $"{(classifier ? "probabilities" : "outputs")} for Predict", new[]
            {
                new KernelOp(OpKind.OutputActivation, $"{outputs} = {headActivation}({logits})", last, Guard.Always,
                    logits, null, outputs, Dim.Batch, head.OutputSize, Dim.Of(0), false, EpilogueKind.None, headActivation, null, null),
            }.ToEquatableArray()));

        // ---- Loss (fused softmax + cross-entropy), plus the weight re-layouts the backward pass needs. ----
        var lossOps = new List<KernelOp>
        {
            new(OpKind.Loss,
                network.Loss == LossKind.SparseCategoricalCrossEntropy
                    ? $"{outputs} = softmax({logits}); loss += -log p[label]; {GradSlot(0)} = (p - onehot(label)) / rows"
                    : $"{outputs} = {headActivation}({logits}); loss += {network.Loss}({outputs}, targets); {GradSlot(0)} = d loss / d {logits} / rows",
                logitsLayer, Guard.Always, logits, outputs, GradSlot(0), Dim.Batch, head.OutputSize, Dim.Of(0), false,
                EpilogueKind.None, headActivation, null, null),
        };

        string lossComment = headActivation == ActivationKind.Linear ? $"{network.Loss} on the raw outputs" : $"{network.Loss}, fused with the {headName}";
        var lossPhases = new[] { new Phase("Loss", lossComment, lossOps.ToEquatableArray()) };

        // ---- Backward, top down, over the graph. Each layer's output gradient sits in one of a pool of gradient buffers
        // (rows x widest): the loss writes the first; a layer's input-gradient kernel writes a free one for the layer it
        // reads (Flatten and backward-fused dropouts looked through), which then owns it. A layer read by several layers
        // gets one contribution per reader: the first is kept, the next ones are added to it (GradientAdd, in a phase of
        // their own). An Add passes its output gradient to each input unchanged, so several layers can hold one buffer at
        // once; a kernel that would change such a shared buffer in place writes a free one instead. In a chain this is two
        // buffers, used alternately. ----
        var pool = new GradientPool();
        var pending = new string?[layers.Count];
        var backward = new List<Phase>();
        var releases = new List<string>();

        // Routes a gradient contribution for layer t's output (Flatten looked through) into its pending gradient.
        void Contribute(int t, string buffer, string from, List<KernelOp> accumulate)
        {
            while (t >= 0 && layers[t].Kind == LayerKind.Flatten)
            {
                t = layers[t].Producer;
            }

            if (t < 0)
            {
                releases.Add(buffer); // the network's input needs no gradient
                return;
            }

            if (pending[t] is not { } held)
            {
                pending[t] = buffer;
                return;
            }

            string sum = pool.IsShared(held) ? pool.Take() : held;
            accumulate.Add(new KernelOp(OpKind.GradientAdd, $"{sum} = {held} + {buffer}: {layers[t].Name}'s gradient plus what {from} passes back",
                t, Guard.GradientNeeded, held, buffer, sum, Dim.PerSample(layers[t].OutputSize), 0, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null));
            releases.Add(buffer);
            if (sum != held)
            {
                releases.Add(held);
            }

            pending[t] = sum;
        }

        pending[logitsLayer] = pool.Take(); // the loss writes d loss / d logits
        for (int l = last; l >= 0; l--)
        {
            var layer = layers[l];
            if ((headIsActivation && l == last) || layer.Kind == LayerKind.Flatten || pending[l] is not { } g)
            {
                continue; // the loss applied the head's activation; Flatten is a view; nothing reads this layer's gradient
            }

            string x = In(l);
            bool lossGivesPreActivation = l == logitsLayer;
            bool readsOnlyInput = layer.InputLayers.All(p => p < 0);
            var accumulate = new List<KernelOp>();

            // A buffer this layer may change in place: its gradient, unless other layers still hold it too.
            string Writable(string buffer)
            {
                if (!pool.IsShared(buffer))
                {
                    return buffer;
                }

                string fresh = pool.Take();
                releases.Add(buffer);
                return fresh;
            }

            // The activation derivative, when neither the loss nor the consumer applied it.
            // (A parameter-free layer reading only the network's input never needs a gradient at all.)
            bool needsDerivative = !lossGivesPreActivation && !FusedByConsumer(l) && Act(l) != ActivationKind.Linear
                && !(readsOnlyInput && layer.ParameterCount == 0);
            if (needsDerivative)
            {
                string d = Writable(g);
                var op = Act(l) == ActivationKind.Softmax
                    ? new KernelOp(OpKind.SoftmaxBackward, $"{d} = gradient through the softmax of {layer.Name}{From(g, d)}", l, Guard.GradientNeeded,
                        g, null, d, Dim.Batch, layer.OutputSize, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Softmax, null, output[l])
                    : new KernelOp(OpKind.ActivationBackward, $"{d} = {g} * {Act(l)}'({output[l]})", l, Guard.GradientNeeded,
                        g, null, d, Dim.PerSample(layer.OutputSize), 0, Dim.Of(0), false, EpilogueKind.None, Act(l), null, output[l]);
                backward.Add(new Phase(Naming.DerivativeJob(layer.Name), $"{layer.Name}: gradient through its {Act(l)}", new[] { op }.ToEquatableArray()));
                g = d;
                pending[l] = d;
            }

            var ops = new List<KernelOp>();
            // The epilogue of an input-gradient kernel: apply the derivative of the layer below when that layer cannot.
            int belowIndex = layer.Producer;
            DropoutFusion? gradientMask = null;
            while (belowIndex >= 0 && (layers[belowIndex].Kind == LayerKind.Flatten || (DropoutFusedBackward(belowIndex) && DirectConsumerOf(belowIndex) == l)))
            {
                if (layers[belowIndex].Kind == LayerKind.Dropout)
                {
                    gradientMask = new DropoutFusion(belowIndex, null);
                }

                belowIndex = layers[belowIndex].Producer;
            }

            bool fuseBelow = belowIndex >= 0 && FusedByConsumer(belowIndex) && ConsumerOf(belowIndex) == l;
            var belowAct = fuseBelow ? Act(belowIndex) : ActivationKind.Linear;
            string? belowOut = fuseBelow ? output[belowIndex] : null;
            bool hasBelow = layer.Producer >= 0;
            string comment;
            switch (layer.Kind)
            {
                case LayerKind.Dense:
                    ops.Add(new KernelOp(OpKind.MatMul, $"{DW(layer)}[{layer.InputSize} x {layer.OutputSize}] = {x}^T · {g}[rows x {layer.OutputSize}]",
                        l, Guard.LayerTrainable, x, g, DW(layer), Dim.Of(layer.InputSize), layer.OutputSize, Dim.Batch, true,
                        EpilogueKind.None, ActivationKind.Linear, null, null));
                    if (layer.Spec.UseBias)
                    {
                        ops.Add(new KernelOp(OpKind.ColumnSum, $"{DB(layer)}[{layer.OutputSize}] = column sums of {g}", l, Guard.LayerTrainable,
                            g, null, DB(layer), Dim.Batch, layer.OutputSize, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null));
                    }

                    if (hasBelow)
                    {
                        string other = pool.Take();
                        string product = fuseBelow ? $"({g} · {W(layer)}^T) * {belowAct}'({belowOut})" : $"{g} · {W(layer)}^T";
                        if (gradientMask is not null)
                        {
                            product = $"{product} masked like {layers[gradientMask.Layer].Name}";
                        }

                        ops.Add(new KernelOp(OpKind.MatMul, $"{other}[rows x {layer.InputSize}] = {product}",
                            l, Guard.InputGradientNeeded, g, W(layer), other, Dim.Batch, layer.InputSize, Dim.Of(layer.OutputSize), false,
                            fuseBelow ? EpilogueKind.ActivationGradient : EpilogueKind.None, belowAct, null, belowOut, Dropout: gradientMask, TransposeB: true));
                        Contribute(belowIndex, other, layer.Name, accumulate);
                    }

                    comment = hasBelow ? $"{layer.Name}: weight, bias and input gradients" : $"{layer.Name}: weight and bias gradients (nothing below needs an input gradient)";
                    releases.Add(g); // its kernels read it; what they wrote goes on
                    break;
                case LayerKind.Conv2D:
                {
                    int pixels = layer.Window!.OutH * layer.Window.OutW;
                    ops.Add(new KernelOp(OpKind.ConvWeightGradient, $"{DW(layer)} = weight gradient of {layer.Name} from {x} and {g}",
                        l, Guard.LayerTrainable, x, g, DW(layer), Dim.Batch, layer.Window.OutC, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null));
                    if (layer.Spec.UseBias)
                    {
                        ops.Add(new KernelOp(OpKind.ColumnSum, $"{DB(layer)}[{layer.Window.OutC}] = sums of {g} over samples and pixels", l, Guard.LayerTrainable,
                            g, null, DB(layer), Dim.PerSample(pixels), layer.Window.OutC, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null));
                    }

                    if (hasBelow)
                    {
                        string other = pool.Take();
                        ops.Add(new KernelOp(OpKind.ConvInputGradient,
                            fuseBelow ? $"{other} = (input gradient of {layer.Name} from {g}) * {belowAct}'({belowOut})" : $"{other} = input gradient of {layer.Name} from {g}",
                            l, Guard.InputGradientNeeded, g, W(layer), other, Dim.Batch, 0, Dim.Of(0), false,
                            fuseBelow ? EpilogueKind.ActivationGradient : EpilogueKind.None, belowAct, null, belowOut));
                        Contribute(belowIndex, other, layer.Name, accumulate);
                    }

                    comment = hasBelow ? $"{layer.Name}: weight, bias and input gradients" : $"{layer.Name}: weight and bias gradients (nothing below needs an input gradient)";
                    releases.Add(g);
                    break;
                }

                case LayerKind.MaxPool2D:
                case LayerKind.AvgPool2D:
                case LayerKind.GlobalAveragePooling2D:
                case LayerKind.ZeroPadding2D:
                {
                    if (!hasBelow)
                    {
                        releases.Add(g);
                        FreeReleased();
                        continue;
                    }

                    string other = pool.Take();
                    ops.Add(new KernelOp(OpKind.PoolBackward,
                        fuseBelow ? $"{other} = (gradient through the pooling of {layer.Name} from {g}) * {belowAct}'({x})" : $"{other} = gradient through the pooling of {layer.Name} from {g}",
                        l, Guard.InputGradientNeeded, x, output[l], other, Dim.Batch, 0, Dim.Of(0), false,
                        fuseBelow ? EpilogueKind.ActivationGradient : EpilogueKind.None, belowAct, null, null, new[] { g }.ToEquatableArray()));
                    Contribute(belowIndex, other, layer.Name, accumulate);
                    releases.Add(g); // every pooling kind, average and global included, is done with it
                    comment = $"{layer.Name}: gradient through the pooling";
                    break;
                }

                case LayerKind.Dropout:
                {
                    if (!hasBelow)
                    {
                        releases.Add(g);
                        FreeReleased();
                        continue; // nothing below
                    }

                    string masked = Writable(g);
                    ops.Add(new KernelOp(OpKind.DropoutBackward, $"{masked} = {g} masked like the forward pass{(masked == g ? " (in place)" : "")}", l, Guard.InputGradientNeeded,
                        g, null, masked, Dim.PerSample(layer.OutputSize), 0, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null));
                    Contribute(layer.Producer, masked, layer.Name, accumulate);
                    g = masked;
                    comment = $"{layer.Name}: gradient through the dropout mask";
                    break;
                }

                case LayerKind.BatchNorm:
                {
                    string dx = Writable(g);
                    ops.Add(new KernelOp(OpKind.BatchNormBackward, $"{Naming.DGamma(layer.Name)}, {Naming.DBeta(layer.Name)} and {dx} = gradient through {layer.Name}{(dx == g ? " (in place)" : " from " + g)}",
                        l, Guard.GradientNeeded, x, g, dx, Dim.PerSample(layer.OutputSize / Channels(layer)), Channels(layer), Dim.Of(0), false,
                        EpilogueKind.None, ActivationKind.Linear, null, null, BatchNormOperands(layer)));
                    if (hasBelow)
                    {
                        Contribute(layer.Producer, dx, layer.Name, accumulate);
                    }
                    else
                    {
                        releases.Add(dx);
                    }

                    g = dx;
                    comment = $"{layer.Name}: scale, shift and input gradients";
                    break;
                }

                case LayerKind.Add:
                {
                    // d sum / d input = 1: every input's gradient contribution is this gradient itself (shared, not copied).
                    var inputs = layer.InputLayers.Where(p => p >= 0).ToList();
                    for (int i = 0; i < inputs.Count; i++)
                    {
                        if (i > 0)
                        {
                            pool.Retain(g);
                        }

                        Contribute(inputs[i], g, layer.Name, accumulate);
                    }

                    if (inputs.Count == 0)
                    {
                        releases.Add(g);
                    }

                    EmitAccumulation(layer, accumulate);
                    continue;
                }

                case LayerKind.Concat:
                {
                    var channelsOf = network.ConcatenatedChannels(layer);
                    int offset = 0;
                    for (int i = 0; i < channelsOf.Count; i++)
                    {
                        int p = layer.InputLayers[i], channels = channelsOf[i];
                        if (p >= 0)
                        {
                            string slice = pool.Take();
                            ops.Add(new KernelOp(OpKind.ConcatBackward, $"{slice} = {layers[p].Name}'s slice of {g} (channels {offset} to {offset + channels - 1} of {layer.OutputShape[0]})",
                                l, Guard.InputGradientNeeded, g, null, slice, Dim.PerSample(Pixels(layer)), channels, Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null,
                                Offset: offset, Stride: layer.OutputShape[0]));
                            Contribute(p, slice, layer.Name, accumulate);
                        }

                        offset += channels;
                    }

                    releases.Add(g);
                    comment = $"{layer.Name}: each input's slice of the gradient";
                    break;
                }

                case LayerKind.LocalResponseNormalization:
                {
                    if (!hasBelow)
                    {
                        releases.Add(g);
                        FreeReleased();
                        continue;
                    }

                    string dx = pool.Take(); // it reads the gradient across a window of channels: not in place
                    ops.Add(new KernelOp(OpKind.LrnBackward, $"{dx} = gradient through the local response normalisation of {layer.Name} from {g}", l, Guard.InputGradientNeeded,
                        x, g, dx, Dim.PerSample(Pixels(layer)), layer.OutputShape[0], Dim.Of(0), false, EpilogueKind.None, ActivationKind.Linear, null, null));
                    Contribute(layer.Producer, dx, layer.Name, accumulate);
                    releases.Add(g);
                    comment = $"{layer.Name}: gradient through the local response normalisation";
                    break;
                }

                case LayerKind.Activation:
                    // The derivative phase above did the work; the gradient passes on to the layer below.
                    if (hasBelow)
                    {
                        Contribute(layer.Producer, g, layer.Name, accumulate);
                    }
                    else
                    {
                        releases.Add(g);
                    }

                    EmitAccumulation(layer, accumulate);
                    continue;
                default:
                    continue; // Flatten: a view
            }

            backward.Add(new Phase(Naming.BackwardJob(layer.Name), comment, ops.ToEquatableArray()));
            EmitAccumulation(layer, accumulate);
        }

        // The gradient contributions added after a layer's own phase (they read what it wrote), then the buffers it is done with.
        void EmitAccumulation(ShapedLayer layer, List<KernelOp> accumulate)
        {
            if (accumulate.Count > 0)
            {
                backward.Add(new Phase(Naming.AccumulateJob(layer.Name), $"{layer.Name}: its input gradients added to the other contributions", accumulate.ToEquatableArray()));
            }

            FreeReleased();
        }

        void FreeReleased()
        {
            foreach (string buffer in releases)
            {
                pool.Release(buffer);
            }

            releases.Clear();
        }

        static string From(string g, string d) => g == d ? "" : " from " + g;

        var gradientBuffers = Enumerable.Range(0, Math.Max(2, pool.Count)).Select(i => new BufferPlan(GradSlot(i), Region.Activations, 0, widest, $"[rows x {widest}]",
            i switch { 0 => "gradient buffer A (layers alternate between A and B)", 1 => "gradient buffer B", _ => $"gradient buffer {(char)('A' + i)}" }));
        buffers.InsertRange(gradientBuffersAt, gradientBuffers);

        return new ExecutionPlan(network, buffers.ToEquatableArray(), parameterLength, scratch,
            forward.ToEquatableArray(), inferenceTail.ToEquatableArray(), lossPhases.ToEquatableArray(), backward.ToEquatableArray(),
            Input, outputs, inferenceForward.ToEquatableArray());
    }

    /// <summary>
    /// The forward pass of inference: the training phases (a dropout's own pass left out), except that a convolution whose
    /// only reader is a BatchNorm applies that BatchNorm with its moving statistics in its epilogue (per channel: the
    /// statistics folded into one scale and shift, once per pass), and with it the element-wise Activation layer that
    /// reads the BatchNorm, or the two-input residual Add it feeds (with the Add's activation, or the Activation layer
    /// after it) when the Add's other input is ready by then. The layers it absorbs run no pass, and their outputs are
    /// never written (their only readers are in the chain). The head (logits and the network output) is never absorbed.
    /// </summary>
    private static List<Phase> InferenceForward(ShapedNetwork network, Phase?[] forwardPhaseOf, string[] output,
        List<BufferPlan> buffers, Func<int, int> single, Func<int, bool> writesDropoutMask, int logitsLayer)
    {
        var layers = network.Layers;
        int last = layers.Count - 1;
        var absorbed = new bool[layers.Count];
        var ready = new bool[layers.Count];
        var fused = new List<Phase>();
        var folds = new List<KernelOp>();

        // A layer that can end a fused chain: not the head, and an element-wise activation.
        bool Absorbable(int k) => k >= 0 && k != last && k != logitsLayer && layers[k].Activation != ActivationKind.Softmax;
        string In(int l) => layers[l].Producer < 0 ? Input : output[layers[l].Producer];

        for (int l = 0; l <= last; l++)
        {
            var conv = layers[l];
            if (absorbed[l])
            {
                continue;
            }

            int norm = single(l);
            if (conv.Kind != LayerKind.Conv2D || conv.Activation != ActivationKind.Linear || writesDropoutMask(l)
                || !Absorbable(norm) || layers[norm].Kind != LayerKind.BatchNorm || layers[norm].Producer != l)
            {
                ready[l] = true;
                if (forwardPhaseOf[l] is { } phase && !Liveness.TrainingOnly(phase))
                {
                    fused.Add(phase);
                }

                continue;
            }

            // conv -> BatchNorm [-> Activation | -> Add(other) [-> Activation]]
            var members = new List<int> { norm };
            var activation = ActivationKind.Linear;
            string? residual = null;
            int next = single(norm);
            if (Absorbable(next) && layers[next].Kind == LayerKind.Activation)
            {
                members.Add(next);
                activation = layers[next].Activation;
            }
            else if (Absorbable(next) && layers[next].Kind == LayerKind.Add && layers[next].InputLayers.Count == 2)
            {
                int other = layers[next].InputLayers[0] == norm ? layers[next].InputLayers[1] : layers[next].InputLayers[0];
                if (other != norm && (other < 0 || ready[other]))
                {
                    members.Add(next);
                    activation = layers[next].Activation;
                    residual = other < 0 ? Input : output[other];
                    int after = single(next);
                    if (activation == ActivationKind.Linear && Absorbable(after) && layers[after].Kind == LayerKind.Activation)
                    {
                        members.Add(after);
                        activation = layers[after].Activation;
                    }
                }
            }

            int end = members[members.Count - 1];
            var bn = layers[norm];
            int channels = conv.Window!.OutC;
            string folded = Naming.Folded(bn.Name);
            buffers.Add(new BufferPlan(folded, Region.Activations, 0, 2L * channels, $"[2 x {channels}]",
                $"{bn.Name} folded for inference: shift, then scale (moving statistics{(conv.Spec.UseBias ? ", " + conv.Name + " bias" : "")})", BatchIndependent: true));
            folds.Add(new KernelOp(OpKind.FoldBatchNorm,
                $"{folded} = shift and scale of {bn.Name} (gamma / sqrt(moving variance + eps), beta - (moving mean{(conv.Spec.UseBias ? " - " + B(conv) : "")}) * scale)",
                norm, Guard.Always, Naming.MovingMean(bn.Name), conv.Spec.UseBias ? B(conv) : null, folded, Dim.Of(channels), channels, Dim.Of(0), false,
                EpilogueKind.None, ActivationKind.Linear, null, null, BatchNormOperands(bn)));

            string y = output[end];
            string epilogue = residual is null ? $"conv * scale + shift" : $"conv * scale + shift + {residual}";
            fused.Add(new Phase(Naming.InferenceJob(conv.Name),
                $"{conv.Name}: Conv2D {Describe(conv.InputShape)} -> {Describe(conv.OutputShape)} with {string.Join(", ", members.Select(k => layers[k].Name))} fused (inference)",
                new[]
                {
                    new KernelOp(OpKind.ConvForward, $"{y} = {activation}({epilogue}) with conv{conv.Window.KH}x{conv.Window.KW}({In(l)}, {W(conv)}), scale and shift from {folded}",
                        l, Guard.Always, In(l), W(conv), y, Dim.Batch, channels, Dim.Of(0), false, EpilogueKind.ScaleShiftActivation, activation, folded, residual),
                }.ToEquatableArray()));
            foreach (int k in members)
            {
                absorbed[k] = true;
            }

            ready[end] = true;
        }

        if (folds.Count > 0)
        {
            fused.Insert(0, new Phase("Infer_BatchNormFolding", "every BatchNorm a convolution absorbs in inference: its moving statistics as one scale and shift per channel", folds.ToEquatableArray()));
        }

        return fused;
    }

    private static int Channels(ShapedLayer layer) => layer.InputShape.Count == 3 ? layer.InputShape[0] : layer.InputSize;

    /// <summary>Pixels of one sample of the layer's output (1 for a vector).</summary>
    private static int Pixels(ShapedLayer layer) => layer.IsImage ? layer.OutputShape[1] * layer.OutputShape[2] : 1;

    private static string Rate(ShapedLayer layer) => layer.Spec.Rate.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Shape as the summary shows it: channels first.</summary>
    private static string Describe(EquatableArray<int> shape) => string.Join(" x ", shape);

    private static EquatableArray<string> BatchNormOperands(ShapedLayer layer) => new[]
    {
        Naming.Gamma(layer.Name), Naming.Beta(layer.Name), Naming.SavedMean(layer.Name), Naming.SavedInvStd(layer.Name),
        Naming.MovingMean(layer.Name), Naming.MovingVariance(layer.Name), Naming.DGamma(layer.Name), Naming.DBeta(layer.Name),
    }.ToEquatableArray();

    public const string Input = "Input";
    public const string Logits = "Logits";
    public const string Probabilities = "Probabilities";
    public const string Outputs = "Outputs";
    public static string W(ShapedLayer layer) => Naming.W(layer.Name);
    public static string B(ShapedLayer layer) => Naming.B(layer.Name);
    public static string DW(ShapedLayer layer) => Naming.DW(layer.Name);
    public static string DB(ShapedLayer layer) => Naming.DB(layer.Name);
    public static string WT(ShapedLayer layer) => Naming.WT(layer.Name);
    public static string Out(ShapedLayer layer) => Naming.Out(layer.Name);
    public static string GradSlot(int slot) => "Grad" + slot;
}

/// <summary>
/// The backward pass's gradient buffers: each taken buffer counts its holders (an Add's inputs share its output gradient);
/// a buffer is free again when its last holder lets it go, and <see cref="Take"/> hands out the lowest free one.
/// </summary>
internal sealed class GradientPool
{
    private readonly List<int> _holders = new();

    /// <summary>Buffers ever taken: the plan allocates this many.</summary>
    public int Count => _holders.Count;

    public string Take()
    {
        int free = _holders.IndexOf(0);
        if (free < 0)
        {
            free = _holders.Count;
            _holders.Add(0);
        }

        _holders[free] = 1;
        return Lowerer.GradSlot(free);
    }

    public void Retain(string buffer) => _holders[Index(buffer)]++;

    public void Release(string buffer)
    {
        int i = Index(buffer);
        if (_holders[i] <= 0)
        {
            throw new InvalidOperationException($"{buffer} released more often than taken.");
        }

        _holders[i]--;
    }

    public bool IsShared(string buffer) => _holders[Index(buffer)] > 1;

    private static int Index(string buffer) => int.Parse(buffer.Substring("Grad".Length), System.Globalization.CultureInfo.InvariantCulture);
}

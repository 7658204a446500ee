using System.Collections.Generic;
using Microsoft.CodeAnalysis.CSharp;

namespace NetDsl.Generators.Model;

/// <summary>
/// Every identifier the generated code declares, in one place, so the shape stage can reject layer names that
/// would collide with them and the emitters stay consistent.
/// </summary>
public static class Naming
{
    /// <summary>Members of NetDsl.Network (the generated class's base) a layer must not hide.</summary>
    public static readonly IReadOnlyCollection<string> BaseMembers = new HashSet<string>
    {
        "BatchSize", "InputSize", "OutputSize", "Threads", "Layers", "Parameters", "Gradients", "ParameterCount",
        "ComputeGradients", "TrainStep", "Predict", "Dispose", "Arena", "Layout", "Rows", "Labels", "Dispatch",
        "AddLoss", "SetLayers", "Forward", "Backward", "ExecuteJob", "Equals", "GetHashCode", "ToString", "GetType",
        "MemberwiseClone", "Finalize", "Seed", "Steps", "Training", "DropoutSeed", "NonTrainableParameterCount",
        "Loss", "TakesClassLabels", "Targets", "SaveWeights", "LoadWeights", "SaveCheckpoint", "LoadCheckpoint",
        "Fit", "Evaluate", "Update",
    };

    /// <summary>Class-level members the emitter declares independently of the layers.</summary>
    public static readonly IReadOnlyCollection<string> FixedMembers = new HashSet<string>
    {
        "Summary", "ParameterLength", "ScratchOffset", "ActivationOffset", "ActivationPlan", "PlaceActivations", "_a",
        "Job_Loss", "Job_Predict_Softmax", "Job_Predict_Linear", "Job_Predict_ReLU", "Job_Predict_Sigmoid", "Job_Predict_Tanh",
    };

    /// <summary>
    /// The identifier part of a layer's name: a layer of a block use is named by its path, <c>Stage[2].Conv1</c>, which
    /// the generated members spell <c>Stage_2_Conv1</c>; a top-level layer's name is already an identifier.
    /// </summary>
    public static string Id(string layer) => layer.IndexOf('[') < 0 && layer.IndexOf('.') < 0 ? layer : layer.Replace("[", "_").Replace("]", "").Replace(".", "_");

    /// <summary>The C# spelling of an identifier (reserved keywords get '@').</summary>
    public static string Identifier(string name)
        => SyntaxFacts.IsReservedKeyword(SyntaxFacts.GetKeywordKind(name)) ? "@" + name : name;

    public static string W(string layer) => Id(layer) + "_W";
    public static string Gamma(string layer) => Id(layer) + "_gamma";
    public static string Beta(string layer) => Id(layer) + "_beta";
    public static string MovingMean(string layer) => Id(layer) + "_movingMean";
    public static string MovingVariance(string layer) => Id(layer) + "_movingVariance";
    public static string DGamma(string layer) => Id(layer) + "_dgamma";
    public static string DBeta(string layer) => Id(layer) + "_dbeta";
    public static string SavedMean(string layer) => Id(layer) + "_SavedMean";
    public static string SavedInvStd(string layer) => Id(layer) + "_SavedInvStd";
    public static string Prepared(string layer) => Id(layer) + "_Prepared";
    public static string Shape(string layer) => Id(layer) + "_Shape";
    public static string DerivativeJob(string layer) => "Derivative_" + Id(layer);
    public static string B(string layer) => Id(layer) + "_b";
    public static string DW(string layer) => Id(layer) + "_dW";
    public static string DB(string layer) => Id(layer) + "_db";
    public static string WT(string layer) => Id(layer) + "_WT";
    public static string Out(string layer) => Id(layer) + "_Out";
    public static string Field(string layer) => "_" + Id(layer) + "Layer";
    public static string InputGradientFlag(string layer) => "_inputGradient_" + Id(layer);
    public static string ForwardJob(string layer) => "Forward_" + Id(layer);
    public static string BackwardJob(string layer) => "Backward_" + Id(layer);
    public static string AccumulateJob(string layer) => "Accumulate_" + Id(layer);
    public static string InferenceJob(string layer) => "Infer_" + Id(layer);
    public static string Folded(string layer) => Id(layer) + "_Folded";
    public static string ForwardShape(string layer) => Id(layer) + "_Forward";
    public static string WeightGradientShape(string layer) => Id(layer) + "_WeightGradient";
    public static string InputGradientShape(string layer) => Id(layer) + "_InputGradient";

    /// <summary>Every member name the generated class declares for one layer (besides the layer property itself).</summary>
    public static IEnumerable<string> LayerMembers(string layer) => new[]
    {
        W(layer), B(layer), DW(layer), DB(layer), WT(layer), Field(layer), InputGradientFlag(layer),
        "Job_" + ForwardJob(layer), "Job_" + BackwardJob(layer), "Job_" + DerivativeJob(layer), "Job_" + AccumulateJob(layer), ForwardShape(layer), WeightGradientShape(layer), InputGradientShape(layer),
        Gamma(layer), Beta(layer), MovingMean(layer), MovingVariance(layer), DGamma(layer), DBeta(layer), Shape(layer),
        SavedMean(layer), SavedInvStd(layer), Prepared(layer), Out(layer), "Job_" + InferenceJob(layer), Folded(layer),
    };
}

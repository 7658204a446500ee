using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace NetDsl.TorchBenchmarks;

/// <summary>The LibTorch side: the same layer shapes as Networks.cs (and torchvision's ResNet-18), FP32, eager mode.</summary>
public static class TorchNetworks
{
    /// <summary>mnist_transfer_cnn: the class scores are logits (CrossEntropyLoss applies the softmax, as NetDsl's fused loss does).</summary>
    public static Module<Tensor, Tensor> Cnn() => Sequential(
        ("conv1", Conv2d(1, 32, 3)), ("relu1", ReLU()),
        ("conv2", Conv2d(32, 32, 3)), ("relu2", ReLU()),
        ("pool", MaxPool2d(2)), ("dropout1", Dropout(0.25)),
        ("flatten", Flatten()),
        ("hidden", Linear(4608, 128)), ("relu3", ReLU()), ("dropout2", Dropout(0.5)),
        ("output", Linear(128, 5)));

    /// <summary>784-width-width-10.</summary>
    public static Module<Tensor, Tensor> Mlp(int width) => Sequential(
        ("hidden1", Linear(784, width)), ("relu1", ReLU()),
        ("hidden2", Linear(width, width)), ("relu2", ReLU()),
        ("output", Linear(width, 10)));

    /// <summary>The small ResNet on 32x32x3 (SbsResNet).</summary>
    public static Module<Tensor, Tensor> SmallResNet() => Sequential(
        ("stem_conv", Conv2d(3, 16, 3, padding: 1, bias: false)), ("stem_bn", BatchNorm2d(16)), ("stem_relu", ReLU()),
        ("s1b1", new BasicBlock(16, 16, 1)), ("s1b2", new BasicBlock(16, 16, 1)),
        ("s2b1", new BasicBlock(16, 32, 2)), ("s2b2", new BasicBlock(32, 32, 1)),
        ("s3b1", new BasicBlock(32, 64, 2)), ("s3b2", new BasicBlock(64, 64, 1)),
        ("gap", AdaptiveAvgPool2d(1)), ("flatten", Flatten()),
        ("fc", Linear(64, 10)));

    /// <summary>torchvision's resnet18 (11,689,512 parameters).</summary>
    public static Module<Tensor, Tensor> ResNet18() => Sequential(
        ("conv1", Conv2d(3, 64, 7, stride: 2, padding: 3, bias: false)), ("bn1", BatchNorm2d(64)), ("relu", ReLU()),
        ("maxpool", MaxPool2d(3, stride: 2, padding: 1)),
        ("layer1_0", new BasicBlock(64, 64, 1)), ("layer1_1", new BasicBlock(64, 64, 1)),
        ("layer2_0", new BasicBlock(64, 128, 2)), ("layer2_1", new BasicBlock(128, 128, 1)),
        ("layer3_0", new BasicBlock(128, 256, 2)), ("layer3_1", new BasicBlock(256, 256, 1)),
        ("layer4_0", new BasicBlock(256, 512, 2)), ("layer4_1", new BasicBlock(512, 512, 1)),
        ("avgpool", AdaptiveAvgPool2d(1)), ("flatten", Flatten()),
        ("fc", Linear(512, 1000)));

    /// <summary>torchvision's BasicBlock: 3x3, BN, ReLU, 3x3, BN, + shortcut (1x1 strided conv + BN when the shape changes), ReLU.</summary>
    public sealed class BasicBlock : Module<Tensor, Tensor>
    {
        private readonly Module<Tensor, Tensor> conv1;
        private readonly Module<Tensor, Tensor> bn1;
        private readonly Module<Tensor, Tensor> conv2;
        private readonly Module<Tensor, Tensor> bn2;
        private readonly Module<Tensor, Tensor>? downsample;

        public BasicBlock(int inputs, int filters, int stride) : base("BasicBlock")
        {
            conv1 = Conv2d(inputs, filters, 3, stride: stride, padding: 1, bias: false);
            bn1 = BatchNorm2d(filters);
            conv2 = Conv2d(filters, filters, 3, padding: 1, bias: false);
            bn2 = BatchNorm2d(filters);
            if (stride != 1 || inputs != filters)
            {
                downsample = Sequential(Conv2d(inputs, filters, 1, stride: stride, bias: false), BatchNorm2d(filters));
            }

            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            var y = functional.relu(bn1.call(conv1.call(input)));
            y = bn2.call(conv2.call(y));
            var shortcut = downsample is null ? input : downsample.call(input);
            return functional.relu(y.add_(shortcut)); // torchvision: out += identity; out = relu(out)
        }
    }
}

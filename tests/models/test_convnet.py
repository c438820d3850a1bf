import torch
from torch import nn

from mnist_lit.models.convnet import ConvNet


def test_reference_network_shapes_and_size() -> None:
    net = ConvNet()
    x = torch.zeros(4, 1, 28, 28)
    shapes = []
    for layer in net.features:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    # conv -> pool -> relu per block: 28 -> 14 -> 7 -> 3, as the reference derives by hand
    assert shapes[2] == (32, 14, 14) and shapes[5] == (64, 7, 7) and shapes[8] == (128, 3, 3)
    assert net(torch.zeros(4, 1, 28, 28)).shape == (4, 10)
    # 320 + 18,496 + 73,856 (conv) + 147,584 + 8,256 + 650 (linear): the reference's parameters
    assert sum(p.numel() for p in net.parameters()) == 249_162


def test_reference_layer_order() -> None:
    net = ConvNet()
    assert [type(m) for m in net.features] == [nn.Conv2d, nn.MaxPool2d, nn.ReLU] * 3
    linear = [m for m in net.classifier if not isinstance(m, nn.Flatten)]
    assert [type(m) for m in linear] == [nn.Linear] * 3  # no activation between, as the reference
    assert [(m.in_features, m.out_features) for m in linear] == [(1152, 128), (128, 64), (64, 10)]


def test_options_change_the_network() -> None:
    net = ConvNet(
        channels=(8, 16, 32), hidden=(32, 16), batch_norm=True, dropout=0.2, fc_activation=True
    )
    kinds = {type(m) for m in net.modules()}
    assert {nn.BatchNorm2d, nn.BatchNorm1d, nn.Dropout} <= kinds
    assert sum(isinstance(m, nn.ReLU) for m in net.classifier) == 2
    assert net.classifier[2].in_features == 32 * 3 * 3
    net.eval()
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert len(net.conv_layers()) == 3

"""The plugin's own tests: plain torch, no diffbench needed."""

import pytest
import torch
from diffbench_plugin_example import TinyConvNet, wide_convnet


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("lattice", [16, 33])
def test_maps_the_input_to_one_field_channel(in_channels, lattice):
    net = TinyConvNet(in_channels=in_channels, out_channels=1, hidden_channels=4)
    assert net(torch.rand(2, in_channels, lattice, lattice)).shape == (2, 1, lattice, lattice)


def test_factory_builds_the_wide_variant():
    assert wide_convnet(1).layers[0].out_channels == 32


def test_a_few_steps_reduce_the_loss():
    torch.manual_seed(0)
    net = TinyConvNet(1, 1, hidden_channels=8)
    x = torch.rand(8, 1, 16, 16)
    y = torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]

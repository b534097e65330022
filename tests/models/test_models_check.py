"""check_model passes for every preset and fails with one clear line for broken models."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from diffbench import models
from diffbench.errors import DiffbenchError

BROKEN = """
    import random

    import torch
    from torch import nn


    class Base(nn.Module):
        def __init__(self, in_channels, out_channels=1):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)


    class WrongShape(Base):
        def forward(self, x):
            return self.conv(x)[..., :-1]


    class TwoChannels(Base):
        def forward(self, x):
            return torch.cat([self.conv(x), self.conv(x)], dim=1)


    class ReturnsTuple(Base):
        def forward(self, x):
            return self.conv(x), None


    class Float64(Base):
        def forward(self, x):
            return self.conv(x).double()


    class NotFinite(Base):
        def forward(self, x):
            return self.conv(x) / 0.0


    class Unseeded(Base):
        def __init__(self, in_channels, out_channels=1):
            super().__init__(in_channels, out_channels)
            self.offset = random.random()

        def forward(self, x):
            return self.conv(x) + self.offset


    class NoParameters(nn.Module):
        def __init__(self, in_channels, out_channels=1):
            super().__init__()

        def forward(self, x):
            return x[:, :1]


    class Frozen(Base):
        def forward(self, x):
            return self.conv(x).detach() * torch.ones_like(x[:, :1], requires_grad=True)


    class NaNGradient(Base):
        def forward(self, x):
            y = self.conv(x)
            return y + 0.0 * torch.sqrt(-self.conv.bias.abs() - 1.0).sum() if self.training else y
"""


@pytest.fixture
def broken_file(tmp_path):
    path = tmp_path / "broken_models.py"
    path.write_text(textwrap.dedent(BROKEN))
    return path


@pytest.mark.parametrize("name", [n for n in models.PRESETS if n.endswith("-small")])
def test_check_model_passes_for_small_presets(name):
    report = models.check_model(name, in_channels=3, lattice=32)
    assert report.passed
    assert [r.name for r in report.results] == [
        "build",
        "forward",
        "output shape",
        "dtype",
        "finite",
        "determinism",
        "spec round trip",
        "training step",
    ]
    assert report.parameters == models.count_parameters(models.create(name, 3, lattice=32))
    assert report.train_step_seconds > 0 and report.forward_seconds > 0
    assert report.model in report.summary()


@pytest.mark.parametrize("name", [n for n in models.PRESETS if not n.endswith("-small")])
def test_check_model_passes_for_full_presets(name):
    assert models.check_model(name, in_channels=1, lattice=16, batch_size=1).passed


def test_check_model_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    models.check_model("cnn-small", 1, 16, seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_check_model_passes_overrides_on():
    report = models.check_model("unet-small", 1, 16, overrides={"base_channels": 4})
    assert report.parameters == models.count_parameters(models.create("unet-small", 1, base_channels=4))


@pytest.mark.parametrize(
    "cls, message",
    [
        (
            "WrongShape",
            r"failed the output shape check: input \(2, 1, 32, 32\) gave output \(2, 1, 32, 31\); "
            r"expected \(2, 1, 32, 32\)",
        ),
        ("TwoChannels", r"output shape check: input \(2, 1, 32, 32\) gave output \(2, 2, 32, 32\)"),
        ("ReturnsTuple", r"output shape check: the forward pass returned a tuple, not a tensor"),
        ("Float64", r"failed the dtype check: the output is torch.float64; expected torch.float32"),
        ("NotFinite", r"failed the finite check: \d+ of 2048 output values are NaN or infinite"),
        ("Unseeded", r"failed the determinism check: two builds with seed 0 give outputs"),
        ("NoParameters", r"failed the build check: the model has no trainable parameters"),
        ("Frozen", r"failed the training step check: no parameter received a gradient"),
        ("NaNGradient", r"failed the training step check: (some gradients are NaN|the loss is nan)"),
    ],
)
def test_check_model_fails_with_one_clear_line(broken_file, cls, message):
    with pytest.raises(DiffbenchError, match=message) as error:
        models.check_model(f"{broken_file}:{cls}", 1, 32)
    assert str(error.value).startswith(f"model class '{broken_file}:{cls}' failed")
    assert "\n" not in str(error.value)


def test_check_model_reports_an_unknown_model_like_create():
    with pytest.raises(DiffbenchError, match="unknown model 'nope'"):
        models.check_model("nope", 1, 16)


@pytest.mark.parametrize("kwargs", [{"lattice": 0}, {"lattice": 16, "batch_size": 0}])
def test_check_model_validates_its_arguments(kwargs):
    with pytest.raises(DiffbenchError, match="must be a positive integer"):
        models.check_model("cnn-small", 1, **kwargs)


class _Float64Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        return self.conv(x).double()


class _TupleNet(_Float64Net):
    def forward(self, x):
        return self.conv(x), None


class _DictNet(_Float64Net):
    def forward(self, x):
        return {"u": self.conv(x)}


class _GoodNet(_Float64Net):
    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize(
    "net, message",
    [
        (_Float64Net(), r"failed the dtype check: the output is torch.float64; expected torch.float32"),
        (_TupleNet(), r"failed the output shape check: the forward pass returned a tuple, not a tensor"),
        (_DictNet(), r"failed the output shape check: the forward pass returned a dict, not a tensor"),
    ],
)
def test_check_output_refuses_what_check_model_refuses(net, message):
    with pytest.raises(DiffbenchError, match=message) as error:
        models.check_output(net, 1, 16)
    assert str(error.value).startswith(f"model class '{type(net).__module__}:{type(net).__qualname__}' failed")
    assert "\n" not in str(error.value)


def test_check_output_passes_a_good_model_and_keeps_its_mode_and_random_state():
    net = _GoodNet().train()
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    models.check_output(net, 1, 16)
    assert torch.equal(torch.rand(2), expected) and net.training
    models.check_output(models.create("unet-small", 2, lattice=16), 2, 16)
    with pytest.raises(DiffbenchError, match=r"unet-small' \(built-in\) failed the forward check: .* 2 channels"):
        models.check_output(models.create("unet-small", 2, lattice=16), 1, 16)


def test_check_model_does_not_import_torch_dynamo():
    """The SGD step of ``check_model`` once imported torch._dynamo: about 1.5 s of a 4 s check."""
    code = (
        "import sys; from diffbench import models; models.check_model('cnn-small', 1, 16); "
        "print('torch._dynamo' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    assert out.stdout.strip() == "False"


class _TinyConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.b = torch.nn.Conv2d(4, 1, 1)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def test_count_flops_matches_the_hand_count_of_a_tiny_conv_net():
    # 2 * Cin * Cout * k * k * H * W per convolution: 2*2*4*9*64 + 2*4*1*1*64
    assert models.count_flops(_TinyConvNet(), 2, 8) == 9216 + 512
    assert models.count_flops(_TinyConvNet(), 2, 8, batch=3) == 9216 + 512  # per sample


@pytest.mark.parametrize("name", [n for n in models.PRESETS if n.endswith("-small")])
def test_count_flops_of_the_small_presets_grows_with_the_lattice(name):
    small = models.count_flops(models.create(name, 1, lattice=32), 1, 32)
    large = models.count_flops(models.create(name, 1, lattice=64), 1, 64)
    assert 0 < small < large


def test_count_flops_validates_its_arguments():
    with pytest.raises(DiffbenchError, match="batch must be a positive integer"):
        models.count_flops(_TinyConvNet(), 2, 8, batch=0)


class _Spectral(torch.nn.Module):
    def forward(self, x):
        return torch.fft.irfft2(torch.fft.rfft2(x), s=x.shape[-2:])


def test_count_flops_counts_ffts_at_2_5_n_log2_n_per_real_transform():
    # torch counts no FFT; count_flops adds 2.5 * n * log2(n) per real transform of n = 16 * 16 points
    # (forward and inverse), for each of the 3 channels
    n = 16 * 16
    assert models.count_flops(_Spectral(), 3, 16) == round(2 * 3 * 2.5 * n * math.log2(n))
    assert models.count_flops(_Spectral(), 3, 16, batch=2) == round(2 * 3 * 2.5 * n * math.log2(n))

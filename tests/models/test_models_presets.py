"""Every built-in preset builds for the task's channels and lattice and returns (B, 1, N, N)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from diffbench import models
from diffbench.errors import DiffbenchError
from diffbench.models.cnn import EncoderDecoderCNN, pools_for_lattice
from diffbench.models.fno import FourierNeuralOperator

SMALL = [name for name in models.PRESETS if name.endswith("-small")]
FULL = [name for name in models.PRESETS if not name.endswith("-small")]


def test_each_architecture_has_a_full_and_a_small_preset():
    assert sorted(FULL) == ["cnn", "fno", "resnet", "unet"]
    assert sorted(SMALL) == [f"{name}-small" for name in sorted(FULL)]


@pytest.mark.parametrize("lattice", [32, 64])
@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("name", list(models.PRESETS))
def test_preset_maps_the_input_to_one_field_channel(name, in_channels, lattice):
    torch.manual_seed(0)
    model = models.create(name, in_channels, lattice=lattice)
    assert isinstance(model, nn.Module)
    with torch.no_grad():
        out = model.eval()(torch.rand(2, in_channels, lattice, lattice))
    assert out.shape == (2, 1, lattice, lattice)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("lattice", [8, 17, 30, 128])
@pytest.mark.parametrize("name", SMALL)
def test_small_presets_handle_small_and_indivisible_lattices(name, lattice):
    model = models.create(name, 1, lattice=lattice).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 1, lattice, lattice)).shape == (1, 1, lattice, lattice)


def test_cnn_has_the_papers_parameter_count_at_512():
    # paper.md section 4.1: encoder 1->64 (+BatchNorm) ->128->...->2048, decoder 2048->...->32->1.
    ladder = [1, 64, 128, 256, 512, 1024, 2048]
    encoder = sum(9 * a * b + b for a, b in zip(ladder[:-1], ladder[1:])) + 2 * 64
    decoder_ladder = [2048, 1024, 512, 256, 128, 64, 32, 1]
    decoder = sum(9 * a * b + b for a, b in zip(decoder_ladder[:-1], decoder_ladder[1:]))
    model = models.create("cnn", 1, lattice=512)
    assert models.count_parameters(model) == encoder + decoder == 50_307_969
    assert model.n_pools == 5


@pytest.mark.parametrize(
    ("lattice", "pools"), [(8, 1), (16, 1), (32, 1), (48, 2), (64, 2), (128, 3), (256, 4), (512, 5), (1024, 5)]
)
def test_cnn_depth_adapts_so_the_bottleneck_is_at_most_16(lattice, pools):
    assert pools_for_lattice(lattice) == pools
    model = models.create("cnn", 1, lattice=lattice)
    assert model.n_pools == pools
    assert models.model_spec(model)["init_args"]["lattice"] == lattice
    if lattice <= 512:
        assert -(-lattice // 2**pools) <= 16


def test_cnn_without_a_lattice_is_the_papers_five_pool_network():
    assert models.create("cnn", 1).n_pools == 5


def test_cnn_matches_the_papers_layer_layout():
    model = EncoderDecoderCNN(1, lattice=512)
    kinds = [type(layer).__name__ for layer in model.encoder]
    assert kinds[:5] == ["Conv2d", "BatchNorm2d", "LeakyReLU", "AvgPool2d", "Conv2d"]
    assert kinds.count("BatchNorm2d") == 1 and kinds.count("AvgPool2d") == 5
    assert [type(layer).__name__ for layer in model.decoder].count("Upsample") == 5
    assert isinstance(model.decoder[-1], nn.LeakyReLU) and model.decoder[-1].negative_slope == 0.02


@pytest.mark.parametrize("name", SMALL)  # one preset per architecture class
def test_every_architecture_takes_a_dropout_argument_defaulting_to_zero(name):
    overrides = {"lattice": 16}
    model = models.create(name, 1, **overrides)
    assert models.model_spec(model)["init_args"]["dropout"] == 0.0
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())
    dropped = models.create(name, 1, dropout=0.2, **overrides)
    assert any(isinstance(m, nn.Dropout) and m.p == 0.2 for m in dropped.modules())
    x = torch.rand(2, 1, 16, 16)
    dropped.train()
    with torch.no_grad():  # MC-dropout: two passes in training mode differ
        assert not torch.equal(dropped(x), dropped(x))


def test_fno_wraps_neuraloperator_with_grid_embedding_and_domain_padding():
    from neuralop.layers.embeddings import GridEmbeddingND
    from neuralop.models import FNO

    model = models.create("fno-small", 2)
    assert isinstance(model.fno, FNO)
    assert isinstance(model.fno.positional_embedding, GridEmbeddingND)
    assert model.fno.domain_padding is not None
    assert model.fno.in_channels == 2


def test_fno_state_dict_holds_tensors_only_and_loads_inside_a_parent_module():
    parent = nn.Sequential(models.create("fno-small", 1))
    state = parent.state_dict()
    assert "_metadata" not in state and all(isinstance(v, torch.Tensor) for v in state.values())
    nn.Sequential(models.create("fno-small", 1)).load_state_dict(state)  # strict


def test_fno_forgets_its_cached_grid_when_moved():
    # neuraloperator caches the coordinate grid in a plain attribute that .to(device) would not move
    model = FourierNeuralOperator(1, n_modes=(4, 4), hidden_channels=4).eval()
    x = torch.rand(1, 1, 12, 12)
    expected = model(x)
    assert model.fno.positional_embedding._grid is not None
    model.to("cpu")
    assert model.fno.positional_embedding._grid is None
    assert torch.equal(model(x), expected)


def test_fno_runs_in_double_precision_and_back():
    model = models.create("fno-small", 1).eval()
    x = torch.rand(1, 1, 16, 16)
    expected = model(x)
    model.double()  # as Lightning's 64-true does; complex weights follow to complex128
    assert {p.dtype for p in model.parameters()} == {torch.float64, torch.complex128}
    assert torch.allclose(model(x.double()), expected.double(), atol=1e-5)
    model.float()
    assert torch.equal(model(x), expected)


def test_fno_computes_in_full_precision_under_autocast():
    model = models.create("fno-small", 1).eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(torch.rand(1, 1, 16, 16)).dtype == torch.float32


@pytest.mark.filterwarnings("ignore:Casting complex values to real")
def test_fno_refuses_half_precision_with_a_clear_error():
    model = models.create("fno-small", 1).to(torch.bfloat16)  # as Lightning's bf16-true does
    with pytest.raises(DiffbenchError, match="cannot run on torch.bfloat16 inputs.*bf16-mixed"):
        model(torch.rand(1, 1, 16, 16, dtype=torch.bfloat16))
    with pytest.raises(DiffbenchError, match="spectral weights were cast to a real dtype"):
        models.create("fno-small", 1).to(torch.float64)(torch.rand(1, 1, 16, 16, dtype=torch.float64))

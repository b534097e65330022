"""create / list_models / model_spec / build_from_spec, class paths and user errors."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

import diffbench
from diffbench import models
from diffbench.errors import DiffbenchError
from diffbench.models.unet import UNet

FILE_MODEL = """
    import torch
    from torch import nn


    class FieldNet(nn.Module):
        def __init__(self, in_channels, out_channels=1, width=4, lattice=None):
            super().__init__()
            self.lattice = lattice
            self.body = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.Conv2d(width, out_channels, 1))

        def forward(self, x):
            return self.body(x)


    def make_field_net(in_channels, out_channels=1):
        return FieldNet(in_channels, out_channels, width=2)
"""


def _same_outputs(a: torch.nn.Module, b: torch.nn.Module, shape=(2, 1, 32, 32)) -> bool:
    x = torch.rand(shape)
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


def test_list_models_lists_the_built_ins_with_package_and_class_path():
    infos = {info.name: info for info in models.list_models()}
    for name, preset in models.PRESETS.items():
        info = infos[name]
        assert info.kind == "built-in" and info.package == "diffbench" and info.version == diffbench.__version__
        assert info.class_path == preset.class_path and info.description and info.error is None


def test_create_does_not_mutate_the_preset():
    before = dict(models.PRESETS["cnn-small"].kwargs)
    model = models.create("cnn-small", 1, channels=[8, 16])
    assert models.model_spec(model)["init_args"]["channels"] == [8, 16]
    assert dict(models.PRESETS["cnn-small"].kwargs) == before


def test_overrides_replace_preset_arguments_and_are_recorded():
    model = models.create("unet-small", 3, base_channels=8, dropout=0.1)
    spec = models.model_spec(model)
    assert spec["name"] == "unet-small"
    assert spec["class_path"] == "diffbench.models.unet:UNet"
    assert spec["init_args"] == {
        "in_channels": 3,
        "out_channels": 1,
        "base_channels": 8,
        "depth": 3,
        "norm": "group",
        "dropout": 0.1,
    }


@pytest.mark.parametrize("name", list(models.PRESETS))
def test_spec_round_trip_rebuilds_identical_models(name):
    torch.manual_seed(1)
    model = models.create(name, 1, lattice=16)
    spec = json.loads(json.dumps(models.model_spec(model)))  # as stored in a checkpoint
    twin = models.build_from_spec(spec)
    twin.load_state_dict(model.state_dict())
    assert _same_outputs(model, twin, (2, 1, 16, 16))
    assert models.model_spec(twin) == spec


def test_spec_of_a_directly_built_surrogate_model():
    model = UNet(1, base_channels=4, depth=1)
    spec = models.model_spec(model)
    assert spec["name"] == spec["class_path"] == "diffbench.models.unet:UNet"
    assert models.count_parameters(models.build_from_spec(spec)) == models.count_parameters(model)


def test_spec_of_a_plain_module_is_refused_with_advice():
    with pytest.raises(DiffbenchError, match="does not record its constructor arguments.*create"):
        models.model_spec(torch.nn.Conv2d(1, 1, 3))


def test_spec_looks_through_torch_compile_wrappers():
    model = models.create("cnn-small", 1)
    assert models.model_spec(torch.nn.DataParallel(model)) == models.model_spec(model)


def test_spec_refuses_arguments_json_cannot_store():
    model = models.create("fno-small", 1, non_linearity=torch.tanh)
    with pytest.raises(DiffbenchError, match="argument 'non_linearity'.*JSON"):
        models.model_spec(model)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"name": "x"}, "keys 'name', 'class_path' and 'init_args'"),
        ({"name": "x", "class_path": "diffbench.models.unet:Nope", "init_args": {}}, "has no attribute 'Nope'"),
        (
            {"name": "x", "class_path": "diffbench.models.unet:UNet", "init_args": {"in_channels": 1, "bogus": 2}},
            "could not be built",
        ),
    ],
)
def test_build_from_spec_errors(spec, message):
    with pytest.raises(DiffbenchError, match=message):
        models.build_from_spec(spec)


def test_count_parameters():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Conv2d(2, 1, 1))
    model[1].weight.requires_grad_(False)
    assert models.count_parameters(model) == 20 + 2 + 1
    assert models.count_parameters(model, trainable_only=True) == 20 + 1


@pytest.mark.parametrize("class_path", ["diffbench.models.unet:UNet", "diffbench.models.unet.UNet"])
def test_create_by_module_class_path(class_path):
    model = models.create(class_path, 2, base_channels=4, depth=2)
    assert isinstance(model, UNet)
    assert models.model_spec(model)["class_path"] == "diffbench.models.unet:UNet"
    with torch.no_grad():
        assert model(torch.rand(1, 2, 16, 16)).shape == (1, 1, 16, 16)


def test_create_by_file_class_path_passes_the_lattice_and_round_trips(tmp_path):
    path = tmp_path / "my_models.py"
    path.write_text(textwrap.dedent(FILE_MODEL))
    model = models.create(f"{path}:FieldNet", 1, lattice=24, width=3)
    assert model.lattice == 24
    spec = models.model_spec(model)
    assert spec["class_path"] == f"{path.resolve()}:FieldNet"
    assert spec["init_args"] == {"in_channels": 1, "out_channels": 1, "width": 3, "lattice": 24}
    twin = models.build_from_spec(spec)
    twin.load_state_dict(model.state_dict())
    assert _same_outputs(model, twin, (1, 1, 24, 24))


def test_create_by_file_factory(tmp_path):
    path = tmp_path / "factories.py"
    path.write_text(textwrap.dedent(FILE_MODEL))
    model = models.create(f"{path}:make_field_net", 1, lattice=16)  # the factory takes no lattice
    assert model.lattice is None
    assert models.model_spec(model)["class_path"].endswith("factories.py:make_field_net")


def test_create_by_class_path_on_sys_path(tmp_path, monkeypatch):
    (tmp_path / "user_models_on_path.py").write_text(textwrap.dedent(FILE_MODEL))
    monkeypatch.syspath_prepend(str(tmp_path))
    model = models.create("user_models_on_path:FieldNet", 3)
    assert models.model_spec(model)["class_path"] == "user_models_on_path:FieldNet"


def test_unknown_model_lists_the_valid_names():
    with pytest.raises(DiffbenchError) as error:
        models.create("unet-smal", 1)
    message = str(error.value)
    assert "unknown model 'unet-smal'" in message
    assert all(name in message for name in models.PRESETS)
    assert "path/to/file.py:ClassName" in message and "\n" not in message


@pytest.mark.parametrize(
    "name, message",
    [
        ("no_such_module_xyz:Net", "cannot import module 'no_such_module_xyz'"),
        ("diffbench.models.unet:NoSuchNet", "'diffbench.models.unet' has no attribute 'NoSuchNet'"),
        ("missing_dir/nets.py:Net", "model file 'missing_dir/nets.py' does not exist"),
        ("diffbench.models.cnn:PAPER_CHANNELS", "is a tuple, not a model class or factory"),
        (":Net", "malformed model class path"),
    ],
)
def test_bad_class_paths(name, message):
    with pytest.raises(DiffbenchError, match=message):
        models.create(name, 1)


def test_unknown_argument_lists_the_allowed_ones():
    with pytest.raises(DiffbenchError) as error:
        models.create("unet-small", 1, widht=3)
    assert "does not take argument(s) 'widht'" in str(error.value)
    assert "base_channels" in str(error.value) and "dropout" in str(error.value)


def test_constructor_errors_become_one_line_diffbench_errors():
    with pytest.raises(DiffbenchError, match=r"model 'unet-small' \(built-in\) could not be built with .*dropout=1.5"):
        models.create("unet-small", 1, dropout=1.5)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "1"])
def test_channel_and_lattice_arguments_are_validated(bad):
    with pytest.raises(DiffbenchError, match="in_channels must be a positive integer"):
        models.create("cnn-small", bad)
    with pytest.raises(DiffbenchError, match="lattice must be a positive integer"):
        models.create("cnn-small", 1, lattice=bad)


def test_spec_refuses_classes_defined_inside_functions():
    class Local(models.SurrogateModel):
        def __init__(self, in_channels, out_channels=1):
            super().__init__()
            self.conv = torch.nn.Conv2d(in_channels, out_channels, 1)

    with pytest.raises(DiffbenchError, match="defined inside a function"):
        models.model_spec(Local(1))


def test_surrogate_model_records_keyword_arguments_it_forwards():
    model = models.create("fno-small", 1, factorization="tucker", rank=0.5)
    spec = models.model_spec(model)
    assert spec["init_args"]["factorization"] == "tucker" and spec["init_args"]["rank"] == 0.5
    twin = models.build_from_spec(spec)
    twin.load_state_dict(model.state_dict())
    assert _same_outputs(model, twin, (1, 1, 16, 16))


def test_count_parameters_counts_complex_weights_twice_like_neuraloperator():
    from neuralop.utils import count_model_params

    model = models.create("fno-small", 1)
    assert any(p.is_complex() for p in model.parameters())
    assert models.count_parameters(model) == count_model_params(model)

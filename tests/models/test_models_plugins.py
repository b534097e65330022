"""Plugins from the ``diffbench.models`` entry-point group, working and broken.

Fake distributions (a ``*.dist-info`` folder with ``entry_points.txt`` in a temporary directory
on ``sys.path``) stand in for installed packages, so these tests never change the venv. One test
really builds and installs the example plugin package with pip, into a temporary target folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import diffbench
from diffbench import models
from diffbench.errors import DiffbenchError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "diffbench-plugin-example"

BROKEN_MODULES = {
    "import_error": """
        import no_such_dependency_of_this_plugin
    """,
    "nets": """
        import torch
        from torch import nn

        NOT_A_MODEL = 42


        class NoChannels(nn.Module):
            def __init__(self, width=3):
                super().__init__()


        class RaisesInInit(nn.Module):
            def __init__(self, in_channels, out_channels=1):
                super().__init__()
                raise RuntimeError("weights file missing")


        class HalfResolution(nn.Module):
            def __init__(self, in_channels, out_channels=1):
                super().__init__()
                self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)

            def forward(self, x):
                return self.conv(x)


        class FailsInForward(nn.Module):
            def __init__(self, in_channels, out_channels=1):
                super().__init__()
                self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

            def forward(self, x):
                raise ValueError("this plugin forgot to implement forward\\nsecond line")


        def returns_a_string(in_channels, out_channels=1):
            return "not a module"
    """,
}


@pytest.fixture
def broken_plugins(fake_site, good_plugin):
    """One fake package with a working model and one entry per kind of breakage."""
    good_module = good_plugin("fine-net")
    importer, nets = fake_site.module_name("import_error"), fake_site.module_name("nets")
    fake_site.add(
        "broken-plugins",
        "0.3.1",
        {
            "bad-import": f"{importer}:Net",
            "bad-missing": f"{nets}:DoesNotExist",
            "bad-not-callable": f"{nets}:NOT_A_MODEL",
            "bad-signature": f"{nets}:NoChannels",
            "bad-init": f"{nets}:RaisesInInit",
            "bad-shape": f"{nets}:HalfResolution",
            "bad-forward": f"{nets}:FailsInForward",
            "bad-return": f"{nets}:returns_a_string",
            "unet": f"{good_module}:GoodNet",  # clashes with a built-in preset
        },
        {importer: BROKEN_MODULES["import_error"], nets: BROKEN_MODULES["nets"]},
    )
    return fake_site


def test_a_working_plugin_is_listed_with_its_package_and_builds(good_plugin):
    module = good_plugin("fine-net")
    info = {i.name: i for i in models.list_models()}["fine-net"]
    assert (info.kind, info.package, info.version, info.error) == ("plugin", "good-plugin", "1.0.0", None)
    assert info.class_path == f"{module}:GoodNet"
    assert info.description == "A 3x3 convolution: a working plugin model."
    model = models.create("fine-net", 3, width=2, lattice=16)  # GoodNet takes no lattice: not passed
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 1, 16, 16)
    assert models.describe_model("fine-net") == "plugin model 'fine-net' (package good-plugin 1.0.0)"
    assert "fine-net" in models.model_names()


def test_a_plugin_spec_round_trips(good_plugin):
    good_plugin("fine-net")
    model = models.create("fine-net", 1, width=3)
    spec = models.model_spec(model)
    assert spec["name"] == "fine-net"
    assert spec["init_args"] == {"in_channels": 1, "out_channels": 1, "width": 3}
    twin = models.build_from_spec(spec)
    twin.load_state_dict(model.state_dict())
    x = torch.rand(1, 1, 8, 8)
    assert torch.equal(model(x), twin(x))


def test_broken_plugins_are_listed_with_their_errors_without_hiding_the_others(broken_plugins):
    infos = models.list_models()
    built_ins = [info for info in infos if info.kind == "built-in"]
    assert [info.name for info in built_ins] == list(models.PRESETS)
    assert all(info.error is None for info in built_ins)
    errors = {info.name: info.error for info in infos if info.kind == "plugin"}
    assert errors["fine-net"] is None
    for name in ("bad-import", "bad-missing", "bad-not-callable"):
        assert f"plugin model '{name}' (package broken-plugins 0.3.1)" in errors[name]
        assert "\n" not in errors[name]
    assert (
        "cannot import module" in errors["bad-import"] and "no_such_dependency_of_this_plugin" in errors["bad-import"]
    )
    assert "has no attribute 'DoesNotExist'" in errors["bad-missing"]
    assert "is a int, not an nn.Module class or a factory function" in errors["bad-not-callable"]
    assert "clashes with the built-in model 'unet'" in errors["unet"]
    # constructor and forward problems only show when the model is built or run
    for name in ("bad-signature", "bad-init", "bad-shape", "bad-forward", "bad-return"):
        assert errors[name] is None


@pytest.mark.parametrize(
    "name, message",
    [
        ("bad-import", r"cannot import module '\w+' of entry point '\w+:Net': ModuleNotFoundError: No module named"),
        ("bad-missing", r"module '\w+' has no attribute 'DoesNotExist'"),
        ("bad-not-callable", r"entry point '\w+:NOT_A_MODEL' is a int"),
        ("bad-signature", r"does not take argument\(s\) 'in_channels', 'out_channels'; it takes width"),
        ("bad-init", r"could not be built with in_channels=1, out_channels=1: RuntimeError: weights file missing"),
        ("bad-return", r"returned a str, not a torch.nn.Module"),
    ],
)
def test_broken_plugins_fail_to_build_with_one_line_naming_plugin_and_package(broken_plugins, name, message):
    with pytest.raises(DiffbenchError, match=message) as error:
        models.create(name, 1)
    assert str(error.value).startswith(f"plugin model '{name}' (package broken-plugins 0.3.1)")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "name, message",
    [
        (
            "bad-shape",
            r"failed the output shape check: input \(2, 1, 16, 16\) gave output \(2, 1, 8, 8\); "
            r"expected \(2, 1, 16, 16\)",
        ),
        (
            "bad-forward",
            r"failed the forward check: the forward pass on input \(2, 1, 16, 16\) raised ValueError: "
            r"this plugin forgot to implement forward second line",
        ),
    ],
)
def test_plugins_that_run_wrongly_fail_check_model_naming_plugin_and_package(broken_plugins, name, message):
    with pytest.raises(DiffbenchError, match=message) as error:
        models.check_model(name, 1, 16)
    assert str(error.value).startswith(f"plugin model '{name}' (package broken-plugins 0.3.1) failed")
    assert "\n" not in str(error.value)


def test_a_plugin_named_like_a_built_in_never_replaces_it(broken_plugins):
    assert type(models.create("unet", 1)).__name__ == "UNet"


def test_two_packages_registering_one_name_is_an_error(good_plugin):
    good_plugin("twin-net", package="first-package")
    good_plugin("twin-net", package="second-package")
    with pytest.raises(DiffbenchError, match="also registered by"):
        models.create("twin-net", 1)
    errors = [info.error for info in models.list_models() if info.name == "twin-net"]
    assert len(errors) == 2 and all("also registered by" in error for error in errors)


def test_unknown_model_message_lists_plugins_too(good_plugin):
    good_plugin("fine-net")
    with pytest.raises(DiffbenchError, match="plugins: fine-net"):
        models.create("no-such-model", 1)


def test_the_example_plugin_package_installs_with_pip_and_works(tmp_path, monkeypatch):
    source, target = tmp_path / "source", tmp_path / "site"
    # a copy: setuptools writes build/ and *.egg-info beside the sources it builds
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    monkeypatch.syspath_prepend(str(target))
    try:
        infos = {info.name: info for info in models.list_models()}
        for name in ("example-convnet", "example-convnet-wide"):
            info = infos[name]
            assert (info.kind, info.package, info.version, info.error) == (
                "plugin",
                "diffbench-plugin-example",
                "0.1.0",
                None,
            )
        report = models.check_model("example-convnet", 1, 32, overrides={"hidden_channels": 4})
        assert report.passed
        assert models.check_model("example-convnet-wide", 3, 16).passed
        spec = models.model_spec(models.create("example-convnet-wide", 1))  # a factory: init_args say little
        assert spec["package"] == {"name": "diffbench-plugin-example", "version": "0.1.0"}
    finally:
        for module in [m for m in sys.modules if m.startswith("diffbench_plugin_example")]:
            del sys.modules[module]


MISBEHAVING = {
    "exits_on_import": """
        import sys

        sys.exit(3)
    """,
    "misbehaving": """
        import sys

        from torch import nn


        class ExitsInInit(nn.Module):
            def __init__(self, in_channels, out_channels=1):
                super().__init__()
                sys.exit(4)


        class ExitsInForward(nn.Module):
            def __init__(self, in_channels, out_channels=1):
                super().__init__()
                self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

            def forward(self, x):
                raise SystemExit("bye")


        def factory(in_channels, out_channels=1, width=4):
            '''A factory entry point: a 3x3 convolution.'''
            return nn.Conv2d(in_channels, out_channels, 3, padding=1)
    """,
}


@pytest.fixture
def exiting_plugins(fake_site, good_plugin):
    """A working plugin beside plugins that call ``sys.exit`` on import, in ``__init__`` and in ``forward``."""
    good_plugin("fine-net")
    exits, misbehaving = fake_site.module_name("exits_on_import"), fake_site.module_name("misbehaving")
    fake_site.add(
        "exiting-plugins",
        "2.0.0",
        {
            "exit-on-import": f"{exits}:Net",
            "exit-in-init": f"{misbehaving}:ExitsInInit",
            "exit-in-forward": f"{misbehaving}:ExitsInForward",
            "a-factory": f"{misbehaving}:factory",
        },
        {exits: MISBEHAVING["exits_on_import"], misbehaving: MISBEHAVING["misbehaving"]},
    )
    return fake_site


def test_a_plugin_that_exits_on_import_is_listed_as_broken_and_hides_nothing(exiting_plugins):
    infos = {info.name: info for info in models.list_models()}
    assert infos["fine-net"].error is None and infos["cnn-small"].error is None
    error = infos["exit-on-import"].error
    assert error.startswith("plugin model 'exit-on-import' (package exiting-plugins 2.0.0)")
    assert "SystemExit: 3" in error and "\n" not in error


@pytest.mark.parametrize(
    "name, message",
    [
        ("exit-on-import", r"cannot import module '\w+' of entry point '\w+:Net': SystemExit: 3"),
        ("exit-in-init", r"could not be built with in_channels=1, out_channels=1: SystemExit: 4"),
    ],
)
def test_a_plugin_that_exits_is_a_one_line_error_naming_it(exiting_plugins, name, message):
    with pytest.raises(DiffbenchError, match=message) as error:
        models.create(name, 1)
    assert str(error.value).startswith(f"plugin model '{name}' (package exiting-plugins 2.0.0)")
    assert "\n" not in str(error.value)


def test_a_plugin_that_exits_in_forward_fails_check_model_with_one_line(exiting_plugins):
    with pytest.raises(DiffbenchError, match=r"failed the forward check: .* raised SystemExit: bye"):
        models.check_model("exit-in-forward", 1, 16)


def test_building_a_built_in_imports_no_plugin(exiting_plugins):
    exits = next(name for name in exiting_plugins.module_names if name.startswith("exits_on_import"))
    net = models.create("cnn-small", 1, lattice=16)
    assert models.model_origin(models.model_spec(net)) == {
        "name": "cnn-small",
        "kind": "built-in",
        "package": "diffbench",
        "version": diffbench.__version__,
    }
    models.check_output(net, 1, 16)
    assert models.model_names().count("exit-on-import") == 1 and models.describe_model("exit-on-import")
    assert exits not in sys.modules


def test_a_plugin_spec_records_its_package_and_version(exiting_plugins):
    net = models.create("a-factory", 1, width=2)
    spec = models.model_spec(net)
    assert spec["package"] == {"name": "exiting-plugins", "version": "2.0.0"}
    assert spec["init_args"] == {"in_channels": 1, "out_channels": 1, "width": 2}
    assert models.model_origin(spec) == {
        "name": "a-factory",
        "kind": "plugin",
        "package": "exiting-plugins",
        "version": "2.0.0",
    }
    twin = models.build_from_spec(spec)
    assert models.model_spec(twin) == spec


def test_a_spec_whose_package_is_missing_names_what_to_install():
    spec = {
        "name": "gone-net",
        "class_path": "gone_net_module_that_is_not_installed:GoneNet",
        "init_args": {"in_channels": 1, "out_channels": 1},
        "package": {"name": "gone-net", "version": "1.2.3"},
    }
    with pytest.raises(
        DiffbenchError, match=r"package gone-net 1\.2\.3, which is not installed: pip install 'gone-net==1\.2\.3'"
    ):
        models.build_from_spec(spec)
    with pytest.raises(DiffbenchError, match=r"'package' must be"):
        models.build_from_spec({**spec, "package": "gone-net"})


def test_specs_without_a_package_still_load():
    old = {
        "name": "unet-small",
        "class_path": "diffbench.models.unet:UNet",
        "init_args": {"in_channels": 1, "out_channels": 1, "base_channels": 4, "depth": 2},
    }
    net = models.build_from_spec(old)
    assert models.model_spec(net) == old
    assert "package" not in models.model_spec(models.create("unet-small", 1))
    assert models.model_origin(old)["kind"] == "built-in"
    assert models.model_origin({"name": "x:Y", "class_path": "x:Y", "init_args": {}}) == {
        "name": "x:Y",
        "kind": "class-path",
        "package": None,
        "version": None,
    }


SPAWNS_AND_HANGS = """
    import subprocess
    import sys
    import time

    from torch import nn


    class SpawnsAndHangs(nn.Module):
        def __init__(self, in_channels, out_channels=1):
            super().__init__()
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            with open({pid_file!r}, "w") as f:
                f.write(str(child.pid))
            time.sleep(600)
"""


def test_a_hanging_plugin_is_stopped_with_what_it_spawned(fake_site, good_plugin, tmp_path):
    good_plugin("fine-net")
    pid_file = tmp_path / "grandchild.pid"
    module = fake_site.module_name("spawns")
    fake_site.add(
        "spawning-plugin",
        "0.1",
        {"spawns": f"{module}:SpawnsAndHangs"},
        {module: SPAWNS_AND_HANGS.replace("{pid_file!r}", repr(str(pid_file)))},
    )
    rows = {row["name"]: row for row in models.survey_plugins(1, 16, timeout=8)}
    assert rows["fine-net"]["error"] is None and rows["fine-net"]["parameters"] > 0
    assert rows["spawns"]["error"] == (
        "plugin model 'spawns' (package spawning-plugin 0.1) did not finish within 8 s (--timeout): "
        "importing, building or checking it hangs or needs more time on this machine"
    )
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # killed with its process group; reaped by init shortly after
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        if _is_zombie(grandchild):
            break
        time.sleep(0.1)
    else:
        os.kill(grandchild, 9)
        pytest.fail("the plugin's own child process outlived the time limit")
    assert module not in sys.modules  # the survey ran it in a child process only


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False

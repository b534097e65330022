"""A built model's spec: the JSON recipe that records how it was built (:func:`model_spec`),
rebuilds it without the registry's help (:func:`build_from_spec`) and names who provides it
without importing any plugin (:func:`model_origin`). Name resolution is
:mod:`diffbench.models.registry`'s; it records a spec on each model it builds (:func:`record_spec`)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

import diffbench
from diffbench.errors import DiffbenchError
from diffbench.models.base import SurrogateModel
from diffbench.models.classpath import import_object, one_line, path_of, reraise_interrupt
from diffbench.models.plugins import discover_plugins
from diffbench.models.presets import BUILT_IN, PLUGIN, PRESETS


def model_spec(model: nn.Module) -> dict[str, Any]:
    """The JSON-serialisable recipe that rebuilds ``model``: ``{"name", "class_path", "init_args"}``.

    A plugin's spec also holds ``"package": {"name", "version"}``, the distribution that provides
    it (what to ``pip install`` before the spec can be rebuilt); built-ins and class paths have none.

    Works for anything built by :func:`create` or :func:`build_from_spec`, and for any
    :class:`~diffbench.models.base.SurrogateModel`; ``torch.compile`` and ``DataParallel``
    wrappers are looked through. Store it beside the state dict; :func:`build_from_spec` then
    rebuilds the architecture alone.

    Raises
    ------
    DiffbenchError
        If the model does not record its arguments, or an argument is not JSON-serialisable.

    Examples
    --------
    >>> from diffbench.models import create
    >>> spec = model_spec(create("unet-small", 1))
    >>> spec["name"], spec["class_path"], spec["init_args"]["base_channels"]
    ('unet-small', 'diffbench.models.unet:UNet', 16)
    """
    model = unwrap_model(model)
    spec = model.__dict__.get("_diffbench_spec")
    if spec is None:
        if not isinstance(model, SurrogateModel):
            raise DiffbenchError(
                f"{type(model).__name__} does not record its constructor arguments: build it with "
                "diffbench.models.create(...) or subclass diffbench.models.SurrogateModel"
            )
        class_path = path_of(type(model))
        spec = {"name": class_path, "class_path": class_path, "init_args": model.init_args}
    if "<locals>" in spec["class_path"]:
        raise DiffbenchError(
            f"model class '{spec['class_path']}' is defined inside a function and cannot be rebuilt "
            "from a spec; define it at module level"
        )
    for key, value in spec["init_args"].items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise DiffbenchError(
                f"argument '{key}' of model '{spec['name']}' is a {type(value).__name__}, which JSON cannot "
                "store; model arguments must be numbers, strings, booleans, None, lists or dicts"
            ) from exc
    return json.loads(json.dumps(spec))


def build_from_spec(spec: Mapping[str, Any]) -> nn.Module:
    """Rebuild a model (fresh weights) from :func:`model_spec`'s output.

    Parameters
    ----------
    spec : Mapping
        ``{"name": str, "class_path": str, "init_args": dict}``, optionally with
        ``"package": {"name": str, "version": str}`` (a plugin's distribution).

    Returns
    -------
    torch.nn.Module
        The model; load the saved state dict into it.

    Raises
    ------
    DiffbenchError
        A malformed spec, a class path that cannot be imported (naming the package and version
        to install when the spec records one), or a constructor that fails.

    Examples
    --------
    >>> import torch
    >>> from diffbench.models import create
    >>> model = create("fno-small", 1)
    >>> twin = build_from_spec(model_spec(model))
    >>> _ = twin.load_state_dict(model.state_dict())
    >>> x = torch.rand(1, 1, 16, 16)
    >>> torch.equal(model(x), twin(x))
    True
    """
    if not isinstance(spec, Mapping) or not {"name", "class_path", "init_args"} <= set(spec):
        raise DiffbenchError(
            f"a model spec must be a mapping with keys 'name', 'class_path' and 'init_args', got {spec!r:.200}"
        )
    if not isinstance(spec["init_args"], Mapping) or not isinstance(spec["class_path"], str):
        raise DiffbenchError(f"model spec '{spec['name']}': 'class_path' must be a string and 'init_args' a mapping")
    package = spec_package(spec)
    label = f"model '{spec['name']}' (class path '{spec['class_path']}')"
    try:
        constructor = import_object(spec["class_path"])
    except DiffbenchError as exc:
        if package is not None:
            raise DiffbenchError(f"cannot rebuild {label} from its spec: {package_hint(package)}; {exc}") from exc
        raise DiffbenchError(f"cannot rebuild {label} from its spec: {exc}") from exc
    kwargs = copy.deepcopy(dict(spec["init_args"]))
    model = construct(label, constructor, kwargs)
    model._diffbench_spec = {"name": spec["name"], "class_path": spec["class_path"], "init_args": kwargs}
    if package is not None:
        model._diffbench_spec["package"] = dict(package)
    return model


def model_origin(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Who provides the model a spec describes: ``{"name", "kind", "package", "version"}``; imports nothing.

    ``kind`` is ``"built-in"`` (package ``diffbench``), ``"plugin"`` (the distribution recorded in
    the spec, or for a spec written before specs recorded it, the installed entry point of that
    name) or ``"class-path"`` (package and version None). Reading entry-point metadata imports no
    plugin, so a run of a built-in is never affected by a broken plugin.

    Examples
    --------
    >>> from diffbench.models import create
    >>> model_origin(model_spec(create("unet-small", 1)))["kind"]
    'built-in'
    >>> model_origin({"name": "net", "class_path": "pkg:Net", "init_args": {},
    ...               "package": {"name": "my-pkg", "version": "1.0"}})
    {'name': 'net', 'kind': 'plugin', 'package': 'my-pkg', 'version': '1.0'}
    """
    name = spec.get("name") or spec.get("class_path")
    preset = PRESETS.get(name) if isinstance(name, str) else None
    if preset is not None and spec.get("class_path") == preset.class_path:
        return {"name": name, "kind": BUILT_IN, "package": "diffbench", "version": diffbench.__version__}
    package = spec_package(spec)
    if package is not None:
        return {"name": name, "kind": PLUGIN, "package": package["name"], "version": package["version"]}
    entries = [entry for entry in discover_plugins() if entry.name == name and entry.value == spec.get("class_path")]
    if len(entries) == 1:
        return {"name": name, "kind": PLUGIN, "package": entries[0].package, "version": entries[0].version}
    return {"name": name, "kind": "class-path", "package": None, "version": None}


def construct(label: str, constructor: Callable[..., Any], kwargs: Mapping[str, Any]) -> nn.Module:
    """``constructor(**kwargs)``, any failure a one-line :class:`DiffbenchError` naming ``label``."""
    arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    try:
        model = constructor(**kwargs)
    except BaseException as exc:  # SystemExit included: a constructor must not end diffbench
        reraise_interrupt(exc)
        raise DiffbenchError(f"{label} could not be built with {arguments}: {one_line(exc)}") from exc
    if not isinstance(model, nn.Module):
        raise DiffbenchError(f"{label} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def record_spec(
    model: nn.Module,
    name: str,
    constructor: Callable[..., Any],
    kwargs: Mapping[str, Any],
    package: Mapping[str, str] | None = None,
) -> None:
    """Record on ``model`` the spec that rebuilds it (what :func:`model_spec` returns)."""
    if isinstance(model, SurrogateModel) and type(model) is constructor:
        init_args = model.init_args  # every argument, defaults included: pins today's defaults
    else:
        init_args = copy.deepcopy(dict(kwargs))
    model._diffbench_spec = {"name": name, "class_path": path_of(constructor), "init_args": init_args}
    if package is not None:
        model._diffbench_spec["package"] = dict(package)


def spec_package(spec: Mapping[str, Any]) -> Mapping[str, str] | None:
    """A spec's ``package`` entry, checked; None when the spec has none (built-ins, class paths, old specs)."""
    package = spec.get("package")
    if package is None:
        return None
    if (
        not isinstance(package, Mapping)
        or set(package) != {"name", "version"}
        or not all(isinstance(package[key], str) and package[key] for key in ("name", "version"))
    ):
        raise DiffbenchError(
            f"model spec '{spec.get('name')}': 'package' must be a mapping "
            f"{{'name': str, 'version': str}}, got {package!r:.200}"
        )
    return package


def package_hint(package: Mapping[str, str]) -> str:
    """What to install for a spec's package, or how the installed version differs."""
    from importlib import metadata

    name, version = package["name"], package["version"]
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        return f"it needs package {name} {version}, which is not installed: pip install '{name}=={version}'"
    if installed != version:
        return f"it was built with package {name} {version}, {installed} is installed: pip install '{name}=={version}'"
    return f"it needs package {name} {version} (installed)"


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside ``torch.compile``, ``DataParallel`` and ``DistributedDataParallel`` wrappers."""
    while True:
        inner = getattr(model, "_orig_mod", None)  # torch.compile
        if inner is None and isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            inner = model.module
        if inner is None:
            return model
        model = inner

"""Named model presets, plugins and class paths: build a model by name, record and rebuild it.

Every model maps ``(B, C_in, N, N)`` to ``(B, out_channels, N, N)`` and is built as
``constructor(in_channels=..., out_channels=..., **kwargs)``. A name resolves, in this order, to

1. a built-in preset (:data:`PRESETS`; stable names that leaderboard rows quote),
2. a plugin: an entry point of the ``diffbench.models`` group (see :mod:`diffbench.models.plugins`),
3. a class path: ``"pkg.module:ClassName"``, ``"pkg.module.ClassName"`` or ``"path/to/file.py:ClassName"``.

A constructor whose signature has a ``lattice`` parameter also receives the lattice size N (the
ED-CNN uses it to choose its depth); others never see it. The arguments a model was built with
are recorded with it, so :func:`model_spec` / :func:`build_from_spec` rebuild it without the
registry's help; a spec holds the lattice too, and a plugin's spec names the distribution (and
version) that provides it, so a checkpoint says what to ``pip install``.

Plugin code runs only when it is asked for: a built-in name never imports an entry point, and
:func:`model_origin` tells a built model's provenance from its spec without importing anything.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

import diffbench
from diffbench.errors import DiffbenchError
from diffbench.models.base import SurrogateModel
from diffbench.models.classpath import (
    CLASS_PATH_FORMS,
    import_object,
    looks_like_class_path,
    one_line,
    path_of,
    reraise_interrupt,
)
from diffbench.models.plugins import (
    PluginEntry,
    describe_plugin,
    discover_plugins,
    load_plugin,
)
from diffbench.models.presets import BUILT_IN, CLASS_PATH, PLUGIN, PRESETS, Preset  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class ModelInfo:
    """One row of :func:`list_models`.

    Attributes
    ----------
    name : str
        What to pass to :func:`create`.
    kind : str
        ``"built-in"`` or ``"plugin"``.
    description : str
        One line (a plugin's is the first line of its docstring).
    package, version : str
        The distribution that provides the model (``diffbench`` for built-ins).
    class_path : str
        ``"module:attribute"`` of the constructor.
    error : str or None
        Why a plugin cannot be used (import error, missing object, name clash), else None.
    """

    name: str
    kind: str
    description: str
    package: str
    version: str
    class_path: str
    error: str | None = None


@dataclass(frozen=True)
class _Resolved:
    """What a model name resolves to."""

    name: str
    kind: str
    label: str
    constructor: Callable[..., Any]
    kwargs: Mapping[str, Any]
    package: Mapping[str, str] | None = None


def list_models() -> list[ModelInfo]:
    """The built-in presets, then the plugins, each with its package; broken plugins carry an error.

    Importing a plugin is how its errors are found, so this imports every plugin module, in this
    process; a plugin that fails (``sys.exit()`` included) is listed with ``error`` set and never
    hides the others. A plugin that hangs on import hangs this call:
    :func:`~diffbench.models.isolation.survey_plugins` (what ``diffbench models`` uses) imports and
    builds them in a child process with a time limit, and :func:`model_origin` names a built
    model's package without importing any plugin.

    Examples
    --------
    >>> [info.name for info in list_models() if info.kind == "built-in"][:2]
    ['cnn', 'cnn-small']
    """
    infos = [
        ModelInfo(p.name, BUILT_IN, p.description, "diffbench", diffbench.__version__, p.class_path)
        for p in PRESETS.values()
    ]
    plugins = discover_plugins()
    for entry in plugins:
        description, error = "", plugin_name_problem(entry, plugins)
        if error is None:
            try:
                description = first_line(inspect.getdoc(load_plugin(entry)))
            except DiffbenchError as exc:
                error = str(exc)
        infos.append(ModelInfo(entry.name, PLUGIN, description, entry.package, entry.version, entry.value, error))
    return infos


def model_names() -> list[str]:
    """The names :func:`create` accepts: the presets and the plugins (working or not).

    Examples
    --------
    >>> "unet-small" in model_names()
    True
    """
    return list(PRESETS) + sorted({entry.name for entry in discover_plugins()} - set(PRESETS))


def describe_model(name: str) -> str:
    """How messages name a model: ``"model 'unet' (built-in)"``, a plugin with its package, or a class path.

    Examples
    --------
    >>> describe_model("unet")
    "model 'unet' (built-in)"
    """
    if name in PRESETS:
        return f"model '{name}' ({BUILT_IN})"
    return describe_plugin(name)


def create(
    name: str,
    in_channels: int,
    out_channels: int = 1,
    *,
    lattice: int | None = None,
    **overrides: Any,
) -> nn.Module:
    """Build a model by preset name, plugin name or class path.

    Parameters
    ----------
    name : str
        A preset (``"unet-small"``), a plugin's entry-point name, or a class path
        ``"pkg.module:ClassName"`` / ``"pkg.module.ClassName"`` / ``"path/to/file.py:ClassName"``.
    in_channels : int
        Input channels, from the task (1 for a source map; more for tasks with extra channels).
    out_channels : int
        Output channels (1: the stationary field).
    lattice : int, optional
        The lattice size N, passed on to constructors that take a ``lattice`` argument (the
        ED-CNN chooses its number of poolings from it) and ignored by the others.
    **overrides
        Constructor arguments that replace or extend the preset's (e.g. ``dropout=0.1``).

    Returns
    -------
    torch.nn.Module
        The model, in training mode, with its spec recorded (see :func:`model_spec`).

    Raises
    ------
    DiffbenchError
        Unknown name (the message lists the valid ones), unknown argument (it lists the allowed
        ones), a plugin that cannot be imported, or a constructor that fails.

    Examples
    --------
    >>> import torch
    >>> model = create("cnn-small", in_channels=1, lattice=32)
    >>> model(torch.zeros(2, 1, 32, 32)).shape
    torch.Size([2, 1, 32, 32])
    >>> create("unet-small", 3, dropout=0.1).init_args["dropout"]
    0.1
    """
    _check_positive_int("in_channels", in_channels)
    _check_positive_int("out_channels", out_channels)
    if lattice is not None:
        _check_positive_int("lattice", lattice)
    resolved = _resolve(name)
    kwargs: dict[str, Any] = {"in_channels": in_channels, "out_channels": out_channels}
    kwargs.update(copy.deepcopy(dict(resolved.kwargs)))
    kwargs.update(overrides)
    parameters = _parameters(resolved.constructor)
    if lattice is not None and parameters is not None and "lattice" in parameters:
        kwargs["lattice"] = lattice
    _check_arguments(resolved.label, kwargs, parameters)
    model = _construct(resolved.label, resolved.constructor, kwargs)
    _record_spec(model, resolved.name, resolved.constructor, kwargs, resolved.package)
    return model


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
    >>> spec = model_spec(create("unet-small", 1))
    >>> spec["name"], spec["class_path"], spec["init_args"]["base_channels"]
    ('unet-small', 'diffbench.models.unet:UNet', 16)
    """
    model = _unwrap(model)
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
    >>> model = create("fno-small", 1)
    >>> twin = build_from_spec(model_spec(model))
    >>> _ = twin.load_state_dict(model.state_dict())
    >>> x = torch.rand(1, 1, 16, 16)
    >>> torch.equal(model(x), twin(x))
    True
    """
    if not isinstance(spec, Mapping) or not {"name", "class_path", "init_args"} <= set(spec):
        raise DiffbenchError(
            "a model spec must be a mapping with keys 'name', 'class_path' and 'init_args', "
            f"got {spec!r:.200}"
        )
    if not isinstance(spec["init_args"], Mapping) or not isinstance(spec["class_path"], str):
        raise DiffbenchError(
            f"model spec '{spec['name']}': 'class_path' must be a string and 'init_args' a mapping"
        )
    package = _spec_package(spec)
    label = f"model '{spec['name']}' (class path '{spec['class_path']}')"
    try:
        constructor = import_object(spec["class_path"])
    except DiffbenchError as exc:
        if package is not None:
            raise DiffbenchError(f"cannot rebuild {label} from its spec: {_package_hint(package)}; {exc}") from exc
        raise DiffbenchError(f"cannot rebuild {label} from its spec: {exc}") from exc
    kwargs = copy.deepcopy(dict(spec["init_args"]))
    model = _construct(label, constructor, kwargs)
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
    package = _spec_package(spec)
    if package is not None:
        return {"name": name, "kind": PLUGIN, "package": package["name"], "version": package["version"]}
    entries = [entry for entry in discover_plugins() if entry.name == name and entry.value == spec.get("class_path")]
    if len(entries) == 1:
        return {"name": name, "kind": PLUGIN, "package": entries[0].package, "version": entries[0].version}
    return {"name": name, "kind": "class-path", "package": None, "version": None}


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """The number of real parameter values in ``model`` (only those with ``requires_grad`` if asked).

    A complex parameter (the FNO's spectral weights) counts twice, real and imaginary part, as
    neuraloperator's ``count_model_params`` counts it.

    Examples
    --------
    >>> count_parameters(nn.Conv2d(1, 4, 3))
    40
    """
    return sum(
        p.numel() * (2 if p.is_complex() else 1) for p in model.parameters() if p.requires_grad or not trainable_only
    )


def _resolve(name: str) -> _Resolved:
    if not isinstance(name, str) or not name:
        raise DiffbenchError(f"a model name must be a non-empty string, got {name!r}")
    if name in PRESETS:
        preset = PRESETS[name]
        return _Resolved(name, BUILT_IN, describe_model(name), import_object(preset.class_path), preset.kwargs)
    plugins = discover_plugins()
    entries = [entry for entry in plugins if entry.name == name]
    if entries:
        problem = plugin_name_problem(entries[0], plugins)
        if problem is not None:
            raise DiffbenchError(problem)
        entry = entries[0]
        package = {"name": entry.package, "version": entry.version}
        return _Resolved(name, PLUGIN, entry.label, load_plugin(entry), {}, package)
    if looks_like_class_path(name):
        constructor = import_object(name)
        if not callable(constructor):
            raise DiffbenchError(f"'{name}' is a {type(constructor).__name__}, not a model class or factory")
        return _Resolved(path_of(constructor), CLASS_PATH, describe_model(name), constructor, {})
    valid = ", ".join(PRESETS)
    plugin_names = sorted({entry.name for entry in plugins})
    if plugin_names:
        valid += "; plugins: " + ", ".join(plugin_names)
    raise DiffbenchError(f"unknown model '{name}': choose one of {valid}; or give a class path {CLASS_PATH_FORMS}")


def plugin_name_problem(entry: PluginEntry, plugins: list[PluginEntry]) -> str | None:
    """Why a plugin's name cannot be used: it clashes with a preset or with another plugin."""
    if entry.name in PRESETS:
        return (
            f"{entry.label}: the name clashes with the built-in model '{entry.name}', which takes "
            "precedence; rename the entry point"
        )
    rivals = sorted({f"{e.package} {e.version}" for e in plugins if e.name == entry.name and e != entry})
    if rivals:
        return (
            f"{entry.label}: the name is also registered by {', '.join(rivals)}; "
            "uninstall one, or build it by class path"
        )
    return None


def _parameters(constructor: Callable[..., Any]) -> Mapping[str, inspect.Parameter] | None:
    """The constructor's parameters (``self`` excluded), or None if Python cannot tell."""
    try:
        if inspect.isclass(constructor):
            parameters = list(inspect.signature(constructor.__init__).parameters.values())[1:]
        else:
            parameters = list(inspect.signature(constructor).parameters.values())
    except (TypeError, ValueError):
        return None
    return {p.name: p for p in parameters}


def _check_arguments(label: str, kwargs: Mapping[str, Any], parameters: Mapping[str, inspect.Parameter] | None) -> None:
    if parameters is None or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [
        p.name
        for p in parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    unknown = [key for key in kwargs if key not in accepted]
    if unknown:
        raise DiffbenchError(
            f"{label} does not take argument(s) {', '.join(map(repr, unknown))}; it takes {', '.join(accepted)}"
        )


def _construct(label: str, constructor: Callable[..., Any], kwargs: Mapping[str, Any]) -> nn.Module:
    arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    try:
        model = constructor(**kwargs)
    except BaseException as exc:  # SystemExit included: a constructor must not end diffbench
        reraise_interrupt(exc)
        raise DiffbenchError(f"{label} could not be built with {arguments}: {one_line(exc)}") from exc
    if not isinstance(model, nn.Module):
        raise DiffbenchError(f"{label} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _record_spec(
    model: nn.Module,
    name: str,
    constructor: Callable[..., Any],
    kwargs: Mapping[str, Any],
    package: Mapping[str, str] | None = None,
) -> None:
    if isinstance(model, SurrogateModel) and type(model) is constructor:
        init_args = model.init_args  # every argument, defaults included: pins today's defaults
    else:
        init_args = copy.deepcopy(dict(kwargs))
    model._diffbench_spec = {"name": name, "class_path": path_of(constructor), "init_args": init_args}
    if package is not None:
        model._diffbench_spec["package"] = dict(package)


def _spec_package(spec: Mapping[str, Any]) -> Mapping[str, str] | None:
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


def _package_hint(package: Mapping[str, str]) -> str:
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


def _unwrap(model: nn.Module) -> nn.Module:
    while True:
        inner = getattr(model, "_orig_mod", None)  # torch.compile
        if inner is None and isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            inner = model.module
        if inner is None:
            return model
        model = inner


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DiffbenchError(f"{name} must be a positive integer, got {value!r}")


def first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""

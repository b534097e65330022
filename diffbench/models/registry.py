"""Named model presets, plugins and class paths: build a model by name, record and rebuild it.

Every model maps ``(B, C_in, N, N)`` to ``(B, out_channels, N, N)`` and is built as
``constructor(in_channels=..., out_channels=..., **kwargs)``. A name resolves, in this order, to

1. a built-in preset (:data:`PRESETS`; stable names that leaderboard rows quote),
2. a plugin: an entry point of the ``diffbench.models`` group (see :mod:`diffbench.models.plugins`),
3. a class path: ``"pkg.module:ClassName"``, ``"pkg.module.ClassName"`` or ``"path/to/file.py:ClassName"``.

A constructor whose signature has a ``lattice`` parameter also receives the lattice size N (the
ED-CNN uses it to choose its depth); others never see it. The arguments a model was built with
are recorded with it, so :func:`~diffbench.models.spec.model_spec` /
:func:`~diffbench.models.spec.build_from_spec` (:mod:`diffbench.models.spec`) rebuild it without the
registry's help; a spec holds the lattice too, and a plugin's spec names the distribution (and
version) that provides it, so a checkpoint says what to ``pip install``.

Plugin code runs only when it is asked for: a built-in name never imports an entry point, and
:func:`~diffbench.models.spec.model_origin` tells a built model's provenance from its spec without importing anything.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

import diffbench
from diffbench.errors import DiffbenchError
from diffbench.models.classpath import CLASS_PATH_FORMS, import_object, looks_like_class_path, path_of
from diffbench.models.plugins import (
    PluginEntry,
    describe_plugin,
    discover_plugins,
    load_plugin,
)
from diffbench.models.presets import BUILT_IN, CLASS_PATH, PLUGIN, PRESETS, Preset  # noqa: F401  (re-exported)
from diffbench.models.spec import construct, record_spec


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
    builds them in a child process with a time limit, and :func:`~diffbench.models.spec.model_origin` names a built
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
        The model, in training mode, with its spec recorded (see :func:`~diffbench.models.spec.model_spec`).

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
    model = construct(resolved.label, resolved.constructor, kwargs)
    record_spec(model, resolved.name, resolved.constructor, kwargs, resolved.package)
    return model


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


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DiffbenchError(f"{name} must be a positive integer, got {value!r}")


def first_line(text: str | None) -> str:
    return text.strip().splitlines()[0] if text and text.strip() else ""

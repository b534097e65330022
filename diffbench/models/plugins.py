"""Third-party architectures registered under the ``diffbench.models`` entry-point group.

A distribution declares, in its ``pyproject.toml``::

    [project.entry-points."diffbench.models"]
    example-convnet = "diffbench_plugin_example:TinyConvNet"

The object named (an ``nn.Module`` class or a factory function) is called like a built-in model,
``obj(in_channels=..., out_channels=..., **kwargs)``, and receives ``lattice=N`` as well if its
signature has a ``lattice`` parameter. Plugins are discovered on every call, so a package
installed (or a path added to ``sys.path``) during a session is seen at once.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from diffbench.errors import DiffbenchError
from diffbench.models.classpath import (
    looks_like_class_path,
    one_line,
    reraise_interrupt,
)

ENTRY_POINT_GROUP = "diffbench.models"


@dataclass(frozen=True)
class PluginEntry:
    """One entry point of the ``diffbench.models`` group.

    Attributes
    ----------
    name : str
        The entry-point name, which is the model name users pass to ``create``.
    value : str
        What it points to, ``"module:attribute"``.
    package : str
        The distribution that declares it.
    version : str
        That distribution's version.

    Examples
    --------
    >>> entry = PluginEntry("my-net", "my_pkg:MyNet", "my-pkg", "1.0")
    >>> entry.label
    "plugin model 'my-net' (package my-pkg 1.0)"
    """

    name: str
    value: str
    package: str
    version: str

    @property
    def label(self) -> str:
        """How error messages name this plugin: its model name and its package."""
        return f"plugin model '{self.name}' (package {self.package} {self.version})"


def discover_plugins() -> list[PluginEntry]:
    """All entry points of the ``diffbench.models`` group, in a stable order (nothing is imported).

    Examples
    --------
    >>> isinstance(discover_plugins(), list)
    True
    """
    entries: set[PluginEntry] = set()
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        distribution = getattr(entry_point, "dist", None)
        package = "unknown-package"
        version = "unknown-version"
        if distribution is not None:
            package = distribution.metadata["Name"] or getattr(distribution, "name", None) or package
            version = distribution.version or version
        entries.add(PluginEntry(entry_point.name, entry_point.value, package, version))
    return sorted(entries, key=lambda e: (e.name, e.package, e.value))


def describe_plugin(name: str) -> str:
    """How messages name a model that is not a built-in: a plugin with its package, or a class path.

    Reads entry-point metadata only (no import, no torch), so it serves the parent process of
    :mod:`diffbench.models.isolation` too.

    Examples
    --------
    >>> describe_plugin("pkg.module:Net")
    "model class 'pkg.module:Net'"
    """
    entries = [entry for entry in discover_plugins() if entry.name == name]
    if len(entries) == 1:
        return entries[0].label
    if not entries and looks_like_class_path(name):
        return f"model class '{name}'"
    return f"model '{name}'"


def load_plugin(entry: PluginEntry) -> Any:
    """Import the class or factory an entry point names.

    Raises
    ------
    DiffbenchError
        One line naming the plugin and its package: the import failed, the object is missing,
        or it is not callable.

    Examples
    --------
    >>> load_plugin(PluginEntry("conv", "torch.nn:Conv2d", "torch", "2")).__name__
    'Conv2d'
    """
    entry_point = metadata.EntryPoint(entry.name, entry.value, ENTRY_POINT_GROUP)
    try:
        module_name, attribute = entry_point.module, entry_point.attr
    except (AttributeError, ValueError) as exc:  # an unparseable value
        raise DiffbenchError(
            f"{entry.label}: malformed entry point '{entry.value}'; use 'package.module:ClassName'"
        ) from exc
    try:
        target: Any = importlib.import_module(module_name)
    except BaseException as exc:  # anything the module raises on import, SystemExit included
        reraise_interrupt(exc)
        raise DiffbenchError(
            f"{entry.label}: cannot import module '{module_name}' of entry point '{entry.value}': {one_line(exc)}"
        ) from exc
    for part in attribute.split(".") if attribute else ():
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise DiffbenchError(
                f"{entry.label}: module '{module_name}' has no attribute '{attribute}' (entry point '{entry.value}')"
            ) from exc
        except BaseException as exc:  # a module-level __getattr__ may raise anything
            reraise_interrupt(exc)
            raise DiffbenchError(
                f"{entry.label}: looking up '{attribute}' in module '{module_name}' raised {one_line(exc)}"
            ) from exc
    if not callable(target):
        raise DiffbenchError(
            f"{entry.label}: entry point '{entry.value}' is a {type(target).__name__}, "
            "not an nn.Module class or a factory function"
        )
    return target

"""Import a class or factory from a class path: ``pkg.module:Name``, ``pkg.module.Name`` or ``file.py:Name``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from diffbench.errors import DiffbenchError

CLASS_PATH_FORMS = "'package.module:ClassName', 'package.module.ClassName' or 'path/to/file.py:ClassName'"


def looks_like_class_path(name: str) -> bool:
    """Whether ``name`` has the form of a class path rather than a preset name.

    Examples
    --------
    >>> [looks_like_class_path(n) for n in ("unet", "pkg.mod:Net", "pkg.mod.Net", "nets.py:Net")]
    [False, True, True, True]
    """
    return ":" in name or "." in name


def import_object(class_path: str) -> Any:
    """Import the object a class path names.

    Parameters
    ----------
    class_path : str
        ``"pkg.module:Name"`` (``Name`` may be dotted, e.g. ``Outer.Inner``), ``"pkg.module.Name"``,
        or ``"path/to/file.py:Name"`` (the file is imported as a module of its own).

    Returns
    -------
    object
        The class or factory.

    Raises
    ------
    DiffbenchError
        If the path is malformed, the module cannot be imported or has no such attribute.

    Examples
    --------
    >>> import_object("torch.nn:Conv2d").__name__
    'Conv2d'
    """
    module_part, attribute = _split(class_path)
    if module_part.endswith(".py"):
        module = _import_file(module_part, class_path)
    else:
        try:
            module = importlib.import_module(module_part)
        except BaseException as exc:  # anything the module raises on import, SystemExit included
            reraise_interrupt(exc)
            raise DiffbenchError(
                f"cannot import module '{module_part}' for model class path '{class_path}': {one_line(exc)}"
            ) from exc
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise DiffbenchError(
                f"'{module_part}' has no attribute '{attribute}' (model class path '{class_path}')"
            ) from exc
    return target


def path_of(obj: Any) -> str:
    """The ``module:qualname`` class path of a class or function; files give ``/abs/file.py:Name``.

    Examples
    --------
    >>> import torch
    >>> path_of(torch.nn.Conv2d)
    'torch.nn.modules.conv:Conv2d'
    """
    module_name = obj.__module__
    module = sys.modules.get(module_name)
    source_file = getattr(module, "__diffbench_source_file__", None)
    if source_file is not None:
        return f"{source_file}:{obj.__qualname__}"
    return f"{module_name}:{obj.__qualname__}"


def one_line(exc: BaseException) -> str:
    """``"ExceptionType: message"`` with all whitespace runs collapsed to one space."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def reraise_interrupt(exc: BaseException) -> None:
    """Re-raise ``exc`` if it is Ctrl-C (or a generator closing); any other exception is the caller's to report.

    Code from a plugin or a model file runs inside ``except BaseException`` so that ``sys.exit()``
    there becomes a one-line error naming the plugin instead of ending diffbench silently; only the
    user's interrupt passes through.

    Examples
    --------
    >>> reraise_interrupt(SystemExit(3))  # returns: the caller reports it
    >>> try:
    ...     reraise_interrupt(GeneratorExit())
    ... except GeneratorExit:
    ...     print("re-raised")
    re-raised
    """
    if isinstance(exc, (KeyboardInterrupt, GeneratorExit)):
        raise exc


def _split(class_path: str) -> tuple[str, str]:
    if ":" in class_path:
        module_part, _, attribute = class_path.rpartition(":")
    else:
        module_part, _, attribute = class_path.rpartition(".")
    if not module_part or not attribute:
        raise DiffbenchError(f"malformed model class path '{class_path}': use {CLASS_PATH_FORMS}")
    return module_part, attribute


def _import_file(file_name: str, class_path: str) -> Any:
    path = Path(file_name).expanduser().resolve()
    if not path.is_file():
        raise DiffbenchError(f"model file '{file_name}' does not exist (model class path '{class_path}')")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    module_name = f"diffbench_user_model_{path.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise DiffbenchError(f"cannot load model file '{file_name}' as Python (model class path '{class_path}')")
    module = importlib.util.module_from_spec(spec)
    module.__diffbench_source_file__ = str(path)  # type: ignore[attr-defined]
    sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # SystemExit included: a model file must not end diffbench
        del sys.modules[module_name]
        reraise_interrupt(exc)
        raise DiffbenchError(f"error while importing model file '{file_name}': {one_line(exc)}") from exc
    return module

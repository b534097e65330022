"""Checkpoint files: the one loader, which never runs code from a file, and the atomic writer.

**Loading.** :func:`load_checkpoint` is how diffbench opens every checkpoint (``evaluate``,
``solve --checkpoint``, a run's resume and best-epoch lookup, the trust stage's inverse
network, :meth:`~diffbench.training.module.SurrogateModule.load` and, through
:class:`AtomicCheckpointIO`, every file Lightning reads). It first lists the globals the
file's pickle names, without executing anything
(``torch.serialization.get_unsafe_globals_in_checkpoint``), and refuses the file in one line
naming any that is not allowed; then it reads it with ``torch.load(..., weights_only=True)``
under :data:`CHECKPOINT_GLOBALS`. So a crafted file whose unpickling would run a command is
refused before anything in it runs.

What a diffbench checkpoint may contain: tensors; ``dict``, ``OrderedDict``, ``list`` and
``tuple``; ``str``, ``int``, ``float``, ``bool`` and ``None``; torch's dtypes and sizes (what
torch's weights-only unpickler allows), and the globals of :data:`CHECKPOINT_GLOBALS`, which
is empty: everything ``diffbench run`` writes (weights, optimiser and scheduler states, the
loops' progress, the callbacks' states, the random states of :mod:`diffbench.training.resume`,
the model spec and task in ``hyper_parameters``) is made of the types above.

A checkpoint also names the model to rebuild (its spec's ``class_path``), which is imported
to rebuild it: :func:`check_model_spec` lets a checkpoint name only a ``torch.nn.Module``
subclass or the factory of an installed ``diffbench.models`` plugin, so a spec such as
``{"class_path": "os:system", "init_args": {"command": ...}}`` is refused before anything is
called.

**Writing.** :class:`AtomicCheckpointIO` is the run's Lightning ``CheckpointIO``: it writes a
checkpoint to ``<name>.tmp-<pid>`` in the same folder, flushes it to disk and renames it over
``<name>``, so a file under a checkpoint's name is always complete. A failed write (disk full,
permissions) removes the temporary, keeps the previous checkpoint and is one line;
:func:`remove_temporaries` clears what a killed writer left.

>>> CHECKPOINT_GLOBALS
()
>>> load_checkpoint("/no/such.ckpt")
Traceback (most recent call last):
...
diffbench.errors.DiffbenchError: checkpoint /no/such.ckpt does not exist
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..errors import DiffbenchError
from ..hashing import sha256_file

#: The globals (classes, functions) a diffbench checkpoint may name beyond what torch's
#: weights-only unpickler allows by itself. Empty: see the module docstring.
CHECKPOINT_GLOBALS: tuple[Any, ...] = ()

#: The suffix of a checkpoint being written: ``best.ckpt.tmp-<pid>``.
TEMPORARY_MARK = ".tmp-"


def _allowed_names() -> set[str]:
    return {f"{g.__module__}.{g.__qualname__}" for g in CHECKPOINT_GLOBALS}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def load_checkpoint(
    path: str | os.PathLike[str], map_location: Any = "cpu", *, mmap: bool = False, what: str = "checkpoint"
) -> dict[str, Any]:
    """The contents of the checkpoint at ``path``, read without running code from it.

    ``what`` names the file in errors (``"checkpoint"``, ``"inverse network"``); ``mmap``
    maps the tensors instead of reading them (to look at a field such as ``epoch`` cheaply).

    Raises
    ------
    DiffbenchError
        One line: the file does not exist, is not a checkpoint torch can read, names a global
        a diffbench checkpoint never needs (``"... refused: it needs posix.system, ..."``), or
        does not hold a mapping at its top.
    """
    p = Path(path)
    if p.is_dir():
        raise DiffbenchError(f"{what} {path} is a directory, not a checkpoint file")
    if not p.is_file():
        raise DiffbenchError(f"{what} {path} does not exist")
    try:
        needed = torch.serialization.get_unsafe_globals_in_checkpoint(str(p))
    except Exception as exc:  # noqa: BLE001 - torch raises many types for files it cannot parse
        raise DiffbenchError(f"{path} is not a readable {what} ({_first_line(exc)})") from None
    refused = sorted(set(needed) - _allowed_names())
    if refused:
        shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
        raise DiffbenchError(
            f"{what} {path} refused: it needs {shown}, which a diffbench checkpoint never holds "
            "(tensors, plain containers, numbers and text only); nothing in it was run"
        )
    try:
        with torch.serialization.safe_globals(list(CHECKPOINT_GLOBALS)):
            data = torch.load(str(p), map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001
        raise DiffbenchError(f"{path} is not a readable {what} ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise DiffbenchError(f"{path} is not a diffbench {what} (it holds a {type(data).__name__}, not a mapping)")
    return data


def check_model_spec(spec: Any, where: str) -> None:
    """Refuse a model spec read from a file unless what it names is a ``torch.nn.Module``
    subclass or the factory of an installed plugin (the class path is imported, never called).

    >>> check_model_spec({"name": "x", "class_path": "os:system", "init_args": {"command": "true"}}, "evil.ckpt")
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: evil.ckpt refused: its model spec names 'os:system', which is neither a torch.nn.Module class nor an installed diffbench plugin; nothing was called
    """
    from ..models.classpath import import_object
    from ..models.plugins import discover_plugins

    if (
        not isinstance(spec, dict)
        or not isinstance(spec.get("class_path"), str)
        or not isinstance(spec.get("init_args"), dict)
    ):
        raise DiffbenchError(
            f"{where} is not a diffbench checkpoint (its model spec has no class_path string and init_args mapping)"
        )
    class_path = spec["class_path"]
    target = import_object(class_path)
    if isinstance(target, type) and issubclass(target, torch.nn.Module):
        return
    if class_path in {entry.value for entry in discover_plugins()}:
        return
    raise DiffbenchError(
        f"{where} refused: its model spec names {class_path[:200]!r}, which is neither a torch.nn.Module class "
        "nor an installed diffbench plugin; nothing was called"
    )


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, in hex (what a seed result records of its best checkpoint):
    :func:`diffbench.hashing.sha256_file`'s digest, without the size."""
    return sha256_file(path)[0]


def temporary_name(path: Path) -> Path:
    """Where ``path`` is written before its rename: ``<name>.tmp-<pid>`` beside it."""
    return path.with_name(f"{path.name}{TEMPORARY_MARK}{os.getpid()}")


def save_atomic(checkpoint: dict[str, Any], path: str | os.PathLike[str], *, resume_hint: bool = True) -> None:
    """``torch.save`` to a temporary beside ``path``, flushed to disk, then renamed over it.

    A write that fails (disk full, permissions) removes the temporary, leaves any previous
    file under ``path`` as it was and raises a one-line DiffbenchError."""
    target = Path(path)
    tmp = temporary_name(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            torch.save(checkpoint, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except (OSError, RuntimeError) as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        # torch.save reports a failed write as a RuntimeError raised from the OSError
        cause = (
            exc
            if isinstance(exc, OSError)
            else next((e for e in (exc.__cause__, exc.__context__) if isinstance(e, OSError)), None)
        )
        if cause is None:
            raise
        exc = cause
        kept = f"the previous {target.name} is kept" if target.exists() else f"no {target.name} was written"
        hint = "; make room and rerun with --resume to continue" if resume_hint else ""
        raise DiffbenchError(f"could not write checkpoint {target} ({exc.strerror or exc}); {kept}{hint}") from None


def remove_temporaries(folder: str | os.PathLike[str]) -> list[str]:
    """Delete the checkpoint temporaries (``*.ckpt.tmp-<pid>``) a killed writer left in
    ``folder``; returns their names."""
    removed = []
    root = Path(folder)
    if root.is_dir():
        for p in root.glob(f"*.ckpt{TEMPORARY_MARK}*"):
            try:
                p.unlink()
                removed.append(p.name)
            except OSError:
                pass
    return sorted(removed)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O, atomic on write (:func:`save_atomic`) and safe on read
    (:func:`load_checkpoint`): the run hands it to its ``Trainer`` as a plugin."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        save_atomic(checkpoint, path)

    def load_checkpoint(
        self, path: Any, map_location: Callable | Any = "cpu", weights_only: bool | None = None
    ) -> dict[str, Any]:
        return load_checkpoint(path, map_location=map_location)

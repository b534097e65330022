"""No local path leaves the machine: finding and removing absolute paths in a result's strings.

A result stores paths relative to its run folder (``seed-0/best.ckpt``, ``wandb/offline-run-...``).
An absolute path (``/home/alice/...``, ``~/runs``, ``C:\\Users\\...``, ``file:///...``) names the
submitter's machine, user and folders: ``submit`` refuses a result holding one
(:func:`diffbench.results.validate.check_bounds`), and ``diffbench run`` writes the command as
typed with each absolute path replaced by :data:`REDACTED` (:func:`strip_local_paths`).

>>> find_local_path("diffbench run --out /home/alice/runs --seeds 0")
'/home/alice/runs'
>>> find_local_path("see https://example.org/home/x and seed-0/best.ckpt") is None
True
>>> find_local_path(r"C:\\Users\\bob\\run"), find_local_path("--data-dir=~/data")
('C:\\\\Users\\\\bob\\\\run', '~/data')
>>> strip_local_paths("diffbench run --out /work/runs --data-dir=/tmp/d --seeds 0")
'diffbench run --out <local path> --data-dir=<local path> --seeds 0'
>>> relative_to_run("/work/main/runs/smoke--unet--ab12/wandb/offline-run-1", "smoke--unet--ab12")
'wandb/offline-run-1'
"""

from __future__ import annotations

import os
import re

# The one file hasher; re-exported here (in __all__) because diffbench.submissions.bundle imports it from here.
from ..hashing import sha256_file

__all__ = [
    "LOCAL_PATH",
    "REDACTED",
    "checkpoint_ref",
    "find_local_path",
    "relative_to_run",
    "sha256_file",
    "strip_local_paths",
]

#: An absolute path at the start of a string or after a separator (space, ``=``, quote, bracket,
#: comma, semicolon): POSIX (``/x``), home (``~/x``, ``~user/x``), Windows (``C:\x``, ``\\server``)
#: or a ``file:`` URL. A ``/`` inside a word or after ``:`` (``https://host/home``) is not one.
LOCAL_PATH = re.compile(
    r"(?:(?<=^)|(?<=[\s=\"'(\[{,;]))"
    r"(?:file:/+|~[A-Za-z0-9._-]*/|/(?=[^\s/])|[A-Za-z]:[\\/]|\\\\(?=\w))"
    r"[^\s\"',;)\]}]*"
)
#: What replaces an absolute path in the command as typed.
REDACTED = "<local path>"


def find_local_path(text: str) -> str | None:
    """The first absolute path in ``text``, or None."""
    m = LOCAL_PATH.search(text)
    return m.group(0) if m else None


def strip_local_paths(text: str) -> str:
    """``text`` with every absolute path replaced by :data:`REDACTED`."""
    return LOCAL_PATH.sub(REDACTED, text)


def relative_to_run(path: str, run_id: str) -> str:
    """``path`` relative to the run folder named ``run_id`` when it lies inside one, else its
    last two parts (never an absolute path)."""
    parts = [p for p in re.split(r"[\\/]+", path) if p]
    if run_id in parts:
        rest = parts[len(parts) - parts[::-1].index(run_id) :]
        if rest:
            return "/".join(rest)
    return "/".join(parts[-2:]) if parts else ""


def checkpoint_ref(path: os.PathLike[str] | str, base: os.PathLike[str] | str) -> dict[str, object]:
    """A checkpoint as a result records it: ``{"path": relative to base, "sha256", "bytes"}``."""
    from pathlib import Path

    sha, size = sha256_file(path)
    return {"path": Path(path).absolute().relative_to(Path(base).absolute()).as_posix(), "sha256": sha, "bytes": size}

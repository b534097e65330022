"""Atomic writes: a file is written to a temporary name in its folder, flushed to disk and
renamed into place, so a reader sees the old file or the whole new one, never half of it.

The one writer behind the cache's shards and manifests (:mod:`diffbench.data.cache`,
:mod:`diffbench.data.generation`), every ``result.json``
(:func:`diffbench.results.digest.write_json_atomic`), the trust indicators' inverse model
(:func:`diffbench.trust.inverse.load_or_train_inverse`) and ``diffbench bench``'s JSON.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_bytes(folder / "a.txt", b"whole")
>>> (folder / "a.txt").read_bytes(), sorted(p.name for p in folder.iterdir())
(b'whole', ['a.txt'])
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (an ``OSError``, e.g. a
    full disk, leaves no temporary behind and the previous file as it was)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

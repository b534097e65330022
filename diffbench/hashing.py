"""File hashing: the one SHA-256 of a file's bytes, read in chunks (no file is ever read whole
into memory), for the cache's shard checksums (:mod:`diffbench.data.cache`), a seed result's
checkpoint (:func:`diffbench.training.checkpoint_io.file_sha256`,
:func:`diffbench.results.paths.checkpoint_ref`) and the files a submission or verification
names (:mod:`diffbench.pipeline.verify`, :mod:`diffbench.submissions.bundle`).

Standard library only: the torch-free ``diffbench.results`` and the leaderboard use it.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
>>> _ = path.write_bytes(b"abc")
>>> sha256_file(path)
('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 3)
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["CHUNK", "sha256_file"]

#: Bytes read at a time.
CHUNK = 1 << 20


def sha256_file(path: os.PathLike[str] | str, chunk: int = CHUNK) -> tuple[str, int]:
    """``(SHA-256 hex digest, size in bytes)`` of a file, read ``chunk`` bytes at a time."""
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
            n += len(block)
    return h.hexdigest(), n

"""What travels with a submission: its example images (relative ``.png`` paths of plain
names, PNG files of at most :data:`MAX_IMAGE_BYTES`, at most :data:`MAX_IMAGES`) and, in a
submission bundle, each seed's best checkpoint (a file in
``<id>/checkpoints/`` or an http(s) URL, with its SHA-256 and size), so that ``diffbench verify``
can re-score it; and the verification record that says it did.

A bundled file is at most :data:`MAX_BUNDLED_CHECKPOINT_BYTES` (25 MiB: the -small presets
are a few MB; the repository stays cloneable); a larger checkpoint is uploaded elsewhere and
named by ``--checkpoint-url SEED=URL``.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import DiffbenchError
from ..results.fields import show
from ..results.jsonio import read_json_strict
from ..results.paths import sha256_file
from ..results.submission import safe_url
from ..results.verification import (
    RECORD_NAME,
    VerificationRecord,
    read_record,
    record_matches,
)

__all__ = [
    "MAX_BUNDLED_CHECKPOINT_BYTES",
    "MAX_IMAGES",
    "MAX_IMAGE_BYTES",
    "bundle_checkpoints",
    "check_bundle",
    "collect_images",
    "image_parts",
    "read_verification",
]

MAX_IMAGE_BYTES = 8 * 2**20
MAX_IMAGES = 64
_PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: The largest checkpoint a submission bundle carries in the repository; larger ones go by URL.
MAX_BUNDLED_CHECKPOINT_BYTES = 25 * 2**20
#: The largest verification record read.
MAX_RECORD_BYTES = 64 * 2**10


def image_parts(rel: str, source: str) -> tuple[str, ...]:
    p = PurePosixPath(rel)
    if p.is_absolute() or not p.parts or not all(_PATH_PART.match(x) for x in p.parts) or p.suffix.lower() != ".png":
        raise DiffbenchError(
            f"{source} refused: image path {show(rel)} must be a relative path of plain names ending in .png"
        )
    return p.parts


def collect_images(result: dict[str, Any], result_dir: Path, source: str) -> tuple[dict[str, bytes], list[str]]:
    found: dict[str, bytes] = {}
    missing: list[str] = []
    listed = [p for s in result["per_seed"] for p in (s.get("images") or [])]
    if len(listed) > MAX_IMAGES:
        raise DiffbenchError(f"{source} refused: it lists {len(listed)} images; at most {MAX_IMAGES} are accepted")
    for rel in listed:
        parts = image_parts(rel, source)
        path = result_dir.joinpath(*parts)
        if not path.is_file():
            missing.append(rel)
            continue
        try:
            if path.stat().st_size > MAX_IMAGE_BYTES:
                raise DiffbenchError(f"{source} refused: image {rel} is larger than {MAX_IMAGE_BYTES} bytes")
            data = path.read_bytes()
        except OSError as exc:
            raise DiffbenchError(f"cannot read image {path} ({exc.strerror})") from None
        if not data.startswith(_PNG_MAGIC):
            raise DiffbenchError(f"{source} refused: image {rel} is not a PNG file")
        found["/".join(parts)] = data
    return found, missing


def bundle_checkpoints(
    result: dict[str, Any], run_dir: Path, source: str, urls: dict[int, str]
) -> tuple[dict[str, Any], dict[str, Path]]:
    """The ``checkpoints`` block of a submission bundle and the files it copies (bundle path -> file)."""
    refs: dict[str, Any] = {}
    files: dict[str, Path] = {}
    seeds = [s["seed"] for s in result["per_seed"]]
    unknown = sorted(set(urls) - set(seeds))
    if unknown:
        raise DiffbenchError(
            f"--checkpoint-url names seed {unknown[0]}, which the result does not have (seeds {seeds})"
        )
    for s in result["per_seed"]:
        seed = s["seed"]
        rel = (s.get("checkpoint") or {}).get("path") or s.get("best_checkpoint")
        if not rel:
            raise DiffbenchError(f"{source}: seed {seed} records no best checkpoint; a bundle needs one per seed")
        path = run_dir.joinpath(*PurePosixPath(rel).parts)
        if not path.is_file():
            raise DiffbenchError(
                f"{source}: seed {seed}'s checkpoint {rel} is not next to the result; "
                "submit the result.json in its run folder"
            )
        sha, size = sha256_file(path)
        recorded = (s.get("checkpoint") or {}).get("sha256")
        if recorded and recorded != sha:
            raise DiffbenchError(
                f"{source}: seed {seed}'s checkpoint {rel} is not the one the run recorded (SHA-256 differs)"
            )
        if seed in urls:
            if safe_url(urls[seed]) is None:
                raise DiffbenchError(f"--checkpoint-url {seed}={urls[seed][:80]} is not an http(s) URL with a host")
            refs[str(seed)] = {"url": urls[seed], "sha256": sha, "bytes": size}
            continue
        if size > MAX_BUNDLED_CHECKPOINT_BYTES:
            raise DiffbenchError(
                f"{source}: seed {seed}'s checkpoint is {size} bytes; a bundle carries at most "
                f"{MAX_BUNDLED_CHECKPOINT_BYTES} per file: upload it and pass --checkpoint-url {seed}=https://..."
            )
        files[f"checkpoints/seed-{seed}.ckpt"] = path
        refs[str(seed)] = {"path": f"checkpoints/seed-{seed}.ckpt", "sha256": sha, "bytes": size}
    return refs, files


def check_bundle(doc: dict[str, Any], path: Path, source: str, hash_files: bool) -> dict[str, str] | None:
    """The bundle's checkpoints (seed -> SHA-256), every seed covered and every bundled file present
    with its recorded size (and hash, with ``hash_files``); None for a submission without them."""
    refs = doc["submission"].get("checkpoints")
    if refs is None:
        return None
    seeds = [str(s["seed"]) for s in doc["result"]["per_seed"]]
    if sorted(refs, key=int) != sorted(seeds, key=int):
        raise DiffbenchError(
            f"{source}: submission.checkpoints names seeds {sorted(refs, key=int)}, the result has {seeds}"
        )
    for seed, ref in sorted(refs.items()):
        recorded = next(
            (s.get("checkpoint") or {}).get("sha256") for s in doc["result"]["per_seed"] if str(s["seed"]) == seed
        )
        if recorded and recorded != ref["sha256"]:
            raise DiffbenchError(
                f"{source}: seed {seed}'s checkpoint is not the one its run recorded (SHA-256 differs)"
            )
        if ref.get("path"):
            f = path.parent.joinpath(path.stem, *PurePosixPath(ref["path"]).parts)
            try:
                size = f.stat().st_size
            except OSError:
                raise DiffbenchError(
                    f"{source}: its checkpoint {f} is missing; restore it or submit the result again"
                ) from None
            if size != ref["bytes"] or (hash_files and sha256_file(f)[0] != ref["sha256"]):
                raise DiffbenchError(f"{source}: its checkpoint {f} differs from the one submitted (size or SHA-256)")
    return {seed: ref["sha256"] for seed, ref in refs.items()}


def read_verification(folder: Path, digest: str, checkpoints: dict[str, str] | None) -> VerificationRecord | None:
    """The record ``folder/verification.json`` when it verified exactly the result ``digest``
    from exactly ``checkpoints`` (seed -> SHA-256); None otherwise (the entry is claimed)."""
    path = folder / RECORD_NAME
    if checkpoints is None or not path.is_file():
        return None
    try:
        record = read_record(read_json_strict(path, "verification record", limit=MAX_RECORD_BYTES))
    except DiffbenchError:
        return None
    return record if record_matches(record, digest, checkpoints) else None

"""``diffbench submit``: check a run's ``result.json`` against the schema and the protocol, store it.

What is checked (:func:`check_result`; every failure is one :class:`DiffbenchError` line
naming the file, the field and what is allowed):

* strict JSON: UTF-8, at most :data:`MAX_RESULT_BYTES`, no ``NaN``/``Infinity`` literals,
  no repeated key in an object, an object at the top;
* ``schema_version`` and ``protocol_version`` equal to this package's;
* ``digest`` equal to :func:`~diffbench.protocol.results.compute_digest` of the rest: any
  edit after ``diffbench run`` wrote the file is refused as tampering;
* ``task.name`` a known task (:func:`diffbench.data.load_task`) and ``task.spec_hash`` equal
  to the current task spec's (results on other data are not comparable);
* ``seeds`` a non-empty list of distinct non-negative integers, ``per_seed`` one entry per
  seed in the same order, each with ``test`` and ``val`` results;
* every metric of :data:`diffbench.evaluation.functional.METRIC_KEYS` present in each seed's
  ``test`` and ``val`` results and in each per-source-count row, as a finite number >= 0.
  ``null`` is allowed only for a *region* metric (``mae_<region>`` and
  ``max_abs_error_<region>``, region sources/field/r1/r2/r3), which is how an empty region
  is recorded (the evaluator's ``nan`` becomes ``null``), and then both metrics of that
  region must be ``null``. ``mae``, ``nmae``, ``rel_l2``, ``max_abs_error``,
  ``p99_sample_mae`` and ``residual`` are always required finite;
* the per-source-count rows name the same counts in every seed;
* ``aggregate`` equal to :func:`~diffbench.protocol.results.aggregate_metrics` of the
  per-seed results (to 1e-9 relative), and ``cost`` means equal to the per-seed timings;
* ``model.name`` a non-empty string, ``model.parameters`` an integer >= 0,
  ``hardware.label`` a string, ``command`` a string starting with ``diffbench run``;
* ``uq`` and ``consistency`` (optional; see :mod:`diffbench.leaderboard.trust_checks`): when
  present, their shape is checked strictly (known indicators and scores, statuses, scores in
  range, a reason for every "not applicable") in every seed and in the run-level block, and
  the run-level block must equal the protocol's aggregation of the per-seed blocks;
* example images listed by the seeds: relative, plain names, ``.png`` with a PNG header,
  at most :data:`MAX_IMAGE_BYTES` each. A listed image missing next to the result is
  skipped (reported), not refused.

Submission fields: ``--title`` and ``--authors`` are free text (any characters but
control characters, at most 200 / 500 characters); they are stored as given and escaped
whenever they are rendered. ``--url`` must be an ``http://`` or ``https://`` URL with a
host; anything else (``javascript:``, ``data:``, relative) is refused.

Storage: ``<leaderboard>/submissions/<task>/<id>.json`` holding
``{"submission": {...}, "result": {...the original result, byte-for-byte the same JSON
values...}}`` where ``id`` is the first 16 hex digits of the SHA-256 of the canonical JSON
of that document (content-addressed: the name proves the content). The run's example
images are copied to ``<leaderboard>/submissions/<task>/<id>/`` and their SHA-256 recorded
in the submission block. A result whose digest is already stored is refused as a
duplicate. A result with fewer than :data:`MIN_RANKED_SEEDS` seeds is stored but shown as
unranked. Images go in first (a temporary folder renamed into place), the JSON last, by an
atomic rename: an interrupted submit leaves nothing that the site would pick up.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, NoReturn
from urllib.parse import urlsplit

from .. import PROTOCOL_VERSION
from ..errors import DiffbenchError

MAX_RESULT_BYTES = 32 * 2**20
MAX_IMAGE_BYTES = 8 * 2**20
MAX_IMAGES = 64
MIN_RANKED_SEEDS = 3
ID_LENGTH = 16
TEXT_LIMITS = {"title": 200, "authors": 500}
URL_LIMIT = 2000
REL_TOL = 1e-9
#: Regions whose metrics may be null (an empty region); ``all`` never may.
OPTIONAL_REGIONS = ("sources", "field", "r1", "r2", "r3")

_TASK_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[0-9a-f]{%d}$" % ID_LENGTH)
_PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ENV_DIR = "DIFFBENCH_LEADERBOARD_DIR"


# --------------------------------------------------------------------------- locations


def default_leaderboard_dir() -> Path:
    """``$DIFFBENCH_LEADERBOARD_DIR``, else ``leaderboard/`` at the root of the repository."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env)
    import diffbench

    return Path(diffbench.__file__).resolve().parents[1] / "leaderboard"


def resolve_leaderboard_dir(arg: str | os.PathLike[str] | None) -> Path:
    return Path(arg) if arg else default_leaderboard_dir()


def submissions_dir(leaderboard: Path) -> Path:
    return Path(leaderboard) / "submissions"


# --------------------------------------------------------------------------- strict JSON


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"the literal {name} is not JSON (a non-finite number must be written as null)")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {k!r} appears twice in one object")
        out[k] = v
    return out


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} overflows to infinity (a non-finite number must be written as null)")
    return value


def loads_strict(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``/``Infinity`` literals, overflowing numbers and repeated keys."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, object_pairs_hook=_no_duplicates)


def read_json_strict(path: Path, what: str = "result", limit: int = MAX_RESULT_BYTES) -> Any:
    """Read ``path`` as strict JSON; every failure is a one-line :class:`DiffbenchError`."""
    path = Path(path)
    try:
        if path.is_dir():
            raise DiffbenchError(f"{path} is a folder; give the {what} file itself (e.g. {path / 'result.json'})")
        if not path.is_file():
            raise DiffbenchError(f"{what} file {path} does not exist (give the result.json that `diffbench run` wrote)")
        size = path.stat().st_size
        if size > limit:
            raise DiffbenchError(f"{what} file {path} is {size} bytes; at most {limit} are accepted")
        raw = path.read_bytes()
    except OSError as exc:
        raise DiffbenchError(f"cannot read {what} file {path} ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DiffbenchError(f"{path} is not UTF-8 text (byte {exc.start}); a result.json is UTF-8 JSON") from None
    try:
        return loads_strict(text)
    except json.JSONDecodeError as exc:
        raise DiffbenchError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise DiffbenchError(f"{path} is refused: {exc}") from None


# --------------------------------------------------------------------------- the result checks


def metric_keys() -> tuple[str, ...]:
    from ..evaluation.functional import METRIC_KEYS

    return tuple(METRIC_KEYS)


def _region_of(key: str) -> str | None:
    for prefix in ("mae_", "max_abs_error_"):
        if key.startswith(prefix) and key[len(prefix):] in OPTIONAL_REGIONS:
            return key[len(prefix):]
    return None


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return (isinstance(x, (int, float)) and not isinstance(x, bool)) and math.isfinite(x)


def _show(x: Any) -> str:
    text = json.dumps(x, sort_keys=True, allow_nan=True, default=str) if not isinstance(x, str) else repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, msg: str) -> NoReturn:
        raise DiffbenchError(f"{self.source} refused: {where} {msg}")

    def obj(self, parent: Any, key: str, where: str) -> dict[str, Any]:
        v = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(v, dict):
            self.fail(f"{where}{key}", "must be an object" + ("" if isinstance(parent, dict) and key in parent else " and is missing"))
        return v

    def text(self, parent: dict[str, Any], key: str, where: str, *, empty: bool = False) -> str:
        v = parent.get(key)
        if not isinstance(v, str) or (not empty and not v.strip()):
            self.fail(f"{where}{key}", f"must be a non-empty string, got {_show(v) if key in parent else 'nothing'}")
        return v

    def number(self, parent: dict[str, Any], key: str, where: str, *, positive: bool = False) -> float:
        v = parent.get(key)
        if not _is_number(v) or v < 0 or (positive and v <= 0):
            bound = "> 0" if positive else ">= 0"
            self.fail(f"{where}{key}", f"must be a finite number {bound}, got {_show(v) if key in parent else 'nothing'}")
        return float(v)

    def metrics(self, row: Any, where: str, keys: tuple[str, ...]) -> None:
        if not isinstance(row, dict):
            self.fail(where, "must be an object of metrics")
        for k in keys:
            if k not in row:
                self.fail(f"{where}.{k}", f"is missing (every metric of the protocol is required: {', '.join(keys)})")
            v = row[k]
            if v is None and _region_of(k) is not None:
                continue
            if not _is_number(v) or v < 0:
                allowed = " or null (empty region)" if _region_of(k) else ""
                self.fail(f"{where}.{k}", f"must be a finite number >= 0{allowed}, got {_show(v)}")
        for region in OPTIONAL_REGIONS:
            a, b = f"mae_{region}", f"max_abs_error_{region}"
            if a in keys and b in keys and (row[a] is None) != (row[b] is None):
                self.fail(where, f"has {a} = {_show(row[a])} but {b} = {_show(row[b])}: an empty region makes both null")
        if "n_samples" in row and (not _is_int(row["n_samples"]) or row["n_samples"] < 1):
            self.fail(f"{where}.n_samples", f"must be an integer >= 1, got {_show(row['n_samples'])}")

    def split(self, seed_row: dict[str, Any], split: str, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
        res = self.obj(seed_row, split, where)
        self.metrics(res, f"{where}{split}", keys)
        pc = res.get("per_count", {})
        if not isinstance(pc, dict):
            self.fail(f"{where}{split}.per_count", "must be an object {count: metrics}")
        for c, row in pc.items():
            if not re.fullmatch(r"0|[1-9][0-9]{0,6}", c):
                self.fail(f"{where}{split}.per_count", f"has key {c!r}; keys are source counts (non-negative integers)")
            self.metrics(row, f"{where}{split}.per_count.{c}", keys)
        return res


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, str) or isinstance(b, str) or isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_int(a) and _is_int(b):
        return a == b
    if _is_number(a) and _is_number(b):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0)
    return a is None and b is None


def _first_difference(stored: Any, expected: Any, where: str) -> str:
    if isinstance(stored, dict) and isinstance(expected, dict):
        for k in sorted(set(stored) | set(expected), key=str):
            if k not in stored:
                return f"{where}.{k} is missing"
            if k not in expected:
                return f"{where}.{k} is not produced by the aggregation"
            if not _close(stored[k], expected[k]):
                return _first_difference(stored[k], expected[k], f"{where}.{k}")
    return f"{where} is {_show(stored)}, the per-seed values give {_show(expected)}"


@dataclass
class CheckedResult:
    task: str
    model: str
    seeds: list[int]
    ranked: bool
    digest: str


def check_result(result: Any, source: str = "result", *, current_task: bool = True) -> CheckedResult:
    """Check ``result`` (a parsed result.json) against the schema and the protocol.

    Raises :class:`DiffbenchError` (one line, naming ``source`` and the field) on the first
    violation; returns what the leaderboard needs to know about an accepted result.
    """
    from ..protocol.results import RESULT_SCHEMA_VERSION, aggregate_metrics, compute_digest

    ck = _Checker(source)
    if not isinstance(result, dict):
        ck.fail("the file", f"must hold a JSON object (a diffbench result), not {type(result).__name__}")
    if "schema_version" not in result:
        ck.fail("schema_version", "is missing: this is not a result.json written by `diffbench run`")
    if not _is_int(result["schema_version"]) or result["schema_version"] != RESULT_SCHEMA_VERSION:
        ck.fail("schema_version", f"is {_show(result['schema_version'])}; this diffbench reads schema {RESULT_SCHEMA_VERSION}")
    pv = result.get("protocol_version")
    if not _is_int(pv) or pv != PROTOCOL_VERSION:
        ck.fail("protocol_version", f"is {_show(pv)}; the leaderboard takes protocol {PROTOCOL_VERSION} only (rerun under it)")
    digest = result.get("digest")
    if not isinstance(digest, str) or not _HEX64.match(digest):
        ck.fail("digest", "is missing or not a SHA-256 hex digest; only results written by `diffbench run` are accepted")
    try:
        actual = compute_digest(result)
    except (TypeError, ValueError, RecursionError) as exc:
        ck.fail("the content", f"cannot be digested ({type(exc).__name__})")
    if actual != digest:
        ck.fail("digest", "does not match the content: the result was changed after `diffbench run` wrote it "
                "(tampered or hand-edited); submit the file as written, or rerun")

    for key in ("run_id", "diffbench_version", "created", "command"):
        ck.text(result, key, "")
    if not re.match(r"diffbench run(\s|$)", result["command"]):
        ck.fail("command", f"must be the reproducing `diffbench run ...` command, got {_show(result['command'])}")
    model = ck.obj(result, "model", "")
    name = ck.text(model, "name", "model.")
    if len(name) > 200 or _CONTROL.search(name):
        ck.fail("model.name", "must be at most 200 characters without control characters")
    if not _is_int(model.get("parameters")) or model["parameters"] < 0:
        ck.fail("model.parameters", f"must be an integer >= 0, got {_show(model.get('parameters'))}")
    for key in ("data", "training", "packages"):
        ck.obj(result, key, "")
    hw = ck.obj(result, "hardware", "")
    ck.text(hw, "label", "hardware.")

    task = ck.obj(result, "task", "")
    task_name = ck.text(task, "name", "task.")
    if not _TASK_NAME.match(task_name):
        ck.fail("task.name", f"{_show(task_name)} is not a task name (lower-case letters, digits, '.', '_', '-')")
    spec_hash = task.get("spec_hash")
    if not isinstance(spec_hash, str) or not _HEX64.match(spec_hash):
        ck.fail("task.spec_hash", f"must be the task's SHA-256 spec hash, got {_show(spec_hash)}")

    seeds = result.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) and s >= 0 for s in seeds):
        ck.fail("seeds", f"must be a non-empty list of non-negative integers, got {_show(seeds)}")
    if len(set(seeds)) != len(seeds):
        ck.fail("seeds", f"repeats a seed ({_show(seeds)}); every seed is one independent training run")
    per_seed = result.get("per_seed")
    if not isinstance(per_seed, list) or not all(isinstance(s, dict) for s in per_seed):
        ck.fail("per_seed", "must be a list of per-seed objects")
    got = [s.get("seed") for s in per_seed]
    if not all(_is_int(g) for g in got) or got != seeds:
        ck.fail("per_seed", f"holds seeds {_show(got)} but seeds is {_show(seeds)}; every seed needs its own results, in order")

    keys = metric_keys()
    for i, s in enumerate(per_seed):
        where = f"per_seed[{i}]."
        for split in ("test", "val"):
            ck.split(s, split, where, keys)
        for timing in ("inference", "solver"):
            ck.number(ck.obj(s, timing, where), "s_per_sample", f"{where}{timing}.", positive=True)
        images = s.get("images")
        if images is not None and (not isinstance(images, list) or not all(isinstance(p, str) for p in images)):
            ck.fail(f"{where}images", "must be a list of relative paths")
        wb = s.get("wandb")
        if wb is not None and not isinstance(wb, dict):
            ck.fail(f"{where}wandb", "must be an object or null")
        for k in ("train_time_s",):
            if k in s and s[k] is not None and not _is_number(s[k]):
                ck.fail(f"{where}{k}", f"must be a finite number, got {_show(s[k])}")
    for split in ("test", "val"):
        counts = [sorted(s[split].get("per_count", {})) for s in per_seed]
        if any(c != counts[0] for c in counts):
            ck.fail(f"per_seed[*].{split}.per_count", "must name the same source counts in every seed")
        scalar = [sorted(k for k, v in s[split].items() if k != "per_count") for s in per_seed]
        if any(c != scalar[0] for c in scalar):
            ck.fail(f"per_seed[*].{split}", "must hold the same metrics in every seed")

    aggregate = ck.obj(result, "aggregate", "")
    for split in ("test", "val"):
        stored = ck.obj(aggregate, split, "aggregate.")
        expected = aggregate_metrics([s[split] for s in per_seed])
        if not _close(stored, expected):
            ck.fail("aggregate", "does not agree with the per-seed results: "
                    + _first_difference(stored, expected, f"aggregate.{split}") + " (mean ± unbiased std over seeds)")

    from .trust_checks import check_consistency, check_cost, check_uq

    check_uq(ck, result, per_seed)
    check_consistency(ck, result, per_seed)

    cost = ck.obj(result, "cost", "")
    for key, timing in (("inference_s_per_sample", "inference"), ("solver_s_per_sample", "solver")):
        value = ck.number(cost, key, "cost.", positive=True)
        mean = sum(s[timing]["s_per_sample"] for s in per_seed) / len(per_seed)
        if not math.isclose(value, mean, rel_tol=REL_TOL):
            ck.fail(f"cost.{key}", f"is {value!r}, but the per-seed timings average {mean!r}")
    for key in ("train_time_s", "speedup_vs_solver"):
        if cost.get(key) is not None and not _is_number(cost.get(key)):
            ck.fail(f"cost.{key}", f"must be a finite number or null, got {_show(cost.get(key))}")
    check_cost(ck, result, per_seed)

    if current_task:
        from ..data import load_task, task_names

        if task_name not in task_names():
            ck.fail("task.name", f"{task_name!r} is not a task of this diffbench; known: {', '.join(task_names()) or '(none)'}")
        try:
            spec = load_task(task_name)
        except DiffbenchError as exc:
            ck.fail("task.name", f"{task_name!r} cannot be loaded ({exc})")
        if spec.spec_hash != spec_hash:
            ck.fail("task.spec_hash", f"is {spec_hash[:12]}..., but task {task_name!r} is now {spec.spec_hash[:12]}...: "
                    "the result was made on different data; rerun on the current task")
    return CheckedResult(task=task_name, model=name, seeds=list(seeds), ranked=len(seeds) >= MIN_RANKED_SEEDS, digest=digest)


# --------------------------------------------------------------------------- submission fields


def check_text(value: str | None, field_name: str) -> str:
    """Free text: stored as given (and escaped on output); no control characters, bounded length."""
    value = "" if value is None else str(value)
    limit = TEXT_LIMITS[field_name]
    if len(value) > limit:
        raise DiffbenchError(f"--{field_name} is {len(value)} characters; at most {limit} are allowed")
    if _CONTROL.search(value):
        raise DiffbenchError(f"--{field_name} contains a control character (newline, tab, ...); give one line of text")
    return value.strip()


def safe_url(url: Any) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host and no whitespace, else None."""
    if not isinstance(url, str) or not url or len(url) > URL_LIMIT:
        return None
    if _CONTROL.search(url) or any(c.isspace() for c in url) or "\\" in url:
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def check_url(url: str | None) -> str | None:
    if url is None or url == "":
        return None
    if safe_url(url) is None:
        scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
        why = f"the scheme {scheme!r} is not allowed" if scheme and scheme not in ("http", "https") else "it is not a well-formed absolute URL"
        raise DiffbenchError(f"--url must be an http:// or https:// link to the code or paper; {why}")
    return url


# --------------------------------------------------------------------------- images


def _image_parts(rel: str, source: str) -> tuple[str, ...]:
    p = PurePosixPath(rel)
    if p.is_absolute() or not p.parts or not all(_PATH_PART.match(x) for x in p.parts) or p.suffix.lower() != ".png":
        raise DiffbenchError(f"{source} refused: image path {_show(rel)} must be a relative path of plain names ending in .png")
    return p.parts


def _collect_images(result: dict[str, Any], result_dir: Path, source: str) -> tuple[dict[str, bytes], list[str]]:
    found: dict[str, bytes] = {}
    missing: list[str] = []
    listed = [p for s in result["per_seed"] for p in (s.get("images") or [])]
    if len(listed) > MAX_IMAGES:
        raise DiffbenchError(f"{source} refused: it lists {len(listed)} images; at most {MAX_IMAGES} are accepted")
    for rel in listed:
        parts = _image_parts(rel, source)
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


# --------------------------------------------------------------------------- storage


def document_id(doc: dict[str, Any]) -> str:
    from ..protocol.results import canonical_json

    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:ID_LENGTH]


@dataclass
class Submission:
    """A stored submission: where it is and what it holds."""

    id: str
    task: str
    path: Path
    doc: dict[str, Any]
    ranked: bool
    images: list[str] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)

    @property
    def result(self) -> dict[str, Any]:
        return self.doc["result"]

    @property
    def meta(self) -> dict[str, Any]:
        return self.doc["submission"]

    @property
    def image_dir(self) -> Path:
        return self.path.parent / self.id


def _stored_files(leaderboard: Path) -> Iterator[Path]:
    root = submissions_dir(leaderboard)
    if root.is_dir():
        yield from sorted(p for p in root.glob("*/*.json") if not p.name.startswith("."))


def _stored_digests(leaderboard: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in _stored_files(leaderboard):
        try:
            doc = loads_strict(p.read_text(encoding="utf-8"))
            out[doc["result"]["digest"]] = p
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a broken file is `leaderboard build`'s to report
    return out


def _check_writable(directory: Path, leaderboard: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DiffbenchError(f"leaderboard dir {leaderboard} is not writable ({exc.strerror or exc}); "
                             f"pass --leaderboard DIR or set ${ENV_DIR}") from None


def submit(result_path: str | os.PathLike[str], leaderboard: str | os.PathLike[str] | None = None, *, title: str | None = None,
           authors: str | None = None, url: str | None = None, official: bool = False, today: str | None = None,
           dry_run: bool = False) -> Submission:
    """Check ``result_path`` and store it in ``leaderboard`` (see the module docstring)."""
    from ..data.cache import atomic_write_json

    result_path = Path(result_path)
    lb = resolve_leaderboard_dir(leaderboard)
    source = str(result_path)
    result = read_json_strict(result_path)
    checked = check_result(result, source)
    meta = {
        "title": check_text(title, "title"),
        "authors": check_text(authors, "authors"),
        "url": check_url(url),
        "official": bool(official),
        "submitted": today or datetime.now(timezone.utc).date().isoformat(),
    }
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta["submitted"]):
        raise DiffbenchError(f"submission date must be YYYY-MM-DD, got {meta['submitted']!r}")
    images, missing = _collect_images(result, result_path.parent, source)
    meta["images"] = {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(images.items())}
    doc = {"submission": meta, "result": result}
    sid = document_id(doc)
    task_dir = submissions_dir(lb) / checked.task
    target = task_dir / f"{sid}.json"
    sub = Submission(id=sid, task=checked.task, path=target, doc=doc, ranked=checked.ranked,
                     images=_listed(result, images), missing_images=missing)

    existing = _stored_digests(lb)
    if checked.digest in existing:
        where = existing[checked.digest]
        rel = where.relative_to(lb) if where.is_relative_to(lb) else where
        raise DiffbenchError(f"{source} refused: this result (digest {checked.digest[:12]}...) is already on the leaderboard "
                             f"as {rel}; a run is submitted once")
    if dry_run:
        return sub

    _check_writable(task_dir, lb)
    img_dir = task_dir / sid
    staging = None
    try:
        if images:
            if img_dir.exists():
                shutil.rmtree(img_dir)  # leftovers of an interrupted submit of this very document
            staging = Path(tempfile.mkdtemp(prefix=f".{sid}.", suffix=".tmp", dir=task_dir))
            for rel, data in images.items():
                dest = staging.joinpath(*rel.split("/"))
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
            os.replace(staging, img_dir)
            staging = None
        atomic_write_json(target, doc)
    except OSError as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if images and not target.exists():
            shutil.rmtree(img_dir, ignore_errors=True)
        raise DiffbenchError(f"cannot write to leaderboard dir {lb} ({exc.strerror or exc}); nothing was stored") from None
    return sub


def load_submissions(leaderboard: str | os.PathLike[str] | None = None, *, current_task: bool = True) -> list[Submission]:
    """Every stored submission, re-checked (strict JSON, file name = content hash, result
    checks, images present with their recorded hashes); sorted by task then id."""
    lb = resolve_leaderboard_dir(leaderboard)
    root = submissions_dir(lb)
    out: list[Submission] = []
    if not root.exists():
        return out
    if not root.is_dir():
        raise DiffbenchError(f"{root} is not a folder; the leaderboard keeps submissions in <leaderboard>/submissions/<task>/")
    for path in _stored_files(lb):
        source = str(path)
        if not _ID.match(path.stem):
            raise DiffbenchError(f"{source}: unexpected file; stored submissions are named <16 hex digits>.json by `diffbench submit`")
        doc = read_json_strict(path, "submission")
        if not isinstance(doc, dict) or set(doc) != {"submission", "result"} or not isinstance(doc["submission"], dict):
            raise DiffbenchError(f"{source}: a stored submission is an object {{\"submission\": ..., \"result\": ...}}")
        if document_id(doc) != path.stem:
            raise DiffbenchError(f"{source}: the content does not hash to its file name (edited after `diffbench submit`); "
                                 "restore it or submit the result again")
        checked = check_result(doc["result"], source, current_task=current_task)
        if checked.task != path.parent.name:
            raise DiffbenchError(f"{source}: holds a result of task {checked.task!r} but is filed under {path.parent.name!r}")
        meta = doc["submission"]
        _check_meta(meta, source)
        images = meta["images"]
        for rel, sha in sorted(images.items()):
            parts = _image_parts(rel, source)
            img = path.parent.joinpath(path.stem, *parts)
            try:
                ok = hashlib.sha256(img.read_bytes()).hexdigest() == sha
            except OSError:
                raise DiffbenchError(f"{source}: its image {img} is missing; restore it or submit the result again") from None
            if not ok:
                raise DiffbenchError(f"{source}: its image {img} differs from the one submitted (SHA-256 mismatch)")
        out.append(Submission(id=path.stem, task=checked.task, path=path, doc=doc, ranked=checked.ranked,
                              images=_listed(doc["result"], images)))
    return out


def _listed(result: dict[str, Any], stored: Any) -> list[str]:
    """The stored images in the order the result lists them (seed by seed)."""
    out: list[str] = []
    for s in result["per_seed"]:
        for rel in s.get("images") or []:
            key = "/".join(PurePosixPath(rel).parts)
            if key in stored and key not in out:
                out.append(key)
    return out


def _check_meta(meta: dict[str, Any], source: str) -> None:
    want = {"title": str, "authors": str, "official": bool, "submitted": str, "images": dict}
    for key, typ in want.items():
        if not isinstance(meta.get(key), typ):
            raise DiffbenchError(f"{source}: submission.{key} must be a {typ.__name__}")
    if meta.get("url") is not None and safe_url(meta["url"]) is None:
        raise DiffbenchError(f"{source}: submission.url must be an http(s) URL or null")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta["submitted"]):
        raise DiffbenchError(f"{source}: submission.submitted must be a YYYY-MM-DD date")
    for key in ("title", "authors"):
        if len(meta[key]) > TEXT_LIMITS[key] or _CONTROL.search(meta[key]):
            raise DiffbenchError(f"{source}: submission.{key} is too long or has control characters")
    if not all(isinstance(v, str) and _HEX64.match(v) for v in meta["images"].values()):
        raise DiffbenchError(f"{source}: submission.images must map paths to SHA-256 hex digests")

"""A task as the rest of diffbench sees it: :class:`TaskSpec` (lattice, sources, physics, splits,
seed; its input channels and the ``spec_hash`` of its data-defining fields) and
:class:`SplitSpec` (a split's source counts and samples per count, with the balanced, nested
subsets of :meth:`SplitSpec.indices`), the split names and the input channels. Reading a task
from its YAML is :mod:`diffbench.data.tasks`."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..physics.sources import SourceSpec
from .fields import PhysicsSpec

SPLITS = ("train", "val", "test")
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
#: Every input channel a task can give a network, in the order they are stacked.
CHANNELS = ("source", "log_diffusivity", "decay", "absorbing", "periodic", "clamped_mask")


@dataclass(frozen=True)
class SplitSpec:
    """The source counts of a split and how many samples each count gets."""

    counts: tuple[int, ...]
    per_count: int

    @property
    def size(self) -> int:
        return len(self.counts) * self.per_count

    def count_of(self, index: int) -> int:
        """Samples are laid out count by count: index = count_position * per_count + j."""
        return self.counts[index // self.per_count]

    def indices(self, counts: tuple[int, ...] | None = None, fraction: float = 1.0) -> list[int]:
        """Indices of the samples with the given counts: ``fraction`` of them, a prefix of each count.

        The number taken is the exact fraction of the kept samples, ``floor(fraction * n + 1/2)``
        (at least one per kept count), shared as evenly as the counts allow: every count gets
        ``total // k`` and the first ``total % k`` counts one more. So 1.25 % of 2,000 samples
        over 20 counts is 25 samples (2 of counts 1-5, 1 of the others), not 20. Taking a prefix
        of each count keeps every fraction balanced (per-count sizes differ by at most one) and
        nested (a count's share never shrinks as the fraction grows, so the 1.25 % subset is
        inside the 2.5 % subset).

        >>> split = SplitSpec(counts=tuple(range(1, 21)), per_count=100)
        >>> len(split.indices(fraction=0.0125)), len(split.indices(fraction=0.025)), len(split.indices(fraction=0.125))
        (25, 50, 250)
        >>> set(split.indices(fraction=0.0125)) <= set(split.indices(fraction=0.025))
        True
        """
        keep = self.counts if counts is None else counts
        kept = [pos for pos, c in enumerate(self.counts) if c in keep]
        if not kept:
            return []
        n = len(kept) * self.per_count
        total = min(n, max(len(kept), math.floor(fraction * n + 0.5)))
        base, extra = divmod(total, len(kept))
        out: list[int] = []
        for j, pos in enumerate(kept):
            take = base + (1 if j < extra else 0)
            out.extend(range(pos * self.per_count, pos * self.per_count + take))
        return out


@dataclass(frozen=True)
class TaskSpec:
    name: str
    lattice: int
    seed: int
    sources: SourceSpec
    source_mode: str
    physics: PhysicsSpec
    splits: dict[str, SplitSpec]
    description: str = ""
    purpose: str = ""
    axis: str = "baseline"
    serve: str = "cache"
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    channels: tuple[str, ...] = ()

    @property
    def input_channels(self) -> list[str]:
        """Names of the network's input channels, in order.

        The channels whatever varies needs, plus any listed under ``channels:`` in the YAML —
        e.g. a constant-D task that also feeds ``log_diffusivity`` (all zeros), so a model
        trained on it can be tested on a variable-D task (out-of-distribution).
        """
        needed = {"source", *self.physics.extra_channels, *self.channels}
        if self.source_mode == "clamped":
            needed.add("clamped_mask")
        return [c for c in CHANNELS if c in needed]

    @property
    def in_channels(self) -> int:
        return len(self.input_channels)

    @property
    def max_count(self) -> int:
        return max(max(s.counts) for s in self.splits.values())

    def data_fields(self) -> dict[str, Any]:
        """The fields that define the data (hashed); descriptions and budgets are not."""
        return {
            "lattice": self.lattice,
            "seed": self.seed,
            "sources": {**asdict(self.sources), "strength": list(self.sources.strength), "mode": self.source_mode},
            "physics": self.physics.to_dict(),
            "splits": {k: {"counts": list(v.counts), "per_count": v.per_count} for k, v in self.splits.items()},
        }

    @property
    def spec_hash(self) -> str:
        blob = json.dumps(self.data_fields(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "purpose": self.purpose,
            "axis": self.axis,
            "serve": self.serve,
            "training": dict(self.training),
            "evaluation": dict(self.evaluation),
            "input_channels": self.input_channels,
            **self.data_fields(),
            "spec_hash": self.spec_hash,
        }

"""The physics axes of a task: diffusivity, decay and boundary, drawn per sample.

``physics`` in a task YAML::

    diffusivity: 1.0                                   # constant (default)
    diffusivity: {kind: per-sample, range: [0.5, 2]}   # constant per sample, log-uniform
    diffusivity: {kind: inclusions, count: [1, 4], radius: [3, 8], contrast: [0.1, 10]}
    diffusivity: {kind: lognormal, sigma: 0.5, length: 4}   # smooth log-normal random field
    decay: 0.0            # or [low, high]: uniform per sample
    boundary: dirichlet   # neumann | periodic | {top: .., bottom: .., left: .., right: ..}
    boundary: {random: [dirichlet, neumann, {top: dirichlet, ...}]}   # one per sample

Whatever varies reaches the network as input channels (see :attr:`PhysicsSpec.extra_channels`):
``log_diffusivity`` when D is not 1 everywhere in every sample, ``decay`` when gamma varies
between samples, and ``absorbing`` / ``periodic`` border maps when the boundary varies.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DiffbenchError
from ..physics.boundary import SIDES, Boundary, parse_boundary

D_KINDS = ("constant", "per-sample", "inclusions", "lognormal")
#: The most inclusions one sample may draw (each is a pass over the N x N lattice).
MAX_INCLUSIONS = 1000
BOUNDARY_CODES = {"dirichlet": 0, "neumann": 1, "periodic": 2}


def _number(v: Any, what: str, shown: Any = None) -> float:
    """``float(v)`` for a YAML number; a DiffbenchError for text, lists, ``None``, booleans."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise DiffbenchError(f"{what} must be a number, got {_short(v if shown is None else shown)}")
    try:
        return float(v)
    except OverflowError:  # an integer beyond float range: say so as for inf
        raise DiffbenchError(
            f"{what} must be finite, got an integer too large for a float (about 2**{int(v).bit_length()})"
        ) from None


def _short(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about 2**{value.bit_length()}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _finite_number(v: Any) -> bool:
    """Whether ``v`` is a real number (not a bool) that a float holds finitely."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _range(value: Any, what: str, positive: bool = True) -> tuple[float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise DiffbenchError(f"{what} must be [low, high], got {_short(value)}")
    lo, hi = (_number(v, what, value) for v in value)
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi or (positive and lo <= 0) or (not positive and lo < 0):
        need = "0 < low <= high" if positive else "0 <= low <= high"
        raise DiffbenchError(f"{what} must satisfy {need} and be finite, got {_short(value)}")
    return lo, hi


@dataclass(frozen=True)
class PhysicsSpec:
    diffusivity: dict[str, Any]
    decay: tuple[float, float]
    boundaries: tuple[Boundary, ...]

    # ----------------------------------------------------------------- parsing
    @classmethod
    def parse(cls, raw: dict[str, Any], where: str = "task") -> PhysicsSpec:
        allowed = {"diffusivity", "decay", "boundary"}
        if not isinstance(raw, dict):
            raise DiffbenchError(
                f"{where}: physics must be a mapping with keys {', '.join(sorted(allowed))}, got {_short(raw)}"
            )
        if set(raw) - allowed:
            unknown = sorted(
                k if isinstance(k, str) and k.isprintable() and 0 < len(k) <= 40 else _short(k)
                for k in set(raw) - allowed
            )
            raise DiffbenchError(
                f"{where}: unknown physics key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )
        d = raw.get("diffusivity", 1.0)
        if isinstance(d, (int, float)) and not isinstance(d, bool):
            if not _finite_number(d):
                raise DiffbenchError(f"{where}: diffusivity must be positive and finite (D > 0), got {_short(d)}")
            d = {"kind": "constant", "value": float(d)}
        if not isinstance(d, dict) or d.get("kind") not in D_KINDS:
            raise DiffbenchError(
                f"{where}: physics.diffusivity must be a positive number or a mapping with kind in {', '.join(D_KINDS)}, got {_short(d)}"
            )
        d = dict(d)
        kind = d["kind"]
        if kind == "constant":
            v = _number(d.get("value", 1.0), f"{where}: diffusivity (D > 0)")
            if not (math.isfinite(v) and v > 0):
                raise DiffbenchError(
                    f"{where}: diffusivity must be positive and finite (D > 0), got {_short(d.get('value'))}"
                )
            d = {"kind": kind, "value": v}
        elif kind == "per-sample":
            d = {"kind": kind, "range": list(_range(d.get("range"), f"{where}: diffusivity.range"))}
        elif kind == "inclusions":
            count = _range(d.get("count", [1, 4]), f"{where}: diffusivity.count")
            if count[1] > MAX_INCLUSIONS:
                raise DiffbenchError(
                    f"{where}: diffusivity.count must be at most {MAX_INCLUSIONS} inclusions, got {_short(d.get('count'))}"
                )
            d = {
                "kind": kind,
                "count": [int(c) for c in count],
                "radius": list(_range(d.get("radius", [2, 6]), f"{where}: diffusivity.radius")),
                "contrast": list(_range(d.get("contrast", [0.1, 10.0]), f"{where}: diffusivity.contrast")),
            }
        else:
            what = f"{where}: lognormal diffusivity (sigma >= 0, length > 0)"
            sigma, length = _number(d.get("sigma", 0.5), what), _number(d.get("length", 4.0), what)
            if not (math.isfinite(sigma) and sigma >= 0 and math.isfinite(length) and length > 0):
                raise DiffbenchError(f"{where}: lognormal diffusivity needs sigma >= 0 and length > 0, got {_short(d)}")
            d = {"kind": kind, "sigma": sigma, "length": length}
        g = raw.get("decay", 0.0)
        if isinstance(g, (int, float)) and not isinstance(g, bool):
            if not (_finite_number(g) and g >= 0):
                raise DiffbenchError(f"{where}: decay must be finite and >= 0, got {_short(g)}")
            decay = (float(g), float(g))
        else:
            decay = _range(g, f"{where}: physics.decay", positive=False)
        b = raw.get("boundary", "dirichlet")
        if isinstance(b, dict) and set(b) == {"random"}:
            options = b["random"]
            if not isinstance(options, list) or not options:
                raise DiffbenchError(f"{where}: boundary.random must be a non-empty list of boundaries")
            boundaries = tuple(_boundary(o, where) for o in options)
        else:
            boundaries = (_boundary(b, where),)
        return cls(d, decay, boundaries)

    def validate(self, lattice: int, where: str, clamped: bool) -> None:
        if self.decay[0] == 0 and not clamped:
            for b in self.boundaries:
                if not b.has_dirichlet:
                    raise DiffbenchError(
                        f"{where}: boundary {b.describe()!r} with decay 0 and flux sources is singular; "
                        "give decay > 0, a Dirichlet side, or clamped sources"
                    )

    def to_dict(self) -> dict[str, Any]:
        b = [x.describe() for x in self.boundaries]
        return {
            "diffusivity": self.diffusivity,
            "decay": list(self.decay),
            "boundary": b[0] if len(b) == 1 else {"random": b},
        }

    # ----------------------------------------------------------------- channels
    @property
    def varies_diffusivity(self) -> bool:
        d = self.diffusivity
        return not (d["kind"] == "constant" and d["value"] == 1.0)

    @property
    def extra_channels(self) -> list[str]:
        ch = []
        if self.varies_diffusivity:
            ch.append("log_diffusivity")
        if self.decay[0] != self.decay[1]:
            ch.append("decay")
        if len(self.boundaries) > 1:
            ch += ["absorbing", "periodic"]
        return ch

    # ----------------------------------------------------------------- sampling
    def sample(self, rng: np.random.Generator, lattice: int) -> tuple[Any, float, Boundary]:
        """Draw (D, gamma, boundary) for one sample; D is a float or an (N, N) array."""
        d = self.diffusivity
        kind = d["kind"]
        if kind == "constant":
            D: Any = d["value"]
        elif kind == "per-sample":
            lo, hi = d["range"]
            D = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        elif kind == "inclusions":
            D = _inclusions(rng, lattice, d)
        else:
            D = _lognormal(rng, lattice, d["sigma"], d["length"])
        lo, hi = self.decay
        gamma = lo if lo == hi else float(rng.uniform(lo, hi))
        b = (
            self.boundaries[0]
            if len(self.boundaries) == 1
            else self.boundaries[int(rng.integers(len(self.boundaries)))]
        )
        return D, gamma, b


def _boundary(value: Any, where: str) -> Boundary:
    if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
        raise DiffbenchError(
            f"{where}: physics.boundary sides must be named top, bottom, left, right, got {_short(value)}"
        )
    try:
        return parse_boundary(value)
    except DiffbenchError as exc:
        raise DiffbenchError(f"{where}: physics.boundary: {exc}") from None


def _inclusions(rng: np.random.Generator, n: int, d: dict[str, Any]) -> np.ndarray:
    """Background D = 1 with disks of another constant D (log-uniform in ``contrast``)."""
    field = np.ones((n, n))
    k = int(rng.integers(d["count"][0], d["count"][1] + 1))
    yy, xx = np.mgrid[0:n, 0:n]
    lo, hi = d["contrast"]
    for _ in range(k):
        r = rng.uniform(*d["radius"])
        cy, cx = rng.uniform(0, n, size=2)
        value = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        field[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = value
    return field


def _lognormal(rng: np.random.Generator, n: int, sigma: float, length: float) -> np.ndarray:
    """exp(sigma * g), g a unit-variance Gaussian random field with a Gaussian covariance."""
    noise = rng.standard_normal((n, n))
    ky = np.fft.fftfreq(n)[:, None]
    kx = np.fft.rfftfreq(n)[None, :]
    filt = np.exp(-2.0 * (math.pi * length) ** 2 * (kx**2 + ky**2))
    g = np.fft.irfft2(np.fft.rfft2(noise) * filt, s=(n, n))
    std = g.std()
    g = (g - g.mean()) / (std if std > 0 else 1.0)
    return np.exp(sigma * g)


def boundary_codes(b: Boundary) -> list[int]:
    return [BOUNDARY_CODES[getattr(b, s)] for s in SIDES]


def boundary_maps(b: Boundary, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Border maps given to networks when the boundary varies: (absorbing, periodic)."""
    absorbing = np.zeros((n, n), dtype=np.float32)
    periodic = np.zeros((n, n), dtype=np.float32)
    sl = {"top": (0, slice(None)), "bottom": (-1, slice(None)), "left": (slice(None), 0), "right": (slice(None), -1)}
    for side in SIDES:
        kind = getattr(b, side)
        if kind == "dirichlet":
            absorbing[sl[side]] = 1.0
        elif kind == "periodic":
            periodic[sl[side]] = 1.0
    return absorbing, periodic

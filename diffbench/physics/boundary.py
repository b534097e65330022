"""Outer boundary conditions, per side of the lattice.

Array convention: a field has shape ``(..., N, N)``; axis -2 is the row (y) axis and axis -1
the column (x) axis. Row 0 is the ``top`` side, row N-1 ``bottom``, column 0 ``left`` and
column N-1 ``right``.

- ``"dirichlet"`` (absorbing): the outside neighbour is a ghost cell with u = 0 whose face
  conductance is the boundary cell's own D.
- ``"neumann"`` (reflecting): no flux through the outer face.
- ``"periodic"``: the lattice wraps around; it must be given to both sides of an axis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

from ..errors import DiffbenchError

BOUNDARY_TYPES = ("dirichlet", "neumann", "periodic")
SIDES = ("top", "bottom", "left", "right")

BoundaryLike = Union[str, Mapping[str, str], "Boundary"]


@dataclass(frozen=True)
class Boundary:
    """The boundary type of each of the four sides.

    Examples
    --------
    >>> Boundary.uniform("neumann").is_uniform
    True
    >>> parse_boundary({"top": "dirichlet", "bottom": "dirichlet", "left": "periodic", "right": "periodic"}).axis_kind(-1)
    'periodic'
    """

    top: str = "dirichlet"
    bottom: str = "dirichlet"
    left: str = "dirichlet"
    right: str = "dirichlet"

    @classmethod
    def uniform(cls, kind: str) -> Boundary:
        return parse_boundary(kind)

    @property
    def sides(self) -> dict[str, str]:
        return {s: getattr(self, s) for s in SIDES}

    @property
    def is_uniform(self) -> bool:
        return len(set(self.sides.values())) == 1

    @property
    def has_dirichlet(self) -> bool:
        return "dirichlet" in self.sides.values()

    def axis_sides(self, axis: int) -> tuple[str, str]:
        """The (low, high) side types of an axis (-2: top/bottom, -1: left/right)."""
        return (self.top, self.bottom) if axis == -2 else (self.left, self.right)

    def axis_kind(self, axis: int) -> str | None:
        """The single boundary type of an axis, or None when its two sides differ."""
        low, high = self.axis_sides(axis)
        return low if low == high else None

    def periodic(self, axis: int) -> bool:
        return self.axis_kind(axis) == "periodic"

    def describe(self) -> str | dict[str, str]:
        """The compact form used in task specs and result files."""
        return self.top if self.is_uniform else self.sides


def parse_boundary(value: BoundaryLike) -> Boundary:
    """Turn a boundary name or a per-side mapping into a validated :class:`Boundary`.

    Raises
    ------
    DiffbenchError
        On an unknown type or side name, or a periodic side paired with a non-periodic one.
    """
    if isinstance(value, Boundary):
        sides = value.sides
    elif isinstance(value, str):
        sides = {s: value for s in SIDES}
    elif isinstance(value, Mapping):
        unknown = sorted(set(value) - set(SIDES))
        if unknown:
            raise DiffbenchError(
                f"unknown boundary side(s) {', '.join(map(repr, unknown))}; allowed sides: {', '.join(SIDES)}"
            )
        missing = [s for s in SIDES if s not in value]
        if missing:
            raise DiffbenchError(f"boundary mapping lacks side(s) {', '.join(missing)}; give all of {', '.join(SIDES)}")
        sides = dict(value)
    else:
        raise DiffbenchError(
            f"boundary must be one of {', '.join(BOUNDARY_TYPES)} or a mapping of sides to them, got {value!r}"
        )
    for side, kind in sides.items():
        if kind not in BOUNDARY_TYPES:
            raise DiffbenchError(f"unknown boundary {kind!r} on side {side!r}; allowed: {', '.join(BOUNDARY_TYPES)}")
    for low, high in (("top", "bottom"), ("left", "right")):
        if (sides[low] == "periodic") != (sides[high] == "periodic"):
            raise DiffbenchError(
                f"periodic boundary must be set on both {low} and {high}, got {low}={sides[low]!r}, {high}={sides[high]!r}"
            )
    return Boundary(**sides)

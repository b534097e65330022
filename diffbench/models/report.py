"""What ``check_model`` measured: :class:`CheckResult` per check and the :class:`CheckReport`.

Torch-free, so that ``diffbench check-model`` can print the report of a model checked in a
child process (:mod:`diffbench.models.isolation`) without importing torch itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes
    ----------
    name : str
        The check (``"output shape"``, ``"training step"``, ...).
    passed : bool
        Whether it passed.
    detail : str
        What was measured or what went wrong.
    seconds : float
        Wall time the check took.
    """

    name: str
    passed: bool
    detail: str
    seconds: float


@dataclass
class CheckReport:
    """Everything :func:`check_model` measured.

    Attributes
    ----------
    model : str
        The model as messages name it (``"model 'unet' (built-in)"``).
    in_channels, lattice, batch_size, seed : int
        What was checked.
    parameters : int
        Trainable parameter count.
    forward_seconds, train_step_seconds : float
        Wall time of one forward pass (eval mode, no grad) and of one training step.
    results : list of CheckResult
        One per check, in order.

    Examples
    --------
    >>> from diffbench.models import check_model
    >>> report = check_model("cnn-small", in_channels=1, lattice=16)
    >>> report.passed, [r.name for r in report.results][:3]
    (True, ['build', 'forward', 'output shape'])
    """

    model: str
    in_channels: int
    lattice: int
    batch_size: int
    seed: int
    parameters: int = 0
    forward_seconds: float = float("nan")
    train_step_seconds: float = float("nan")
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(result.passed for result in self.results)

    def summary(self) -> str:
        """A small text table, one line per check."""
        lines = [f"{self.model}: in_channels={self.in_channels}, N={self.lattice}, batch {self.batch_size}"]
        for result in self.results:
            status = "ok  " if result.passed else "FAIL"
            lines.append(f"  {status} {result.name:<16} {result.seconds * 1000:8.1f} ms  {result.detail}")
        return "\n".join(lines)

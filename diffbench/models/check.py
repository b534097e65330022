"""``check_model``: a few seconds of sanity checks a model must pass before it is trained.

The checks, in order (the first failure raises a one-line :class:`~diffbench.errors.DiffbenchError`
that names the model, and for a plugin its package):

1. **build**: ``create(name, in_channels, lattice=lattice)`` works and has trainable parameters;
2. **forward**: a forward pass on a ``(B, C_in, N, N)`` float32 batch runs;
3. **output shape**: the output is a tensor of shape ``(B, 1, N, N)``;
4. **dtype**: it is float32;
5. **finite**: it holds no NaN or infinity;
6. **determinism**: a second build under the same seed has the same weights and output;
7. **spec round trip**: ``build_from_spec(model_spec(model))`` plus the state dict gives the same output;
8. **training step**: one SGD step on the CPU gives finite gradients and changes the parameters.

:func:`check_output` runs checks 2 to 5 on a model already built, for a run to call before it
trains. Code of a model runs inside ``except BaseException``: ``sys.exit()`` in a plugin's forward
pass is a failed check, only Ctrl-C passes through. (``diffbench check-model`` runs a plugin in a
child process with a time limit; see :mod:`diffbench.models.isolation`.)

The SGD step is written out (``p -= lr * grad``) rather than taken by ``torch.optim.SGD``, whose
first use imports ``torch._dynamo``: 1.5 of the 4.5 seconds ``check-model fno-small`` took.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from diffbench.errors import DiffbenchError
from diffbench.models.classpath import one_line, path_of, reraise_interrupt
from diffbench.models.registry import count_parameters, create, describe_model
from diffbench.models.report import CheckReport, CheckResult
from diffbench.models.spec import build_from_spec, model_spec

SGD_LR = 1e-3
"""Learning rate of the one SGD step of the training-step check."""


def check_model(
    name: str,
    in_channels: int,
    lattice: int,
    *,
    batch_size: int = 2,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
) -> CheckReport:
    """Build a model and check shape, dtype, finiteness, determinism, its spec and one training step.

    Runs on the CPU in seconds (for the ``-small`` presets, well under one). The global random
    state is left as it was.

    Parameters
    ----------
    name : str
        A preset, plugin or class path, as for :func:`diffbench.models.create`.
    in_channels : int
        Input channels of the task.
    lattice : int
        The lattice size N.
    batch_size : int
        Batch size of the test input.
    seed : int
        Seed of the weights and of the test batch.
    overrides : Mapping, optional
        Constructor arguments passed on to ``create``.

    Returns
    -------
    CheckReport
        Every check passed (a failure raises instead).

    Raises
    ------
    DiffbenchError
        At the first failing check, one line naming the model and what was expected.

    Examples
    --------
    >>> print(check_model("unet-small", 1, 16).summary())  # doctest: +ELLIPSIS
    model 'unet-small' (built-in): in_channels=1, N=16, batch 2
      ok   build ...
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise DiffbenchError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(lattice, bool) or not isinstance(lattice, int) or lattice < 1:
        raise DiffbenchError(f"lattice must be a positive integer, got {lattice!r}")
    label = describe_model(name) if isinstance(name, str) else repr(name)
    report = CheckReport(label, in_channels, lattice, batch_size, seed)
    kwargs = dict(overrides or {})
    with torch.random.fork_rng(devices=[]):
        _run_checks(report, name, kwargs)
    return report


def _run_checks(report: CheckReport, name: str, kwargs: dict[str, Any]) -> None:
    shape_in = (report.batch_size, report.in_channels, report.lattice, report.lattice)
    shape_out = (report.batch_size, 1, report.lattice, report.lattice)
    generator = torch.Generator().manual_seed(report.seed)
    x = torch.rand(shape_in, generator=generator)
    target = torch.rand(shape_out, generator=generator)

    def build() -> nn.Module:
        torch.manual_seed(report.seed)
        return create(name, report.in_channels, 1, lattice=report.lattice, **kwargs)

    start = time.perf_counter()
    model = build()  # a DiffbenchError here already names the model and its package
    report.parameters = count_parameters(model, trainable_only=True)
    if report.parameters == 0:
        _fail(report, "build", start, "the model has no trainable parameters")
    _pass(report, "build", start, f"{report.parameters:,} trainable parameters")

    y = _check_forward(report, model, x)

    start = time.perf_counter()
    twin = build()
    differing = [key for key, value in model.state_dict().items() if not torch.equal(value, twin.state_dict()[key])]
    if differing:
        _fail(report, "determinism", start, f"two builds with seed {report.seed} differ in {', '.join(differing[:3])}")
    tolerance = 1e-5 * max(1.0, float(y.abs().max()))
    difference = _max_difference(y, _forward(report, twin, x, start))
    if difference > tolerance:
        _fail(report, "determinism", start, f"two builds with seed {report.seed} give outputs {difference:.3g} apart")
    _pass(report, "determinism", start, f"same weights and output under seed {report.seed}")

    start = time.perf_counter()
    try:
        rebuilt = build_from_spec(model_spec(model))
        rebuilt.load_state_dict(model.state_dict())
    except (DiffbenchError, RuntimeError) as exc:
        _fail(report, "spec round trip", start, one_line(exc))
    difference = _max_difference(y, _forward(report, rebuilt, x, start))
    if difference > tolerance:
        _fail(report, "spec round trip", start, f"the rebuilt model's output is {difference:.3g} away")
    _pass(report, "spec round trip", start, "build_from_spec + state dict reproduce the output")

    start = time.perf_counter()
    _training_step(report, model, x, target, start)


def check_output(model: nn.Module, in_channels: int, lattice: int, *, batch_size: int = 1, seed: int = 0) -> None:
    """Refuse a built model whose output a run cannot train on: the forward, shape, dtype and finite checks.

    What :func:`check_model` checks of the output, for a model already built (a run calls it on
    its probe before training): one forward pass in eval mode, without gradients, on a seeded
    ``(batch_size, in_channels, lattice, lattice)`` batch must give a float32 tensor of shape
    ``(batch_size, 1, lattice, lattice)`` with no NaN or infinity. The model's training mode and
    the global random state are left as they were.

    Raises
    ------
    DiffbenchError
        One line, as ``check-model`` words it: ``"<model> failed the dtype check: the output is
        torch.float64; expected torch.float32"``; a tuple, dict or other non-tensor output fails
        the output shape check.

    Examples
    --------
    >>> check_output(create("cnn-small", 1, lattice=16), 1, 16)
    >>> check_output(nn.Conv2d(1, 2, 3, padding=1), 1, 16)
    Traceback (most recent call last):
    diffbench.errors.DiffbenchError: model class 'torch.nn.modules.conv:Conv2d' failed the output shape check: input (1, 1, 16, 16) gave output (1, 2, 16, 16); expected (1, 1, 16, 16)
    """
    for name, value in (("in_channels", in_channels), ("lattice", lattice), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DiffbenchError(f"{name} must be a positive integer, got {value!r}")
    spec = model.__dict__.get("_diffbench_spec")
    label = describe_model(spec["name"]) if spec else f"model class '{path_of(type(model))}'"
    report = CheckReport(label, in_channels, lattice, batch_size, seed)
    training = model.training
    try:
        with torch.random.fork_rng(devices=[]):
            x = torch.rand(
                report.batch_size, in_channels, lattice, lattice, generator=torch.Generator().manual_seed(seed)
            )
            _check_forward(report, model, x)
    finally:
        model.train(training)


def _check_forward(report: CheckReport, model: nn.Module, x: torch.Tensor) -> Any:
    """The forward, output shape, dtype and finite checks; returns the output."""
    shape_in = tuple(x.shape)
    shape_out = (report.batch_size, 1, report.lattice, report.lattice)
    start = time.perf_counter()
    y = _forward(report, model, x, start)
    report.forward_seconds = time.perf_counter() - start
    _pass(report, "forward", start, f"input {shape_in}")

    start = time.perf_counter()
    if not isinstance(y, torch.Tensor):
        _fail(report, "output shape", start, f"the forward pass returned a {type(y).__name__}, not a tensor")
    if tuple(y.shape) != shape_out:
        _fail(report, "output shape", start, f"input {shape_in} gave output {tuple(y.shape)}; expected {shape_out}")
    _pass(report, "output shape", start, f"{shape_out}")

    start = time.perf_counter()
    if y.dtype != torch.float32:
        _fail(report, "dtype", start, f"the output is {y.dtype}; expected torch.float32")
    _pass(report, "dtype", start, "torch.float32")

    start = time.perf_counter()
    bad = int((~torch.isfinite(y)).sum())
    if bad:
        _fail(report, "finite", start, f"{bad} of {y.numel()} output values are NaN or infinite")
    _pass(report, "finite", start, f"output in [{float(y.min()):.3g}, {float(y.max()):.3g}]")
    return y


def _forward(report: CheckReport, model: nn.Module, x: torch.Tensor, start: float) -> Any:
    model.eval()
    try:
        with torch.no_grad():
            return model(x)
    except BaseException as exc:  # noqa: BLE001 (SystemExit included: a model must not end diffbench)
        reraise_interrupt(exc)
        _fail(report, "forward", start, f"the forward pass on input {tuple(x.shape)} raised {one_line(exc)}")


def _training_step(report: CheckReport, model: nn.Module, x: torch.Tensor, target: torch.Tensor, start: float) -> None:
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in parameters]
    try:
        loss = F.mse_loss(model(x), target)
        loss.backward()
    except BaseException as exc:  # noqa: BLE001 (SystemExit included)
        reraise_interrupt(exc)
        _fail(report, "training step", start, f"forward/backward in training mode raised {one_line(exc)}")
    if not torch.isfinite(loss):
        _fail(report, "training step", start, f"the loss is {float(loss.detach())}")
    no_gradient = sum(p.grad is None for p in parameters)
    if no_gradient == len(parameters):
        _fail(report, "training step", start, "no parameter received a gradient")
    if any(p.grad is not None and not torch.isfinite(p.grad).all() for p in parameters):
        _fail(report, "training step", start, "some gradients are NaN or infinite")
    with torch.no_grad():  # plain SGD, as torch.optim.SGD(lr=SGD_LR) steps, without importing torch._dynamo
        for p in parameters:
            if p.grad is not None:
                p.add_(p.grad, alpha=-SGD_LR)
    report.train_step_seconds = time.perf_counter() - start
    changed = sum(not torch.equal(p.detach(), old) for p, old in zip(parameters, before))
    if changed == 0:
        _fail(report, "training step", start, "one SGD step changed no parameter")
    try:
        with torch.no_grad():
            loss_after = float(F.mse_loss(model(x), target))
    except BaseException as exc:  # noqa: BLE001
        reraise_interrupt(exc)
        _fail(report, "training step", start, f"the forward pass after the step raised {one_line(exc)}")
    _pass(
        report,
        "training step",
        start,
        f"MSE {float(loss.detach()):.4g} -> {loss_after:.4g}, {changed}/{len(parameters)} tensors updated, "
        f"{report.train_step_seconds * 1000:.0f} ms",
    )


def _max_difference(a: Any, b: Any) -> float:
    if not isinstance(b, torch.Tensor) or b.shape != a.shape:
        return float("inf")
    return float((a - b).abs().max()) if a.numel() else 0.0


def _pass(report: CheckReport, check: str, start: float, detail: str) -> None:
    report.results.append(CheckResult(check, True, detail, time.perf_counter() - start))


def _fail(report: CheckReport, check: str, start: float, detail: str) -> None:
    report.results.append(CheckResult(check, False, detail, time.perf_counter() - start))
    raise DiffbenchError(f"{report.model} failed the {check} check: {detail}")


def time_training_step(
    name: str,
    in_channels: int = 1,
    lattice: int = 32,
    *,
    batch_size: int = 16,
    steps: int = 5,
    warmup: int = 2,
    seed: int = 0,
) -> float:
    """The median wall time of one CPU training step (forward, L1 loss, backward, Adam step).

    Parameters
    ----------
    name : str
        A preset, plugin or class path.
    in_channels, lattice, batch_size : int
        The batch shape ``(batch_size, in_channels, lattice, lattice)``.
    steps : int
        Timed steps; the median is returned.
    warmup : int
        Untimed steps first (the first calls set up kernels and memory).
    seed : int
        Seed of the weights and data; the global random state is left as it was.

    Returns
    -------
    float
        Seconds per step, on the threads torch is set to use.

    Examples
    --------
    >>> time_training_step("cnn-small", steps=1, warmup=0) > 0
    True
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create(name, in_channels, 1, lattice=lattice).train()
        x = torch.rand(batch_size, in_channels, lattice, lattice)
        target = torch.rand(batch_size, 1, lattice, lattice)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        times = []
        for _ in range(warmup + steps):
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            F.l1_loss(model(x), target).backward()
            optimizer.step()
            times.append(time.perf_counter() - start)
    timed = sorted(times[warmup:])
    return timed[len(timed) // 2]

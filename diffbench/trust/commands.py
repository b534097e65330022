"""``diffbench solve``: source maps in, fields meeting a guaranteed tolerance out.

::

    diffbench solve --checkpoint runs/<run>/seed-0/best.ckpt --tol 1e-6 --input S.npy --output U.npy

``S.npy`` holds source maps in physical units, ``(N, N)`` or ``(B, N, N)``; ``U.npy`` gets the
fields in physical units (float64, the input's shape), written atomically, never over an
existing file unless ``--force``. The trained surrogate only warm-starts the solver; the
tolerance comes from the solver's residual certificate, recomputed for every sample (see
:mod:`diffbench.trust.polish`). The command prints the iterations and wall time against a
cold start and against the fastest direct solver, and ``--report R.json`` keeps them.

Lattice: N must equal the lattice of the checkpoint's task, for every model (also for
resolution-independent ones such as the FNO). The warm start is what is being measured, and
the benchmark has measured a model on its task's lattice only; an off-lattice input is refused
rather than silently served by a model outside its tested range.

Physics: from the checkpoint's task when the task keeps it constant; a task that draws D,
the decay or the boundary per sample needs ``--diffusivity`` (a number or a .npy of shape
``(N, N)`` or ``(B, N, N)``), ``--decay`` (a number >= 0) and ``--boundary`` (a name or a JSON
mapping of the four sides), or the command says which one is missing. Given on a task with
constant physics, they override it (the network never saw that physics, so only the warm start
may suffer, never the tolerance).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DiffbenchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("solve", help="solve source maps to a guaranteed tolerance, warm-started by a trained surrogate")
    p.add_argument("--checkpoint", required=True, help="a best.ckpt / last.ckpt written by `diffbench run`")
    p.add_argument("--input", required=True, help="source maps in physical units: a .npy of shape (N, N) or (B, N, N)")
    p.add_argument("--output", required=True, help="where to write the fields (.npy, physical units, float64)")
    p.add_argument(
        "--tol",
        type=float,
        default=1e-6,
        help="relative residual ||A u - S|| / ||S|| every field must meet, in (0, 1) (default 1e-6)",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing --output")
    p.add_argument(
        "--task",
        help="the checkpoint's task by name or YAML path (default: the name it records); its spec hash must match",
    )
    p.add_argument(
        "--diffusivity", help="D: a number or a .npy of shape (N, N) or (B, N, N) (needed when the task varies D)"
    )
    p.add_argument("--decay", type=float, help="gamma >= 0 (needed when the task varies the decay)")
    p.add_argument(
        "--boundary",
        help="dirichlet | neumann | periodic | a JSON mapping of top/bottom/left/right (needed when the task varies it)",
    )
    p.add_argument(
        "--scale",
        default="residual",
        choices=("residual", "energy"),
        help="how the normalised prediction is rescaled: residual (default, alpha = <Ap,S>/<Ap,Ap>) or "
        "energy (alpha = <p,S>/<p,Ap>, the energy-norm optimum; fewer mgcg iterations in our measurements)",
    )
    p.add_argument("--device", default="cpu", help="where the network runs: cpu (default) | cuda | auto")
    p.add_argument(
        "--backend",
        default="numpy",
        help="where the solves and certificates run: numpy (default) | cupy (CUDA GPU, `.[gpu]`) | auto",
    )
    p.add_argument(
        "--threads", type=int, help="CPU threads for the network (torch.set_num_threads; default: torch's own)"
    )
    p.add_argument("--maxiter", type=int, default=2000, help="most mgcg iterations per sample (default 2000)")
    p.add_argument(
        "--repeats", type=int, default=3, help="timed repetitions of each solve; the minimum is reported (default 3)"
    )
    p.add_argument("--no-compare", action="store_true", help="skip the cold-start and direct-solver comparison")
    p.add_argument("--report", help="write the full report (iterations, residuals, times) to this JSON file")
    p.set_defaults(func=_solve)


def load_npy(path: str, what: str) -> np.ndarray:
    """A numeric, finite array from a .npy file, or a one-line DiffbenchError."""
    if not str(path).endswith(".npy"):
        raise DiffbenchError(f"{what} {path} must be a .npy file (numpy.save)")
    if not os.path.isfile(path):
        raise DiffbenchError(f"{what} {path} does not exist")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise DiffbenchError(f"{what} {path} is not a readable .npy array ({first})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
        raise DiffbenchError(
            f"{what} {path} must hold real numbers, got dtype {getattr(arr, 'dtype', type(arr).__name__)}"
        )
    if not np.isfinite(arr).all():
        raise DiffbenchError(f"{what} {path} contains NaN or infinite values")
    return arr.astype(np.float64)


def check_output(path: str, force: bool, inputs: tuple[str, ...] = ()) -> Path:
    out = Path(path)
    if not str(out).endswith(".npy"):
        raise DiffbenchError(f"--output {path} must end in .npy")
    if not out.parent.is_dir():
        raise DiffbenchError(f"--output directory {out.parent} does not exist")
    if out.exists() and not force:
        raise DiffbenchError(f"--output {path} already exists; pass --force to overwrite it")
    if out.exists() and out.is_dir():
        raise DiffbenchError(f"--output {path} is a directory")
    if not os.access(out.parent, os.W_OK):
        raise DiffbenchError(f"--output directory {out.parent} is not writable")
    return out


def write_npy_atomic(path: Path, arr: np.ndarray) -> None:
    """``numpy.save`` through a temporary file in the same folder and a rename."""
    import io

    from ..data.cache import atomic_write_bytes

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def _device(name: str) -> Any:
    import torch

    if name not in ("cpu", "cuda", "auto"):
        raise DiffbenchError(f"--device must be cpu, cuda or auto, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise DiffbenchError("--device cuda asked for, but torch sees no CUDA GPU; use --device cpu")
    return torch.device(name)


def _boundary_option(text: str | None) -> Any:
    if text is None:
        return None
    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            raise DiffbenchError(f"--boundary must be a name or a JSON mapping of sides, got {text!r}") from None
    return text


def _diffusivity_option(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return load_npy(text, "--diffusivity")


def load_surrogate(checkpoint: str, device: Any, task: str | None = None) -> tuple[Any, Any]:
    """The checkpoint's network (eval mode, on ``device``) and its task (spec hash checked)."""
    from ..data import load_task
    from ..training.module import SurrogateModule

    module = SurrogateModule.load(checkpoint)
    trained = module.hparams.task
    spec = load_task(task or trained["name"])
    if spec.spec_hash != trained.get("spec_hash"):
        what = "changed since" if task is None else "is not the task"
        raise DiffbenchError(
            f"task {spec.name!r} {what} {checkpoint} was trained on (spec hash differs); its physics cannot be trusted"
        )
    task = spec
    return module.model.to(device).eval(), task


def _solve(args: argparse.Namespace) -> int:
    from .polish import polished_solve
    from .problem import task_physics

    tol = args.tol
    if not (0 < tol < 1):
        raise DiffbenchError(f"--tol must be a number in (0, 1), got {tol!r}")
    if args.maxiter < 1 or args.repeats < 1 or (args.threads is not None and args.threads < 1):
        raise DiffbenchError("--maxiter, --repeats and --threads must be positive integers")
    if args.decay is not None and not (args.decay >= 0 and np.isfinite(args.decay)):
        raise DiffbenchError(f"--decay must be a finite number >= 0, got {args.decay!r}")
    out = check_output(args.output, args.force)
    if args.report:
        report_path = Path(args.report)
        if report_path.is_dir():
            raise DiffbenchError(f"--report {args.report} is a directory; give the name of a JSON file to write")
        if not report_path.parent.is_dir():
            raise DiffbenchError(f"--report directory {report_path.parent} does not exist")
        if not os.access(report_path.parent, os.W_OK):
            raise DiffbenchError(f"--report directory {report_path.parent} is not writable")
    sources = load_npy(args.input, "--input")
    if sources.ndim not in (2, 3):
        raise DiffbenchError(
            f"--input must have shape (N, N) or (B, N, N), got {sources.ndim} dimensions {sources.shape}"
        )
    single = sources.ndim == 2
    S = sources[None] if single else sources
    if S.shape[0] == 0:
        raise DiffbenchError("--input holds no source map (B = 0)")
    if S.shape[-1] != S.shape[-2]:
        raise DiffbenchError(f"--input maps must be square (N, N), got {S.shape[-2:]}")
    from ..solver.backend import get_backend

    get_backend(args.backend)  # a bad or unusable backend fails here, before the checkpoint loads
    device = _device(args.device)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    model, task = load_surrogate(args.checkpoint, device, args.task)
    n = task.lattice
    if S.shape[-1] != n:
        raise DiffbenchError(
            f"--input maps are {S.shape[-1]} x {S.shape[-1]} but the checkpoint's task {task.name!r} has lattice N = {n}; "
            "the surrogate is used on its own lattice only"
        )
    if task.source_mode == "clamped" and (S < 0).any():
        raise DiffbenchError(
            "task has clamped sources: --input holds the clamp values, which must be >= 0 (0 = free cell)"
        )
    physics = task_physics(
        task,
        S.shape[0],
        n,
        diffusivity=_diffusivity_option(args.diffusivity),
        decay=args.decay,
        boundary=_boundary_option(args.boundary),
    )
    fields, report = polished_solve(
        model,
        task,
        S,
        tol=tol,
        physics=physics,
        device=device,
        maxiter=args.maxiter,
        compare=not args.no_compare,
        repeats=args.repeats,
        scale=args.scale,
        backend=args.backend,
    )
    try:
        write_npy_atomic(out, fields[0] if single else fields)
    except OSError as exc:
        raise DiffbenchError(
            f"--output {out} could not be written ({exc.strerror or exc}); choose a writable folder"
        ) from None
    report["checkpoint"] = str(Path(args.checkpoint).resolve())
    report["task"] = task.name
    report["output"] = str(out)
    if args.report:
        from ..data.cache import atomic_write_json
        from ..results import clean_number

        try:
            atomic_write_json(Path(args.report), clean_number(report))
        except OSError as exc:
            raise DiffbenchError(
                f"--report {args.report} could not be written ({exc.strerror or exc}); the fields are in {out}"
            ) from None
    _print(report)
    return 0


def _print(r: dict[str, Any]) -> None:
    w = r["warm"]
    print(
        f"{r['n_samples']} field(s) of {r['lattice']}x{r['lattice']} written to {r['output']}: every residual <= {r['tol']:g} "
        f"(max {r['residual_max']:.2e}; re-checked from the stencil)"
    )
    if r["fallback_samples"]:
        print(f"  {len(r['fallback_samples'])} sample(s) missed it from the warm start and were re-solved exactly")
    print(f"  solves on {r['backend']}")
    print(
        f"  warm start (surrogate, {w['scale']} scale, + mgcg): {w['iterations_mean']:.1f} iterations/sample, {w['time_s']:.3g} s "
        f"(inference {w['inference_s']:.3g} s)"
    )
    if "cold" in r:
        c, d = r["cold"], r["direct"]
        print(f"  cold start (zero + mgcg):      {c['iterations_mean']:.1f} iterations/sample, {c['time_s']:.3g} s")
        print(f"  fastest direct solver ({d['method']}): {d['time_s']:.3g} s")
        for line in r["verdict"]:
            print(f"  {line}")

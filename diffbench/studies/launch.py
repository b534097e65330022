"""Studies past one machine: ``diffbench study NAME --launcher local|slurm`` submits one job per
run through ``submitit`` (a SLURM job array, ``executor.map_array``, on a cluster; local
subprocesses with ``--launcher local``).

Each job runs one run of the study exactly as ``diffbench study`` would (:func:`run_job`:
it claims the run's lock, so jobs and ordinary ``diffbench study`` processes sharing the output
folder never train the same run twice, and resumes a run an earlier job left unfinished). The
output folder must be on a filesystem every node sees. With ``--wait`` (always for ``local``)
the launcher waits for the jobs and writes the study's table, summary and plots from their
rows; without it (``slurm``) it prints the job ids and exits, and ``diffbench study NAME
--out OUT`` run later writes the table (finished runs are kept, not retrained). A failed job is
reported with its run and one line of its error; the other runs are kept.

>>> slurm_parameters(partition="gpu", time_min=120, gpus_per_node=1, cpus_per_task=8, array_parallelism=16)
{'timeout_min': 120, 'slurm_array_parallelism': 16, 'gpus_per_node': 1, 'cpus_per_task': 8, 'slurm_partition': 'gpu'}
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DiffbenchError
from ..training.options import check_positive_int
from .runner import LOCK_POLL_S, claim, finish_study, lock_path, release, run_one, study_plan
from .spec import load_study, study_file

#: What ``--launcher`` accepts: ``inline`` runs in this process (the default, as before).
LAUNCHERS = ("inline", "local", "slurm")


def check_launcher(launcher: str) -> None:
    """Refuse an unknown launcher in one line."""
    if launcher not in LAUNCHERS:
        raise DiffbenchError(f"unknown launcher {launcher!r}; allowed: {', '.join(LAUNCHERS)}")


def slurm_parameters(
    *,
    partition: str | None = None,
    time_min: int = 60,
    gpus_per_node: int = 0,
    cpus_per_task: int = 1,
    mem_gb: int | None = None,
    array_parallelism: int = 64,
) -> dict[str, Any]:
    """submitit's executor parameters for one run per job (checked; one-line errors)."""
    for flag, value in (
        ("--time", time_min),
        ("--cpus-per-task", cpus_per_task),
        ("--array-parallelism", array_parallelism),
    ):
        check_positive_int(flag, value)
    if isinstance(gpus_per_node, bool) or not isinstance(gpus_per_node, int) or gpus_per_node < 0:
        raise DiffbenchError(f"--gpus-per-node must be an integer >= 0, got {gpus_per_node!r}")
    params: dict[str, Any] = {"timeout_min": time_min, "slurm_array_parallelism": array_parallelism}
    if gpus_per_node:
        params["gpus_per_node"] = gpus_per_node
    params["cpus_per_task"] = cpus_per_task
    if mem_gb is not None:
        check_positive_int("--mem-gb", mem_gb)
        params["mem_gb"] = mem_gb
    if partition is not None:
        if not isinstance(partition, str) or not partition.strip() or any(c.isspace() for c in partition):
            raise DiffbenchError(f"--partition must be a SLURM partition name, got {partition!r}")
        params["slurm_partition"] = partition
    return params


def run_job(study: str, index: int, out: str, options: dict[str, Any]) -> dict[str, Any] | None:
    """One job: run (or resume) the study's run number ``index`` under its lock (waiting while
    another process holds it) and return its table row."""
    spec = load_study(study)
    root = Path(out) / spec.name
    task_name, model, fraction = study_plan(spec)[index]
    lock = lock_path(root, task_name, model, fraction)
    locking = options.get("devices", 1) == 1
    while locking and not claim(lock):
        time.sleep(LOCK_POLL_S)
    try:
        return run_one(spec, index, root, **options)
    finally:
        if locking:
            release(lock)


_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Timeout)\b.*")


def job_error(exc: BaseException, limit: int = 300) -> str:
    """The job's own error in one line: the last ``SomeError: ...`` line of the traceback
    submitit reports (else its last line).

    >>> job_error(RuntimeError("Job failed with trace:\\nTraceback ...\\nValueError: bad thing\\n\\nlogs at ..."))
    'ValueError: bad thing'
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if _ERROR_LINE.match(line)]
    text = errors[-1] if errors else (lines[-1] if lines else type(exc).__name__)
    return text[:limit]


def launch_study(
    name: str,
    launcher: str,
    *,
    out: str = "studies",
    data_dir: str | None = None,
    accelerator: str = "auto",
    wandb_mode: str | None = None,
    wait: bool = False,
    slurm: dict[str, Any] | None = None,
    log: Callable[[str], Any] = print,
) -> dict[str, Any] | None:
    """Submit one job per run of a study (see the module docstring); the summary when the jobs
    were waited for, else None."""
    import submitit

    check_launcher(launcher)
    if launcher == "inline":
        raise DiffbenchError("launch_study needs --launcher local or slurm; inline studies run through run_study")
    spec = load_study(name)
    study = str(study_file(name).absolute())
    root = Path(out).absolute() / spec.name
    plan = study_plan(spec)
    params = dict(slurm or {})
    gpus = int(params.get("gpus_per_node", 0))
    options = {
        "data_dir": str(Path(data_dir).absolute()) if data_dir else None,
        "devices": max(1, gpus),
        "accelerator": accelerator if not gpus else "gpu",
        "wandb_mode": wandb_mode,
        "progress": False,
    }
    try:
        executor = submitit.AutoExecutor(folder=str(root / "jobs" / "%j"), cluster=launcher)
        if launcher == "slurm":
            executor.update_parameters(name=f"diffbench-{spec.name}", tasks_per_node=max(1, gpus), nodes=1, **params)
        else:
            executor.update_parameters(timeout_min=int(params.get("timeout_min", 60)), name=f"diffbench-{spec.name}")
        jobs = executor.map_array(
            run_job, [study] * len(plan), list(range(len(plan))), [str(root.parent)] * len(plan), [options] * len(plan)
        )
    except DiffbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - sbatch missing or refusing, a bad parameter, an unwritable folder
        text = str(exc).strip().splitlines()
        raise DiffbenchError(
            f"cannot submit study {spec.name!r} through the {launcher} launcher "
            f"({type(exc).__name__}: {text[0][:200] if text else ''})"
        ) from None
    ids = [job.job_id for job in jobs]
    log(f"submitted {len(jobs)} {launcher} job(s) for study {spec.name}: {', '.join(ids)} (logs: {root / 'jobs'})")
    if launcher == "slurm" and not wait:
        log(f"when they finish, `diffbench study {name} --out {out}` writes the table (finished runs are kept)")
        return None
    rows, failed = [], []
    for (task_name, model, fraction), job in zip(plan, jobs, strict=True):
        try:
            row = job.result()
        except Exception as exc:  # noqa: BLE001 - submitit wraps the job's own error
            failed.append(f"{model} on {task_name} (fraction {fraction:g}, job {job.job_id}): {job_error(exc)}")
            continue
        if row is not None:
            rows.append(row)
    if failed:
        raise DiffbenchError(
            f"{len(failed)} of {len(plan)} run(s) of study {spec.name} failed, first: {failed[0]}; finished runs "
            f"are kept, the same command resumes the rest (job logs: {root / 'jobs'})"
        )
    return finish_study(spec, root, rows)

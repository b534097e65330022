"""Tuning workers as jobs: ``diffbench tune ... --workers W --launcher local|slurm`` submits W
workers of one search through ``submitit`` (a SLURM job array; local processes with ``local``).

The search is opened first in this process (so a bad option or an unreachable storage is one
line before anything is submitted); every job then runs :func:`diffbench.tuning.search.tune`
on the same storage URL and study name, claiming trials until ``--trials`` exist. The storage
must be reachable from every node: a database server (``postgresql://...``), or a SQLite file on
a shared filesystem for a few workers. With ``--wait`` (always for ``local``) the launcher waits
for the workers and writes ``tune.json`` from the storage; otherwise each worker writes it when
it stops (the last one the complete record).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DiffbenchError
from ..studies.launch import check_launcher, job_error
from ..training.options import check_positive_int
from .search import open_search, tune, write_record


def tune_worker(model: str, task: str, options: dict[str, Any]) -> int:
    """One worker job: join the search and claim trials until it is complete; the number of
    trials in the search when it stopped."""
    doc = tune(model, task, log=print, **options)
    return int(doc["trials_total"])


def launch_tune(
    model: str,
    task: str,
    *,
    workers: int,
    launcher: str,
    slurm: dict[str, Any] | None = None,
    wait: bool = False,
    log: Callable[[str], Any] = print,
    **options: Any,
) -> dict[str, Any] | None:
    """Submit ``workers`` jobs of one search (see the module docstring); its tune.json when
    the jobs were waited for, else None."""
    import submitit

    check_positive_int("--workers", workers)
    check_launcher(launcher)
    if launcher == "inline":
        raise DiffbenchError("launch_tune needs --launcher local or slurm; an inline search runs through tune")
    out = str(Path(options.pop("out", "runs")).absolute())
    if options.get("data_dir"):
        options["data_dir"] = str(Path(options["data_dir"]).absolute())
    search = open_search(model, task, out=out, **options)
    options.update(out=out, storage=search.storage, study_name=search.name, progress=False)
    params = dict(slurm or {})
    try:
        executor = submitit.AutoExecutor(folder=str(search.tune_dir / "jobs" / "%j"), cluster=launcher)
        if launcher == "slurm":
            gpus = int(params.get("gpus_per_node", 0))
            executor.update_parameters(name=f"diffbench-tune-{search.name}"[:120], tasks_per_node=1, nodes=1, **params)
            if gpus:
                options["accelerator"] = "gpu"
        else:
            executor.update_parameters(
                timeout_min=int(params.get("timeout_min", 60)), name=f"diffbench-tune-{search.name}"[:120]
            )
        jobs = executor.map_array(tune_worker, [model] * workers, [task] * workers, [options] * workers)
    except DiffbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - sbatch missing or refusing, a bad parameter, an unwritable folder
        raise DiffbenchError(
            f"cannot submit the workers of search {search.name!r} through the {launcher} launcher "
            f"({job_error(exc, 200)})"
        ) from None
    log(
        f"submitted {len(jobs)} {launcher} tuning worker(s) for search {search.name}: {', '.join(j.job_id for j in jobs)} "
        f"(logs: {search.tune_dir / 'jobs'})"
    )
    if launcher == "slurm" and not wait:
        log(f"every worker writes {search.tune_dir / 'tune.json'} when it stops")
        return None
    failed = []
    for job in jobs:
        try:
            job.result()
        except Exception as exc:  # noqa: BLE001 - submitit wraps the worker's own error
            failed.append(f"job {job.job_id}: {job_error(exc)}")
    doc = write_record(search)
    if failed:
        raise DiffbenchError(
            f"{len(failed)} of {workers} tuning worker(s) of search {search.name} failed, first: {failed[0]}; "
            f"finished trials are kept in the storage ({doc['trials_total']} trial(s) in tune.json)"
        )
    return doc

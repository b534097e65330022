"""``diffbench run``: the stages of one run, in order.

One run = one model x one task x a list of seeds. For each seed the training stage
(:mod:`diffbench.training.run`) trains, validates and tests the network through the evaluator
(:mod:`diffbench.evaluation`) and returns what it trained; the trust stage
(:mod:`diffbench.trust.stage`) scores its consistency and, with ``--uq``, its error indicators;
then the seed's ``seed-<k>/result.json`` is written. After the last seed: the ensemble
indicator, and the run's ``<out>/<run-id>/result.json`` with every metric aggregated
(mean ± unbiased std over seeds). The run id is a hash of the configuration, so rerunning the
same command with ``--resume`` finds the same folder and continues: finished seeds are kept,
an interrupted one restarts from its last checkpoint. Each stage knows nothing of the ones
after it; only this module knows them all. The command as typed (``argv``) is recorded with
every absolute path replaced by ``<local path>``: no path of the machine goes into a result.
"""

from __future__ import annotations

import hashlib
import shlex
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import PROTOCOL_VERSION, __version__
from ..data.cache import atomic_write_bytes
from ..errors import DiffbenchError
from ..results import (
    RESULT_SCHEMA_VERSION,
    aggregate_metrics,
    clean_number,
    write_result,
)
from ..results.cost import run_cost
from ..results.paths import strip_local_paths
from ..results.per_sample import headline_intervals
from ..training.environment import git_commit, hardware, is_ddp_child, package_versions
from ..training.preparation import Setup, prepare
from ..training.run import finish_seed, train_seed
from ..trust.indicators import parse_uq, with_mc_dropout
from ..trust.stage import log_to_wandb, run_ensemble, seed_trust, trust_aggregate
from .config import RunConfig


def run(cfg: RunConfig, argv: list[str] | None = None) -> dict[str, Any] | None:
    """Execute a run; returns the aggregated result (on rank 0) or None (other ranks)."""
    cfg.validate()
    cfg.uq = parse_uq(cfg.uq)
    setup = prepare(
        cfg, adapt_model=lambda probe, task: with_mc_dropout(probe, cfg.model, cfg.model_args, task, cfg.uq)
    )
    if cfg.tuning and cfg.recipe_from and not is_ddp_child():
        keep_tune_record(cfg.recipe_from, setup.out_dir, cfg.tuning)
    per_seed: list[dict[str, Any]] = []
    rank0 = True
    for seed in cfg.seeds:
        trained = train_seed(setup, seed)
        rank0 = trained.rank0
        if trained.finished:
            if trained.record is not None:
                per_seed.append(trained.record)
            continue
        if not trained.rank0:
            continue
        trust = seed_trust(
            trained.module.model,
            setup.task,
            setup.dm,
            trained.device,
            uq=cfg.uq,
            out_dir=setup.out_dir,
            max_epochs=setup.max_epochs,
            seed=seed,
            inverse_seed=cfg.seeds[0],
        )
        log_to_wandb(trained.logger, clean_number(trust))
        per_seed.append(finish_seed(trained, trust))
    if not rank0:
        return None

    run_ensemble(per_seed, setup.task, setup.dm, setup.out_dir, setup.accelerator, uq=cfg.uq)
    result = assemble(setup, per_seed, argv)
    result.update(trust_aggregate(per_seed, uq=cfg.uq))  # consistency (always) and uq (with --uq) blocks
    return write_result(setup.out_dir / "result.json", result)


def keep_tune_record(path: str, out_dir: Path, tuning: dict[str, Any]) -> None:
    """Store the tune.json a run's recipe came from beside its result (``tune.json``; its
    SHA-256 is ``training.tuning.tune_sha256`` of the result)."""
    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != tuning.get("tune_sha256"):
        raise DiffbenchError(f"--recipe-from {path} changed while the run started; run it again")
    atomic_write_bytes(out_dir / "tune.json", data)


def aggregate(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """``aggregate``: each metric's mean ± std over seeds, both splits; with every seed's
    per-sample errors, the headline metrics' intervals too. A seed resumed from a run written
    before per-sample errors were kept has none: then no seed's are kept in the result (they
    stay in ``seed-<k>/per_sample.npz``) and the run has no intervals, as ``submit`` wants
    them in every seed or none.

    >>> seed = lambda k, ps: {"test": {"mae": 0.1 * k}, "val": {"mae": 0.1}, **({"per_sample": ps} if ps else {})}
    >>> per_seed = [seed(1, {"n": 2}), seed(2, None)]
    >>> sorted(aggregate(per_seed)), [s.get("per_sample") for s in per_seed]
    (['test', 'val'], [None, None])
    """
    out: dict[str, Any] = {
        "test": aggregate_metrics([s["test"] for s in per_seed]),
        "val": aggregate_metrics([s["val"] for s in per_seed]),
    }
    if all(s.get("per_sample") for s in per_seed):
        out["intervals"] = headline_intervals([s["per_sample"] for s in per_seed])
    else:
        for s in per_seed:
            s.pop("per_sample", None)
    return out


def assemble(setup: Setup, per_seed: list[dict[str, Any]], argv: list[str] | None) -> dict[str, Any]:
    """The run's result.json (before the trust blocks and the digest) from its seeds'."""
    cfg, task, dm, info = setup.cfg, setup.task, setup.dm, setup.info
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "protocol_version": PROTOCOL_VERSION,
        "diffbench_version": __version__,
        "run_id": setup.run_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {
            "name": info["name"],
            "kind": info.get("kind"),
            "package": info.get("package"),
            "package_version": info.get("version"),
            "spec": setup.spec,
            "parameters": setup.n_params,
        },
        "task": {
            "name": task.name,
            "spec_hash": task.spec_hash,
            "lattice": task.lattice,
            "input_channels": task.input_channels,
            "spec": task.to_dict(),
        },
        "data": {
            "manifest_hash": dm.data_fingerprint(),
            "serve": dm.serve,
            "train_counts": cfg.train_counts,
            "test_counts": cfg.test_counts,
            "train_fraction": cfg.train_fraction,
            "n_train": len(dm.datasets["train"]),
            "n_val": len(dm.datasets["val"]),
            "n_test": len(dm.datasets["test"]),
        },
        "training": {
            "recipe": setup.recipe,
            "loss": cfg.loss,
            "batch_size": setup.batch_size,
            "batch_size_per_process": dm.batch_size,
            "early_stopping": bool(cfg.early_stopping),
            "max_epochs": setup.max_epochs,
            "max_steps": cfg.max_steps,
            "precision": cfg.precision,
            "accelerator": setup.accelerator,
            "devices": cfg.devices,
            "num_nodes": cfg.num_nodes,
            "selection": "best val/mae checkpoint",
            **({"tuning": cfg.tuning} if cfg.tuning else {}),
        },
        "seeds": [s["seed"] for s in per_seed],
        "per_seed": per_seed,
        "aggregate": aggregate(per_seed),
        "cost": run_cost(per_seed),
        "hardware": hardware(setup.accelerator, cfg.devices, cfg.num_nodes),
        "packages": package_versions(),
        "git": git_commit(),
        "command": cfg.command(),
        "argv": strip_local_paths(" ".join(shlex.quote(a) for a in (["diffbench"] + list(argv))))
        if argv is not None
        else None,
    }

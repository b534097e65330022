"""``diffbench evaluate``: re-score a checkpoint through the same evaluator, on 1..N devices."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning as L

from .. import PROTOCOL_VERSION, __version__
from ..data import DiffusionDataModule, load_task
from ..errors import DiffbenchError
from ..models import count_parameters
from ..results import clean_number, write_result
from ..results.per_sample import encode as encode_per_sample
from ..training.checkpoint_io import file_sha256
from ..training.console import quiet_foreign_noise
from ..training.module import SurrogateModule
from ..training.preparation import resolve_accelerator


def evaluate_checkpoint(
    checkpoint: str,
    *,
    task: str | None = None,
    devices: int = 1,
    accelerator: str = "auto",
    split: str = "test",
    counts: list[int] | None = None,
    data_dir: str | None = None,
    out: str | None = None,
    progress: bool = True,
) -> dict[str, Any] | None:
    """Score ``checkpoint`` on ``split`` of ``task`` (default: its own) and write ``metrics.json``
    (on the test split with every sample's errors, ``per_sample``, as a run's seeds keep them).

    Evaluating on another task (e.g. resolution transfer) is allowed when the task's input
    channels are the same; the result records both tasks, and the checkpoint relative to the
    metrics file (no local absolute path).
    """
    quiet_foreign_noise()
    module = SurrogateModule.load(checkpoint)
    trained_on = module.hparams.task
    target = load_task(task or trained_on["name"])
    if target.input_channels != list(trained_on.get("input_channels", target.input_channels)):
        raise DiffbenchError(
            f"checkpoint expects input channels {trained_on.get('input_channels')} (task {trained_on['name']!r}); "
            f"task {target.name!r} provides {target.input_channels}"
        )
    if task is None and target.spec_hash != trained_on.get("spec_hash"):
        raise DiffbenchError(
            f"task {target.name!r} changed since the checkpoint was trained (spec hash differs); pass --task explicitly to evaluate on the new spec"
        )
    accelerator = resolve_accelerator(accelerator, devices, 1)
    dm = DiffusionDataModule(target, data_dir=data_dir, val_counts=counts, test_counts=counts, progress=progress)
    if os.environ.get("LOCAL_RANK", "0") == "0":
        dm.prepare_data()
    out_dir = Path(out) if out else Path(checkpoint).resolve().parent
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=devices,
        strategy="ddp" if devices > 1 else "auto",
        logger=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
    )
    if split == "test":
        trainer.test(module, datamodule=dm, verbose=False)
        metrics = module.test_results
    else:
        trainer.validate(module, datamodule=dm, verbose=False)
        metrics = module.val_results
    if not trainer.is_global_zero:
        return None
    result = {
        "schema_version": 1,
        "kind": "evaluation",
        "protocol_version": PROTOCOL_VERSION,
        "diffbench_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "checkpoint": {"name": Path(checkpoint).name, "sha256": file_sha256(checkpoint)},  # no local path in a result
        "model": {
            "name": module.hparams.model_spec.get("name"),
            "spec": module.hparams.model_spec,
            "parameters": count_parameters(module.model),
        },
        "trained_on": trained_on,
        "task": {"name": target.name, "spec_hash": target.spec_hash, "lattice": target.lattice},
        "split": split,
        "counts": counts,
        "devices": devices,
        "accelerator": accelerator,
        "metrics": clean_number(metrics),
    }
    if split == "test" and module.test_per_sample is not None:  # every test sample's errors, for intervals
        result["per_sample"] = encode_per_sample(module.test_per_sample)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DiffbenchError(f"output dir {out_dir} is not writable ({exc.strerror})") from None
    name = f"metrics-{target.name}-{split}.json"
    written = write_result(out_dir / name, result)
    written["path"] = str(out_dir / name)
    return written

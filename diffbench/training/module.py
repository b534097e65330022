"""``SurrogateModule``: the protocol's LightningModule.

It owns the loss, the optimiser (a named recipe), the training / validation / test steps,
and evaluation through the one :class:`~diffbench.evaluation.evaluator.Evaluator`. A model — a
built-in preset or a plugin — supplies only the network. The checkpoint stores the model's
spec (name, class path, constructor arguments), the task's name and spec hash, and the
protocol version, so ``SurrogateModule.load(path)`` rebuilds everything alone.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch

from .. import PROTOCOL_VERSION, __version__
from ..errors import DiffbenchError
from ..evaluation.evaluator import Evaluator
from ..models import build_from_spec
from .checkpoint_io import check_model_spec, load_checkpoint
from .losses import make_loss
from .recipes import build_optimizer


class NonFiniteLossError(DiffbenchError):
    """Training produced a NaN or infinite loss."""


class SurrogateModule(L.LightningModule):
    """Train and score one network under the diffbench protocol.

    Parameters
    ----------
    model_spec : dict
        ``{"name", "class_path", "init_args"}`` as produced by ``diffbench.models.model_spec``.
    task : dict
        ``{"name", "spec_hash", "lattice", "input_channels"}`` of the training task.
    loss : str
        ``mae`` (default), ``mse`` or ``tanh-mae``.
    recipe : dict
        A resolved recipe (see :mod:`diffbench.training.recipes`).

    Examples
    --------
    >>> from diffbench.models import create, model_spec  # doctest: +SKIP
    >>> net = create("unet-small", in_channels=1, lattice=32)  # doctest: +SKIP
    >>> module = SurrogateModule(model_spec(net), task={"name": "smoke", "spec_hash": "...", "lattice": 32,
    ...     "input_channels": ["source"]}, recipe=resolve_recipe("fast"))  # doctest: +SKIP
    """

    def __init__(
        self,
        model_spec: dict[str, Any],
        task: dict[str, Any],
        loss: str = "mae",
        recipe: dict[str, Any] | None = None,
        protocol_version: int = PROTOCOL_VERSION,
        diffbench_version: str = __version__,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = build_from_spec(model_spec)
        self.loss_fn = make_loss(loss)
        self.recipe = recipe or {
            "name": "paper",
            "optimizer": "adam",
            "lr": 1e-4,
            "weight_decay": 0.0,
            "schedule": "constant",
        }
        self.val_metric = Evaluator("val").metric
        self.test_metric = Evaluator("test", per_sample=True).metric
        self.val_results: dict[str, Any] | None = None
        self.test_results: dict[str, Any] | None = None
        #: The test split's per-sample errors (``per_sample_errors``: NumPy arrays), after testing.
        self.test_per_sample: dict[str, Any] | None = None
        self._shape_checked = False

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pred = self.model(batch["input"])
        if not self._shape_checked:
            expected = tuple(batch["target"].shape)
            if tuple(pred.shape) != expected:
                name = self.hparams.model_spec.get("name", "model")
                raise DiffbenchError(
                    f"model {name!r} returned shape {tuple(pred.shape)} for input {tuple(batch['input'].shape)}; "
                    f"expected {expected} (B, 1, N, N)"
                )
            self._shape_checked = True
        return pred.float()

    # ------------------------------------------------------------------ steps
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        pred = self._predict(batch)
        loss = self.loss_fn(pred, batch["target"])
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"training loss became {loss.item()} at epoch {self.current_epoch}, step {self.global_step}; "
                "stopped (the last good checkpoint is kept); try a lower --lr or another --precision"
            )
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=batch["input"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        pred = self._predict(batch)
        self.log(
            "val/loss",
            self.loss_fn(pred, batch["target"]),
            on_epoch=True,
            sync_dist=True,
            batch_size=batch["input"].shape[0],
        )
        self.val_metric.update(pred.detach(), batch)

    def on_validation_epoch_end(self) -> None:
        results = self.val_metric.compute()
        self.val_metric.reset()
        self.val_results = results
        for key in ("mae", "nmae", "mae_sources", "max_abs_error"):
            value = results.get(key)
            if value is not None and math.isfinite(value):
                self.log(f"val/{key}", value, prog_bar=key == "nmae", sync_dist=False, rank_zero_only=False)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        pred = self._predict(batch)
        self.test_metric.update(pred.detach(), batch)

    def on_test_epoch_end(self) -> None:
        self.test_results = self.test_metric.compute()
        self.test_per_sample = self.test_results.pop("per_sample", None)
        self.test_metric.reset()
        for key, value in self.test_results.items():
            if isinstance(value, float) and math.isfinite(value):
                self.log(f"test/{key}", value, sync_dist=False)

    def configure_optimizers(self) -> Any:
        total = int(self.trainer.estimated_stepping_batches) if self.trainer is not None else 1
        return build_optimizer(self.model.parameters(), self.recipe, total)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str, *, map_location: str = "cpu", expect_task_hash: str | None = None) -> SurrogateModule:
        """Load a checkpoint written by ``diffbench run``, checking versions and task.

        The file is read by :func:`~diffbench.training.checkpoint_io.load_checkpoint`: nothing
        in it is run, and a file that needs more than plain data is refused.

        Raises
        ------
        DiffbenchError
            If the file is not a diffbench checkpoint, comes from another protocol version, or
            (with ``expect_task_hash``) was trained on another task.
        """
        ckpt = load_checkpoint(path, map_location=map_location)
        hp = ckpt.get("hyper_parameters")
        if (
            not isinstance(hp, dict)
            or not isinstance(hp.get("model_spec"), dict)
            or not isinstance(hp.get("task"), dict)
        ):
            raise DiffbenchError(f"{path} is not a diffbench checkpoint (no model spec and task recorded)")
        if hp.get("protocol_version") != PROTOCOL_VERSION:
            raise DiffbenchError(
                f"{path} was written under protocol version {hp.get('protocol_version')}; this diffbench "
                f"({__version__}) scores protocol version {PROTOCOL_VERSION}"
            )
        if expect_task_hash is not None and hp["task"].get("spec_hash") != expect_task_hash:
            raise DiffbenchError(
                f"{path} was trained on task {hp['task'].get('name')!r} (spec {str(hp['task'].get('spec_hash'))[:12]}), "
                f"not on the task of this run (spec {expect_task_hash[:12]})"
            )
        check_model_spec(hp["model_spec"], str(path))
        module = cls(**{k: hp[k] for k in ("model_spec", "task", "loss", "recipe") if k in hp})
        try:
            module.load_state_dict(ckpt.get("state_dict"))
        except (RuntimeError, TypeError, AttributeError) as exc:
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise DiffbenchError(f"{path}: its weights do not fit the model it names ({first})") from None
        return module

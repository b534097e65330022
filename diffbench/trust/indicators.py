"""Label-free error indicators for every prediction, and how well they find the bad ones.

The paper's conclusion asks for "a method to keep the performance error below a predefined
bound" and proposes two indicators that "require benchmark design": sampling the network with
dropout active, and an inverse network that maps the predicted field back to the source map.
This module is that design. ``diffbench run ... --uq mc-dropout,residual,inverse,ensemble``
computes, for every test sample, the indicators asked for and scores each one against the true
per-sample error.

The true error
--------------
``error_s = mean |pred_s - target_s|`` over the N x N lattice of sample s, on the normalised
test targets (max 1; the batch contract), with the model's ordinary deterministic prediction
(evaluation mode, dropout off).

Indicators (per sample, larger = less trustworthy; none of them reads the target)
--------------------------------------------------------------------------------
``residual``
    :func:`diffbench.evaluation.residual.prediction_residual`: the relative PDE residual of the
    prediction after the best scalar rescaling (0 for an exact solution, 1 for zero).
``mc-dropout``
    ``K = MC_SAMPLES`` forward passes with the dropout layers in training mode (every other
    layer, e.g. BatchNorm, stays in evaluation mode); the indicator is the mean over pixels of
    the per-pixel standard deviation (ddof = 1) of the K passes. When asked for, the run trains
    the model with ``dropout = MC_DROPOUT`` if its constructor takes a ``dropout`` argument and
    ``--model-args`` does not set one (a value given there wins). A model with no active dropout
    layer is marked ``not applicable``.
``inverse``
    An inverse network (the ``unet-small`` preset) trained once per run on the training split to
    map the normalised *field* to the normalised *source map*: its input is the sample's network
    input with channel 0 (the source map) replaced by the field, so the task's other, known
    input channels (log D, decay, border maps, clamp mask) stay available; its output is one
    channel. It is trained on the true training fields with the L1 loss, AdamW (lr 1e-3), the
    run's batch size and number of epochs, seeded with the run's first seed, and kept in
    ``<run>/uq-inverse.pt`` (reused on ``--resume``). The indicator is the per-sample MAE
    between ``inverse(prediction)`` and the true input channel 0 (the source map is an input,
    not a label).
``ensemble``
    The per-pixel standard deviation (ddof = 1) over the seeds' predictions, averaged over
    pixels; each seed's best checkpoint is reloaded after the last seed. It needs at least two
    seeds (else ``not applicable``) and is scored against each seed's own error, so its scores
    are comparable with the other indicators'.

Scores (pure functions below; ``n`` test samples)
-------------------------------------------------
``spearman``
    Spearman's rank correlation between indicator and error (:func:`scipy.stats.spearmanr`;
    tied values get their average rank). ``None`` when either is constant.
``auroc``
    Area under the ROC curve of the indicator as a detector of the *worst* ``AUROC_WORST`` (5 %)
    samples: the ``ceil(0.05 n)`` samples of largest error (ties in the error broken by sample
    order, the earlier first) are the positives. Computed by the rank (Mann-Whitney) formula
    with average ranks, i.e. a tied positive/negative pair counts 1/2. 1 = perfect,
    0.5 = chance, 0 = inverted; ``None`` with no positive or no negative.
``catch_rate``
    Flag the ``ceil(0.10 n)`` samples with the largest indicator; the share of the worst
    ``ceil(0.01 n)`` samples (by error, as above) that are flagged. Ties in the indicator at the
    flagging threshold share the remaining flags equally (the expectation under random
    tie-breaking), so a constant indicator catches ``ceil(0.1 n) / n``.

A NaN indicator counts as +inf (most suspicious).

Baselines, intervals and power
------------------------------
Every block also scores the label-free :data:`~diffbench.trust.scores.BASELINES` exactly like
the indicators (same code, same intervals): ``source-count`` (the sample's number of
sources), ``input-sum`` (the sum of the network's input source map, scaled to max 1) and
``prediction-mean`` (the mean of the normalised prediction). An indicator is worth its cost
only where it beats them.

Each score carries its 95 % interval (:mod:`diffbench.stats`: a bootstrap of the
test samples stratified by source count, and at run level of the seeds too, the two-level
bootstrap-t), as ``{"estimate", "low", "high", "level", "method", "n_seeds", "n_samples"}``.
The AUROC and the caught share need enough positives per seed:
``MIN_POSITIVES_AUROC`` (20) worst samples for the AUROC, i.e. 400 test samples at 5 %, and
``MIN_POSITIVES_CAUGHT`` (20) for the caught share, i.e. 2000 test samples at 1 %; below that
the score is ``{"underpowered": true, "positives", "required"}`` and boards print
"underpowered" instead of a number. So a UQ board needs a task with enough test samples
(``standard-64``, 800, or larger); on ``smoke`` (120 test samples, 6 positives) only
Spearman's correlation gets a number. A score that is undefined (a constant indicator) is
``null``.

JSON
----
Each seed's ``result.json`` has a ``uq`` block::

    {"n_samples": 800, "error_mean": 0.012, "settings": {...}, "time_s": 3.1,
     "indicators": {"residual": {"status": "ok", "spearman": {"estimate": 0.41, "low": 0.35, ...},
                                 "auroc": {"estimate": 0.83, "low": 0.76, "high": 0.89, ...},
                                 "catch_rate": {"underpowered": true, "positives": 8, "required": 20},
                                 "indicator_mean": 0.97, "indicator_median": 0.98},
                    "mc-dropout": {"status": "not applicable", "reason": "..."}, ...},
     "baselines": {"source-count": {...}, "input-sum": {...}, "prediction-mean": {...}},
     "samples": {"error": [...], "count": [...], "values": {"residual": [...], "source-count": [...], ...}}}

(``samples``: one float per test sample, in test order, for the error, the source count and
every scored indicator and baseline; the run-level scores are recomputed from them, so a
submission's can be checked). The run's ``result.json`` has a ``uq`` block with ``requested``,
``settings``, ``inverse_model``, and ``indicators`` and ``baselines``: ``{name: {"status",
"n_seeds", "spearman", "auroc", "catch_rate", "indicator_mean": {"mean", "std", "n"}}}``, each
score scored on every seed's samples at once (its interval covers seeds and test samples).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..errors import DiffbenchError
from ..evaluation.residual import prediction_residual
from ..models import create, model_spec
from ..models.classpath import import_object
from ..results.names import MC_DROPOUT, MC_SAMPLES, uq_settings
from ..results.uq import aggregate_uq_scores, score_indicator
from .inverse import INVERSE_FILE, inverse_input, load_or_train_inverse, train_inverse  # noqa: F401 (as before)
from .options import INDICATORS, parse_uq  # noqa: F401 - re-exported: the leaderboard reads INDICATORS here
from .scores import BASELINES, baseline_values, not_applicable
from .tensors import iterate_split, param_dtype, per_sample_mae, to_device

# MC_SAMPLES (forward passes per sample for MC-dropout), MC_DROPOUT (the dropout a model is
# trained with for ``--uq mc-dropout``) and INVERSE_PRESET are defined once, torch-free, in
# :mod:`diffbench.results.names`; the inverse network is :mod:`diffbench.trust.inverse`.


def accepts_dropout(spec: Mapping[str, Any]) -> bool:
    """Whether the model's constructor (from its spec) names a ``dropout`` argument."""
    if "dropout" in (spec.get("init_args") or {}):
        return True
    try:
        ctor = import_object(spec["class_path"])
        target = ctor.__init__ if inspect.isclass(ctor) else ctor
        return "dropout" in inspect.signature(target).parameters
    except Exception:  # noqa: BLE001 - unknown means "no"
        return False


def with_mc_dropout(
    probe: torch.nn.Module, model: Any, model_args: Mapping[str, Any], task: Any, uq: Sequence[str]
) -> torch.nn.Module:
    """The model to train: ``probe`` rebuilt with ``dropout = MC_DROPOUT`` when MC-dropout is
    asked for, the constructor takes ``dropout`` and ``model_args`` does not already set it."""
    if "mc-dropout" not in uq or "dropout" in model_args or not accepts_dropout(model_spec(probe)):
        return probe
    return create(
        model, in_channels=task.in_channels, lattice=task.lattice, **{**dict(model_args), "dropout": MC_DROPOUT}
    )


def settings() -> dict[str, Any]:
    """What the scores mean, recorded with them (:func:`diffbench.results.names.uq_settings`)."""
    return uq_settings()


# --------------------------------------------------------------------------------------
# indicators
# --------------------------------------------------------------------------------------


def dropout_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The model's dropout layers with p > 0."""
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p > 0]


@torch.no_grad()
def mc_dropout_spread(model: torch.nn.Module, x: torch.Tensor, k: int = MC_SAMPLES) -> torch.Tensor:
    """Per-sample mean over pixels of the std (ddof = 1) of ``k`` passes with dropout active.

    Only dropout layers switch to training mode; the model's modes are restored afterwards.
    Zero for a model without dropout.
    """
    if k < 2:
        raise DiffbenchError(f"MC-dropout needs at least 2 passes, got {k}")
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        for m in dropout_modules(model):
            m.train()
        x = x.to(param_dtype(model))
        passes = torch.stack([model(x).float()[:, 0] for _ in range(k)])  # (k, B, N, N)
    finally:
        for m, mode in modes.items():
            m.train(mode)
    return passes.double().std(dim=0, unbiased=True).mean(dim=(-2, -1))


@torch.no_grad()
def predict_split(model: torch.nn.Module, dataset: Any, batch_size: int, device: torch.device) -> torch.Tensor:
    """The model's deterministic predictions on a whole split, (n, N, N) float32 on the CPU."""
    was = model.training
    model.eval()
    dtype = param_dtype(model)
    out = [model(b["input"].to(device, dtype)).float()[:, 0].cpu() for b in iterate_split(dataset, batch_size)]
    model.train(was)
    return torch.cat(out)


@torch.no_grad()
def seed_indicators(
    model: torch.nn.Module,
    dataset: Any,
    uq: Sequence[str],
    *,
    batch_size: int,
    device: torch.device,
    inverse: torch.nn.Module | None = None,
    inverse_reason: str | None = None,
) -> dict[str, Any]:
    """The per-seed ``uq`` block: every indicator asked for (except the ensemble, which needs
    all seeds) and every baseline on every sample of ``dataset`` (the test split), scored
    against the error, with the per-sample values kept in ``samples``."""
    started = time.perf_counter()
    was = model.training
    model.eval()
    has_dropout = bool(dropout_modules(model))
    errors, counts = [], []
    values: dict[str, list[torch.Tensor]] = {name: [] for name in uq if name != "ensemble"}
    base: dict[str, list[torch.Tensor]] = {name: [] for name in BASELINES}
    for b in iterate_split(dataset, batch_size):
        b = to_device(b, device)
        pred = model(b["input"].to(param_dtype(model))).float()
        errors.append(per_sample_mae(pred[:, 0], b["target"][:, 0]).cpu())
        counts.append(b["count"].cpu())
        for name, v in baseline_values(b, pred).items():
            base[name].append(v)
        if "residual" in values:
            values["residual"].append(prediction_residual(pred, b).cpu())
        if "mc-dropout" in values and has_dropout:
            values["mc-dropout"].append(mc_dropout_spread(model, b["input"]).cpu())
        if "inverse" in values and inverse is not None:
            back = inverse(inverse_input(pred, b["input"])).float()
            values["inverse"].append(per_sample_mae(back[:, 0], b["input"][:, 0]).cpu())
    model.train(was)
    error = torch.cat(errors).double()
    count = torch.cat(counts)
    indicators: dict[str, Any] = {}
    kept: dict[str, list[float]] = {}
    for name in uq:
        if name == "ensemble":
            continue
        if name == "mc-dropout" and not has_dropout:
            indicators[name] = not_applicable(
                "the model has no active dropout layer (its constructor takes no 'dropout' argument, or dropout is 0)"
            )
        elif name == "inverse" and inverse is None:
            indicators[name] = not_applicable(inverse_reason or "no inverse network")
        else:
            v = torch.cat(values[name]).double()
            indicators[name] = score_indicator(v.numpy(), error.numpy(), count.numpy())
            kept[name] = v.tolist()
    baselines = {}
    for name in BASELINES:
        v = torch.cat(base[name]).double()
        baselines[name] = score_indicator(v.numpy(), error.numpy(), count.numpy())
        kept[name] = v.tolist()
    return {
        "n_samples": int(error.numel()),
        "error_mean": float(error.mean()),
        "settings": settings(),
        "indicators": indicators,
        "baselines": baselines,
        "samples": {"error": error.tolist(), "count": count.tolist(), "values": kept},
        "time_s": time.perf_counter() - started,
    }


def ensemble_indicators(
    models: Sequence[torch.nn.Module], seeds: Sequence[int], dataset: Any, *, batch_size: int, device: torch.device
) -> tuple[list[float] | None, dict[int, dict[str, Any]]]:
    """The ensemble spread per test sample (None with < 2 models) and ``{seed: its scores
    against that seed's error}`` (not applicable with < 2 models)."""
    if len(models) < 2:
        reason = f"needs at least 2 seeds (this run has {len(models)})"
        return None, {s: not_applicable(reason) for s in seeds}
    preds = [predict_split(m, dataset, batch_size, device).double() for m in models]
    batches = list(iterate_split(dataset, batch_size))
    target = torch.cat([b["target"][:, 0] for b in batches]).double()
    count = torch.cat([b["count"] for b in batches])
    spread = torch.stack(preds).std(dim=0, unbiased=True).mean(dim=(-2, -1))
    return spread.tolist(), {
        s: score_indicator(spread.numpy(), per_sample_mae(p, target).numpy(), count.numpy())
        for s, p in zip(seeds, preds)
    }


# --------------------------------------------------------------------------------------
# the run-level block
# --------------------------------------------------------------------------------------


def aggregate_uq(per_seed: Sequence[Mapping[str, Any]], requested: Sequence[str]) -> dict[str, Any]:
    """The run-level ``uq`` block: each indicator's and baseline's scores on every seed's
    per-sample values at once (:func:`diffbench.results.uq.aggregate_uq_scores`, which
    ``diffbench submit`` recomputes), with the settings and the inverse network. Raises
    :class:`DiffbenchError` when the seeds' samples do not line up (different test sets, or
    values missing)."""
    blocks = [s.get("uq") for s in per_seed if s.get("uq")]
    out: dict[str, Any] = {"requested": list(requested), "settings": settings()}
    inverse = next((b.get("inverse_model") for b in blocks if b.get("inverse_model")), None)
    if inverse is not None:
        out["inverse_model"] = inverse
    out.update(aggregate_uq_scores(per_seed, requested))
    return out

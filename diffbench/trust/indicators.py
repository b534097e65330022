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
    :func:`diffbench.evaluation.functional.prediction_residual`: the relative PDE residual of the
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

JSON
----
Each seed's ``result.json`` has a ``uq`` block::

    {"n_samples": 120, "error": "...", "settings": {...},
     "indicators": {"residual": {"status": "ok", "spearman": 0.41, "auroc": 0.83,
                                 "catch_rate": 0.5, "indicator_mean": 0.97, "indicator_median": 0.98},
                    "mc-dropout": {"status": "not applicable", "reason": "..."}, ...}}

and the run's ``result.json`` a ``uq`` block with ``requested``, ``settings``, ``inverse_model``
and ``indicators: {name: {"status", "n_seeds", "spearman": {"mean", "std", "n"}, "auroc": {...},
"catch_rate": {...}, "indicator_mean": {...}}}`` (mean ± unbiased std over seeds, as for every
metric).
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from ..errors import DiffbenchError

#: The indicators ``--uq`` accepts, in reporting order.
INDICATORS = ("mc-dropout", "residual", "inverse", "ensemble")
#: Forward passes per sample for MC-dropout.
MC_SAMPLES = 8
#: Dropout probability a model is trained with when ``--uq mc-dropout`` is asked for.
MC_DROPOUT = 0.1
#: The worst share of samples the AUROC tries to detect.
AUROC_WORST = 0.05
#: catch_rate: the share of worst samples to catch, and the share of samples flagged.
CATCH_WORST = 0.01
CATCH_FLAG = 0.10
#: The inverse network's preset.
INVERSE_PRESET = "unet-small"
INVERSE_FILE = "uq-inverse.pt"
SCORE_KEYS = ("spearman", "auroc", "catch_rate")
NOT_APPLICABLE = "not applicable"


# --------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------


def parse_uq(value: Any) -> list[str]:
    """``"mc-dropout,residual"`` (or a list) into a validated list in :data:`INDICATORS` order.

    Examples
    --------
    >>> parse_uq("residual, mc-dropout")
    ['mc-dropout', 'residual']
    >>> parse_uq("")
    []
    """
    if value is None:
        return []
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(p, str) for p in value):
        parts = [p.strip() for p in value]
    else:
        raise DiffbenchError(f"--uq must be a comma-separated list of {', '.join(INDICATORS)}, got {value!r}")
    unknown = [p for p in parts if p not in INDICATORS]
    if unknown:
        raise DiffbenchError(f"unknown --uq indicator(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(INDICATORS)}")
    if len(set(parts)) != len(parts):
        raise DiffbenchError(f"--uq names an indicator twice: {value!r}")
    return [name for name in INDICATORS if name in parts]


def accepts_dropout(spec: Mapping[str, Any]) -> bool:
    """Whether the model's constructor (from its spec) names a ``dropout`` argument."""
    import inspect

    from ..models.classpath import import_object

    if "dropout" in (spec.get("init_args") or {}):
        return True
    try:
        ctor = import_object(spec["class_path"])
        target = ctor.__init__ if inspect.isclass(ctor) else ctor
        return "dropout" in inspect.signature(target).parameters
    except Exception:  # noqa: BLE001 - unknown means "no"
        return False


def with_mc_dropout(probe: torch.nn.Module, model: Any, model_args: Mapping[str, Any], task: Any, uq: Sequence[str]) -> torch.nn.Module:
    """The model to train: ``probe`` rebuilt with ``dropout = MC_DROPOUT`` when MC-dropout is
    asked for, the constructor takes ``dropout`` and ``model_args`` does not already set it."""
    from ..models import create, model_spec

    if "mc-dropout" not in uq or "dropout" in model_args or not accepts_dropout(model_spec(probe)):
        return probe
    return create(model, in_channels=task.in_channels, lattice=task.lattice, **{**dict(model_args), "dropout": MC_DROPOUT})


# --------------------------------------------------------------------------------------
# scores: small pure functions
# --------------------------------------------------------------------------------------


def _vector(x: Any, what: str) -> np.ndarray:
    a = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float64).reshape(-1)
    return a


def _clean_indicator(x: Any) -> np.ndarray:
    a = _vector(x, "indicator")
    return np.where(np.isnan(a), np.inf, a)


def _k_of(fraction: float, n: int) -> int:
    """``ceil(fraction * n)``, at least 1 (with a guard against 0.07 * 100 = 7.000000000000001)."""
    return max(1, math.ceil(fraction * n - 1e-9))


def worst_mask(error: Any, fraction: float) -> np.ndarray:
    """Boolean mask of the ``ceil(fraction * n)`` samples with the largest error.

    Ties in the error are broken by sample order (the earlier sample counts as worse).

    Examples
    --------
    >>> worst_mask([0.1, 0.9, 0.5, 0.9], 0.5).tolist()
    [False, True, False, True]
    """
    e = _vector(error, "error")
    n = e.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(-e, kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[: _k_of(fraction, n)]] = True
    return mask


def spearman(indicator: Any, error: Any) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None when undefined.

    Examples
    --------
    >>> spearman([1, 2, 3, 4], [10, 20, 30, 40]), spearman([4, 3, 2, 1], [10, 20, 30, 40])
    (1.0, -1.0)
    >>> spearman([1, 1, 1], [1, 2, 3]) is None
    True
    """
    from scipy.stats import spearmanr

    a, e = _clean_indicator(indicator), _vector(error, "error")
    if a.size < 2 or np.all(a == a[0]) or np.all(e == e[0]):
        return None
    a = np.where(np.isinf(a), np.finfo(np.float64).max, a)
    rho = spearmanr(a, e).statistic
    rho = float(rho)
    return rho if math.isfinite(rho) else None


def auroc(scores: Any, labels: Any) -> float | None:
    """AUROC of ``scores`` for binary ``labels`` by the rank formula; a tie counts 1/2.

    ``AUROC = (sum of the positives' ranks - P (P + 1) / 2) / (P N)`` with average ranks, i.e.
    the probability that a random positive scores above a random negative (ties 1/2).

    Examples
    --------
    >>> auroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), auroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])
    (1.0, 0.0)
    >>> auroc([0.5, 0.5, 0.5], [0, 1, 0])
    0.5
    """
    from scipy.stats import rankdata

    s = _clean_indicator(scores)
    y = _vector(labels, "labels") > 0.5
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return None
    s = np.where(np.isinf(s), np.finfo(np.float64).max, s)
    ranks = rankdata(s, method="average")
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def flag_weights(indicator: Any, fraction: float) -> np.ndarray:
    """Per-sample probability of being flagged when the top ``ceil(fraction n)`` are flagged
    and ties at the threshold are broken at random (1 above it, 0 below, shared at it).

    Examples
    --------
    >>> flag_weights([3.0, 1.0, 2.0, 2.0], 0.5).tolist()
    [1.0, 0.0, 0.5, 0.5]
    """
    a = _clean_indicator(indicator)
    n = a.size
    if n == 0:
        return np.zeros(0)
    m = _k_of(fraction, n)
    threshold = np.sort(a)[::-1][m - 1]
    above = a > threshold
    tied = a == threshold
    w = above.astype(np.float64)
    w[tied] = (m - int(above.sum())) / int(tied.sum())
    return w


def catch_rate(indicator: Any, error: Any, flag_fraction: float = CATCH_FLAG, worst_fraction: float = CATCH_WORST) -> float | None:
    """Share of the worst ``worst_fraction`` samples (by error) among the flagged ``flag_fraction``
    (by indicator); the expectation under random tie-breaking of the indicator.

    Examples
    --------
    >>> err = list(range(100))
    >>> catch_rate(err, err), catch_rate([-e for e in err], err), catch_rate([0] * 100, err)
    (1.0, 0.0, 0.1)
    """
    e = _vector(error, "error")
    if e.size == 0:
        return None
    worst = worst_mask(e, worst_fraction)
    w = flag_weights(indicator, flag_fraction)
    return float(w[worst].sum() / worst.sum())


def score_indicator(indicator: Any, error: Any) -> dict[str, Any]:
    """The three scores of one indicator, plus its mean and median (for scale)."""
    a = _vector(indicator, "indicator")
    e = _vector(error, "error")
    if a.shape != e.shape:
        raise DiffbenchError(f"indicator has {a.size} values but the error {e.size}")
    return {
        "status": "ok",
        "spearman": spearman(a, e),
        "auroc": auroc(a, worst_mask(e, AUROC_WORST)),
        "catch_rate": catch_rate(a, e),
        "indicator_mean": float(np.nanmean(a)) if a.size else None,
        "indicator_median": float(np.nanmedian(a)) if a.size else None,
    }


def not_applicable(reason: str) -> dict[str, Any]:
    return {"status": NOT_APPLICABLE, "reason": reason}


def settings() -> dict[str, Any]:
    """What the scores mean, recorded with them."""
    return {
        "error": "per-sample MAE of the deterministic prediction on the normalised test target",
        "auroc_worst_fraction": AUROC_WORST,
        "catch_worst_fraction": CATCH_WORST,
        "catch_flag_fraction": CATCH_FLAG,
        "mc_samples": MC_SAMPLES,
        "mc_dropout": MC_DROPOUT,
        "inverse_preset": INVERSE_PRESET,
    }


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


def param_dtype(model: torch.nn.Module) -> torch.dtype:
    """The floating dtype of the model's parameters (float32 for a parameter-free model), so
    inputs match a model trained under a ``64-true`` or ``bf16-true`` precision."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def per_sample_mae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean |pred - target|`` over each sample's lattice, float64 (B,)."""
    return (pred.double() - target.double()).abs().flatten(1).mean(dim=1)


def inverse_input(field: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The inverse network's input: ``x`` with channel 0 replaced by ``field`` (B, 1, N, N)."""
    return torch.cat([field.to(x.dtype), x[:, 1:]], dim=1)


def iterate_split(dataset: Any, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
    """Every sample of a :class:`SplitDataset` in order, in batches, on this process alone
    (no distributed sampler: the indicators are computed on rank 0 only)."""
    n = len(dataset)
    for start in range(0, n, batch_size):
        yield dataset.__getitems__(list(range(start, min(n, start + batch_size))))


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """A context with torch's RNG (CPU and ``device``) seeded, restored on exit: the indicators'
    randomness (dropout masks, the inverse network's initialisation) is reproducible, whether
    the run was resumed or not, and leaves the training RNG alone."""
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _to(batch: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


def train_inverse(train_set: Any, task: Any, *, epochs: int, batch_size: int, seed: int, device: torch.device,
                  lr: float = 1e-3, log: Callable[[str], None] | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train the inverse network (see the module docstring); returns it and a record of how."""
    with seeded(seed, device):
        return _train_inverse(train_set, task, epochs=epochs, batch_size=batch_size, seed=seed, device=device, lr=lr, log=log)


def _train_inverse(train_set: Any, task: Any, *, epochs: int, batch_size: int, seed: int, device: torch.device,
                   lr: float, log: Callable[[str], None] | None) -> tuple[torch.nn.Module, dict[str, Any]]:
    from ..models import create, model_spec

    gen = torch.Generator().manual_seed(seed)
    net = create(INVERSE_PRESET, in_channels=task.in_channels, out_channels=1, lattice=task.lattice).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    n = len(train_set)
    steps = max(2, epochs * math.ceil(n / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    started = time.perf_counter()
    net.train()
    losses = []
    step = 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen).tolist()
        total, count = 0.0, 0
        for start in range(0, n, batch_size):
            b = _to(train_set.__getitems__(order[start : start + batch_size]), device)
            out = net(inverse_input(b["target"], b["input"]))
            loss = (out[:, 0] - b["input"][:, 0]).abs().mean()
            if not torch.isfinite(loss):
                raise DiffbenchError("the inverse network's training loss became non-finite")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step < steps:
                sched.step()
            step += 1
            total += float(loss.detach()) * b["input"].shape[0]
            count += b["input"].shape[0]
        losses.append(total / max(count, 1))
    net.eval()
    info = {"preset": INVERSE_PRESET, "spec": model_spec(net), "epochs": epochs, "batch_size": batch_size, "lr": lr,
            "optimizer": "adamw+onecycle", "loss": "mae", "seed": seed, "train_loss": losses,
            "train_time_s": time.perf_counter() - started, "n_train": n}
    if log:
        log(f"inverse network trained: {epochs} epochs, final train MAE {losses[-1] if losses else float('nan'):.4g}")
    return net, info


def load_or_train_inverse(path: Path, train_set: Any, val_set: Any, task: Any, *, epochs: int, batch_size: int,
                          seed: int, device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The run's inverse network: loaded from ``path`` when a previous attempt saved it, else
    trained, scored on the validation split (``val_mae``: inverse(true field) vs true source
    map) and saved atomically."""
    from ..models import build_from_spec

    if path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=False)
        net = build_from_spec(saved["info"]["spec"])
        net.load_state_dict(saved["state_dict"])
        return net.to(device).eval(), saved["info"]
    net, info = train_inverse(train_set, task, epochs=epochs, batch_size=batch_size, seed=seed, device=device)
    with torch.no_grad():
        errs = []
        for b in iterate_split(val_set, batch_size):
            b = _to(b, device)
            errs.append(per_sample_mae(net(inverse_input(b["target"], b["input"]))[:, 0], b["input"][:, 0]).cpu())
    info["val_mae"] = float(torch.cat(errs).mean()) if errs else None
    import io
    import os
    import tempfile

    buf = io.BytesIO()
    torch.save({"info": info, "state_dict": {k: v.cpu() for k, v in net.state_dict().items()}}, buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(buf.getvalue())
    os.replace(tmp, path)
    return net, info


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
def seed_indicators(model: torch.nn.Module, dataset: Any, uq: Sequence[str], *, batch_size: int, device: torch.device,
                    inverse: torch.nn.Module | None = None, inverse_reason: str | None = None) -> dict[str, Any]:
    """The per-seed ``uq`` block: every indicator asked for (except the ensemble, which needs
    all seeds) on every sample of ``dataset`` (the test split), scored against the error."""
    from ..evaluation.functional import prediction_residual

    started = time.perf_counter()
    was = model.training
    model.eval()
    has_dropout = bool(dropout_modules(model))
    errors, values = [], {name: [] for name in uq if name != "ensemble"}
    for b in iterate_split(dataset, batch_size):
        b = _to(b, device)
        pred = model(b["input"].to(param_dtype(model))).float()
        errors.append(per_sample_mae(pred[:, 0], b["target"][:, 0]).cpu())
        if "residual" in values:
            values["residual"].append(prediction_residual(pred, b).cpu())
        if "mc-dropout" in values and has_dropout:
            values["mc-dropout"].append(mc_dropout_spread(model, b["input"]).cpu())
        if "inverse" in values and inverse is not None:
            back = inverse(inverse_input(pred, b["input"])).float()
            values["inverse"].append(per_sample_mae(back[:, 0], b["input"][:, 0]).cpu())
    model.train(was)
    error = torch.cat(errors)
    indicators: dict[str, Any] = {}
    for name in uq:
        if name == "ensemble":
            continue
        if name == "mc-dropout" and not has_dropout:
            indicators[name] = not_applicable(
                "the model has no active dropout layer (its constructor takes no 'dropout' argument, or dropout is 0)")
        elif name == "inverse" and inverse is None:
            indicators[name] = not_applicable(inverse_reason or "no inverse network")
        else:
            indicators[name] = score_indicator(torch.cat(values[name]), error)
    return {"n_samples": int(error.numel()), "error_mean": float(error.mean()), "settings": settings(),
            "indicators": indicators, "time_s": time.perf_counter() - started}


def ensemble_indicators(models: Sequence[torch.nn.Module], seeds: Sequence[int], dataset: Any, *, batch_size: int,
                        device: torch.device) -> dict[int, dict[str, Any]]:
    """``{seed: ensemble scores against that seed's error}`` (not applicable with < 2 models)."""
    if len(models) < 2:
        reason = "needs at least 2 seeds (this run has 1)"
        return {s: not_applicable(reason) for s in seeds}
    preds = [predict_split(m, dataset, batch_size, device).double() for m in models]
    target = torch.cat([b["target"][:, 0] for b in iterate_split(dataset, batch_size)]).double()
    spread = torch.stack(preds).std(dim=0, unbiased=True).mean(dim=(-2, -1))
    return {s: score_indicator(spread, per_sample_mae(p, target)) for s, p in zip(seeds, preds)}


# --------------------------------------------------------------------------------------
# run integration
# --------------------------------------------------------------------------------------


def aggregate_uq(per_seed: Sequence[Mapping[str, Any]], requested: Sequence[str]) -> dict[str, Any]:
    """The run-level ``uq`` block: each indicator's scores, mean ± std over seeds."""
    from ..protocol.results import mean_std

    blocks = [s.get("uq") for s in per_seed if s.get("uq")]
    out: dict[str, Any] = {"requested": list(requested), "settings": settings(), "indicators": {}}
    inverse = next((b.get("inverse_model") for b in blocks if b.get("inverse_model")), None)
    if inverse is not None:
        out["inverse_model"] = inverse
    for name in requested:
        rows = [b["indicators"].get(name) for b in blocks if name in b.get("indicators", {})]
        ok = [r for r in rows if r.get("status") == "ok"]
        if not ok:
            reason = next((r.get("reason") for r in rows if r.get("reason")), "not computed")
            out["indicators"][name] = {**not_applicable(reason), "n_seeds": 0}
            continue
        entry: dict[str, Any] = {"status": "ok", "n_seeds": len(ok)}
        for key in SCORE_KEYS + ("indicator_mean",):
            entry[key] = mean_std([r.get(key) for r in ok])
        out["indicators"][name] = entry
    return out


def log_to_wandb(logger: Any, blocks: Mapping[str, Any]) -> None:
    """Put the ``uq`` and ``consistency`` scores into the W&B run's summary; never raises."""
    if logger is None:
        return
    try:
        summary: dict[str, Any] = {}
        for name, row in ((blocks.get("uq") or {}).get("indicators") or {}).items():
            for key in SCORE_KEYS:
                if row.get(key) is not None:
                    summary[f"uq/{name}/{key}"] = row[key]
        for name, row in (blocks.get("consistency") or {}).items():
            if isinstance(row, dict):
                for key, value in row.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "n_samples":
                        summary[f"consistency/{name}/{key}"] = value
        if summary:
            logger.experiment.summary.update(summary)
    except Exception as exc:  # noqa: BLE001 - W&B must never break a run
        from ..training.wandb_logging import warn

        warn(f"could not log uq/consistency scores ({type(exc).__name__}: {exc})")


def seed_trust(cfg: Any, task: Any, dm: Any, model: torch.nn.Module, device: torch.device, out_dir: Path, max_epochs: int,
               seed: int = 0) -> dict[str, Any]:
    """Everything :func:`diffbench.training.run._run_seed` adds to a seed's result after
    testing (on rank 0): ``consistency`` always, ``uq`` when ``--uq`` asked for indicators.
    A failure in either block is recorded in it (``status: "error"``) and never loses the seed."""
    from .consistency import consistency_scores, spread_subset

    blocks: dict[str, Any] = {}
    try:
        blocks["consistency"] = consistency_scores(model, spread_subset(dm.datasets["test"]), task, device,
                                                   batch_size=dm.eval_batch_size)
    except Exception as exc:  # noqa: BLE001 - a consistency failure is recorded, the seed is kept
        import sys

        print(f"warning: consistency scores failed ({type(exc).__name__}: {exc}); recorded in result.json", file=sys.stderr)
        blocks["consistency"] = {"status": "error", "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    uq = list(getattr(cfg, "uq", []) or [])
    if not uq:
        return blocks
    inverse = inverse_info = None
    if "inverse" in uq:
        # the run's epoch budget (a step-budgeted run, max_epochs -1, uses the task's default epochs)
        epochs = max_epochs if max_epochs >= 1 else int(task.training.get("max_epochs", 20))
        inverse, inverse_info = load_or_train_inverse(
            out_dir / INVERSE_FILE, dm.datasets["train"], dm.datasets["val"], task, epochs=epochs,
            batch_size=dm.batch_size, seed=cfg.seeds[0], device=device)
    with seeded(seed, device):  # the MC-dropout masks
        block = seed_indicators(model, dm.datasets["test"], uq, batch_size=dm.eval_batch_size, device=device,
                                inverse=inverse)
    if inverse_info is not None:
        block["inverse_model"] = inverse_info
    blocks["uq"] = block
    return blocks


def run_ensemble(cfg: Any, task: Any, dm: Any, out_dir: Path, per_seed: list[dict[str, Any]], accelerator: str) -> None:
    """After the last seed: the ensemble indicator, written into each seed's ``uq`` block."""
    if "ensemble" not in (getattr(cfg, "uq", None) or []):
        return
    from ..training.module import SurrogateModule

    device = torch.device("cuda" if accelerator == "gpu" else "cpu")
    models, seeds = [], []
    for s in per_seed:
        ckpt = s.get("best_checkpoint")
        if ckpt:
            models.append(SurrogateModule.load(str(out_dir / ckpt), expect_task_hash=task.spec_hash).model.to(device).eval())
            seeds.append(s["seed"])
    scores = ensemble_indicators(models, seeds, dm.datasets["test"], batch_size=dm.eval_batch_size, device=device)
    for s in per_seed:
        if s.get("uq") is not None:
            s["uq"].setdefault("indicators", {})["ensemble"] = scores.get(s["seed"], not_applicable("no best checkpoint"))


def trust_aggregate(cfg: Any, per_seed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The run-level ``uq`` (when asked for) and ``consistency`` blocks."""
    from .consistency import aggregate_consistency

    out: dict[str, Any] = {}
    cons = aggregate_consistency([s.get("consistency") for s in per_seed])
    if cons:
        out["consistency"] = cons
    uq = list(getattr(cfg, "uq", []) or [])
    if uq:
        out["uq"] = aggregate_uq(per_seed, uq)
    return out


"""What a result records about where it ran: hardware, package versions, git commit."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any


def is_ddp_child() -> bool:
    """Whether this process is a DDP worker other than the global rank 0 (``LOCAL_RANK`` or
    ``NODE_RANK`` set and not 0): such a process writes no result and takes no lock."""
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"


PACKAGES = (
    "diffbench",
    "torch",
    "lightning",
    "torchmetrics",
    "numpy",
    "scipy",
    "neuraloperator",
    "wandb",
    "cupy-cuda12x",
    "cupy-cuda13x",
)


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(accelerator: str, devices: int, num_nodes: int = 1) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "accelerator": accelerator,
        "devices": devices,
        "num_nodes": num_nodes,
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]  # timings on a busy machine are slower
    except OSError:
        pass
    if accelerator == "gpu" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    info["label"] = (
        f"{devices}x {info['gpu']}"
        if "gpu" in info
        else f"CPU {info['cpu']} ({info['cpu_count']} cores, {devices} process{'es' if devices > 1 else ''})"
    )
    return info


def git_commit() -> dict[str, Any] | None:
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return {"commit": sha, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return None

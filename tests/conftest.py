"""Shared fixtures: a session-wide smoke data cache, W&B offline, quiet progress."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(scope="session")
def smoke_data_dir(tmp_path_factory):
    """The smoke task's cache, generated once per test session."""
    from diffbench.data.generation import ensure_cache

    root = tmp_path_factory.mktemp("data")
    ensure_cache("smoke", root, progress=False, log=lambda m: None)
    return root

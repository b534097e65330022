"""Fixtures for the data tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from data_testlib import task_from


@pytest.fixture
def make_task(tmp_path: Path) -> Callable[..., str]:
    """``make_task(**overrides)``: BASE_TASK with overrides in a new YAML; returns its path.

    The task's ``name`` is the file's stem unless overridden, so each variant has its own
    cache directory under a data dir.
    """

    def make(overrides: dict[str, Any] | None = None, **kw: Any) -> str:
        return task_from(tmp_path / "tasks", overrides, **kw)

    return make

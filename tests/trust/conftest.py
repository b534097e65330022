"""Fixtures of the trust tests: the smoke task's test subset and a quick checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def smoke_dm(smoke_data_dir):
    from diffbench.data import DiffusionDataModule

    dm = DiffusionDataModule("smoke", data_dir=smoke_data_dir, progress=False)
    dm.setup("fit")
    dm.setup("test")
    return dm


@pytest.fixture(scope="session")
def smoke_subset(smoke_dm):
    from diffbench.trust.consistency import spread_subset

    return spread_subset(smoke_dm.datasets["test"])


@pytest.fixture(scope="session")
def smoke_checkpoint(tmp_path_factory):
    from trust_testlib import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "untrained.ckpt")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread in these tests (restored after each): on a shared, oversubscribed
    CPU a 2-thread forward pass was up to 50x slower than a 1-thread one."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


class Head:
    """The first ``n`` samples of a split dataset (same ``__getitems__`` contract)."""

    def __init__(self, dataset, n):
        self.dataset, self.n = dataset, min(n, len(dataset))

    def __len__(self):
        return self.n

    def __getitems__(self, positions):
        return self.dataset.__getitems__(list(positions))


@pytest.fixture(scope="session")
def smoke_small(smoke_dm):
    """48 training and 40 test samples of the smoke task."""
    return Head(smoke_dm.datasets["train"], 48), Head(smoke_dm.datasets["test"], 40)

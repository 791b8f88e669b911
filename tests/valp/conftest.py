"""Fixtures shared by the VALP tests: the digits data set and the paper's task on it.

Test modules that only need shapes (no data) define their own ``task`` fixture on a fake
8x8 data set, which overrides the one here.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from nasgym.data import load_dataset
from nasgym.tasks import make_task

#: stands in for digits where only the shapes matter (no data is loaded)
FAKE_DIGITS = SimpleNamespace(name="fake", image_shape=(8, 8), n_classes=10)


def gen(seed: int) -> torch.Generator:
    """A CPU torch generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def task(digits):
    return make_task("image-multitask", digits)

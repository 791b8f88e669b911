"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: the read-only data folder: ``$NASGYM_DATA_DIR`` if set, else ../shared/data beside the repository
SHARED_DATA = Path(
    os.environ.get("NASGYM_DATA_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
_WHY = (
    f"shared data folder not found at {SHARED_DATA}: tests that need MNIST, Fashion-MNIST or the "
    "full NB201 tables are skipped; set NASGYM_DATA_DIR to the folder that holds them"
)


def pytest_report_header(config: pytest.Config) -> str:
    """Say once, at the top of the run, where the shared data is or why its tests skip."""
    if SHARED_DATA.is_dir():
        return f"shared data: {SHARED_DATA}"
    return _WHY


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder (``$NASGYM_DATA_DIR`` or ``../shared/data``); skips the test when
    it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(_WHY)
    return SHARED_DATA

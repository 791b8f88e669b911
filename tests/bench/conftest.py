"""Fixtures of the bench tests: the toy env and agent, and a subprocess environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def toys():
    """The toy module (registers ``nasgym-test/ToyMO-v0`` and agent ``toy-cycle``)."""
    import nasgym_toys

    return nasgym_toys


@pytest.fixture
def cli_env() -> dict[str, str]:
    """Environment for ``python -m nasgym.cli`` subprocesses that can import the toys."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE), env.get("PYTHONPATH", "")])
    return env

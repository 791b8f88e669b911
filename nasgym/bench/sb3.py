"""Saved Stable-Baselines3 models in bench agent lists: ``--agent sb3:ALGO:PATH``.

``ALGO`` is an SB3 or sb3-contrib algorithm name (``ppo``, ``a2c``, ``dqn``, ``maskableppo``,
...), ``PATH`` the ``.zip`` written by ``model.save`` or ``nasgym train sb3``. The name is
turned into the registered ``sb3`` agent (``agents/sb3.py``) with ``algo`` and ``path``
arguments; that agent validates the algorithm, loads the model and acts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PREFIX = "sb3:"


def is_sb3(name: str) -> bool:
    """Whether an agent name refers to a saved SB3 model."""
    return name.startswith(PREFIX)


def parse(name: str) -> tuple[str, Path]:
    """``sb3:ALGO:PATH`` -> (algorithm, path); ValueError naming what is wrong."""
    parts = name[len(PREFIX) :].split(":", 1)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ValueError(
            f"agent {name!r}: write a saved SB3 model as sb3:ALGO:PATH, e.g. sb3:ppo:model.zip"
        )
    from policies.sb3_io import get_algorithm

    algo, path = parts[0].lower(), Path(parts[1]).expanduser()
    try:
        get_algorithm(algo)
    except ValueError as err:
        raise ValueError(f"agent {name!r}: {err}") from None
    if not path.is_file() and not path.with_name(path.name + ".zip").is_file():
        raise ValueError(f"agent {name!r}: no saved model at {path}")
    return algo, path


def agent_kwargs(name: str) -> dict[str, Any]:
    """The ``sb3`` agent's keyword arguments for ``sb3:ALGO:PATH``."""
    algo, path = parse(name)
    return {"algo": algo, "path": str(path)}

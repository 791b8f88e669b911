"""Every ``gymnasium.register`` call of nasgym, in one place, with string entry points.

Importing :mod:`nasgym` runs this module, which keeps ``import nasgym`` cheap: the
environment modules (and torch) are imported only when an environment is made.
"""

from __future__ import annotations

import gymnasium as gym

#: env id -> entry point
ENV_ENTRY_POINTS: dict[str, str] = {
    "nasgym/NB201-v0": "nasgym.envs.nb201:NB201Env",
    "nasgym/NB201Seq-v0": "nasgym.envs.nb201_seq:NB201SeqEnv",
    "nasgym/VALP-v0": "nasgym.envs.valp:VALPEnv",
    "nasgym/Cell-v0": "nasgym.envs.cell:CellEnv",
}


def register_envs() -> None:
    """Register every nasgym environment with Gymnasium (idempotent)."""
    for env_id, entry_point in ENV_ENTRY_POINTS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)


def env_ids() -> list[str]:
    """Ids of every nasgym environment."""
    return list(ENV_ENTRY_POINTS)

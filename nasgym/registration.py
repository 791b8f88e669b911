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
    "nasgym/VALP-Paper-v0": "nasgym.envs.valp:VALPEnv",
    "nasgym/VALP-PaperScaled-v0": "nasgym.envs.valp:VALPEnv",
    "nasgym/Cell-v0": "nasgym.envs.cell:CellEnv",
}


#: the VALP paper's five macro operators (its §V-B)
PAPER_OPERATORS = (
    "add_connection",
    "delete_connection",
    "insert_network",
    "delete_network",
    "clone_network",
)
#: the VALP paper's setting (Fashion-MNIST, batch 200, 1-2 networks per output, macro operators,
#: 2-of-3 acceptance, 60 steps, credit against a control); budgets in training batches. The
#: paper trains 5,000 batches first and 1,000 per step: Paper-v0 is 2x smaller, PaperScaled-v0
#: 5x smaller (fast enough to learn on)
_PAPER = {
    "dataset": "fashion-mnist",
    "batch_size": 200,
    "start_networks": (1, 2),
    "operators": PAPER_OPERATORS,
    "acceptance": "paper",
    "max_steps": 60,
    "credit": "control",
}
#: the paper's own budget and the presets', in training batches (initial, per step), and what
#: each preset is
PAPER_BUDGET = (5000, 1000)
_PRESETS = {
    "nasgym/VALP-Paper-v0": (
        (2500, 500),
        "VALP-v0 at the VALP paper's setting: Fashion-MNIST, batch 200, the five macro operators, "
        "2-of-3 acceptance, 60 steps",
    ),
    "nasgym/VALP-PaperScaled-v0": ((1000, 200), "VALP-Paper-v0 scaled down to learn on"),
}
ENV_KWARGS: dict[str, dict[str, object]] = {
    env_id: {**_PAPER, "initial_batches": initial, "step_batches": step}
    for env_id, ((initial, step), _) in _PRESETS.items()
}
#: one-line summaries of the ids that preset another id's class (``nasgym envs`` lists them)
ENV_SUMMARIES: dict[str, str] = {
    env_id: f"{what}, {initial:,} / {step:,} batches "
    f"({PAPER_BUDGET[0] / initial:g}x below the paper's)."
    for env_id, ((initial, step), what) in _PRESETS.items()
}


def register_envs() -> None:
    """Register every nasgym environment with Gymnasium (idempotent)."""
    for env_id, entry_point in ENV_ENTRY_POINTS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, kwargs=ENV_KWARGS.get(env_id, {}))


def env_ids() -> list[str]:
    """Ids of every nasgym environment."""
    return list(ENV_ENTRY_POINTS)

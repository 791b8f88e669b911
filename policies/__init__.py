"""Learned meta-policies for nasgym environments (network definitions and shipped weights).

- :mod:`policies.extractors`: features extractors for SB3 policies, registered by name.
- :mod:`policies.sb3_io`: SB3 algorithms by name; saving and loading models without unpickling.
- Shipped weights, listed in :data:`SHIPPED` and loaded by name as agents
  (``make_agent("ppo-nb201", env)``); each has a ``.json`` beside it with the exact command,
  seed and settings that made it.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent

#: shipped policy name -> its SB3 model file in this folder
SHIPPED: dict[str, str] = {
    "ppo-nb201": "ppo_nb201_cifar10.zip",
    "metamodel": "metamodel_valp.skops",
    "ppo-valp": "ppo_valp_mnist.zip",
    "ppo-valp-hv": "ppo_valp_hv_mnist.zip",
}


def shipped_path(name: str) -> Path:
    """Path of the shipped policy ``name``; ValueError naming the shipped ones if unknown."""
    if name not in SHIPPED:
        raise ValueError(f"no shipped policy {name!r}; shipped: {', '.join(sorted(SHIPPED))}")
    path = _HERE / SHIPPED[name]
    if not path.is_file():
        raise FileNotFoundError(f"shipped policy {name!r} is missing: {path}")
    return path


__all__ = ["SHIPPED", "shipped_path"]

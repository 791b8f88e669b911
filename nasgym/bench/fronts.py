"""True Pareto fronts of environments whose whole search space can be enumerated (for IGD+).

``TRUE_FRONTS`` maps an env id to ``provider(env_kwargs) -> (objective names, front array)``.
NAS-Bench-201 is registered: its 15,625 cells are all in the shipped table.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from nasgym.registry import Registry

FrontProvider = Callable[[dict[str, Any]], tuple[list[str], np.ndarray]]

TRUE_FRONTS: Registry[FrontProvider] = Registry("true front")


def true_front(env_id: str, env_kwargs: dict[str, Any], names: list[str]) -> np.ndarray | None:
    """The true front of ``env_id`` with columns in ``names`` order, or None where unknown."""
    if env_id not in TRUE_FRONTS:
        return None
    front_names, front = TRUE_FRONTS.get(env_id)(env_kwargs)
    if sorted(front_names) != sorted(names):
        return None
    return front[:, [front_names.index(n) for n in names]]


@lru_cache(maxsize=8)
def _nb201_front(dataset: str, table_path: str | None) -> np.ndarray:
    import moocore

    from nasgym.tables.nb201 import canonical_dataset, load_nb201

    table = load_nb201(table_path)
    ds = canonical_dataset(dataset)
    # the same rounding as the env's info, so a cell on the front scores IGD+ 0 exactly
    test = np.round(table.test_acc_200(ds).astype(np.float64), 4)
    params = np.round(table.params(ds).astype(np.float64), 6)
    pts = np.unique(np.column_stack([100.0 - test, params]), axis=0)
    return np.asarray(moocore.filter_dominated(pts))


def nb201_front(env_kwargs: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    """NB201's front of (test error %, params M) over all cells, for the env's data set."""
    path = env_kwargs.get("table_path")
    return ["test_error", "params"], _nb201_front(
        str(env_kwargs.get("dataset", "cifar10")), None if path is None else str(path)
    )


TRUE_FRONTS.register("nasgym/NB201-v0", nb201_front)

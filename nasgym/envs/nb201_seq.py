"""``nasgym/NB201Seq-v0``: NB201-v0 with the cell chosen one edge per step."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from nasgym.envs.nb201 import N_EDGES, N_OPS, NB201Env

#: observation slots per edge: one per op, then "unset"
_SLOTS = N_OPS + 1


class NB201SeqEnv(NB201Env):
    """NB201-v0 where a cell is built one edge per step and evaluated after its 6th edge.

    The evaluation, budget, incumbent, reward and ``info`` of a completed cell are those of
    ``nasgym/NB201-v0`` (:class:`~nasgym.envs.nb201.NB201Env`, whose code this reuses): the
    same 6 decisions give the same ``info`` as one NB201-v0 step with that cell.

    ## Action Space
    ``Discrete(5)``: the op (``NB201_OPS`` order) of the next edge, edges in the order
    (0,1), (0,2), (1,2), (0,3), (1,3), (2,3). Every action is valid (``action_masks()`` is
    all True); anything else raises ``ValueError``.

    ## Observation Space
    ``Box(0, 1, (37,), float32)``: for each of the 6 edges a one-hot over 6 slots (the 5 ops,
    then "unset"), showing the cell under construction (all "unset" at the start of each cell),
    then the fraction of the time budget spent.

    ## Rewards
    0 for the first 5 decisions of a cell. The 6th decision evaluates the cell and returns
    NB201-v0's reward: ``reward(acc, params, latency)`` with ``acc`` the 12-epoch validation
    accuracy (fraction). So an episode's return is the same as NB201-v0's for the same cells.

    ``info`` after the 6th decision is NB201-v0's (``objectives``, ``cost``, ``accepted``,
    ``in_budget``, ``arch``, ``index``, ``valid_acc_12``, ``test_acc_200``, ..., the incumbent);
    after the others it is ``objectives = {}`` (no cell was evaluated), ``cost`` (unchanged),
    ``accepted`` (True) and ``edges_set`` (decisions made for the current cell, 1-5).
    ``objective_spec`` is NB201-v0's for the data set.

    ## Episode End
    As NB201-v0, checked when a cell is evaluated: the episode terminates once the simulated
    training time of the evaluated cells has spent ``time_budget`` (an overrunning cell is not
    charged and ends the episode); ``max_steps`` counts evaluated cells, not decisions, and
    truncates.

    ## Arguments
    Those of NB201-v0: ``dataset``, ``reward``, ``reward_params``, ``device``, ``time_budget``
    (12000 s), ``max_steps`` (None; cells), ``charge_repeats`` (True), ``table_path``.

    ## Version History
    - v0: initial version.
    """

    def _make_spaces(self) -> None:
        self.action_space = spaces.Discrete(N_OPS)
        self.observation_space = spaces.Box(0.0, 1.0, (N_EDGES * _SLOTS + 1,), dtype=np.float32)

    def _clear(self) -> None:
        super()._clear()
        self._partial: list[int] = []

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new search with an empty budget and an empty cell."""
        _, info = super().reset(seed=seed, options=options)
        return self._observe(), info

    def _observe(self) -> np.ndarray:
        obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        slots = np.full(N_EDGES, N_OPS)
        slots[: len(self._partial)] = self._partial
        obs[np.arange(N_EDGES) * _SLOTS + slots] = 1.0
        obs[-1] = self.budget_fraction()
        return obs

    def _decode_op(self, action: Any) -> int:
        a = np.asarray(action)
        if a.size != 1 or a.ndim > 1:
            raise ValueError(f"NB201Seq action must be one op index, got {action!r}")
        op = a.reshape(())
        if op.dtype.kind not in "iu" and not (op.dtype.kind == "f" and float(op).is_integer()):
            raise ValueError(f"NB201Seq action must be an integer op index, got {action!r}")
        if not 0 <= int(op) < N_OPS:
            raise ValueError(f"NB201Seq op index must be in [0, {N_OPS - 1}], got {action!r}")
        return int(op)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Set the next edge's op; the 6th edge completes the cell, which is then evaluated."""
        self._check_running()
        self._partial.append(self._decode_op(action))
        if len(self._partial) < N_EDGES:
            info = {
                "objectives": {},
                "cost": float(self.cost),
                "accepted": True,
                "edges_set": len(self._partial),
            }
            return self._observe(), 0.0, False, False, info
        cell = np.array(self._partial, dtype=np.int64)
        self._partial = []
        _, reward, terminated, truncated, info = self._evaluate(cell)
        return self._observe(), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Mask over the 5 ops of the next edge (all True: every NB201 cell is valid)."""
        return np.ones(N_OPS, dtype=bool)

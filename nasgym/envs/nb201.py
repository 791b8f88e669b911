"""``nasgym/NB201-v0``: cell search over the NAS-Bench-201 tables under the NB201 search protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from nasgym.objectives import make_reward
from nasgym.spaces.nb201 import NB201_OPS
from nasgym.tables.nb201 import NB201Table, canonical_dataset, load_nb201

N_EDGES = 6
N_OPS = len(NB201_OPS)
_POW5 = 5 ** np.arange(N_EDGES - 1, -1, -1)
_ONEHOT_POS = np.arange(N_EDGES) * N_OPS

#: data set -> objective -> (ideal, reference), fixed once from the shipped table (15,625 cells):
#: test_error ideal = the best 200-epoch test error rounded down, reference = the median cell's
#: 200-epoch test error rounded up; params ideal 0, reference = the largest cell (1.54 M)
#: rounded up to 0.1 M. ``tests/envs/test_nb201.py`` re-derives these from the table.
OBJECTIVE_SPECS: dict[str, dict[str, tuple[float, float]]] = {
    "cifar10": {"test_error": (5.0, 10.0), "params": (0.0, 1.6)},
    "cifar100": {"test_error": (26.0, 35.0), "params": (0.0, 1.6)},
    "ImageNet16-120": {"test_error": (52.0, 64.0), "params": (0.0, 1.6)},
}


class NB201Env(gym.Env):
    """Search NAS-Bench-201 cells: each step evaluates one cell from the benchmark tables.

    ## Action Space
    ``MultiDiscrete([5] * 6)``: the op index of each of the 6 edges, in edge order
    (0,1), (0,2), (1,2), (0,3), (1,3), (2,3) and op order ``NB201_OPS`` (none, skip_connect,
    nor_conv_1x1, nor_conv_3x3, avg_pool_3x3). Every action is valid (``action_masks()`` is
    all True); a malformed action raises ``ValueError``.

    ## Observation Space
    ``Box(0, 1, (33,), float32)``: the one-hot of the last evaluated cell (30 = 6 edges x 5
    ops; zeros after reset), its 12-epoch validation accuracy as a fraction, the incumbent's
    12-epoch validation accuracy as a fraction, and the fraction of the time budget spent.

    ## Rewards
    ``reward(acc, params, latency)`` of :mod:`nasgym.objectives` (default ``accuracy``) with
    ``acc`` the cell's 12-epoch validation accuracy (``c10valid_valid_12``, ``c100_valid_12``
    or ``in16_valid_12``) as a fraction, ``params`` in M for the data set and ``latency`` in ms
    on ``device``. No test accuracy enters the reward or the observation.

    ``info`` of every step: ``objectives`` (``test_error`` = 100 - 200-epoch test accuracy,
    ``params`` in M; lower is better), ``cost`` (cumulative simulated
    training seconds), ``accepted`` (True), ``in_budget`` (False for the step that overran the
    budget), ``arch``, ``index`` (official NB201 index), ``valid_acc_12``, ``test_acc_200``
    (percent), ``params``, ``flops`` (M), ``latency`` (ms), ``train_time`` (s), and the
    incumbent, the cell the search chooses: the evaluated, in-budget cell of highest reward so
    far (first one on ties; under the default ``accuracy`` reward that is the best 12-epoch
    validation cell, NB201's protocol): ``best_arch``, ``best_index``, ``best_reward``,
    ``best_valid_acc_12``, ``best_test_acc_200``, ``best_params``, ``best_flops``,
    ``best_latency``. The step that overran the budget evaluated nothing: its ``objectives``
    is ``{}``, so no indicator counts it.

    ``objective_spec`` (per instance, from ``OBJECTIVE_SPECS``; the class attribute holds the
    cifar10 values) is ``(ideal, reference)`` per objective for the indicators, fixed per data set
    from the table: ``test_error`` (5, 10) on cifar10, (26, 35) on cifar100, (52, 64) on
    ImageNet16-120 (ideal = best cell's error rounded down, reference = median cell's error
    rounded up), ``params`` (0, 1.6) M (largest cell 1.54 M). A cell worse than the median adds
    no hypervolume; every cell of the table's error/params Pareto front lies inside the box but
    the one or two smallest (c10: 13.2 % / 0.07 M, 10.01 % / 0.10 M).

    ## Episode End
    Each evaluation costs the cell's 12-epoch training time (12/200 of
    ``c10valid_train_time_200ep_s``, used for every data set; re-evaluating a cell costs
    again, as in NB201's scripts, unless ``charge_repeats=False``). As in NB201's scripts, an
    evaluation that would overrun ``time_budget`` is not performed: its step still returns the
    cell's reward but is not charged, does not change the incumbent, has
    ``info["in_budget"] = False`` and ``info["objectives"] = {}``, and terminates the episode. The episode also terminates as
    soon as the remaining budget is smaller than the cheapest cell's training time.
    ``max_steps`` (optional) truncates.

    ## Arguments
    ``dataset`` (cifar10, cifar100, ImageNet16-120 or an alias: c10, c100, in16, ...),
    ``reward`` (a name in ``nasgym.objectives.REWARDS``), ``reward_params`` (dict of its
    parameters), ``device`` (one of the table's latency devices, default ``pixel3``),
    ``time_budget`` (simulated seconds, default 12000), ``max_steps`` (None), ``charge_repeats``
    (True), ``table_path`` (None: the table shipped in the package).

    ## Version History
    - v0: initial version. (Unreleased changes, still v0: ``objective_spec`` per data set with
      the references above instead of (0, 100) % error and (0, 2) M for every data set; the
      incumbent is the cell of highest reward, not of highest 12-epoch validation accuracy,
      which changes nothing under the default ``accuracy`` reward; the over-budget step's
      ``objectives`` is empty.)
    """

    metadata = {"render_modes": []}
    #: objective -> (ideal, reference) for the indicators; the instance's follows its data set
    objective_spec: dict[str, tuple[float, float]] = dict(OBJECTIVE_SPECS["cifar10"])

    def __init__(
        self,
        dataset: str = "cifar10",
        reward: str = "accuracy",
        reward_params: dict[str, Any] | None = None,
        device: str = "pixel3",
        time_budget: float = 12000.0,
        max_steps: int | None = None,
        charge_repeats: bool = True,
        table_path: str | Path | None = None,
    ) -> None:
        if not (float(time_budget) > 0):
            raise ValueError(
                f"time_budget must be a positive number of seconds, got {time_budget!r}"
            )
        if max_steps is not None and int(max_steps) < 1:
            raise ValueError(f"max_steps must be None or >= 1, got {max_steps!r}")
        self.dataset = canonical_dataset(dataset)
        self.objective_spec = dict(OBJECTIVE_SPECS[self.dataset])
        self.reward_name = reward
        self.reward_params = dict(reward_params or {})
        self.reward_fn = make_reward(reward, **self.reward_params)
        self.device = device
        self.time_budget = float(time_budget)
        self.max_steps = None if max_steps is None else int(max_steps)
        self.charge_repeats = bool(charge_repeats)
        self.table_path = table_path
        self._bind_table()
        self._make_spaces()
        self._clear()

    def _make_spaces(self) -> None:
        self.action_space = spaces.MultiDiscrete(np.full(N_EDGES, N_OPS, dtype=np.int64))
        self.observation_space = spaces.Box(0.0, 1.0, (N_EDGES * N_OPS + 3,), dtype=np.float32)

    def _bind_table(self) -> None:
        table: NB201Table = load_nb201(self.table_path)
        self._table = table
        # the sources have 4-6 decimals: round away the float32 storage noise
        self._valid = np.round(table.valid_acc_12(self.dataset).astype(np.float64), 4)
        self._test = np.round(table.test_acc_200(self.dataset).astype(np.float64), 4)
        self._params = np.round(table.params(self.dataset).astype(np.float64), 6)
        self._flops = np.round(table.flops(self.dataset).astype(np.float64), 5)
        self._latency = np.round(table.latency(self.device).astype(np.float64), 5)
        self._time = np.round(table.train_time_12.astype(np.float64), 4)
        self._code_to_index = table.code_to_index
        self._min_time = float(self._time.min())

    def _clear(self) -> None:
        self.cost = 0.0
        self.steps = 0
        self.done = False
        self._seen: set[int] = set()
        self._best_index = -1
        self._best_valid = -1.0
        self._best_reward = -np.inf
        self._last_obs = np.zeros(self.observation_space.shape, dtype=np.float32)

    # ------------------------------------------------------------------ gym
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new search with an empty budget; the table makes it deterministic."""
        super().reset(seed=seed)
        self._clear()
        return self._last_obs.copy(), {"cost": 0.0, "objectives": {}, "accepted": True}

    def _decode(self, action: Any) -> np.ndarray:
        a = np.asarray(action)
        if a.shape != (N_EDGES,):
            raise ValueError(f"NB201 action must have shape (6,), got {a.shape}: {action!r}")
        if a.dtype.kind not in "iu":
            if a.dtype.kind != "f" or not np.all(np.mod(a, 1) == 0):
                raise ValueError(f"NB201 action must hold integer op indices, got {action!r}")
            a = a.astype(np.int64)
        if a.min() < 0 or a.max() >= N_OPS:
            raise ValueError(f"NB201 op indices must be in [0, {N_OPS - 1}], got {a.tolist()}")
        return a

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Evaluate the cell ``action`` from the tables and charge its 12-epoch training time."""
        self._check_running()
        a = self._decode(action)
        i, reward, terminated, truncated, info = self._evaluate(a)
        obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        obs[_ONEHOT_POS + a] = 1.0
        obs[-3] = self._valid[i] / 100.0
        obs[-2] = max(self._best_valid, 0.0) / 100.0
        obs[-1] = self.budget_fraction()
        self._last_obs = obs
        return obs.copy(), reward, terminated, truncated, info

    def _check_running(self) -> None:
        if self.done:
            raise RuntimeError("the episode has ended (budget spent); call reset() first")

    def budget_fraction(self) -> float:
        """Fraction of the time budget spent so far, in [0, 1]."""
        return min(self.cost / self.time_budget, 1.0)

    def _evaluate(self, a: np.ndarray) -> tuple[int, float, bool, bool, dict[str, Any]]:
        """Evaluate the decoded cell ``a`` under the protocol: (index, reward, terminated,
        truncated, info); charges the budget and updates the incumbent and step count."""
        i = int(self._code_to_index[int(a @ _POW5)])
        valid = self._valid[i]
        charge = self._time[i] if (self.charge_repeats or i not in self._seen) else 0.0
        in_budget = bool(self.cost + charge <= self.time_budget)
        reward = float(self.reward_fn(valid / 100.0, self._params[i], self._latency[i]))
        if in_budget:
            self.cost += charge
            self._seen.add(i)
            if reward > self._best_reward:
                self._best_reward, self._best_valid, self._best_index = reward, valid, i
        self.steps += 1
        terminated = bool((not in_budget) or (self.time_budget - self.cost < self._min_time))
        truncated = bool(
            self.max_steps is not None and self.steps >= self.max_steps and not terminated
        )
        self.done = terminated or truncated
        return i, reward, terminated, truncated, self._info(i, in_budget)

    def _info(self, i: int, in_budget: bool) -> dict[str, Any]:
        test = float(self._test[i])
        objectives = {"test_error": 100.0 - test, "params": float(self._params[i])}
        return {
            "objectives": objectives if in_budget else {},
            "cost": float(self.cost),
            "accepted": True,
            "in_budget": in_budget,
            "arch": self._table.arch_str(i),
            "index": i,
            "valid_acc_12": float(self._valid[i]),
            "test_acc_200": test,
            "params": float(self._params[i]),
            "flops": float(self._flops[i]),
            "latency": float(self._latency[i]),
            "train_time": float(self._time[i]),
            **self.incumbent(),
        }

    def incumbent(self) -> dict[str, Any]:
        """The chosen cell so far (highest reward among the evaluated, in-budget cells) as the
        ``best_*`` info entries; NaN (and ``best_arch = ""``, ``best_index = -1``) before any."""
        b = self._best_index
        nan = float("nan")

        def at(values: np.ndarray) -> float:
            return float(values[b]) if b >= 0 else nan

        return {
            "best_arch": self._table.arch_str(b) if b >= 0 else "",
            "best_index": int(b),
            "best_reward": float(self._best_reward) if b >= 0 else nan,
            "best_valid_acc_12": at(self._valid),
            "best_test_acc_200": at(self._test),
            "best_params": at(self._params),
            "best_flops": at(self._flops),
            "best_latency": at(self._latency),
        }

    def table_rewards(self) -> np.ndarray:
        """The reward every table cell (official index order) earns under this env's reward: a
        search's limit, since with an unlimited budget the chosen cell is their argmax."""
        fn, cells = self.reward_fn, zip(self._valid, self._params, self._latency, strict=True)
        return np.array([fn(v / 100.0, p, t) for v, p, t in cells])

    def action_masks(self) -> np.ndarray:
        """Per-edge op masks, concatenated (all True: every NB201 cell is valid)."""
        return np.ones(N_EDGES * N_OPS, dtype=bool)

    # -------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_table", "_valid", "_test", "_params", "_flops", "_latency", "_time"):
            state.pop(key, None)
        state.pop("_code_to_index", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind_table()

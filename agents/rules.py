"""The VALP paper's rule-based agent (guidelines of §VII-B to §VII-D).

The agent diagnoses the current model from the VALP environment's observation and picks the
operator the paper's guidelines prescribe, as an (operator variant, component) action.

Situations (thresholds are constructor parameters, with the paper's defaults):

- output ``o`` is *stuck* when its loss slope ``> stuck`` (-1e-10), *steep* when ``< steep``
  (-2e-5), *moderate* in between;
- network ``n`` is *irrelevant* to output ``o`` when intervening on it costs ``o`` at most
  ``irrelevance`` (20%): module-intervention relevance ``<= 1 + irrelevance``.

Scaling the slope thresholds to the problem. The paper's slope is in loss units per training
step (``obs["loss_slope"]``, the default ``slopes="absolute"``), so the same thresholds mean
different things for a cross-entropy (~1 nat), a histogram MSE (~1e-3) and a negative ELBO (~30
nats per image), and for short and long trainings. Two constructor options adapt them:

- ``slopes="relative"`` reads ``obs["loss_slope_relative"]``, the slope divided by the loss level
  over the same window (fraction of the loss lost per step; the sampling output's level is its
  excess over the data's entropy), so one pair of thresholds means the same for every output;
- ``threshold_scale`` multiplies both slope thresholds (e.g. 10 for trainings ten times shorter
  per step than the ones the thresholds were set for).

At ``nasgym/VALP-v0``'s defaults (100 initial and 40 batches per step) the models are far from
converged and their losses really are falling: after a step, the median slope is about -3e-3
per step for ``class`` (-0.4% of its level per step, t-statistic about -6), -1e-5 for ``hist``
and -8e-3 for ``sample``. With the paper's values most outputs therefore read *steep* (gentle
``clone_network``), ``hist`` often *moderate*, and an output whose noisy slope estimate turns
non-negative reads *stuck*. That is the guidelines read faithfully for under-trained models, so
the defaults stay the paper's. On the default comparison (8 seeds x 30 steps) relative slopes
did not change the outcome (hypervolume 0.61 +- 0.15 against 0.59 +- 0.16 with the paper's
absolute slopes; random search 0.69 +- 0.15).

Rules (``o``: an output; "its networks": the networks whose output subgraph holds ``o``):

===========================================  ===============================  =========  ========
situation                                    operator                         target     priority
===========================================  ===============================  =========  ========
network irrelevant to every output it feeds  ``delete_network``               network    1 reduce
network irrelevant to some output it feeds   ``delete_connection``            network    1 reduce
output stuck                                 ``insert_network:aggressive``    its nets   2 aggr.
output stuck                                 ``add_layer:aggressive``         its nets   2 aggr.
output steep                                 ``clone_network:gentle``         its nets   3 gentle
output moderate                              ``add_layer:gentle``,            its nets   3 gentle
                                             ``extend_layer:gentle``
nothing applies                              a random gentle variant          random net 4
===========================================  ===============================  =========  ========

(``delete_connection`` on a network removes one of its incoming connections; the env picks which.)
Among the candidates of the highest non-empty priority the agent picks uniformly at random with
its own generator. Candidates are restricted to valid actions (``obs["action_mask"]``), and an
operator that failed to improve the model at the previous step (``info["accepted"]`` False, seen
through :meth:`RulesAgent.update`; with ``acceptance="always"``, a candidate not better on more
than half of the objectives) is excluded at the next step. When nothing applies: a random
valid gentle variant on a random network; if there is none, any valid action.

The decision itself is the pure function :func:`rule_candidates` of a :class:`Situation` (built
from an observation with :meth:`Situation.from_observation`) and the env's
:class:`~nasgym.envs.valp_actions.ActionTable`, so it can be tested on constructed situations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from agents import register_agent
from agents.base import Agent
from nasgym.envs.valp_actions import ActionTable

#: priority classes, highest first
PRIORITIES: tuple[str, ...] = ("reducer", "aggressive", "gentle", "fallback")
#: which observed slope the rules read: per step, or per step over the loss level
SLOPE_KINDS: tuple[str, ...] = ("absolute", "relative")


@dataclass(frozen=True)
class Thresholds:
    """The paper's guideline thresholds (see the module docstring)."""

    stuck: float = -1e-10
    steep: float = -2e-5
    irrelevance: float = 0.2

    def __post_init__(self) -> None:
        if not self.steep < self.stuck:
            raise ValueError(
                f"need steep < stuck (both slopes), got steep={self.steep}, stuck={self.stuck}"
            )
        if self.irrelevance < 0:
            raise ValueError(f"irrelevance must be >= 0, got {self.irrelevance}")


@dataclass(frozen=True)
class Situation:
    """What the rules read: per network slot and output, from the env's observation."""

    present: np.ndarray  # (N,) bool: network slot holds a network
    reaches: np.ndarray  # (N, O) bool: the network is in the output's subgraph
    relevance: np.ndarray  # (N, O) module-intervention relevance
    slopes: np.ndarray  # (O,) loss slope per output

    @classmethod
    def from_observation(cls, obs: Mapping[str, np.ndarray], slopes: str = "absolute") -> Situation:
        """Read a situation from a (single, unbatched) VALP observation; ``slopes`` picks
        ``obs["loss_slope"]`` (``"absolute"``) or ``obs["loss_slope_relative"]``."""
        if slopes not in SLOPE_KINDS:
            raise ValueError(f"slopes must be one of {SLOPE_KINDS}, got {slopes!r}")
        key = "loss_slope" if slopes == "absolute" else "loss_slope_relative"
        return cls(
            present=np.asarray(obs["network_present"]).astype(bool),
            reaches=np.asarray(obs["network_reaches"]).astype(bool),
            relevance=np.asarray(obs["relevance"], dtype=np.float64),
            slopes=np.asarray(obs[key], dtype=np.float64).reshape(-1),
        )


def _add(
    out: list[int],
    table: ActionTable,
    variant: str,
    slot: int,
    mask: np.ndarray,
    excluded: set[str],
) -> None:
    if variant not in table.variants or variant.split(":")[0] in excluded:
        return
    action = table.encode(variant, slot)
    if mask[action] and action not in out:
        out.append(action)


def rule_candidates(
    situation: Situation,
    table: ActionTable,
    mask: np.ndarray,
    thresholds: Thresholds = Thresholds(),  # noqa: B008 - immutable default
    excluded: set[str] | frozenset[str] = frozenset(),
) -> tuple[str, list[int]]:
    """The highest priority class with a candidate, and its candidate actions.

    ``mask`` is the env's action mask; ``excluded`` holds operator names (without variant) not to
    use now. Returns ``("fallback", [...])`` when no rule applies (gentle variants on networks,
    or every valid action when no gentle one is valid).
    """
    mask = np.asarray(mask).astype(bool).reshape(-1)
    ex = set(excluded)
    classes: dict[str, list[int]] = {name: [] for name in PRIORITIES}
    limit = 1.0 + thresholds.irrelevance
    for k in np.flatnonzero(situation.present):
        fed = situation.reaches[k]
        if not fed.any():
            continue
        irrelevant = fed & (situation.relevance[k] <= limit)
        if irrelevant[fed].all():
            _add(classes["reducer"], table, "delete_network", int(k), mask, ex)
        elif irrelevant.any():
            _add(classes["reducer"], table, "delete_connection", int(k), mask, ex)
    for o, slope in enumerate(situation.slopes):
        nets = [int(k) for k in np.flatnonzero(situation.present & situation.reaches[:, o])]
        if slope > thresholds.stuck:
            wanted, cls = ("insert_network:aggressive", "add_layer:aggressive"), "aggressive"
        elif slope < thresholds.steep:
            wanted, cls = ("clone_network:gentle",), "gentle"
        else:
            wanted, cls = ("add_layer:gentle", "extend_layer:gentle"), "gentle"
        for k in nets:
            for variant in wanted:
                _add(classes[cls], table, variant, k, mask, ex)
    for name in PRIORITIES[:-1]:
        if classes[name]:
            return name, classes[name]
    return "fallback", _fallback(table, mask, ex)


def _fallback(table: ActionTable, mask: np.ndarray, excluded: set[str]) -> list[int]:
    """Valid gentle variants on network slots (without excluded operators when possible)."""
    for skip in (excluded, set()):
        gentle = [
            table.encode(v, k)
            for v, (op, variant) in enumerate(table.pairs)
            if variant == "gentle" and op not in skip
            for k in range(table.max_networks)
            if mask[table.encode(v, k)]
        ]
        if gentle:
            return gentle
    valid = np.flatnonzero(mask)
    if len(valid) == 0:
        raise ValueError("no valid action: the action mask is all False")
    return [int(a) for a in valid if table.pairs[table.decode(a)[0]][0] not in excluded] or [
        int(a) for a in valid
    ]


@register_agent("rules")
class RulesAgent(Agent):
    """The VALP paper's guidelines: diagnose, then pick the prescribed operator (see module doc)."""

    def __init__(
        self,
        env: gym.Env,
        seed: int | None = None,
        *,
        stuck: float = -1e-10,
        steep: float = -2e-5,
        irrelevance: float = 0.2,
        slopes: str = "absolute",
        threshold_scale: float = 1.0,
        action_table: ActionTable | None = None,
    ) -> None:
        super().__init__(env, seed=seed)
        if slopes not in SLOPE_KINDS:
            raise ValueError(f"slopes must be one of {SLOPE_KINDS}, got {slopes!r}")
        if not threshold_scale > 0:
            raise ValueError(f"threshold_scale must be > 0, got {threshold_scale!r}")
        table = action_table if action_table is not None else _table_of(env)
        if table.n_actions != getattr(self.action_space, "n", table.n_actions):
            raise ValueError(
                f"action table has {table.n_actions} actions but the env's action space is "
                f"{self.action_space}; pass the env's own table"
            )
        self.table = table
        self.slopes = slopes
        self.thresholds = Thresholds(
            stuck=stuck * threshold_scale, steep=steep * threshold_scale, irrelevance=irrelevance
        )
        self.excluded: set[str] = set()
        #: priority class of the last decision (for logging)
        self.last_class: str = ""

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]:
        """The rule-prescribed action for ``observation`` (a batch gives an array of actions)."""
        mask = np.asarray(observation["action_mask"])
        if mask.ndim == 2:  # a batch from a vectorised env
            actions = [
                self._decide({k: np.asarray(v)[i] for k, v in observation.items()})
                for i in range(mask.shape[0])
            ]
            return np.array(actions, dtype=np.int64), state
        return self._decide(observation), state

    def _decide(self, observation: Mapping[str, Any]) -> int:
        situation = Situation.from_observation(observation, self.slopes)
        cls, candidates = rule_candidates(
            situation, self.table, observation["action_mask"], self.thresholds, self.excluded
        )
        self.last_class = cls
        self.excluded = set()  # an exclusion lasts one step
        return int(candidates[int(self.rng.integers(len(candidates)))])

    def update(
        self,
        observation: Any,
        action: Any,
        reward: float,
        next_observation: Any,
        terminated: bool,
        truncated: bool,
        info: dict[str, Any],
    ) -> None:
        """Remember an operator that failed to improve the model, to skip it next step.

        It failed when the env rejected its candidate (``info["accepted"]`` False) or, where the
        env keeps every candidate (``acceptance="always"``), when the candidate is not better
        than the model it came from on more than half of the objectives (the paper's test).
        """
        failed = not info.get("accepted", True) or not _improved(observation, info, self.table)
        self.excluded = {str(info.get("operator", "")).split(":")[0]} if failed else set()

    def reset(self) -> None:
        """Forget exclusions (a new episode)."""
        self.excluded = set()


def _improved(observation: Any, info: Mapping[str, Any], table: ActionTable) -> bool:
    """Whether ``info["objectives"]`` beats ``observation["objectives"]`` (the model the step
    started from) on more than half of the outputs; True when either is missing."""
    before = np.asarray(observation.get("objectives", []), dtype=np.float32).reshape(-1)
    after = info.get("objectives")
    if not isinstance(after, Mapping) or before.shape != (len(table.outputs),):
        return True
    # compared in float32, the observation's precision, so equal objectives tie
    better = sum(np.float32(after[n]) < b for n, b in zip(table.outputs, before, strict=True))
    return better > len(table.outputs) / 2


def _table_of(env: gym.Env) -> ActionTable:
    table = getattr(getattr(env, "unwrapped", env), "action_table", None)
    if not isinstance(table, ActionTable):
        raise ValueError(
            "the rules agent needs a VALP environment (env.unwrapped.action_table); "
            f"got {env!r}. Pass action_table=... for wrapped or vectorised envs"
        )
    return table


__all__ = ["PRIORITIES", "SLOPE_KINDS", "RulesAgent", "Situation", "Thresholds", "rule_candidates"]

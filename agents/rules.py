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
output broken (only with ``mend``, below)    ``delete_network``               see below  0 mend
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

Mending a broken output (``mend``, off by default; not one of the paper's rules). At the paper's
budget some steps leave an output far worse than before, typically the sampler, whose Fréchet
distance can jump several-fold while the step is still accepted because the other two
objectives improved; training alone never does this (``benchmarks/broken_outputs.py`` on the
stored runs, and the README's *Mending a broken output*; what mends it:
``benchmarks/broken_sampler.py``). With ``mend=f`` the agent keeps, per output, the lowest
objective it has observed in the episode (``obs["objectives"]``), calls an output *broken* when
its objective is above ``f`` times that, and then deletes the network of highest
module-intervention relevance for it among those ``delete_network`` may delete (the first slot
on a tie), before any other rule. The paper's reducer does the opposite: it deletes networks of
*low* relevance.
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

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import gymnasium as gym
import numpy as np

from agents import register_agent
from agents.base import Agent
from nasgym.envs.valp_actions import ActionTable

#: priority classes, highest first ("mender" only with ``mend``, see :class:`RulesAgent`)
PRIORITIES: tuple[str, ...] = ("mender", "reducer", "aggressive", "gentle", "fallback")
#: which observed slope the rules read: the lineage trend (unit-free projected gain with its
#: t-statistic), the slope per step, or the slope per step over the loss level
SLOPE_KINDS: tuple[str, ...] = ("trend", "absolute", "relative")
#: what an output in each regime calls for: the paper's §V-C mapping, and nasgym 0.1's
MAPPINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "paper": {
        "stuck": ("insert_network:aggressive", "add_layer:aggressive"),
        "steep": ("clone_network:gentle",),
        "moderate": ("add_connection:gentle",),
    },
    "v0": {
        "stuck": ("insert_network:aggressive", "add_layer:aggressive"),
        "steep": ("clone_network:gentle",),
        "moderate": ("add_layer:gentle", "extend_layer:gentle"),
    },
}


@dataclass(frozen=True)
class Thresholds:
    """The paper's guideline thresholds (see the module docstring)."""

    stuck: float | tuple[float, ...] = -1e-10
    steep: float | tuple[float, ...] = -2e-5
    irrelevance: float = 0.2
    #: with a t-statistic in the situation, "stuck" also needs ``t > -significance``
    significance: float = 2.0

    def __post_init__(self) -> None:
        if not np.all(np.asarray(self.steep) < np.asarray(self.stuck)):
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
    slopes: np.ndarray  # (O,) loss slope per output (negative: falling)
    t: np.ndarray | None = None  # (O,) t-statistic of the slope, when known
    broken: np.ndarray | None = None  # (O,) bool: the output is broken (see ``RulesAgent``)

    @classmethod
    def from_observation(cls, obs: Mapping[str, np.ndarray], slopes: str = "absolute") -> Situation:
        """Read a situation from a (single, unbatched) VALP observation; ``slopes`` picks
        ``obs["loss_slope"]`` (``"absolute"``) or ``obs["loss_slope_relative"]``."""
        if slopes not in SLOPE_KINDS:
            raise ValueError(f"slopes must be one of {SLOPE_KINDS}, got {slopes!r}")
        t = None
        if slopes == "trend":  # the projected gain, negated so that falling is negative
            values = -np.asarray(obs["loss_gain"], dtype=np.float64).reshape(-1)
            t = np.asarray(obs["loss_gain_t"], dtype=np.float64).reshape(-1)
        else:
            key = "loss_slope" if slopes == "absolute" else "loss_slope_relative"
            values = np.asarray(obs[key], dtype=np.float64).reshape(-1)
        return cls(
            present=np.asarray(obs["network_present"]).astype(bool),
            reaches=np.asarray(obs["network_reaches"]).astype(bool),
            relevance=np.asarray(obs["relevance"], dtype=np.float64),
            slopes=values,
            t=t,
        )

    def regimes(self, thresholds: Thresholds) -> list[str]:
        """Per output: ``"stuck"`` (slope above ``stuck`` and, with a t-statistic, not
        significantly negative), ``"steep"`` (below ``steep``) or ``"moderate"``."""
        n = len(self.slopes)
        stuck = np.broadcast_to(np.asarray(thresholds.stuck, dtype=np.float64), (n,))
        steep = np.broadcast_to(np.asarray(thresholds.steep, dtype=np.float64), (n,))
        out = []
        for o, slope in enumerate(self.slopes):
            flat = self.t is None or self.t[o] > -thresholds.significance
            if slope > stuck[o] and flat:
                out.append("stuck")
            elif slope < steep[o]:
                out.append("steep")
            else:
                out.append("moderate")
        return out


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
    mapping: str = "v0",
    rng: np.random.Generator | None = None,
) -> tuple[str, list[int]]:
    """The highest priority class with a candidate, and its candidate actions.

    ``mask`` is the env's action mask; ``excluded`` holds operator names (without variant) not to
    use now; ``mapping`` names the regime-to-operator table of :data:`MAPPINGS`. Returns
    ``("fallback", [...])`` when no rule applies: with ``rng``, the valid gentle variants on one
    network drawn at random (the paper's fallback), else those on every network; every valid
    action when no gentle one is valid.
    """
    mask = np.asarray(mask).astype(bool).reshape(-1)
    ex = set(excluded)
    classes: dict[str, list[int]] = {name: [] for name in PRIORITIES}
    for o in np.flatnonzero(situation.broken if situation.broken is not None else []):
        _mend(classes["mender"], situation, table, int(o), mask, ex)
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
    table_of = MAPPINGS[mapping]
    for o, regime in enumerate(situation.regimes(thresholds)):
        nets = [int(k) for k in np.flatnonzero(situation.present & situation.reaches[:, o])]
        wanted = table_of[regime]
        cls = "aggressive" if regime == "stuck" else "gentle"
        for k in nets:
            for variant in wanted:
                _add(classes[cls], table, variant, k, mask, ex)
    for name in PRIORITIES[:-1]:
        if classes[name]:
            return name, classes[name]
    return "fallback", _fallback(table, mask, ex, rng)


def _mend(
    out: list[int],
    situation: Situation,
    table: ActionTable,
    o: int,
    mask: np.ndarray,
    excluded: set[str],
) -> None:
    """Add the deletion of the deletable network most relevant to output ``o`` (module
    intervention; the first slot on a tie), if ``delete_network`` is valid and not excluded."""
    if "delete_network" not in table.variants or "delete_network" in excluded:
        return
    slots = [
        int(k)
        for k in np.flatnonzero(situation.present)
        if mask[table.encode("delete_network", int(k))]
    ]
    if slots:
        top = max(slots, key=lambda k: (situation.relevance[k, o], -k))
        _add(out, table, "delete_network", top, mask, excluded)


def _fallback(
    table: ActionTable,
    mask: np.ndarray,
    excluded: set[str],
    rng: np.random.Generator | None = None,
) -> list[int]:
    """Valid gentle variants on network slots (without excluded operators when possible); with
    ``rng``, only those on one network drawn uniformly among the networks that have one."""
    for skip in (excluded, set()):
        gentle = [
            table.encode(v, k)
            for v, (op, variant) in enumerate(table.pairs)
            if variant == "gentle" and op not in skip
            for k in range(table.max_networks)
            if mask[table.encode(v, k)]
        ]
        if gentle and rng is not None:
            slots = sorted({table.decode(a)[1] for a in gentle})
            slot = slots[int(rng.integers(len(slots)))]
            return [a for a in gentle if table.decode(a)[1] == slot]
        if gentle:
            return gentle
    valid = np.flatnonzero(mask)
    if len(valid) == 0:
        raise ValueError("no valid action: the action mask is all False")
    return [int(a) for a in valid if table.pairs[table.decode(a)[0]][0] not in excluded] or [
        int(a) for a in valid
    ]


#: the default thresholds of the trend slopes (``slopes="trend"``, negated gains): stuck below a
#: projected 0.2 % of the excess loss per env step (and not significantly falling), steep above 2 %
TREND_THRESHOLDS = {"stuck": -0.002, "steep": -0.02}
#: the paper's absolute thresholds (loss units per training step), by name
PAPER_THRESHOLDS = {"stuck": -1e-10, "steep": -2e-5}
#: agent behaviours: the paper's rules read literally, and nasgym 0.1's
MODES: tuple[str, ...] = ("paper", "v0")


def load_thresholds(
    source: str | os.PathLike | Mapping[str, Any], outputs: tuple[str, ...]
) -> dict[str, Any]:
    """Slope thresholds from a name (``"paper"``: the paper's absolute values on
    ``obs["loss_slope"]``; ``"trend"``: :data:`TREND_THRESHOLDS`; ``"mnist"``: calibrated on
    MNIST, shipped, see :func:`nasgym.diagnostics.calibrate.shipped_thresholds`), a JSON file
    written by ``nasgym calibrate``, or such a mapping. Returns ``{"slopes", "stuck", "steep"}`` with
    per-output tuples where the source is per output."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str) and source in ("paper", "trend"):
        values = PAPER_THRESHOLDS if source == "paper" else TREND_THRESHOLDS
        return {"slopes": "absolute" if source == "paper" else "trend", **values}
    if isinstance(source, str):
        from nasgym.diagnostics.calibrate import read_thresholds, shipped_thresholds

        shipped = shipped_thresholds()
        source = read_thresholds(shipped.get(source, source))
    per_output = source.get("outputs")
    if not isinstance(per_output, Mapping) or sorted(per_output) != sorted(outputs):
        raise ValueError(
            f"thresholds must give 'outputs' for exactly {list(outputs)}, got "
            f"{sorted(per_output) if isinstance(per_output, Mapping) else per_output!r}"
        )
    return {  # gains (fraction lost, positive while falling) negated into slopes
        "slopes": str(source.get("slopes", "trend")),
        "stuck": tuple(-float(per_output[o]["stuck_gain"]) for o in outputs),
        "steep": tuple(-float(per_output[o]["steep_gain"]) for o in outputs),
    }


def regime_shares(
    records: Any, source: str | os.PathLike | Mapping[str, Any], significance: float = 2.0
) -> dict[str, dict[str, Any]]:
    """How thresholds ``source`` (a name, a ``nasgym calibrate`` file or mapping; trend slopes)
    read recorded steps: per output, the share of step records (``info["loss_gain"]`` and
    ``info["loss_gain_t"]``, as the bench stores them) that :meth:`Situation.regimes` calls
    ``stuck``, ``moderate`` and ``steep``, and their count ``n``. Thresholds calibrated on the
    same kind of runs read about 20 / 60 / 20 %; on other data, or at another budget, they can
    read most states as one regime, and the rules then prescribe one operator family."""
    from nasgym.diagnostics.calibrate import trends_from_records

    trends = trends_from_records(records)
    outputs = tuple(sorted(trends))
    if not outputs:
        raise ValueError("no step records with loss_gain and loss_gain_t to read")
    chosen = load_thresholds(source, outputs)
    if chosen["slopes"] != "trend":
        raise ValueError(f"thresholds {source!r} read {chosen['slopes']} slopes, not trends")
    stuck = np.broadcast_to(np.asarray(chosen["stuck"], dtype=np.float64), (len(outputs),))
    steep = np.broadcast_to(np.asarray(chosen["steep"], dtype=np.float64), (len(outputs),))
    out: dict[str, dict[str, Any]] = {}
    for k, name in enumerate(outputs):
        one = Thresholds(stuck=float(stuck[k]), steep=float(steep[k]), significance=significance)
        gains, ts = np.array(trends[name]).T
        regimes = Situation(
            present=np.zeros(0, bool),
            reaches=np.zeros((0, len(gains)), bool),
            relevance=np.zeros((0, len(gains))),
            slopes=-gains,
            t=ts,
        ).regimes(one)  # every record as one output of the same thresholds
        n = len(regimes)
        out[name] = {**{r: regimes.count(r) / n for r in ("stuck", "moderate", "steep")}, "n": n}
    return out


@register_agent("rules")
class RulesAgent(Agent):
    """The VALP paper's guidelines: diagnose, then pick the prescribed operator (see module doc)."""

    def __init__(
        self,
        env: gym.Env,
        seed: int | None = None,
        *,
        mode: str = "paper",
        thresholds: str | Mapping[str, Any] | None = None,
        stuck: float | None = None,
        steep: float | None = None,
        irrelevance: float = 0.2,
        slopes: str | None = None,
        threshold_scale: float = 1.0,
        mend: float | None = None,
        action_table: ActionTable | None = None,
    ) -> None:
        super().__init__(env, seed=seed)
        if mend is not None and not mend > 1:
            raise ValueError(f"mend must be a factor > 1 (or None), got {mend!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if not threshold_scale > 0:
            raise ValueError(f"threshold_scale must be > 0, got {threshold_scale!r}")
        table = action_table if action_table is not None else _table_of(env)
        if table.n_actions != getattr(self.action_space, "n", table.n_actions):
            raise ValueError(
                f"action table has {table.n_actions} actions but the env's action space is "
                f"{self.action_space}; pass the env's own table"
            )
        self.table, self.mode = table, mode
        if thresholds is None:
            thresholds = "mnist" if mode == "paper" and slopes in (None, "trend") else "paper"
        chosen = load_thresholds(thresholds, tuple(table.outputs))
        self.slopes = slopes if slopes is not None else chosen["slopes"]
        if self.slopes not in SLOPE_KINDS:
            raise ValueError(f"slopes must be one of {SLOPE_KINDS}, got {self.slopes!r}")

        def scaled(given: float | None, default: Any) -> Any:
            value = np.asarray(default if given is None else given, dtype=np.float64)
            value = value * threshold_scale
            return float(value) if value.ndim == 0 else tuple(float(v) for v in value)

        self.thresholds = Thresholds(
            stuck=scaled(stuck, chosen["stuck"]),
            steep=scaled(steep, chosen["steep"]),
            irrelevance=irrelevance,
        )
        #: an output is broken when its objective exceeds ``mend`` x its episode best
        self.mend = None if mend is None else float(mend)
        #: per env of a batch (0 for one observation), per output: the lowest objective seen
        #: in its episode
        self._best: dict[int, np.ndarray] = {}
        self.excluded: set[str] = set()
        self._excluded_for = ""  # the descriptor the exclusions were made on (mode "paper")
        #: priority class of the last decision (for logging)
        self.last_class: str = ""

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]:
        """The rule-prescribed action for ``observation`` (a batch gives an array of actions;
        ``episode_start``, SB3's per-env flags, tells ``mend`` where an env's episode began)."""
        mask = np.asarray(observation["action_mask"])
        starts = np.zeros(max(1, mask.shape[0] if mask.ndim == 2 else 1), dtype=bool)
        if episode_start is not None:
            starts[:] = np.asarray(episode_start, dtype=bool).reshape(-1)
        for i in np.flatnonzero(starts):
            self._best.pop(int(i), None)
        if mask.ndim == 2:  # a batch from a vectorised env
            actions = [
                self._decide({k: np.asarray(v)[i] for k, v in observation.items()}, i)
                for i in range(mask.shape[0])
            ]
            return np.array(actions, dtype=np.int64), state
        return self._decide(observation), state

    def _decide(self, observation: Mapping[str, Any], index: int = 0) -> int:
        situation = Situation.from_observation(observation, self.slopes)
        if self.mend is not None:
            situation = replace(situation, broken=self._broken(observation, index))
        paper = self.mode == "paper"
        cls, candidates = rule_candidates(
            situation,
            self.table,
            observation["action_mask"],
            self.thresholds,
            self.excluded,
            mapping="paper" if paper else "v0",
            rng=self.rng if paper else None,
        )
        self.last_class = cls
        if not paper:
            self.excluded = set()  # nasgym 0.1: an exclusion lasts one step
        return int(candidates[int(self.rng.integers(len(candidates)))])

    def _broken(self, observation: Mapping[str, Any], index: int = 0) -> np.ndarray:
        """Per output: its objective (``obs["objectives"]``, lower is better) is above ``mend``
        times the lowest it has been in the observations of this episode (of env ``index``)."""
        now = np.asarray(observation["objectives"], dtype=np.float64).reshape(-1)
        best = self._best.get(index)
        best = now.copy() if best is None else np.fmin(best, now)
        self._best[index] = best
        return now > self.mend * best

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
        """Remember an operator that failed to improve the model, to skip it.

        It failed when the env rejected its candidate (``info["accepted"]`` False) or, where the
        env keeps every candidate (``acceptance="always"``), when the candidate is not better
        than the model it came from on more than half of the objectives (the paper's test).
        In mode ``"paper"`` a failed operator stays excluded until the model's descriptor
        changes (``info["current_descriptor"]``); in mode ``"v0"`` for the next step only.
        """
        failed = not info.get("accepted", True) or not _improved(observation, info, self.table)
        name = str(info.get("operator", "")).split(":")[0]
        if self.mode == "v0":
            self.excluded = {name} if failed else set()
            return
        self.excluded, self._excluded_for = exclusions_for(self.excluded, self._excluded_for, info)
        if failed:
            self.excluded.add(name)

    def reset(self) -> None:
        """Forget exclusions and the episode's best objectives (a new episode)."""
        self.excluded, self._excluded_for = set(), ""
        self._best = {}


def exclusions_for(excluded: set, made_on: str, info: Mapping[str, Any]) -> tuple[set, str]:
    """The exclusions that still hold after a step, and the architecture they hold for: the
    same ones while the model keeps the architecture they were made on (``made_on``, a
    descriptor), none once ``info["current_descriptor"]`` names another."""
    current = str(info.get("current_descriptor", ""))
    return (excluded, made_on) if current == made_on else (set(), current)


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


def single_mask(observation: Mapping[str, Any], table: ActionTable, agent: str) -> np.ndarray:
    """The bool action mask of one observation; ValueError naming ``agent`` for a batch."""
    mask = np.asarray(observation["action_mask"]).astype(bool).reshape(-1)
    if mask.shape != (table.n_actions,):
        raise ValueError(
            f"{agent} agent: expected one observation with a {table.n_actions}-action "
            f"mask, got mask shape {mask.shape} (batches are not supported)"
        )
    return mask


def _table_of(env: gym.Env) -> ActionTable:
    table = getattr(getattr(env, "unwrapped", env), "action_table", None)
    if not isinstance(table, ActionTable):
        raise ValueError(
            "the rules agent needs a VALP environment (env.unwrapped.action_table); "
            f"got {env!r}. Pass action_table=... for wrapped or vectorised envs"
        )
    return table


__all__ = [
    "MAPPINGS",
    "MODES",
    "PRIORITIES",
    "SLOPE_KINDS",
    "RulesAgent",
    "Situation",
    "Thresholds",
    "exclusions_for",
    "load_thresholds",
    "regime_shares",
    "rule_candidates",
    "single_mask",
]

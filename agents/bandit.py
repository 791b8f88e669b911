"""Adaptive operator selection online: the fitness-rate-rank bandit FRR-MAB on VALP-v0.

Li, Fialho, Kwong and Zhang, "Adaptive Operator Selection With Bandits for a Multiobjective
Evolutionary Algorithm Based on Decomposition", IEEE TEVC 18(1), 2014. Chosen over UCB1
because operator usefulness drifts within a search (extenders pay early, reducers late) and
step rewards change scale from output to output and data set to data set: FRR-MAB credits
each operator with the *rank-decayed share* of the improvements it made within a sliding
window of recent applications, which follows drift and ignores scale. UCB1 averages every
reward since the start, so it forgets nothing and is scale-dependent.

Each step:

1. **Target** as the rules agent picks it (by default its paper mode: the §V-C mapping with
   the MNIST-calibrated thresholds; ``mode``, ``thresholds``, ``slopes`` and
   ``threshold_scale`` are passed to :class:`~agents.rules.RulesAgent`):
   :func:`agents.rules.rule_candidates` on the observation's :class:`~agents.rules.Situation`
   gives the candidate actions of the highest applying priority (the rules' exclusion of
   failed operators is left out: learning what fails is the bandit's job); one is drawn
   uniformly and its component slot is the target.
2. **Operator**: among the operator variants valid on that slot (the action mask), the bandit
   takes an arm not applied within the window if there is one (uniformly), else the arm
   maximising ``FRR_i + scaling * sqrt(2 ln(sum_j n_j) / n_i)``, ``n_i`` its applications in
   the window, ``FRR_i = decay**rank_i * R_i / sum_j decay**rank_j * R_j``, ``R_i`` the sum of
   its credits in the window, ``rank_i`` its rank by ``R_i`` (0 = best).
3. **Credit** (in :meth:`update`): the improvement rate is the step reward clipped at 0 (the
   paper credits only improvements; VALP-v0's default reward is the mean over outputs of
   ``log(previous / new objective)``, positive when the model improved).

Defaults (``window=20``, ``scaling=0.5``, ``decay=1.0``) fit 60-step searches over ~20
variants; they were set a priori, not tuned on any evaluation. Everything is per episode
(:meth:`reset` forgets), and all randomness comes from the agent's seeded generator.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from agents import register_agent
from agents.base import Agent
from agents.rules import RulesAgent, Situation, rule_candidates, single_mask


class FRRMAB:
    """The FRR-MAB credit assignment and selection over ``n_arms`` arms."""

    def __init__(self, n_arms: int, window: int = 20, scaling: float = 0.5, decay: float = 1.0):
        if n_arms < 1 or window < 1:
            raise ValueError(f"need n_arms >= 1 and window >= 1, got {n_arms}, {window}")
        if scaling < 0 or not 0 < decay <= 1:
            raise ValueError(f"need scaling >= 0 and 0 < decay <= 1, got {scaling}, {decay}")
        self.n_arms, self.scaling, self.decay = n_arms, scaling, decay
        self.window: deque[tuple[int, float]] = deque(maxlen=window)

    def counts_and_rewards(self) -> tuple[np.ndarray, np.ndarray]:
        """Applications ``n_i`` and summed credit ``R_i`` of each arm within the window."""
        counts, rewards = np.zeros(self.n_arms), np.zeros(self.n_arms)
        for arm, credit in self.window:
            counts[arm] += 1
            rewards[arm] += credit
        return counts, rewards

    def frr(self) -> np.ndarray:
        """The fitness-rate-rank of every arm (zeros while nothing improved)."""
        _, rewards = self.counts_and_rewards()
        ranks = np.empty(self.n_arms)
        ranks[np.argsort(-rewards, kind="stable")] = np.arange(self.n_arms)
        decayed = self.decay**ranks * rewards
        total = decayed.sum()
        return decayed / total if total > 0 else np.zeros(self.n_arms)

    def select(self, allowed: np.ndarray, rng: np.random.Generator) -> int:
        """The arm to apply among the ``allowed`` (bool per arm)."""
        arms = np.flatnonzero(allowed)
        if len(arms) == 0:
            raise ValueError("FRR-MAB: no allowed arm")
        counts, _ = self.counts_and_rewards()
        unused = arms[counts[arms] == 0]
        if len(unused):
            return int(unused[rng.integers(len(unused))])
        bonus = self.scaling * np.sqrt(2 * np.log(counts.sum()) / counts[arms])
        score = self.frr()[arms] + bonus
        best = arms[np.flatnonzero(score == score.max())]
        return int(best[rng.integers(len(best))])

    def credit(self, arm: int, value: float) -> None:
        """Record an application of ``arm`` with improvement rate ``value`` (>= 0)."""
        self.window.append((int(arm), max(float(value), 0.0)))


@register_agent("bandit")
class BanditAgent(Agent):
    """FRR-MAB adaptive operator selection on the rules' target (VALP envs; see module doc)."""

    def __init__(
        self,
        env: gym.Env,
        seed: int | None = None,
        *,
        window: int = 20,
        scaling: float = 0.5,
        decay: float = 1.0,
        mode: str = "paper",
        thresholds: str | Mapping[str, Any] | None = None,
        slopes: str | None = None,
        threshold_scale: float = 1.0,
    ) -> None:
        super().__init__(env, seed=seed)
        # the target comes from the rules agent's own reading of the diagnostics (same mode,
        # thresholds and mapping as ``make_agent("rules", env, ...)`` with these arguments)
        self.rules = RulesAgent(
            env,
            seed=seed,
            mode=mode,
            thresholds=thresholds,
            slopes=slopes,
            threshold_scale=threshold_scale,
        )
        self.table = self.rules.table
        self.params = {"window": window, "scaling": scaling, "decay": decay}
        self.bandit = FRRMAB(len(self.table.pairs), **self.params)

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]:
        """The bandit's operator variant on the rules' target component."""
        mask = single_mask(observation, self.table, "bandit")
        situation = Situation.from_observation(observation, self.rules.slopes)
        paper = self.rules.mode == "paper"
        _, candidates = rule_candidates(
            situation,
            self.table,
            mask,
            self.rules.thresholds,
            mapping="paper" if paper else "v0",
            rng=self.rng if paper else None,
        )
        _, slot = self.table.decode(candidates[int(self.rng.integers(len(candidates)))])
        allowed = np.array([mask[self.table.encode(v, slot)] for v in range(len(self.table.pairs))])
        return self.table.encode(self.bandit.select(allowed, self.rng), slot), state

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
        """Credit the applied operator variant with the step's improvement (reward >= 0)."""
        variant, _ = self.table.decode(int(np.asarray(action).reshape(())))
        self.bandit.credit(variant, float(reward))

    def reset(self) -> None:
        """Forget the window (a new episode)."""
        self.bandit = FRRMAB(len(self.table.pairs), **self.params)


__all__ = ["FRRMAB", "BanditAgent"]

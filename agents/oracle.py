"""A look-ahead oracle: the headroom of operator choice, not a search strategy.

It peeks: before each step it tries ``tries`` valid actions on copies of the env (``fork()``),
each copy stepping on the same training batches the real step will use, and takes the action
whose outcome adds the most hypervolume to the run's points (ties: the larger reward). No agent
that acts from the observation can see this, so what the oracle reaches gauges what choosing
among ``tries`` operators one step at a time can earn in that env (greedily, so not a strict
bound); where it does not beat blind choice, no learned agent can be expected to.

Part of what it finds is luck: among ``tries`` outcomes, the best has also drawn the kindest
training noise. ``vary="training"`` measures that part alone: it draws one valid action at
random, as the ``random`` agent does, tries it under ``tries`` reseeded copies (``fork(seed)``:
other batch orders, other choices inside the target), and makes the best copy's draw the real
one (``reseed``). What the default (``vary="action"``) reaches beyond it is the worth of choosing
the operator, which an agent reading the state could learn; what ``vary="training"`` reaches
beyond random is the worth of picking the luckiest of ``tries`` trainings, which it could not.
"""

from __future__ import annotations

import inspect
from typing import Any

import gymnasium as gym
import numpy as np

from agents import register_agent
from agents.action_layout import ActionLayout
from agents.base import Agent
from nasgym import indicators as ind


@register_agent("oracle")
class LookaheadOracle(Agent):
    """Greedy one-step look-ahead over ``tries`` valid actions drawn from the agent's generator.

    Needs an env whose unwrapped core has ``fork()`` (an independent copy in the current state,
    generators included, as :class:`nasgym.envs.valp.VALPEnv` has) and an ``objective_spec``
    (the hypervolume box); each step costs ``tries`` extra env steps. ``tries=None`` tries every
    valid action. ``vary="training"`` tries one random action under ``tries`` training draws
    instead (the env needs ``fork(seed)`` and ``reseed(seed)``; ``tries=None`` is refused).
    """

    def __init__(
        self,
        env: gym.Env,
        seed: int | None = None,
        tries: int | None = 4,
        vary: str = "action",
    ) -> None:
        super().__init__(env, seed=seed)
        self.core = env.unwrapped
        if not callable(getattr(self.core, "fork", None)):
            raise TypeError(
                f"the oracle needs an env with fork(); {type(self.core).__name__} has none"
            )
        spec = getattr(self.core, "objective_spec", None)
        if not spec:
            raise TypeError(
                f"the oracle needs an env with an objective_spec; {type(self.core).__name__} has none"
            )
        if tries is not None and int(tries) < 1:
            raise ValueError(f"tries must be a positive int or None, got {tries!r}")
        if vary not in ("action", "training"):
            raise ValueError(f"vary must be 'action' or 'training', got {vary!r}")
        if vary == "training":
            if tries is None:
                raise ValueError("vary='training' needs a number of tries, got None")
            if not callable(getattr(self.core, "reseed", None)):
                raise TypeError(
                    f"vary='training' needs an env with reseed(); {type(self.core).__name__} "
                    "has none"
                )
        self.tries, self.vary = (None if tries is None else int(tries)), vary
        # copies that do not score on the env's test rows, where the env can make them
        self._fork_kwargs = (
            {"test": False} if "test" in inspect.signature(self.core.fork).parameters else {}
        )
        self.names = list(spec)
        self.bounds = [(float(a), float(b)) for a, b in spec.values()]
        self.layout = ActionLayout(env.action_space)
        self.points: list[list[float]] = []

    def _value(self, objectives: dict[str, float]) -> float:
        """The hypervolume of the run's points with ``objectives`` added."""
        return ind.hypervolume([*self.points, [objectives[n] for n in self.names]], self.bounds)

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]:
        """The tried action with the best outcome (``deterministic`` is ignored)."""
        valid = np.flatnonzero(self.layout.mask(observation)[0])
        if self.vary == "training":
            return self._luckiest(int(self.rng.choice(valid))), state
        if self.tries is not None and self.tries < len(valid):
            valid = self.rng.choice(valid, size=self.tries, replace=False)
        best, best_key = int(valid[0]), (-np.inf, -np.inf)
        for action in valid:
            _, reward, _, _, info = self.core.fork(**self._fork_kwargs).step(int(action))
            key = (self._value(info["objectives"]), float(reward))
            if key > best_key:
                best, best_key = int(action), key
        return self.layout.to_action(np.array([best])), state

    def _luckiest(self, action: int) -> Any:
        """``action`` tried under ``tries`` training draws; the env is reseeded with the best
        draw's seed, so the real step gives that outcome."""
        seeds = self.rng.integers(2**31, size=self.tries)
        best, best_key = int(seeds[0]), (-np.inf, -np.inf)
        for s in seeds:
            _, reward, _, _, info = self.core.fork(int(s), **self._fork_kwargs).step(action)
            key = (self._value(info["objectives"]), float(reward))
            if key > best_key:
                best, best_key = int(s), key
        self.core.reseed(best)
        return self.layout.to_action(np.array([action]))

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
        """Add the step's evaluated model to the run's points."""
        self.points.append([float(info["objectives"][n]) for n in self.names])

    def reset(self) -> None:
        """Forget the run's points (a new episode)."""
        self.points = []

"""Rewards: named scalarisations of accuracy, parameter count and latency.

``make_reward(name, **params)`` returns a callable
``reward(acc, params, latency=None, *, stage=None) -> float`` with ``acc`` a fraction in
[0, 1], ``params`` in millions and ``latency`` in milliseconds:

- ``accuracy``: ``R = acc``.
- ``eq9`` (TND-NAS Eq. 9): ``R = acc * (params / P) ** beta``. With ``beta < 0`` a smaller
  cell earns more at equal accuracy.
- ``eq10`` (TND-NAS Eq. 10): ``R = acc * (a * (params / P) ** beta + c * (latency / L) ** gamma)``
  with ``c = 1 - a`` (``a`` in [0, 1]; passing ``c`` too is checked against ``a + c = 1``).

Stages: any of ``P``, ``L``, ``beta``, ``gamma``, ``a`` may be a list with one value per stage
(all lists of one reward must have the same length; scalars apply to every stage). The value
used is picked by the call's ``stage`` argument, or by the reward's ``stage`` attribute
(default 0, set by ``make_reward(..., stage=k)`` or assigned later) when the call gives none.

    >>> r = make_reward("eq9", P=0.5, beta=[-0.05, -0.1])
    >>> round(r(0.9, 1.0), 4), round(r(0.9, 1.0, stage=1), 4)
    (0.8693, 0.8397)

Add your own with ``REWARDS.register(name, factory)`` where ``factory(**params)`` returns a
:class:`Reward`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from nasgym.registry import Registry


class Reward:
    """Base class of rewards: validates inputs and resolves staged parameters."""

    #: parameter names that may be given per stage
    staged: tuple[str, ...] = ()

    def __init__(self, stage: int = 0, **params: float | Sequence[float]) -> None:
        lengths = {len(v) for v in params.values() if isinstance(v, list | tuple)}
        if len(lengths) > 1:
            raise ValueError(
                f"staged reward parameters must all have the same number of stages, got {params}"
            )
        self.n_stages = lengths.pop() if lengths else 1
        if self.n_stages == 0:
            raise ValueError(f"staged reward parameters must not be empty lists: {params}")
        self._params = {k: list(v) if isinstance(v, list | tuple) else v for k, v in params.items()}
        for s in range(self.n_stages):
            self._check(**self.params_at(s))
        self.stage = stage
        self.params_at(stage)  # validates the default stage

    def params_at(self, stage: int) -> dict[str, float]:
        """The parameter values used at ``stage``."""
        if not isinstance(stage, int | float) or int(stage) != stage:
            raise ValueError(f"stage must be an integer, got {stage!r}")
        stage = int(stage)
        if self.n_stages > 1 and not 0 <= stage < self.n_stages:
            raise ValueError(f"stage {stage} out of range: this reward has {self.n_stages} stages")
        out = {}
        for k, v in self._params.items():
            value = v[stage] if isinstance(v, list) else v
            try:
                out[k] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"reward parameter {k} must be a number, got {value!r}") from None
        return out

    def _check(self, **params: float) -> None:
        """Raise ValueError naming bad parameter values."""

    def __call__(
        self, acc: float, params: float, latency: float | None = None, *, stage: int | None = None
    ) -> float:
        """Reward of a cell with accuracy ``acc`` (fraction), ``params`` (M) and ``latency`` (ms)."""
        acc = float(acc)
        if not (0.0 <= acc <= 1.0) or math.isnan(acc):
            raise ValueError(
                f"acc must be a fraction in [0, 1], got {acc!r} (divide percentages by 100)"
            )
        return self.compute(
            acc, float(params), latency, self.params_at(self.stage if stage is None else stage)
        )

    def compute(
        self, acc: float, params: float, latency: float | None, p: dict[str, float]
    ) -> float:
        """The reward given validated inputs and the stage's parameters ``p``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


class AccuracyReward(Reward):
    """R = acc."""

    def compute(
        self, acc: float, params: float, latency: float | None, p: dict[str, float]
    ) -> float:
        return acc


class Eq9Reward(Reward):
    """TND-NAS Eq. 9: R = acc * (params / P) ** beta."""

    staged = ("P", "beta")

    def __init__(
        self,
        P: float | Sequence[float] = 1.0,
        beta: float | Sequence[float] = -0.07,
        stage: int = 0,
    ) -> None:
        super().__init__(stage=stage, P=P, beta=beta)

    def _check(self, P: float, beta: float) -> None:
        _positive("P", P)
        _finite("beta", beta)

    def compute(
        self, acc: float, params: float, latency: float | None, p: dict[str, float]
    ) -> float:
        _positive("params", params)
        return acc * (params / p["P"]) ** p["beta"]


class Eq10Reward(Reward):
    """TND-NAS Eq. 10: R = acc * (a * (params / P) ** beta + c * (latency / L) ** gamma), a + c = 1."""

    staged = ("P", "L", "beta", "gamma", "a")

    def __init__(
        self,
        P: float | Sequence[float] = 1.0,
        L: float | Sequence[float] = 10.0,
        beta: float | Sequence[float] = -0.07,
        gamma: float | Sequence[float] = -0.07,
        a: float | Sequence[float] = 0.5,
        c: float | Sequence[float] | None = None,
        stage: int = 0,
    ) -> None:
        if c is not None:
            a_vals = list(a) if isinstance(a, list | tuple) else [a]
            c_vals = list(c) if isinstance(c, list | tuple) else [c]
            n = max(len(a_vals), len(c_vals))
            a_vals, c_vals = (v * n if len(v) == 1 else v for v in (a_vals, c_vals))
            if len(a_vals) != len(c_vals) or any(
                not math.isclose(float(ai) + float(ci), 1.0, abs_tol=1e-9)
                for ai, ci in zip(a_vals, c_vals, strict=True)
            ):
                raise ValueError(f"a + c must equal 1 (c = 1 - a), got a={a!r}, c={c!r}")
        super().__init__(stage=stage, P=P, L=L, beta=beta, gamma=gamma, a=a)

    def _check(self, P: float, L: float, beta: float, gamma: float, a: float) -> None:
        _positive("P", P)
        _positive("L", L)
        _finite("beta", beta)
        _finite("gamma", gamma)
        if not 0.0 <= a <= 1.0:
            raise ValueError(f"a must be in [0, 1] (c = 1 - a), got {a!r}")

    def compute(
        self, acc: float, params: float, latency: float | None, p: dict[str, float]
    ) -> float:
        if latency is None:
            raise ValueError("the eq10 reward needs a latency (ms); pass latency=...")
        _positive("params", params)
        _positive("latency", float(latency))
        a = p["a"]
        size = (params / p["P"]) ** p["beta"]
        speed = (float(latency) / p["L"]) ** p["gamma"]
        return acc * (a * size + (1.0 - a) * speed)


REWARDS: Registry[type[Reward]] = Registry("reward")
REWARDS.register("accuracy", AccuracyReward)
REWARDS.register("eq9", Eq9Reward)
REWARDS.register("eq10", Eq10Reward)


def make_reward(name: str, **params: Any) -> Reward:
    """Build the reward registered as ``name`` with its parameters (ValueError names bad ones)."""
    factory = REWARDS.get(name)
    try:
        return factory(**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for reward {name!r}: {params} ({exc})") from None


def list_rewards() -> list[str]:
    """Names of every registered reward."""
    return REWARDS.names()


__all__ = [
    "REWARDS",
    "AccuracyReward",
    "Eq10Reward",
    "Eq9Reward",
    "Reward",
    "list_rewards",
    "make_reward",
]

"""Named rewards of the VALP environment (scalarisations; the objective vector stays in ``info``).

- ``log-ratio`` (default): the mean over outputs of ``log(previous / candidate)`` objective values
  (each value floored at ``eps``), clipped to ``[-clip, clip]``: positive when the candidate
  improves on the current model, ``log 2`` when it halves every objective.
- ``hypervolume``: the growth of the hypervolume of every objective vector seen in the episode
  (the initial model and every candidate, accepted or not), computed with ``moocore``. Objectives
  are normalised to ``(v - ideal) / (reference - ideal)`` with the env's ``objective_spec`` and
  clipped to [0, 1]; the reference point is 1.0 per objective (fixed), so the hypervolume is in
  [0, 1] and so is each step's reward.

A diverged candidate gets ``-clip`` whatever the reward (see the env). Add your own with
``VALP_REWARDS.register(name, cls)``, ``cls(spec, names, clip=...)`` answering ``reset(initial)``
and ``__call__(previous, candidate) -> float``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import moocore
import numpy as np

from nasgym.registry import Registry


class VALPReward:
    """Base class: built from the objective spec and the objective names."""

    def __init__(
        self, spec: Mapping[str, tuple[float, float]], names: Sequence[str], clip: float = 5.0
    ) -> None:
        missing = [n for n in names if n not in spec]
        if missing:
            raise ValueError(f"objective_spec lacks {missing}; it must cover {list(names)}")
        if not clip > 0:
            raise ValueError(f"reward clip must be > 0, got {clip!r}")
        self.spec, self.names, self.clip = dict(spec), list(names), float(clip)

    def reset(self, initial: Mapping[str, float]) -> None:
        """Start an episode whose initial model has objectives ``initial``."""

    def __call__(self, previous: Mapping[str, float], candidate: Mapping[str, float]) -> float:
        raise NotImplementedError


class LogRatioReward(VALPReward):
    """Mean over outputs of log(previous / candidate), clipped (see the module docstring)."""

    eps = 1e-6

    def __call__(self, previous: Mapping[str, float], candidate: Mapping[str, float]) -> float:
        terms = []
        for n in self.names:
            new = float(candidate[n])
            if not math.isfinite(new):
                return -self.clip
            terms.append(math.log(max(float(previous[n]), self.eps) / max(new, self.eps)))
        return float(np.clip(np.mean(terms), -self.clip, self.clip))


class HypervolumeReward(VALPReward):
    """Growth of the episode's hypervolume (normalised objectives, reference point 1.0 each)."""

    def reset(self, initial: Mapping[str, float]) -> None:
        self.points = [self.normalise(initial)]
        self.volume = self._hv()

    def normalise(self, objectives: Mapping[str, float]) -> np.ndarray:
        """Objectives mapped to [0, 1]: 0 = ideal, 1 = reference (non-finite -> 1)."""
        out = []
        for n in self.names:
            ideal, ref = self.spec[n]
            v = float(objectives[n])
            out.append((v - ideal) / (ref - ideal) if math.isfinite(v) else 1.0)
        return np.clip(np.array(out, dtype=np.float64), 0.0, 1.0)

    def _hv(self) -> float:
        return float(moocore.hypervolume(np.stack(self.points), ref=np.ones(len(self.names))))

    def __call__(self, previous: Mapping[str, float], candidate: Mapping[str, float]) -> float:
        self.points.append(self.normalise(candidate))
        before, self.volume = self.volume, self._hv()
        return float(np.clip(self.volume - before, -self.clip, self.clip))


VALP_REWARDS: Registry[type[VALPReward]] = Registry("VALP reward")
VALP_REWARDS.register("log-ratio", LogRatioReward)
VALP_REWARDS.register("hypervolume", HypervolumeReward)

__all__ = ["VALP_REWARDS", "HypervolumeReward", "LogRatioReward", "VALPReward"]

"""REINFORCE over per-decision architecture logits, as in TND-NAS (and NB201's REINFORCE baseline)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from agents import register_agent
from agents.action_layout import ActionLayout
from agents.base import Agent


@register_agent("reinforce")
class ReinforceAgent(Agent):
    """Policy gradient on architecture parameters: one softmax over ops per decision.

    Each ``predict`` samples every decision from ``(1 - epsilon) * softmax(logits) +
    epsilon * uniform`` restricted to the ops allowed by ``obs["action_mask"]`` (masked ops
    get probability 0 and are never sampled). ``update`` collects ``(action, reward)``; every
    ``batch_size`` samples the logits take one Adam ascent step on
    ``mean((R - b) * grad log pi(action))`` where ``b`` is an exponential moving average of
    the rewards (``momentum``, first value = first reward) taken before each reward is folded in.

    Arguments: ``lr`` (Adam step, default 0.2), ``batch_size`` (multinomial samples per
    update, default 4: TND-NAS draws several architectures per update), ``momentum`` (EMA
    baseline, 0.9), ``epsilon`` (uniform exploration, 0.05), ``betas`` ((0.9, 0.999)),
    ``memo`` (False) and ``max_resample`` (100). ``lr`` and ``epsilon`` were tuned for
    ``batch_size=4`` on NAS-Bench-201 CIFAR-10 by the incumbent's 12-epoch validation
    accuracy (seeds 1000-1149, never the test accuracy; 150 searches per setting over lr
    0.05-0.4, epsilon 0/0.05/0.1). Under NB201's 12,000 s budget (about 100 evaluations)
    fewer updates of one sample each do slightly better: ``batch_size=1, lr=0.2, memo=True``
    was the best setting of that tuning (``benchmarks/nb201_protocol.py`` reports both).

    ``memo=True`` is for deterministic (tabular) environments such as NB201-v0: the agent
    remembers the reward of every architecture it evaluated this episode; a sample already
    seen is learned from with its remembered reward and redrawn (up to ``max_resample``
    times) instead of being paid for again. Leave it off where rewards are noisy or change
    over time (the supernet env).

    Where the env takes architecture probabilities (``env.unwrapped.set_arch_probs``, as
    ``nasgym/Cell-v0`` does to drop ops by them between stages, TND-NAS Eq. 11), each
    ``predict`` first publishes ``softmax(logits)`` over the allowed ops (without the
    exploration mixture).

    ``entropy()`` is the per-decision entropy (nats) of the current policy; ``stats`` holds
    ``entropy`` (mean), ``min_entropy``, ``baseline`` and ``updates`` after each update, so a
    collapse onto one op is visible. ``reset()`` clears the unfinished batch and keeps
    the learned logits (they are what the agent learns across episodes).
    """

    def __init__(
        self,
        env: gym.Env,
        seed: int | None = None,
        lr: float = 0.2,
        batch_size: int = 4,
        momentum: float = 0.9,
        epsilon: float = 0.05,
        betas: tuple[float, float] = (0.9, 0.999),
        memo: bool = False,
        max_resample: int = 100,
    ) -> None:
        super().__init__(env, seed=seed)
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr!r}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
        self.layout = ActionLayout(env.action_space)
        self.lr, self.batch_size, self.momentum, self.epsilon = (
            lr,
            int(batch_size),
            momentum,
            epsilon,
        )
        self.betas = (float(betas[0]), float(betas[1]))
        shape = self.layout.exists.shape
        self.logits = np.zeros(shape)
        self._m, self._v, self._t = np.zeros(shape), np.zeros(shape), 0
        self.baseline: float | None = None
        self._batch: list[tuple[np.ndarray, float, np.ndarray]] = []
        self._mask = self.layout.exists.copy()
        self.stats: dict[str, float] = {"updates": 0}
        self.memo = bool(memo)
        self.max_resample = int(max_resample)
        self._rewards: dict[tuple[int, ...], float] = {}
        self._publish = getattr(getattr(env, "unwrapped", env), "set_arch_probs", None)

    # ---------------------------------------------------------------- policy
    def probs(self, mask: np.ndarray | None = None) -> np.ndarray:
        """(n_decisions, max_ops) policy probabilities; 0 where ``mask`` (default: last seen) is False."""
        mask = self._mask if mask is None else mask
        z = np.where(mask, self.logits, -np.inf)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def entropy(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Per-decision entropy (nats) of the policy over the allowed ops."""
        p = self.probs(mask)
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=1)

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]:
        """Sample an architecture (``deterministic``: the most probable allowed op per decision)."""
        mask = self.layout.mask(observation)
        self._mask = mask
        p = self.probs(mask)
        if self._publish is not None:
            self._publish(np.concatenate([p[d, :n] for d, n in enumerate(self.layout.nvec)]))
        if deterministic:
            return self.layout.to_action(np.argmax(p, axis=1)), state
        idx = self._sample(mask)
        for _ in range(self.max_resample if self.memo else 0):
            known = self._rewards.get(tuple(idx.tolist()))
            if known is None:
                break
            self._add(idx, known, mask)  # learn from the remembered reward, then draw again
            idx = self._sample(mask)
        return self.layout.to_action(idx), state

    def _sample(self, mask: np.ndarray) -> np.ndarray:
        p = self.probs(mask)
        if self.epsilon > 0:
            p = (1.0 - self.epsilon) * p + self.epsilon * mask / mask.sum(axis=1, keepdims=True)
        u = self.rng.random(p.shape[0])
        idx = (np.cumsum(p, axis=1) < u[:, None]).sum(axis=1)
        # round-off can push u past the last cumulative sum: fall back to the last allowed op
        last_allowed = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
        idx = np.minimum(idx, last_allowed)
        bad = ~mask[np.arange(len(idx)), idx]
        if bad.any():  # a zero-probability op hit exactly at a boundary: take the last allowed
            idx[bad] = last_allowed[bad]
        return idx

    # -------------------------------------------------------------- learning
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
        """Store the sample; every ``batch_size`` samples take one policy-gradient step."""
        idx = self.layout.from_action(action)
        if self.memo:
            self._rewards[tuple(idx.tolist())] = float(reward)
        self._add(idx, float(reward), self.layout.mask(observation))

    def _add(self, idx: np.ndarray, reward: float, mask: np.ndarray) -> None:
        self._batch.append((idx, reward, mask))
        if len(self._batch) >= self.batch_size:
            self._learn()

    def _learn(self) -> None:
        grad = np.zeros_like(self.logits)
        rows = np.arange(self.layout.n_decisions)
        for idx, reward, mask in self._batch:
            if self.baseline is None:
                self.baseline = reward
            advantage = reward - self.baseline
            self.baseline = self.momentum * self.baseline + (1.0 - self.momentum) * reward
            g = -self.probs(mask)
            g[rows, idx] += 1.0
            grad += advantage * g
        grad /= len(self._batch)
        self._batch.clear()
        self._adam_ascent(grad)
        ent = self.entropy()
        self.stats = {
            "updates": self.stats["updates"] + 1,
            "entropy": float(ent.mean()),
            "min_entropy": float(ent.min()),
            "baseline": float(self.baseline),
        }

    def _adam_ascent(self, grad: np.ndarray) -> None:
        b1, b2 = self.betas
        self._t += 1
        self._m = b1 * self._m + (1 - b1) * grad
        self._v = b2 * self._v + (1 - b2) * grad**2
        m_hat = self._m / (1 - b1**self._t)
        v_hat = self._v / (1 - b2**self._t)
        self.logits += self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)

    def reset(self) -> None:
        """Drop the unfinished batch and the remembered rewards (logits and baseline stay)."""
        self._batch.clear()
        self._rewards.clear()

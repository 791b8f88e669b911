"""Saved Stable-Baselines3 models as agents: ``make_agent("sb3", env, seed, path=..., algo=...)``.

In ``nasgym bench`` a saved model is ``--agent sb3:ALGO:PATH`` (``PATH`` the ``.zip`` written by
``model.save`` or ``nasgym train sb3``). The model loads without unpickling code
(:func:`policies.sb3_io.load_model`; ``trust=True`` to let SB3 unpickle a file you trust).

Actions are stochastic by default: the policy's action distribution is computed by the model
and sampled with the agent's own generator, seeded by the run's seed, so a run replays exactly
and two agents given the same seed are paired (SB3's own sampling would draw from torch's
global generator, which nasgym never seeds). ``deterministic=True`` takes the most likely
action instead. Categorical, multi-categorical, Bernoulli and Gaussian (squashed or not)
policies are sampled this way; models without an action distribution (DQN-style Q
networks) and recurrent policies always act deterministically. Maskable models read the mask
from ``obs["action_mask"]``, else from the env's ``action_masks()``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from agents import register_agent
from agents.base import Agent


def _sample_categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One index per row of ``probs`` (rows sum to 1), by inverse CDF on ``rng``."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[0])[:, None] * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=-1), probs.shape[-1] - 1)


@register_agent("sb3")
class SB3Agent(Agent):
    """A saved SB3 / sb3-contrib model (``path``, ``algo``), sampling from the run's seed."""

    def __init__(
        self,
        env: gym.Env,
        seed: int | None = None,
        *,
        path: str,
        algo: str | None = None,
        deterministic: bool = False,
        trust: bool = False,
        device: str = "cpu",
    ) -> None:
        from policies.sb3_io import get_algorithm, is_maskable, load_model, read_meta

        super().__init__(env, seed=seed)
        name = algo or (read_meta(path) or {}).get("algo")
        if name is None:
            raise ValueError(f"sb3 agent: name the algorithm of {path} (algo=...)")
        self.algo = get_algorithm(name)
        self.env = env
        self.deterministic = bool(deterministic)
        self.model = load_model(path, algo=name, env=env, device=device, trust=trust)
        self.masked = is_maskable(self.algo)
        self.recurrent = type(self.model.policy).__name__.startswith("Recurrent")

    def _mask(self, observation: Any) -> np.ndarray | None:
        if not self.masked:
            return None
        if isinstance(observation, dict) and "action_mask" in observation:
            return np.asarray(observation["action_mask"], dtype=bool)
        return np.asarray(self.env.unwrapped.action_masks(), dtype=bool)

    def predict(
        self,
        observation: Any,
        state: Any = None,
        episode_start: Any = None,
        deterministic: bool = False,
    ) -> tuple[Any, Any]:
        """An action sampled from the policy with the agent's generator (the most likely one
        when the agent was built with ``deterministic=True``)."""
        import torch

        policy = self.model.policy
        obs_t, vectorized = policy.obs_to_tensor(observation)
        mask = self._mask(observation)
        if mask is not None and vectorized and mask.ndim == 1:  # one env mask for a batch
            first = next(iter(obs_t.values())) if isinstance(obs_t, dict) else obs_t
            mask = np.tile(mask, (first.shape[0], 1))
        extra = {} if mask is None else {"action_masks": mask}
        if self.deterministic or self.recurrent or not hasattr(policy, "get_distribution"):
            return self.model.predict(
                observation, state=state, episode_start=episode_start, deterministic=True, **extra
            )
        policy.set_training_mode(False)
        with torch.no_grad():
            dist = policy.get_distribution(obs_t, **extra)
        actions = self._sample(dist)
        space = self.action_space
        if isinstance(space, gym.spaces.Box):
            actions = actions.reshape((-1, *space.shape))
            if getattr(policy, "squash_output", False):
                actions = policy.unscale_action(actions)
            else:
                actions = np.clip(actions, space.low, space.high)
        else:
            actions = actions.reshape((-1, *space.shape))
        return (actions if vectorized else actions[0]), state

    def _sample(self, dist: Any) -> np.ndarray:
        kind = type(dist).__name__
        inner = dist.distribution
        if isinstance(inner, list):  # multi-categorical: one Categorical per decision
            cols = [_sample_categorical(self.rng, d.probs.cpu().numpy()) for d in inner]
            return np.stack(cols, axis=1)
        if "Categorical" in kind:
            return _sample_categorical(self.rng, inner.probs.cpu().numpy())
        if "Bernoulli" in kind:
            p = inner.probs.cpu().numpy()
            return (self.rng.random(p.shape) < p).astype(np.int64)
        if "Gaussian" in kind and "StateDependent" not in kind:
            mean, std = inner.mean.cpu().numpy(), inner.stddev.cpu().numpy()
            x = mean + std * self.rng.standard_normal(mean.shape)
            return np.tanh(x) if "Squashed" in kind else x
        raise ValueError(f"sb3 agent cannot sample a {kind}; build it with deterministic=True")


class ShippedSB3Agent(SB3Agent):
    """A shipped SB3 policy (:data:`policies.SHIPPED`), loaded by name with no path."""

    #: its name in :data:`policies.SHIPPED`
    shipped: ClassVar[str] = ""
    #: its algorithm's name
    algo_name: ClassVar[str] = "maskableppo"

    def __init__(
        self, env: gym.Env, seed: int | None = None, *, deterministic: bool = False
    ) -> None:
        from policies import shipped_path

        path = shipped_path(self.shipped)
        super().__init__(
            env, seed, path=str(path), algo=self.algo_name, deterministic=deterministic
        )


@register_agent("ppo-nb201")
class PPONB201Agent(ShippedSB3Agent):
    """The shipped MaskablePPO policy for nasgym/NB201Seq-v0 (trained on CIFAR-10's table)."""

    shipped = "ppo-nb201"


@register_agent("ppo-valp")
class PPOVALPAgent(ShippedSB3Agent):
    """The shipped MaskablePPO policy for the VALP paper preset (trained on MNIST).

    Trained at ``nasgym/VALP-PaperScaled-v0`` with 250 / 50 batches; it reads diagnostics, so it
    acts on any data set of the image multitask; see ``policies/ppo_valp_mnist.json``.
    """

    shipped = "ppo-valp"


@register_agent("ppo-valp-hv")
class PPOVALPHypervolumeAgent(ShippedSB3Agent):
    """``ppo-valp`` trained on the bench's own measure, the archive's hypervolume growth.

    The same command as ``ppo-valp`` with ``reward="hypervolume"`` (the growth of the episode
    archive's hypervolume instead of the log ratio to the control; see
    ``policies/ppo_valp_hv_mnist.json``).
    """

    shipped = "ppo-valp-hv"


__all__ = [
    "PPONB201Agent",
    "PPOVALPAgent",
    "PPOVALPHypervolumeAgent",
    "SB3Agent",
    "ShippedSB3Agent",
]

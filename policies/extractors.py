"""Features extractors for SB3 policies on nasgym observations, registered by name.

A trained model records its extractor by registry name (not as a pickled class), so
:func:`policies.sb3_io.load_model` rebuilds it without unpickling code::

    from policies.extractors import extractor_kwargs
    MaskablePPO("MultiInputPolicy", env, policy_kwargs=extractor_kwargs("dict-log"))
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, FlattenExtractor
from torch import nn

from nasgym.registry import Registry

EXTRACTORS: Registry[type[BaseFeaturesExtractor]] = Registry("features extractor")
EXTRACTORS.register("flatten", FlattenExtractor)


def _entries(space: gym.Space, skip: tuple[str, ...]) -> list[tuple[str | None, int]]:
    if isinstance(space, gym.spaces.Dict):
        return [
            (key, gym.spaces.flatdim(sub)) for key, sub in space.spaces.items() if key not in skip
        ]
    return [(None, gym.spaces.flatdim(space))]


@EXTRACTORS.register("dict-log")
class DictLogExtractor(BaseFeaturesExtractor):
    """Flatten every entry of a (Dict or Box) observation, squash it with the signed log
    ``sign(x) * log1p(|x|)`` (VALP entries span 1e-6 to 1e6), concatenate, one ReLU layer.

    ``skip`` names Dict entries left out (by default the action mask, which MaskablePPO
    already applies to the logits).
    """

    def __init__(
        self,
        observation_space: gym.Space,
        features_dim: int = 128,
        skip: tuple[str, ...] | list[str] = ("action_mask",),
    ) -> None:
        entries = _entries(observation_space, tuple(skip))
        if not entries:
            raise ValueError(f"no observation entry left after skipping {list(skip)}")
        super().__init__(observation_space, features_dim)
        self.keys = [key for key, _ in entries]
        n_in = sum(dim for _, dim in entries)
        self.net = nn.Sequential(nn.Linear(n_in, features_dim), nn.ReLU())

    def forward(self, observations: Any) -> torch.Tensor:
        """Features of a batch of observations."""
        if isinstance(observations, dict):
            parts = [observations[k].flatten(start_dim=1).float() for k in self.keys]
            x = torch.cat(parts, dim=1)
        else:
            x = observations.flatten(start_dim=1).float()
        return self.net(torch.sign(x) * torch.log1p(x.abs()))


def extractor_kwargs(name: str, **kwargs: Any) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` selecting the registered extractor ``name`` with ``kwargs``."""
    return {"features_extractor_class": EXTRACTORS.get(name), "features_extractor_kwargs": kwargs}


__all__ = ["EXTRACTORS", "DictLogExtractor", "extractor_kwargs"]

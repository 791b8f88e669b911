"""Interchangeable nasgym agents, registered by name.

Build one with :func:`make_agent`; add your own with :func:`register_agent`::

    from agents import Agent, register_agent

    @register_agent("always-first")
    class AlwaysFirst(Agent):
        \"\"\"Always the first valid action.\"\"\"
        def predict(self, observation, state=None, episode_start=None, deterministic=False):
            return 0, state
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

from agents.base import Agent
from nasgym.registry import Registry

AGENTS: Registry[type[Agent]] = Registry("agent")

# Built-in agents live in submodules; importing them registers them.
_BUILTIN_MODULES: tuple[str, ...] = (
    "agents.random_agent",
    "agents.reinforce",
    "agents.rea",
    "agents.rules",
    "agents.sb3",
    "agents.bandit",
    "agents.metamodel",
    "agents.oracle",
)


def register_agent(name: str, cls: type[Agent] | None = None, *, overwrite: bool = False) -> Any:
    """Register an :class:`Agent` subclass under ``name`` (usable as a decorator)."""
    return AGENTS.register_subclass(name, cls, base=Agent, overwrite=overwrite)


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def make_agent(name: str, env: gym.Env, seed: int | None = None, **kwargs: Any) -> Agent:
    """Build the agent registered as ``name`` for ``env``."""
    _load_builtins()
    return AGENTS.get(name)(env, seed=seed, **kwargs)


def list_agents() -> list[str]:
    """Names of every registered agent."""
    _load_builtins()
    return AGENTS.names()


__all__ = ["AGENTS", "Agent", "list_agents", "make_agent", "register_agent"]

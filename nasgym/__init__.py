"""nasgym: neural architecture search as Gymnasium environments."""

from nasgym.registration import env_ids, register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__", "env_ids", "register_envs"]

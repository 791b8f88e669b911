"""Trainers of meta-policies, registered by name: ``nasgym train NAME ...``.

A trainer is a class with ``add_arguments(parser)`` (its CLI options) and ``run(args) -> int``
(the exit status); the CLI builds one ``nasgym train NAME`` verb per registered trainer.
Register your own::

    from nasgym.training import TRAINERS, Trainer

    @TRAINERS.register("mine")
    class Mine(Trainer):
        \"\"\"Train my policy.\"\"\"
        @classmethod
        def add_arguments(cls, parser): parser.add_argument("--steps", type=int)
        @classmethod
        def run(cls, args): ...; return 0
"""

from __future__ import annotations

import argparse
import importlib

from nasgym.registry import Registry


class Trainer:
    """Base of registered trainers (see the module docstring)."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Add this trainer's options to its ``nasgym train NAME`` parser."""

    @classmethod
    def run(cls, args: argparse.Namespace) -> int:
        """Train from parsed arguments; return the exit status."""
        raise NotImplementedError


TRAINERS: Registry[type[Trainer]] = Registry("trainer")

_BUILTIN_MODULES: tuple[str, ...] = ("nasgym.training.sb3", "nasgym.training.metamodel")


def list_trainers() -> list[str]:
    """Names of every registered trainer."""
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    return TRAINERS.names()


__all__ = ["TRAINERS", "Trainer", "list_trainers"]

"""The VALP model: descriptor (pure Python), torch model, training, evaluation, random models.

``from nasgym.valp import VALP, build_model, random_valp`` works; torch is imported only when a
torch-based name (model, trainer, reference classifier) is first used, so the descriptor stays
importable without it. The functions ``train`` and ``evaluate`` share their modules' names: import
them as ``from nasgym.valp.train import train`` and ``from nasgym.valp.evaluate import evaluate``.
"""

from __future__ import annotations

import importlib
from typing import Any

from nasgym.valp.descriptor import (
    ACTIVATIONS,
    NETWORK_KINDS,
    OPTIMIZERS,
    RULES,
    VALP,
    Connection,
    Layer,
    Network,
    OutputHParams,
    StructureError,
)
from nasgym.valp.random_valp import random_valp

_LAZY = {
    "VALPModel": "nasgym.valp.model",
    "NetworkModule": "nasgym.valp.model",
    "ForwardResult": "nasgym.valp.model",
    "build_model": "nasgym.valp.model",
    "model_from": "nasgym.valp.model",
    "inherit_weights": "nasgym.valp.model",
    "Trainer": "nasgym.valp.train",
    "TrainResult": "nasgym.valp.train",
    "output_losses": "nasgym.valp.train",
    "Evaluation": "nasgym.valp.evaluate",
    "ReferenceClassifier": "nasgym.valp.reference",
    "reference_for": "nasgym.valp.reference",
    "frechet_distance": "nasgym.valp.reference",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nasgym.valp' has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS",
    "NETWORK_KINDS",
    "OPTIMIZERS",
    "RULES",
    "VALP",
    "Connection",
    "Layer",
    "Network",
    "OutputHParams",
    "StructureError",
    "random_valp",
    *_LAZY,
]

"""Evaluating a VALP: one lower-is-better objective per output, plus the losses.

Objectives: ``classification`` -> error rate in [0, 1]; ``regression`` -> mean squared error;
``sampling`` -> Fréchet distance between reference-classifier features of ``len(data)`` generated
images and of the split's real images (:mod:`nasgym.valp.reference`). Predictions use z = mu
for samplers (deterministic); losses use noise from the generator, as in training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from nasgym.tasks import TaskData
from nasgym.valp.model import ForwardResult, VALPModel
from nasgym.valp.reference import ReferenceClassifier, reference_for
from nasgym.valp.train import cpu_threads, output_losses

__all__ = ["OBJECTIVE_NAMES", "Evaluation", "evaluate"]

#: output kind -> what its objective measures
OBJECTIVE_NAMES: dict[str, str] = {
    "classification": "error",
    "regression": "mse",
    "sampling": "frechet",
}
_CHUNK = 4096


@dataclass
class Evaluation:
    """Objectives and losses of a model on one split.

    ``objectives``: output name -> lower-is-better value (``inf`` when not finite or diverged);
    ``kinds``: output name -> objective kind (``error``, ``mse``, ``frechet``); ``losses``: output
    name -> mean loss; ``diverged``: the model diverged in training or produced non-finite values.
    """

    objectives: dict[str, float]
    losses: dict[str, float]
    kinds: dict[str, str] = field(default_factory=dict)
    diverged: bool = False


def _forward(model: VALPModel, data: TaskData, generator: torch.Generator | None) -> ForwardResult:
    n = len(data)
    parts = [
        model(data.subset(slice(i, i + _CHUNK)).inputs, generator=generator)
        for i in range(0, n, _CHUNK)
    ]
    if len(parts) == 1:
        return parts[0]
    outputs = {k: torch.cat([p.outputs[k] for p in parts]) for k in parts[0].outputs}
    latents = {
        k: (
            torch.cat([p.latents[k][0] for p in parts]),
            torch.cat([p.latents[k][1] for p in parts]),
        )
        for k in parts[0].latents
    }
    return ForwardResult(outputs, latents)


def _finite_or_inf(v: float) -> float:
    return v if math.isfinite(v) else math.inf


@torch.no_grad()
def evaluate(
    model: VALPModel,
    data: TaskData,
    generator: torch.Generator,
    reference: ReferenceClassifier | None = None,
    *,
    threads: int | None = 1,
) -> Evaluation:
    """Objectives and losses of ``model`` on ``data``; never raises for a diverged model.

    ``reference`` scores sampling outputs; by default the cached one of ``data.dataset``.
    ``generator`` draws the generated images and the samplers' noise for the losses.
    """
    valp = model.valp
    kinds = {s.name: OBJECTIVE_NAMES[s.kind] for s in valp.task_outputs}
    trainer = model._trainer
    diverged = bool(trainer is not None and trainer.diverged)
    if diverged:
        inf = {s.name: math.inf for s in valp.task_outputs}
        return Evaluation(dict(inf), dict(inf), kinds, True)
    samplers = any(s.kind == "sampling" for s in valp.task_outputs)
    if samplers and reference is None:
        if data.dataset is None:
            raise ValueError(
                "a sampling output needs a reference classifier: pass "
                "reference=reference_for(dataset) or data from Task.prepare"
            )
        reference = reference_for(data.dataset)
    was_training = model.training
    model.eval()
    try:
        with cpu_threads(threads if model.device.type == "cpu" else None):
            return _evaluate(model, data, generator, reference, kinds)
    finally:
        model.train(was_training)


def _evaluate(
    model: VALPModel,
    data: TaskData,
    generator: torch.Generator,
    reference: ReferenceClassifier | None,
    kinds: dict[str, str],
) -> Evaluation:
    result = _forward(model, data, None)
    has_samplers = bool(result.latents)
    noisy = _forward(model, data, generator) if has_samplers else result
    losses = {
        k: _finite_or_inf(float(v)) for k, v in output_losses(model, noisy, data.targets).items()
    }
    objectives: dict[str, float] = {}
    generated: dict[str, Any] = {}
    for spec in model.valp.task_outputs:
        out, y = result.outputs[spec.name], data.targets[spec.name]
        if spec.kind == "classification":
            value = float((out.argmax(1) != y).float().mean())
            if not torch.isfinite(out).all():
                value = math.inf
        elif spec.kind == "regression":
            value = float(torch.mean((out - y) ** 2))
        else:
            if not generated:
                generated = model.generate(len(data), generator)
            assert reference is not None
            value = reference.score(generated[spec.name].cpu(), y.cpu())
        objectives[spec.name] = _finite_or_inf(value)
    diverged = any(math.isinf(v) for v in [*objectives.values(), *losses.values()])
    return Evaluation(objectives, losses, kinds, diverged)

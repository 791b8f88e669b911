"""Weight plumbing shared by the operators: fresh models, inheritance, stages and their consumers.

A network's *stages* are the affine maps that produce its layers, in order (see the parameter
layout in :mod:`nasgym.valp.model`):

- ``mlp`` / ``classifier`` / ``regressor``: stage 0 is the first stage (``in_proj[src]`` blocks
  plus ``in_bias``), stage ``i`` (``1 <= i < L``) is ``layers[i - 1]``, then the ``head`` if any;
- ``sampler``: stage ``i`` is decoder ``layers[i]`` (``0 <= i < L``), then the ``head``; the
  encoder (``mu_proj`` / ``logvar_proj``) is not a stage.

Descriptor layer ``k`` is produced by stage ``k`` and consumed by stage ``k + 1`` when there is
one, else (the last layer of an ``mlp``) by the input projections of the network's successors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nasgym.valp.descriptor import VALP
from nasgym.valp.model import NetworkModule, VALPModel, build_model, model_from, sanitize


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from ``rng`` (advances ``rng``)."""
    return torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))


def fresh_model(valp: VALP, rng: np.random.Generator, like: VALPModel) -> VALPModel:
    """A freshly initialised model of ``valp`` (weights from ``rng``) on ``like``'s device."""
    return build_model(valp, torch_generator(rng), device=like.device)


def same_weights(model: VALPModel, valp: VALP) -> VALPModel:
    """An independent model of ``valp`` with ``model``'s weights (parameter names must match)."""
    return model_from(valp, model.state_dict(), device=model.device)


def named_tensors(module: torch.nn.Module) -> dict[str, Tensor]:
    """Every parameter and buffer of ``module`` by its ``state_dict`` name (the live tensors,
    without ``state_dict``'s per-module overhead)."""
    out = dict(module.named_parameters(remove_duplicate=False))
    out.update(module.named_buffers(remove_duplicate=False))
    return out


@torch.no_grad()
def inherit_by_name(
    child: VALPModel, parent: VALPModel, skip: set[str] | frozenset = frozenset()
) -> None:
    """Copy every tensor of ``parent`` with the same name and shape into ``child``, except in the
    networks ``skip`` (ids)."""
    prefixes = tuple(f"nets.{sanitize(n)}." for n in skip)
    theirs = named_tensors(parent)
    for name, t in named_tensors(child).items():
        if prefixes and name.startswith(prefixes):
            continue
        src = theirs.get(name)
        if src is not None and src.shape == t.shape:
            t.copy_(src)


@torch.no_grad()
def copy_module(
    dst: NetworkModule, src: NetworkModule, key_map: dict[str, str] | None = None
) -> None:
    """Copy ``src``'s tensors into ``dst`` where names and shapes match; projection keys of ``dst``
    are looked up in ``src`` through ``key_map`` (dst source key -> src source key)."""
    key_map = key_map or {}
    theirs = named_tensors(src)
    for name, t in named_tensors(dst).items():
        parts = name.split(".")
        if parts[0] in dst.projections and len(parts) == 3:
            parts[1] = key_map.get(parts[1], parts[1])
        other = theirs.get(".".join(parts))
        if other is not None and other.shape == t.shape:
            t.copy_(other)


@dataclass
class Affine:
    """An affine map ``sum_j weights[j] @ x_j + bias`` (weights are views of live parameters)."""

    weights: list[Tensor]
    bias: Tensor | None


def n_stages(module: NetworkModule) -> int:
    """Number of stages of a network module."""
    first = 0 if module.kind == "sampler" else 1
    return first + len(module.layers) + (module.head is not None)


def stage(module: NetworkModule, i: int) -> Affine:
    """Stage ``i`` of ``module`` (see the module docstring)."""
    if module.kind != "sampler":
        if i == 0:
            return Affine([lin.weight for lin in module.in_proj.values()], module.in_bias)
        i -= 1
    if i < len(module.layers):
        lin = module.layers[i]
    elif i == len(module.layers) and module.head is not None:
        lin = module.head
    else:
        raise IndexError(f"stage {i} out of range for a {module.kind}")
    return Affine([lin.weight], lin.bias)


def is_first_stage(module: NetworkModule, i: int) -> bool:
    """Whether stage ``i`` is a per-source first stage (``in_proj``)."""
    return module.kind != "sampler" and i == 0


def projections_from(model: VALPModel, dst: str, src: str) -> list[Affine]:
    """The input projections of network ``dst`` that read ``src`` (one weight each) and their biases."""
    module = model.network_module(dst)
    key = sanitize(src)
    return [
        Affine([getattr(module, name)[key].weight], getattr(module, name.replace("_proj", "_bias")))
        for name in module.projections
    ]


def emission_consumers(model: VALPModel, net_id: str) -> list[Affine]:
    """Every projection that reads network ``net_id``'s emission (in its network successors)."""
    out: list[Affine] = []
    for succ in model.valp.successors(net_id):
        if succ.startswith("n:"):
            out += projections_from(model, succ, net_id)
    return out


def layer_consumers(model: VALPModel, net_id: str, k: int) -> list[Affine]:
    """The affine maps that read layer ``k`` of network ``net_id``."""
    module = model.network_module(net_id)
    if k + 1 < n_stages(module):
        return [stage(module, k + 1)]
    return emission_consumers(model, net_id)


@torch.no_grad()
def copy_affine(dst: Affine, src: Affine) -> None:
    """Copy weights and bias of ``src`` into ``dst`` where shapes match (left as is otherwise)."""
    if len(dst.weights) == len(src.weights):
        for d, s in zip(dst.weights, src.weights, strict=True):
            if d.shape == s.shape:
                d.copy_(s)
    if dst.bias is not None and src.bias is not None and dst.bias.shape == src.bias.shape:
        dst.bias.copy_(src.bias)


@torch.no_grad()
def set_identity(dst: Affine) -> None:
    """Make a single-weight square affine map the identity (zero bias)."""
    (w,) = dst.weights
    assert w.shape[0] == w.shape[1], w.shape
    w.copy_(torch.eye(w.shape[0], dtype=w.dtype, device=w.device))
    if dst.bias is not None:
        dst.bias.zero_()


@torch.no_grad()
def compose_into(dst: Affine, producer: Affine, consumer: Affine) -> None:
    """``dst = consumer o producer`` (exact when nothing nonlinear sat between them).

    ``consumer`` has one weight; ``dst`` has one weight per producer weight.
    """
    (wc,) = consumer.weights
    for d, wp in zip(dst.weights, producer.weights, strict=True):
        d.copy_(wc @ wp)
    if dst.bias is not None:
        b = consumer.bias.clone() if consumer.bias is not None else torch.zeros_like(dst.bias)
        if producer.bias is not None:
            b += wc @ producer.bias
        dst.bias.copy_(b)


@torch.no_grad()
def scale(affine: Affine, factor: float) -> None:
    """Multiply every weight and the bias of ``affine`` by ``factor``."""
    for w in affine.weights:
        w.mul_(factor)
    if affine.bias is not None:
        affine.bias.mul_(factor)

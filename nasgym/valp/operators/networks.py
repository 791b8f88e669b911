"""Network-level (macro) operators: ``insert_network``, ``delete_network``, ``clone_network``."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from nasgym.valp.descriptor import ACTIVATIONS, VALP, Layer, Network
from nasgym.valp.operators import register_operator
from nasgym.valp.operators._weights import (
    copy_module,
    emission_consumers,
    fresh_model,
    inherit_by_name,
    n_stages,
    projections_from,
    scale,
    set_identity,
    stage,
)
from nasgym.valp.operators.base import (
    EXTENDER_VARIANTS,
    GENTLE,
    EditSize,
    Operator,
    draw_width,
    widest_layer,
)

if TYPE_CHECKING:
    from nasgym.valp.model import VALPModel


def _first_width(net: Network) -> int:
    """Width of what a network's input projections map to."""
    if net.kind == "sampler":
        return int(net.latent)
    return net.layers[0].width if net.layers else int(net.out_size)


def _insert(valp: VALP, target: str, src: str, layer: Layer) -> VALP:
    new_id = valp.next_network_id()
    return (
        valp.without_connection(src, target)
        .with_network(Network(new_id, "mlp", (layer,)))
        .with_connection(src, new_id, valp.detached(src, target))  # src stays untrained by it
        .with_connection(new_id, target)
    )


@register_operator("insert_network")
class InsertNetwork(Operator):
    """Insert a new one-layer ``mlp`` on a connection ``src -> target`` (``src -> new -> target``).

    Target: the receiving network. Choices: its sources (inputs or networks). Gentle: the new
    network is an identity layer of the source's width (``identity`` activation) and the target
    reads it with the projection it used for the source, so every output is unchanged.
    Aggressive: width drawn uniformly from ``[w // 2, 2 w]`` (``w`` = the width the target's
    input projections map to) with a random activation, and both the new network and the
    target's projection from it are freshly initialised. Every other weight is kept.
    """

    effect = "extender"
    variants = EXTENDER_VARIANTS
    scope = "macro"
    draws_width = True

    def candidates(self, valp: VALP) -> list[str]:
        return valp.network_ids

    def raw_choices(self, valp: VALP, target: str, donor: VALP | None = None) -> list[Any]:
        return valp.predecessors(target)

    def known_validity(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> bool:
        # the new mlp (a positive width: the source's emission) takes over one connection
        # between two components that already send and receive: no rule can break
        return True

    def edit_size(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> EditSize:
        width = valp.emit_size(str(choice))
        return EditSize(len(valp.networks) + 1, len(valp.connections) + 1, 1, width)

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        return _insert(valp, target, str(choice), Layer(valp.emit_size(str(choice)), "identity"))

    def _apply(
        self,
        model: VALPModel,
        target: str,
        choice: Any,
        rng: np.random.Generator,
        variant: str | None,
        donor: VALPModel | None,
        max_width: int | None = None,
    ) -> VALPModel:
        valp, src = model.valp, str(choice)
        new_id = valp.next_network_id()
        if variant == GENTLE:
            layer = Layer(valp.emit_size(src), "identity")
        else:
            w = _first_width(valp.network(target))
            layer = Layer(draw_width(rng, w, max_width), str(rng.choice(ACTIVATIONS)))
        new = fresh_model(_insert(valp, target, src, layer), rng, model)
        inherit_by_name(new, model)
        if variant == GENTLE:
            with torch.no_grad():
                set_identity(stage(new.network_module(new_id), 0))
                for dst, old in zip(
                    projections_from(new, target, new_id),
                    projections_from(model, target, src),
                    strict=True,
                ):
                    dst.weights[0].copy_(old.weights[0])
        return new


def _may_feed(valp: VALP, p: str, s: str) -> bool:
    """Whether ``_reconnect`` may wire ``p`` into ``s`` (a model output only takes networks of
    its data type, size and latent)."""
    if not s.startswith("o:"):
        return True
    spec = valp.output_spec(s)
    if not p.startswith("n:") or valp.emit_dtype(p) != spec.dtype:
        return False
    return valp.emit_size(p) == spec.size and valp.network(p).latent == spec.latent


def _reconnect(valp: VALP, net_id: str) -> VALP:
    """``valp`` without ``net_id``, its predecessors wired to its successors where allowed."""
    out = valp.without_network(net_id)
    for p in valp.predecessors(net_id):
        for s in valp.successors(net_id):
            if not out.has_connection(p, s) and _may_feed(valp, p, s):
                cut = valp.detached(p, net_id) or valp.detached(net_id, s)
                out = out.with_connection(p, s, cut and s.startswith("n:"))
    return out


def _reconnect_is_valid(valp: VALP, net_id: str) -> bool:
    """Whether ``_reconnect(valp, net_id)`` is valid, for a valid ``valp``.

    New connections ``p -> s`` follow a path ``p -> net_id -> s`` (no cycle; never a self-loop)
    and respect the output rule, so only "receives" (successors) and "sends" (predecessors) can
    break: each successor needs another source, old or new, and each predecessor another
    destination.
    """
    preds, succs = valp.predecessors(net_id), valp.successors(net_id)
    fed = {s for s in succs if len(valp.predecessors(s)) > 1}
    sending = {p for p in preds if len(valp.successors(p)) > 1}
    for p in preds:
        for s in succs:
            if _may_feed(valp, p, s):
                fed.add(s)
                sending.add(p)
    return len(fed) == len(succs) and len(sending) == len(preds)


@register_operator("delete_network")
class DeleteNetwork(Operator):
    """Delete a network and reconnect its predecessors to its successors.

    Target: networks whose deletion leaves a valid model. Every predecessor is connected to every
    successor it does not feed yet where that is allowed (a model output only accepts networks of
    its data type, size and latent); those new projections are freshly initialised. Every other
    weight is kept.
    """

    effect = "reducer"
    scope = "macro"

    def candidates(self, valp: VALP) -> list[str]:
        return valp.network_ids

    def known_validity(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> bool:
        return _reconnect_is_valid(valp, target)

    def edit_size(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> EditSize:
        preds, succs = valp.predecessors(target), valp.successors(target)
        new = sum(
            not valp.has_connection(p, s) and _may_feed(valp, p, s) for p in preds for s in succs
        )
        links = len(valp.connections) - len(preds) - len(succs) + new
        return EditSize(len(valp.networks) - 1, links, 0)

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        return _reconnect(valp, target)

    def _apply(
        self,
        model: VALPModel,
        target: str,
        choice: Any,
        rng: np.random.Generator,
        variant: str | None,
        donor: VALPModel | None,
    ) -> VALPModel:
        new = fresh_model(_reconnect(model.valp, target), rng, model)
        inherit_by_name(new, model, skip={target})
        return new


def _clone(valp: VALP, target: str) -> tuple[VALP, str]:
    new_id = valp.next_network_id()
    out = valp.with_network(replace(valp.network(target), id=new_id))
    for p in valp.predecessors(target):
        out = out.with_connection(p, new_id, valp.detached(p, target))
    for s in valp.successors(target):
        out = out.with_connection(new_id, s, valp.detached(target, s))
    return out, new_id


@register_operator("clone_network")
class CloneNetwork(Operator):
    """Add a copy of a network with the same sources and successors.

    Target: every network. Gentle: the copy has the original's weights and both copies'
    contributions are halved (the last affine map of a classifier/regressor/sampler, whose
    emissions are summed at outputs; for an ``mlp``, the successors' projections that read it), so
    every output is unchanged. Aggressive: the copy and the projections that read it are freshly
    initialised; the original is kept as it is.
    """

    effect = "extender"
    variants = EXTENDER_VARIANTS
    scope = "macro"

    def candidates(self, valp: VALP) -> list[str]:
        return valp.network_ids

    def known_validity(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> bool:
        # the copy has the original's kind, sources and destinations: whatever the original
        # satisfies, the copy does, and a cycle through it would pass through the original
        return True

    def edit_size(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> EditSize:
        links = len(valp.predecessors(target)) + len(valp.successors(target))
        net = valp.network(target)
        return EditSize(
            len(valp.networks) + 1,
            len(valp.connections) + links,
            len(net.layers),
            widest_layer(net),
        )

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        return _clone(valp, target)[0]

    def _apply(
        self,
        model: VALPModel,
        target: str,
        choice: Any,
        rng: np.random.Generator,
        variant: str | None,
        donor: VALPModel | None,
    ) -> VALPModel:
        valp, new_id = _clone(model.valp, target)
        new = fresh_model(valp, rng, model)
        inherit_by_name(new, model)
        if variant != GENTLE:
            return new
        orig, copy = new.network_module(target), new.network_module(new_id)
        copy_module(copy, orig)
        with torch.no_grad():
            if orig.kind == "mlp":
                for proj in emission_consumers(new, target):
                    proj.weights[0].mul_(0.5)
            else:
                for m in (orig, copy):
                    scale(stage(m, n_stages(m) - 1), 0.5)
            for dst, src in zip(
                emission_consumers(new, new_id), emission_consumers(new, target), strict=True
            ):
                dst.weights[0].copy_(src.weights[0])
        return new

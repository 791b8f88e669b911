"""Layer-level (micro) operators: ``add_layer``, ``remove_layer``, ``extend_layer``.

Layer positions are descriptor indices: the body layers of ``mlp`` / ``classifier`` /
``regressor`` networks and the decoder layers of a ``sampler`` (its encoder and heads are not
layers). Stages and consumers are described in :mod:`nasgym.valp.operators._weights`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from nasgym.valp.descriptor import ACTIVATIONS, VALP, Layer, Network
from nasgym.valp.operators import register_operator
from nasgym.valp.operators._weights import (
    Affine,
    compose_into,
    copy_affine,
    emission_consumers,
    fresh_model,
    inherit_by_name,
    is_first_stage,
    layer_consumers,
    n_stages,
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
    from nasgym.valp.model import NetworkModule, VALPModel


def _with_layers(valp: VALP, net: Network, layers: list[Layer]) -> VALP:
    return valp.with_network(net.with_layers(layers))


def gentle_layer(net: Network, p: int) -> Layer:
    """The identity layer inserted at position ``p`` by gentle ``add_layer``.

    Its width is that of what it reads (the latent code of a sampler, the previous layer), or, at
    position 0 of a non-sampler, that of the current first stage (the new layer takes over the
    input projections and the old first stage gets an identity matrix). Activation: ``relu`` after
    a ``relu`` layer (relu is idempotent), ``identity`` otherwise.
    """
    if p == 0:
        if net.kind == "sampler":
            return Layer(int(net.latent), "identity")
        return Layer(net.layers[0].width if net.layers else int(net.out_size), "identity")
    prev = net.layers[p - 1]
    return Layer(prev.width, "relu" if prev.activation == "relu" else "identity")


def _copy_encoder(new_m: NetworkModule, old_m: NetworkModule) -> None:
    """Sampler encoders (``mu_proj`` / ``logvar_proj``) are not stages: copy them as they are."""
    if old_m.kind == "sampler":
        for name in old_m.projections:
            bias = name.replace("_proj", "_bias")
            copy_affine(
                Affine([w.weight for w in getattr(new_m, name).values()], getattr(new_m, bias)),
                Affine([w.weight for w in getattr(old_m, name).values()], getattr(old_m, bias)),
            )


@register_operator("add_layer")
class AddLayer(Operator):
    """Insert a dense layer into a network.

    Targets: every network. Choices: the position ``p`` in ``0..L`` the new layer takes (``L`` =
    number of body/decoder layers). Gentle: the identity layer of :func:`gentle_layer`, so every
    output is unchanged. Aggressive: width drawn uniformly from ``[w // 2, 2 w]`` (``w`` = the
    gentle width) and a random activation; the new layer is freshly initialised, and so is the
    matrix after it when its shape changed.
    """

    keeps_graph = True
    draws_width = True
    effect = "extender"
    variants = EXTENDER_VARIANTS
    scope = "micro"

    def candidates(self, valp: VALP) -> list[str]:
        return valp.network_ids

    def raw_choices(self, valp: VALP, target: str, donor: VALP | None = None) -> list[Any]:
        return list(range(len(valp.network(target).layers) + 1))

    def edit_size(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> EditSize:
        net = valp.network(target)
        widest = max(widest_layer(net), gentle_layer(net, int(choice)).width)
        return EditSize(len(valp.networks), len(valp.connections), len(net.layers) + 1, widest)

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        net = valp.network(target)
        layers = list(net.layers)
        layers.insert(int(choice), gentle_layer(net, int(choice)))
        return _with_layers(valp, net, layers)

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
        valp, p = model.valp, int(choice)
        net = valp.network(target)
        layer = gentle_layer(net, p)
        if variant != GENTLE:
            layer = Layer(draw_width(rng, layer.width, max_width), str(rng.choice(ACTIVATIONS)))
        layers = list(net.layers)
        layers.insert(p, layer)
        new = fresh_model(_with_layers(valp, net, layers), rng, model)
        inherit_by_name(new, model, skip={target})
        old_m, new_m = model.network_module(target), new.network_module(target)
        _copy_encoder(new_m, old_m)
        gentle = variant == GENTLE
        with torch.no_grad():
            if is_first_stage(old_m, p):
                if gentle:
                    copy_affine(stage(new_m, 0), stage(old_m, 0))
                    set_identity(stage(new_m, 1))
                else:
                    stage(new_m, 1).bias.copy_(stage(old_m, 0).bias)
                shifted = range(1, n_stages(old_m))
            else:
                for i in range(p):
                    copy_affine(stage(new_m, i), stage(old_m, i))
                if gentle:
                    set_identity(stage(new_m, p))
                shifted = range(p, n_stages(old_m))
            for i in shifted:
                copy_affine(stage(new_m, i + 1), stage(old_m, i))
        return new


@register_operator("remove_layer")
class RemoveLayer(Operator):
    """Remove one body/decoder layer from a network.

    Targets: networks with a removable layer (an ``mlp`` keeps at least one layer). Choices: the
    layer index. Every other weight is kept. The map that read the removed layer now reads what
    the removed layer read: when the removed layer's activation was ``identity`` the two affine
    maps are composed (exact); otherwise that map keeps its weight if the shape still fits and gets
    a fresh one if not (its bias is kept either way).
    """

    effect = "reducer"
    scope = "micro"

    def candidates(self, valp: VALP) -> list[str]:
        return valp.network_ids

    def raw_choices(self, valp: VALP, target: str, donor: VALP | None = None) -> list[Any]:
        net = valp.network(target)
        if net.kind == "mlp" and len(net.layers) < 2:
            return []
        return list(range(len(net.layers)))

    def known_validity(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> bool:
        # an mlp keeps >= 1 layer (raw_choices), other kinds may have none; only an mlp's
        # emission size can change, and an mlp (features) feeds no model output
        return True

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        net = valp.network(target)
        layers = list(net.layers)
        del layers[int(choice)]
        return _with_layers(valp, net, layers)

    def _apply(
        self,
        model: VALPModel,
        target: str,
        choice: Any,
        rng: np.random.Generator,
        variant: str | None,
        donor: VALPModel | None,
    ) -> VALPModel:
        k = int(choice)
        net = model.valp.network(target)
        new = fresh_model(self.edit(model.valp, target, k), rng, model)
        inherit_by_name(new, model, skip={target})
        old_m, new_m = model.network_module(target), new.network_module(target)
        _copy_encoder(new_m, old_m)
        identity = net.layers[k].activation == "identity"
        with torch.no_grad():
            for i in range(k):
                copy_affine(stage(new_m, i), stage(old_m, i))
            for i in range(k + 2, n_stages(old_m)):
                copy_affine(stage(new_m, i - 1), stage(old_m, i))
            producer = stage(old_m, k)
            if k + 1 < n_stages(old_m):
                pairs = [(stage(new_m, k), stage(old_m, k + 1))]
            else:  # the last layer of an mlp: its readers are the successors' projections
                pairs = list(
                    zip(
                        emission_consumers(new, target),
                        emission_consumers(model, target),
                        strict=True,
                    )
                )
            for dst, consumer in pairs:
                if identity:
                    compose_into(dst, producer, consumer)
                elif len(dst.weights) == len(consumer.weights) and not is_first_stage(new_m, k):
                    copy_affine(dst, consumer)
                elif dst.bias is not None and consumer.bias is not None:
                    dst.bias.copy_(consumer.bias)
        return new


@register_operator("extend_layer")
class ExtendLayer(Operator):
    """Widen one body/decoder layer of a network by 1 to ``w`` units (at most doubling it).

    Targets: networks with at least one layer. Choices: the layer index. Gentle (Net2Wider): each
    new unit copies a random existing unit's incoming weights and bias, and the outgoing weights
    of a unit and its copies are divided among them, so every output is unchanged. Aggressive: the
    new units' incoming and outgoing weights are freshly initialised. Every other weight is kept.
    """

    keeps_graph = True
    draws_width = True
    effect = "extender"
    variants = EXTENDER_VARIANTS
    scope = "micro"

    def candidates(self, valp: VALP) -> list[str]:
        return valp.network_ids

    def raw_choices(self, valp: VALP, target: str, donor: VALP | None = None) -> list[Any]:
        return list(range(len(valp.network(target).layers)))

    def edit_size(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> EditSize:
        net = valp.network(target)
        widest = max(widest_layer(net), net.layers[int(choice)].width + 1)
        return EditSize(len(valp.networks), len(valp.connections), len(net.layers), widest)

    def edit(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None, extra: int = 1
    ) -> VALP:
        net = valp.network(target)
        layers = list(net.layers)
        old = layers[int(choice)]
        layers[int(choice)] = Layer(old.width + extra, old.activation)
        return _with_layers(valp, net, layers)

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
        k = int(choice)
        w = model.valp.network(target).layers[k].width
        most = w if max_width is None else max(1, min(w, int(max_width) - w))
        extra = int(rng.integers(1, most + 1))
        new = fresh_model(self.edit(model.valp, target, k, extra=extra), rng, model)
        inherit_by_name(new, model)
        old_p, new_p = stage(model.network_module(target), k), stage(new.network_module(target), k)
        old_c, new_c = layer_consumers(model, target, k), layer_consumers(new, target, k)
        src = rng.integers(0, w, size=extra) if variant == GENTLE else None
        _widen(new_p, old_p, list(zip(new_c, old_c, strict=True)), w, src)
        return new


@torch.no_grad()
def _widen(
    new_p: Affine,
    old_p: Affine,
    consumers: list[tuple[Affine, Affine]],
    w: int,
    src: np.ndarray | None,
) -> None:
    """Fill a widened layer's producer rows and consumer columns (Net2Wider when ``src`` given)."""
    for nw, ow in zip(new_p.weights, old_p.weights, strict=True):
        nw[:w] = ow
        if src is not None:
            nw[w:] = ow[src]
    new_p.bias[:w] = old_p.bias
    if src is not None:
        new_p.bias[w:] = old_p.bias[src]
        counts = torch.as_tensor(
            np.bincount(src, minlength=w) + 1, dtype=old_p.bias.dtype, device=old_p.bias.device
        )
    for new_c, old_c in consumers:
        (nw,), (ow,) = new_c.weights, old_c.weights
        if src is None:
            nw[:, :w] = ow
        else:
            shared = ow / counts
            nw[:, :w] = shared
            nw[:, w:] = shared[:, src]

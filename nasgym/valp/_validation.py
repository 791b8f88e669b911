"""Structural rules of a VALP (see ``docs/valp.md``); used by :meth:`VALP.violations`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasgym.valp.descriptor import (
    _NET_ID,
    ACTIVATIONS,
    NETWORK_KINDS,
    OPTIMIZERS,
    StructureError,
)

if TYPE_CHECKING:
    from nasgym.valp.descriptor import VALP, Network

__all__ = ["find_violations"]


def _positive_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x > 0


def _network_problems(net: Network) -> list[str]:
    out = []
    if not _NET_ID.match(str(net.id)):
        out.append(f"network id {net.id!r} is not of the form 'n:<int>'")
    if net.kind not in NETWORK_KINDS:
        return [*out, f"{net.id}: unknown kind {net.kind!r}; use one of {list(NETWORK_KINDS)}"]
    for k, layer in enumerate(net.layers):
        if not _positive_int(layer.width):
            out.append(f"{net.id}: layer {k} width must be a positive int, got {layer.width!r}")
        if layer.activation not in ACTIVATIONS:
            out.append(
                f"{net.id}: layer {k} activation {layer.activation!r} unknown; "
                f"use one of {list(ACTIVATIONS)}"
            )
    if net.kind == "mlp":
        if not net.layers:
            out.append(f"{net.id}: an mlp needs at least one layer")
        if net.out_size is not None or net.latent is not None:
            out.append(f"{net.id}: an mlp has no out_size/latent")
    elif not _positive_int(net.out_size):
        out.append(f"{net.id}: a {net.kind} needs a positive int out_size, got {net.out_size!r}")
    if net.kind == "sampler":
        if not _positive_int(net.latent):
            out.append(f"{net.id}: a sampler needs a positive int latent, got {net.latent!r}")
    elif net.kind != "mlp" and net.latent is not None:
        out.append(f"{net.id}: only samplers have a latent size")
    return out


def _references(v: VALP) -> list[str]:
    out: list[str] = []
    ids = [n.id for n in v.networks]
    out += [f"duplicate network id {i!r}" for i in sorted(set(ids)) if ids.count(i) > 1]
    for net in v.networks:
        out += _network_problems(net)
    pairs = [(c.src, c.dst) for c in v.connections]
    out += [
        f"duplicate connection {p[0]} -> {p[1]}" for p in sorted(set(pairs)) if pairs.count(p) > 1
    ]
    for src, dst in sorted(set(pairs)):
        for end in (src, dst):
            if not v.has(end):
                out.append(f"connection {src} -> {dst}: unknown component {end!r}")
        if src == dst:
            out.append(f"self-loop on {src!r}")
        if dst.startswith("i:"):
            out.append(f"connection {src} -> {dst} goes into a model input")
        if src.startswith("o:"):
            out.append(f"connection {src} -> {dst} comes out of a model output")
    if not _positive_int(v.batch_size):
        out.append(f"batch_size must be a positive int, got {v.batch_size!r}")
    for name, h in v.hparams:
        if h.optimizer not in OPTIMIZERS:
            out.append(
                f"output {name!r}: optimizer {h.optimizer!r} unknown; use one of {list(OPTIMIZERS)}"
            )
        if not (isinstance(h.lr, int | float) and 0 < h.lr < float("inf")):
            out.append(f"output {name!r}: lr must be a positive finite number, got {h.lr!r}")
    return out


def _outputs(v: VALP) -> list[str]:
    out = []
    names = [s.name for s in v.task_outputs]
    if not names:
        out.append("the model has no outputs")
    in_names = [s.name for s in v.task_inputs]
    if not in_names:
        out.append("the model has no inputs")
    all_names = names + in_names
    out += [
        f"duplicate input/output name {n!r}"
        for n in sorted(set(all_names))
        if all_names.count(n) > 1
    ]
    hp = [k for k, _ in v.hparams]
    if sorted(hp) != sorted(set(names)):
        out.append(
            f"hyperparameters are given for outputs {sorted(hp)}, "
            f"but the model outputs are {sorted(set(names))}"
        )
    return out


def _dtype(v: VALP) -> list[str]:
    out = []
    for oid in v.output_ids:
        spec = v.output_spec(oid)
        for src in v.predecessors(oid):
            if not v.has(src) or src.startswith("o:"):
                continue
            if v.emit_dtype(src) != spec.dtype:
                out.append(
                    f"{src} emits {v.emit_dtype(src)!r} but output {spec.name!r} "
                    f"({spec.kind}) needs {spec.dtype!r}"
                )
            elif v.emit_size(src) != spec.size:
                out.append(
                    f"{src} emits size {v.emit_size(src)} but output {spec.name!r} "
                    f"has size {spec.size}"
                )
            elif spec.kind == "sampling" and v.network(src).latent != spec.latent:
                out.append(
                    f"{src} has latent {v.network(src).latent} but output {spec.name!r} "
                    f"has latent {spec.latent}"
                )
    return out


def _receives(v: VALP) -> list[str]:
    return [
        f"{cid} receives data from no component"
        for cid in v.network_ids + v.output_ids
        if not v.predecessors(cid)
    ]


def _sends(v: VALP) -> list[str]:
    return [
        f"{cid} sends data to no component"
        for cid in v.input_ids + v.network_ids
        if not v.successors(cid)
    ]


def _acyclic(v: VALP) -> list[str]:
    try:
        v.topological_order()
    except StructureError as e:
        return [e.message]
    return []


_CHECKS = {
    "references": _references,
    "outputs": _outputs,
    "dtype": _dtype,
    "receives": _receives,
    "sends": _sends,
    "acyclic": _acyclic,
}


def find_violations(v: VALP) -> list[StructureError]:
    """Every broken rule of ``v``, one :class:`StructureError` per problem, in rule order.

    A model whose references are broken is only checked for ``references`` and ``outputs``
    (the other rules assume every id resolves).
    """
    errors: list[StructureError] = []
    for rule, check in _CHECKS.items():
        if rule in ("dtype", "receives", "sends", "acyclic") and any(
            e.rule == "references" for e in errors
        ):
            break
        errors += [StructureError(rule, msg) for msg in check(v)]
    return errors

"""Structural rules of a VALP (see ``docs/valp.md``); used by :meth:`VALP.violations`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasgym.tasks import FEATURES
from nasgym.valp._graph import _NET_ID
from nasgym.valp.descriptor import (
    ACTIVATIONS,
    NETWORK_KINDS,
    OPTIMIZERS,
    StructureError,
)

if TYPE_CHECKING:
    from nasgym.valp.descriptor import VALP, Network

__all__ = ["find_violations", "passes_all_rules", "rule_by_rule"]


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
    out += [
        f"connection {c.src} -> {c.dst}: only a connection into a network can be detached"
        for c in v.connections
        if c.detached and not c.dst.startswith("n:")
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
    if passes_all_rules(v):
        return []
    return rule_by_rule(v)


def rule_by_rule(v: VALP) -> list[StructureError]:
    """:func:`find_violations` without the fast pass: each rule's check, in rule order."""
    errors: list[StructureError] = []
    for rule, check in _CHECKS.items():
        if rule in ("dtype", "receives", "sends", "acyclic") and any(
            e.rule == "references" for e in errors
        ):
            break
        errors += [StructureError(rule, msg) for msg in check(v)]
    return errors


# ---------------------------------------------------------------------- one fast pass
def _network_ok(net: Network) -> bool:
    """True only when :func:`_network_problems` finds nothing (same conditions, no messages)."""
    kind = net.kind
    if type(net.id) is not str or kind not in NETWORK_KINDS or not _NET_ID.match(net.id):
        return False
    for layer in net.layers:
        if not _positive_int(layer.width) or layer.activation not in ACTIVATIONS:
            return False
    if kind == "mlp":
        return bool(net.layers) and net.out_size is None and net.latent is None
    if not _positive_int(net.out_size):
        return False
    return _positive_int(net.latent) if kind == "sampler" else net.latent is None


def _names_ok(v: VALP) -> bool:
    """The ``outputs`` rule, without messages."""
    names = [s.name for s in v.task_outputs]
    all_names = names + [s.name for s in v.task_inputs]
    if not names or len(all_names) == len(names) or len(set(all_names)) != len(all_names):
        return False
    return sorted(k for k, _ in v.hparams) == sorted(names)


def _references_ok(v: VALP, nets: dict, ins: dict, outs: dict) -> bool:
    """The ``references`` rule, without messages (network ids are known to be unique)."""
    if not all(_network_ok(n) for n in v.networks) or not _positive_int(v.batch_size):
        return False
    for _, h in v.hparams:
        if h.optimizer not in OPTIMIZERS or not (
            isinstance(h.lr, int | float) and 0 < h.lr < float("inf")
        ):
            return False
    pairs = set()
    for c in v.connections:
        src, dst = c.src, c.dst
        # a source must be an input or a network, a destination a network or an output (network
        # ids match "n:<int>", so neither kind of end can be a self-loop across kinds)
        if type(src) is not str or type(dst) is not str or src == dst:
            return False
        if not (src in nets or src in ins) or not (dst in nets or dst in outs):
            return False
        pairs.add((src, dst))
    return len(pairs) == len(v.connections)


def _graph_ok(v: VALP, nets: dict, ins: dict, outs: dict, succ: dict, pred: dict) -> bool:
    """The ``dtype``, ``receives``, ``sends`` and ``acyclic`` rules, without messages."""
    for oid, spec in outs.items():
        for src in pred.get(oid, ()):
            net = nets.get(src)
            dtype = FEATURES if net is None else NETWORK_KINDS[net.kind]
            if dtype != spec.dtype or net.emit_size != spec.size:
                return False
            if spec.kind == "sampling" and net.latent != spec.latent:
                return False
    if any(c not in pred for c in nets) or any(c not in pred for c in outs):
        return False
    if any(c not in succ for c in ins) or any(c not in succ for c in nets):
        return False
    # acyclic: inputs have no predecessors and outputs no successors, so any cycle runs through
    # networks only; Kahn's algorithm on the networks (order does not matter for the verdict)
    indeg = {n: sum(p in nets for p in pred[n]) for n in nets}
    ready = [n for n, d in indeg.items() if d == 0]
    done = 0
    while ready:
        cur = ready.pop()
        done += 1
        for d in succ.get(cur, ()):
            if d in indeg:
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
    return done == len(nets)


def passes_all_rules(v: VALP) -> bool:
    """Whether ``v`` breaks no structural rule, in one pass that builds no messages.

    Equivalent to ``rule_by_rule(v) == []`` (tested): it checks the same conditions, stopping at
    the first failure; :func:`find_violations` then runs the rule-by-rule checks for messages.
    """
    index = v._index
    nets, ins, outs = index["nets"], index["ins"], index["outs"]
    if len(nets) != len(v.networks) or not _names_ok(v):
        return False
    if not _references_ok(v, nets, ins, outs):
        return False
    return _graph_ok(v, nets, ins, outs, index["succ"], index["pred"])

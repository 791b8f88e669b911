"""Which (operator variant, component) actions the VALP environment accepts, and how to apply them.

An action is valid exactly when its slot holds a component, the operator lists that component
among its targets (:meth:`~nasgym.valp.operators.Operator.choices` non-empty), at least one of
those choices keeps the model within the env's padding (networks, connections, layers per
network and, when set, layer width; checked for every structural operator, reducers included,
since deleting a network reconnects its predecessors to its successors), and, for crossover, a
donor exists. The width limit reads the edit at its gentle (default) widths: an insert whose
identity layer would be wider than ``max_width`` (a network reading the 784-pixel input) is
masked, and the widths an aggressive edit draws are capped at ``max_width``. The plan keeps the padding-respecting choices so
``step`` applies exactly what the mask promised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasgym.envs.valp_actions import ActionTable
from nasgym.valp.descriptor import VALP
from nasgym.valp.operators import EditSize, Operator
from nasgym.valp.operators.base import widest_layer


@dataclass(frozen=True)
class Padding:
    """The env's size limits."""

    max_networks: int
    max_connections: int
    max_layers: int
    #: widest layer (units) a network may have; None: no limit
    max_width: int | None = None

    def _wide_enough(self, widest: int) -> bool:
        return self.max_width is None or widest <= self.max_width

    def fits(self, valp: VALP) -> bool:
        """Whether ``valp`` stays within the limits."""
        return (
            len(valp.networks) <= self.max_networks
            and len(valp.connections) <= self.max_connections
            and all(len(n.layers) <= self.max_layers for n in valp.networks)
            and self._wide_enough(widest_layer(*valp.networks))
        )

    def fits_size(self, size: EditSize) -> bool:
        """Whether an edit of a model that fits, with sizes ``size``, still fits."""
        return (
            size.networks <= self.max_networks
            and size.connections <= self.max_connections
            and size.deepest <= self.max_layers
            and self._wide_enough(size.widest)
        )

    def why_not(self, valp: VALP) -> str:
        """What ``valp`` exceeds (empty when it fits)."""
        deep = max((len(n.layers) for n in valp.networks), default=0)
        wide = widest_layer(*valp.networks)
        parts = [
            f"{len(valp.networks)} networks > max_networks={self.max_networks}"
            if len(valp.networks) > self.max_networks
            else "",
            f"{len(valp.connections)} connections > max_connections={self.max_connections}"
            if len(valp.connections) > self.max_connections
            else "",
            f"a network with {deep} layers > max_layers={self.max_layers}"
            if deep > self.max_layers
            else "",
            f"a layer of {wide} units > max_width={self.max_width}"
            if not self._wide_enough(wide)
            else "",
        ]
        return "; ".join(p for p in parts if p)


@dataclass(frozen=True)
class Move:
    """What a valid action does: operator, variant, target id, allowed choices, donor."""

    operator: str
    variant: str | None
    target: str
    choices: tuple[Any, ...]
    donor: Any = None


def slot_of(valp: VALP, table: ActionTable, component: str) -> int:
    """The slot of ``component`` (network id, output id or ``"model"``) in ``table``."""
    if component.startswith("n:"):
        return valp.network_ids.index(component)
    if component.startswith("o:"):
        return table.output_slot(component)
    return table.model_slot


def _choices(
    op: Operator,
    valp: VALP,
    target: str,
    donor: VALP | None,
    padding: Padding | None,
    known: bool,
) -> list[Any]:
    """``op.choices`` restricted to edits within ``padding`` (None: no size check); ``known``:
    ``valp`` is valid and within ``padding``, so the operator's descriptor-level answers hold."""
    if padding is None:
        return op.choices(valp, target, donor=donor)
    if type(op).choices is not Operator.choices:  # the operator decides its choices itself
        return [
            c
            for c in op.choices(valp, target, donor=donor)
            if padding.fits(op.edit(valp, target, c, donor))
        ]
    # the base class's rule (choices whose edit validates), read off the model where the
    # operator can say (a valid model within the padding), else editing each choice only once
    out = []
    for c in op.raw_choices(valp, target, donor):
        if known:
            ok = op.trusted_validity(valp, target, c, donor)
            if ok is False:
                continue
            size = op.trusted_edit_size(valp, target, c, donor) if ok else None
            if size is not None:
                if padding.fits_size(size):
                    out.append(c)
                continue
        try:
            edited = op.edit(valp, target, c, donor)
            edited.validate()
        except ValueError:  # StructureError is a ValueError
            continue
        if padding.fits(edited):
            out.append(c)
    return out


def plan_actions(
    valp: VALP,
    table: ActionTable,
    operators: Mapping[str, Operator],
    padding: Padding,
    donor_for: Callable[[str], Any],
    names: set[str] | None = None,
) -> tuple[np.ndarray, dict[int, Move]]:
    """The action mask of ``valp`` and the :class:`Move` of every valid action.

    ``donor_for(output_id)`` returns the crossover donor model for that output (None: none).
    ``names`` restricts the plan to those operators (the rest of the mask stays False).
    """
    mask = np.zeros(table.n_actions, dtype=bool)
    moves: dict[int, Move] = {}
    per_op: dict[str, list[tuple[str, int, tuple[Any, ...], Any]]] = {}
    known = valp.is_valid() and padding.fits(valp)
    for name in dict.fromkeys(op for op, _ in table.pairs):
        if names is not None and name not in names:
            per_op[name] = []
            continue
        op = operators[name]
        # every structural edit is size-checked: even a reducer can grow the model
        # (delete_network reconnects each predecessor to each successor)
        sized = op.scope != "hyperparameter"
        found = []
        for target in op.candidates(valp):  # what op.targets() checks, one target at a time
            donor = donor_for(target) if op.needs_donor else None
            if op.needs_donor and donor is None:
                continue
            donor_valp = donor.valp if donor is not None else None
            choices = _choices(op, valp, target, donor_valp, padding if sized else None, known)
            if choices:
                found.append((target, slot_of(valp, table, target), tuple(choices), donor))
        per_op[name] = found
    for v, (name, variant) in enumerate(table.pairs):
        for target, slot, choices, donor in per_op[name]:
            action = table.encode(v, slot)
            mask[action] = True
            moves[action] = Move(name, variant, target, choices, donor)
    return mask, moves


__all__ = ["Move", "Padding", "plan_actions", "slot_of"]

"""Connection (macro) operators: ``add_connection``, ``delete_connection``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from nasgym.valp.descriptor import VALP
from nasgym.valp.operators import register_operator
from nasgym.valp.operators._weights import fresh_model, inherit_by_name, projections_from
from nasgym.valp.operators.base import EXTENDER_VARIANTS, GENTLE, EditSize, Operator

if TYPE_CHECKING:
    from nasgym.valp.model import VALPModel


@register_operator("add_connection")
class AddConnection(Operator):
    """Connect a new source into a network.

    Target: the receiving network. Choices: the model inputs and networks that do not feed it yet
    and that it does not reach (no cycle). Gentle: the new input projection is zero, so every
    output is unchanged. Aggressive: it is freshly initialised. Every other weight is kept.

    ``detach_gentle=True``: the gentle variant adds a *detached* connection
    (:class:`~nasgym.valp.descriptor.Connection`), so the gentle edit stays gentle under training:
    the target's losses cannot train the source. With a plain connection they do, through the
    target's optimizers; measured on MNIST, a regressor wired into a classifier or a sampler then
    loses its histogram fit (``benchmarks/gentle_drift.py --detach-gentle``).
    """

    effect = "extender"
    variants = EXTENDER_VARIANTS
    scope = "macro"

    def __init__(self, detach_gentle: bool = False) -> None:
        if not isinstance(detach_gentle, bool):
            raise ValueError(f"detach_gentle must be True or False, got {detach_gentle!r}")
        self.detach_gentle = detach_gentle

    def candidates(self, valp: VALP) -> list[str]:
        return valp.network_ids

    def raw_choices(self, valp: VALP, target: str, donor: VALP | None = None) -> list[Any]:
        taken = set(valp.predecessors(target)) | valp.descendants(target) | {target}
        return [c for c in valp.input_ids + valp.network_ids if c not in taken]

    def known_validity(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> bool:
        # a new input/network source into a network it does not reach: no cycle, no output
        # touched, nobody loses a sender or a receiver
        return True

    def edit_size(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> EditSize:
        return EditSize(len(valp.networks), len(valp.connections) + 1)

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        return valp.with_connection(str(choice), target)

    def _apply(
        self,
        model: VALPModel,
        target: str,
        choice: Any,
        rng: np.random.Generator,
        variant: str | None,
        donor: VALPModel | None,
    ) -> VALPModel:
        detached = variant == GENTLE and self.detach_gentle
        valp = model.valp.with_connection(str(choice), target, detached)
        new = fresh_model(valp, rng, model)
        inherit_by_name(new, model)
        if variant == GENTLE:
            with torch.no_grad():
                for proj in projections_from(new, target, str(choice)):
                    proj.weights[0].zero_()
        return new


@register_operator("delete_connection")
class DeleteConnection(Operator):
    """Delete a connection into a network or a model output.

    Target: the receiving component (a network or an output). Choices: its sources whose
    connection can go (the target keeps another source and the source still sends elsewhere).
    The projection that read the source is dropped; every other weight is kept.
    """

    effect = "reducer"
    scope = "macro"

    def candidates(self, valp: VALP) -> list[str]:
        return valp.network_ids + valp.output_ids

    def raw_choices(self, valp: VALP, target: str, donor: VALP | None = None) -> list[Any]:
        return valp.predecessors(target)

    def known_validity(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> bool:
        # only the rules "receives" (target) and "sends" (source) can break
        return len(valp.predecessors(target)) > 1 and len(valp.successors(str(choice))) > 1

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        return valp.without_connection(str(choice), target)

    def _apply(
        self,
        model: VALPModel,
        target: str,
        choice: Any,
        rng: np.random.Generator,
        variant: str | None,
        donor: VALPModel | None,
    ) -> VALPModel:
        new = fresh_model(self.edit(model.valp, target, choice), rng, model)
        inherit_by_name(new, model)
        return new

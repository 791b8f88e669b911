"""The action table of the VALP environment: (operator variant, component slot) pairs.

One ordering serves every index, one-hot and mask (:func:`nasgym.valp.operators.operator_variants`):

- *variants*: the (operator, variant) pairs in that order, restricted to the env's operator set;
  gentle and aggressive variants are distinct entries (``"add_layer:gentle"``,
  ``"add_layer:aggressive"``, ``"remove_layer"``, ...);
- *slots*: ``max_networks`` network slots (``"net0"``, ``"net1"``, ...; network slot ``k`` is the
  ``k``-th network of the current model in canonical id order), then one slot per model output in
  task order (``"o:<name>"``), then the model slot ``"model"`` (for ``change_bs``).

``action = variant_index * n_slots + slot``. This module is pure Python (no torch), so agents can
read a table cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

MODEL_SLOT_NAME = "model"


@dataclass(frozen=True)
class ActionTable:
    """Operator variants x component slots, and the arithmetic between actions and pairs."""

    #: (operator name, variant or None), in the fixed order
    pairs: tuple[tuple[str, str | None], ...]
    #: the operator's ``effect`` per pair: ``reducer``, ``extender`` or ``neutral``
    effects: tuple[str, ...]
    #: number of network slots (the env's ``max_networks``)
    max_networks: int
    #: output names, in task order
    outputs: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.pairs) != len(self.effects):
            raise ValueError("ActionTable: pairs and effects must have the same length")
        if not self.pairs:
            raise ValueError("ActionTable needs at least one operator variant")
        if self.max_networks < 1:
            raise ValueError(f"max_networks must be >= 1, got {self.max_networks}")

    @property
    def variants(self) -> tuple[str, ...]:
        """Stable name of each pair: ``"add_layer:gentle"``, ``"remove_layer"``."""
        return tuple(op if v is None else f"{op}:{v}" for op, v in self.pairs)

    @property
    def slots(self) -> tuple[str, ...]:
        """Slot names: ``net0..``, ``o:<output>``..., ``model``."""
        nets = tuple(f"net{k}" for k in range(self.max_networks))
        return nets + tuple(f"o:{o}" for o in self.outputs) + (MODEL_SLOT_NAME,)

    @property
    def n_slots(self) -> int:
        """``max_networks + n_outputs + 1``."""
        return self.max_networks + len(self.outputs) + 1

    @property
    def n_actions(self) -> int:
        """Size of the ``Discrete`` action space."""
        return len(self.pairs) * self.n_slots

    @property
    def model_slot(self) -> int:
        """Index of the model slot."""
        return self.n_slots - 1

    def output_slot(self, output: str) -> int:
        """Slot of output ``output`` (a name or an ``"o:<name>"`` id)."""
        name = output[2:] if output.startswith("o:") else output
        if name not in self.outputs:
            raise ValueError(f"unknown output {output!r}; outputs are {list(self.outputs)}")
        return self.max_networks + self.outputs.index(name)

    def variant_index(self, variant: str) -> int:
        """Index of the variant named ``variant`` (``"clone_network:gentle"``)."""
        names = self.variants
        if variant not in names:
            raise ValueError(f"unknown operator variant {variant!r}; this table has {list(names)}")
        return names.index(variant)

    def encode(self, variant: int | str, slot: int) -> int:
        """The action of (variant index or name, slot)."""
        v = self.variant_index(variant) if isinstance(variant, str) else int(variant)
        if not 0 <= v < len(self.pairs) or not 0 <= int(slot) < self.n_slots:
            raise ValueError(
                f"(variant={variant!r}, slot={slot!r}) out of range: "
                f"{len(self.pairs)} variants x {self.n_slots} slots"
            )
        return v * self.n_slots + int(slot)

    def decode(self, action: int) -> tuple[int, int]:
        """``(variant index, slot)`` of ``action``."""
        a = int(action)
        if not 0 <= a < self.n_actions:
            raise ValueError(f"action {action!r} out of range: actions are 0..{self.n_actions - 1}")
        return divmod(a, self.n_slots)

    def label(self, action: int) -> str:
        """Readable name of ``action``: ``"add_layer:gentle@net2"``."""
        v, s = self.decode(action)
        return f"{self.variants[v]}@{self.slots[s]}"


__all__ = ["MODEL_SLOT_NAME", "ActionTable"]

"""VALP variation operators, registered by the paper's names.

=====================  =========  ================  ===========================  ==============
operator               effect     scope             variants                     targets
=====================  =========  ================  ===========================  ==============
``add_layer``          extender   micro             gentle, aggressive           networks
``remove_layer``       reducer    micro             none                         networks
``extend_layer``       extender   micro             gentle, aggressive           networks
``add_connection``     extender   macro             gentle, aggressive           networks (dst)
``delete_connection``  reducer    macro             none                         networks (dst)
``insert_network``     extender   macro             gentle, aggressive           networks (dst)
``delete_network``     reducer    macro             none                         networks
``clone_network``      extender   macro             gentle, aggressive           networks
``change_lr``          neutral    hyperparameter    none                         outputs
``change_sgd``         neutral    hyperparameter    none                         outputs
``change_bs``          neutral    hyperparameter    none                         ``"model"``
``crossover``          neutral    crossover         none                         outputs
=====================  =========  ================  ===========================  ==============

:func:`operator_variants` is the one ordering of (operator, variant) pairs that action tables are
built from: operators in the order above (then any user-registered ones, in registration order),
each with its variants in declared order. :func:`variant_name` gives each pair a stable name
(``"add_layer:gentle"``, ``"remove_layer"``).

Add an operator by subclassing :class:`Operator` and registering it::

    @register_operator("my_op")
    class MyOp(Operator):
        ...
"""

from __future__ import annotations

import inspect
from typing import Any

from nasgym.registry import Registry
from nasgym.valp.operators.base import (
    AGGRESSIVE,
    EFFECTS,
    GENTLE,
    SCOPES,
    EditSize,
    Operator,
)

OPERATORS: Registry[type[Operator]] = Registry("VALP operator")

#: the paper's operators, in the fixed order of :func:`operator_variants`
PAPER_ORDER: tuple[str, ...] = (
    "add_layer",
    "remove_layer",
    "extend_layer",
    "add_connection",
    "delete_connection",
    "insert_network",
    "delete_network",
    "clone_network",
    "change_lr",
    "change_sgd",
    "change_bs",
    "crossover",
)


def register_operator(
    name: str, cls: type[Operator] | None = None, *, overwrite: bool = False
) -> Any:
    """Register an :class:`Operator` subclass under ``name`` (usable as a decorator)."""

    def check(op_cls: type[Operator]) -> None:
        if op_cls.effect not in EFFECTS:
            raise ValueError(f"operator {name!r}: effect {op_cls.effect!r} not in {EFFECTS}")
        if op_cls.scope not in SCOPES:
            raise ValueError(f"operator {name!r}: scope {op_cls.scope!r} not in {SCOPES}")
        if not op_cls.variants:
            raise ValueError(f"operator {name!r}: variants must be non-empty, e.g. (None,)")

    return OPERATORS.register_subclass(name, cls, base=Operator, check=check, overwrite=overwrite)


def make_operator(name: str, **options: Any) -> Operator:
    """A fresh instance of the operator registered as ``name``, built with ``options`` (e.g.
    ``make_operator("add_connection", detach_gentle=True)``); ValueError names a bad option."""
    cls = OPERATORS.get(name)
    try:
        return cls(**options)
    except TypeError as err:
        params = [p for p in inspect.signature(cls).parameters if p not in ("args", "kwargs")]
        raise ValueError(
            f"operator {name!r} takes options {params or 'none'}, got {sorted(options)} ({err})"
        ) from None


def operator_names() -> list[str]:
    """Registered operator names: the paper's, in :data:`PAPER_ORDER`, then any others."""
    names = OPERATORS.names()
    return [n for n in PAPER_ORDER if n in OPERATORS] + [n for n in names if n not in PAPER_ORDER]


def operator_variants() -> list[tuple[str, str | None]]:
    """Every (operator name, variant) pair, in the one fixed order action tables use."""
    return [(name, v) for name in operator_names() for v in OPERATORS.get(name).variants]


def variant_name(name: str, variant: str | None) -> str:
    """Stable name of an (operator, variant) pair: ``"add_layer:gentle"``, ``"remove_layer"``."""
    return name if variant is None else f"{name}:{variant}"


def parse_variant_name(text: str) -> tuple[str, str | None]:
    """Inverse of :func:`variant_name`; raises ``ValueError`` for an unknown pair."""
    name, _, variant = text.partition(":")
    pair = (name, variant or None)
    if pair not in operator_variants():
        known = [variant_name(*p) for p in operator_variants()]
        raise ValueError(f"unknown operator variant {text!r}; known: {known}")
    return pair


# Built-in operators; importing these modules registers them.
from nasgym.valp.operators import (  # noqa: E402
    connections,  # noqa: F401
    crossover,  # noqa: F401
    hyper,  # noqa: F401
    layers,  # noqa: F401
    networks,  # noqa: F401
)

__all__ = [
    "AGGRESSIVE",
    "GENTLE",
    "EditSize",
    "OPERATORS",
    "PAPER_ORDER",
    "Operator",
    "make_operator",
    "operator_names",
    "operator_variants",
    "parse_variant_name",
    "register_operator",
    "variant_name",
]

"""The VALP variation-operator interface.

An operator is a stateless class registered by name in :data:`nasgym.valp.operators.OPERATORS`.
It answers three questions about a model:

- :meth:`Operator.targets`: the component ids it can be applied to while keeping the model
  structurally correct (this is an action mask, so it is exact: a target is listed iff
  :meth:`Operator.apply` succeeds on it);
- :meth:`Operator.choices`: the concrete choices inside one target (a layer position, the source
  of a new connection, ...); a target is listed iff it has at least one choice;
- :meth:`Operator.apply`: a *new* model (descriptor and weights); the input model is never changed.

Structural validity of an operator's result depends only on the graph edit (which component,
which choice), never on the variant or on random draws (widths, activations, initial weights),
so subclasses describe the edit once, in :meth:`Operator.edit`, and the base class derives
choices, targets and the validity checks from it. Building and validating every edit is the
slow reference; where the answer can be read off a valid model directly, a subclass says so in
:meth:`Operator.known_validity` (and :meth:`Operator.edit_size` for the env's size limits),
which the action mask uses instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nasgym.valp.descriptor import VALP, StructureError

if TYPE_CHECKING:
    from nasgym.valp.model import VALPModel

EFFECTS: tuple[str, ...] = ("reducer", "extender", "neutral")
SCOPES: tuple[str, ...] = ("micro", "macro", "hyperparameter", "crossover")
GENTLE = "gentle"
AGGRESSIVE = "aggressive"
EXTENDER_VARIANTS: tuple[str, str] = (GENTLE, AGGRESSIVE)


@dataclass(frozen=True)
class EditSize:
    """Sizes of an edited descriptor, read off the model before the edit.

    ``networks`` and ``connections`` count the edited model's; ``deepest`` is the largest
    number of layers and ``widest`` the largest layer width among the networks the edit adds or
    changes (0 when none): every other network keeps its layers.
    """

    networks: int
    connections: int
    deepest: int = 0
    widest: int = 0


def widest_layer(*networks: Any) -> int:
    """The largest layer width among ``networks`` (0 when they have no layers)."""
    return max((layer.width for net in networks for layer in net.layers), default=0)


def draw_width(rng: np.random.Generator, w: int, max_width: int | None = None) -> int:
    """A width drawn uniformly from ``[w // 2, 2 w]``, capped at ``max_width`` (one draw of
    ``rng`` either way, so a cap that does not bind leaves the trajectory as it was)."""
    hi = 2 * w if max_width is None else max(1, min(2 * w, int(max_width)))
    return int(rng.integers(min(max(1, w // 2), hi), hi + 1))


class Operator:
    """Base class of VALP variation operators (see the module docstring).

    Subclasses set the class attributes and implement :meth:`candidates`,
    :meth:`raw_choices`, :meth:`edit` and :meth:`_apply`.
    """

    #: registered name (set by ``register_operator``)
    name: ClassVar[str] = ""
    #: ``"reducer"``, ``"extender"`` or ``"neutral"``
    effect: ClassVar[str] = "neutral"
    #: ``("gentle", "aggressive")`` for extenders, ``(None,)`` otherwise
    variants: ClassVar[tuple[str | None, ...]] = (None,)
    #: ``"micro"``, ``"macro"``, ``"hyperparameter"`` or ``"crossover"``
    scope: ClassVar[str] = "macro"
    #: whether :meth:`apply` needs a ``donor`` model
    needs_donor: ClassVar[bool] = False
    #: True when :meth:`_apply` draws layer widths and takes a ``max_width`` cap (keyword)
    draws_width: ClassVar[bool] = False
    #: True when the edit never changes the graph (only layer widths/hyperparameters), so every
    #: raw choice on a valid model is valid (:meth:`known_validity` says so without checking)
    keeps_graph: ClassVar[bool] = False

    # ------------------------------------------------------------------ to implement
    def candidates(self, valp: VALP) -> list[str]:
        """Component ids of the kind this operator acts on (before any validity check)."""
        raise NotImplementedError

    def raw_choices(self, valp: VALP, target: str, donor: VALP | None = None) -> list[Any]:
        """Every choice inside ``target`` that makes sense (validity is checked separately)."""
        return [None]

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        """The descriptor after the edit, with default sizes (used for validity checks)."""
        raise NotImplementedError

    def _apply(
        self,
        model: VALPModel,
        target: str,
        choice: Any,
        rng: np.random.Generator,
        variant: str | None,
        donor: VALPModel | None,
    ) -> VALPModel:
        """Build the new model; ``target``, ``choice``, ``variant`` are already checked."""
        raise NotImplementedError

    # ------------------------------------------------------------------ descriptor-level answers
    def known_validity(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> bool | None:
        """For a *valid* ``valp`` and a ``choice`` from :meth:`raw_choices`: whether the edit
        keeps the model valid, read off ``valp`` without building the edit; ``None`` when only
        building and validating the edit can tell (the default, except for :attr:`keeps_graph`).

        Overrides must agree with :meth:`is_valid` on every such input (tested exhaustively on
        random models in ``tests/valp/test_fast_validity.py``).
        """
        return True if self.keeps_graph else None

    def edit_size(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> EditSize | None:
        """The :class:`EditSize` of :meth:`edit`'s result for a valid ``valp`` and a valid raw
        ``choice``, read off ``valp`` without building it; ``None`` when unknown (the default)."""
        return None

    def trusted_validity(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> bool | None:
        """:meth:`known_validity`, or ``None`` when a subclass overrides :meth:`edit` or
        :meth:`raw_choices` below the class that answers it (the answer may not hold then)."""
        if not _answers_hold(type(self), "known_validity"):
            return None
        return self.known_validity(valp, target, choice, donor)

    def trusted_edit_size(
        self, valp: VALP, target: str, choice: Any, donor: VALP | None = None
    ) -> EditSize | None:
        """:meth:`edit_size`, or ``None`` under the same condition as :meth:`trusted_validity`."""
        if not _answers_hold(type(self), "edit_size"):
            return None
        return self.edit_size(valp, target, choice, donor)

    # ------------------------------------------------------------------ derived API
    def is_valid(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> bool:
        """Whether applying to ``target`` with ``choice`` yields a structurally valid VALP."""
        try:
            self.edit(valp, target, choice, donor).validate()
        except (StructureError, ValueError):
            return False
        return True

    def choices(self, valp: VALP, target: str, *, donor: VALP | None = None) -> list[Any]:
        """Concrete choices inside ``target`` that keep the model valid (``[None]``: nothing to choose)."""
        if target not in self.candidates(valp):
            return []
        raw = self.raw_choices(valp, target, donor)
        if not valp.is_valid():
            return [c for c in raw if self.is_valid(valp, target, c, donor)]
        out = []
        for c in raw:
            ok = self.trusted_validity(valp, target, c, donor)
            if ok is None:
                ok = self.is_valid(valp, target, c, donor)
            if ok:
                out.append(c)
        return out

    def targets(self, valp: VALP, *, donor: VALP | None = None) -> list[str]:
        """Every component id this operator can be applied to (exact action mask)."""
        return [t for t in self.candidates(valp) if self.choices(valp, t, donor=donor)]

    def check_variant(self, variant: str | None) -> str | None:
        """``variant`` checked against :attr:`variants` (``None`` means the first variant)."""
        if variant is None:
            return self.variants[0]
        if variant not in self.variants:
            raise ValueError(
                f"operator {self.name!r} has variants {self.variants}, got variant={variant!r}"
            )
        return variant

    def why_not(self, valp: VALP, target: str, donor: VALP | None = None) -> str:
        """A sentence saying why ``target`` is not a valid target (for error messages)."""
        if target not in self.candidates(valp):
            return (
                f"{target!r} is not a component {self.name!r} acts on; "
                f"candidates are {self.candidates(valp)}"
            )
        reasons = []
        for choice in self.raw_choices(valp, target, donor)[:3]:
            try:
                self.edit(valp, target, choice, donor).validate()
            except (StructureError, ValueError) as err:
                reasons.append(f"choice {choice!r}: {err}")
        detail = "; ".join(reasons) if reasons else "there is nothing to choose inside it"
        return f"applying {self.name!r} to {target!r} would break the model ({detail})"

    def apply(
        self,
        model: VALPModel,
        target: str,
        rng: np.random.Generator,
        *,
        variant: str | None = None,
        choice: Any = None,
        donor: VALPModel | None = None,
        max_width: int | None = None,
    ) -> VALPModel:
        """Return a new model with the operator applied to ``target``; ``model`` is untouched.

        ``choice=None`` draws one of :meth:`choices` with ``rng``; ``variant=None`` means the
        first of :attr:`variants`. ``max_width`` caps the widths an aggressive edit draws (the
        env's ``Padding.max_width``); a result whose widest layer exceeds both ``max_width`` and
        ``model``'s widest raises. Raises ``ValueError`` naming why when ``target``, ``choice``
        or ``variant`` cannot be applied.
        """
        variant = self.check_variant(variant)
        if self.needs_donor and donor is None:
            raise ValueError(f"operator {self.name!r} needs a donor model: pass donor=<VALPModel>")
        donor_valp = donor.valp if (donor is not None and self.needs_donor) else None
        valp = model.valp
        options = self.choices(valp, target, donor=donor_valp)
        if not options:
            raise ValueError(self.why_not(valp, target, donor_valp))
        if choice is None:
            choice = options[int(rng.integers(len(options)))]
        elif choice not in options:
            raise ValueError(
                f"choice {choice!r} is not valid for {self.name!r} on {target!r}; "
                f"valid choices are {options}"
            )
        cap = {"max_width": max_width} if self.draws_width else {}
        new = self._apply(
            model, target, choice, rng, variant, donor if self.needs_donor else None, **cap
        )
        new.valp.validate()
        widest = widest_layer(*new.valp.networks)
        if max_width is not None and widest > max(max_width, widest_layer(*valp.networks)):
            raise ValueError(
                f"{self.name!r} on {target!r} (choice {choice!r}) gives a layer of "
                f"{widest} units > max_width={max_width}"
            )
        return new

    def __repr__(self) -> str:
        return f"<operator {self.name} effect={self.effect} scope={self.scope}>"


def _owner(cls: type, name: str) -> type:
    return next(k for k in cls.__mro__ if name in k.__dict__)


@lru_cache(maxsize=1024)
def _answers_hold(cls: type[Operator], method: str) -> bool:
    """Whether ``cls.<method>`` (a descriptor-level answer) was written for ``cls``'s own
    :meth:`~Operator.edit` and :meth:`~Operator.raw_choices`: defined in the class that defines
    them or in a subclass of it. The base class's answers (``keeps_graph``, None) always hold."""
    owner = _owner(cls, method)
    if owner is Operator:
        return True
    return all(issubclass(owner, _owner(cls, name)) for name in ("edit", "raw_choices"))

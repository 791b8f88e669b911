"""Hyperparameter operators: ``change_lr``, ``change_sgd``, ``change_bs``.

They change the descriptor's training hyperparameters and keep every weight. Whoever trains the
new model builds new optimizers from the descriptor, so optimizer state (momentum, Adam moments)
starts afresh after any of these operators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from nasgym.valp.descriptor import OPTIMIZERS, VALP, OutputHParams
from nasgym.valp.operators import register_operator
from nasgym.valp.operators._weights import same_weights
from nasgym.valp.operators.base import Operator

if TYPE_CHECKING:
    from nasgym.valp.model import VALPModel

#: learning rates stay within these bounds (the result is clipped)
LR_BOUNDS: tuple[float, float] = (1e-5, 1.0)
#: the lr factor is drawn log-uniformly from [1 / LR_FACTOR_MAX, LR_FACTOR_MAX]
LR_FACTOR_MAX = 10.0
#: batch sizes stay within these bounds (inclusive)
BATCH_BOUNDS: tuple[int, int] = (8, 512)


class _HyperOperator(Operator):
    """A hyperparameter operator: the edited descriptor with the same weights."""

    effect = "neutral"
    scope = "hyperparameter"

    def _apply(
        self,
        model: VALPModel,
        target: str,
        choice: Any,
        rng: np.random.Generator,
        variant: str | None,
        donor: VALPModel | None,
    ) -> VALPModel:
        return same_weights(model, self.edit(model.valp, target, choice))


@register_operator("change_lr")
class ChangeLR(_HyperOperator):
    """Multiply one output's learning rate by a log-uniform factor in [1/10, 10].

    Targets: outputs (``"o:<name>"``). Choices: ``[None]`` (the factor is drawn from ``rng``);
    a positive float ``choice`` is taken as the factor itself. The result is clipped to
    :data:`LR_BOUNDS`. Weights are unchanged.
    """

    def candidates(self, valp: VALP) -> list[str]:
        return valp.output_ids

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        factor = 1.0 if choice is None else float(choice)
        return _with_lr(valp, target, factor)

    def choices(self, valp: VALP, target: str, *, donor: VALP | None = None) -> list[Any]:
        return [None] if target in valp.output_ids else []

    def apply(
        self,
        model: VALPModel,
        target: str,
        rng: np.random.Generator,
        *,
        variant: str | None = None,
        choice: Any = None,
        donor: VALPModel | None = None,
    ) -> VALPModel:
        """Return a copy of ``model`` with output ``target``'s lr multiplied by a factor."""
        self.check_variant(variant)
        if target not in model.valp.output_ids:
            raise ValueError(self.why_not(model.valp, target))
        if choice is None:
            factor = float(np.exp(rng.uniform(-np.log(LR_FACTOR_MAX), np.log(LR_FACTOR_MAX))))
        else:
            try:
                factor = float(choice)
            except (TypeError, ValueError):
                factor = float("nan")
            if isinstance(choice, bool | str) or not (np.isfinite(factor) and factor > 0):
                raise ValueError(
                    f"change_lr: choice is the lr factor, a finite number > 0 (or None to draw "
                    f"one), got {choice!r}"
                )
        return same_weights(model, _with_lr(model.valp, target, factor).validate())


def _with_lr(valp: VALP, target: str, factor: float) -> VALP:
    name = target[2:]
    old = valp.hparam(name)
    lr = float(np.clip(old.lr * factor, *LR_BOUNDS))
    return valp.with_hparams({name: OutputHParams(lr, old.optimizer)})


@register_operator("change_sgd")
class ChangeSGD(_HyperOperator):
    """Switch one output's optimizer to a different one (``adam``, ``sgd``, ``rmsprop``, ``adagrad``).

    Targets: outputs. Choices: the optimizer names other than the current one. The lr and the
    weights are kept; the new optimizer starts with empty state.
    """

    keeps_graph = True

    def candidates(self, valp: VALP) -> list[str]:
        return valp.output_ids

    def raw_choices(self, valp: VALP, target: str, donor: VALP | None = None) -> list[Any]:
        current = valp.hparam(target).optimizer
        return [o for o in OPTIMIZERS if o != current]

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        old = valp.hparam(target)
        return valp.with_hparams({target[2:]: OutputHParams(old.lr, str(choice))})


@register_operator("change_bs")
class ChangeBS(_HyperOperator):
    """Halve or double the model's batch size, staying within [8, 512].

    Target: ``"model"``. Choices: ``"halve"`` and/or ``"double"`` (those that stay within
    :data:`BATCH_BOUNDS`). Weights are unchanged.
    """

    keeps_graph = True

    def candidates(self, valp: VALP) -> list[str]:
        return ["model"]

    def raw_choices(self, valp: VALP, target: str, donor: VALP | None = None) -> list[Any]:
        lo, hi = BATCH_BOUNDS
        out = []
        if lo <= valp.batch_size // 2 and valp.batch_size // 2 <= hi:
            out.append("halve")
        if lo <= valp.batch_size * 2 <= hi:
            out.append("double")
        return out

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        bs = valp.batch_size // 2 if choice == "halve" else valp.batch_size * 2
        return valp.with_hparams(batch_size=bs)

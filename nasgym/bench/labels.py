"""Names, units and number formats shared by the bench summary and the plots.

An env may declare ``cost_unit`` (a string) on its class; the nasgym envs that do not yet are
listed in :data:`COST_UNITS`.
"""

from __future__ import annotations

import math
import re

#: axis labels (with units) of known objectives; others get "<name> (lower is better)"
OBJECTIVE_LABELS: dict[str, str] = {
    "test_error": "test error (%)",
    "params": "parameters (M)",
    "latency": "latency (ms)",
    "flops": "FLOPs (M)",
    "error": "error (fraction)",
    "class": "classification error (fraction)",
    "hist": "histogram MSE",
    "sample": "sampling score (Fréchet distance)",
}

#: the unit of ``info["cost"]`` of the nasgym envs that do not declare ``cost_unit``
COST_UNITS: dict[str, str] = {
    "nasgym/NB201-v0": "simulated s",
    "nasgym/NB201Seq-v0": "simulated s",
    "nasgym/VALP-v0": "training batches",
    "nasgym/Cell-v0": "training batches",
}

#: short units of known objectives and info entries, for table headers
UNITS: dict[str, str] = {
    "test_error": "%",
    "params": "M",
    "latency": "ms",
    "flops": "M",
    "class": "fraction",
    "error": "fraction",
    "hist": "MSE",
    "sample": "FD",
    "best_test_acc_200": "%",
    "best_valid_acc_12": "%",
    "test_acc_200": "%",
    "valid_acc_12": "%",
    "train_time": "s",
}

#: info entries that name a model rather than measure it: never averaged
_IDENTIFIER = re.compile(r"(^|[._])(index|idx|id|arch|hash|key|seed|target|operator)($|[._])")

#: significant figures of every mean in the summary
SIG_FIGS = 3


def objective_label(name: str) -> str:
    """Axis label of objective ``name``, with its unit."""
    return OBJECTIVE_LABELS.get(name, f"{name} (lower is better)")


def is_identifier(key: str) -> bool:
    """Whether info entry ``key`` identifies a model (an index, an architecture string...)."""
    return bool(_IDENTIFIER.search(key))


def cost_unit(env_id: str) -> str:
    """The unit of ``info["cost"]`` of ``env_id`` (the env class's ``cost_unit``, else
    :data:`COST_UNITS`, else ``"cost units"``)."""
    try:
        import gymnasium as gym

        entry = gym.spec(env_id).entry_point
        if isinstance(entry, str):
            from gymnasium.envs.registration import load_env_creator

            entry = load_env_creator(entry)
        unit = getattr(entry, "cost_unit", None)
        if isinstance(unit, str) and unit:
            return unit
    except Exception:  # noqa: BLE001 - an unknown env id only loses its declared unit
        pass
    return COST_UNITS.get(env_id, "cost units")


def with_unit(name: str, unit: str | None) -> str:
    """``name (unit)``, or ``name`` without a unit."""
    return f"{name} ({unit})" if unit else name


def decimals(value: float, sig: int = SIG_FIGS) -> int:
    """Decimals that show ``value`` with ``sig`` significant figures (0 for large values)."""
    if value == 0 or not math.isfinite(value):
        return sig - 1
    return max(0, sig - 1 - math.floor(math.log10(abs(value))))


def fmt_number(value: float | None, sig: int = SIG_FIGS) -> str:
    """``value`` rounded to ``sig`` significant figures (``-`` for None, ``inf``/``nan`` kept)."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 10 ** (sig + 3) or (value != 0 and abs(value) < 10 ** -(sig + 1)):
        return f"{value:.{sig - 1}e}"
    return f"{value:.{decimals(value, sig)}f}"


def fmt_mean_std(mean: float, std: float, sig: int = SIG_FIGS) -> str:
    """``mean ± std`` with the mean at ``sig`` significant figures and the std at the same
    decimals."""
    if not math.isfinite(mean) or abs(mean) >= 10 ** (sig + 3):
        return f"{fmt_number(mean, sig)} ± {fmt_number(std, 2)}"
    d = decimals(mean, sig)
    return f"{mean:.{d}f} ± {std:.{d}f}"

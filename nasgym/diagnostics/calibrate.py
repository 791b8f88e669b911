"""Per-output slope thresholds calibrated from recorded runs (the paper's thresholds were
"estimated from the initial experimentation"; nasgym estimates them from data too).

The rules agent reads each output's *trend* (``obs["loss_gain"]``: the projected fraction of the
excess loss lost over the next env step, unit-free, with its t-statistic ``obs["loss_gain_t"]``;
see :func:`nasgym.diagnostics.slope.loss_trend`). An output is *stuck* when its gain is below
``stuck_gain`` and its trend is not significantly negative (t > -2), *steep* when its gain is
above ``steep_gain``, *moderate* otherwise. Calibrated per output from the gains observed in a
run (e.g. ``nasgym bench --agent random``, whose steps record ``info["loss_gain"]``, or the
``gain_before.<output>`` / ``gain_after.<output>`` columns of ``nasgym characterize``, which
writes its own ``thresholds.json``): ``stuck_gain`` is the ``low`` quantile
(default 0.2) and ``steep_gain`` the ``high`` quantile (default 0.8) of that output's gains, so
that about a fifth of the states read stuck and a fifth steep.

File format (JSON, written by :func:`write_thresholds`, read by :func:`read_thresholds` and by the
rules agent's ``thresholds=PATH``)::

    {"format": "nasgym-thresholds/1", "slopes": "trend", "quantiles": [0.2, 0.8],
     "n": {"class": 1200, ...}, "source": "...",
     "outputs": {"class": {"stuck_gain": 0.001, "steep_gain": 0.02}, ...}}
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "nasgym-thresholds/1"


def calibrate_thresholds(
    gains: Mapping[str, Sequence[float]], low: float = 0.2, high: float = 0.8, source: str = ""
) -> dict[str, Any]:
    """Thresholds per output from observed projected gains (see the module docstring)."""
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"need 0 < low < high < 1, got low={low}, high={high}")
    outputs, counts = {}, {}
    for name, values in gains.items():
        arr = np.asarray([v for v in values if math.isfinite(float(v))], dtype=np.float64)
        if len(arr) < 10:
            raise ValueError(
                f"output {name!r} has {len(arr)} finite gains; calibration needs at least 10 "
                "(record a longer run)"
            )
        stuck, steep = np.quantile(arr, [low, high])
        if not steep > stuck:
            steep = stuck + max(abs(stuck), 1e-9)
        outputs[name] = {"stuck_gain": float(stuck), "steep_gain": float(steep)}
        counts[name] = len(arr)
    if not outputs:
        raise ValueError("no gains to calibrate from")
    return {
        "format": FORMAT,
        "slopes": "trend",
        "quantiles": [low, high],
        "n": counts,
        "source": source,
        "outputs": outputs,
    }


def _per_output(info: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``info[name]`` per output: a nested dict, or the bench store's flat ``name.<output>``
    entries."""
    nested = info.get(name)
    if isinstance(nested, Mapping):
        return {str(k): v for k, v in nested.items()}
    prefix = name + "."
    return {k[len(prefix) :]: v for k, v in info.items() if k.startswith(prefix)}


def gains_from_records(records: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Per output, the ``loss_gain`` of every bench step record (``info["loss_gain"]``, kept by
    the bench store as ``info`` entries ``loss_gain.<output>`` or a nested dict)."""
    out: dict[str, list[float]] = {}
    for rec in records:
        for name, value in _per_output(rec.get("info") or {}, "loss_gain").items():
            if value is not None:
                out.setdefault(name, []).append(float(value))
    return out


def trends_from_records(
    records: Iterable[Mapping[str, Any]],
) -> dict[str, list[tuple[float, float]]]:
    """Per output, ``(loss_gain, loss_gain_t)`` of every bench step record holding both and
    finite (stored as :func:`gains_from_records` reads them)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for rec in records:
        info = rec.get("info") or {}
        ts = _per_output(info, "loss_gain_t")
        for name, gain in _per_output(info, "loss_gain").items():
            t = ts.get(name)
            if gain is not None and t is not None and math.isfinite(gain) and math.isfinite(t):
                out.setdefault(name, []).append((float(gain), float(t)))
    return out


def write_thresholds(thresholds: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``thresholds`` as JSON atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(thresholds, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)
    return path


def shipped_thresholds() -> dict[str, Path]:
    """Thresholds files shipped with nasgym, by name (``mnist``: calibrated from random search on
    MNIST at ``nasgym/VALP-Paper-v0``'s settings with 250 initial and 50 batches per step; its
    ``source`` field holds the commands that rebuild it)."""
    folder = Path(__file__).with_name("thresholds")
    return {p.stem: p for p in sorted(folder.glob("*.json"))}


def read_thresholds(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a thresholds file; errors name the file and what is wrong."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"thresholds file {str(path)!r} not found; write one with `nasgym calibrate`"
        ) from None
    except json.JSONDecodeError as err:
        raise ValueError(f"thresholds file {str(path)!r} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a nasgym thresholds file (format {FORMAT!r})")
    for name, entry in (data.get("outputs") or {}).items():
        if not isinstance(entry, dict) or not {"stuck_gain", "steep_gain"} <= set(entry):
            raise ValueError(f"{str(path)!r}: output {name!r} needs stuck_gain and steep_gain")
    return data


__all__ = [
    "FORMAT",
    "calibrate_thresholds",
    "gains_from_records",
    "read_thresholds",
    "shipped_thresholds",
    "trends_from_records",
    "write_thresholds",
]

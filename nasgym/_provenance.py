"""Which code, and which machine, wrote a result.

Bench runs store both in their done marker, so that a folder resumed across a code change or on
another machine says so instead of mixing them silently:

- ``code`` (:func:`code_version`): the nasgym version, and the git commit of a source checkout;
- ``platform`` (:func:`compute_platform`): the torch version, the CPU kernels torch dispatches to
  and the CPU. The same seed follows the same trajectory on the same platform only: torch's CPU
  kernels for different instruction sets round differently (measured by
  ``benchmarks/platform_drift.py``), and a VALP search amplifies the last bits into other
  accept/reject decisions within a few steps.
"""

from __future__ import annotations

import functools
import platform
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(_PACKAGE), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.cache
def code_version() -> str:
    """``VERSION``, or ``VERSION+gCOMMIT`` when nasgym runs from a git checkout of its own source
    (``.dirty`` appended when tracked files differ from that commit).

    A wheel installed inside some other repository reads as the plain version: the checkout only
    counts when its top level holds this package. Computed once per process.
    """
    from nasgym import __version__

    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() / "nasgym" != _PACKAGE:
        return __version__
    commit = _git("rev-parse", "--short=12", "HEAD")
    if commit is None:
        return __version__
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return f"{__version__}+g{commit}" + (".dirty" if dirty else "")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


@functools.cache
def compute_platform() -> str:
    """``torch VERSION, CAPABILITY, CPU``: what decides the floating-point results of a CPU run,
    e.g. ``torch 2.13.0, AVX2, AMD EPYC``. CAPABILITY is the kernel set torch dispatches to
    (``ATEN_CPU_CAPABILITY`` lowers it). Computed once per process."""
    import torch

    return f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, {_cpu_name()}"


def provenance_counts(records: Iterable[Mapping[str, Any]], field: str) -> dict[str, int]:
    """How many records carry each value of ``field`` (``code`` or ``platform``), sorted;
    ``"unrecorded"`` for records written before nasgym stored it."""
    counts: dict[str, int] = {}
    for record in records:
        value = record.get(field) or "unrecorded"
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def listed_mix(counts: Mapping[str, int], unit: str = "runs") -> str | None:
    """``"A (n runs), B (m runs)"`` when ``counts`` holds more than one value; None otherwise."""
    if len(counts) < 2:
        return None
    return ", ".join(f"{value} ({n} {unit})" for value, n in counts.items())


__all__ = ["code_version", "compute_platform", "listed_mix", "provenance_counts"]

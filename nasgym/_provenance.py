"""Which code wrote a result: the nasgym version, and the git commit of a source checkout.

Bench runs store it in their done marker (``code``), so that a folder resumed across code changes
says so instead of mixing versions silently (:func:`code_version`).
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

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


__all__ = ["code_version"]

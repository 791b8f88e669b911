"""Kill a subprocess (a bench, sweep or study under test) once it has got far enough.

``tests/`` is on ``sys.path`` under pytest, so any test imports this as ``processes``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable


def kill_when(
    proc: subprocess.Popen,
    ready: Callable[[], bool],
    timeout: float,
    what: str,
    sig: int = signal.SIGKILL,
) -> None:
    """Send ``sig`` to ``proc`` as soon as ``ready()``; fail if ``proc`` ends first or ``ready``
    is not met within ``timeout`` seconds (``what`` says what was awaited). ``proc`` is reaped,
    and killed for good if anything failed."""
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, f"the process ended before {what}"
            assert time.monotonic() < deadline, f"no {what} in {timeout:g} s"
            time.sleep(0.02)
        os.kill(proc.pid, sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

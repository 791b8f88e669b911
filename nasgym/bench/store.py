"""The durable results store: ``DIR/results.jsonl``, appended one fsync'ed line per record.

One process writes at a time: :meth:`ResultsStore.open` takes an exclusive ``flock`` on
``DIR/.lock`` (a second ``nasgym bench`` on the same folder fails at once), and only that
process appends. A run killed mid-write leaves at most a torn last line; :meth:`load` ignores it
with a warning and cuts it off, so the next append starts on a fresh line.
"""

from __future__ import annotations

import fcntl
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from nasgym.bench.records import RunKey, dumps, record_key

RESULTS_FILE = "results.jsonl"
LOCK_FILE = ".lock"


class ResultsWarning(UserWarning):
    """A results file needed repair (torn last line, unreadable or duplicate records)."""


@dataclass
class RunProgress:
    """What the store already holds of one run: the steps written and whether it finished."""

    steps: set[int] = field(default_factory=set)
    done: bool = False


def read_records(path: Path | str, repair: bool = False) -> list[dict[str, Any]]:
    """Every well-formed record of a results file, without duplicates, in file order.

    A torn last line (a write cut short) is skipped with a :class:`ResultsWarning`; with
    ``repair`` it is also cut off the file. Unreadable middle lines and duplicate records are
    skipped with a warning.
    """
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    *lines, tail = data.split(b"\n")
    records: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for i, raw in enumerate(lines):
        if raw.strip():
            _keep(_parse(raw), i + 1, path, records, seen)
    if tail.strip():
        rec = _parse(tail)
        if rec is None:
            warnings.warn(
                f"{path}: ignoring a torn last line ({len(tail)} bytes) left by an interrupted write",
                ResultsWarning,
                stacklevel=2,
            )
            if repair:
                _truncate(path, len(data) - len(tail))
        else:
            _keep(rec, len(lines) + 1, path, records, seen)
            if repair:
                with open(path, "ab") as fh:
                    fh.write(b"\n")
                    fh.flush()
                    os.fsync(fh.fileno())
    elif tail and repair:
        _truncate(path, len(data) - len(tail))
    return records


def _keep(
    rec: dict[str, Any] | None,
    line: int,
    path: Path,
    records: list[dict[str, Any]],
    seen: set[tuple[Any, ...]],
) -> None:
    if rec is None:
        warnings.warn(f"{path}: skipping unreadable line {line}", ResultsWarning, stacklevel=3)
        return
    ident = _identity(rec)
    if ident in seen:
        warnings.warn(
            f"{path}: skipping duplicate record on line {line}: {ident}",
            ResultsWarning,
            stacklevel=3,
        )
        return
    seen.add(ident)
    records.append(rec)


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        rec = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(rec, dict) or rec.get("type") not in ("step", "done"):
        return None
    try:
        record_key(rec)
    except (KeyError, TypeError, ValueError):
        return None
    return rec


def _identity(rec: dict[str, Any]) -> tuple[Any, ...]:
    return (*record_key(rec), rec["type"], rec.get("step"))


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)
        fh.flush()
        os.fsync(fh.fileno())


class ResultsStore:
    """Append-only, crash-safe store of bench records in ``out_dir/results.jsonl``."""

    def __init__(self, out_dir: Path | str) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / RESULTS_FILE
        self._fh: IO[bytes] | None = None
        self._lock: IO[bytes] | None = None

    def open(self) -> list[dict[str, Any]]:
        """Create the folder, take the writer lock, repair a torn tail; return the stored records."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self.out_dir / LOCK_FILE, "ab")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise RuntimeError(
                f"another process is writing to {self.out_dir} (lock {self.out_dir / LOCK_FILE} is "
                "held); wait for it to finish or use another --out folder"
            ) from None
        self._lock = lock
        records = read_records(self.path, repair=True)
        new = not self.path.exists()
        self._fh = open(self.path, "ab")
        if new:
            _fsync_dir(self.out_dir)
        return records

    @staticmethod
    def progress(records: list[dict[str, Any]]) -> dict[RunKey, RunProgress]:
        """Per run key, the steps stored and whether the run's done marker is there."""
        out: dict[RunKey, RunProgress] = {}
        for rec in records:
            prog = out.setdefault(record_key(rec), RunProgress())
            if rec["type"] == "done":
                prog.done = True
            else:
                prog.steps.add(int(rec["step"]))
        return out

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as a line and force it to disk before returning."""
        if self._fh is None:
            raise RuntimeError("ResultsStore.append called before open()")
        self._fh.write((dumps(record) + "\n").encode())
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def records(self) -> Iterator[dict[str, Any]]:
        """The records stored so far."""
        yield from read_records(self.path)

    def close(self) -> None:
        """Close the file and release the writer lock."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._lock is not None:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""The durable results store: ``DIR/results.jsonl``, appended one fsync'ed line per record.

One process writes at a time: :meth:`ResultsStore.open` takes an exclusive ``flock`` on
``DIR/.lock`` (a second ``nasgym bench`` on the same folder fails at once; the lock file is
removed on close), and only that process appends. A run killed mid-write leaves at most a torn
last line; :func:`read_records` ignores it with a warning.

Nothing readable is ever dropped, and no step is silently lost. When :meth:`ResultsStore.open`
finds a torn last line, an unreadable line anywhere in the file, a duplicate record, or a run
whose done marker is stored while one of its steps is not (the step's line was unreadable), it
rewrites the file atomically (a temporary file, fsync'ed, renamed over the old one) with every
readable record and without the done markers of such runs, so that they are replayed and their
missing steps stored. Unreadable lines are kept, with their line numbers, in
``DIR/results.unreadable``. What was repaired is returned (:class:`Repair`) and reported.

A finished folder may be archived as ``DIR/results.jsonl.gz`` (``gzip results.jsonl``): every
reader (:func:`read_records`, :func:`results_file`, so ``nasgym plot``, ``nasgym calibrate`` and
the ``benchmarks/`` scripts) takes it as it takes the plain file. Only the plain file is appended
to: :meth:`ResultsStore.open` refuses a folder that holds the archive alone (a run there would
start over beside it); ``gunzip`` it to resume.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from nasgym.bench.records import RunKey, dumps, record_key

RESULTS_FILE = "results.jsonl"
#: an archived (gzip-compressed) results file, read where the plain one is absent
RESULTS_ARCHIVE = RESULTS_FILE + ".gz"
LOCK_FILE = ".lock"
UNREADABLE_FILE = "results.unreadable"
#: where :meth:`ResultsStore.set_aside` keeps the records of runs it takes out of the results
SUPERSEDED_FILE = "results.superseded.jsonl"


class ResultsWarning(UserWarning):
    """A results file needed repair (torn last line, unreadable or duplicate records)."""


@dataclass
class RunProgress:
    """What the store already holds of one run: the steps written and whether it finished."""

    steps: set[int] = field(default_factory=set)
    done: bool = False


@dataclass
class Scan:
    """A results file read line by line: the records kept and what was skipped."""

    records: list[dict[str, Any]] = field(default_factory=list)
    #: (line number, raw bytes) of lines that are not a well-formed record
    unreadable: list[tuple[int, bytes]] = field(default_factory=list)
    #: line numbers of records already seen
    duplicates: list[int] = field(default_factory=list)
    #: bytes of a torn last line (a write cut short), if any
    torn: bytes = b""
    #: whether the file ends without a newline after a complete record
    open_end: bool = False


@dataclass
class Repair:
    """What :meth:`ResultsStore.open` repaired: unreadable lines, duplicates, a torn tail, and
    per run whose done marker was dropped (it will be replayed) the steps that were missing."""

    unreadable: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    torn: bool = False
    replayed: dict[RunKey, list[int]] = field(default_factory=dict)
    saved_to: Path | None = None

    def __bool__(self) -> bool:
        return bool(self.unreadable or self.duplicates or self.torn or self.replayed)

    def lines(self) -> list[str]:
        """What was repaired, one line each, for the user."""
        out = []
        if self.unreadable:
            out.append(
                f"{len(self.unreadable)} unreadable line(s) ({_numbers(self.unreadable)}) "
                f"removed; their bytes are kept in {self.saved_to}"
            )
        if self.duplicates:
            out.append(
                f"{len(self.duplicates)} duplicate record(s) removed (lines "
                f"{_numbers(self.duplicates)})"
            )
        if self.torn:
            out.append("a torn last line (a write cut short) removed")
        for (env, env_kw, agent, agent_kw, seed), steps in self.replayed.items():
            what = f"step(s) {_numbers(steps)} missing" if steps else "done marker unreadable"
            kw = "" if env_kw == "{}" else f" {env_kw}"
            akw = "" if agent_kw == "{}" else f" {agent_kw}"
            out.append(f"run {env}{kw} / {agent}{akw} / seed {seed}: {what}; it is replayed")
        return out


def _numbers(values: list[int], shown: int = 8) -> str:
    text = ", ".join(str(v) for v in values[:shown])
    return text + (f" and {len(values) - shown} more" if len(values) > shown else "")


def results_file(folder: Path | str) -> Path:
    """The results file of a bench folder: ``results.jsonl``, else its archive
    ``results.jsonl.gz`` where only that is there (the plain name when neither is)."""
    folder = Path(folder)
    plain = folder / RESULTS_FILE
    archive = folder / RESULTS_ARCHIVE
    return archive if not plain.exists() and archive.exists() else plain


def scan(path: Path | str) -> Scan:
    """Read a results file (plain, or gzip-compressed where its name ends in ``.gz``): every
    well-formed record once, in file order, and what was skipped."""
    path = Path(path)
    out = Scan()
    if not path.exists():
        return out
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path} is not a readable gzip archive of results: {err}") from err
    *lines, tail = data.split(b"\n")
    seen: set[tuple[Any, ...]] = set()
    for i, raw in enumerate(lines):
        if raw.strip():
            _keep(_parse(raw), raw, i + 1, out, seen)
    if tail.strip():
        rec = _parse(tail)
        if rec is None:
            out.torn = tail
        else:
            _keep(rec, tail, len(lines) + 1, out, seen)
            out.open_end = True
    elif tail:
        out.torn = tail
    return out


def _keep(
    rec: dict[str, Any] | None, raw: bytes, line: int, out: Scan, seen: set[tuple[Any, ...]]
) -> None:
    if rec is None:
        out.unreadable.append((line, raw))
        return
    ident = _identity(rec)
    if ident in seen:
        out.duplicates.append(line)
        return
    seen.add(ident)
    out.records.append(rec)


def read_records(path: Path | str) -> list[dict[str, Any]]:
    """Every well-formed record of a results file, without duplicates, in file order.

    A torn last line (a write cut short), unreadable lines and duplicate records are skipped
    with a :class:`ResultsWarning`; the file is not changed (:meth:`ResultsStore.open` repairs
    it).
    """
    path = Path(path)
    found = scan(path)
    if found.torn.strip():
        warnings.warn(
            f"{path}: ignoring a torn last line ({len(found.torn)} bytes) left by an "
            "interrupted write",
            ResultsWarning,
            stacklevel=2,
        )
    for line, _raw in found.unreadable:
        warnings.warn(f"{path}: skipping unreadable line {line}", ResultsWarning, stacklevel=2)
    for line in found.duplicates:
        warnings.warn(
            f"{path}: skipping duplicate record on line {line}", ResultsWarning, stacklevel=2
        )
    return found.records


def incomplete_runs(records: list[dict[str, Any]]) -> dict[RunKey, list[int]]:
    """Runs whose done marker is stored but not every step up to it: run key -> missing steps."""
    steps: dict[RunKey, set[int]] = {}
    done: dict[RunKey, int] = {}
    for rec in records:
        key = record_key(rec)
        if rec["type"] == "done":
            done[key] = int(rec.get("steps") or 0)
        else:
            steps.setdefault(key, set()).add(int(rec["step"]))
    out = {}
    for key, n in done.items():
        missing = sorted(set(range(1, n + 1)) - steps.get(key, set()))
        if missing:
            out[key] = missing
    return out


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        rec = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(rec, dict) or rec.get("type") not in ("step", "done"):
        return None
    try:
        record_key(rec)
        if rec["type"] == "step":
            int(rec["step"])
    except (KeyError, TypeError, ValueError):
        return None
    return rec


def _identity(rec: dict[str, Any]) -> tuple[Any, ...]:
    return (*record_key(rec), rec["type"], rec.get("step"))


def _rewrite(path: Path, records: list[dict[str, Any]]) -> None:
    """Replace ``path`` by ``records``, atomically."""
    atomic_write(path, b"".join((dumps(r) + "\n").encode() for r in records))


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data``, atomically: a temporary file, fsync'ed, renamed over it (a
    crash leaves the old file or the new one, never a torn one)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _save_unreadable(path: Path, unreadable: list[tuple[int, bytes]]) -> Path:
    """Append the unreadable lines (with their line numbers) next to the results file."""
    dest = path.with_name(UNREADABLE_FILE)
    with open(dest, "ab") as fh:
        for line, raw in unreadable:
            fh.write(f"line {line}: ".encode() + raw + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return dest


class ResultsStore:
    """Append-only, crash-safe store of bench records in ``out_dir/results.jsonl``."""

    def __init__(self, out_dir: Path | str) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / RESULTS_FILE
        self._fh: IO[bytes] | None = None
        self._lock: IO[bytes] | None = None
        #: what :meth:`open` repaired (empty when the file was sound)
        self.repair = Repair()

    def open(self) -> list[dict[str, Any]]:
        """Create the folder, take the writer lock, repair the file (see the module docstring);
        return the stored records. What was repaired is in :attr:`repair`."""
        archive = self.out_dir / RESULTS_ARCHIVE
        if not self.path.exists() and archive.exists():
            raise RuntimeError(
                f"{archive} holds archived records and there is no {RESULTS_FILE} beside it: a "
                f"run here would start over and hide them; to resume, `gunzip {archive}` first "
                "(or give another folder)"
            )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _take_lock(self.out_dir / LOCK_FILE)
        records = self._repair()
        new = not self.path.exists()
        self._fh = open(self.path, "ab")
        if new:
            _fsync_dir(self.out_dir)
        return records

    def _repair(self) -> list[dict[str, Any]]:
        found = scan(self.path)
        replayed = incomplete_runs(found.records)
        records = [
            r for r in found.records if not (r["type"] == "done" and record_key(r) in replayed)
        ]
        self.repair = Repair(
            unreadable=[line for line, _ in found.unreadable],
            duplicates=found.duplicates,
            torn=bool(found.torn.strip()),
            replayed=replayed,
        )
        if found.unreadable:
            self.repair.saved_to = _save_unreadable(self.path, found.unreadable)
        if self.repair or found.torn or found.open_end:
            _rewrite(self.path, records)
        return records

    def set_aside(self, keys: set[RunKey]) -> tuple[int, Path]:
        """Move every record of the runs ``keys`` out of the results file into
        ``DIR/results.superseded.jsonl`` (appended and fsync'ed first, so a crash in between
        leaves them in both files, never in neither), then rewrite the results file atomically
        without them: those runs are then run anew. Returns the number of records moved and the
        side file. Needs :meth:`open`."""
        if self._fh is None:
            raise RuntimeError("ResultsStore.set_aside called before open()")
        found = scan(self.path)
        moved = [r for r in found.records if record_key(r) in keys]
        side = self.path.with_name(SUPERSEDED_FILE)
        if moved:
            with open(side, "ab") as fh:
                fh.write(b"".join((dumps(r) + "\n").encode() for r in moved))
                fh.flush()
                os.fsync(fh.fileno())
            self._fh.close()
            _rewrite(self.path, [r for r in found.records if record_key(r) not in keys])
            self._fh = open(self.path, "ab")  # the old handle points at the replaced file
        return len(moved), side

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
            # remove the lock file while still holding the lock, so no folder is left with a
            # stale .lock (a writer that opened it just before keeps a lock on the unlinked file)
            (self.out_dir / LOCK_FILE).unlink(missing_ok=True)
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _take_lock(path: Path) -> IO[bytes]:
    """An exclusive lock on ``path``; RuntimeError at once if another process holds it."""
    while True:
        lock = open(path, "ab")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise RuntimeError(
                f"another process is writing to {path.parent} (lock {path} is held); wait for "
                "it to finish or use another --out folder"
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(lock.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return lock
        lock.close()  # its holder removed it as we opened it: lock the new one


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

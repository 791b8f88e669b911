"""Mid-run checkpoints: a bench run cut by ``kill -9`` (a crash, a lost machine) resumes from its
last checkpoint instead of replaying every stored step from its seed.

While a run goes, at most every ``every`` seconds (checked after each step) its state, the env,
the agent, the observation and the step count, is written to ``DIR/checkpoints/<run>.ckpt``,
atomically (a crash leaves the old checkpoint or the new one, never a torn one). A resumed run
whose checkpoint is at a step stored with every step before it, and was written by the same
code version on the same platform, loads it and replays only the steps stored after it; any
other run replays from its seed as before. The records are the same either way (a test compares
them with an uninterrupted run's); the done record of a run resumed from a checkpoint names its
step (``checkpoint_step``). The bench removes a run's checkpoint once the run is stored whole.

Trust: the state is a pickle, and unpickling runs code, so a checkpoint is signed (HMAC-SHA256)
with a key of this user's, ``checkpoint.key`` in ``$NASGYM_CACHE_DIR`` (``~/.cache/nasgym``),
created with mode 0600 on first use. A checkpoint that does not verify, written under another
key (another machine or user: a results folder someone sent) or altered, is never unpickled:
its run is replayed from its seed, with a warning. Results files and saved models hold no
pickles.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import pickle
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasgym.bench.records import RunKey
from nasgym.bench.store import atomic_write

#: the folder of an output folder that holds the checkpoints
CHECKPOINT_DIR = "checkpoints"
#: seconds of a run between two checkpoints, by default
DEFAULT_EVERY = 60.0
KEY_FILE = "checkpoint.key"
_MAGIC = b"nasgym-checkpoint 1\n"
_MAC_BYTES = 32


def signing_key() -> bytes:
    """This user's checkpoint key (created, 32 random bytes, mode 0600, on first use)."""
    from nasgym.valp.reference import cache_dir

    path = cache_dir() / KEY_FILE
    for _ in range(50):
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            new = path.with_name(f"{KEY_FILE}.{os.getpid()}.new")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(os.urandom(_MAC_BYTES))
                    fh.flush()
                    os.fsync(fh.fileno())
                try:  # the first process to link its key wins; the others read that one
                    os.link(new, path)
                except FileExistsError:
                    pass
            except OSError as err:
                raise RuntimeError(f"cannot create the checkpoint key {path}: {err}") from None
            finally:
                with contextlib.suppress(OSError):
                    new.unlink(missing_ok=True)
            continue
        except OSError as err:
            raise RuntimeError(f"cannot read the checkpoint key {path}: {err}") from None
        if len(key) >= _MAC_BYTES:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"the checkpoint key {path} is shorter than {_MAC_BYTES} bytes")


def _sign(key: bytes, header: bytes, payload: bytes) -> bytes:
    return hmac.new(key, header + b"\0" + payload, hashlib.sha256).digest()


@dataclass(frozen=True)
class Checkpoints:
    """Where a bench keeps its runs' checkpoints, and how often a run writes one."""

    folder: str
    every: float = DEFAULT_EVERY

    @classmethod
    def for_folder(cls, out_dir: Path | str, every: float) -> Checkpoints | None:
        """The checkpoints of the bench writing into ``out_dir`` (None when ``every`` is 0). The
        signing key is made here, before any worker needs it."""
        if every < 0:
            raise ValueError(f"checkpoint_every must be >= 0 seconds, got {every}")
        if every == 0:
            return None
        try:
            signing_key()
        except RuntimeError as err:  # e.g. a read-only home: the bench runs, replaying if cut
            warnings.warn(f"no checkpoints: {err}", RuntimeWarning, stacklevel=2)
            return None
        return cls(str(Path(out_dir).absolute() / CHECKPOINT_DIR), float(every))

    def path(self, key: RunKey) -> Path:
        """The checkpoint file of the run ``key``."""
        digest = hashlib.sha256(json.dumps(list(key)).encode()).hexdigest()[:24]
        return Path(self.folder) / f"{digest}.ckpt"

    def save(self, key: RunKey, step: int, meta: dict[str, Any], state: Any) -> bool:
        """Write the run's ``state`` after ``step``; False (and a warning) when it cannot be
        pickled, so that the caller stops trying for this run."""
        try:
            payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:  # noqa: BLE001 - any agent or env may hold something unpicklable
            warnings.warn(
                f"no checkpoints for run {list(key)}: its state cannot be pickled ({err!r}); "
                "if it is cut, it is replayed from its seed",
                RuntimeWarning,
                stacklevel=2,
            )
            return False
        header = json.dumps({"run": list(key), "step": int(step), **meta}).encode()
        mac = _sign(signing_key(), header, payload)
        data = b"".join((_MAGIC, mac, len(header).to_bytes(4, "big"), header, payload))
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        atomic_write(self.path(key), data)
        return True

    def header(self, key: RunKey) -> dict[str, Any] | None:
        """What the run's checkpoint says of itself (``run``, ``step``, ``code``, ``platform``,
        ``elapsed``), unverified and without unpickling anything; None when there is none or it
        is unreadable."""
        parts = self._read(self.path(key))
        try:
            return None if parts is None else json.loads(parts[1])
        except ValueError:
            return None

    @staticmethod
    def _read(path: Path) -> tuple[bytes, bytes, bytes] | None:
        """``(mac, header, payload)`` of a checkpoint file; None when missing or not one."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        head = len(_MAGIC) + _MAC_BYTES + 4
        if len(data) < head or not data.startswith(_MAGIC):
            return None
        size = int.from_bytes(data[head - 4 : head], "big")
        return (
            data[len(_MAGIC) : len(_MAGIC) + _MAC_BYTES],
            data[head : head + size],
            data[head + size :],
        )

    def load(self, key: RunKey, have: set[int] | frozenset[int], meta: dict[str, Any]) -> Any:
        """``(step, state)`` of the run's checkpoint when it can be used: it verifies, belongs to
        the run, was written with the same ``meta`` (code version, platform), and every step up
        to its own is stored (in ``have``). None otherwise (the run replays from its seed)."""
        path = self.path(key)
        if not path.exists():
            return None
        parts = self._read(path)
        if parts is None:
            return self._refuse(path, "it is not a nasgym checkpoint")
        mac, header, payload = parts
        if not hmac.compare_digest(mac, _sign(signing_key(), header, payload)):
            return self._refuse(path, "its signature does not verify with this user's key")
        info = json.loads(header)
        if info.get("run") != json.loads(json.dumps(list(key))):
            return self._refuse(path, "it belongs to another run")
        step = int(info["step"])
        if any(info.get(k) != v for k, v in meta.items()) or not set(range(1, step + 1)) <= have:
            return None  # another code version or platform, or steps before it were lost
        try:
            return step, pickle.loads(payload)  # noqa: S301 - signed with this user's key
        except Exception as err:  # noqa: BLE001 - e.g. a class edited in an uncommitted tree
            return self._refuse(path, f"it cannot be unpickled by this code ({err!r})")

    def remove(self, key: RunKey) -> None:
        """Remove the run's checkpoint (its run is stored whole, or set aside)."""
        self.path(key).unlink(missing_ok=True)

    @staticmethod
    def _refuse(path: Path, why: str) -> None:
        warnings.warn(
            f"checkpoint {path} not loaded: {why}; its run is replayed from its seed",
            RuntimeWarning,
            stacklevel=3,
        )
        return None

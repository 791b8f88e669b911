"""Where jobs run: in this process, in a process pool, or as Ray tasks.

Every backend streams each job's records back to the calling process, which is the only
writer of the results file; so records are the same whichever backend ran them.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import os
import queue
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from nasgym._memory import trim
from nasgym.bench.jobs import BenchError, Job
from nasgym.bench.runner import run_job

#: a job with the steps already stored and their actions (for the replay check)
Task = tuple[Job, frozenset[int], dict[int, Any], str | None]
#: called with each record, in the order a job produced them
Sink = Callable[[dict[str, Any]], None]
#: called when a job raised (job, traceback text)
OnError = Callable[[Job, str], None]
#: runs one task's job and yields its records (``run_job`` for a bench; a study passes its own,
#: a module-level function so that worker processes can import it)
Runner = Callable[..., Iterator[dict[str, Any]]]


#: the file in an output folder that stops a bench (sweep, study) from starting more jobs
STOP_FILE = "STOP"


@dataclass(frozen=True)
class StopRule:
    """When to start no more jobs: once ``time.time()`` reaches ``deadline`` (``seconds`` after
    the command began), or once the file ``flag`` exists. Jobs under way run to their end and
    are stored; a job whose turn comes after that yields nothing, so a rerun of the same command
    finds it missing and runs it. (The check is made where the job runs: a Ray node that cannot
    see ``flag`` goes by the deadline alone.)"""

    deadline: float | None = None
    flag: str | None = None
    seconds: float | None = None

    @classmethod
    def for_folder(cls, out_dir: Path | str, seconds: float | None) -> StopRule:
        """The rule of a command writing into ``out_dir``: ``seconds`` from now, or
        ``OUT/STOP``. A ``STOP`` file already there was meant for an earlier command: removed."""
        flag = Path(out_dir).absolute() / STOP_FILE  # workers may run elsewhere (Ray)
        flag.unlink(missing_ok=True)
        deadline = None if seconds is None else time.time() + seconds
        return cls(deadline, str(flag), seconds)

    def hit(self) -> bool:
        """Whether no job should start now."""
        if self.deadline is not None and time.time() >= self.deadline:
            return True
        return self.flag is not None and os.path.exists(self.flag)

    def finish(self, left: int, what: str = "run") -> str:
        """Say why ``left`` jobs did not start (empty when none), and remove the flag."""
        why = ""
        if left:
            if self.seconds is not None and not (self.flag and os.path.exists(self.flag)):
                reason = f"{self.seconds / 60:g} min passed"
            else:
                reason = f"{self.flag} appeared"
            why = (
                f"stopped early ({reason}): {left} {what}(s) not started; rerun the same "
                "command to go on"
            )
        if self.flag is not None:
            Path(self.flag).unlink(missing_ok=True)
        return why


def check_stop_after(seconds: float | None) -> None:
    """A ``stop_after`` must be a positive number of seconds (or None)."""
    if seconds is not None and not seconds > 0:
        raise BenchError(f"stop_after must be a positive number of seconds, got {seconds!r}")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``90m``, ``2h``, ``1h30m``, ``45s`` or ``45`` (minutes)."""
    raw = str(text).strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        return float(raw) * 60.0
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", raw)
    if not raw or "".join(n + u for n, u in parts) != raw:
        raise ValueError(
            f"{text!r} is not a duration; give e.g. 90m, 2h, 1h30m, 45s or 45 (minutes)"
        )
    return sum(float(n) * {"h": 3600.0, "m": 60.0, "s": 1.0}[u] for n, u in parts)


def _gated(stop: StopRule, runner: Runner, *task: Any) -> Iterator[dict[str, Any]]:
    """``runner``'s records, or none when ``stop`` says no job starts any more."""
    if stop.hit():
        return
    yield from runner(*task)


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity set; not every CPU of a shared host)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity API (macOS, Windows)
        return os.cpu_count() or 1


def release() -> None:
    """Free what a finished job left behind: its env and agent (often in reference cycles that
    hold large tensors, which Python's cyclic collector, counting objects, not bytes, would reach
    late) and the allocator's free pages. Called after every job, so memory stays bounded over
    many runs in one process."""
    gc.collect()
    trim()


def run_serial(
    tasks: Sequence[Task], sink: Sink, on_error: OnError, runner: Runner = run_job
) -> None:
    """Run the jobs one after another in this process, releasing each job's memory after it."""
    for job, have, stored, platform in tasks:
        try:
            for rec in runner(job, have, stored, platform):
                sink(rec)
        except Exception:  # noqa: BLE001 - one failing job must not stop the others
            on_error(job, traceback.format_exc())
        release()


# ------------------------------------------------------------------ process pool
_QUEUE: Any = None


def _init_worker(q: Any, parent: int) -> None:
    global _QUEUE
    _QUEUE = q
    # one thread per worker process: W workers use W cores, as Ray's num_cpus=1 tasks do
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """Leave when the parent dies (e.g. kill -9), instead of lingering as an orphan."""
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(0.5)


def _pool_job(index: int, task: Task, runner: Runner = run_job) -> None:
    job, have, stored, platform = task
    try:
        for rec in runner(job, have, stored, platform):
            _QUEUE.put(("rec", index, rec))
        _QUEUE.put(("end", index, None))
    except BaseException:  # noqa: BLE001 - reported to the parent, which decides
        _QUEUE.put(("end", index, traceback.format_exc()))
    finally:
        release()


def run_pool(
    tasks: Sequence[Task], sink: Sink, on_error: OnError, workers: int, runner: Runner = run_job
) -> None:
    """Run the jobs in a pool of ``workers`` processes (spawned, so nothing is inherited)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    pending = set(range(len(tasks)))
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(q, os.getpid())
    ) as pool:
        futures = [pool.submit(_pool_job, i, t, runner) for i, t in enumerate(tasks)]
        try:
            while pending:
                try:
                    kind, index, payload = q.get(timeout=0.5)
                except queue.Empty:
                    _reap_crashed(futures, pending, tasks, on_error)
                    continue
                if kind == "rec":
                    sink(payload)
                else:
                    pending.discard(index)
                    if payload is not None:
                        on_error(tasks[index][0], payload)
        except BaseException:
            _stop_pool(pool)
            raise


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel queued jobs and stop running ones (their stored steps are resumed later). The
    workers are listed before ``shutdown``, which forgets them."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()


def _reap_crashed(
    futures: list, pending: set[int], tasks: Sequence[Task], on_error: OnError
) -> None:
    """Report jobs whose worker died without a word (its future failed, no end message)."""
    for i in list(pending):
        f = futures[i]
        if f.done() and f.exception() is not None:
            pending.discard(i)
            on_error(tasks[i][0], f"worker process failed: {f.exception()!r}")


# ------------------------------------------------------------------ Ray
def _ray_job(task: Task, runner: Runner = run_job):  # type: ignore[no-untyped-def]
    job, have, stored, platform = task
    yield from runner(job, have, stored, platform)


def _module_roots(modules: Sequence[str]) -> list[str]:
    """The folders from which the (already imported) ``modules`` were imported."""
    roots = []
    for name in modules:
        top = sys.modules.get(name.split(".")[0])
        file = getattr(top, "__file__", None)
        if file:
            path = Path(file).resolve().parent
            roots.append(str(path.parent if path.name == name.split(".")[0] else path))
    return roots


def _local_runtime_env(imports: Sequence[str]) -> dict[str, Any]:
    """Let local Ray workers import nasgym, agents and the ``--import`` modules from here."""
    here = str(Path(__file__).resolve().parents[2])
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    paths = [here, os.getcwd(), *_module_roots(imports), *extra]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}}


def run_ray(
    tasks: Sequence[Task],
    sink: Sink,
    on_error: OnError,
    workers: int | None = None,
    address: str | None = None,
    runner: Runner = run_job,
) -> None:
    """Run each job as a Ray task (a streaming generator), on local Ray or the cluster at ``address``."""
    import ray

    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
        if address is None:
            imports = sorted({m for t in tasks for m in t[0].imports})
            kwargs.update(
                num_cpus=workers or available_cpus(), runtime_env=_local_runtime_env(imports)
            )
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, ValueError) as err:
            raise BenchError(
                f"cannot start or reach Ray (--ray-address {address!r}): {err}; give the address "
                "of a running cluster, e.g. ray://HEAD:10001, or leave --ray-address out"
            ) from None
        started = True
    try:
        remote = ray.remote(num_cpus=1)(_ray_job)
        gens = {remote.remote(t, runner): i for i, t in enumerate(tasks)}
        while gens:
            ready, _ = ray.wait(list(gens), num_returns=1, timeout=1.0)
            for gen in ready:
                _drain_one(gen, gens, tasks, sink, on_error)
    except BaseException:
        for gen in list(locals().get("gens", {})):
            try:
                ray.cancel(gen, force=True)
            except Exception:  # noqa: BLE001 - best effort while stopping
                pass
        raise
    finally:
        if started:
            ray.shutdown()


def _drain_one(gen: Any, gens: dict, tasks: Sequence[Task], sink: Sink, on_error: OnError) -> None:
    import ray

    try:
        ref = next(gen)
        sink(ray.get(ref))
    except StopIteration:
        gens.pop(gen)
    except Exception:  # noqa: BLE001 - the task raised: report it, keep the others
        on_error(tasks[gens.pop(gen)][0], traceback.format_exc())


def run_tasks(
    tasks: Sequence[Task],
    sink: Sink,
    on_error: OnError,
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    runner: Runner = run_job,
    stop: StopRule | None = None,
) -> None:
    """Run ``tasks`` on ``backend``: ``local`` (serial for 1 worker, the default, else a process
    pool of ``workers``) or ``ray`` (``workers`` CPUs of a local Ray; default all). Each task's
    job is run by ``runner`` (default :func:`~nasgym.bench.runner.run_job`; another runner's
    jobs need the ``imports`` attribute of :class:`~nasgym.bench.jobs.Job` for Ray). With
    ``stop``, a job whose turn comes once the rule is hit is not run (it yields no record)."""
    if stop is not None:
        runner = partial(_gated, stop, runner)
    with _interrupts() as check:

        def checked(rec: dict[str, Any]) -> None:
            check()
            sink(rec)

        if backend == "ray":
            run_ray(tasks, checked, on_error, workers=workers, address=ray_address, runner=runner)
        elif workers is None or workers <= 1 or len(tasks) <= 1:
            run_serial(tasks, checked, on_error, runner)
        else:
            run_pool(tasks, checked, on_error, min(workers, len(tasks)), runner)
        check()
    sys.stdout.flush()


@contextlib.contextmanager
def _interrupts() -> Iterator[Callable[[], None]]:
    """Ctrl-C is never lost: while the block runs, SIGINT raises ``KeyboardInterrupt`` as usual
    and also sets a flag; the yielded check raises ``KeyboardInterrupt`` once the flag is set.
    (An exception raised while Python runs a finalizer is printed and dropped, so a plain
    ``KeyboardInterrupt`` can vanish and a stopped bench would run on and report success.)
    Only in the main thread, and only over Python's default handler: a handler of the caller's
    is left alone."""
    hit: list[bool] = []

    def check() -> None:
        if hit:
            raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield check
        return

    def handler(signum: int, frame: Any) -> None:
        hit.append(True)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)

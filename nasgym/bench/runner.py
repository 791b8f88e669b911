"""The evaluation loop of one job: one episode of one agent on one env from one seed.

Every agent, from random search to an SB3 model, goes through the same loop::

    obs, info = env.reset(seed=seed)          # paired seeds: every agent starts alike
    agent = make_agent(name, env, seed=seed, **agent_kwargs); agent.reset()
    repeat: action = agent.predict(obs); env.step(action); agent.update(...)

A job is deterministic in its seed, so a run cut short is resumed by replaying it and emitting
only the steps that are not stored yet; with checkpoints (:mod:`nasgym.bench.checkpoint`) the
replay starts from the run's last checkpoint instead of its seed.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

from nasgym._provenance import code_version, compute_platform
from nasgym.bench.checkpoint import Checkpoints
from nasgym.bench.jobs import Job, import_modules
from nasgym.bench.records import done_record, step_record, to_jsonable


def objective_spec(env: Any) -> dict[str, tuple[float, float]]:
    """The env's ``objective_spec`` (objective -> (ideal, reference)), empty if it has none."""
    spec = getattr(env.unwrapped, "objective_spec", None) or {}
    return {str(k): (float(v[0]), float(v[1])) for k, v in spec.items()}


def run_job(
    job: Job,
    have: set[int] | frozenset[int] = frozenset(),
    stored_actions: dict | None = None,
    stored_platform: str | None = None,
    checkpoints: Checkpoints | None = None,
) -> Iterator[dict[str, Any]]:
    """Run ``job`` and yield its records: a step record per step not in ``have``, then the marker.

    With ``checkpoints`` (:class:`~nasgym.bench.checkpoint.Checkpoints`) the run writes its state
    there at most every ``checkpoints.every`` seconds, and a partly stored run starts from its
    checkpoint when one can be used (the marker then has ``checkpoint_step``), else from its
    seed.

    ``stored_actions`` (step -> stored action) lets a replay check that it retraces the stored
    run; a mismatch warns that the env or agent is not deterministic in its seed.
    ``stored_platform`` is the platform that stored the steps in ``have`` (every step record
    names it); on another platform (other CPU kernels round otherwise, so the replay would not
    retrace them and the run would mix two trajectories) the job is refused with a
    RuntimeError saying how to go on: resume where it started, or ``--restart-partial``.
    """
    import gymnasium as gym

    import nasgym  # noqa: F401  (registers the nasgym envs)

    here = compute_platform()
    if have and stored_platform is not None and stored_platform != here:
        raise RuntimeError(
            f"run {job.label}: its {len(have)} stored steps were computed on "
            f"{stored_platform!r} and this process runs on {here!r}, whose kernels would not "
            "retrace them. Resume it on such a machine, or rerun the bench with "
            "--restart-partial to set the stored steps aside (kept in "
            "results.superseded.jsonl) and run it anew here"
        )

    import_modules(job.imports)
    t0 = time.perf_counter()
    key = job.key
    meta = {"code": code_version(), "platform": here}
    loaded = checkpoints.load(key, set(have), meta) if checkpoints is not None and have else None
    if loaded is not None:
        resumed_at, (env, agent, obs, state, elapsed) = loaded
        step, t0 = resumed_at, t0 - elapsed
    else:
        resumed_at, env = None, gym.make(job.env_id, **job.env_kwargs)
    last_save = time.perf_counter()
    try:
        if loaded is None:
            obs, _info = env.reset(seed=job.seed)
            agent = build_agent(job.agent, env, job.seed, job.agent_kwargs)
            agent.reset()
            state, step = None, 0
        ended = False
        while job.max_steps is None or step < job.max_steps:
            action, state = agent.predict(obs, state=state, episode_start=None, deterministic=False)
            next_obs, reward, terminated, truncated, info = env.step(action)
            agent.update(obs, action, reward, next_obs, terminated, truncated, info)
            step += 1
            if step not in have:
                yield step_record(key, step, action, reward, terminated, truncated, info, here)
            elif stored_actions is not None and step in stored_actions:
                if not _replay_matches(job, step, action, stored_actions[step]):
                    stored_actions = None  # warned once; do not repeat for every step
            obs = next_obs
            if terminated or truncated:
                ended = True
                break
            now = time.perf_counter()
            if checkpoints is not None and now - last_save >= checkpoints.every:
                run_state = (env, agent, obs, state, now - t0)
                if not checkpoints.save(key, step, meta, run_state):
                    checkpoints = None  # warned; this run replays from its seed if cut
                last_save = time.perf_counter()
        done = done_record(
            key,
            step,
            job.max_steps,
            ended,
            objective_spec(env),
            time.perf_counter() - t0,
            code=code_version(),
            platform=here,
        )
        if resumed_at is not None:
            done["checkpoint_step"] = resumed_at
        yield done
    finally:
        env.close()


def build_agent(name: str, env: Any, seed: int, kwargs: dict[str, Any] | None = None) -> Any:
    """The registered agent ``name`` built with ``kwargs``, or a saved SB3 model for
    ``sb3:ALGO:PATH``."""
    from agents import make_agent
    from nasgym.bench.sb3 import agent_kwargs, is_sb3

    if is_sb3(name):
        return make_agent("sb3", env, seed=seed, **agent_kwargs(name), **(kwargs or {}))
    return make_agent(name, env, seed=seed, **(kwargs or {}))


def _replay_matches(job: Job, step: int, action: Any, stored: Any) -> bool:
    if to_jsonable(action) != stored:
        warnings.warn(
            f"resuming {job.label}: step {step} replayed action "
            f"{to_jsonable(action)} differs from the stored {stored}; the env or agent is not "
            "deterministic in its seed, so the resumed run mixes two trajectories",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    return True

"""The records of ``results.jsonl``: one JSON object per step, and one marker per finished run.

Step record (``"type": "step"``): ``env``, ``env_kwargs``, ``agent``, ``agent_kwargs``, ``seed``,
``step`` (1 for the first ``env.step``), ``action`` (JSON form), ``objectives`` (dict, lower is
better), ``reward``, ``cost``, ``accepted``, ``terminated``, ``truncated``, ``info`` (the scalar
entries of the step's ``info``, see :func:`scalar_info`) and ``platform`` (as the marker's below;
step records written before it existed lack it).

A run is identified by (env, env kwargs, agent, agent kwargs, seed) (:func:`run_key`); records
written before agent kwargs existed have no ``agent_kwargs`` field and read as ``{}``.

Run marker (``"type": "done"``): ``env``, ``env_kwargs``, ``agent``, ``agent_kwargs``, ``seed``,
``steps`` (number of
steps taken), ``max_steps`` (the requested limit, or null), ``episode_end`` (whether the episode
terminated or was truncated), ``objective_spec`` (name -> [ideal, reference]), ``wall_s`` (seconds
of the run in the process that wrote the marker; the only field a rerun on the same machine
changes), ``code`` (:func:`nasgym._provenance.code_version` of that process: a run resumed across a
code change carries the version that finished it) and ``platform``
(:func:`nasgym._provenance.compute_platform`: torch version, CPU kernels and CPU, which decide the
floating-point results). Markers written before these two fields existed have neither.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

#: (env, env kwargs JSON, agent, agent kwargs JSON, seed)
RunKey = tuple[str, str, str, str, int]

#: info keys that are stored elsewhere in the record (or are not scalars)
_RESERVED_INFO = frozenset({"objectives", "cost", "accepted", "action_mask"})


def canonical_kwargs(kwargs: dict[str, Any]) -> str:
    """The canonical JSON text of env or agent kwargs (sorted keys), used in run keys."""
    return json.dumps(kwargs, sort_keys=True, separators=(",", ":"))


def run_key(
    env: str,
    env_kwargs: dict[str, Any],
    agent: str,
    seed: int,
    agent_kwargs: dict[str, Any] | None = None,
) -> RunKey:
    """The identity of one (env, env kwargs, agent, agent kwargs, seed) run."""
    return (
        env,
        canonical_kwargs(env_kwargs),
        agent,
        canonical_kwargs(agent_kwargs or {}),
        int(seed),
    )


def record_key(record: dict[str, Any]) -> RunKey:
    """The run key a stored record belongs to."""
    return run_key(
        record["env"],
        record.get("env_kwargs") or {},
        record["agent"],
        record["seed"],
        record.get("agent_kwargs") or {},
    )


def env_label(env: str, env_kwargs: dict[str, Any]) -> str:
    """A readable name of an env with its kwargs (the id alone when there are none)."""
    return env if not env_kwargs else f"{env} {canonical_kwargs(env_kwargs)}"


def agent_label(agent: str, agent_kwargs: dict[str, Any]) -> str:
    """A readable name of an agent with its kwargs: ``rules(slopes="relative")``."""
    if not agent_kwargs:
        return agent
    args = ", ".join(
        f"{k}={json.dumps(v, sort_keys=True)}" for k, v in sorted(agent_kwargs.items())
    )
    return f"{agent}({args})"


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (numpy arrays to lists, numpy scalars to Python scalars)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def _scalar(value: Any) -> tuple[bool, Any]:
    """(whether ``value`` is a scalar, its plain Python form)."""
    if isinstance(value, np.generic):
        value = value.item()
    return value is None or isinstance(value, (bool, int, float, str)), value


def scalar_info(info: dict[str, Any]) -> dict[str, Any]:
    """The scalar entries of a step's ``info`` (numbers, booleans, strings, None), with one level
    of nesting flattened: the scalar entries of a dict-valued entry ``key`` become ``"key.sub"``
    (e.g. VALP's ``current_objectives`` -> ``"current_objectives.class"``). Arrays, lists and
    deeper dicts are left out, and so are the entries stored elsewhere in the record
    (``objectives``, ``cost``, ``accepted``) and ``action_mask``."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key in _RESERVED_INFO:
            continue
        if isinstance(value, dict):
            for sub, inner in value.items():
                ok, inner = _scalar(inner)
                if ok:
                    out[f"{key}.{sub}"] = inner
            continue
        ok, value = _scalar(value)
        if ok:
            out[str(key)] = value
    return out


def _float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    return float(value)


def step_record(
    key: RunKey,
    step: int,
    action: Any,
    reward: float,
    terminated: bool,
    truncated: bool,
    info: dict[str, Any],
    platform: str | None = None,
) -> dict[str, Any]:
    """The record of one env step (``platform``: the torch and CPU that computed it, so that a
    resume elsewhere can tell it would not retrace the stored steps)."""
    env, kwargs, agent, agent_kwargs, seed = key
    objectives = info.get("objectives") or {}
    record = {
        "type": "step",
        "env": env,
        "env_kwargs": json.loads(kwargs),
        "agent": agent,
        "agent_kwargs": json.loads(agent_kwargs),
        "seed": seed,
        "step": int(step),
        "action": to_jsonable(action),
        "objectives": {str(k): float(v) for k, v in objectives.items()},
        "reward": _float(reward),
        "cost": _float(info.get("cost")),
        "accepted": bool(info.get("accepted", True)),
        "terminated": bool(terminated),
        "truncated": bool(truncated),
        "info": scalar_info(info),
    }
    if platform is not None:
        record["platform"] = platform
    return record


def done_record(
    key: RunKey,
    steps: int,
    max_steps: int | None,
    episode_end: bool,
    objective_spec: dict[str, tuple[float, float]],
    wall_s: float,
    code: str | None = None,
    platform: str | None = None,
) -> dict[str, Any]:
    """The marker written after the last step of a run (``code``: which code ran it;
    ``platform``: on which torch and CPU)."""
    env, kwargs, agent, agent_kwargs, seed = key
    return {
        "type": "done",
        "env": env,
        "env_kwargs": json.loads(kwargs),
        "agent": agent,
        "agent_kwargs": json.loads(agent_kwargs),
        "seed": seed,
        "steps": int(steps),
        "max_steps": max_steps,
        "episode_end": bool(episode_end),
        "objective_spec": {k: [float(a), float(b)] for k, (a, b) in objective_spec.items()},
        "wall_s": round(float(wall_s), 4),
        "code": code,
        "platform": platform,
    }


def dumps(record: dict[str, Any]) -> str:
    """One record as a single JSON line (non-finite floats written as null)."""
    return json.dumps(_finite(record), separators=(",", ":"), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value

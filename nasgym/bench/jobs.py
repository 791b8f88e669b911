"""What a bench runs: jobs (one env, agent and seed each), argument parsing and validation.

Validation happens before any work: every env id, agent name, JSON argument, data directory and
backend is checked, each env is built once with its kwargs and each agent once on it with its
kwargs, so a typo fails in a second with a clear :class:`BenchError` instead of after hours of
runs.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasgym.bench.records import RunKey, agent_label, run_key


class BenchError(ValueError):
    """A bad bench argument, found before any work started."""


@dataclass(frozen=True)
class Job:
    """One run: ``agent`` (built with ``agent_kwargs``) searches ``env_id`` (built with
    ``env_kwargs``) from ``seed``.

    ``max_steps`` caps the run (None: until the episode ends). ``imports`` are modules imported
    before the env and agent are made (to register custom envs and agents in worker processes).
    """

    env_id: str
    agent: str
    seed: int
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    max_steps: int | None = None
    imports: tuple[str, ...] = ()
    agent_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> RunKey:
        """The run key under which the job's records are stored."""
        return run_key(self.env_id, self.env_kwargs, self.agent, self.seed, self.agent_kwargs)

    @property
    def label(self) -> str:
        """``env / agent / seed N``, with the agent's kwargs when there are any."""
        return f"{self.env_id} / {agent_label(self.agent, self.agent_kwargs)} / seed {self.seed}"


@dataclass(frozen=True)
class BenchEntry:
    """One block of a bench: agents x seeds on one env, with a step limit.

    ``agent_kwargs`` maps agent names of ``agents`` to the keyword arguments they are built with
    (agents not in it get none); see :func:`parse_agent_kwargs` for the command-line forms.
    """

    env_id: str
    agents: tuple[str, ...]
    seeds: tuple[int, ...]
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    max_steps: int | None = None
    agent_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def jobs(self, imports: tuple[str, ...] = ()) -> list[Job]:
        """The jobs of this entry, seed-major, so paired runs of one seed finish close together."""
        return [
            Job(
                self.env_id,
                a,
                s,
                dict(self.env_kwargs),
                self.max_steps,
                imports,
                dict(self.agent_kwargs.get(a) or {}),
            )
            for s in self.seeds
            for a in self.agents
        ]


#: The README's main job (``nasgym bench`` with no arguments): the papers' comparisons on the
#: bundled data. VALP-v0 on digits, random vs the paper's rules, 10 paired seeds x 60 steps (the
#: paper's budget); NB201-v0 on CIFAR-10, random vs REINFORCE vs REA, 20 paired seeds, the full
#: simulated 12,000 s budget. About 3-4 minutes on 2 CPU cores. Entries whose env or agents are
#: not registered are skipped with a notice.
DEFAULT_BENCH: tuple[BenchEntry, ...] = (
    BenchEntry("nasgym/VALP-v0", ("random", "rules"), tuple(range(10)), {}, 60),
    BenchEntry("nasgym/NB201-v0", ("random", "reinforce", "rea"), tuple(range(20)), {}, None),
)
DEFAULT_OUT = "runs/default"


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"5"`` -> seeds 0-4; ``"100-199"`` -> 100..199 inclusive; ``"1,5,9"`` -> those seeds."""
    s = str(text).strip()
    try:
        if "," in s:
            seeds = tuple(int(p) for p in s.split(",") if p.strip())
        elif "-" in s.lstrip("-"):
            a, b = s.split("-", 1)
            lo, hi = int(a), int(b)
            if hi < lo:
                raise BenchError(f"--seeds {text!r}: the range end {hi} is below its start {lo}")
            seeds = tuple(range(lo, hi + 1))
        else:
            n = int(s)
            if n < 1:
                raise BenchError(f"--seeds {text!r}: the number of seeds must be >= 1")
            seeds = tuple(range(n))
    except ValueError as err:
        if isinstance(err, BenchError):
            raise
        raise BenchError(
            f"--seeds {text!r} is not understood: give a count N (seeds 0..N-1), a range A-B, "
            "or a comma list"
        ) from None
    if not seeds or any(x < 0 for x in seeds):
        raise BenchError(f"--seeds {text!r}: seeds must be non-negative integers")
    if len(set(seeds)) != len(seeds):
        raise BenchError(f"--seeds {text!r} lists a seed twice")
    return seeds


def parse_list(text: str, what: str) -> tuple[str, ...]:
    """Split a comma list (``"a,b"``), rejecting empty items."""
    items = tuple(p.strip() for p in str(text).split(","))
    if not items or any(not p for p in items):
        raise BenchError(f"--{what} {text!r} has an empty item; give a comma list like a,b")
    return items


def _json_object(text: str | None, option: str, example: str) -> dict[str, Any]:
    """The JSON object given to ``option`` (empty when not given)."""
    if text is None or not str(text).strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise BenchError(
            f"{option} is not valid JSON ({err.msg} at column {err.colno}): {text!r}; "
            f"give an object such as '{example}'"
        ) from None
    if not isinstance(value, dict):
        raise BenchError(f"{option} must be a JSON object, got {type(value).__name__}: {text!r}")
    return value


def parse_env_kwargs(text: str | None) -> dict[str, Any]:
    """The ``--env-kwargs`` JSON object (empty when not given)."""
    return _json_object(text, "--env-kwargs", '{"dataset": "cifar10"}')


def parse_agent_kwargs(text: str | None, agents: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The ``--agent-kwargs`` JSON object as kwargs per agent of ``agents`` (``--agent``).

    Two forms, told apart by their keys:

    - keyed by agent: every key names an agent (one of ``agents``, or any registered agent) and
      every value is an object, the kwargs of that agent; agents not named get none:
      ``{"rules": {"slopes": "relative"}, "reinforce": {"batch_size": 8}}``;
    - anything else is one object of kwargs for every agent: ``{"epsilon": 0.1}``.

    A keyed object naming an agent that is not in ``agents``, or mixing agent keys with other
    keys, is a :class:`BenchError`.
    """
    from agents import list_agents

    value = _json_object(text, "--agent-kwargs", '{"epsilon": 0.1}')
    names = set(agents) | set(list_agents())
    keyed = [k for k, v in value.items() if k in names and isinstance(v, dict)]
    other = [k for k in value if k not in keyed]
    if keyed and other:
        raise BenchError(
            f"--agent-kwargs mixes agent keys ({', '.join(map(repr, keyed))}) with other keys "
            f"({', '.join(map(repr, other))}){_close_agents(other, names)}; give either one "
            """object of kwargs for every agent ('{"epsilon": 0.1}') or an object keyed by """
            """agent name ('{"rules": {"slopes": "relative"}}')"""
        )
    if not keyed:
        dicts = [k for k, v in value.items() if isinstance(v, dict)]
        hint = _close_agents(dicts, names)
        if hint:
            raise BenchError(
                f"--agent-kwargs key(s) {', '.join(map(repr, dicts))} name no agent{hint} "
                f"(the agents of this bench: {', '.join(agents)})"
            )
        return {a: dict(value) for a in agents} if value else {}
    extra = [k for k in keyed if k not in agents]
    if extra:
        raise BenchError(
            f"--agent-kwargs gives kwargs for {', '.join(map(repr, extra))}, which is not in "
            f"--agent {','.join(agents)}; add it to --agent or drop its key"
        )
    return {k: dict(v) for k, v in value.items()}


def _close_agents(keys: Sequence[str], names: Iterable[str]) -> str:
    close = [c for k in keys for c in difflib.get_close_matches(k, sorted(names), n=1, cutoff=0.8)]
    return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""


def import_modules(modules: Iterable[str]) -> None:
    """Import ``modules`` (they register custom envs or agents), with a clear error if one fails."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise BenchError(f"--import {name!r} failed: {err}") from None


def _unknown(kind: str, name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Registered: {', '.join(sorted(known)) or '(none)'}"


def known_env_ids() -> list[str]:
    """Every env id gymnasium knows, nasgym ids first."""
    import gymnasium as gym

    import nasgym

    ids = list(nasgym.env_ids())
    return ids + [i for i in gym.registry if i not in ids]


def search_env_ids() -> list[str]:
    """The env ids a bench can use: nasgym's and any registered by ``--import`` modules
    (Gymnasium's own, e.g. CartPole, report no objectives and are left out)."""
    import gymnasium as gym

    import nasgym

    ids = list(nasgym.env_ids())
    for env_id, spec in gym.registry.items():
        entry = spec.entry_point
        module = entry.split(":")[0] if isinstance(entry, str) else getattr(entry, "__module__", "")
        if env_id not in ids and not str(module).startswith(("gymnasium.", "shimmy", "ale_py")):
            ids.append(env_id)
    return ids


def check_env(env_id: str) -> None:
    """Raise :class:`BenchError` (with "did you mean" among the nasgym ids and those of
    ``--import`` modules) unless ``env_id`` is registered."""
    if env_id not in known_env_ids():
        raise BenchError(_unknown("env", env_id, search_env_ids()))


def check_agent(name: str) -> None:
    """Raise :class:`BenchError` (with "did you mean") unless agent ``name`` is registered."""
    from agents import list_agents
    from nasgym.bench.sb3 import is_sb3, parse

    if is_sb3(name):
        try:
            parse(name)
        except ValueError as err:
            raise BenchError(str(err)) from None
        return
    known = list_agents()
    if name not in known:
        raise BenchError(_unknown("agent", name, known))


def check_env_kwargs(
    env_id: str, env_kwargs: dict[str, Any], agents: Sequence[tuple[str, dict[str, Any]]] = ()
) -> None:
    """Check the data directory exists, the env builds with ``env_kwargs`` and each
    (agent, agent kwargs) of ``agents`` builds on it."""
    import gymnasium as gym

    data_dir = env_kwargs.get("data_dir")
    if data_dir is not None and not Path(str(data_dir)).expanduser().is_dir():
        raise BenchError(
            f"data_dir {str(data_dir)!r} (in --env-kwargs) is not an existing directory; "
            "point it at the folder that holds the data sets"
        )
    try:
        env = gym.make(env_id, **env_kwargs)
    except (TypeError, ValueError, KeyError, FileNotFoundError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        hint = _env_kwarg_hint(env_id, env_kwargs) if isinstance(err, TypeError) else ""
        raise BenchError(
            f"cannot make {env_id} with --env-kwargs {json.dumps(env_kwargs)}: {hint or msg}"
        ) from None
    try:
        if not hasattr(env.unwrapped, "objective_spec"):
            raise BenchError(
                f"{env_id} has no objective_spec; bench needs an env that reports "
                "info['objectives'] and declares objective_spec (see docs/CONVENTIONS.md)"
            )
        for agent, kwargs in agents:
            check_agent_build(env, env_id, agent, kwargs)
    finally:
        env.close()


def env_params(env_id: str) -> list[str]:
    """The keyword parameters of the env class registered as ``env_id`` (empty if unknown)."""
    import inspect

    import gymnasium as gym

    try:
        entry = gym.spec(env_id).entry_point
        if isinstance(entry, str):
            from gymnasium.envs.registration import load_env_creator

            entry = load_env_creator(entry)
        params = inspect.signature(entry).parameters.values()
    except Exception:  # noqa: BLE001 - no hint rather than a second error
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.kind in kinds and p.name != "self"]


def _env_kwarg_hint(env_id: str, env_kwargs: dict[str, Any]) -> str:
    """ "unknown argument 'x' (did you mean 'y'?); <env> accepts: ..." for the kwargs that
    ``env_id``'s class does not take (empty when it takes them all)."""
    own = env_params(env_id)
    accepted = own + ["max_episode_steps", "render_mode", "disable_env_checker"]
    unknown = [k for k in env_kwargs if k not in accepted]
    if not own or not unknown:
        return ""
    named = []
    for k in unknown:
        close = difflib.get_close_matches(k, own, n=1, cutoff=0.6)
        named.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"unknown argument {', '.join(named)}; {env_id} accepts: {', '.join(own)}"


def check_agent_build(env: Any, env_id: str, agent: str, kwargs: dict[str, Any]) -> None:
    """Build ``agent`` with ``kwargs`` on ``env`` once; :class:`BenchError` if it refuses."""
    from nasgym.bench.runner import build_agent

    try:
        json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise BenchError(
            f"agent {agent!r}: its kwargs {kwargs!r} must be JSON values (they are stored in "
            f"every record): {err}"
        ) from None
    try:
        build_agent(agent, env, 0, kwargs)
    except (TypeError, ValueError, KeyError, OSError) as err:  # OSError: a file it needs
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        given = f" with --agent-kwargs {json.dumps(kwargs)}" if kwargs else ""
        hint = ""
        if isinstance(err, TypeError) and kwargs:
            accepted = _keyword_params(agent)
            hint = f"; {agent!r} accepts: {', '.join(accepted) or '(no kwargs)'}"
        raise BenchError(f"cannot build agent {agent!r} on {env_id}{given}: {msg}{hint}") from None


def _keyword_params(agent: str) -> list[str]:
    """The keyword parameters of a registered agent's constructor (beyond env and seed)."""
    import inspect

    from agents import AGENTS
    from nasgym.bench.sb3 import is_sb3

    if is_sb3(agent) or agent not in AGENTS:
        return []
    params = inspect.signature(AGENTS.get(agent).__init__).parameters.values()
    skip = {"self", "env", "seed"}
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.name not in skip and p.kind in kinds]


def check_backend(backend: str) -> None:
    """Raise :class:`BenchError` unless ``backend`` is usable here."""
    if backend not in ("local", "ray"):
        raise BenchError(f"unknown --backend {backend!r}; choose local or ray")
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        raise BenchError(
            "--backend ray needs Ray, which is not installed: pip install 'nasgym[ray]' "
            "(or use --backend local)"
        )


def validate(entries: Sequence[BenchEntry], backend: str = "local") -> None:
    """Check every entry of a bench; raise :class:`BenchError` on the first problem."""
    check_backend(backend)
    checked: set[tuple[str, str]] = set()
    built: set[tuple[str, str, str, str]] = set()
    for entry in entries:
        check_env(entry.env_id)
        for agent in entry.agents:
            check_agent(agent)
        extra = [k for k in entry.agent_kwargs if k not in entry.agents]
        if extra:
            raise BenchError(
                f"agent kwargs given for {', '.join(map(repr, extra))}, which is not among the "
                f"agents {', '.join(entry.agents)}"
            )
        ident = (entry.env_id, json.dumps(entry.env_kwargs, sort_keys=True))
        todo = [(a, dict(entry.agent_kwargs.get(a) or {})) for a in entry.agents]
        todo = [(a, kw) for a, kw in todo if (*ident, a, repr(sorted(kw.items()))) not in built]
        if ident not in checked or todo:
            check_env_kwargs(entry.env_id, entry.env_kwargs, todo)
            checked.add(ident)
            built.update((*ident, a, repr(sorted(kw.items()))) for a, kw in todo)
        if entry.max_steps is not None and entry.max_steps < 1:
            raise BenchError(f"--steps must be >= 1, got {entry.max_steps}")


def available_default(entries: Sequence[BenchEntry] | None = None) -> list[BenchEntry]:
    """The entries (default: ``DEFAULT_BENCH``) whose env and agents are registered; print a
    notice for the rest."""
    from agents import list_agents

    entries = DEFAULT_BENCH if entries is None else entries
    ids, names = set(known_env_ids()), set(list_agents())
    out = []
    for entry in entries:
        if entry.env_id not in ids:
            print(f"note: skipping {entry.env_id} (not registered in this version of nasgym)")
            continue
        agents = tuple(a for a in entry.agents if a in names)
        missing = [a for a in entry.agents if a not in names]
        if missing:
            print(f"note: {entry.env_id}: skipping agents not registered yet: {', '.join(missing)}")
        if agents:
            out.append(
                BenchEntry(entry.env_id, agents, entry.seeds, entry.env_kwargs, entry.max_steps)
            )
    return out

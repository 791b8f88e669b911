"""Stored bench records grouped into runs, with each run's objective vectors as an array."""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasgym import indicators as ind
from nasgym.bench.records import RunKey, agent_label, env_label, record_key
from nasgym.bench.store import RESULTS_FILE, read_records, results_file

Bounds = list[tuple[float, float]]


@dataclass
class Run:
    """The records of one (env, env kwargs, agent, agent kwargs, seed) run, steps in order."""

    env: str
    env_kwargs: dict[str, Any]
    agent: str
    seed: int
    steps: list[dict[str, Any]] = field(default_factory=list)
    done: dict[str, Any] | None = None
    agent_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The env id, with its kwargs when there are any."""
        return env_label(self.env, self.env_kwargs)

    @property
    def agent_label(self) -> str:
        """The agent name, with its kwargs when there are any (``rules(slopes="relative")``)."""
        return agent_label(self.agent, self.agent_kwargs)

    @property
    def complete(self) -> bool:
        """Whether the run's done marker is stored with every step up to it (a step lost to an
        unreadable line makes the run incomplete: the next bench replays it)."""
        if self.done is None:
            return False
        have = {int(r["step"]) for r in self.steps}
        return have >= set(range(1, int(self.done.get("steps") or 0) + 1))

    def objective_names(self) -> list[str]:
        """Objective names, in ``objective_spec`` order when known."""
        if self.done and self.done.get("objective_spec"):
            return list(self.done["objective_spec"])
        for rec in self.steps:
            if rec.get("objectives"):
                return list(rec["objectives"])
        return []

    def points(self, names: list[str] | None = None) -> np.ndarray:
        """Objective vectors, one row per step (NaN where a value is missing)."""
        names = names if names is not None else self.objective_names()
        return np.array(
            [[_num((r.get("objectives") or {}).get(n)) for n in names] for r in self.steps],
            dtype=float,
        ).reshape(len(self.steps), len(names))

    def test_points(self, names: list[str] | None = None) -> np.ndarray | None:
        """The test scores of the step candidates (``info["test_objectives"]``, which an env
        reports when it scores its models on held-out rows, as VALP's ``test_samples``), one row
        per step (NaN where a step has none); None when no step carries any."""
        names = names if names is not None else self.objective_names()
        keys = [f"test_objectives.{n}" for n in names]
        if not any(k in (r.get("info") or {}) for r in self.steps for k in keys):
            return None
        return np.array(
            [[_num((r.get("info") or {}).get(k)) for k in keys] for r in self.steps], dtype=float
        ).reshape(len(self.steps), len(names))

    def chosen_test(self, names: list[str] | None = None) -> dict[str, float] | None:
        """The test scores of the model a hill climber holds at the end: the last accepted
        candidate's, or the control's where a rejected candidate was replaced by its control
        (``control_test_objectives``, VALP's ``credit="control"``); None when unknown."""
        names = names if names is not None else self.objective_names()
        for rec in reversed(self.steps):
            info = rec.get("info") or {}
            prefix = "test_objectives" if rec.get("accepted") else "control_test_objectives"
            scores = [_num(info.get(f"{prefix}.{n}")) for n in names]
            if all(math.isfinite(v) for v in scores):
                return dict(zip(names, scores, strict=True))
            if rec.get("accepted"):
                return None  # accepted, but not scored
            # rejected: the model stayed (or a diverged control did not replace it)
        return None

    def last_info(self) -> dict[str, float]:
        """The numeric (non-bool) scalar info entries and the cost at the last step."""
        if not self.steps:
            return {}
        last = self.steps[-1]
        out = {
            k: float(v)
            for k, v in (last.get("info") or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if last.get("cost") is not None:
            out["cost"] = float(last["cost"])
        return out


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def load_runs(path: Path | str) -> list[Run]:
    """The runs stored in a results file (or in the results file of a folder: ``results.jsonl``,
    else its archive ``results.jsonl.gz``)."""
    path = Path(path)
    is_file = path.suffix == ".jsonl" or path.name.endswith(".jsonl.gz")
    folder = path.parent if is_file else path
    if not is_file:
        path = results_file(path)
    if not folder.exists():
        raise FileNotFoundError(
            f"no bench folder {str(folder)!r}; run `nasgym bench ... --out {folder}` first, "
            "or give the folder a bench wrote"
        )
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{str(folder)!r} is a file, not a bench folder; give the folder that holds "
            f"{RESULTS_FILE}"
        )
    if not path.exists():
        raise FileNotFoundError(
            f"{str(folder)!r} holds no {RESULTS_FILE}; run `nasgym bench ... --out {folder}` first"
        )
    runs: dict[RunKey, Run] = {}
    for rec in read_records(path):
        key = record_key(rec)
        run = runs.get(key)
        if run is None:
            run = runs[key] = Run(
                rec["env"],
                rec.get("env_kwargs") or {},
                rec["agent"],
                rec["seed"],
                agent_kwargs=rec.get("agent_kwargs") or {},
            )
        if rec["type"] == "done":
            run.done = rec
        else:
            run.steps.append(rec)
    for run in runs.values():
        run.steps.sort(key=lambda r: r["step"])
    return list(runs.values())


def group_runs(runs: list[Run]) -> dict[str, dict[str, list[Run]]]:
    """Runs by env label, then by agent label (the name with its kwargs, if any, so one agent
    with two settings gives two groups; sorted, so tables and plot colours do not depend on which
    worker wrote first), seeds sorted."""
    out: dict[str, dict[str, list[Run]]] = defaultdict(dict)
    for run in sorted(runs, key=lambda r: (r.agent, r.agent_label)):
        out[run.label].setdefault(run.agent_label, []).append(run)
    for agents in out.values():
        for lst in agents.values():
            lst.sort(key=lambda r: r.seed)
    return dict(out)


def split_labels(text: str) -> list[str]:
    """A comma list of agent labels, split only at the commas between labels: a label's own
    kwargs may hold commas (``rules(mend=2.0, thresholds="t.json"),random`` is two labels).

    Raises ValueError for unbalanced parentheses or an unclosed quote.
    """
    out, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in agent labels {text!r}")
        elif ch == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    if depth or quote:
        raise ValueError(f"unclosed {'quote' if quote else '('} in agent labels {text!r}")
    out.append(text[start:])
    return [label.strip() for label in out if label.strip()]


def match_labels(names: list[str], runs: list[Run]) -> list[str]:
    """Each of ``names`` as an agent label of ``runs``: a label as it stands, or the bare name of
    an agent that ran with one set of kwargs only (``rules`` for ``rules(thresholds="t.json")``).

    Raises ValueError, naming the labels there are, for a name that matches none or several.
    """
    by_agent: dict[str, set[str]] = {}
    for run in runs:
        by_agent.setdefault(run.agent, set()).add(run.agent_label)
    labels = set().union(*by_agent.values())
    out = []
    for name in names:
        found = [name] if name in labels else sorted(by_agent.get(name, ()))
        if len(found) != 1:
            what = "several agent labels" if found else "no agent label"
            raise ValueError(f"{name!r} matches {what}; the runs have {sorted(labels)}")
        out.append(found[0])
    return out


def objective_bounds(runs: list[Run]) -> tuple[list[str], Bounds]:
    """Objective names and their (ideal, reference) for runs of one env.

    Taken from a stored done marker, else from the env class's ``objective_spec``; else (an env
    without one) from the data's range with a warning.
    """
    for run in runs:
        if run.done and run.done.get("objective_spec"):
            spec = run.done["objective_spec"]
            return list(spec), [(float(a), float(b)) for a, b in spec.values()]
    spec = _class_spec(runs[0].env) if runs else {}
    if spec:
        return list(spec), [(float(a), float(b)) for a, b in spec.values()]
    names = runs[0].objective_names() if runs else []
    pts = np.vstack([r.points(names) for r in runs]) if runs else np.empty((0, 0))
    if not names or not np.isfinite(pts).any():
        return names, []
    lo, hi = np.nanmin(pts, axis=0), np.nanmax(pts, axis=0)
    warnings.warn(
        f"{runs[0].env} declares no objective_spec; normalising by the observed range",
        UserWarning,
        stacklevel=2,
    )
    return names, [
        (float(a), float(b) if b > a else float(a) + 1.0) for a, b in zip(lo, hi, strict=True)
    ]


def _class_spec(env_id: str) -> dict[str, tuple[float, float]]:
    try:
        import gymnasium as gym

        import nasgym  # noqa: F401

        entry = gym.spec(env_id).entry_point
        if isinstance(entry, str):
            from gymnasium.envs.registration import load_env_creator

            entry = load_env_creator(entry)
        return dict(getattr(entry, "objective_spec", {}) or {})
    except Exception:  # noqa: BLE001 - an unknown or broken env only loses the fallback
        return {}


def selected_test_points(run: Run, names: list[str], upto: int | None = None) -> np.ndarray | None:
    """Select on validation, report on test: the test scores of the run's candidates (its first
    ``upto`` steps) that no other candidate dominates on the validation objectives; None when
    the run carries no test scores. Their hypervolume is the bench's ``test hypervolume``, free
    of the optimism of choosing the front on the same rows that measure it."""
    test = run.test_points(names)
    if test is None:
        return None
    val = run.points(names)[:upto]
    keep = ind.nondominated_mask(val) if len(val) else np.zeros(0, dtype=bool)
    return finite_rows(test[:upto][keep])


def finite_rows(points: np.ndarray) -> np.ndarray:
    """The rows of ``points`` without NaN."""
    return points[np.all(np.isfinite(points), axis=1)] if points.size else points

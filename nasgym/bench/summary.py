"""The bench summary: per env and agent, objectives and indicators as mean +/- std over seeds.

``final`` is the objective vector of the last model a run evaluated (for a hill climber that
may be a rejected candidate; a step that evaluated nothing, such as NB201's over-budget step,
is skipped); ``best`` is, per objective separately, the lowest value any model of the run
reached. ``chosen`` is the cell the env chose (its incumbent, for envs that report
``best_test_acc_200`` and ``best_params`` in ``info``, such as NB201-v0): per run its
``best_arch``, test accuracy and params, and their mean +/- std.

Indicators are taken over all models a run evaluated (every step's objective vector):
hypervolume (normalised by the env's ``objective_spec``, reference point 1.0), the number of
non-dominated models, IGD+ to the true front where it is known, and the first paper's
comparisons (:mod:`nasgym.bench.compare`): each agent's share of the combined front per paired
seed (Fig. 8, mean +/- std over seeds) and its points in the front of all runs pooled (Fig. 9),
at the last step in the table and at four checkpoints (``checkpoints``) in ``summary.json``.

Agents are summarised per agent label: the name, with its kwargs when a bench gave any (e.g.
``rules(slopes="relative")``), so one agent run with two settings has two rows (``agent`` is the
label, ``agent_name`` and ``agent_kwargs`` its parts). The info table lists the numeric info
entries of the last step, nested ones flattened (e.g. VALP's ``current_objectives.class``: the
objectives of the model accepted at the end, see :func:`nasgym.bench.records.scalar_info`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nasgym import indicators as ind
from nasgym.bench.compare import (
    checkpoints,
    front_shares_by_step,
    max_steps,
    pooled_counts_by_step,
)
from nasgym.bench.fronts import true_front
from nasgym.bench.results import Run, finite_rows, group_runs, objective_bounds

SUMMARY_MD = "summary.md"
SUMMARY_JSON = "summary.json"


def _stat(values: list[float]) -> dict[str, float | int] | None:
    vals = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if vals.size == 0:
        return None
    std = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
    if std < 1e-12 * max(1.0, abs(float(vals.mean()))):
        std = 0.0  # equal values: no rounding noise in the table
    return {"mean": float(vals.mean()), "std": std, "n": int(vals.size)}


def summarize(runs: list[Run]) -> dict[str, Any]:
    """The summary of ``runs`` as a JSON-able dict (see the module docstring)."""
    envs = []
    for label, by_agent in group_runs(runs).items():
        all_runs = [r for lst in by_agent.values() for r in lst]
        names, bounds = objective_bounds(all_runs)
        first = all_runs[0]
        front = true_front(first.env, first.env_kwargs, names) if names else None
        steps = checkpoints(max_steps(by_agent))
        shares = front_shares_by_step(by_agent, names, steps) if names else {}
        pooled = pooled_counts_by_step(by_agent, names, steps) if names else {}
        agents = [
            _agent_summary(a, lst, names, bounds, front, shares.get(a, []), pooled.get(a, []))
            for a, lst in by_agent.items()
        ]
        envs.append(
            {
                "env": label,
                "env_id": first.env,
                "env_kwargs": first.env_kwargs,
                "objectives": names,
                "bounds": {n: list(b) for n, b in zip(names, bounds, strict=False)},
                "reference_point": 1.0,
                "true_front_points": None if front is None else len(front),
                "checkpoints": steps,
                "agents": agents,
            }
        )
    return {"envs": envs}


def _agent_summary(
    agent: str,
    runs: list[Run],
    names: list[str],
    bounds: list[tuple[float, float]],
    front: np.ndarray | None,
    shares: list[list[float]],
    pooled: list[int],
) -> dict[str, Any]:
    pts = [finite_rows(r.points(names)) for r in runs]
    final = {n: _stat([p[-1, i] for p in pts if len(p)]) for i, n in enumerate(names)}
    best = {n: _stat([float(np.min(p[:, i])) for p in pts if len(p)]) for i, n in enumerate(names)}
    infos = [r.last_info() for r in runs]
    keys = sorted({k for d in infos for k in d})
    return {
        "agent": agent,
        "agent_name": runs[0].agent,
        "agent_kwargs": runs[0].agent_kwargs,
        "runs": len(runs),
        "complete": sum(r.complete for r in runs),
        "seeds": [r.seed for r in runs],
        "steps": _stat([len(r.steps) for r in runs]),
        "final": final,
        "best": best,
        "hypervolume": _stat([ind.hypervolume(p, bounds) for p in pts]) if bounds else None,
        "nondominated": _stat([ind.nondominated_count(p) for p in pts]),
        "igd_plus": None
        if front is None
        else _stat([ind.igd_plus(p, front, bounds) for p in pts if len(p)]),
        "front_share": _stat(shares[-1]) if shares else None,
        "front_share_by_step": [_stat(v) for v in shares],
        "pooled_front_points": pooled[-1] if pooled else 0,
        "pooled_front_points_by_step": pooled,
        "chosen": _chosen(runs),
        "info": {k: _stat([d.get(k) for d in infos if k in d]) for k in keys},
        "wall_s": _stat([r.done["wall_s"] for r in runs if r.done and "wall_s" in r.done]),
    }


def _chosen(runs: list[Run]) -> dict[str, Any] | None:
    """Each run's chosen cell (the last step's ``best_*`` info) and their mean +/- std."""
    per_run = []
    for r in runs:
        info = (r.steps[-1].get("info") or {}) if r.steps else {}
        if "best_test_acc_200" in info and "best_params" in info:
            per_run.append(
                {
                    "seed": r.seed,
                    "arch": info.get("best_arch"),
                    "test_acc": info["best_test_acc_200"],
                    "params": info["best_params"],
                }
            )
    if not per_run:
        return None
    return {
        "test_acc": _stat([c["test_acc"] for c in per_run]),
        "params": _stat([c["params"] for c in per_run]),
        "per_run": per_run,
    }


def _fmt(stat: dict[str, float] | None, digits: int = 4) -> str:
    if stat is None:
        return "-"
    return f"{stat['mean']:.{digits}g} ± {stat['std']:.2g}"


def format_markdown(summary: dict[str, Any]) -> str:
    """The summary as Markdown tables: one indicator table and one info table per env."""
    parts = ["# nasgym bench summary", ""]
    for env in summary["envs"]:
        names = env["objectives"]
        parts += [f"## {env['env']}", ""]
        bounds = ", ".join(f"{n} in [{a:g}, {b:g}]" for n, (a, b) in env["bounds"].items())
        parts += [
            f"Objectives (lower is better), normalised as (v - ideal)/(reference - ideal): {bounds}; "
            "hypervolume reference point 1.0 per objective. Values: mean ± std over seeds. "
            "final: the last model evaluated; best: the lowest value reached, per objective; "
            "chosen: the env's incumbent (the cell the search returns).",
            "",
        ]
        head = ["agent", "runs", "steps", "hypervolume", "non-dominated"]
        head += ["IGD+"] if env["true_front_points"] else []
        head += ["front share (Fig. 8)", "pooled front pts (Fig. 9)"]
        head += [f"final {n}" for n in names] + [f"best {n}" for n in names]
        chosen = any(a.get("chosen") for a in env["agents"])
        head += ["chosen test acc", "chosen params"] if chosen else []
        head += ["wall s"]
        rows = []
        for a in env["agents"]:
            row = [a["agent"], f"{a['complete']}/{a['runs']}", _fmt(a["steps"], 3)]
            row += [_fmt(a["hypervolume"]), _fmt(a["nondominated"], 3)]
            row += [_fmt(a["igd_plus"])] if env["true_front_points"] else []
            row += [_fmt(a["front_share"], 3), str(a["pooled_front_points"])]
            row += [_fmt(a["final"][n]) for n in names] + [_fmt(a["best"][n]) for n in names]
            if chosen:
                c = a.get("chosen") or {}
                row += [_fmt(c.get("test_acc")), _fmt(c.get("params"))]
            row += [_fmt(a["wall_s"], 3)]
            rows.append(row)
        parts += _table(head, rows) + [""]
        keys = sorted({k for a in env["agents"] for k in a["info"]})
        if keys:
            parts += ["Numeric info at the last step:", ""]
            rows = [[k] + [_fmt(a["info"].get(k)) for a in env["agents"]] for k in keys]
            parts += _table(["info"] + [a["agent"] for a in env["agents"]], rows) + [""]
    return "\n".join(parts)


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(head), "|" + "|".join("---" for _ in head) + "|"] + [line(r) for r in rows]


def write_summary(out_dir: Path | str, summary: dict[str, Any]) -> str:
    """Write ``summary.md`` and ``summary.json`` into ``out_dir``; return the Markdown."""
    out = Path(out_dir)
    text = format_markdown(summary)
    (out / SUMMARY_MD).write_text(text + "\n")
    (out / SUMMARY_JSON).write_text(json.dumps(summary, indent=2) + "\n")
    return text

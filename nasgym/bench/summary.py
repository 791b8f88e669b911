"""The bench summary: per env and agent, objectives and indicators as mean +/- std over seeds,
and paired significance tests between agents.

Per env, ``summary.md`` holds one compact table (agent, n, hypervolume, front share, the chosen
or final objectives and the best ones with units, wall time; every mean at three significant
figures, its std at the same decimals), the paired tests and the numeric info of the last step.
Identifiers (indices, architecture strings, component ids) are never averaged. A warning (in
the summary and on the terminal) names runs that lie wholly outside the indicator box and models
better than its ideal (:func:`box_check`); another names the code versions when a folder's runs
were written by more than one (``code_versions``: each finished run's ``code``, see
:mod:`nasgym.bench.records`), as happens when a bench resumes a folder after the code changed;
a third names the platforms (``platforms``: torch, CPU kernels, CPU) when they ran on more than
one, as happens when a folder is resumed on another machine.

Paired tests (:func:`paired_comparisons`, :mod:`nasgym.stats`): for every pair of agents, on
the seeds both ran to the end (a run cut short is left out), a two-sided Wilcoxon signed-rank
test of hypervolume, of the pair's front shares (each agent's share of the front of the two
runs' models, Fig. 8 for the pair) and of each final and best objective, with the
matched-pairs rank-biserial correlation as effect size, the number of pairs and p-values
Holm-adjusted over the agent pairs of each metric; a cell of the table is bold where its
agent is significantly better (adjusted p < 0.05) than another. The same pairs are tested at
each checkpoint on hypervolume and the pair's front share
(:func:`nasgym.bench.compare.tests_by_step`, ``tests_by_step`` in the JSON, a second table in
the Markdown): which agent is ahead after t steps.

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
Where runs carry test scores (``info["test_objectives"]``, VALP's ``test_samples``), the table,
the paired tests and the per-checkpoint tests add the *test hypervolume*: the hypervolume of the
test scores of the models on the run's validation front (select on validation, report on test;
:func:`~nasgym.bench.results.selected_test_points`), and the table the *chosen test* objectives,
the test scores of the model a hill climber holds at the end
(:meth:`~nasgym.bench.results.Run.chosen_test`).

Where steps name the operator they applied (``info["operator"]``, as VALP's do, e.g.
``add_connection:gentle``), ``operators`` gives per agent what it applied
(:func:`operator_use`): each operator's share of its steps and the share of those the env
accepted, a table in the Markdown with rows for every gentle and every aggressive variant
together: what an agent did, beside how well it did. ``repeats_rejected``
(:func:`repeats_after_rejection`, the table's last row): after a rejected step, how often the
agent took the same action again.

Agents are summarised per agent label: the name, with its kwargs when a bench gave any (e.g.
``rules(slopes="relative")``), so one agent run with two settings has two rows (``agent`` is the
label, ``agent_name`` and ``agent_kwargs`` its parts). The info table lists the numeric info
entries of the last step, nested ones flattened (e.g. VALP's ``current_objectives.class``: the
objectives of the model accepted at the end, see :func:`nasgym.bench.records.scalar_info`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from nasgym import indicators as ind
from nasgym import stats as st
from nasgym._provenance import listed_mix, provenance_counts
from nasgym.bench import labels as lb
from nasgym.bench.compare import (
    PAIR_FRONT_SHARE,
    TEST_HV,
    checkpoints,
    front_shares_by_step,
    max_steps,
    pair_front_shares,
    pooled_counts_by_step,
    tests_by_step,
)
from nasgym.bench.fronts import true_front
from nasgym.bench.results import (
    Run,
    finite_rows,
    group_runs,
    objective_bounds,
    selected_test_points,
)

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


def _run_metrics(run: Run, names: list[str], bounds: list[tuple[float, float]]) -> dict[str, float]:
    """The compared metrics of one run: hypervolume; the chosen model's objectives (a hill
    climber's accepted model, ``current_objectives.*``) and entries of :data:`CHOSEN_INFO`, where
    the env reports them; the final and best value of each objective."""
    pts = run.points(names)
    good = finite_rows(pts)
    info = run.last_info()
    chosen_test = run.chosen_test(names) if names else None
    out: dict[str, float] = {}
    if bounds:
        out["hypervolume"] = ind.hypervolume(good, bounds)
        test = selected_test_points(run, names)
        if test is not None:
            out[TEST_HV] = ind.hypervolume(test, bounds)
    for key, head in CHOSEN_INFO.items():
        if key in info:
            out[head] = info[key]
    for i, n in enumerate(names):
        if f"current_objectives.{n}" in info:
            out[f"chosen {n}"] = info[f"current_objectives.{n}"]
        if chosen_test is not None:
            out[f"chosen test {n}"] = chosen_test[n]
        out[f"final {n}"] = float(pts[-1, i]) if len(pts) else math.nan
        out[f"best {n}"] = float(np.min(good[:, i])) if len(good) else math.nan
    return out


def _higher_is_better(metric: str) -> bool:
    """Whether a compared metric is higher-is-better (objectives are lower-is-better)."""
    return metric in ("hypervolume", TEST_HV, PAIR_FRONT_SHARE) or metric in CHOSEN_INFO.values()


def paired_comparisons(
    by_agent: dict[str, list[Run]], names: list[str], bounds: list[tuple[float, float]]
) -> list[dict[str, Any]]:
    """Every pair of agents, on the seeds both ran: a two-sided Wilcoxon signed-rank test of each
    metric.

    Metrics (:func:`_run_metrics`): hypervolume and the chosen test accuracy are higher-is-better,
    the chosen, final and best objectives lower-is-better. With objectives, also
    ``"front share (pair)"`` (:data:`PAIR_FRONT_SHARE`, higher-is-better): per seed, each agent's
    share of the front of the two agents' models (the first paper's Fig. 8 for that pair, which
    the table's front share, taken over the front of every agent, is not). Each entry:
    ``metric``, ``a``, ``b``, ``n`` (pairs), ``p``, ``p_holm`` (Holm-adjusted over the agent
    pairs compared on that metric; equal to ``p`` for two agents), ``effect`` (matched-pairs rank-biserial correlation, positive
    when ``a`` is better), ``median_diff`` (median of ``a - b`` in the metric's units) and
    ``winner`` (the better agent when ``p_holm < ALPHA``, else None).
    """
    per = {a: {r.seed: _run_metrics(r, names, bounds) for r in lst} for a, lst in by_agent.items()}
    seen: dict[str, None] = {}
    for runs in per.values():
        for values in runs.values():
            seen.update(dict.fromkeys(values))
    metrics = list(seen) + ([PAIR_FRONT_SHARE] if names else [])
    runs = {a: {r.seed: r for r in lst} for a, lst in by_agent.items()}
    out = []
    agents = list(by_agent)
    for metric in metrics:
        sign = 1.0 if _higher_is_better(metric) else -1.0
        for i, a in enumerate(agents):
            for b in agents[i + 1 :]:
                seeds = sorted(set(per[a]) & set(per[b]))
                if metric == PAIR_FRONT_SHARE:
                    xa, xb = pair_front_shares(runs[a], runs[b], seeds, names)
                else:
                    xa = [per[a][s].get(metric, math.nan) for s in seeds]
                    xb = [per[b][s].get(metric, math.nan) for s in seeds]
                res = st.paired_wilcoxon(xa, xb)
                effect = None if res["effect"] is None else sign * res["effect"] + 0.0
                out.append(
                    {
                        "metric": metric,
                        "a": a,
                        "b": b,
                        "n": res["n"],
                        "p": res["p"],
                        "effect": effect,
                        "median_diff": res["median_diff"],
                    }
                )
    for metric in metrics:  # Holm over the agent pairs of each metric (post-hoc style)
        family = [e for e in out if e["metric"] == metric]
        for entry, adj in zip(family, st.holm([e["p"] for e in family]), strict=True):
            entry["p_holm"] = adj
            win = adj is not None and adj < st.ALPHA and entry["effect"]
            entry["winner"] = (entry["a"] if entry["effect"] > 0 else entry["b"]) if win else None
    return out


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
        # a test pairs whole runs: a run cut short would be compared at an earlier step
        finished = {a: [r for r in lst if r.complete] for a, lst in by_agent.items()}
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
                "cost_unit": lb.cost_unit(first.env),
                "box_check": box_check(all_runs, names, bounds),
                "code_versions": code_versions(all_runs),
                "platforms": platforms(all_runs),
                "tests": paired_comparisons(finished, names, bounds) if names else [],
                "tests_by_step": tests_by_step(finished, names, bounds, steps)
                if names and len(by_agent) > 1
                else [],
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
    tests = [selected_test_points(r, names) for r in runs]
    chosen_tests = [r.chosen_test(names) if names else None for r in runs]
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
        "test_hypervolume": _stat(
            [ind.hypervolume(t, bounds) for t in tests if t is not None] if bounds else []
        ),
        "chosen_test": {n: _stat([c[n] for c in chosen_tests if c is not None]) for n in names}
        if any(c is not None for c in chosen_tests)
        else {},
        "nondominated": _stat([ind.nondominated_count(p) for p in pts]),
        "igd_plus": None
        if front is None
        else _stat([ind.igd_plus(p, front, bounds) for p in pts if len(p)]),
        "front_share": _stat(shares[-1]) if shares else None,
        "front_share_by_step": [_stat(v) for v in shares],
        "pooled_front_points": pooled[-1] if pooled else 0,
        "pooled_front_points_by_step": pooled,
        "chosen": _chosen(runs),
        "operators": operator_use(runs),
        "repeats_rejected": repeats_after_rejection(runs),
        "info": {
            k: _stat([d.get(k) for d in infos if k in d]) for k in keys if not lb.is_identifier(k)
        },
        "wall_s": _stat([r.done["wall_s"] for r in runs if r.done and "wall_s" in r.done]),
    }


def operator_use(runs: list[Run]) -> dict[str, dict[str, float | int]]:
    """Per operator named by the runs' steps (``info["operator"]``): ``n`` steps, their
    ``share`` of the steps that name one, and the share of them ``accepted`` by the env. Empty
    where no step names an operator (NB201, Cell)."""
    counts: dict[str, list[int]] = {}
    for run in runs:
        for step in run.steps:
            op = (step.get("info") or {}).get("operator")
            if isinstance(op, str) and op:
                n_acc = counts.setdefault(op, [0, 0])
                n_acc[0] += 1
                n_acc[1] += bool(step.get("accepted", True))
    total = sum(n for n, _ in counts.values())
    return {
        op: {"n": n, "share": n / total, "accepted": acc / n}
        for op, (n, acc) in sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))
    }


def repeats_after_rejection(runs: list[Run]) -> dict[str, float | int] | None:
    """How often an agent takes the very action whose candidate was just rejected: over the
    steps that follow a rejected step (``n``), the ``share`` whose action is the same. None where
    no step was rejected. A hill climber's rejected candidate leaves a model of the same
    architecture, so an agent repeating itself there keeps proposing a move that just failed."""
    n = same = 0
    for run in runs:
        for before, after in zip(run.steps, run.steps[1:], strict=False):  # steps in order
            if int(after["step"]) == int(before["step"]) + 1 and not before.get("accepted", True):
                n += 1
                same += after.get("action") == before.get("action")
    return {"n": n, "share": same / n} if n else None


def box_check(
    runs: list[Run], names: list[str], bounds: list[tuple[float, float]]
) -> dict[str, Any]:
    """Where the evaluated models lie against the indicator box (ideal, reference).

    ``points``: models with a finite objective vector; ``beyond_reference``: those worse than
    the reference in some objective (they add no hypervolume, as intended); ``below_ideal``:
    those better than the ideal in some objective (the box is too small: hypervolume can exceed
    the box); ``runs_all_outside``: runs none of whose models is inside (hypervolume 0, which
    then says nothing about the agent); ``runs``.
    """
    total = beyond = below = all_out = 0
    for run in runs:
        pts = finite_rows(run.points(names))
        if not len(pts) or not bounds:
            continue
        norm = ind.normalise(pts, bounds)
        hi, lo = np.any(norm >= 1.0, axis=1), np.any(norm < 0.0, axis=1)
        total += len(pts)
        beyond += int(hi.sum())
        below += int(lo.sum())
        all_out += bool((hi | lo).all())
    return {
        "points": total,
        "beyond_reference": beyond,
        "below_ideal": below,
        "runs_all_outside": all_out,
        "runs": len(runs),
    }


def code_versions(runs: list[Run]) -> dict[str, int]:
    """How many finished runs each code version wrote (``code`` of their done markers)."""
    return provenance_counts((r.done for r in runs if r.done is not None), "code")


def platforms(runs: list[Run]) -> dict[str, int]:
    """How many finished runs ran on each platform (torch, CPU kernels, CPU: ``platform`` of
    their done markers)."""
    return provenance_counts((r.done for r in runs if r.done is not None), "platform")


def code_warning(env: dict[str, Any]) -> str | None:
    """A one-line warning when the runs of ``env`` (a summary entry) were written by more than
    one code version (a folder resumed across a code change); None otherwise."""
    listed = listed_mix(env.get("code_versions") or {})
    if listed is None:
        return None
    return (
        f"{env['env']}: these runs were written by {len(env['code_versions'])} code versions: "
        f"{listed}. The comparison may mix code changes with agent differences; rerun into a "
        "new --out to compare the agents under one version."
    )


def platform_warning(env: dict[str, Any]) -> str | None:
    """A one-line warning when the runs of ``env`` (a summary entry) ran on more than one
    platform (a folder resumed on another machine or torch); None otherwise."""
    listed = listed_mix(env.get("platforms") or {})
    if listed is None:
        return None
    return (
        f"{env['env']}: these runs ran on {len(env['platforms'])} platforms: {listed}. The same "
        "seed can follow another trajectory on another platform (CPU kernels round "
        "differently); rerun into a new --out on one machine to compare the agents."
    )


def summary_warnings(env: dict[str, Any]) -> list[str]:
    """Every warning about a summary entry: its box, its code versions, its platforms."""
    found = (box_warning(env), code_warning(env), platform_warning(env))
    return [w for w in found if w]


def box_warning(env: dict[str, Any]) -> str | None:
    """A one-line warning when runs of ``env`` (a summary entry) lie wholly outside its box or
    models lie below its ideal; None when the box fits."""
    box = env.get("box_check") or {}
    if not box.get("runs_all_outside") and not box.get("below_ideal"):
        return None
    bounds = ", ".join(f"{n} in [{a:g}, {b:g}]" for n, (a, b) in env["bounds"].items())
    what = []
    if box["runs_all_outside"]:
        what.append(
            f"{box['runs_all_outside']} of {box['runs']} runs have every model outside it "
            "(hypervolume 0 says nothing about them)"
        )
    if box["below_ideal"]:
        what.append(
            f"{box['below_ideal']} of {box['points']} models are better than its ideal "
            "(hypervolume can exceed the box)"
        )
    return (
        f"{env['env']}: the indicator box ({bounds}) does not fit these results: "
        f"{'; '.join(what)}. Give the env an objective_spec sized for this data set."
    )


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


def _fmt(stat: dict[str, float] | None) -> str:
    if stat is None:
        return "-"
    return lb.fmt_mean_std(stat["mean"], stat["std"])


#: info entries shown in the main table as the model a search chose, with a header
CHOSEN_INFO: dict[str, str] = {
    "best_test_acc_200": "chosen test acc",
    "best_params": "chosen params",
}


def _main_columns(env: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(header, metric name in the tests or "", getter of an agent's stat) of the main table."""
    names = env["objectives"]
    infos = {k for a in env["agents"] for k in a["info"]}
    cols: list[tuple[str, str, Any]] = [
        ("hypervolume", "hypervolume", lambda a: a["hypervolume"]),
    ]
    if any(a.get("test_hypervolume") for a in env["agents"]):
        cols.append((TEST_HV, TEST_HV, lambda a: a.get("test_hypervolume")))
    cols.append(("front share", "", lambda a: a["front_share"]))
    if env["true_front_points"]:
        cols.append(("IGD+", "", lambda a: a["igd_plus"]))
    for key, head in CHOSEN_INFO.items():
        if key in infos:
            cols.append(
                (lb.with_unit(head, lb.UNITS.get(key)), head, lambda a, k=key: a["info"].get(k))
            )
    chosen = all(f"current_objectives.{n}" in infos for n in names)
    for n in names:
        if chosen:  # a hill climber: the model accepted at the end
            head, get = f"chosen {n}", (lambda a, n=n: a["info"].get(f"current_objectives.{n}"))
        else:
            head, get = f"final {n}", (lambda a, n=n: a["final"][n])
        cols.append((lb.with_unit(head, lb.UNITS.get(n)), head, get))
    for n in names:
        if any((a.get("chosen_test") or {}).get(n) for a in env["agents"]):
            head, get = f"chosen test {n}", (lambda a, n=n: (a.get("chosen_test") or {}).get(n))
            cols.append((lb.with_unit(head, lb.UNITS.get(n)), head, get))
    for n in names:
        unit = lb.UNITS.get(n)
        cols.append((lb.with_unit(f"best {n}", unit), f"best {n}", lambda a, n=n: a["best"][n]))
    cols.append(("wall (s)", "", lambda a: a["wall_s"]))
    return cols


def format_markdown(summary: dict[str, Any]) -> str:
    """The summary as Markdown: per env one compact table, the paired tests and the info table."""
    parts = ["# nasgym bench summary", ""]
    for env in summary["envs"]:
        parts += [f"## {env['env']}", ""]
        for warning in summary_warnings(env):
            parts += [f"> **Warning:** {warning}", ""]
        bounds = ", ".join(f"{n} in [{a:g}, {b:g}]" for n, (a, b) in env["bounds"].items())
        cols = _main_columns(env)
        wins = {(t["metric"], t["winner"]) for t in env.get("tests", []) if t["winner"]}
        rows = []
        for a in env["agents"]:
            row = [a["agent"], f"{a['complete']}/{a['runs']}"]
            for _head, metric, get in cols:
                cell = _fmt(get(a))
                row.append(f"**{cell}**" if metric and (metric, a["agent"]) in wins else cell)
            rows.append(row)
        parts += _table(["agent", "n"] + [c[0] for c in cols], rows) + [""]
        parts += [
            f"Mean ± std over seeds (n: complete/started runs). Objectives are lower-is-better; "
            f"hypervolume is the fraction of the box {bounds} (reference point 1.0 per objective) "
            "dominated by the run's models; front share: the agent's share of the combined Pareto "
            "front per paired seed; "
            + (
                "test hypervolume: the same box, of the test scores of the models on the run's "
                "validation front (select on validation, report on test); chosen test: the test "
                "scores of the model held at the end; "
                if any(a.get("test_hypervolume") for a in env["agents"])
                else ""
            )
            + "best: the lowest value a run reached per objective; cost "
            f"unit: {env.get('cost_unit', 'cost units')}. **Bold**: significantly better than at "
            "least one other agent (paired two-sided Wilcoxon signed-rank test, Holm-adjusted "
            f"over the agent pairs, p < {st.ALPHA}).",
            "",
        ]
        parts += _tests_table(env) + _steps_table(env) + _operators_table(env) + _info_table(env)
    return "\n".join(parts)


def _tests_table(env: dict[str, Any]) -> list[str]:
    tests = env.get("tests") or []
    if not tests:
        return []
    rows = []
    for t in tests:
        verdict = f"**{t['winner']}** better" if t["winner"] else "no significant difference"
        if not t["winner"] and t["p"] is not None and t["p"] < st.ALPHA:
            verdict = "no significant difference after Holm"
        rows.append(
            [
                t["metric"],
                f"{t['a']} vs {t['b']}",
                str(t["n"]),
                lb.fmt_number(t["median_diff"]),
                lb.fmt_number(t["effect"], 2),
                lb.fmt_number(t["p"], 2),
                lb.fmt_number(t["p_holm"], 2),
                verdict,
            ]
        )
    head = ["metric", "pair (a vs b)", "n", "median a - b", "effect r", "p", "p (Holm)", "result"]
    return [
        "Paired tests (Wilcoxon signed-rank on the seeds both agents ran to the end; effect r: "
        "matched-pairs rank-biserial correlation, > 0 when a is better; p (Holm): adjusted over "
        "the agent pairs of each metric; a result is significant when p (Holm) < 0.05):",
        "",
        *_table(head, rows),
        "",
    ]


def _steps_table(env: dict[str, Any]) -> list[str]:
    """Per pair of agents, who is ahead at each checkpoint and the test's p (bold: significant
    after Holm), on hypervolume and on the pair's front share."""
    tests = env.get("tests_by_step") or []
    if not tests:
        return []
    steps = sorted({t["step"] for t in tests})
    metrics = list(dict.fromkeys(t["metric"] for t in tests))
    cells: dict[tuple[str, str], dict[tuple[str, int], str]] = {}
    for t in tests:
        ahead = t["a"] if (t["effect"] or 0) > 0 else t["b"] if (t["effect"] or 0) < 0 else "tie"
        text = "n/a" if t["p"] is None else f"{ahead} {lb.fmt_number(t['p'], 2)}"
        if t["p_holm"] is not None and t["p_holm"] < st.ALPHA:
            text = f"**{text}**"
        cells.setdefault((t["a"], t["b"]), {})[t["metric"], t["step"]] = text
    head = ["pair (a vs b)"] + [f"{m} @{s}" for m in metrics for s in steps]
    rows = [
        [f"{a} vs {b}"] + [by.get((m, s), "") for m in metrics for s in steps]
        for (a, b), by in cells.items()
    ]
    return [
        "Per checkpoint (each run's first t steps; the agent ahead and the p of a paired two-sided "
        "Wilcoxon test; front share (pair): each agent's share of the front of the two runs' "
        "models, Fig. 8 for the pair; bold: significant after Holm over the pairs):",
        "",
        *_table(head, rows),
        "",
    ]


def _operators_table(env: dict[str, Any]) -> list[str]:
    """Per operator, each agent's share of its steps and (in parentheses) the share of those
    accepted; then every gentle and every aggressive variant together."""
    agents = env["agents"]
    uses = [a.get("operators") or {} for a in agents]
    if not any(uses):
        return []
    total: dict[str, int] = {}
    for use in uses:
        for op, entry in use.items():
            total[op] = total.get(op, 0) + int(entry["n"])
    ops = sorted(total, key=lambda op: (-total[op], op))

    def cell(entries: list[dict[str, float | int]], steps: int) -> str:
        n = sum(int(e["n"]) for e in entries)
        if not n:
            return ""
        accepted = sum(float(e["accepted"]) * int(e["n"]) for e in entries) / n
        return f"{100 * n / steps:.1f} % ({accepted:.2f})"

    steps = [sum(int(e["n"]) for e in u.values()) for u in uses]
    rows = [
        [op] + [cell([u[op]] if op in u else [], k) for u, k in zip(uses, steps, strict=True)]
        for op in ops
    ]
    for kind in ("gentle", "aggressive"):
        if any(op.endswith(":" + kind) for op in ops):
            rows.append(
                [f"every {kind} variant"]
                + [
                    cell([e for op, e in u.items() if op.endswith(":" + kind)], k)
                    for u, k in zip(uses, steps, strict=True)
                ]
            )
    repeats = [a.get("repeats_rejected") for a in agents]
    if any(repeats):
        rows.append(
            ["the rejected action again at the next step"]
            + [f"{100 * r['share']:.1f} % of {r['n']}" if r else "" for r in repeats]
        )
    return [
        "Operators applied (each agent's share of its steps, over every run; in parentheses "
        "the share of those steps whose candidate the env accepted; last row: after a rejected "
        "step, how often the next step takes the same action):",
        "",
        *_table(["operator"] + [a["agent"] for a in agents], rows),
        "",
    ]


def _info_table(env: dict[str, Any]) -> list[str]:
    keys = sorted({k for a in env["agents"] for k in a["info"]})
    if not keys:
        return []
    unit = env.get("cost_unit")
    rows = [
        [lb.with_unit(k, unit if k == "cost" else lb.UNITS.get(k))]
        + [_fmt(a["info"].get(k)) for a in env["agents"]]
        for k in keys
    ]
    return [
        "Numeric info at the last step (identifiers such as indices are never averaged):",
        "",
        *_table(["info"] + [a["agent"] for a in env["agents"]], rows),
        "",
    ]


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

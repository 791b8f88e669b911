"""The sweep's results: chosen cells per grid point, IGD+ to the true front, paired tests.

Per data set and agent, for each grid point: the chosen cells of the seeds (each run's
incumbent, ``best_*`` of its last step) as mean +/- std of params and 200-epoch test accuracy;
the best test accuracy of any table cell with no more params than that mean (``front_acc``) and
the gap to it (``gap``; ``run_gap``: each chosen cell's gap to the best cell of no more
params than itself, mean +/- std over seeds, never negative). Per seed, the set of chosen cells over the grid (one per grid point) is a
trade-off curve; its IGD+ to the table's true (test error, params) front, normalised by NB201-v0's
``objective_spec``, measures how close the curve lies to the front. Each agent's IGD+ is
compared with random search's on the same seeds by a two-sided Wilcoxon signed-rank test
(scipy), with the mean and median difference and the matched-pairs rank-biserial correlation
(negative: the agent's curves are closer to the front).

The protocol's bound (``bound``): per grid point, the reward's optimum over the whole table
(:meth:`~nasgym.envs.nb201.NB201Env.table_rewards`), the cell any search would choose with an
unlimited budget, with its params, test accuracy and gap (as ``run_gap``). The reward reads
12-epoch validation accuracy, a noisy proxy of the 200-epoch test accuracy, so a positive gap
here is the protocol's, not the search's.

Targets checked (``targets``): the mean params fall monotonically (never rise) as beta grows
more negative; every grid point's mean test accuracy is within ``GAP_TARGET`` points of
``front_acc``; the agent's IGD+ is lower than random search's with Wilcoxon p < 0.05.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nasgym import indicators as ind
from nasgym.bench.fronts import true_front
from nasgym.bench.records import canonical_kwargs
from nasgym.bench.results import Run
from nasgym.envs.nb201 import OBJECTIVE_SPECS, NB201Env
from nasgym.stats import paired_wilcoxon
from nasgym.sweep.grid import calibration
from nasgym.sweep.study import SWEEP_ENV, SweepConfig
from nasgym.tables.nb201 import load_nb201

SWEEP_MD = "sweep.md"
SWEEP_JSON = "sweep.json"
#: the largest accepted gap (points of test accuracy) to the best table cell of no more params
GAP_TARGET = 0.5
BASELINE = "random"
NAMES = ["test_error", "params"]


def _stat(values: list[float]) -> dict[str, float] | None:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return None
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "n": int(v.size),
    }


def paired_test(x: list[float], y: list[float]) -> dict[str, Any]:
    """Two-sided Wilcoxon signed-rank test of paired samples ``x`` vs ``y`` with effect sizes:
    mean and median of ``x - y`` and the matched-pairs rank-biserial correlation (-1: every
    ``x`` lower); :func:`nasgym.stats.paired_wilcoxon` under the sweep's key names."""
    d = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    test = paired_wilcoxon(x, y)
    return {
        "n": int(d.size),
        "mean_diff": float(d.mean()) if d.size else None,
        "median_diff": test["median_diff"],
        "wilcoxon_p": 1.0 if test["p"] is None else test["p"],
        "rank_biserial": test["effect"] if test["effect"] is not None else 0.0,
        "lower": int((d < 0).sum()),
    }


def _table_arrays(dataset: str, table_path: str | None) -> tuple[np.ndarray, np.ndarray]:
    table = load_nb201(table_path)
    test = np.round(table.test_acc_200(dataset).astype(np.float64), 4)
    params = np.round(table.params(dataset).astype(np.float64), 6)
    return test, params


def _best_within(test: np.ndarray, params: np.ndarray, limit: float) -> float:
    """The best test accuracy of any table cell with no more than ``limit`` params."""
    return float(test[params <= limit + 1e-9].max())


def _chosen(run: Run) -> dict[str, Any] | None:
    if not run.complete or not run.steps:
        return None
    info = run.steps[-1].get("info") or {}
    if info.get("best_params") is None:
        return None
    return {
        "seed": run.seed,
        "arch": info.get("best_arch"),
        "params": float(info["best_params"]),
        "test_acc": float(info["best_test_acc_200"]),
    }


def protocol_bound(config: SweepConfig, ds: str) -> list[dict[str, Any]]:
    """Per grid point, the cell of highest reward over the whole table and its gap (see the
    module docstring)."""
    test, params = _table_arrays(ds, config.table_path)
    table = load_nb201(config.table_path)
    out = []
    for f in config.fractions:
        env = NB201Env(**config.env_kwargs(ds, f))
        i = int(np.argmax(env.table_rewards()))
        out.append(
            {
                "fraction": f,
                "index": i,
                "arch": table.arch_str(i),
                "params": float(params[i]),
                "test_acc": float(test[i]),
                "gap": _best_within(test, params, params[i]) - float(test[i]),
            }
        )
    return out


def summarize_sweep(config: SweepConfig, runs: list[Run]) -> dict[str, Any]:
    """The sweep summary of ``runs`` (see the module docstring) as a JSON-able dict."""
    lookup = config.lookup()
    cells: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for run in runs:
        point = lookup.get(canonical_kwargs(run.env_kwargs)) if run.env == SWEEP_ENV else None
        chosen = _chosen(run)
        if point is None or chosen is None or run.seed not in config.seeds:
            continue
        cells.setdefault((point[0], run.agent_label, point[1]), []).append(chosen)
    datasets = []
    for ds in config.datasets:
        agents = sorted({a for d, a, _ in cells if d == ds})
        datasets.append(_dataset_summary(config, ds, agents, cells))
    return {
        "env": SWEEP_ENV,
        "reward": config.reward,
        "device": config.device if config.reward == "eq10" else None,
        "fractions": list(config.fractions),
        "seeds": list(config.seeds),
        "time_budget": config.time_budget,
        "gap_target": GAP_TARGET,
        "datasets": datasets,
    }


def _dataset_summary(
    config: SweepConfig, ds: str, agents: list[str], cells: dict[tuple[str, str, float], list]
) -> dict[str, Any]:
    bounds = [tuple(OBJECTIVE_SPECS[ds][n]) for n in NAMES]
    env_kwargs = {"dataset": ds} | ({"table_path": config.table_path} if config.table_path else {})
    front = true_front(SWEEP_ENV, env_kwargs, NAMES)
    test, params = _table_arrays(ds, config.table_path)
    out_agents = []
    igd: dict[str, dict[int, float]] = {}
    for agent in agents:
        grid, curves = [], {}
        for f in config.fractions:
            chosen = sorted(cells.get((ds, agent, f), []), key=lambda c: c["seed"])
            if not chosen:
                continue
            p = _stat([c["params"] for c in chosen])
            acc = _stat([c["test_acc"] for c in chosen])
            front_acc = _best_within(test, params, p["mean"])
            run_gaps = [_best_within(test, params, c["params"]) - c["test_acc"] for c in chosen]
            grid.append(
                {
                    "fraction": f,
                    "reward_params": config.env_kwargs(ds, f)["reward_params"],
                    "params": p,
                    "test_acc": acc,
                    "front_acc": front_acc,
                    "gap": front_acc - acc["mean"],
                    "run_gap": _stat(run_gaps),
                    "chosen": chosen,
                }
            )
            for c in chosen:
                curves.setdefault(c["seed"], []).append((100.0 - c["test_acc"], c["params"]))
        full = {s: np.array(c) for s, c in curves.items() if len(c) == len(config.fractions)}
        igd[agent] = {s: ind.igd_plus(c, front, bounds) for s, c in sorted(full.items())}
        means = [g["params"]["mean"] for g in grid]
        out_agents.append(
            {
                "agent": agent,
                "grid": grid,
                "igd_plus": _stat(list(igd[agent].values())),
                "igd_plus_per_seed": {str(s): v for s, v in igd[agent].items()},
                "targets": {
                    "monotone_params": bool(np.all(np.diff(means) <= 1e-12)),
                    "max_gap": max((g["gap"] for g in grid), default=None),
                    "within_gap": all(g["gap"] <= GAP_TARGET for g in grid),
                },
            }
        )
    bound = protocol_bound(config, ds)
    paired = []
    for agent in agents:
        if agent == BASELINE or BASELINE not in igd:
            continue
        seeds = sorted(set(igd[agent]) & set(igd[BASELINE]))
        test_ = paired_test([igd[agent][s] for s in seeds], [igd[BASELINE][s] for s in seeds])
        test_["agent"], test_["baseline"] = agent, BASELINE
        test_["beats_baseline"] = bool(
            test_["n"] > 0 and test_["mean_diff"] < 0 and test_["wilcoxon_p"] < 0.05
        )
        paired.append(test_)
        next(a for a in out_agents if a["agent"] == agent)["targets"]["beats_random"] = test_[
            "beats_baseline"
        ]
    return {
        "dataset": ds,
        "calibration": calibration(ds, config.device, config.table_path),
        "bounds": {n: list(b) for n, b in zip(NAMES, bounds, strict=True)},
        "front": front.tolist(),
        "agents": out_agents,
        "paired": paired,
        "bound": bound,
        "bound_max_gap": max(b["gap"] for b in bound),
    }


def _pm(stat: dict[str, float] | None, digits: int = 3) -> str:
    return "-" if stat is None else f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def format_sweep(summary: dict[str, Any]) -> str:
    """The sweep summary as Markdown."""
    parts = [f"# nasgym sweep: {summary['reward']} on {summary['env']}", ""]
    parts += [
        f"Budget {summary['time_budget']:g} s per search, seeds {summary['seeds'][0]}-"
        f"{summary['seeds'][-1]} ({len(summary['seeds'])}, paired), grid fractions "
        f"{summary['fractions']} of each data set's saturation exponent. Chosen cell: the "
        "in-budget cell of highest reward. front acc: best 200-epoch test accuracy of any table "
        f"cell with no more params than the mean; targets: gap <= {summary['gap_target']}.",
        "",
    ]
    for ds in summary["datasets"]:
        cal = ds["calibration"]
        parts += [f"## {ds['dataset']}", ""]
        parts += [f"beta_sat = {cal['beta_sat']:.4f} (gamma_sat = {cal['gamma_sat']:.4f}).", ""]
        head = [
            "agent",
            "fraction",
            "reward params",
            "params (M)",
            "test acc (%)",
            "front acc",
            "gap",
            "per-run gap",
            "n",
        ]
        rows = []
        for a in ds["agents"]:
            for g in a["grid"]:
                rp = ", ".join(f"{k}={v:g}" for k, v in g["reward_params"].items())
                rows.append(
                    [a["agent"], f"{g['fraction']:g}", rp, _pm(g["params"]), _pm(g["test_acc"], 2),
                     f"{g['front_acc']:.2f}", f"{g['gap']:.2f}", _pm(g["run_gap"], 2), str(g["params"]["n"])]
                )  # fmt: skip
        parts += _table(head, rows) + [""]
        head = [
            "agent",
            "IGD+ (chosen cells)",
            "params monotone",
            "max gap",
            f"gap <= {summary['gap_target']}",
            "beats random",
        ]
        rows = [
            [a["agent"], _pm(a["igd_plus"], 4), _yes(a["targets"]["monotone_params"]),
             "-" if a["targets"]["max_gap"] is None else f"{a['targets']['max_gap']:.2f}",
             _yes(a["targets"]["within_gap"]), _yes(a["targets"].get("beats_random"))]
            for a in ds["agents"]
        ]  # fmt: skip
        parts += _table(head, rows) + [""]
        parts += [
            "The reward's optimum over the whole table (what any search chooses with an "
            "unlimited budget; the reward reads 12-epoch validation accuracy):",
            "",
        ]
        rows = [
            [f"{b['fraction']:g}", f"`{b['arch']}`".replace("|", "\\|"),
             f"{b['params']:.3f}", f"{b['test_acc']:.2f}", f"{b['gap']:.2f}"]
            for b in ds.get("bound", [])
        ]  # fmt: skip
        parts += _table(["fraction", "cell", "params (M)", "test acc (%)", "gap"], rows) + [""]
        for t in ds["paired"]:
            parts.append(
                f"- IGD+ {t['agent']} vs {t['baseline']}: n = {t['n']} paired seeds, mean "
                f"difference {t['mean_diff']:+.4f} (median {t['median_diff']:+.4f}), lower on "
                f"{t['lower']}/{t['n']} seeds, Wilcoxon p = {t['wilcoxon_p']:.3g}, rank-biserial "
                f"r = {t['rank_biserial']:+.2f}"
            )
        parts.append("")
    return "\n".join(parts)


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    return [line(head), "|" + "|".join("---" for _ in head) + "|"] + [line(r) for r in rows]


def write_sweep(out_dir: Path | str, summary: dict[str, Any]) -> str:
    """Write ``sweep.md`` and ``sweep.json`` into ``out_dir``; return the Markdown."""
    out = Path(out_dir)
    text = format_sweep(summary)
    (out / SWEEP_MD).write_text(text + "\n")
    (out / SWEEP_JSON).write_text(json.dumps(summary, indent=2) + "\n")
    return text

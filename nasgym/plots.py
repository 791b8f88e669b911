"""Figures of bench results (PNG and SVG, matplotlib's Agg backend), one set per environment.

- ``hypervolume_<env>``: hypervolume of the models evaluated so far against the cumulative cost
  (``info["cost"]``, in the env's unit: simulated seconds for NB201, training batches for VALP),
  mean over seeds with a 95% t confidence band clipped to [0, 1] (runs that ended early keep
  their final value);
- ``test_hypervolume_<env>`` (runs that carry test scores, VALP's ``test_samples``): beside the
  validation hypervolume, the test hypervolume of the models on the validation front so far
  (select on validation, report on test), on one scale, so an agent flattered by choosing on
  the rows that measure it shows as a gap between the panels;
- ``incumbent_<env>``: the standard NAS-Bench-201 figure (envs whose info has
  ``best_test_acc_200``): the incumbent's 200-epoch test accuracy against simulated seconds,
  mean and 95% band over seeds, with the published final means (± std) as reference marks;
- ``front_share_<env>``: per paired seed, each agent's share of the combined Pareto front (the
  first paper's Fig. 8), as boxplots at four checkpoints;
- ``pooled_front_<env>``: all runs pooled, each agent's points in the combined front (its
  Fig. 9), as labelled bars at the same checkpoints (a zero is written, not invisible);
- ``pareto_<env>``: every evaluated model, each agent's pooled front and, drawn above them, the
  true front where known;
- ``operators_<env>``: operator-usage frequencies per agent (envs whose info names an ``operator``),
  agents in legend order within each operator.

A saved SB3 policy (``sb3:ALGO:PATH``) is named ``sb3:ALGO:<file stem>`` in legends.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nasgym import indicators as ind  # noqa: E402
from nasgym import stats  # noqa: E402
from nasgym.bench import compare  # noqa: E402
from nasgym.bench.compare import (  # noqa: E402
    checkpoints,
    front_shares_by_step,
    max_steps,
    pooled_counts_by_step,
)
from nasgym.bench.fronts import true_front  # noqa: E402
from nasgym.bench.labels import OBJECTIVE_LABELS, cost_unit, objective_label  # noqa: E402
from nasgym.bench.results import (  # noqa: E402
    Run,
    finite_rows,
    group_runs,
    objective_bounds,
    selected_test_points,
)

__all__ = [
    "OBJECTIVE_LABELS",
    "checkpoints",
    "plot_all",
    "plot_front_shares",
    "plot_hypervolume",
    "plot_incumbent",
    "plot_operator_usage",
    "plot_pareto",
    "plot_pooled_front",
    "short_agent",
]

STEP_LABEL = "step (models evaluated)"
FORMATS = ("png", "svg")
#: points of the common cost grid on which runs are averaged
GRID = 240


def _label(name: str) -> str:
    return objective_label(name)


def short_agent(label: str) -> str:
    """A legend name: ``sb3:ALGO:/long/path/model.zip`` -> ``sb3:ALGO:model``, and an argument
    that is a path named by its file (``metamodel(path="/runs/mm/q90.skops")`` ->
    ``metamodel(path="q90.skops")``, ``rules(thresholds="runs/calib/thresholds.json")`` ->
    ``rules(thresholds="thresholds.json")``); others unchanged."""
    label = re.sub(r'="([^"]*/[^"]*)"', lambda m: f'="{Path(m.group(1)).name}"', label)
    if not label.startswith("sb3:"):
        return label
    head, _, rest = label.partition("(")
    parts = head.split(":", 2)
    if len(parts) < 3:
        return label
    short = f"sb3:{parts[1]}:{Path(parts[2]).stem}"
    return f"{short}({rest}" if rest else short


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", label.replace("nasgym/", "")).strip("_")


def _colors(agents: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {a: cmap(i % 10) for i, a in enumerate(agents)}


def on_grid(
    xs: list[np.ndarray], ys: list[np.ndarray], n: int = GRID
) -> tuple[np.ndarray, np.ndarray]:
    """Step functions ``(x, y)`` (x increasing) sampled on a common grid from 0 to the largest
    x: a (runs, n) matrix, NaN before a run's first x, its last value after its end."""
    hi = max((float(x[-1]) for x in xs if len(x)), default=1.0)
    grid = np.linspace(0.0, hi if hi > 0 else 1.0, n)
    mat = np.full((len(xs), n), np.nan)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        idx = np.searchsorted(x, grid, side="right") - 1
        ok = idx >= 0
        mat[i, ok] = np.asarray(y, dtype=float)[idx[ok]]
    return grid, mat


def _band(
    ax: Axes,
    grid: np.ndarray,
    mat: np.ndarray,
    color: tuple,
    label: str,
    clip: tuple[float, float] | None = None,
) -> None:
    """Mean and 95% t band over the rows of ``mat`` where every row has a value."""
    full = np.all(np.isfinite(mat), axis=0)
    if not full.any():
        return
    mean, half = stats.mean_ci(mat[:, full])
    x = grid[full]
    ax.plot(x, mean, color=color, label=label)
    if len(mat) > 1:
        lo, hi = mean - half, mean + half
        if clip is not None:
            lo, hi = np.clip(lo, *clip), np.clip(hi, *clip)
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)


def _costs(run: Run) -> np.ndarray | None:
    """The cumulative cost after each step, or None when a step has none."""
    costs = [s.get("cost") for s in run.steps]
    if not costs or any(c is None for c in costs):
        return None
    return np.asarray(costs, dtype=float)


def plot_hypervolume(by_agent: dict[str, list[Run]], title: str) -> Figure:
    """Hypervolume against the cumulative cost (``info["cost"]``, the step where a run has no
    cost), mean and 95% confidence band over seeds (clipped to [0, 1]), per agent."""
    runs = [r for lst in by_agent.values() for r in lst]
    names, bounds = objective_bounds(runs)
    use_cost = all(_costs(r) is not None for r in runs if r.steps)
    colors = _colors(list(by_agent))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for agent, lst in by_agent.items():
        lst = [r for r in lst if r.steps]
        if not lst:
            continue
        ys = [
            ind.hypervolume_curve(np.nan_to_num(r.points(names), nan=np.inf), bounds) for r in lst
        ]
        xs = [_costs(r) if use_cost else np.arange(1.0, len(r.steps) + 1) for r in lst]
        grid, mat = on_grid(xs, ys)  # type: ignore[arg-type]
        _band(ax, grid, mat, colors[agent], f"{short_agent(agent)} (n={len(lst)})", (0.0, 1.0))
    unit = cost_unit(runs[0].env) if runs else "cost units"
    ax.set_xlabel(f"cumulative cost ({unit})" if use_cost else STEP_LABEL)
    ax.set_ylabel("hypervolume (fraction of the normalised box)")
    ax.set_ylim(bottom=0.0)
    ax.set_title(
        f"Hypervolume of evaluated models, mean and 95% CI over seeds\n{title}", fontsize=10
    )
    ax.grid(alpha=0.3)
    ax.legend(title="agent")
    fig.tight_layout()
    return fig


def _test_curve(run: Run, names: list[str], bounds: list) -> np.ndarray:
    """The test hypervolume of the validation front of the first t steps, for every t."""
    return np.array(
        [
            ind.hypervolume(selected_test_points(run, names, t), bounds)
            for t in range(1, len(run.steps) + 1)
        ]
    )


def plot_test_hypervolume(by_agent: dict[str, list[Run]], title: str) -> Figure | None:
    """Validation and test hypervolume against the cumulative cost, side by side on one scale
    (mean and 95% band over seeds); None unless every run carries test scores."""
    runs = [r for lst in by_agent.values() for r in lst if r.steps]
    names, bounds = objective_bounds(runs)
    if not runs or not bounds or any(r.test_points(names) is None for r in runs):
        return None
    use_cost = all(_costs(r) is not None for r in runs)
    colors = _colors(list(by_agent))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for agent, lst in by_agent.items():
        lst = [r for r in lst if r.steps]
        xs = [_costs(r) if use_cost else np.arange(1.0, len(r.steps) + 1) for r in lst]
        val = [
            ind.hypervolume_curve(np.nan_to_num(r.points(names), nan=np.inf), bounds) for r in lst
        ]
        test = [_test_curve(r, names, bounds) for r in lst]
        for ax, ys in zip(axes, (val, test), strict=True):
            grid, mat = on_grid(xs, ys)  # type: ignore[arg-type]
            _band(ax, grid, mat, colors[agent], f"{short_agent(agent)} (n={len(lst)})", (0, 1))
    unit = cost_unit(runs[0].env)
    heads = ("validation: every evaluated model", "test: the validation front's models")
    for ax, head in zip(axes, heads, strict=True):
        ax.set_xlabel(f"cumulative cost ({unit})" if use_cost else STEP_LABEL)
        ax.set_title(head, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("hypervolume (fraction of the normalised box)")
    axes[0].set_ylim(bottom=0.0)
    axes[1].legend(title="agent", loc="lower right")  # the curves rise: that corner is free
    fig.suptitle(f"Select on validation, report on test (mean, 95% CI)\n{title}", fontsize=10)
    fig.tight_layout()
    return fig


#: info entry of the incumbent's final test accuracy (NAS-Bench-201 envs)
INCUMBENT_KEY = "best_test_acc_200"


def plot_incumbent(by_agent: dict[str, list[Run]], title: str) -> Figure | None:
    """The standard NAS-Bench-201 figure: the incumbent's 200-epoch test accuracy against
    simulated seconds, mean and 95% band over seeds, published final means (± std) marked at the
    budget. None for envs whose info has no ``best_test_acc_200``."""
    runs = [r for lst in by_agent.values() for r in lst if r.steps]
    if not runs or any(INCUMBENT_KEY not in (r.steps[-1].get("info") or {}) for r in runs):
        return None
    colors = _colors(list(by_agent))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    end = 0.0
    for agent, lst in by_agent.items():
        lst = [r for r in lst if r.steps and _costs(r) is not None]
        if not lst:
            continue
        xs = [_costs(r) for r in lst]
        ys = [np.array([s["info"].get(INCUMBENT_KEY, np.nan) for s in r.steps]) for r in lst]
        grid, mat = on_grid(xs, ys)  # type: ignore[arg-type]
        end = max(end, float(grid[-1]))
        _band(ax, grid, mat, colors[agent], f"{short_agent(agent)} (n={len(lst)})", (0.0, 100.0))
    _published_marks(ax, by_agent, colors, end)
    ax.set_xlabel("simulated training time (s)")
    ax.set_ylabel("incumbent's test accuracy, 200 epochs (%)")
    curves = [(ln.get_xdata(), ln.get_ydata()) for ln in ax.lines if len(ln.get_ydata()) > 1]
    if curves:  # from the lowest mean after a tenth of the budget: the early climb is off-scale
        low = min(float(np.min(y[x >= end / 10], initial=np.inf)) for x, y in curves)
        if np.isfinite(low):
            ax.set_ylim(low - 0.3, None)
    ax.set_title(
        f"Incumbent's test accuracy over the search, mean and 95% CI over seeds\n{title}",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def _published_marks(
    ax: Axes, by_agent: dict[str, list[Run]], colors: dict[str, tuple], end: float
) -> None:
    """The published final mean ± std of each agent present, at the end of the budget."""
    from nasgym.tables.nb201 import canonical_dataset
    from nasgym.tables.published import NB201_PUBLISHED, NB201_PUBLISHED_RUNS

    first = next(iter(by_agent.values()))[0]
    try:
        dataset = canonical_dataset(str(first.env_kwargs.get("dataset", "cifar10")))
    except KeyError:
        return
    names = {lst[0].agent: label for label, lst in reversed(list(by_agent.items())) if lst}
    for k, (name, label) in enumerate(sorted(names.items())):
        if name not in NB201_PUBLISHED:
            continue
        mean, std = NB201_PUBLISHED[name][dataset]
        ax.errorbar(
            end * (1.015 + 0.015 * k),
            mean,
            yerr=std,
            fmt="D",
            ms=5,
            capsize=3,
            color=colors[label],
            markeredgecolor="black",
            label=f"published {name} {mean:.2f} ± {std:.2f} ({NB201_PUBLISHED_RUNS} runs)",
        )


def _checkpoint_axes(
    by_agent: dict[str, list[Run]],
) -> tuple[Figure, Axes, list[str], list[int], dict[str, tuple], float]:
    """Figure, axes, objective names, checkpoints, colours and group width of a per-checkpoint
    figure (one group of boxes or bars per checkpoint, one member per agent)."""
    names, _ = objective_bounds([r for lst in by_agent.values() for r in lst])
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    width = 0.8 / max(len(by_agent), 1)
    return fig, ax, names, checkpoints(max_steps(by_agent)), _colors(list(by_agent)), width


def _member_positions(n_steps: int, j: int, n_agents: int, width: float) -> np.ndarray:
    """x positions of agent ``j``'s member in each checkpoint group."""
    return np.arange(n_steps) + (j - (n_agents - 1) / 2) * width


def _finish_checkpoint_axes(
    fig: Figure, ax: Axes, steps: list[int], ylabel: str, title: str
) -> Figure:
    ax.set_xticks(np.arange(len(steps)), [str(s) for s in steps])
    ax.set_xlabel(STEP_LABEL)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    # outside the axes: with five or more agents a legend inside hides bars and outliers
    ax.legend(title="agent", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def plot_front_shares(by_agent: dict[str, list[Run]], title: str) -> Figure:
    """Fig. 8: boxplots over paired seeds of each agent's share of the combined front."""
    fig, ax, names, steps, colors, width = _checkpoint_axes(by_agent)
    shares = front_shares_by_step(by_agent, names, steps)
    for j, a in enumerate(by_agent):
        bp = ax.boxplot(
            [v if v else [np.nan] for v in shares[a]],
            positions=_member_positions(len(steps), j, len(by_agent), width),
            widths=width * 0.9,
            patch_artist=True,
            manage_ticks=False,
            medianprops={"color": "black"},
        )
        for box in bp["boxes"]:
            box.set_facecolor(colors[a])
            box.set_alpha(0.6)
        ax.plot([], [], color=colors[a], linewidth=8, alpha=0.6, label=short_agent(a))
    ax.set_ylim(-0.05, 1.05)
    n_seeds = len(compare.paired_sets(by_agent, names))
    return _finish_checkpoint_axes(
        fig,
        ax,
        steps,
        "share of the combined Pareto front (fraction)",
        "Share of each agent's models in the combined Pareto front, per paired seed\n"
        f"{title}\nboxes over {n_seeds} paired seeds, black line = median",
    )


def plot_pooled_front(by_agent: dict[str, list[Run]], title: str) -> Figure:
    """Fig. 9: all runs pooled, each agent's points in the combined front, at checkpoints."""
    fig, ax, names, steps, colors, width = _checkpoint_axes(by_agent)
    counts = pooled_counts_by_step(by_agent, names, steps)
    for j, a in enumerate(by_agent):
        pos = _member_positions(len(steps), j, len(by_agent), width)
        bars = ax.bar(
            pos,
            counts[a],
            width=width,
            color=colors[a],
            edgecolor=colors[a],
            label=f"{short_agent(a)} ({len(by_agent[a])} runs)",
        )
        ax.bar_label(bars, fontsize=8)  # a zero-height bar still shows its 0
    ax.set_ylim(0, max([1] + [c for v in counts.values() for c in v]) * 1.15)
    return _finish_checkpoint_axes(
        fig,
        ax,
        steps,
        "points in the pooled Pareto front (count)",
        f"Points per agent in the Pareto front of all runs pooled\n{title}",
    )


def plot_pareto(by_agent: dict[str, list[Run]], title: str) -> Figure | None:
    """Every evaluated model, each agent's pooled front and the true front where known."""
    runs = [r for lst in by_agent.values() for r in lst]
    names, _ = objective_bounds(runs)
    if len(names) < 2:
        return None
    pairs = [(1, 0)] if len(names) == 2 else [(i, j) for i in range(len(names)) for j in range(i)]
    front = true_front(runs[0].env, runs[0].env_kwargs, names)
    colors = _colors(list(by_agent))
    fig, axes = plt.subplots(1, len(pairs), figsize=(6 * len(pairs), 4.5), squeeze=False)
    for ax, (xi, yi) in zip(axes[0], pairs, strict=True):
        drawn, fronts = [], []
        if front is not None:
            tf = front[np.argsort(front[:, xi])]
            ax.step(
                tf[:, xi],
                tf[:, yi],
                where="post",
                color="black",
                lw=1.2,
                label="true front",
                zorder=5,  # above the agents' staircases
            )
            fronts.append(tf[:, [xi, yi]])
        for agent, lst in by_agent.items():
            pts = finite_rows(np.vstack([r.points(names) for r in lst]))
            if not len(pts):
                continue
            ax.scatter(pts[:, xi], pts[:, yi], s=6, alpha=0.15, color=colors[agent])
            nd = pts[ind.nondominated_mask(pts[:, [xi, yi]])]
            nd = nd[np.argsort(nd[:, xi])]
            # a front is a staircase (what it dominates), drawn like the true front
            ax.step(
                nd[:, xi],
                nd[:, yi],
                where="post",
                marker="o",
                ms=4,
                color=colors[agent],
                label=f"{short_agent(agent)} front",
                zorder=3,
            )
            drawn.append(pts[:, [xi, yi]])
            fronts.append(nd[:, [xi, yi]])
        if drawn:
            _zoom_on_fronts(ax, np.vstack(drawn), np.vstack(fronts))
        ax.set_xlabel(_label(names[xi]))
        ax.set_ylabel(_label(names[yi]))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    what = "Pareto fronts" if len(names) == 2 else "the Pareto front of each pair of objectives"
    fig.suptitle(f"Evaluated models (dots) and {what}, all seeds pooled\n{title}", fontsize=10)
    fig.tight_layout()
    return fig


def _zoom_on_fronts(ax: Axes, points: np.ndarray, fronts: np.ndarray, q: float = 0.9) -> None:
    """Where a few very bad models would stretch an axis by more than half, limit it to the
    fronts and the best ``q`` of the models; the panel title says how many were left out."""
    lo = np.minimum(points.min(axis=0), fronts.min(axis=0))
    hi = np.maximum(np.quantile(points, q, axis=0), fronts.max(axis=0))
    span = np.where(hi > lo, hi - lo, 1.0)
    cut = points.max(axis=0) > hi + 0.5 * span
    if not cut.any():
        return
    top = np.where(cut, hi + 0.05 * span, np.inf)
    for i, set_lim in enumerate((ax.set_xlim, ax.set_ylim)):
        if cut[i]:
            set_lim(lo[i] - 0.05 * span[i], top[i])
    outside = int(np.sum(np.any(points > top, axis=1)))
    ax.set_title(f"zoomed on the fronts: {outside} of {len(points)} models beyond", fontsize=9)


def plot_operator_usage(by_agent: dict[str, list[Run]], title: str) -> Figure | None:
    """Frequency of each operator among each agent's steps (envs whose info has ``operator``)."""
    counts = {
        a: Counter(
            str(s["info"]["operator"])
            for r in lst
            for s in r.steps
            if "operator" in (s.get("info") or {})
        )
        for a, lst in by_agent.items()
    }
    ops = sorted({op for c in counts.values() for op in c})
    if not ops:
        return None
    colors = _colors(list(by_agent))
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.35 * len(ops) * max(len(counts), 1) / 2 + 1.5)))
    height = 0.8 / max(len(counts), 1)
    y = np.arange(len(ops))
    for j, (a, c) in enumerate(counts.items()):
        total = sum(c.values()) or 1
        ax.barh(
            y + j * height,
            [c[o] / total for o in ops],
            height=height,
            color=colors[a],
            label=short_agent(a),
        )
    ax.set_yticks(y + height * (len(counts) - 1) / 2, ops)
    ax.invert_yaxis()  # operators A-Z from the top; in each, agents in the legend's order
    ax.set_xlabel("share of the agent's steps (fraction)")
    ax.set_ylabel("operator")
    ax.set_title(f"Operator usage per agent, all seeds pooled\n{title}", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(title="agent")
    fig.tight_layout()
    return fig


def _save(fig: Figure | None, stem: Path) -> list[Path]:
    if fig is None:
        return []
    paths = []
    for fmt in FORMATS:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=120, bbox_inches="tight")  # long titles and outside legends
        paths.append(path)
    plt.close(fig)
    return paths


def plot_all(runs: list[Run], out_dir: Path | str) -> list[Path]:
    """Write every figure for ``runs`` into ``out_dir/plots``; return the files written."""
    folder = Path(out_dir) / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for label, by_agent in group_runs(runs).items():
        slug = _slug(label)
        written += _save(plot_hypervolume(by_agent, label), folder / f"hypervolume_{slug}")
        written += _save(
            plot_test_hypervolume(by_agent, label), folder / f"test_hypervolume_{slug}"
        )
        written += _save(plot_incumbent(by_agent, label), folder / f"incumbent_{slug}")
        written += _save(plot_front_shares(by_agent, label), folder / f"front_share_{slug}")
        written += _save(plot_pooled_front(by_agent, label), folder / f"pooled_front_{slug}")
        written += _save(plot_pareto(by_agent, label), folder / f"pareto_{slug}")
        written += _save(plot_operator_usage(by_agent, label), folder / f"operators_{slug}")
    return written

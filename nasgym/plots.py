"""Figures of bench results (PNG and SVG, matplotlib's Agg backend), one set per environment.

- ``hypervolume_<env>``: hypervolume of the models evaluated so far against the step, mean over
  seeds with a 95% t confidence band (runs that ended early keep their final value);
- ``front_share_<env>``: the first paper's Fig. 8, per paired seed each agent's share of the
  combined Pareto front, as boxplots at four checkpoints;
- ``pooled_front_<env>``: its Fig. 9, all runs pooled, each agent's points in the combined
  front, as bars at the same checkpoints;
- ``pareto_<env>``: every evaluated model, each agent's pooled front and the true front where known;
- ``operators_<env>``: operator-usage frequencies per agent (envs whose info names an ``operator``).
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
from nasgym.bench import compare  # noqa: E402
from nasgym.bench.compare import (  # noqa: E402
    checkpoints,
    front_shares_by_step,
    max_steps,
    pooled_counts_by_step,
)
from nasgym.bench.fronts import true_front  # noqa: E402
from nasgym.bench.results import Run, finite_rows, group_runs, objective_bounds  # noqa: E402

__all__ = [
    "OBJECTIVE_LABELS",
    "checkpoints",
    "plot_all",
    "plot_front_shares",
    "plot_hypervolume",
    "plot_operator_usage",
    "plot_pareto",
    "plot_pooled_front",
    "t975",
]

#: axis labels (with units) of known objectives; others get "<name> (lower is better)"
OBJECTIVE_LABELS: dict[str, str] = {
    "test_error": "test error (%)",
    "params": "parameters (M)",
    "latency": "latency (ms)",
    "flops": "FLOPs (M)",
    "error": "error (fraction)",
    "class": "classification error (fraction)",
    "hist": "histogram MSE",
    "sample": "sampling score (Fréchet distance)",
}
STEP_LABEL = "step (models evaluated)"
FORMATS = ("png", "svg")


def _label(name: str) -> str:
    return OBJECTIVE_LABELS.get(name, f"{name} (lower is better)")


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", label.replace("nasgym/", "")).strip("_")


def _colors(agents: list[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {a: cmap(i % 10) for i, a in enumerate(agents)}


#: two-sided 95% quantiles of Student's t for 1..30 degrees of freedom
_T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201,
         2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.093, 2.086, 2.0796, 2.0739,
         2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)  # fmt: skip


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (for 95% intervals)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964  # Cornish-Fisher expansion around the normal quantile; error < 1e-5 for df > 30
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def plot_hypervolume(by_agent: dict[str, list[Run]], title: str) -> Figure:
    """Hypervolume against the step, mean and 95% confidence band over seeds, per agent."""
    runs = [r for lst in by_agent.values() for r in lst]
    names, bounds = objective_bounds(runs)
    colors = _colors(list(by_agent))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for agent, lst in by_agent.items():
        curves = [
            ind.hypervolume_curve(np.nan_to_num(r.points(names), nan=np.inf), bounds) for r in lst
        ]
        curves = [c for c in curves if len(c)]
        if not curves:
            continue
        n = max(len(c) for c in curves)
        mat = np.array([np.pad(c, (0, n - len(c)), mode="edge") for c in curves])
        mean = mat.mean(axis=0)
        x = np.arange(1, n + 1)
        ax.plot(x, mean, color=colors[agent], label=f"{agent} (n={len(mat)})")
        if len(mat) > 1:
            half = t975(len(mat) - 1) * mat.std(axis=0, ddof=1) / np.sqrt(len(mat))
            ax.fill_between(x, mean - half, mean + half, color=colors[agent], alpha=0.2)
    ax.set_xlabel(STEP_LABEL)
    ax.set_ylabel("hypervolume (fraction of the normalised box)")
    ax.set_title(
        f"Hypervolume of evaluated models, mean and 95% CI over seeds\n{title}", fontsize=10
    )
    ax.grid(alpha=0.3)
    ax.legend(title="agent")
    fig.tight_layout()
    return fig


def _checkpoint_axes(
    by_agent: dict[str, list[Run]],
) -> tuple[Figure, Axes, list[str], list[int], dict[str, tuple], float]:
    """Figure, axes, objective names, checkpoints, colours and group width of a per-checkpoint
    figure (one group of boxes or bars per checkpoint, one member per agent)."""
    names, _ = objective_bounds([r for lst in by_agent.values() for r in lst])
    fig, ax = plt.subplots(figsize=(7, 4.5))
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
    ax.legend(title="agent")
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
        ax.plot([], [], color=colors[a], linewidth=8, alpha=0.6, label=a)
    ax.set_ylim(-0.05, 1.05)
    n_seeds = len(compare.paired_sets(by_agent, names))
    return _finish_checkpoint_axes(
        fig,
        ax,
        steps,
        "share of the combined Pareto front (fraction)",
        "Share of each agent's models in the combined front, per paired seed (Fig. 8)\n"
        f"{title}; boxes over {n_seeds} paired seeds, black line = median",
    )


def plot_pooled_front(by_agent: dict[str, list[Run]], title: str) -> Figure:
    """Fig. 9: all runs pooled, each agent's points in the combined front, at checkpoints."""
    fig, ax, names, steps, colors, width = _checkpoint_axes(by_agent)
    counts = pooled_counts_by_step(by_agent, names, steps)
    for j, a in enumerate(by_agent):
        pos = _member_positions(len(steps), j, len(by_agent), width)
        ax.bar(pos, counts[a], width=width, color=colors[a], label=f"{a} ({len(by_agent[a])} runs)")
    return _finish_checkpoint_axes(
        fig,
        ax,
        steps,
        "points in the pooled Pareto front (count)",
        f"Points per agent in the front of all runs pooled (Fig. 9)\n{title}",
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
            ax.step(tf[:, xi], tf[:, yi], where="post", color="black", lw=1, label="true front")
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
                label=f"{agent} front",
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
            y + j * height, [c[o] / total for o in ops], height=height, color=colors[a], label=a
        )
    ax.set_yticks(y + height * (len(counts) - 1) / 2, ops)
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
        fig.savefig(path, dpi=120)
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
        written += _save(plot_front_shares(by_agent, label), folder / f"front_share_{slug}")
        written += _save(plot_pooled_front(by_agent, label), folder / f"pooled_front_{slug}")
        written += _save(plot_pareto(by_agent, label), folder / f"pareto_{slug}")
        written += _save(plot_operator_usage(by_agent, label), folder / f"operators_{slug}")
    return written

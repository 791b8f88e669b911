"""The study's figures: improvement per variant, gentle against aggressive (the paper's Fig. 5),
improvement against the projected gain (Fig. 6) and against the target's relevance (Fig. 7)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator  # noqa: E402

from nasgym.characterize.study import variant_order  # noqa: E402

_LABEL = "improve = log(control / candidate objective)"


def _col(rows: Sequence[dict[str, Any]], col: str) -> np.ndarray:
    return np.array([float(r.get(col, math.nan)) for r in rows], dtype=np.float64)


def _panels(n: int, rows: int = 1, width: float = 4.2, height: float = 4.0) -> tuple[Figure, Any]:
    cols = -(-n // rows)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    return fig, axes.ravel()


def _box(ax: Any, groups: list[np.ndarray], labels: list[str], seed: int = 0) -> None:
    """Boxes (no fliers) with every value jittered on top, a dashed zero line, labels with n."""
    rng = np.random.default_rng(seed)
    keep = [(g[np.isfinite(g)], lab) for g, lab in zip(groups, labels, strict=True)]
    data = [g if len(g) else np.array([np.nan]) for g, _ in keep]
    ax.boxplot(data, showfliers=False, widths=0.6)
    for i, g in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.18, 0.18, len(g)), g, s=8, alpha=0.5, color="C0")
    ax.axhline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_xticks(range(1, len(labels) + 1), [f"{lab}\n(n={len(g)})" for g, lab in keep])
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)


def plot_variants(rows: Sequence[dict[str, Any]], outputs: Sequence[str]) -> Figure:
    """Improvement over the control per operator variant, one panel per output and the mean."""
    names = variant_order(rows)
    cols = [*(f"improve.{o}" for o in outputs), "improve"]
    fig, axes = _panels(len(cols), rows=2, width=6.0, height=4.6)
    for ax, col in zip(axes, cols, strict=True):
        groups = [_col([r for r in rows if r["variant_name"] == n], col) for n in names]
        _box(ax, groups, names)
        ax.set_title(col.replace("improve.", "") if "." in col else "mean over outputs")
    for ax in axes[:: len(axes) // 2]:
        ax.set_ylabel(_LABEL, fontsize=8)
    fig.suptitle("Improvement over the control per operator variant")
    fig.tight_layout()
    return fig


def plot_gentle_vs_aggressive(report: dict[str, Any], outputs: Sequence[str]) -> Figure | None:
    """Fig. 5: improve(gentle) - improve(aggressive), paired on model and target, per operator."""
    pairs = report["gentle_vs_aggressive"]
    if not pairs:
        return None
    ops = list(pairs)
    cols = [*outputs, "mean"]
    fig, axes = _panels(len(cols), rows=2, width=5.0, height=4.2)
    for ax, col in zip(axes, cols, strict=True):
        groups = [np.asarray(pairs[op][col]["values"], dtype=np.float64) for op in ops]
        _box(ax, groups, ops)
        ax.set_title(col if col != "mean" else "mean over outputs")
    for ax in axes[:: len(axes) // 2]:
        ax.set_ylabel("improve(gentle) - improve(aggressive)", fontsize=8)
    fig.suptitle("Gain of the gentle over the aggressive variant (> 0: gentle better)")
    fig.tight_layout()
    return fig


def plot_against(
    rows: Sequence[dict[str, Any]],
    outputs: Sequence[str],
    panels: Sequence[tuple[str, str, dict[str, dict[str, float]], str]],
    title: str,
) -> Figure:
    """Figs. 6/7: ``improve.<o>`` against ``<prefix>.<o>``, one column per output and one row
    per ``(prefix, x label, Spearman results, x scale)`` of ``panels``, one colour per operator
    variant, Spearman's rho in each title."""
    names = variant_order(rows)
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    fig, axes = _panels(len(outputs) * len(panels), rows=len(panels), width=4.6, height=4.0)
    grid = np.asarray(axes).reshape(len(panels), len(outputs))
    for (prefix, xlabel, corr, scale), row in zip(panels, grid, strict=True):
        for ax, o in zip(row, outputs, strict=True):
            for k, name in enumerate(names):
                sub = [r for r in rows if r["variant_name"] == name]
                x, y = _col(sub, f"{prefix}.{o}"), _col(sub, f"improve.{o}")
                ok = np.isfinite(x) & np.isfinite(y)
                ax.scatter(x[ok], y[ok], s=12, alpha=0.7, color=cmap(k % cmap.N), label=name)
            ax.axhline(0.0, color="grey", lw=0.8, ls="--")
            if scale == "linear":
                ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            if scale == "log":
                ax.set_xscale("log")
                ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
                plain = FuncFormatter(lambda v, _: f"{v:g}")
                ax.xaxis.set_major_formatter(plain)
                ax.xaxis.set_minor_formatter(plain)
            c = corr.get(o, {})
            ax.set_title(
                f"{o}: rho={c.get('rho', math.nan):.2f}, p={c.get('p', math.nan):.2g}, "
                f"n={c.get('n', 0)}",
                fontsize=9,
            )
            ax.set_xlabel(f"{xlabel} ({o})", fontsize=8)
        row[0].set_ylabel(_LABEL, fontsize=8)
    grid[0, -1].legend(fontsize=6, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_all(
    rows: Sequence[dict[str, Any]],
    outputs: Sequence[str],
    report: dict[str, Any],
    out_dir: Path | str,
) -> list[Path]:
    """Write every figure of the study as PNG into ``out_dir``; the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "improve_by_variant": plot_variants(rows, outputs),
        "fig5_gentle_vs_aggressive": plot_gentle_vs_aggressive(report, outputs),
        "fig6_improve_vs_trend": plot_against(
            rows,
            outputs,
            [
                ("gain_before", "projected gain before", report["vs_gain"], "linear"),
                ("rel_slope_before", "relative loss slope before", report["vs_slope"], "linear"),
            ],
            "Improvement over the control against the loss trend before the step",
        ),
        "fig7_improve_vs_relevance": plot_against(
            rows,
            outputs,
            [("target.relevance", "relevance of the target", report["vs_relevance"], "log")],
            "Improvement over the control against the relevance of the target network",
        ),
    }
    paths = []
    for stem, fig in figures.items():
        if fig is None:
            continue
        path = out / f"{stem}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths

"""The sweep's figure, TND-NAS Fig. 7 in spirit: the chosen cells over the table's true front."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nasgym.tables.nb201 import load_nb201  # noqa: E402

SWEEP_PNG = "sweep.png"


def plot_sweep(
    summary: dict[str, Any], out_dir: Path | str, table_path: str | None = None
) -> list[Path]:
    """Draw ``sweep.png`` into ``out_dir``: per data set, every table cell (grey), the true
    (params, test accuracy) front (black staircase), per agent the mean chosen cell of each grid
    point with its std over seeds in both directions, and the reward's optimum over the whole
    table per grid point (hollow circles: the protocol's bound). Returns the written paths."""
    datasets = [d for d in summary["datasets"] if d["agents"]]
    if not datasets:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = load_nb201(table_path)
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 4.4), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, ds in zip(axes[0], datasets, strict=True):
        name = ds["dataset"]
        params = table.params(name).astype(float)
        acc = table.test_acc_200(name).astype(float)
        ax.scatter(
            params, acc, s=2, color="0.8", alpha=0.4, lw=0, label="table cells", rasterized=True
        )
        front = np.array(ds["front"])
        order = np.argsort(front[:, 1])
        ax.step(
            front[order, 1],
            100 - front[order, 0],
            where="post",
            color="black",
            lw=1,
            label="true front",
        )
        lows = []
        for k, agent in enumerate(ds["agents"]):
            g = agent["grid"]
            x = np.array([p["params"]["mean"] for p in g])
            y = np.array([p["test_acc"]["mean"] for p in g])
            xe = np.array([p["params"]["std"] for p in g])
            ye = np.array([p["test_acc"]["std"] for p in g])
            lows.append(float(np.min(y - ye)))
            igd = agent["igd_plus"]
            label = agent["agent"] + ("" if igd is None else f" (IGD+ {igd['mean']:.3f})")
            c = colors[k % len(colors)]
            ax.errorbar(
                x,
                y,
                xerr=xe,
                yerr=ye,
                fmt="o-",
                ms=4,
                lw=1.2,
                capsize=2,
                color=c,
                label=label,
                alpha=0.9,
            )
            if k == 0:
                for p, xi, yi in zip(g, x, y, strict=True):
                    ax.annotate(
                        f"{p['fraction']:g}",
                        (xi, yi),
                        textcoords="offset points",
                        xytext=(4, -10),
                        fontsize=7,
                        color=c,
                    )
        bound = ds.get("bound") or []
        if bound:
            ax.scatter(
                [b["params"] for b in bound],
                [b["test_acc"] for b in bound],
                s=46,
                facecolors="none",
                edgecolors="black",
                lw=1.0,
                zorder=3,
                label="reward's table optimum (unlimited budget)",
            )
            lows.append(min(b["test_acc"] for b in bound))
        ax.set_xscale("log")
        top = float(acc.max())
        ax.set_ylim(max(min(lows) - 2.0, float(np.nanmin(acc[acc > 0]))), top + 0.6)
        ax.set_xlabel("parameters (M, log scale)")
        ax.set_ylabel("200-epoch test accuracy (%)")
        ax.set_title(
            f"{name}: {summary['reward']} sweep, chosen cells (labels: fraction of beta_sat)",
            fontsize=9,
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = out / SWEEP_PNG
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return [path]

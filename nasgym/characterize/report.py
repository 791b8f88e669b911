"""The study's report: per-variant effects over the control, Kruskal-Wallis with Dunn's post-hoc
test, gentle against aggressive (the paper's Fig. 5), improvement against the trend and against
relevance (Figs. 6, 7), and thresholds calibrated on the observed gains.

``improve.<output>`` is log(control objective / candidate objective): positive when the operator
did better than training the unchanged model on the same batches. Every test is on scipy or
scikit-posthocs: the Wilcoxon signed-rank test of ``improve`` against 0 per variant (paired:
candidate and control on the same model and batches), Kruskal-Wallis across variants, Dunn's
test with Holm's correction, Spearman's rho for Figs. 6 and 7.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from nasgym.characterize.study import variant_order
from nasgym.diagnostics.calibrate import calibrate_thresholds, write_thresholds

#: the smallest number of applications per group a test is run on
MIN_N = 3


def outputs_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The output names of the records (from their ``obj_before.*`` columns)."""
    return [k.split(".", 1)[1] for k in rows[0] if k.startswith("obj_before.")]


def _values(rows: Sequence[dict[str, Any]], col: str) -> np.ndarray:
    return np.array([float(r.get(col, math.nan)) for r in rows], dtype=np.float64)


def _finite(a: np.ndarray) -> np.ndarray:
    return a[np.isfinite(a)]


def rank_biserial(x: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation of differences ``x`` (zeros dropped): +1 when
    every difference is positive, -1 when every one is negative."""
    x = x[x != 0]
    if not len(x):
        return 0.0
    ranks = stats.rankdata(np.abs(x))
    return float((ranks[x > 0].sum() - ranks[x < 0].sum()) / ranks.sum())


def wilcoxon_p(x: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of ``x`` against 0 (NaN below :data:`MIN_N` values or
    when all are zero)."""
    x = _finite(x)
    if len(x) < MIN_N or not np.any(x != 0):
        return math.nan
    return float(stats.wilcoxon(x).pvalue)


def variant_table(rows: Sequence[dict[str, Any]], outputs: Sequence[str]) -> list[dict[str, Any]]:
    """Per operator variant: n, diverged, share beating the control on most objectives, and per
    output (and ``mean`` over outputs) the median improvement, Wilcoxon p and rank-biserial r."""
    table = []
    for name in variant_order(rows):
        sub = [r for r in rows if r["variant_name"] == name]
        entry: dict[str, Any] = {
            "variant": name,
            "effect": sub[0]["effect"],
            "n": len(sub),
            "diverged": int(sum(bool(r["diverged"]) for r in sub)),
            "beats_control": float(np.mean([bool(r["beats_control"]) for r in sub])),
        }
        for out, col in [*((o, f"improve.{o}") for o in outputs), ("mean", "improve")]:
            x = _finite(_values(sub, col))
            entry[out] = {
                "median": float(np.median(x)) if len(x) else math.nan,
                "p": wilcoxon_p(x),
                "r": rank_biserial(x),
                "n": len(x),
            }
        table.append(entry)
    return table


def kruskal_dunn(rows: Sequence[dict[str, Any]], col: str) -> dict[str, Any]:
    """Kruskal-Wallis of ``col`` across operator variants and Dunn's post-hoc test (Holm)."""
    import scikit_posthocs as sp

    names, groups = [], []
    for name in variant_order(rows):
        x = _finite(_values([r for r in rows if r["variant_name"] == name], col))
        if len(x) >= MIN_N:
            names.append(name)
            groups.append(x)
    if len(groups) < 2:
        return {"groups": names, "H": math.nan, "p": math.nan, "dunn": []}
    if len({float(v) for g in groups for v in g}) < 2:
        return {"groups": names, "H": math.nan, "p": math.nan, "dunn": []}
    h, p = stats.kruskal(*groups)
    matrix = sp.posthoc_dunn(groups, p_adjust="holm").to_numpy()
    dunn = [
        {
            "a": names[i],
            "b": names[j],
            "p_holm": float(matrix[i, j]),
            "median_a": float(np.median(groups[i])),
            "median_b": float(np.median(groups[j])),
        }
        for i in range(len(names))
        for j in range(i + 1, len(names))
    ]
    return {
        "groups": names,
        "n": [len(g) for g in groups],
        "H": float(h),
        "p": float(p),
        "dunn": dunn,
    }


def gentle_vs_aggressive(
    rows: Sequence[dict[str, Any]], outputs: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Per operator with both variants, the paired differences improve(gentle) -
    improve(aggressive) on the same model and target (= log(aggressive / gentle objective)):
    per output and ``mean``, their values, median, Wilcoxon p and rank-biserial r."""
    pairs: dict[tuple[Any, str, str], dict[str, dict[str, Any]]] = {}
    for r in rows:
        if r["variant"] in ("gentle", "aggressive"):
            pairs.setdefault((r["seed"], r["operator"], r["target"]), {})[r["variant"]] = r
    out: dict[str, dict[str, Any]] = {}
    for (_, op, _), both in pairs.items():
        if len(both) < 2:
            continue
        entry = out.setdefault(op, {o: {"values": []} for o in [*outputs, "mean"]})
        for o, col in [*((o, f"improve.{o}") for o in outputs), ("mean", "improve")]:
            d = float(both["gentle"][col]) - float(both["aggressive"][col])
            if math.isfinite(d):
                entry[o]["values"].append(d)
    for entry in out.values():
        for stats_ in entry.values():
            x = np.asarray(stats_["values"], dtype=np.float64)
            stats_.update(
                n=len(x),
                median=float(np.median(x)) if len(x) else math.nan,
                p=wilcoxon_p(x),
                r=rank_biserial(x),
            )
    return out


def correlations(
    rows: Sequence[dict[str, Any]], outputs: Sequence[str], x_prefix: str
) -> dict[str, dict[str, float]]:
    """Spearman's rho (and p) of ``improve.<o>`` against ``<x_prefix>.<o>`` per output."""
    out = {}
    for o in outputs:
        x, y = _values(rows, f"{x_prefix}.{o}"), _values(rows, f"improve.{o}")
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() >= MIN_N and np.ptp(x[ok]) > 0 and np.ptp(y[ok]) > 0:
            res = stats.spearmanr(x[ok], y[ok])
            out[o] = {"rho": float(res.statistic), "p": float(res.pvalue), "n": int(ok.sum())}
        else:
            out[o] = {"rho": math.nan, "p": math.nan, "n": int(ok.sum())}
    return out


def state_gains(rows: Sequence[dict[str, Any]], outputs: Sequence[str]) -> dict[str, list[float]]:
    """Per output, the projected gain of every distinct state of the study: each model before
    its step, its control after it, and every candidate after it."""
    gains: dict[str, list[float]] = {o: [] for o in outputs}
    seen: set[Any] = set()
    for r in rows:
        for o in outputs:
            if r["seed"] not in seen:
                gains[o].extend([r[f"gain_before.{o}"], r[f"gain_control.{o}"]])
            gains[o].append(r[f"gain_after.{o}"])
        seen.add(r["seed"])
    return {o: [float(v) for v in vs if math.isfinite(float(v))] for o, vs in gains.items()}


def write_report(
    rows: Sequence[dict[str, Any]], out_dir: Path | str, config: Any = None
) -> tuple[dict[str, Any], list[Path]]:
    """Write ``report.json``, ``report.md``, ``thresholds.json`` and ``plots/*.png``."""
    from nasgym.characterize import plots

    out = Path(out_dir)
    outputs = outputs_of(rows)
    report: dict[str, Any] = {
        "config": None if config is None else config.key(),
        "models": len({r["seed"] for r in rows}),
        "applications": len(rows),
        "outputs": outputs,
        "variants": variant_table(rows, outputs),
        "kruskal": {o: kruskal_dunn(rows, f"improve.{o}") for o in outputs},
        "gentle_vs_aggressive": gentle_vs_aggressive(rows, outputs),
        "vs_gain": correlations(rows, outputs, "gain_before"),
        "vs_slope": correlations(rows, outputs, "rel_slope_before"),
        "vs_relevance": correlations(rows, outputs, "target.relevance"),
    }
    report["kruskal"]["mean"] = kruskal_dunn(rows, "improve")
    files: list[Path] = []
    gains = state_gains(rows, outputs)
    try:
        thresholds = calibrate_thresholds(
            gains, source=f"nasgym characterize: {len(rows)} applications"
        )
        files.append(write_thresholds(thresholds, out / "thresholds.json"))
        report["thresholds"] = thresholds
    except ValueError as err:  # too few states to calibrate from
        report["thresholds"] = {"error": str(err)}
    files += plots.plot_all(rows, outputs, report, out / "plots")
    (out / "report.json").write_text(json.dumps(_clean(report), indent=2, sort_keys=True) + "\n")
    (out / "report.md").write_text(markdown(report))
    return report, [out / "report.json", out / "report.md", *files]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _f(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float) and (abs(v) < 10**-digits and v != 0):
        return f"{v:.1e}"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables."""
    outputs = report["outputs"]
    cols = [*outputs, "mean"]
    lines = [
        "# Characterization of the VALP operators",
        "",
        f"{report['models']} models, {report['applications']} applications; setting: "
        f"`{json.dumps(report['config'], sort_keys=True)}`.",
        "",
        "improve = log(control objective / candidate objective), > 0: the operator beat training "
        "the unchanged model on the same batches. Per variant: median improve, Wilcoxon "
        "signed-rank p against 0 and rank-biserial r (paired with the control).",
        "",
        "| variant | effect | n | diverged | beats control | "
        + " | ".join(f"{c}: median (p, r)" for c in cols)
        + " |",
        "|" + "---|" * (5 + len(cols)),
    ]
    for v in report["variants"]:
        cells = [f"{_f(v[c]['median'])} ({_f(v[c]['p'])}, {_f(v[c]['r'], 2)})" for c in cols]
        lines.append(
            f"| {v['variant']} | {v['effect']} | {v['n']} | {v['diverged']} | "
            f"{_f(v['beats_control'], 2)} | " + " | ".join(cells) + " |"
        )
    lines += ["", "## Kruskal-Wallis across variants, Dunn's post-hoc test (Holm)", ""]
    for c in cols:
        k = report["kruskal"][c]
        lines.append(
            f"- **{c}**: H = {_f(k['H'])}, p = {_f(k['p'])} over {len(k['groups'])} variants"
        )
        sig = [d for d in k["dunn"] if d["p_holm"] < 0.05]
        for d in sig:
            lines.append(
                f"  - {d['a']} (median {_f(d['median_a'])}) vs {d['b']} "
                f"(median {_f(d['median_b'])}): p = {_f(d['p_holm'])}"
            )
        if not sig and k["dunn"]:
            lines.append("  - no pair differs at p < 0.05")
    lines += [
        "",
        "## Gentle against aggressive (Fig. 5)",
        "",
        "Paired on the same model and target: improve(gentle) - improve(aggressive).",
        "",
        "| operator | " + " | ".join(f"{c}: median (p, r, n)" for c in cols) + " |",
        "|" + "---|" * (1 + len(cols)),
    ]
    for op, entry in report["gentle_vs_aggressive"].items():
        cells = [
            f"{_f(entry[c]['median'])} ({_f(entry[c]['p'])}, {_f(entry[c]['r'], 2)}, "
            f"{entry[c]['n']})"
            for c in cols
        ]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    lines += ["", "## Improvement against the trend and the relevance (Figs. 6, 7)", ""]
    for key, label in [
        ("vs_gain", "projected gain before"),
        ("vs_slope", "relative loss slope before"),
        ("vs_relevance", "target relevance"),
    ]:
        parts = [
            f"{o}: rho = {_f(v['rho'], 2)} (p = {_f(v['p'])}, n = {v['n']})"
            for o, v in report[key].items()
        ]
        lines.append(f"- Spearman, improve against {label}: " + "; ".join(parts))
    lines += ["", "## Calibrated thresholds (`thresholds.json`)", ""]
    th = report.get("thresholds") or {}
    if "outputs" in th:
        for o, v in th["outputs"].items():
            lines.append(
                f"- {o}: stuck_gain = {_f(v['stuck_gain'], 4)}, steep_gain = "
                f"{_f(v['steep_gain'], 4)} (n = {th['n'][o]} states)"
            )
    else:
        lines.append(f"- not calibrated: {th.get('error', '')}")
    return "\n".join(lines) + "\n"

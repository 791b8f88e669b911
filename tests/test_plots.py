"""Figures: every kind is written as PNG and SVG, non-empty, for 2- and 3-objective runs."""

from __future__ import annotations

import matplotlib.colors
import numpy as np
import pytest

from nasgym import plots
from nasgym.bench import compare
from nasgym.bench.records import done_record, run_key, step_record
from nasgym.bench.results import Run

SPEC3 = {"class_error": (0.0, 1.0), "hist_mse": (0.0, 1.0), "sample_score": (0.0, 10.0)}


def _runs(env: str, spec: dict, agents=("random", "rules"), seeds=(0, 1, 2), steps=12) -> list[Run]:
    """Synthetic runs: agent 'rules' finds better points; VALP-like info names an operator."""
    runs = []
    for a_i, agent in enumerate(agents):
        for seed in seeds:
            rng = np.random.default_rng([seed, a_i])
            key = run_key(env, {}, agent, seed)
            recs = []
            for t in range(1, steps + 1):
                vals = rng.uniform(0.1, 0.9, len(spec)) * (1.0 - 0.3 * a_i * t / steps)
                obj = {
                    n: float(v * (b - a) + a)
                    for (n, (a, b)), v in zip(spec.items(), vals, strict=True)
                }
                if t == 3:
                    obj[next(iter(spec))] = float("nan")  # a failed evaluation
                info = {
                    "objectives": obj,
                    "cost": float(t),
                    "accepted": True,
                    "operator": f"op{t % 3}",
                }
                recs.append(step_record(key, t, int(t % 5), -sum(vals), False, False, info))
            run = Run(env, {}, agent, seed, recs, done_record(key, steps, steps, False, spec, 0.1))
            runs.append(run)
    return runs


@pytest.mark.parametrize("spec", [SPEC3, {"test_error": (0.0, 100.0), "params": (0.0, 2.0)}])
def test_plot_all_writes_every_figure_as_png_and_svg(tmp_path, spec):
    written = plots.plot_all(_runs("nasgym-test/Synthetic-v0", spec), tmp_path)
    kinds = {p.stem.split("_nasgym_test")[0] for p in written}
    assert kinds == {"hypervolume", "front_share", "pooled_front", "pareto", "operators"}
    assert {p.suffix for p in written} == {".png", ".svg"}
    for path in written:
        assert path.parent == tmp_path / "plots" and path.stat().st_size > 1000
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            text = path.read_text()
            assert (
                "<svg" in text
                and "(Fig." in text
                or "Hypervolume" in text
                or "Operator" in text
                or "Pareto" in text
            )


def test_operator_plot_only_where_info_names_an_operator():
    runs = _runs("nasgym-test/Synthetic-v0", SPEC3, seeds=(0,))
    by_agent = {a: [r for r in runs if r.agent == a] for a in ("random", "rules")}
    fig = plots.plot_operator_usage(by_agent, "synthetic")
    bars = [b.get_width() for b in fig.axes[0].patches]
    assert sum(bars) == pytest.approx(2.0)  # each agent's frequencies sum to 1
    for r in runs:
        for s in r.steps:
            s["info"].pop("operator")
    assert plots.plot_operator_usage(by_agent, "synthetic") is None


def test_nb201_pareto_plot_draws_the_true_front(tmp_path):
    spec = {"test_error": (0.0, 100.0), "params": (0.0, 2.0)}
    fig = plots.plot_pareto({"random": _runs("nasgym/NB201-v0", spec, agents=("random",))}, "NB201")
    ax = fig.axes[0]
    assert "true front" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_xlabel() == "parameters (M)" and ax.get_ylabel() == "test error (%)"


def test_checkpoints():
    assert compare.checkpoints(100) == [25, 50, 75, 100]
    assert compare.checkpoints(2) == [1, 2]
    assert compare.checkpoints(0) == []


def test_t_quantile_of_the_confidence_band():
    assert plots.t975(1) == pytest.approx(12.7062)
    assert plots.t975(4) == pytest.approx(2.7764)
    assert plots.t975(60) == pytest.approx(2.0003, abs=1e-4)
    assert plots.t975(10**6) == pytest.approx(1.96, abs=1e-3)


def test_fig8_medians_stand_out_from_every_box_and_the_seed_count_is_given():
    runs = _runs("nasgym-test/Synthetic-v0", SPEC3, agents=("random", "rules"), seeds=(0, 1, 2))
    by_agent = {a: [r for r in runs if r.agent == a] for a in ("random", "rules")}
    fig = plots.plot_front_shares(by_agent, "synthetic")
    ax = fig.axes[0]
    assert "3 paired seeds" in ax.get_title()
    box_colors = {tuple(p.get_facecolor()[:3]) for p in ax.patches}
    assert len(box_colors) == 2  # one colour per agent
    # boxplot medians are the horizontal 2-point lines inside the boxes
    medians = [
        ln for ln in ax.lines if len(ln.get_xdata()) == 2 and ln.get_ydata()[0] == ln.get_ydata()[1]
    ]
    assert medians and all(
        matplotlib.colors.to_rgb(ln.get_color()) not in box_colors for ln in medians
    )


def test_pareto_plot_zooms_on_the_fronts_past_a_few_very_bad_models():
    spec = {"test_error": (0.0, 100.0), "params": (0.0, 2.0)}
    runs = _runs("nasgym-test/Synthetic-v0", spec, agents=("random",), seeds=(0, 1, 2))
    ax = plots.plot_pareto({"random": runs}, "synthetic").axes[0]
    assert ax.get_title() == ""  # evenly spread models: nothing to zoom
    runs[0].steps[0]["objectives"]["params"] = 20.0  # one huge model (params up to 1.8 else)
    ax = plots.plot_pareto({"random": runs}, "synthetic").axes[0]
    assert ax.get_xlim()[1] < 3.0  # the outlier does not set the scale...
    assert "1 of 33 models beyond" in ax.get_title()  # ...the panel says it is left out
    front_x = max(max(ln.get_xdata()) for ln in ax.lines)
    assert ax.get_xlim()[1] > front_x  # and the whole front stays in view

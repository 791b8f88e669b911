"""Figures: every kind is written as PNG and SVG, non-empty, for 2- and 3-objective runs."""

from __future__ import annotations

import matplotlib.colors
import numpy as np
import pytest

from nasgym import indicators as ind
from nasgym import plots
from nasgym.bench import compare
from nasgym.bench.records import done_record, run_key, step_record
from nasgym.bench.results import Run, selected_test_points

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
            assert "<svg" in text and "Fig." not in text  # titles speak for themselves


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


def _nb201_runs(seeds=(0, 1, 2)) -> list[Run]:
    """NB201-like runs: cumulative simulated seconds and an incumbent test accuracy in info."""
    spec = {"test_error": (5.0, 10.0), "params": (0.0, 1.6)}
    runs = []
    for agent in ("random", "rea"):
        for seed in seeds:
            rng = np.random.default_rng([seed, len(agent)])
            key = run_key("nasgym/NB201-v0", {}, agent, seed)
            cost, best, recs = 0.0, 0.0, []
            for t in range(1, 30):
                cost += float(rng.uniform(50, 150))
                acc = float(rng.uniform(85, 94.3))
                best = max(best, acc)
                info = {
                    "objectives": {"test_error": 100 - acc, "params": float(rng.uniform(0, 1.5))},
                    "cost": cost,
                    "accepted": True,
                    "best_test_acc_200": best,
                }
                recs.append(step_record(key, t, [0] * 6, acc, False, False, info))
            runs.append(
                Run(
                    "nasgym/NB201-v0",
                    {},
                    agent,
                    seed,
                    recs,
                    done_record(key, 29, None, True, spec, 0.1),
                )
            )
    return runs


def _by_agent(runs: list[Run]) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = {}
    for r in runs:
        out.setdefault(r.agent_label, []).append(r)
    return out


def test_nb201_incumbent_figure_against_simulated_time_with_published_marks():
    fig = plots.plot_incumbent(_by_agent(_nb201_runs()), "NB201")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "simulated training time (s)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "published rea 93.92 ± 0.30 (500 runs)" in legend
    assert "published random 93.70 ± 0.36 (500 runs)" in legend
    mean = next(ln for ln in ax.lines if ln.get_label() == "rea (n=3)")
    x, y = mean.get_xdata(), mean.get_ydata()
    assert np.all(np.diff(x) > 0) and x[-1] > 2000 and np.all((y > 85) & (y <= 94.3))
    # the toy runs have no incumbent accuracy: no figure
    toy = _runs("nasgym-test/Synthetic-v0", SPEC3)
    assert plots.plot_incumbent(_by_agent(toy), "toy") is None


def test_hypervolume_is_drawn_against_the_cost_with_its_unit_and_a_band_inside_0_1():
    fig = plots.plot_hypervolume(_by_agent(_nb201_runs()), "NB201")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "cumulative cost (simulated s)"
    for coll in ax.collections:  # the confidence bands
        ys = np.concatenate([p.vertices[:, 1] for p in coll.get_paths()])
        assert ys.min() >= 0.0 and ys.max() <= 1.0
    assert max(ln.get_xdata()[-1] for ln in ax.lines) > 2000


def test_zero_height_bars_are_labelled_and_the_true_front_is_drawn_on_top():
    runs = _runs("nasgym-test/Synthetic-v0", SPEC3, seeds=(0, 1, 2))
    fig = plots.plot_pooled_front(_by_agent(runs), "synthetic")
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "0" in labels and len(labels) == 8  # 2 agents x 4 checkpoints, zero included
    spec = {"test_error": (0.0, 100.0), "params": (0.0, 2.0)}
    fig = plots.plot_pareto(_by_agent(_runs("nasgym/NB201-v0", spec)), "NB201")
    lines = {ln.get_label(): ln.get_zorder() for ln in fig.axes[0].lines}
    assert lines["true front"] > max(
        z for k, z in lines.items() if k.endswith(" front") and k != "true front"
    )


def test_operator_bars_follow_the_legend_order_and_sb3_paths_are_shortened():
    runs = _runs("nasgym-test/Synthetic-v0", SPEC3, seeds=(0,))
    for r in runs:
        if r.agent == "rules":
            r.agent = "sb3:ppo:/very/long/path/to/policy.zip"
    fig = plots.plot_operator_usage(_by_agent(runs), "synthetic")
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["random", "sb3:ppo:policy"]
    assert ax.yaxis_inverted()  # first operator on top, the first agent's bar uppermost in it
    first, second = ax.containers
    assert first[0].get_y() < second[0].get_y()
    assert plots.short_agent("sb3:ppo:/a/b/m.zip(gamma=0.9)") == "sb3:ppo:m(gamma=0.9)"
    assert plots.short_agent("rules") == "rules"
    long = 'metamodel(path="/work/runs/mm/q90.skops",scalarisation="mean")'
    assert plots.short_agent(long) == 'metamodel(path="q90.skops",scalarisation="mean")'
    calibrated = 'rules(thresholds="runs/calib-mnist-5000/thresholds.json",slopes="relative")'
    assert plots.short_agent(calibrated) == 'rules(thresholds="thresholds.json",slopes="relative")'
    assert plots.short_agent('rules(thresholds="paper")') == 'rules(thresholds="paper")'


def test_test_hypervolume_figure_only_for_runs_with_test_scores(tmp_path):
    """Validation and test panels on one scale; the test curve of a run whose test scores are
    its validation scores halved ends at the hypervolume of those points."""
    runs = _runs("nasgym-test/Synthetic-v0", SPEC3)
    assert plots.plot_test_hypervolume(_by_agent(runs), "synthetic") is None
    for run in runs:
        for rec in run.steps:
            for n, v in rec["objectives"].items():
                rec["info"][f"test_objectives.{n}"] = v / 2
    fig = plots.plot_test_hypervolume(_by_agent(runs), "synthetic")
    val_ax, test_ax = fig.axes
    assert val_ax.get_shared_y_axes().joined(val_ax, test_ax)
    rules = [r for r in runs if r.agent == "rules"]
    names, bounds = list(SPEC3), list(SPEC3.values())
    expected = np.mean([ind.hypervolume(selected_test_points(r, names), bounds) for r in rules])
    ends = sorted(ln.get_ydata()[-1] for ln in test_ax.lines)
    assert expected == pytest.approx(ends[-1])  # rules is ahead
    written = plots.plot_all(runs, tmp_path)
    assert any(p.name.startswith("test_hypervolume_") for p in written)


@pytest.mark.parametrize("env_id", ["nasgym/VALP-v0", "nasgym/VALP-Paper-v0", "nasgym/NB201-v0"])
def test_every_preset_names_its_cost_unit(env_id):
    from nasgym.bench.labels import cost_unit

    unit = "simulated s" if "NB201" in env_id else "training batches"
    assert cost_unit(env_id) == unit


def test_a_long_title_and_an_outside_legend_are_saved_whole(tmp_path):
    """A bench's title holds its env kwargs and the legend sits beside the axes: the saved
    image is widened to hold both rather than cutting the title's ends off."""
    import matplotlib.image

    runs = _runs("nasgym-test/Synthetic-v0", SPEC3, agents=("random", 'rules(thresholds="x")'))
    by_agent = {a: [r for r in runs if r.agent == a] for a in ("random", 'rules(thresholds="x")')}
    title = "nasgym/VALP-Paper-v0 " + '{"eval_samples":2000,"initial_batches":5000}' * 3
    fig = plots.plot_front_shares(by_agent, title)
    fig.canvas.draw()
    extent = fig.axes[0].title.get_window_extent()
    assert extent.x0 < 0  # the title is wider than the figure
    png = next(p for p in plots._save(fig, tmp_path / "shares") if p.suffix == ".png")
    height, width = matplotlib.image.imread(png).shape[:2]
    assert width >= extent.width * 120 / fig.dpi

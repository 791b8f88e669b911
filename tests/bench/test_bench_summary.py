"""The summary's numbers agree with the indicators; NB201's true front; partial runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nasgym import indicators as ind
from nasgym.bench import BenchEntry, load_runs, run_bench, summarize
from nasgym.bench.fronts import true_front
from nasgym.bench.records import done_record, run_key, step_record
from nasgym.bench.results import Run, objective_bounds, selected_test_points
from nasgym.bench.summary import format_markdown

TOY = "nasgym-test/ToyMO-v0"


@pytest.fixture(scope="module")
def toy_bench(tmp_path_factory, toys):
    out = tmp_path_factory.mktemp("bench")
    entry = BenchEntry(TOY, ("random", "toy-cycle"), (0, 1, 2), {"horizon": 50}, 10)
    report = run_bench(
        [entry], out, progress=False, plots=False, quiet=True, imports=("nasgym_toys",)
    )
    return out, report


def test_summary_matches_the_indicators_per_run(toy_bench):
    out, report = toy_bench
    runs = load_runs(out)
    (env,) = report.summary["envs"]
    assert env["bounds"] == {"f1": [0.0, 1.0], "f2": [0.0, 1.0]} and env["reference_point"] == 1.0
    by_agent = {a["agent"]: a for a in env["agents"]}
    for agent, summ in by_agent.items():
        mine = [r for r in runs if r.agent == agent]
        hvs = [ind.hypervolume(r.points(), [(0, 1), (0, 1)]) for r in mine]
        assert summ["hypervolume"]["mean"] == pytest.approx(np.mean(hvs))
        assert summ["hypervolume"]["std"] == pytest.approx(np.std(hvs, ddof=1))
        best_f1 = [r.points()[:, 0].min() for r in mine]
        assert summ["best"]["f1"]["mean"] == pytest.approx(np.mean(best_f1))
        assert summ["final"]["f2"]["mean"] == pytest.approx(
            np.mean([r.points()[-1, 1] for r in mine])
        )
        assert summ["info"]["cost"]["mean"] == 10.0 and "score" in summ["info"]
        assert summ["runs"] == summ["complete"] == 3 and summ["igd_plus"] is None
    # Fig. 8: per paired seed the agents' shares sum to 1, so their means do too, at every checkpoint
    assert env["checkpoints"] == [2, 5, 8, 10]
    assert sum(a["front_share"]["mean"] for a in by_agent.values()) == pytest.approx(1.0)
    for i in range(4):
        assert sum(a["front_share_by_step"][i]["mean"] for a in by_agent.values()) == pytest.approx(
            1
        )
        assert all(a["front_share_by_step"][i]["n"] == 3 for a in by_agent.values())
    # Fig. 9: the count at the last checkpoint is the final count
    for a in by_agent.values():
        assert a["pooled_front_points_by_step"][-1] == a["pooled_front_points"] > 0
    md = (out / "summary.md").read_text().splitlines()
    assert sum(line.startswith("| toy-cycle |") for line in md) == 1  # its row of the table
    # the info table and the operators table (the toy env names its operator) have a column
    assert "| info | random | toy-cycle |" in md and "| operator | random | toy-cycle |" in md
    assert json.loads((out / "summary.json").read_text()) == report.summary


def test_the_info_table_shows_the_accepted_models_objectives(toy_bench):
    out, report = toy_bench
    (env,) = report.summary["envs"]
    for summ in env["agents"]:
        mine = [r for r in load_runs(out) if r.agent == summ["agent"]]
        accepted = []
        for run in mine:
            acc = [s["objectives"]["f2"] for s in run.steps if s["accepted"]]
            accepted.append(acc[-1] if acc else 1.0)
        stat = summ["info"]["current_objectives.f2"]
        assert stat["n"] == 3 and stat["mean"] == pytest.approx(np.mean(accepted))
    text = (out / "summary.md").read_text()
    table = text[text.index("Numeric info at the last step") :]
    assert "| current_objectives.f1 |" in table and "| current_objectives.f2 |" in table


def test_runs_without_a_done_marker_take_the_env_class_spec(toy_bench, tmp_path):
    out, _ = toy_bench
    lines = [ln for ln in (out / "results.jsonl").read_text().splitlines() if '"type":"step"' in ln]
    (tmp_path / "results.jsonl").write_text("\n".join(lines[:7]) + "\n")
    runs = load_runs(tmp_path)
    assert len(runs) == 1 and not runs[0].complete and len(runs[0].steps) == 7
    assert objective_bounds(runs) == (["f1", "f2"], [(0.0, 1.0), (0.0, 1.0)])
    (env,) = summarize(runs)["envs"]
    assert env["agents"][0]["complete"] == 0 and env["agents"][0]["steps"]["mean"] == 7


def test_nb201_true_front_is_the_nondominated_set_of_all_cells():
    front = true_front("nasgym/NB201-v0", {}, ["test_error", "params"])
    assert front is not None and 5 < len(front) < 200
    assert ind.nondominated_count(front) == len(front)
    # the best CIFAR-10 cell (94.37 %) and the smallest cell are on it
    from nasgym.tables.nb201 import load_nb201

    assert front[:, 0].min() == pytest.approx(100 - 94.37, abs=0.01)
    assert front[:, 1].min() == pytest.approx(load_nb201().params("cifar10").min(), abs=1e-6)
    assert ind.igd_plus(front, front, [(0, 100), (0, 2)]) == 0.0
    swapped = true_front("nasgym/NB201-v0", {"dataset": "c10"}, ["params", "test_error"])
    assert np.array_equal(swapped, front[:, ::-1])
    assert true_front("nasgym/NB201-v0", {}, ["f1", "f2"]) is None
    assert true_front(TOY, {}, ["f1", "f2"]) is None


def test_agent_order_does_not_depend_on_which_worker_wrote_first(toy_bench, tmp_path):
    out, report = toy_bench
    lines = (out / "results.jsonl").read_text().splitlines()
    (tmp_path / "results.jsonl").write_text("\n".join(reversed(lines)) + "\n")
    (env,) = summarize(load_runs(tmp_path))["envs"]
    assert [a["agent"] for a in env["agents"]] == ["random", "toy-cycle"]
    assert [a["agent"] for a in env["agents"]] == [
        a["agent"] for a in report.summary["envs"][0]["agents"]
    ]


def _synthetic(agent: str, seed: int, shift: float, index: int, f1_scale: float = 1.0) -> Run:
    """A 6-step run on the toy env whose points are ``shift`` better (lower) than random."""
    rng = np.random.default_rng(seed)
    key = run_key(TOY, {}, agent, seed)
    recs = []
    for t in range(1, 7):
        f1, f2 = (rng.uniform(0.2, 0.9, 2) - shift).clip(0.01, None)
        info = {"objectives": {"f1": f1 * f1_scale, "f2": f2}, "cost": float(t), "accepted": True}
        info |= {"index": index + seed, "arch": "|x|", "score": float(t)}
        recs.append(step_record(key, t, 0, 0.0, False, False, info))
    spec = {"f1": (0.0, 1.0), "f2": (0.0, 1.0)}
    return Run(TOY, {}, agent, seed, recs, done_record(key, 6, 6, False, spec, 0.5))


def test_paired_tests_mark_a_consistent_winner(toys):
    seeds = range(8)
    runs = [_synthetic("good", s, 0.15, 100) for s in seeds]
    runs += [_synthetic("plain", s, 0.0, 5000) for s in seeds]
    (env,) = summarize(runs)["envs"]
    hv = next(t for t in env["tests"] if t["metric"] == "hypervolume")
    assert (hv["a"], hv["b"], hv["n"]) == ("good", "plain", 8)
    assert hv["winner"] == "good" and hv["effect"] == 1.0 and hv["p"] == pytest.approx(2 / 2**8)
    assert {t["metric"] for t in env["tests"]} == {
        "hypervolume", "front share (pair)", "final f1", "final f2", "best f1", "best f2"
    }  # fmt: skip
    share = next(t for t in env["tests"] if t["metric"] == "front share (pair)")
    assert share["winner"] == "good" and share["effect"] > 0
    for t in env["tests"]:
        assert t["p_holm"] >= t["p"] and (t["winner"] is not None) == (t["p"] < 0.05)
    text = format_markdown(summarize(runs))
    good = next(line for line in text.splitlines() if line.startswith("| good |"))
    assert "**" in good.split("|")[3]  # the hypervolume cell is bold
    assert "**good** better" in text and "p (Holm)" in text


def _scripted(agent: str, seed: int, levels: list[float]) -> Run:
    """A run on the toy env whose step t model sits at ``levels[t - 1]`` (both objectives, with
    a little per-seed jitter)."""
    jitter = np.random.default_rng(seed).uniform(0, 0.01, (len(levels), 2))
    key = run_key(TOY, {}, agent, seed)
    recs = []
    for t, (level, (j1, j2)) in enumerate(zip(levels, jitter, strict=True), start=1):
        info = {"objectives": {"f1": level + j1, "f2": level + j2}, "cost": float(t)}
        recs.append(step_record(key, t, 0, 0.0, False, False, info))
    spec = {"f1": (0.0, 1.0), "f2": (0.0, 1.0)}
    n = len(levels)
    return Run(TOY, {}, agent, seed, recs, done_record(key, n, n, False, spec, 0.5))


def test_per_checkpoint_tests_find_who_is_ahead_when(toys):
    """The paper's "ahead from step ~20 on": an agent ahead over the first half of the runs and
    caught up with later is ahead at the early checkpoints only, on hypervolume and on Fig. 8
    for the pair (each agent's share of the front of both runs' models)."""
    seeds = range(8)
    runs = [_scripted("early", s, [0.3, 0.3, 0.3, 0.9, 0.9, 0.9]) for s in seeds]
    runs += [_scripted("late", s, [0.9, 0.9, 0.9, 0.1, 0.1, 0.1]) for s in seeds]
    (env,) = summarize(runs)["envs"]
    assert env["checkpoints"] == [2, 3, 4, 6]
    got = {(t["metric"], t["step"]): t for t in env["tests_by_step"]}
    assert len(got) == len(env["tests_by_step"]) == 8
    for metric in ("hypervolume", "front share (pair)"):
        for step in (2, 3):
            t = got[metric, step]
            assert (t["a"], t["b"], t["n"]) == ("early", "late", 8)
            assert t["effect"] == 1.0 and t["p"] == pytest.approx(2 / 2**8) == t["p_holm"]
        for step in (4, 6):
            assert got[metric, step]["effect"] == -1.0
    assert got["front share (pair)", 2]["median_diff"] == 1.0  # early's points alone on the front
    assert got["front share (pair)", 6]["median_diff"] == -1.0
    text = format_markdown(summarize(runs))
    row = next(line for line in text.splitlines() if line.startswith("| early vs late |"))
    assert row.count("**early 0.0078**") == 4 and row.count("**late 0.0078**") == 4


def test_paired_tests_leave_out_runs_cut_short(toys):
    """A bench stopped mid-run: the unfinished run would be compared at an earlier step than its
    partner, so it is shown in the table (n complete/started) but not paired."""
    seeds = range(6)
    runs = [_scripted("early", s, [0.3, 0.3, 0.3, 0.9, 0.9, 0.9]) for s in seeds]
    runs += [_scripted("late", s, [0.9, 0.9, 0.9, 0.1, 0.1, 0.1]) for s in seeds]
    cut = _scripted("early", 6, [0.3, 0.3, 0.3])
    runs += [Run(TOY, {}, "early", 6, cut.steps, None), _scripted("late", 6, [0.9] * 3 + [0.1] * 3)]
    (env,) = summarize(runs)["envs"]
    assert next(a for a in env["agents"] if a["agent"] == "early")["complete"] == 6
    assert {t["n"] for t in env["tests"] + env["tests_by_step"]} == {6}
    assert "seeds both agents ran to the end" in format_markdown(summarize(runs))


def test_identifiers_are_never_averaged_and_units_are_shown(toys):
    runs = [_synthetic(a, s, 0.0, 100) for a in ("x", "y") for s in range(3)]
    (env,) = summarize(runs)["envs"]
    assert all("index" not in a["info"] and "score" in a["info"] for a in env["agents"])
    text = format_markdown(summarize(runs))
    assert "| index" not in text and "wall (s)" in text
    # one significant-figure rule for every mean: 3 figures, the std at the same decimals
    assert "| score | 6.00 ± 0.00 |" in text


def test_runs_wholly_outside_the_box_are_warned_about(toys, capsys):
    runs = [_synthetic("x", s, 0.0, 0, f1_scale=5.0) for s in range(3)]
    (env,) = summarize(runs)["envs"]
    assert env["box_check"]["runs_all_outside"] == 3
    assert all(a["hypervolume"]["mean"] == 0.0 for a in env["agents"])
    text = format_markdown(summarize(runs))
    assert "**Warning:**" in text and "3 of 3 runs have every model outside it" in text
    inside = summarize([_synthetic("x", s, 0.0, 0) for s in range(3)])
    assert "Warning" not in format_markdown(inside)


def test_each_run_records_the_code_and_platform_that_ran_it(toy_bench):
    from nasgym import __version__
    from nasgym._provenance import code_version, compute_platform

    out, report = toy_bench
    markers = [r.done for r in load_runs(out)]
    assert markers and {m["code"] for m in markers} == {code_version()}
    assert code_version().startswith(__version__)
    (env,) = report.summary["envs"]
    assert env["code_versions"] == {code_version(): 6}
    assert "code versions" not in report.summary_text
    # and on which platform: torch version, the CPU kernels it dispatched to, the CPU
    import torch

    assert {m["platform"] for m in markers} == {compute_platform()}
    assert compute_platform().startswith(f"torch {torch.__version__}, ")
    assert torch.backends.cpu.get_cpu_capability() in compute_platform()
    assert env["platforms"] == {compute_platform(): 6}
    assert "platforms" not in report.summary_text


def _resume_folder_of(runs: list[Run], out) -> None:
    """Store ``runs`` as a bench folder, then resume a bench of their (finished) runs in it."""
    out.mkdir()
    with open(out / "results.jsonl", "w") as f:
        for run in runs:
            for rec in [*run.steps, run.done]:
                f.write(json.dumps(rec) + "\n")
    entry = BenchEntry(TOY, ("random",), (0, 1, 2), {}, 6)
    run_bench([entry], out, progress=False, plots=False, quiet=True, imports=("nasgym_toys",))


def test_runs_written_by_two_code_versions_are_warned_about(toys, tmp_path, capsys):
    runs = [_synthetic("random", s, 0.0, 0) for s in range(3)]
    for run, code in zip(runs, ("0.1.0+gaaaa", "0.1.0+gbbbb", None), strict=True):
        run.done["code"] = code
    (env,) = summarize(runs)["envs"]
    assert env["code_versions"] == {"0.1.0+gaaaa": 1, "0.1.0+gbbbb": 1, "unrecorded": 1}
    text = format_markdown(summarize(runs))
    assert "written by 3 code versions: 0.1.0+gaaaa (1 runs)" in text
    # a bench resuming such a folder says so on the terminal too
    _resume_folder_of(runs, tmp_path / "mixed")
    assert "code versions" in capsys.readouterr().err


def test_nb201_summary_reports_the_chosen_cell_and_skips_the_over_budget_step(tmp_path):
    kwargs = {"reward": "eq9", "reward_params": {"beta": -0.05}, "time_budget": 1500}
    entry = BenchEntry("nasgym/NB201-v0", ("random",), (0, 1, 2), kwargs)
    report = run_bench([entry], tmp_path, progress=False, plots=False, quiet=True)
    (summ,) = report.summary["envs"][0]["agents"]
    runs = load_runs(tmp_path)
    assert all(not r.steps[-1]["info"]["in_budget"] for r in runs)  # each run ends by overrunning
    names, bounds = objective_bounds(runs)
    finals, hvs = [], []
    for r in runs:
        kept = np.array(
            [[s["objectives"][n] for n in names] for s in r.steps if s["info"]["in_budget"]]
        )
        finals.append(kept[-1])
        hvs.append(ind.hypervolume(kept, bounds))
        assert r.steps[-1]["objectives"] == {}
    assert summ["hypervolume"]["mean"] == pytest.approx(np.mean(hvs))
    assert summ["final"]["params"]["mean"] == pytest.approx(np.mean([f[1] for f in finals]))
    assert summ["final"]["params"]["n"] == 3
    chosen = summ["chosen"]
    by_seed = {r.seed: r for r in runs}
    assert sorted(c["seed"] for c in chosen["per_run"]) == [0, 1, 2]
    for c in chosen["per_run"]:
        r = by_seed[c["seed"]]
        in_budget = [s for s in r.steps if s["info"]["in_budget"]]
        best = max(in_budget, key=lambda s: s["reward"])  # first one on ties
        assert c["arch"] == best["info"]["arch"] and c["params"] == best["info"]["params"]
        assert c["test_acc"] == best["info"]["test_acc_200"]
    assert chosen["params"]["mean"] == pytest.approx(
        np.mean([c["params"] for c in chosen["per_run"]])
    )
    assert "chosen params" in report.summary_text


def test_runs_from_two_platforms_are_warned_about(toys, tmp_path, capsys):
    """A folder resumed on another machine mixes CPU kernels whose rounding differs, so the
    same seeds may have followed other trajectories: the summary and the terminal say so."""
    runs = [_synthetic("random", s, 0.0, 0) for s in range(3)]
    for run, where in zip(
        runs, ("torch 2.13.0, AVX2, A", "torch 2.13.0, AVX512, B", None), strict=True
    ):
        run.done["code"] = "0.1.0"
        run.done["platform"] = where
    (env,) = summarize(runs)["envs"]
    assert env["platforms"] == {
        "torch 2.13.0, AVX2, A": 1,
        "torch 2.13.0, AVX512, B": 1,
        "unrecorded": 1,
    }
    assert env["code_versions"] == {"0.1.0": 3}
    text = format_markdown(summarize(runs))
    assert "ran on 3 platforms: torch 2.13.0, AVX2, A (1 runs)" in text
    assert "code versions" not in text
    _resume_folder_of(runs, tmp_path / "mixed")
    assert "3 platforms" in capsys.readouterr().err


def _tested(agent: str, seed: int, val: list, test: list) -> Run:
    """A run on the toy env whose step t candidate scores ``val[t-1]`` on validation and
    ``test[t-1]`` on test (pairs of objectives)."""
    key = run_key(TOY, {}, agent, seed)
    recs = []
    for t, (v, w) in enumerate(zip(val, test, strict=True), start=1):
        info = {
            "objectives": {"f1": v[0], "f2": v[1]},
            "test_objectives": {"f1": w[0], "f2": w[1]},
            "cost": float(t),
        }
        recs.append(step_record(key, t, 0, 0.0, False, False, info))
    spec = {"f1": (0.0, 1.0), "f2": (0.0, 1.0)}
    n = len(val)
    return Run(TOY, {}, agent, seed, recs, done_record(key, n, n, False, spec, 0.5))


def test_test_hypervolume_selects_on_validation_and_scores_on_test(toys):
    """A model that looks best on validation but not on test counts with its test scores, and a
    model dominated on validation counts not at all, however good its test scores."""
    val = [[0.2, 0.2], [0.5, 0.5], [0.1, 0.9]]
    test = [[0.6, 0.6], [0.05, 0.05], [0.1, 0.9]]
    run = _tested("a", 0, val, test)
    picked = selected_test_points(run, ["f1", "f2"])
    assert picked.tolist() == [[0.6, 0.6], [0.1, 0.9]]  # step 2 is dominated on validation
    assert selected_test_points(run, ["f1", "f2"], upto=1).tolist() == [[0.6, 0.6]]
    bounds = [(0.0, 1.0), (0.0, 1.0)]
    (env,) = summarize([run])["envs"]
    (agent,) = env["agents"]
    assert agent["test_hypervolume"]["mean"] == pytest.approx(ind.hypervolume(picked, bounds))
    assert agent["hypervolume"]["mean"] == pytest.approx(ind.hypervolume(val, bounds))
    text = format_markdown(summarize([run]))
    assert "| hypervolume | test hypervolume |" in text and "select on validation" in text


def test_test_hypervolume_is_tested_between_agents_per_checkpoint(toys):
    """Two agents level on validation, one better on test: only the test hypervolume tells."""
    val = [[0.3, 0.3]] * 6
    runs = [_tested("honest", s, val, [[0.3 + s / 100, 0.3]] * 6) for s in range(8)]
    runs += [_tested("lucky", s, val, [[0.6 + s / 100, 0.6]] * 6) for s in range(8)]
    (env,) = summarize(runs)["envs"]
    test = next(t for t in env["tests"] if t["metric"] == "test hypervolume")
    assert test["winner"] == "honest" and test["p"] == pytest.approx(2 / 2**8)
    hv = next(t for t in env["tests"] if t["metric"] == "hypervolume")
    assert hv["winner"] is None
    by_step = [t for t in env["tests_by_step"] if t["metric"] == "test hypervolume"]
    assert [t["step"] for t in by_step] == env["checkpoints"]
    assert all(t["effect"] == 1.0 for t in by_step)


def test_runs_without_test_scores_have_no_test_hypervolume(toys):
    runs = [_synthetic("a", s, 0.0, 10) for s in range(3)]
    (env,) = summarize(runs)["envs"]
    assert env["agents"][0]["test_hypervolume"] is None
    assert "test hypervolume" not in format_markdown(summarize(runs))
    assert all(t["metric"] != "test hypervolume" for t in env["tests"] + env["tests_by_step"])


def test_the_chosen_models_test_scores_follow_acceptance(toys):
    """The model a hill climber holds: the last accepted candidate, or the control that replaced
    a rejected one; a rejected candidate's own test scores never count."""
    key = run_key(TOY, {}, "a", 0)

    def rec(t: int, accepted: bool, cand: float, control: float | None) -> dict:
        info = {"objectives": {"f1": 0.5, "f2": 0.5}, "cost": float(t), "accepted": accepted}
        info["test_objectives"] = {"f1": cand, "f2": cand}
        if control is not None:
            info["control_test_objectives"] = {"f1": control, "f2": control}
        return step_record(key, t, 0, 0.0, False, False, info)

    def chosen(*recs: dict) -> dict | None:
        return Run(TOY, {}, "a", 0, list(recs)).chosen_test(["f1", "f2"])

    assert chosen(rec(1, True, 0.1, 0.9)) == {"f1": 0.1, "f2": 0.1}
    assert chosen(rec(1, True, 0.1, 0.9), rec(2, False, 0.2, 0.3)) == {"f1": 0.3, "f2": 0.3}
    # parent credit (no control): a rejected step leaves the last accepted model
    assert chosen(rec(1, True, 0.1, None), rec(2, False, 0.2, None)) == {"f1": 0.1, "f2": 0.1}
    assert chosen(rec(1, False, 0.2, None)) is None  # only the start model, never scored


def test_the_summary_says_which_operators_each_agent_applied(toys):
    """Per agent, each operator's share of its steps and the share of those accepted, with every
    gentle and every aggressive variant together, and how often a rejected action is taken again
    at the next step; steps naming no operator give no table."""

    gentle, rough, delete = "add_layer:gentle", "add_layer:aggressive", "delete_network"
    codes = {gentle: 0, rough: 1, delete: 2}  # each operator its own action

    def run(agent: str, seed: int, ops: list[tuple[str, bool]]) -> Run:
        key = run_key(TOY, {}, agent, seed)
        recs = [
            step_record(key, t, codes[op], 0.0, False, False,
                        {"objectives": {"f1": 0.5, "f2": 0.5}, "cost": float(t),
                         "accepted": accepted, "operator": op})
            for t, (op, accepted) in enumerate(ops, start=1)
        ]  # fmt: skip
        spec = {"f1": (0.0, 1.0), "f2": (0.0, 1.0)}
        return Run(TOY, {}, agent, seed, recs, done_record(key, len(ops), len(ops), False, spec, 0.5))  # fmt: skip

    runs = [
        run("careful", 0, [(gentle, True), (gentle, False), (delete, True)]),
        run("careful", 1, [(gentle, True), (gentle, True), (rough, False)]),
        run("bold", 0, [(rough, False), (rough, True), (rough, False)]),
        run("bold", 1, [(rough, False), (gentle, True), (rough, False)]),
    ]
    (env,) = summarize(runs)["envs"]
    use = {a["agent"]: a["operators"] for a in env["agents"]}
    assert use["careful"][gentle] == {"n": 4, "share": 4 / 6, "accepted": 0.75}
    assert use["careful"][rough] == {"n": 1, "share": 1 / 6, "accepted": 0.0}
    assert use["careful"][delete]["share"] == pytest.approx(1 / 6)
    assert list(use["bold"]) == [rough, gentle]  # most applied first
    assert use["bold"][rough] == {"n": 5, "share": 5 / 6, "accepted": 0.2}
    # after a rejected step (a last step has no next): the same action again or not
    repeats = {a["agent"]: a["repeats_rejected"] for a in env["agents"]}
    assert repeats == {"careful": {"n": 1, "share": 0.0}, "bold": {"n": 2, "share": 0.5}}
    text = format_markdown(summarize(runs))
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "66.7 % (0.75)" in rows[gentle] and "16.7 % (1.00)" in rows[gentle]
    assert rows["every aggressive variant"].count("%") == 2
    assert "83.3 % (0.20)" in rows["every aggressive variant"]
    assert "50.0 % of 2" in rows["the rejected action again at the next step"]
    plain = [_synthetic("plain", s, 0.0, 5000) for s in range(2)]
    assert summarize(plain)["envs"][0]["agents"][0]["operators"] == {}
    assert "Operators applied" not in format_markdown(summarize(plain))

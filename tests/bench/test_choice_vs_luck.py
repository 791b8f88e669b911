"""``benchmarks/choice_vs_luck.py``: agents' arguments, and a ``--raw`` file that keeps each state
as it ends so an interrupted measurement goes on where it stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_scripts import load

choice_vs_luck = load("choice_vs_luck")
KWARGS = json.dumps({"initial_batches": 5, "step_batches": 2, "test_samples": 200})


def run(*args: str) -> dict:
    base = ["--env", "nasgym/VALP-v0", "--env-kwargs", KWARGS, "--episode-steps", "1",
            "--tries", "2", "--measure", "log", "--agents", "random,rules",
            "--agent-kwargs", '{"rules": {"thresholds": "paper"}}']  # fmt: skip
    return choice_vs_luck.main([*base, *args])


def test_a_rerun_measures_only_the_states_not_in_the_raw_file(tmp_path, capsys):
    raw = tmp_path / "raw.json"
    run("--states", "0-1", "--raw", str(raw))
    assert [st["seed"] for st in json.loads(raw.read_text())["states"]] == [0, 1]
    capsys.readouterr()
    resumed = run("--states", "0-2", "--raw", str(raw))
    assert f"{raw}: 2 of 3 states stored" in capsys.readouterr().out
    states = json.loads(raw.read_text())["states"]
    assert [st["seed"] for st in states] == [0, 1, 2]
    assert all(st["code"] and st["platform"] for st in states)  # which code measured each
    fresh = run("--states", "0-2")  # nothing stored: every state measured again
    assert resumed["means"] == fresh["means"] and resumed["picks"] == fresh["picks"]
    assert choice_vs_luck.main(["--from", str(raw), "--measure", "log"])["means"] == fresh["means"]


def test_a_raw_file_of_another_setting_or_unreadable_is_refused_untouched(tmp_path):
    raw = tmp_path / "raw.json"
    run("--states", "0-0", "--raw", str(raw))
    before = raw.read_bytes()
    with pytest.raises(SystemExit, match="another setting"):
        run("--states", "0-0", "--raw", str(raw), "--tries", "3")
    assert raw.read_bytes() == before
    raw.write_text('{"env": "nasgym/VALP-v0", "sta')  # not written by the script
    with pytest.raises(SystemExit, match="not a readable measurement"):
        run("--states", "0-0", "--raw", str(raw))
    assert raw.read_text() == '{"env": "nasgym/VALP-v0", "sta'


def test_agent_kwargs_reach_the_agent_and_must_name_a_listed_agent(tmp_path):
    with pytest.raises(SystemExit, match=r"not in --agents: \['bandit'\]"):
        run("--states", "0-0", "--agent-kwargs", '{"bandit": {}}')
    with pytest.raises(TypeError, match="no_such_argument"):
        run("--states", "0-0", "--agent-kwargs", '{"rules": {"no_such_argument": 1}}')


def test_the_papers_budget_measurement_recomputes_from_its_stored_outcomes():
    """The pre-registered one-step test at 5,000 / 1,000 (README, *At the paper's 5,000 /
    1,000*): its primary and the agents' rows, from the committed ``--raw`` file."""
    raw = Path(__file__).resolve().parents[2] / "docs" / "heldout" / "choice_fmnist_5000.json"
    out = choice_vs_luck.main(["--from", str(raw), "--measure", "hypervolume"])
    assert out["states"] == list(range(700, 712))
    assert out["agents"] == ["metamodel", "rules", "random"]
    primary = out["choice_minus_luck"]["hypervolume"]["gain test"]
    assert round(primary["median_diff"], 4) == 0.0075 and round(primary["p"], 2) == 0.23
    means = out["means"]["hypervolume"]
    gains = [round(means[d]["gain test"], 3) for d in ("choice", "luck")]
    assert gains == [0.038, 0.027]
    picks = {a: round(means[a]["gain test"]["p"], 2) for a in ("metamodel", "rules", "random")}
    assert picks == {"metamodel": 0.23, "rules": 0.62, "random": 0.38}


def test_the_52_state_measurement_recomputes_from_its_stored_outcomes():
    """The pre-registered 52-state test at 5,000 / 1,000 (README, *At the paper's 5,000 / 1,000,
    52 new states*): its primary, the agents' rows and the after-the-fact split by a broken
    sampler, from the committed ``--raw`` file."""
    raw = Path(__file__).resolve().parents[2] / "docs" / "heldout" / "choice_fmnist_5000_52.json"
    out = choice_vs_luck.main(["--from", str(raw), "--measure", "hypervolume"])
    assert out["states"] == list(range(720, 772))
    primary = out["choice_minus_luck"]["hypervolume"]["gain test"]
    assert round(primary["median_diff"], 3) == 0.033 and f"{primary['p']:.1e}" == "3.4e-07"
    means = out["means"]["hypervolume"]
    assert [round(means[d]["gain test"], 3) for d in ("choice", "luck")] == [0.072, 0.022]
    picks = {
        a: float(f"{means[a]['gain test']['p']:.2g}") for a in ("metamodel", "rules", "random")
    }
    assert picks == {"metamodel": 0.00038, "rules": 0.079, "random": 0.27}
    assert sum(p.startswith("clone_network:gentle@") for p in out["picks"]["metamodel"]) == 37
    broken = choice_vs_luck.main(["--from", str(raw), "--measure", "hypervolume",
                                  "--where", "sample>100"])  # fmt: skip
    rest = choice_vs_luck.main(["--from", str(raw), "--measure", "hypervolume",
                                "--where", "sample<=100"])  # fmt: skip
    assert len(broken["states"]) == 11 and len(rest["states"]) == 41
    assert sorted(broken["states"] + rest["states"]) == out["states"]
    assert f"{rest['choice_minus_luck']['hypervolume']['gain test']['p']:.1e}" == "1.4e-05"
    assert not any(p.startswith("delete_network@") for p in broken["picks"]["metamodel"])


def test_where_selects_states_by_the_current_objective_and_names_bad_conditions():
    states = [{"seed": s, "current": [{"class": 0.1, "sample": f}, {}]} for s, f in
              [(0, 50.0), (1, 150.0), (2, 100.0)]]  # fmt: skip
    outputs = ["class", "sample"]
    assert [st["seed"] for st in choice_vs_luck.select_states(states, "sample>100", outputs)] == [1]
    kept = choice_vs_luck.select_states(states, " sample <= 100 ", outputs)
    assert [st["seed"] for st in kept] == [0, 2]
    with pytest.raises(SystemExit, match="names output 'fid'"):
        choice_vs_luck.select_states(states, "fid>1", outputs)
    with pytest.raises(SystemExit, match="must read OUTPUT<NUMBER"):
        choice_vs_luck.select_states(states, "sample=100", outputs)
    with pytest.raises(SystemExit, match="no state of 3 meets it"):
        choice_vs_luck.select_states(states, "class>1", outputs)

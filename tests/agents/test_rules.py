"""The rule-based agent picks the paper's operator in constructed situations."""

from __future__ import annotations

import gzip
import json

import gymnasium as gym
import numpy as np
import pytest
from bench_replay import assert_benches_and_replays

from agents import list_agents, make_agent
from agents.rules import RulesAgent, Situation, Thresholds, rule_candidates
from nasgym.envs.valp_actions import ActionTable

PAIRS = (
    ("add_layer", "gentle"),
    ("add_layer", "aggressive"),
    ("remove_layer", None),
    ("extend_layer", "gentle"),
    ("extend_layer", "aggressive"),
    ("add_connection", "gentle"),
    ("add_connection", "aggressive"),
    ("delete_connection", None),
    ("insert_network", "gentle"),
    ("insert_network", "aggressive"),
    ("delete_network", None),
    ("clone_network", "gentle"),
    ("clone_network", "aggressive"),
    ("change_lr", None),
)
EFFECTS = tuple(
    "reducer"
    if op.startswith(("remove", "delete"))
    else "neutral"
    if op.startswith("change")
    else "extender"
    for op, _ in PAIRS
)
OUTPUTS = ("class", "hist", "sample")
TABLE = ActionTable(PAIRS, EFFECTS, max_networks=4, outputs=OUTPUTS)
MODERATE = -1e-6  # between steep (-2e-5) and stuck (-1e-10)


def _situation(relevance: list[list[float]], slopes: list[float], n_present: int = 3) -> Situation:
    n = TABLE.max_networks
    rel = np.ones((n, len(OUTPUTS)))
    rel[: len(relevance)] = relevance
    present = np.arange(n) < n_present
    # net0 feeds class, net1 feeds hist, net2 feeds sample
    reaches = np.zeros((n, len(OUTPUTS)), dtype=bool)
    for k in range(min(n_present, len(OUTPUTS))):
        reaches[k, k] = True
    return Situation(present, reaches, rel, np.array(slopes))


def _decoded(actions: list[int]) -> set[tuple[str, str]]:
    return {(TABLE.variants[v], TABLE.slots[s]) for v, s in map(TABLE.decode, actions)}


ALL_VALID = np.ones(TABLE.n_actions, dtype=bool)
RELEVANT = [[3.0, 1.0, 1.0], [1.0, 3.0, 1.0], [1.0, 1.0, 3.0]]


def test_irrelevant_network_is_deleted() -> None:
    rel = [[3.0, 1.0, 1.0], [1.0, 1.1, 1.0], [1.0, 1.0, 3.0]]  # net1 costs hist only 10%
    cls, actions = rule_candidates(_situation(rel, [MODERATE] * 3), TABLE, ALL_VALID)
    assert cls == "reducer"
    assert _decoded(actions) == {("delete_network", "net1")}


def test_steeply_falling_loss_gets_a_gentle_clone() -> None:
    cls, actions = rule_candidates(
        _situation(RELEVANT, [-1e-3, MODERATE, MODERATE]), TABLE, ALL_VALID
    )
    assert cls == "gentle"
    assert ("clone_network:gentle", "net0") in _decoded(actions)
    assert all(not v.endswith("aggressive") for v, _ in _decoded(actions))


def test_stuck_output_gets_an_inserted_network() -> None:
    cls, actions = rule_candidates(_situation(RELEVANT, [0.0, -1e-3, MODERATE]), TABLE, ALL_VALID)
    assert cls == "aggressive"
    assert ("insert_network:aggressive", "net0") in _decoded(actions)
    assert {slot for _, slot in _decoded(actions)} == {"net0"}


def test_reducers_come_before_expanders() -> None:
    rel = [[3.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 3.0]]
    cls, actions = rule_candidates(_situation(rel, [0.0, 0.0, -1e-3]), TABLE, ALL_VALID)
    assert (cls, _decoded(actions)) == ("reducer", {("delete_network", "net1")})


def test_masked_and_excluded_operators_are_skipped() -> None:
    rel = [[3.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 3.0]]
    mask = ALL_VALID.copy()
    mask[TABLE.encode("delete_network", 1)] = False
    cls, actions = rule_candidates(_situation(rel, [0.0, -1e-3, -1e-3]), TABLE, mask)
    assert cls == "aggressive"
    cls, actions = rule_candidates(
        _situation(RELEVANT, [0.0, -1e-3, -1e-3]),
        TABLE,
        ALL_VALID,
        excluded={"insert_network", "add_layer"},
    )
    assert cls == "gentle"
    assert all(v == "clone_network:gentle" for v, _ in _decoded(actions))


def test_nothing_applies_gives_a_random_gentle_operator_on_a_network() -> None:
    mask = np.zeros(TABLE.n_actions, dtype=bool)
    for variant in ("extend_layer:gentle", "remove_layer", "change_lr"):
        for slot in range(TABLE.n_slots):
            mask[TABLE.encode(variant, slot)] = True
    # moderate slopes prescribe add_layer/extend_layer:gentle; with both excluded no rule applies
    cls, actions = rule_candidates(
        _situation(RELEVANT, [MODERATE] * 3), TABLE, mask, excluded={"extend_layer", "add_layer"}
    )
    assert cls == "fallback"
    assert {v for v, _ in _decoded(actions)} == {"extend_layer:gentle"}
    assert {s for _, s in _decoded(actions)} <= {f"net{k}" for k in range(TABLE.max_networks)}


def test_thresholds_are_parameters() -> None:
    situation = _situation(RELEVANT, [-1e-3, -1e-3, -1e-3])
    # with a stuck threshold of -1e-2 the same slopes count as stuck
    cls, _ = rule_candidates(situation, TABLE, ALL_VALID, Thresholds(stuck=-1e-2, steep=-1.0))
    assert cls == "aggressive"
    with pytest.raises(ValueError, match="steep < stuck"):
        Thresholds(stuck=-1e-3, steep=-1e-5)


class _FakeVALPEnv(gym.Env):
    """Spaces of a VALP env with TABLE's action table (no model behind it)."""

    action_table = TABLE

    def __init__(self) -> None:
        self.action_space = gym.spaces.Discrete(TABLE.n_actions)
        self.observation_space = gym.spaces.Dict(
            {"action_mask": gym.spaces.MultiBinary(TABLE.n_actions)}
        )


def _obs(
    situation: Situation,
    mask: np.ndarray = ALL_VALID,
    relative: np.ndarray | None = None,
    gain: tuple[float, ...] = (0.05, 0.05, 0.05),
    t: tuple[float, ...] = (-10.0, -10.0, -10.0),
) -> dict[str, np.ndarray]:
    return {
        "loss_gain": np.array(gain, dtype=np.float32),
        "loss_gain_t": np.array(t, dtype=np.float32),
        "network_present": situation.present.astype(np.int8),
        "network_reaches": situation.reaches.astype(np.int8),
        "relevance": situation.relevance.astype(np.float32),
        "loss_slope": situation.slopes.astype(np.float32),
        "loss_slope_relative": (situation.slopes if relative is None else relative).astype(
            np.float32
        ),
        "action_mask": mask.astype(np.int8),
    }


def test_agent_is_registered_and_excludes_a_failed_operator_for_one_step() -> None:
    assert "rules" in list_agents()
    agent = make_agent("rules", _FakeVALPEnv(), seed=0, mode="v0")
    assert isinstance(agent, RulesAgent)
    obs = _obs(_situation(RELEVANT, [0.0, MODERATE, MODERATE]))
    picks = {TABLE.label(agent.predict(obs)[0]) for _ in range(20)}
    assert any(p.startswith("insert_network:aggressive") for p in picks)
    agent.update(
        obs, 0, 0.0, obs, False, False, {"accepted": False, "operator": "insert_network:aggressive"}
    )
    action, _ = agent.predict(obs)
    assert not TABLE.label(action).startswith("insert_network")
    picks = {TABLE.label(agent.predict(obs)[0]) for _ in range(20)}  # exclusion has expired
    assert any(p.startswith("insert_network") for p in picks)


def test_agent_answers_a_batch_and_is_reproducible() -> None:
    obs = _obs(_situation(RELEVANT, [-1e-3, -1e-3, -1e-3]))
    batch = {k: np.stack([v, v]) for k, v in obs.items()}
    a = make_agent("rules", _FakeVALPEnv(), seed=3).predict(batch)[0]
    b = make_agent("rules", _FakeVALPEnv(), seed=3).predict(batch)[0]
    assert a.shape == (2,) and np.array_equal(a, b)


def test_agent_needs_a_valp_env() -> None:
    with pytest.raises(ValueError, match="action_table"):
        make_agent("rules", gym.make("CartPole-v1"))


def test_relative_slopes_and_threshold_scale_adapt_the_thresholds() -> None:
    # a histogram MSE of 1e-3 falling by 1e-6 per step: moderate in loss units (paper's default),
    # but -1e-3 of its level per step, steep on the relative scale
    situation = _situation(RELEVANT, [MODERATE, -1e-6, MODERATE])
    obs = _obs(situation, relative=np.array([MODERATE, -1e-3, MODERATE]))
    labels = lambda agent: {TABLE.label(agent.predict(obs)[0]) for _ in range(40)}  # noqa: E731
    absolute = labels(make_agent("rules", _FakeVALPEnv(), seed=0, mode="v0"))
    relative = labels(make_agent("rules", _FakeVALPEnv(), seed=0, mode="v0", slopes="relative"))
    assert "clone_network:gentle@net1" not in absolute
    assert "clone_network:gentle@net1" in relative
    assert "add_layer:gentle@net1" in absolute
    # thresholds scaled by 1/100 (steep = -2e-7): the same -1e-6 per step reads steep
    scaled = make_agent("rules", _FakeVALPEnv(), seed=0, mode="v0", threshold_scale=0.01)
    t = scaled.thresholds
    assert (t.stuck, t.steep) == (pytest.approx(-1e-12), pytest.approx(-2e-7))
    assert "clone_network:gentle@net1" in labels(scaled)
    with pytest.raises(ValueError, match="slopes"):
        make_agent("rules", _FakeVALPEnv(), slopes="log")
    with pytest.raises(ValueError, match="threshold_scale"):
        make_agent("rules", _FakeVALPEnv(), threshold_scale=0.0)


def test_a_kept_candidate_that_is_not_better_still_excludes_its_operator() -> None:
    """With acceptance="always" every candidate is accepted: failure is judged on objectives."""
    agent = make_agent("rules", _FakeVALPEnv(), seed=0, mode="v0")
    obs = _obs(_situation(RELEVANT, [0.0, MODERATE, MODERATE]))
    obs["objectives"] = np.array([0.2, 1e-3, 50.0], dtype=np.float32)
    worse = {"class": 0.3, "hist": 1e-3, "sample": 40.0}  # better on one of three only
    info = {"accepted": True, "operator": "insert_network:aggressive", "objectives": worse}
    agent.update(obs, 0, 0.0, obs, False, False, info)
    assert agent.excluded == {"insert_network"}
    better = {"class": 0.1, "hist": 1e-3, "sample": 40.0}
    agent.update(obs, 0, 0.0, obs, False, False, {**info, "objectives": better})
    assert agent.excluded == set()


def test_paper_mode_maps_moderate_to_add_connection_and_reads_trends() -> None:
    agent = make_agent("rules", _FakeVALPEnv(), seed=0)  # mode="paper", trend thresholds
    assert agent.mode == "paper" and agent.slopes == "trend"
    situation = _situation(RELEVANT, [0.0, 0.0, 0.0])
    # class: 1 % per step (moderate), hist: 10 % (steep), sample: 0.01 % and flat (stuck)
    obs = _obs(situation, gain=(0.01, 0.10, 0.0001), t=(-8.0, -8.0, -0.5))
    picks = {TABLE.label(agent.predict(obs)[0]) for _ in range(60)}
    # stuck sample wins (aggressive class before gentle)
    assert picks <= {"insert_network:aggressive@net2", "add_layer:aggressive@net2"}
    # the same small gain but significantly falling is not stuck: no aggressive pick
    obs = _obs(situation, gain=(0.01, 0.10, 0.0001), t=(-8.0, -8.0, -5.0))
    picks = {TABLE.label(agent.predict(obs)[0]) for _ in range(60)}
    assert "add_connection:gentle@net0" in picks and "clone_network:gentle@net1" in picks
    assert not any("aggressive" in p for p in picks)
    assert not any(p.startswith(("add_layer:gentle", "extend_layer")) for p in picks)


def test_paper_mode_excludes_a_failed_operator_until_the_model_changes() -> None:
    agent = make_agent("rules", _FakeVALPEnv(), seed=0)
    obs = _obs(_situation(RELEVANT, [0.0, 0.0, 0.0]), gain=(0.0, 0.0, 0.0), t=(0.0, 0.0, 0.0))
    same = {"accepted": False, "current_descriptor": "A"}
    agent.update(obs, 0, 0.0, obs, False, False, {**same, "operator": "insert_network:aggressive"})
    agent.update(obs, 0, 0.0, obs, False, False, {**same, "operator": "add_layer:aggressive"})
    for _ in range(30):  # every step on the same model: both stay excluded
        label = TABLE.label(agent.predict(obs)[0])
        assert not label.startswith(("insert_network", "add_layer:aggressive"))
    assert agent.last_class == "fallback"
    # fallback: gentle variants on one randomly drawn network
    slots = {TABLE.label(agent.predict(obs)[0]).split("@")[1] for _ in range(30)}
    assert len(slots) > 1
    changed = {"accepted": True, "current_descriptor": "B", "objectives": None}
    agent.update(obs, 0, 0.0, obs, False, False, {**changed, "operator": "clone_network:gentle"})
    assert agent.excluded == set()
    picks = {TABLE.label(agent.predict(obs)[0]) for _ in range(30)}
    assert any(p.startswith("insert_network:aggressive") for p in picks)


def test_mend_deletes_the_network_most_relevant_to_an_output_that_broke() -> None:
    """With mend=2, a sampler whose objective rises above twice its episode best gets the
    deletion of the deletable network it leans on most, before any other rule; not before."""
    rel = [[3.0, 1.0, 1.5], [1.0, 1.1, 1.0], [1.0, 1.0, 4.0]]  # net1 irrelevant: a reducer
    obs = _obs(_situation(rel, [0.0, 0.0, 0.0]), gain=(0.05,) * 3, t=(-8.0,) * 3)
    agent = make_agent("rules", _FakeVALPEnv(), seed=0, mend=2.0)
    plain = make_agent("rules", _FakeVALPEnv(), seed=0)
    obs["objectives"] = np.array([0.2, 1e-3, 30.0], dtype=np.float32)
    assert TABLE.label(agent.predict(obs)[0]) == "delete_network@net1"  # not broken: reducer
    obs["objectives"] = np.array([0.15, 9e-4, 70.0], dtype=np.float32)  # sample 70 > 2 x 30
    assert TABLE.label(agent.predict(obs)[0]) == "delete_network@net2"
    assert agent.last_class == "mender"
    assert TABLE.label(plain.predict(obs)[0]) == "delete_network@net1"
    # net2 not deletable: the next most relevant to the sample, net0
    mask = ALL_VALID.copy()
    mask[TABLE.encode("delete_network", 2)] = False
    assert TABLE.label(agent.predict({**obs, "action_mask": mask})[0]) == "delete_network@net0"
    # a failed deletion is excluded until the model changes: the usual rules then apply
    failed = {"accepted": False, "operator": "delete_network", "current_descriptor": "A"}
    agent.update(obs, 0, 0.0, obs, False, False, failed)
    assert "delete_network" in agent.excluded
    agent.predict(obs)
    assert agent.last_class != "mender"
    # a new episode forgets the best: 70 is the new baseline
    agent.reset()
    assert TABLE.label(agent.predict(obs)[0]) == "delete_network@net1"
    with pytest.raises(ValueError, match="mend"):
        make_agent("rules", _FakeVALPEnv(), mend=1.0)


def test_mend_keeps_each_env_of_a_batch_apart_and_restarts_where_an_episode_starts() -> None:
    rel = [[3.0, 1.0, 1.5], [1.0, 1.1, 1.0], [1.0, 1.0, 4.0]]
    one = _obs(_situation(rel, [0.0, 0.0, 0.0]), gain=(0.05,) * 3, t=(-8.0,) * 3)
    low, high = (np.array([0.2, 1e-3, x], dtype=np.float32) for x in (30.0, 70.0))

    def batch(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
        return {k: np.stack([v, v]) for k, v in one.items()} | {"objectives": np.stack([a, b])}

    agent = make_agent("rules", _FakeVALPEnv(), seed=0, mend=2.0)

    def labels(obs: dict, start: np.ndarray | None = None) -> list[str]:
        return [TABLE.label(a) for a in agent.predict(obs, episode_start=start)[0]]

    assert labels(batch(low, high)) == ["delete_network@net1"] * 2  # each its own best
    assert labels(batch(high, high)) == ["delete_network@net2", "delete_network@net1"]
    # env 0's episode restarts: 70 is its new best, it is no longer broken
    assert labels(batch(high, high), np.array([True, False]))[0] == "delete_network@net1"


def test_thresholds_load_by_name_and_from_a_calibrated_file(tmp_path) -> None:
    from nasgym.diagnostics.calibrate import calibrate_thresholds, write_thresholds

    paper = make_agent("rules", _FakeVALPEnv(), thresholds="paper")
    assert paper.slopes == "absolute"
    assert (paper.thresholds.stuck, paper.thresholds.steep) == (-1e-10, -2e-5)
    rng = np.random.default_rng(0)
    gains = {
        o: list(rng.uniform(0.0, s, 200)) for o, s in zip(OUTPUTS, (0.1, 0.01, 0.05), strict=True)
    }
    path = write_thresholds(calibrate_thresholds(gains), tmp_path / "t.json")
    agent = make_agent("rules", _FakeVALPEnv(), thresholds=str(path))
    assert agent.slopes == "trend"
    stuck = np.asarray(agent.thresholds.stuck)
    assert stuck.shape == (3,) and stuck[0] < stuck[1]  # class gains are 10x larger
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        make_agent("rules", _FakeVALPEnv(), thresholds=str(tmp_path / "bad.json"))


def _trend_records(gains: dict[str, np.ndarray], t: float) -> list[dict]:
    """Bench step records as the store keeps them (flat ``info`` keys)."""
    n = len(next(iter(gains.values())))
    return [
        {"type": "step", "env": "nasgym/VALP-v0", "env_kwargs": {}, "agent": "random",
         "agent_kwargs": {}, "seed": 0, "step": k + 1,
         "info": {**{f"loss_gain.{o}": float(g[k]) for o, g in gains.items()},
                  **{f"loss_gain_t.{o}": t for o in gains}}}
        for k in range(n)
    ]  # fmt: skip


def test_regime_shares_read_about_a_fifth_stuck_and_steep_where_calibrated_and_not_elsewhere(
    tmp_path, capsys
) -> None:
    """``nasgym calibrate --check``: thresholds read the runs they were calibrated on as about
    20 / 60 / 20 % stuck / moderate / steep; gains ten times smaller (another data set) read
    stuck almost always, unless the fall is significant (t <= -2), which is never stuck."""
    from agents.rules import regime_shares
    from nasgym.cli import main
    from nasgym.diagnostics.calibrate import (
        calibrate_thresholds,
        gains_from_records,
        write_thresholds,
    )

    rng = np.random.default_rng(1)
    gains = {o: rng.uniform(0.0, s, 500) for o, s in zip(OUTPUTS, (0.1, 0.01, 0.05), strict=True)}
    here = _trend_records(gains, t=-1.0)
    path = write_thresholds(calibrate_thresholds(gains_from_records(here)), tmp_path / "t.json")
    shares = regime_shares(here, str(path))
    for o in OUTPUTS:
        assert shares[o]["n"] == 500
        assert shares[o]["stuck"] == pytest.approx(0.2, abs=0.01)
        assert shares[o]["steep"] == pytest.approx(0.2, abs=0.01)
    smaller = {o: g / 10 for o, g in gains.items()}
    assert all(
        s["stuck"] > 0.9 for s in regime_shares(_trend_records(smaller, -1.0), path).values()
    )
    assert all(s["stuck"] == 0 for s in regime_shares(_trend_records(smaller, -3.0), path).values())
    with pytest.raises(ValueError, match="absolute slopes, not trends"):
        regime_shares(here, "paper")
    with pytest.raises(ValueError, match="no step records"):
        regime_shares([{"type": "step", "info": {}}], str(path))
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in here))
    assert main(["calibrate", str(run), "--check", str(path)]) == 0
    assert not (run / "thresholds.json").exists()  # --check writes nothing
    assert main(["calibrate", str(run), "--check", str(tmp_path / "none.json")]) == 2
    capsys.readouterr()
    assert main(["calibrate", str(run), "--agent", "rulez"]) == 2  # names the agents there
    err = capsys.readouterr().err
    assert "no step records of agent 'rulez'" in err and err.rstrip().endswith("its agents: random")
    # an archived folder (results.jsonl.gz alone) calibrates to the same thresholds
    archived = tmp_path / "archived"
    archived.mkdir()
    (archived / "results.jsonl.gz").write_bytes(gzip.compress((run / "results.jsonl").read_bytes()))
    for folder, out in ((run, "a.json"), (archived, "b.json")):
        assert (
            main(["calibrate", str(folder), "--agent", "random", "--out", str(tmp_path / out)]) == 0
        )
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert b["source"].endswith("results.jsonl.gz") and a["outputs"] == b["outputs"]


def test_rules_with_mend_run_through_bench_and_replay(tmp_path) -> None:
    kwargs = {"dataset": "digits", "initial_batches": 5, "step_batches": 3, "max_steps": 4}
    assert_benches_and_replays(
        tmp_path, "nasgym/VALP-Paper-v0", "rules", kwargs, 4, agent_kwargs={"mend": 2.0}
    )

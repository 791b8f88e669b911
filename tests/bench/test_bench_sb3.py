"""A saved Stable-Baselines3 model benches like any agent: ``sb3:ALGO:PATH``."""

from __future__ import annotations

import pytest

from nasgym.bench import BenchEntry, BenchError, read_records, run_bench

NB201 = "nasgym/NB201-v0"


def test_saved_ppo_model_runs_reproducibly(tmp_path):
    import gymnasium as gym
    from stable_baselines3 import PPO

    import nasgym  # noqa: F401

    model = PPO("MlpPolicy", gym.make(NB201), n_steps=16, batch_size=16, n_epochs=1, seed=0)
    model.learn(16)
    model.save(tmp_path / "ppo_nb201")
    agent = f"sb3:ppo:{tmp_path / 'ppo_nb201.zip'}"
    entry = BenchEntry(NB201, (agent,), (0, 1), {}, 6)
    for out in ("a", "b"):
        report = run_bench([entry], tmp_path / out, progress=False, plots=False, quiet=True)
        assert report.completed == 2 and not report.failed
    a, b = (read_records(tmp_path / o / "results.jsonl") for o in ("a", "b"))
    strip = [{k: v for k, v in r.items() if k != "wall_s"} for r in a]
    assert strip == [{k: v for k, v in r.items() if k != "wall_s"} for r in b]
    steps = [r for r in a if r["type"] == "step"]
    assert len(steps) == 12 and steps[0]["agent"] == agent and len(steps[0]["action"]) == 6


@pytest.mark.parametrize(
    ("agent", "message"),
    [("sb3:ppo:/no/such/model.zip", "no saved model"), ("sb3:xyz:m.zip", "unknown SB3 algorithm")],
)
def test_bad_sb3_agents_are_rejected_up_front(tmp_path, agent, message):
    with pytest.raises(BenchError, match=message):
        run_bench([BenchEntry(NB201, (agent,), (0,), {}, 3)], tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()

"""The FRR-MAB ``bandit`` agent: credit assignment, selection, and a run through ``nasgym bench``."""

from __future__ import annotations

import numpy as np
import pytest
from bench_replay import assert_benches_and_replays

from agents.bandit import FRRMAB

TINY = {"initial_batches": 5, "step_batches": 3, "max_steps": 3}


def test_untried_arms_come_first_then_the_best_rate():
    bandit, rng = FRRMAB(3, window=10, scaling=0.0), np.random.default_rng(0)
    allowed = np.ones(3, dtype=bool)
    tried = set()
    for _ in range(3):
        arm = bandit.select(allowed, rng)
        assert arm not in tried
        tried.add(arm)
        bandit.credit(arm, {0: 0.0, 1: 0.5, 2: -1.0}[arm])  # negative credit counts as 0
    assert bandit.select(allowed, rng) == 1
    assert bandit.select(np.array([True, False, True]), rng) in (0, 2)  # only allowed arms
    np.testing.assert_allclose(bandit.frr(), [0.0, 1.0, 0.0])


def test_window_forgets_old_credit():
    bandit, rng = FRRMAB(2, window=4, scaling=0.0), np.random.default_rng(0)
    for arm, credit in [(0, 1.0), (1, 0.1), (1, 0.1), (1, 0.1), (1, 0.1)]:
        bandit.credit(arm, credit)
    # arm 0's improvement left the window: it is untried again, so it is explored first
    assert bandit.select(np.ones(2, dtype=bool), rng) == 0


def test_rejects_bad_parameters():
    with pytest.raises(ValueError, match="decay"):
        FRRMAB(3, decay=0.0)


@pytest.mark.slow
def test_bandit_runs_through_bench_and_replays(tmp_path):
    assert_benches_and_replays(tmp_path, "nasgym/VALP-v0", "bandit", TINY, 3)

"""``benchmarks/broken_outputs.py``: how often a run holds a broken output, from bench records."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_scripts import load

broken_outputs = load("broken_outputs")
RECORDS = Path(__file__).resolve().parents[2] / "docs" / "heldout" / "records"


def test_the_rules_hold_a_broken_sampler_more_often_than_random_at_the_papers_budget(capsys):
    """README, *Mending a broken output*: the 60-step runs of seeds 160-179 at 5,000 / 1,000."""
    out = broken_outputs.main([str(RECORDS / "heldout-5000"), "--output", "sample"])
    rules = 'rules(thresholds="runs/calib-mnist-5000/thresholds.json")'
    assert set(out["agents"]) == {"random", rules}
    random, ruled = out["agents"]["random"], out["agents"][rules]
    assert (random["runs"], random["ends_broken"], ruled["ends_broken"]) == (20, 3, 9)
    assert random["share_broken"] == pytest.approx(0.0425)
    assert ruled["share_broken"] == pytest.approx(0.1908, abs=1e-4)
    assert round(ruled["share_broken_vs_against"]["p"], 4) == 0.0044
    # the paper's reducer deletes networks at a broken sampler, but not ones that mend it
    assert (ruled["mending_moves"], ruled["mending_accepted"]) == (26, 11)
    assert abs(ruled["median_mend"]) < 0.05
    # the rules break it twice as often, mostly by the paper's gentle add_connection
    assert (random["breaks"], ruled["breaks"]) == (18, 36)
    assert ruled["breaks_by_operator"]["add_connection:gentle"] == 21
    assert round(ruled["break_rate_by_operator"]["add_connection:gentle"], 3) == 0.044
    assert round(ruled["break_rate_by_operator"]["delete_connection"], 3) == round(7 / 84, 3)
    assert "steps broken vs random" in capsys.readouterr().out


def test_a_stricter_factor_counts_fewer_and_bad_arguments_are_named():
    looser = broken_outputs.main([str(RECORDS / "heldout-5000"), "--factor", "1.5"])
    stricter = broken_outputs.main([str(RECORDS / "heldout-5000"), "--factor", "4"])
    for lab, row in stricter["agents"].items():
        assert row["share_broken"] <= looser["agents"][lab]["share_broken"]
    with pytest.raises(SystemExit, match="no output 'fid'"):
        broken_outputs.main([str(RECORDS / "heldout-5000"), "--output", "fid"])
    with pytest.raises(SystemExit, match="factor must be > 1"):
        broken_outputs.main([str(RECORDS / "heldout-5000"), "--factor", "1"])


def test_breaks_are_rare_at_250_50():
    """README: at the metamodel's training budget a break is rare, so its data hold few."""
    out = broken_outputs.main([str(RECORDS / "heldout-exclude")])
    assert out["agents"]["random"]["break_rate"] < 0.005
    mnist = broken_outputs.main([str(RECORDS / "break-mnist-1000")])["agents"]["random"]
    assert (mnist["runs"], mnist["breaks"], round(mnist["break_rate"] * 236)) == (4, 1, 1)
    kept = broken_outputs.main([str(RECORDS / "break-mnist-1000-always")])["agents"]["random"]
    assert (kept["breaks"], round(kept["break_rate"] * 116)) == (1, 1)  # rare even kept always


def test_the_mender_deletes_often_and_is_seldom_accepted():
    """README, *Mending a broken output*: the secondaries of the pre-registered ``mend=2`` test,
    from its records (the rules with and without the mender, paired by seed)."""
    rules = 'rules(thresholds="runs/calib-mnist-5000/thresholds.json")'
    mend = 'rules(mend=2.0, thresholds="runs/calib-mnist-5000/thresholds.json")'
    out = broken_outputs.main([str(RECORDS / "mend-5000"), "--against", rules])
    row = out["agents"][mend]
    assert (row["runs"], row["ends_broken"], out["agents"][rules]["ends_broken"]) == (20, 7, 9)
    assert (row["mending_moves"], row["mending_accepted"]) == (76, 17)
    assert round(row["share_broken"], 3) == 0.155
    assert round(row["share_broken_vs_against"]["p"], 2) == 0.78  # no fewer broken steps

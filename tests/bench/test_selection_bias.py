"""``benchmarks/selection_bias.py`` on committed records: the README's figures recompute."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_scripts import load

from nasgym.stats import paired_power, seeds_for_power

selection_bias = load("selection_bias")
RECORDS = Path(__file__).resolve().parents[2] / "docs" / "heldout" / "records"


def test_the_exclude_failed_test_and_its_power_recompute_from_the_committed_records(capsys):
    """The pre-registered ``exclude_failed`` test (README, *Skipping a just-rejected move*):
    its primary from the archived records, and the power line that plans the next test: the
    spread of the paired differences against random, the power of 20 seeds for a 5 % lead
    and the seeds 80 % power needs, consistent with :mod:`nasgym.stats`."""
    folder = str(RECORDS / "heldout-exclude")
    out = selection_bias.main(
        [folder, "--against", "metamodel", "--agents", "metamodel(exclude_failed=true)",
         "--at", "60", "--alternative", "greater"]
    )  # fmt: skip
    test = out["tests"]["metamodel(exclude_failed=true)"]["test hypervolume"]
    assert (round(test["mean"], 3), round(test["against_mean"], 3)) == (0.363, 0.351)
    assert test["p"] == pytest.approx(0.024, abs=5e-4) and test["n"] == 20
    capsys.readouterr()
    out = selection_bias.main([folder, "--against", "random", "--at", "5,60", "--alternative",
                               "greater", "--agents", "metamodel(exclude_failed=true)"])  # fmt: skip
    power = out["tests"]["metamodel(exclude_failed=true)"]["power"]
    assert power["alternative"] == "greater"
    assert power["lead"] == pytest.approx(0.05 * 0.411, abs=5e-4)
    assert power["diff_sd"] == pytest.approx(0.091, abs=5e-4)
    assert power["power"] == pytest.approx(paired_power(power["diff_sd"], power["lead"], 20))
    assert power["seeds_80"] == seeds_for_power(power["diff_sd"], power["lead"]) == 130
    printed = capsys.readouterr().out
    assert "with power 0.25 on these 20 seeds, with 80 % power on 130 seeds" in printed
    # the shared seed predicts the pair early on, and nothing by the last step
    corr = power["pair_corr"]
    assert corr["test hypervolume@5"] == pytest.approx(0.97, abs=0.005)
    assert corr["test hypervolume@60"] == corr["test hypervolume"] == pytest.approx(-0.15, abs=5e-3)
    assert "step 5 +0.97, step 60 -0.15, last step -0.15" in printed

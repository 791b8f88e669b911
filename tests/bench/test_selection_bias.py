"""``benchmarks/selection_bias.py`` on committed records: the README's figures recompute."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_scripts import load

from nasgym.stats import paired_power, seeds_for_power

selection_bias = load("selection_bias")
RECORDS = Path(__file__).resolve().parents[2] / "docs" / "heldout" / "records"


def pooled_counts(folder: str, steps: list[int]) -> dict[str, list[int]]:
    """Fig. 9's pooled front counts of a records folder's complete runs, by agent label."""
    from nasgym.bench import compare
    from nasgym.bench.results import group_runs, load_runs, objective_bounds

    runs = [r for r in load_runs(folder) if r.complete]
    (by_agent,) = group_runs(runs).values()
    names, _ = objective_bounds(runs)
    return compare.pooled_counts_by_step(by_agent, names, steps)


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


def test_the_common_noise_test_recomputes_from_the_committed_records(capsys):
    """The pre-registered ``common_noise`` test (README, *Common random numbers do not bring the
    pairing back*): its primary, the pair's spread without and with the option and the
    one-sided Pitman-Morgan test, from the archived records of its 80 runs; and the metamodel
    behind random on MNIST, through the sampler."""
    env_option_effect = load("env_option_effect")
    off, on = str(RECORDS / "crn-mnist-off"), str(RECORDS / "crn-mnist-on")
    out = env_option_effect.main([off, on, "--agents", "random,metamodel", "--suffix", "+crn"])
    pairing = out["pairing"]["random vs metamodel"]
    assert pairing["n"] == 20
    assert (round(pairing["sd_b"], 3), round(pairing["sd_a"], 3)) == (0.033, 0.060)
    assert pairing["p"] == pytest.approx(0.99, abs=5e-3)
    assert pairing["pair_corr"] == pytest.approx({"": 0.87, "+crn": 0.62}, abs=5e-3)
    capsys.readouterr()
    out = selection_bias.main([off, "--against", "random", "--agents", "metamodel"])
    tests = out["tests"]["metamodel"]
    assert round(tests["test hypervolume"]["mean"], 3) == 0.686
    assert round(tests["test hypervolume"]["against_mean"], 3) == 0.713
    assert tests["test hypervolume"]["p"] == pytest.approx(0.00085, abs=5e-5)
    sample = tests["chosen test sample"]
    assert (round(sample["mean"]), round(sample["against_mean"])) == (54, 24)
    assert sample["p"] == pytest.approx(0.0056, abs=5e-4)


def test_the_metamodel_trails_random_on_mnist_on_each_part_of_the_box():
    """README, *On MNIST too the metamodel is behind random*: the test hypervolume of every
    candidate on class and histogram error alone, and on the sampler's distance alone."""
    import numpy as np
    from scipy import stats

    from nasgym.bench.results import load_runs
    from nasgym.indicators import hypervolume

    box = [(0.0, 0.25), (0.0, 0.0005), (0.0, 700.0)]
    hv: dict[tuple[str, str], dict[int, float]] = {}
    for run in load_runs(RECORDS / "crn-mnist-off"):
        pts = run.test_points(["class", "hist", "sample"])
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        for part, cols in (("class+hist", [0, 1]), ("sample", [2])):
            value = hypervolume(pts[:, cols], [box[c] for c in cols])
            hv.setdefault((run.agent, part), {})[run.seed] = value
    for part, means, p in (
        ("class+hist", (0.728, 0.741), 0.027),
        ("sample", (0.947, 0.967), 0.030),
    ):
        seeds = sorted(hv[("random", part)])
        meta = np.array([hv[("metamodel", part)][s] for s in seeds])
        rand = np.array([hv[("random", part)][s] for s in seeds])
        assert (round(meta.mean(), 3), round(rand.mean(), 3)) == means
        assert stats.wilcoxon(meta, rand).pvalue == pytest.approx(p, abs=5e-4)


def test_the_changed_acceptance_test_recomputes_from_the_committed_records(capsys):
    """The pre-registered ``acceptance="changed"`` test (README, *Keeping the edits that help one
    output*): its second primary and the secondaries quoted, from the archived records; and the
    sampler subgraphs the metamodel grows early."""
    folder = str(RECORDS / "changed-mnist")
    out = selection_bias.main([folder, "--against", "random", "--agents", "metamodel",
                               "--at", "5,15,30"])  # fmt: skip
    tests = out["tests"]["metamodel"]
    hv = tests["test hypervolume"]
    assert (round(hv["mean"], 3), round(hv["against_mean"], 3), hv["n"]) == (0.663, 0.707, 20)
    assert hv["p"] == pytest.approx(0.0073, abs=5e-5) and hv["effect"] == pytest.approx(
        -0.67, abs=5e-3
    )
    assert tests["test hypervolume@5"]["ratio"] == pytest.approx(1.169, abs=5e-4)
    assert tests["test hypervolume@30"]["p"] == pytest.approx(0.0017, abs=5e-5)
    sample = tests["chosen test sample"]
    assert (round(sample["mean"], 1), round(sample["against_mean"], 1)) == (72.9, 30.0)
    accepted = tests["acceptance"]
    assert (round(accepted["mean"], 2), round(accepted["against_mean"], 2)) == (0.36, 0.25)
    capsys.readouterr()
    ties = load("acceptance_ties").main([folder])
    assert (round(ties["all"]["accepted"], 2), round(ties["all"]["paper"], 2)) == (0.30, 0.16)
    assert ties["all"]["accepted"] == ties["all"]["changed"]  # the runs' own rule, recomputed
    capsys.readouterr()
    growth = load("subgraph_growth").main([folder, "--at", "10"])["agents"]
    assert growth["metamodel"]["sizes"][10]["sample"] == pytest.approx(4.25)
    assert growth["random"]["sizes"][10]["sample"] == pytest.approx(2.40)
    assert growth["metamodel"]["sizes"][10]["networks"] == pytest.approx(7.25)
    early = growth["metamodel"]["early_vs_end"]["sample"]
    assert early["rho"] == pytest.approx(0.59, abs=5e-3) and early["p"] == pytest.approx(
        0.0065, abs=5e-4
    )
    assert growth["random"]["early_vs_end"]["sample"]["p"] > 0.05


def test_the_rules_at_the_papers_budget_recompute_from_the_committed_records(capsys):
    """The pre-registered rules-vs-random test at 5,000 / 1,000 batches (README, *At the paper's
    budget*): its primary, the secondaries quoted and the pooled Fig. 9 counts."""
    folder = RECORDS / "heldout-5000"
    args = [str(folder), "--against", "random", "--agents", "rules", "--at", "30,60"]
    out = selection_bias.main([*args, "--alternative", "greater"])
    tests = next(iter(out["tests"].values()))  # the rules, labelled with their thresholds
    hv = tests["test hypervolume@60"]
    assert (round(hv["mean"], 3), round(hv["against_mean"], 3), hv["n"]) == (0.557, 0.533, 20)
    assert hv["p"] == pytest.approx(0.249, abs=5e-4) and hv["median_diff"] < 0
    assert tests["test hypervolume@30"]["p"] == pytest.approx(0.205, abs=5e-4)
    assert tests["validation hypervolume"]["p"] == pytest.approx(0.249, abs=5e-4)
    sample = tests["chosen test sample"]
    assert (round(sample["mean"], 1), round(sample["against_mean"], 1)) == (66.1, 29.2)
    assert sample["p"] == pytest.approx(0.015, abs=5e-4)
    assert tests["power"]["seeds_80"] == 63
    capsys.readouterr()
    counts = pooled_counts(folder, [30, 60])
    assert counts == {
        "random": [17, 22],
        'rules(thresholds="runs/calib-mnist-5000/thresholds.json")': [24, 37],
    }


def test_the_mend_test_recomputes_from_the_committed_records(capsys):
    """The pre-registered test of the rules' ``mend=2`` at 5,000 / 1,000 (README, *Mending a
    broken output*): both primaries, with the labels as the pre-registration names them (two
    kwargs, one comma inside the label), Holm over the two, and the pooled Fig. 9 counts."""
    from nasgym.stats import holm

    folder = str(RECORDS / "mend-5000")
    mend = 'rules(mend=2.0, thresholds="runs/calib-mnist-5000/thresholds.json")'
    rules = 'rules(thresholds="runs/calib-mnist-5000/thresholds.json")'
    ps = []
    for against, figures in [(rules, (0.553, 0.557, 0.83)), ("random", (0.553, 0.533, 0.34))]:
        out = selection_bias.main(
            [folder, "--against", against, "--agents", mend, "--at", "20,30,40,60",
             "--alternative", "greater"]
        )  # fmt: skip
        hv = out["tests"][mend]["test hypervolume@60"]
        assert hv["n"] == 20
        assert (round(hv["mean"], 3), round(hv["against_mean"], 3)) == figures[:2]
        assert round(hv["p"], 2) == figures[2]
        ps.append(hv["p"])
    assert [round(p, 2) for p in holm(ps)] == [0.83, 0.67]  # neither met
    sample = out["tests"][mend]["chosen test sample"]  # against random, two-sided
    assert round(sample["mean"], 1) == 55.5 and round(sample["p"], 3) == 0.019
    capsys.readouterr()
    assert pooled_counts(folder, [60]) == {"random": [17], rules: [34], mend: [25]}


def test_the_metamodel_test_at_the_paper_budget_recomputes_from_the_committed_records(capsys):
    """The pre-registered 60-step test of the shipped metamodel at 5,000 / 1,000 (README, *The
    shipped metamodel over 60 steps at the paper's budget*): both primaries, Holm over the two,
    the held histogram it gains, and the pooled Fig. 9 counts."""
    from nasgym.stats import holm

    folder = str(RECORDS / "metamodel-5000")
    rules = 'rules(thresholds="runs/calib-mnist-5000/thresholds.json")'
    ps = []
    for against, figures in [("random", (0.543, 0.533, 0.25)), (rules, (0.543, 0.557, 0.90))]:
        out = selection_bias.main(
            [folder, "--against", against, "--agents", "metamodel", "--at", "20,30,40,60",
             "--alternative", "greater"]
        )  # fmt: skip
        hv = out["tests"]["metamodel"]["test hypervolume@60"]
        assert hv["n"] == 20
        assert (round(hv["mean"], 3), round(hv["against_mean"], 3)) == figures[:2]
        assert round(hv["p"], 2) == figures[2]
        ps.append(hv["p"])
        hist = out["tests"]["metamodel"]["chosen test hist"]  # two-sided, lower is better
        assert hist["median_diff"] < 0 and hist["p"] < 0.05
    assert [round(p, 2) for p in holm(ps)] == [0.50, 0.90]  # neither met
    capsys.readouterr()
    counts = pooled_counts(folder, [15, 60])
    assert counts == {"random": [8, 14], rules: [15, 25], "metamodel": [8, 17]}


def test_the_pooled_front_is_tested_per_seed(capsys):
    """README, *At the paper's budget*: Fig. 9's pooled count, 37 points to 22 at step 60, comes
    from a few seeds' runs; split by seed and paired it is no lead (after the fact)."""
    folder = str(RECORDS / "heldout-5000")
    out = selection_bias.main(
        [folder, "--against", "random", "--agents", "rules", "--at", "30,60",
         "--alternative", "greater"]
    )  # fmt: skip
    capsys.readouterr()
    (label,) = out["tests"]
    means = out["means"]
    # 20 seeds: the per-run means times 20 are the pooled counts of the bench summary
    assert round(means[label]["pooled front points@60"] * 20) == 37
    assert round(means["random"]["pooled front points@60"] * 20) == 22
    assert round(means[label]["pooled front points@30"] * 20) == 24
    test = out["tests"][label]["pooled front points@60"]
    assert (test["alternative"], round(test["p"], 2), test["median_diff"]) == ("greater", 0.16, 0)

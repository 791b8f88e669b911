"""``benchmarks/broken_sampler.py``: it rebuilds the stored states exactly, deletes every deletable
network on paired copies, and refuses a file its rebuild does not reproduce."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from benchmark_scripts import load

choice_vs_luck = load("choice_vs_luck")
broken_sampler = load("broken_sampler")
KWARGS = json.dumps({"initial_batches": 5, "step_batches": 2, "test_samples": 200})


def test_every_deletable_network_is_deleted_and_a_foreign_file_is_refused(tmp_path, capsys):
    raw = tmp_path / "raw.json"
    choice_vs_luck.main(["--env", "nasgym/VALP-v0", "--env-kwargs", KWARGS, "--states", "0-1",
                         "--episode-steps", "2", "--tries", "2", "--measure", "log",
                         "--raw", str(raw)])  # fmt: skip
    out = broken_sampler.main(["--from", str(raw), "--where", "sample>0"])
    assert [st["seed"] for st in out["states"]] == [0, 1]
    for st in out["states"]:
        labels = [r["label"] for r in st["deletions"]]
        assert labels and all(lab.startswith("delete_network@") for lab in labels)
        assert len(set(labels)) == len(labels)
        for r in st["deletions"]:
            assert isinstance(r["accepted"], bool)
            assert r["mend"] == pytest.approx(
                math.log(st["current_test"]["sample"] / r["after_test"]["sample"])
            )
    assert "within-state Spearman" in capsys.readouterr().out
    stored = json.loads(raw.read_text())
    stored["states"][0]["current"][0]["sample"] *= 1.5  # not what this code measures
    raw.write_text(json.dumps(stored))
    with pytest.raises(SystemExit, match="differs from the stored"):
        broken_sampler.main(["--from", str(raw), "--where", "sample>0"])


def test_the_broken_sampler_figures_recompute_from_the_stored_deletions():
    """README, *What mends a broken sampler*: from the committed output of the 11 states."""
    path = Path(__file__).resolve().parents[2] / "docs" / "heldout" / "broken_sampler_5000.json"
    stored = json.loads(path.read_text())
    assert [st["seed"] for st in stored["states"]] == [724, 728, 729, 731, 733, 735, 738, 739,
                                                       744, 745, 768]  # fmt: skip
    got = broken_sampler.summarise(stored["states"])
    assert (got["compared"], got["halved"]) == (11, 10)
    assert (got["best_is_highest_relevance"], got["best_is_lowest_relevance"]) == (6, 2)
    assert got["spearman"] == pytest.approx(stored["spearman"])
    assert round(got["spearman"]["rho"], 2) == 0.56 and got["spearman"]["n"] == 47
    lead = got["most_relevant_lead"]
    assert round(lead["mean"], 2) == 0.63 and round(lead["p"], 3) == 0.016 and lead["n"] == 11


def test_the_preregistered_test_on_new_states_recomputes_from_its_raw_file():
    """README and docs/heldout/prereg_broken_sampler.md: the 100 new states 772-871, kept as
    ``--raw`` wrote them; 10 screened in, the primary not met (p = 0.065)."""
    path = Path(__file__).resolve().parents[2] / "docs" / "heldout" / "broken_sampler_772.json"
    raw = json.loads(path.read_text())
    assert sorted(st["seed"] for st in raw["states"]) == list(range(772, 872))
    shown = broken_sampler.with_mends(raw["states"], "sample")
    assert [st["seed"] for st in shown] == [776, 790, 794, 817, 822, 847, 849, 851, 857, 871]
    assert all(st["current"]["sample"] > 100 for st in shown)
    got = broken_sampler.summarise(shown)
    assert (got["compared"], got["halved"]) == (10, 8)
    assert (got["best_is_highest_relevance"], got["best_is_lowest_relevance"]) == (5, 0)
    assert round(got["spearman"]["rho"], 2) == 0.71 and got["spearman"]["n"] == 45
    assert got["spearman"]["p"] < 1e-7
    lead = got["most_relevant_lead"]
    assert round(lead["mean"], 3) == 0.447 and round(lead["p"], 3) == 0.065 and lead["n"] == 10


def test_new_states_are_screened_by_where_and_a_rerun_measures_only_the_rest(tmp_path, capsys):
    raw = tmp_path / "raw.json"
    base = ["--states", "0-1", "--env", "nasgym/VALP-v0", "--env-kwargs", KWARGS,
            "--episode-steps", "1", "--raw", str(raw)]  # fmt: skip
    out = broken_sampler.main([*base, "--where", "sample>0"])
    assert [st["seed"] for st in out["states"]] == [0, 1]  # every state meets it
    capsys.readouterr()
    again = broken_sampler.main([*base, "--where", "sample>0"])
    assert f"{raw}: 2 of 2 states stored" in capsys.readouterr().out
    assert again["states"] == out["states"]
    none = broken_sampler.main([*base[:-1], str(tmp_path / "b.json"), "--where", "sample<0"])
    assert none["states"] == [] and none["compared"] == 0  # screened out, nothing deleted
    stored = json.loads((tmp_path / "b.json").read_text())["states"]
    assert [st["deletions"] for st in stored] == [None, None]
    with pytest.raises(SystemExit, match="another setting"):
        broken_sampler.main([*base, "--where", "sample>1"])
    with pytest.raises(SystemExit, match="either --from FILE or --states"):
        broken_sampler.main(["--where", "sample>0"])

"""``benchmarks/delayed_effect.py`` on records of a tiny study with a horizon."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from benchmark_scripts import load

from nasgym.characterize import StudyConfig
from nasgym.characterize.study import study_model

delayed = load("delayed_effect")
TINY = {"dataset": "digits", "initial_batches": 20, "step_batches": 5, "per_model": 6}


def test_one_step_and_delayed_improvements_side_by_side(tmp_path, capsys):
    rows = pd.DataFrame([r for s in (0, 1) for r in study_model(StudyConfig(**TINY, horizon=2), s)])
    rows.to_csv(tmp_path / "records.csv", index=False)
    out = delayed.main([str(tmp_path)])
    assert capsys.readouterr().out.splitlines()[-1] == json.dumps(out)
    assert out["horizon"] == 2 and out["rows"] == int((rows["target_type"] == "network").sum())
    nets = rows[rows["target_type"] == "network"]
    for o, got in out["outputs"].items():
        for name, row in got["variants"].items():
            pick = nets[(nets["variant_name"] == name) & nets[f"target.relevance.{o}"].notna()]
            assert row["now"] == pytest.approx(pick[f"improve.{o}"].mean())
            assert row["later"] == pytest.approx(pick[f"improve@2.{o}"].mean())
            assert row["beats_later"] == pytest.approx(np.mean(pick[f"improve@2.{o}"] > 0))
    assert delayed.main([str(tmp_path), "--horizon", "1"])["horizon"] == 1
    with pytest.raises(SystemExit, match="horizons \\[1, 2\\]"):
        delayed.main([str(tmp_path), "--horizon", "3"])
    rows.drop(columns=[c for c in rows if "@" in c]).to_csv(tmp_path / "records.csv", index=False)
    with pytest.raises(SystemExit, match="--horizon H"):
        delayed.main([str(tmp_path)])


def test_the_mnist_pilot_figures_recompute_from_the_committed_records(capsys):
    """The README's first look at the delayed effect (16 MNIST models, horizon 3)."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "docs" / "characterize" / "mnist-h3"
    out = delayed.main([str(folder)])["outputs"]
    spearman = {o: round(v["spearman"], 2) for o, v in out.items()}
    assert spearman == {"class": 0.55, "hist": 0.67, "sample": 0.84}
    drop = out["hist"]["variants"]["delete_network"]
    assert (round(drop["now"], 2), round(drop["later"], 2)) == (-1.16, -0.09)
    assert drop["p"] == pytest.approx(0.002, abs=5e-4)
    insert = out["sample"]["variants"]["insert_network:aggressive"]
    assert (round(insert["now"], 2), round(insert["later"], 2)) == (-0.15, -0.33)
    clone = out["sample"]["variants"]["clone_network:gentle"]
    assert clone["later"] > clone["now"] > 0 and clone["p"] > 0.05


def test_the_delayed_metamodel_figures_recompute_from_the_committed_records(capsys):
    """The README's comparison of a metamodel fitted on improve@3 with the one-step one (64
    MNIST models, both scored on improve@3, picks paired by held-out model)."""
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "characterize"
    compare = load("delayed_metamodel")
    out = compare.main([str(docs / "mnist-h3"), str(docs / "mnist-h3-more")])
    assert capsys.readouterr().out.splitlines()[-1] == json.dumps(out)
    assert (out["models"], out["rows"], out["horizon"]) == (64, 759, 3)
    pick = out["improvement"]
    assert (round(pick["one_step"], 4), round(pick["delayed"], 4)) == (-0.0363, -0.0375)
    assert round(pick["random"], 4) == -0.0966 and pick["p"] == pytest.approx(0.55, abs=0.01)
    upside = out["upside"]
    assert (round(upside["one_step"], 4), round(upside["delayed"], 4)) == (0.0282, 0.0200)
    assert upside["p"] == pytest.approx(0.19, abs=0.01)
    assert all(abs(r) < 0.05 for r in (out["spearman"][k]["sample"] for k in out["spearman"]))


def test_the_delayed_metamodel_comparison_needs_delayed_records(tmp_path):
    rows = pd.DataFrame([r for s in (0, 1) for r in study_model(StudyConfig(**TINY), s)])
    rows.to_csv(tmp_path / "records.csv", index=False)
    with pytest.raises(SystemExit, match="--horizon H"):
        load("delayed_metamodel").main([str(tmp_path)])

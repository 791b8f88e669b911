"""``benchmarks/acceptance_ties.py`` on the committed MNIST records (``credit="control"``)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from benchmark_scripts import load

ties = load("acceptance_ties")
RECORDS = Path(__file__).resolve().parents[2] / "docs/heldout/records/crn-mnist-off"


def test_the_recorded_decisions_are_the_paper_rule_and_changed_keeps_more(capsys):
    out = ties.main([str(RECORDS)])
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == out
    rows = ties.step_rows(str(RECORDS))
    assert len(rows) == 40 * 59  # the first step of each run has no recorded model before it
    assert all(r["accepted"] == r["paper"] for r in rows)
    assert all(r["changed"] or not r["paper"] for r in rows)  # a majority of 3 is one of fewer
    # the figures the VALPEnv docstring quotes
    gentle = out["clone_network:gentle"]
    assert gentle["others_tied"] == pytest.approx(0.30, abs=0.005)
    assert gentle["helped"] == pytest.approx(0.51, abs=0.005)
    assert (round(gentle["paper"], 2), round(gentle["changed"], 2)) == (0.19, 0.47)
    assert (round(out["all"]["paper"], 2), round(out["all"]["changed"], 2)) == (0.19, 0.26)


def test_records_without_a_control_are_refused_by_name(tmp_path):
    lines = gzip.decompress((RECORDS / "results.jsonl.gz").read_bytes()).decode().splitlines()
    step = json.loads(lines[0])
    step["info"] = {k: v for k, v in step["info"].items() if not k.startswith("control_")}
    (tmp_path / "results.jsonl").write_text(json.dumps(step) + "\n")
    with pytest.raises(SystemExit, match="no control objectives"):
        ties.main([str(tmp_path)])

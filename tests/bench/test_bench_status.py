"""``nasgym status DIR``: how far a bench has got, with no objective shown."""

from __future__ import annotations

import json

from nasgym.bench import BenchEntry, run_bench
from nasgym.bench.checkpoint import CHECKPOINT_DIR, Checkpoints
from nasgym.bench.records import run_key
from nasgym.bench.status import folder_status, format_status, seed_ranges, writer_active
from nasgym.bench.store import ResultsStore
from nasgym.cli import main

ENTRY = BenchEntry("nasgym-test/ToyMO-v0", ("random", "toy-cycle"), (0, 1, 2, 4), {}, 6)


def _bench(out):
    run_bench([ENTRY], out, progress=False, plots=False, quiet=True, imports=("nasgym_toys",))


def test_seed_ranges_are_compact():
    assert seed_ranges([]) == ""
    assert seed_ranges([5, 0, 1, 2, 8, 7, 7]) == "0-2, 5, 7-8"
    assert seed_ranges([160]) == "160"


def test_status_counts_complete_and_partial_runs_and_shows_no_objective(
    tmp_path, toys, capsys, monkeypatch
):
    monkeypatch.setenv("NASGYM_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "b"
    _bench(out)
    results = out / "results.jsonl"
    lines = results.read_text().splitlines()
    # cut toy-cycle seed 4 as kill -9 would: its done marker and last two steps lost
    cut = [
        json.loads(x) for x in lines if json.loads(x)["agent"] == "toy-cycle"
        and json.loads(x)["seed"] == 4
    ]  # fmt: skip
    drop = {json.dumps(r) for r in cut if r["type"] == "done" or r["step"] > 4}
    results.write_text("".join(x + "\n" for x in lines if json.dumps(json.loads(x)) not in drop))

    status = folder_status(out)
    rows = status["envs"]["nasgym-test/ToyMO-v0"]
    assert rows["random"]["complete"] == [0, 1, 2, 4] and rows["random"]["partial"] == {}
    assert rows["toy-cycle"]["complete"] == [0, 1, 2]
    assert rows["toy-cycle"]["partial"] == {4: 4}
    assert not status["writing"] and sum(status["code"].values()) == 7
    text = format_status(status)
    assert "random: 4 complete (seeds 0-2, 4)" in text
    assert "toy-cycle: 3 complete (seeds 0-2); 1 partly stored (seed 4: 4 steps)" in text
    # nothing of what the runs found: no objective, reward or info value
    for line in lines:
        rec = json.loads(line)
        for value in (rec.get("objectives") or {}).values():
            assert repr(value) not in text and repr(value) not in json.dumps(status)

    # a checkpoint of the cut run (kept by the bench when it was killed) is named with its step
    ck = Checkpoints(str(out / CHECKPOINT_DIR))
    ck.save(run_key("nasgym-test/ToyMO-v0", {}, "toy-cycle", 4), 3, {}, {"state": 1})
    status = folder_status(out)
    assert status["envs"]["nasgym-test/ToyMO-v0"]["toy-cycle"]["checkpoint"] == {4: 3}
    assert "1 partly stored (seed 4: 4 steps, checkpoint at 3)" in format_status(status)

    assert main(["status", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["envs"] == json.loads(json.dumps(status["envs"]))
    assert main(["status", str(tmp_path / "none")]) == 2
    assert "no bench folder" in capsys.readouterr().err


def test_status_says_when_a_process_is_writing_to_the_folder(tmp_path, toys):
    out = tmp_path / "w"
    _bench(out)
    assert not writer_active(out)
    store = ResultsStore(out)
    store.open()
    try:
        assert writer_active(out) and folder_status(out)["writing"]
        assert "a process is writing to it now" in format_status(folder_status(out))
    finally:
        store.close()
    assert not writer_active(out)


def test_a_blind_bench_writes_and_prints_no_objective_until_plotted(tmp_path, toys, capsys):
    """``nasgym bench --blind``: the runs are stored, no summary or plot is written and no
    objective is printed; ``nasgym plot`` summarises them when the comparison is due."""
    out = tmp_path / "blind"
    argv = ["bench", "--import", "nasgym_toys", "--env", "nasgym-test/ToyMO-v0", "--agent",
            "random,toy-cycle", "--seeds", "2", "--steps", "6", "--out", str(out),
            "--no-progress", "--blind"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "blind: no summary written" in printed
    assert not (out / "summary.md").exists() and not (out / "summary.json").exists()
    assert not (out / "plots").exists()
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert sum(r["type"] == "done" for r in records) == 4
    # no summary table (its means carry "±"), no indicator, no objective value
    assert "±" not in printed and "hypervolume" not in printed
    for rec in records:
        for value in (rec.get("objectives") or {}).values():
            assert repr(value) not in printed
    assert main(["plot", str(out)]) == 0 and (out / "summary.md").exists()

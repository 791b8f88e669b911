"""The results store: durable appends, torn last lines, duplicates, one writer at a time."""

from __future__ import annotations

import gzip
import json

import pytest

from nasgym.bench.records import done_record, record_key, run_key, step_record
from nasgym.bench.results import load_runs
from nasgym.bench.store import ResultsStore, ResultsWarning, read_records, results_file

KEY = run_key("nasgym-test/ToyMO-v0", {"horizon": 5}, "random", 3)


def _step(i: int) -> dict:
    info = {"objectives": {"f1": 0.1 * i, "f2": 1.0}, "cost": float(i), "accepted": True}
    return step_record(KEY, i, i % 8, -1.0, False, False, info)


def _write(store: ResultsStore, recs: list[dict]) -> None:
    store.open()
    for r in recs:
        store.append(r)
    store.close()


def test_records_round_trip(tmp_path):
    recs = [_step(1), _step(2), done_record(KEY, 2, 5, False, {"f1": (0, 1), "f2": (0, 1)}, 0.1)]
    _write(ResultsStore(tmp_path), recs)
    back = read_records(tmp_path / "results.jsonl")
    assert back == [json.loads(json.dumps(r)) for r in recs]
    assert record_key(back[0]) == KEY
    progress = ResultsStore.progress(back)
    assert progress[KEY].steps == {1, 2} and progress[KEY].done


def test_torn_last_line_is_ignored_with_a_warning_and_cut_off(tmp_path):
    store = ResultsStore(tmp_path)
    _write(store, [_step(1), _step(2)])
    full = store.path.read_bytes()
    store.path.write_bytes(full + b'{"type":"step","env":"nasgym-test/To')
    with pytest.warns(ResultsWarning, match="torn last line"):
        assert len(read_records(store.path)) == 2
    assert store.path.read_bytes().endswith(b"To")  # reading alone leaves the file as it is
    store.open()
    assert store.repair.torn and "torn last line" in store.repair.lines()[0]
    store.append(_step(3))
    store.close()
    assert store.path.read_bytes().startswith(full)
    assert [r["step"] for r in read_records(store.path)] == [1, 2, 3]


def test_complete_last_line_without_newline_is_kept(tmp_path):
    store = ResultsStore(tmp_path)
    _write(store, [_step(1), _step(2)])
    store.path.write_bytes(store.path.read_bytes().rstrip(b"\n"))
    store.open()
    store.append(_step(3))
    store.close()
    assert [r["step"] for r in read_records(store.path)] == [1, 2, 3]


def test_duplicates_and_garbage_lines_are_skipped_with_warnings(tmp_path):
    store = ResultsStore(tmp_path)
    _write(store, [_step(1), _step(2)])
    lines = store.path.read_bytes().splitlines(keepends=True)
    store.path.write_bytes(lines[0] + b"not json\n" + lines[1] + lines[0])
    with pytest.warns(ResultsWarning) as caught:
        assert [r["step"] for r in read_records(store.path)] == [1, 2]
    text = " ".join(str(w.message) for w in caught)
    assert "unreadable line 2" in text and "duplicate record on line 4" in text


def test_an_unreadable_step_is_replayed_and_nothing_readable_is_dropped(tmp_path):
    store = ResultsStore(tmp_path)
    spec = {"f1": (0, 1), "f2": (0, 1)}
    other = (*KEY[:4], 7)
    recs = [_step(t) for t in (1, 2, 3)] + [done_record(KEY, 3, 3, False, spec, 0.1)]
    recs += [{**_step(1), "seed": 7}, done_record(other, 1, 1, False, spec, 0.1)]
    _write(store, recs)
    lines = store.path.read_bytes().splitlines(keepends=True)
    lines[1] = b'{"type":"step","env":\x00garbage\n'  # step 2 of seed 3 is unreadable
    store.path.write_bytes(b"".join(lines))
    stored = store.open()
    store.close()
    # the run of seed 3 lost step 2: its done marker is dropped, so a bench replays it
    assert store.repair.replayed == {KEY: [2]} and store.repair.unreadable == [2]
    text = "\n".join(store.repair.lines())
    assert "step(s) 2 missing; it is replayed" in text and "seed 3" in text
    assert [(r["type"], r["seed"], r.get("step")) for r in stored] == [
        ("step", 3, 1), ("step", 3, 3), ("step", 7, 1), ("done", 7, None)
    ]  # fmt: skip
    # the file was rewritten with every readable record; the unreadable bytes are kept aside
    assert read_records(store.path) == stored
    assert b"garbage" in (tmp_path / "results.unreadable").read_bytes()
    assert not (tmp_path / "results.jsonl.tmp").exists()
    progress = ResultsStore.progress(stored)
    assert progress[KEY].steps == {1, 3} and not progress[KEY].done and progress[other].done


def test_a_sound_file_is_left_byte_for_byte_and_no_lock_file_stays(tmp_path):
    store = ResultsStore(tmp_path)
    _write(store, [_step(1), _step(2)])
    data = store.path.read_bytes()
    store.open()
    store.close()
    assert not store.repair and store.path.read_bytes() == data
    assert not (tmp_path / ".lock").exists()


def test_one_writer_at_a_time(tmp_path):
    first = ResultsStore(tmp_path)
    first.open()
    try:
        with pytest.raises(RuntimeError, match="another process is writing"):
            ResultsStore(tmp_path).open()
    finally:
        first.close()
    second = ResultsStore(tmp_path)
    second.open()
    second.close()


def test_non_finite_values_are_stored_as_null(tmp_path):
    rec = _step(1)
    rec["objectives"]["f1"] = float("nan")
    rec["reward"] = float("-inf")
    _write(ResultsStore(tmp_path), [rec])
    back = read_records(tmp_path / "results.jsonl")[0]
    assert back["objectives"]["f1"] is None and back["reward"] is None


def test_an_archived_folder_reads_as_the_plain_one(tmp_path):
    recs = [_step(1), _step(2), done_record(KEY, 2, 5, False, {"f1": (0, 1), "f2": (0, 1)}, 0.1)]
    plain, archived = tmp_path / "plain", tmp_path / "archived"
    _write(ResultsStore(plain), recs)
    archived.mkdir()
    data = (plain / "results.jsonl").read_bytes()
    (archived / "results.jsonl.gz").write_bytes(gzip.compress(data))
    assert results_file(archived) == archived / "results.jsonl.gz"
    assert results_file(plain) == plain / "results.jsonl"
    assert read_records(results_file(archived)) == read_records(plain / "results.jsonl")
    (run,) = load_runs(archived)
    assert run.complete and [s["step"] for s in run.steps] == [1, 2]
    assert load_runs(archived / "results.jsonl.gz")[0].steps == run.steps
    # the plain file wins where both are there: it is the one a resumed bench appends to
    (archived / "results.jsonl").write_bytes(data[: data.index(b"\n") + 1])
    assert len(load_runs(archived)[0].steps) == 1


def test_a_broken_archive_is_an_error_naming_it(tmp_path):
    (tmp_path / "results.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match=r"results.jsonl.gz is not a readable gzip archive"):
        load_runs(tmp_path)

"""Agent kwargs: the two JSON forms, validation before any work, run identity, summary rows."""

from __future__ import annotations

import json

import pytest

from nasgym import cli
from nasgym.bench import BenchEntry, BenchError, load_runs, parse_agent_kwargs, read_records
from nasgym.bench.jobs import validate

TOY = "nasgym-test/ToyMO-v0"


def _cli_bench(out, agents: str, agent_kwargs: str | None, *extra: str) -> int:
    args = ["bench", "--env", TOY, "--agent", agents, "--seeds", "2", "--steps", "6",
            "--env-kwargs", '{"horizon": 50}', "--out", str(out), "--import", "nasgym_toys",
            "--no-progress", "--no-plots", *extra]  # fmt: skip
    if agent_kwargs is not None:
        args += ["--agent-kwargs", agent_kwargs]
    return cli.main(args)


def test_one_object_applies_to_every_agent(toys):
    got = parse_agent_kwargs('{"stride": 5}', ("toy-cycle", "toy-cycle-copy"))
    assert got == {"toy-cycle": {"stride": 5}, "toy-cycle-copy": {"stride": 5}}
    assert parse_agent_kwargs(None, ("random",)) == parse_agent_kwargs("{}", ("random",)) == {}


def test_an_object_keyed_by_agent_names_gives_each_its_own(toys):
    text = '{"toy-cycle": {"stride": 5}, "toy-cycle-copy": {"stride": 1}}'
    got = parse_agent_kwargs(text, ("random", "toy-cycle", "toy-cycle-copy"))
    assert got == {"toy-cycle": {"stride": 5}, "toy-cycle-copy": {"stride": 1}}
    assert "random" not in got


@pytest.mark.parametrize(
    ("text", "agents", "message"),
    [
        ('{"stride": 5', ("toy-cycle",), "--agent-kwargs is not valid JSON"),
        ("[5]", ("toy-cycle",), "--agent-kwargs must be a JSON object, got list"),
        (
            '{"rea": {"population_size": 4}}',
            ("random", "toy-cycle"),
            "gives kwargs for 'rea', which is not in --agent random,toy-cycle",
        ),
        ('{"toy-cycle": {"stride": 5}, "stride": 1}', ("toy-cycle",), "mixes agent keys"),
        ('{"toy-cycel": {"stride": 5}}', ("toy-cycle",), "did you mean 'toy-cycle'"),
    ],
)
def test_malformed_or_ambiguous_agent_kwargs_are_refused(toys, text, agents, message):
    with pytest.raises(BenchError, match=message):
        parse_agent_kwargs(text, agents)


@pytest.mark.parametrize(
    ("agent_kwargs", "message"),
    [
        (
            {"toy-cycle": {"strde": 5}},
            "unexpected keyword argument 'strde'; 'toy-cycle' accepts: stride",
        ),
        ({"toy-cycle": {"stride": 9}}, "stride must be in 1..7, got 9"),
        ({"random": {"stride": 2}}, "'random' accepts: (no kwargs)"),
        ({"rea": {"population_size": 4}}, "agent kwargs given for 'rea'"),
    ],
)
def test_kwargs_an_agent_rejects_fail_validation(toys, agent_kwargs, message):
    entry = BenchEntry(TOY, ("random", "toy-cycle"), (0,), {}, 3, agent_kwargs)
    with pytest.raises(BenchError) as err:
        validate([entry])
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("agent_kwargs", "message"),
    [
        ('{"stride": 5', "--agent-kwargs is not valid JSON"),
        ('{"rea": {"population_size": 4}}', "'rea', which is not in --agent toy-cycle"),
        (
            '{"stride": 0}',
            """cannot build agent 'toy-cycle' on nasgym-test/ToyMO-v0 with --agent-kwargs """
            """{"stride": 0}: stride must be in 1..7""",
        ),
    ],
)
def test_cli_refuses_bad_agent_kwargs_before_any_work(
    tmp_path, capsys, toys, agent_kwargs, message
):
    out = tmp_path / "never"
    assert _cli_bench(out, "toy-cycle", agent_kwargs) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_missing_file_an_agent_needs_is_refused_by_name_before_any_work(tmp_path, capsys):
    """A thresholds file that is not there: a one-line error naming it, no traceback, nothing
    written."""
    missing = str(tmp_path / "nope.json")
    kwargs = {"rules": {"thresholds": missing}}
    entry = BenchEntry("nasgym/VALP-v0", ("rules",), (0,), {}, 1, kwargs)
    with pytest.raises(BenchError, match="cannot build agent 'rules' on nasgym/VALP-v0"):
        validate([entry])
    out = tmp_path / "never"
    args = ["bench", "--env", "nasgym/VALP-v0", "--agent", "rules", "--seeds", "1", "--steps",
            "1", "--out", str(out), "--no-progress", "--agent-kwargs", json.dumps(kwargs)]  # fmt: skip
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert f"thresholds file {missing!r} not found" in err and "Traceback" not in err
    assert not out.exists()


def test_agent_kwargs_are_part_of_the_run_identity(tmp_path, capsys, toys):
    out = tmp_path / "run"
    assert _cli_bench(out, "toy-cycle", None) == 0
    assert _cli_bench(out, "toy-cycle", '{"toy-cycle": {"stride": 1}}') == 0
    capsys.readouterr()
    recs = read_records(out / "results.jsonl")
    # the second bench ran its own runs instead of resuming the first one's
    assert len(recs) == 2 * 2 * (6 + 1)
    by_kwargs = {json.dumps(r["agent_kwargs"]) for r in recs}
    assert by_kwargs == {"{}", '{"stride": 1}'}
    stride1 = [
        r["action"] for r in recs if r["agent_kwargs"] and r["seed"] == 0 and r["type"] == "step"
    ]
    assert [(b - a) % 8 for a, b in zip(stride1, stride1[1:], strict=False)] == [1] * 5
    # resuming with the same kwargs finds its runs complete
    assert _cli_bench(out, "toy-cycle", '{"stride": 1}') == 0
    assert "2 of 2 runs complete" in capsys.readouterr().out
    assert len(read_records(out / "results.jsonl")) == len(recs)
    # the summary has one row per setting, labelled with the kwargs
    summary = json.loads((out / "summary.json").read_text())
    rows = {a["agent"]: a for a in summary["envs"][0]["agents"]}
    assert set(rows) == {"toy-cycle", "toy-cycle(stride=1)"}
    assert rows["toy-cycle(stride=1)"]["agent_kwargs"] == {"stride": 1}
    assert rows["toy-cycle(stride=1)"]["agent_name"] == "toy-cycle"
    assert all(a["runs"] == a["complete"] == 2 for a in rows.values())
    assert "| toy-cycle(stride=1) | 2/2 |" in (out / "summary.md").read_text()
    labels = sorted({r.agent_label for r in load_runs(out)})
    assert labels == ["toy-cycle", "toy-cycle(stride=1)"]


def test_records_without_agent_kwargs_resume_as_runs_without_them(tmp_path, capsys, toys):
    out = tmp_path / "run"
    assert _cli_bench(out, "toy-cycle", None) == 0
    path = out / "results.jsonl"
    old = [json.loads(line) for line in path.read_text().splitlines()]
    for rec in old:  # as written before agent kwargs existed
        del rec["agent_kwargs"]
    path.write_text("".join(json.dumps(r) + "\n" for r in old))
    capsys.readouterr()
    assert _cli_bench(out, "toy-cycle", None) == 0
    assert "2 of 2 runs complete" in capsys.readouterr().out
    assert len(read_records(path)) == len(old)


def test_search_takes_agent_kwargs(capsys, toys):
    args = ["search", "--env", TOY, "--agent", "toy-cycle", "--steps", "4", "--import",
            "nasgym_toys", "--agent-kwargs", '{"stride": 2}']  # fmt: skip
    assert cli.main(args) == 0
    assert "toy-cycle(stride=2) / seed 0: 4 steps" in capsys.readouterr().out
    assert cli.main([*args[:-1], '{"stride": 8}']) == 2
    assert "stride must be in 1..7, got 8" in capsys.readouterr().err

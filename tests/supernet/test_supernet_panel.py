"""The supernet ranking benchmark's panel: spread over the space, reproducible, and its shipped table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from benchmark_scripts import BENCH, load

from nasgym.spaces import get_space

panel_mod = load("supernet_panel")
ranking_mod = load("supernet_ranking")


def _normal_convs(arch) -> int:
    return sum(op not in ("none", "skip_connect") for op in arch.ops[:14])


def test_convs_panel_runs_from_no_convolution_to_only_convolutions():
    space = get_space("tnd")
    cells = panel_mod.panel(20)
    assert len(cells) == 20
    assert all(space.is_valid(a) for a in cells)
    convs = [_normal_convs(a) for a in cells]
    assert convs[0] == 0 and convs[-1] == 14
    assert [a.to_str() for a in panel_mod.panel(20)] == [a.to_str() for a in cells]


def test_unknown_spread_is_refused():
    with pytest.raises(ValueError, match="spread"):
        panel_mod.panel(4, spread="flops")


def test_unknown_recipe_key_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="unknown keys"):
        panel_mod.main(["--recipe", '{"epoch": 3}', "--out", str(tmp_path / "p.csv")])


@pytest.mark.parametrize(
    "name, seeds", [("supernet_panel", [0, 1]), ("supernet_panel_seeds23", [2, 3])]
)
def test_shipped_panels_match_their_headers(name, seeds):
    header, rows = ranking_mod.read_panel(BENCH / "data" / f"{name}.csv")
    assert header["recipe"] == panel_mod.RECIPE
    assert header["spread"] == "convs" and header["seeds"] == seeds
    assert [r["arch"] for r in rows] == [a.to_str() for a in panel_mod.panel(len(rows))]
    for r in rows:
        by_seed = [float(v) for v in r["test_acc_by_seed"].split()]
        assert len(by_seed) == 2
        assert float(r["test_acc"]) == pytest.approx(sum(by_seed) / 2, abs=1e-4)


def test_the_default_ground_truth_averages_four_training_seeds():
    _, rows = ranking_mod.read_panels(ranking_mod.DEFAULT_PANELS)
    assert all(len(r["test_acc_by_seed"].split()) == 4 for r in rows)
    assert ranking_mod.split_half_reliability(rows) > ranking_mod.ground_truth_reliability(rows)


def test_ground_truth_reliability_needs_two_seeds():
    one = [{"test_acc_by_seed": "0.8"}, {"test_acc_by_seed": "0.9"}]
    assert ranking_mod.ground_truth_reliability(one) is None
    same = [{"test_acc_by_seed": f"{a} {a}"} for a in (0.7, 0.8, 0.9)]
    assert ranking_mod.ground_truth_reliability(same) == pytest.approx(1.0)
    reversed_ = [{"test_acc_by_seed": f"{a} {1 - a}"} for a in (0.7, 0.8, 0.9)]
    assert ranking_mod.ground_truth_reliability(reversed_) == pytest.approx(-1.0)


def _entry(arch: str, seed: int, recipe: dict, acc: float) -> str:
    result = {"params": 0.003, "flops": 1.5, "val_acc": acc, "test_acc": acc, "train_time_s": 1.0}
    return json.dumps({"arch": arch, "seed": seed, "recipe": recipe, **result})


def test_journal_skips_a_cut_line_and_another_recipe(tmp_path, capsys):
    recipe = dict(panel_mod.RECIPE)
    journal = tmp_path / "p.csv.partial.jsonl"
    journal.write_text(
        _entry("a", 0, recipe, 0.8) + "\n"
        + _entry("b", 0, {**recipe, "epochs": 9}, 0.7) + "\n"
        + _entry("c", 1, recipe, 0.6)[:40] + "\n"
    )  # fmt: skip
    done = panel_mod.read_journal(journal, recipe)
    assert list(done) == [("a", 0)] and done[("a", 0)]["test_acc"] == 0.8
    out = capsys.readouterr().out
    assert "line 2 has another recipe" in out and "line 3 is not a finished training" in out


def test_a_killed_build_resumes_from_its_journal_without_retraining(tmp_path):
    """Every training of a 2-cell panel is in the journal (as a run killed just before writing
    its CSV leaves it): the rerun writes the CSV from it, trains nothing, removes the journal."""
    recipe = {**panel_mod.RECIPE, "max_train": 64, "eval_images": 32}
    cells = [a.to_str() for a in panel_mod.panel(2, recipe=recipe)]
    out = tmp_path / "p.csv"
    journal = tmp_path / "p.csv.partial.jsonl"
    accs = {(cells[0], 0): 0.5, (cells[0], 1): 0.7, (cells[1], 0): 0.9, (cells[1], 1): 0.8}
    journal.write_text("".join(_entry(a, s, recipe, v) + "\n" for (a, s), v in accs.items()))
    panel_mod.main([
        "--cells", "2", "--seeds", "0,1", "--workers", "1", "--out", str(out),
        "--recipe", json.dumps({"max_train": 64, "eval_images": 32}),
    ])  # fmt: skip
    header, rows = ranking_mod.read_panel(out)
    assert not journal.exists()
    assert header["recipe"] == recipe and header["seeds"] == [0, 1]
    assert [r["arch"] for r in rows] == cells
    assert [r["test_acc_by_seed"] for r in rows] == ["0.5000 0.7000", "0.9000 0.8000"]
    assert float(rows[0]["test_acc"]) == pytest.approx(0.6)
    assert sum(float(r["train_time_s"]) for r in rows) == pytest.approx(4.0)


def test_finetuned_score_trains_the_path_then_restores_the_shared_weights():
    """``--finetune`` scores a cell after a few batches on its own path; the next cell must start
    from the same supernet weights and momentum, or the panel's order would leak into scores."""
    import torch

    from nasgym.supernet.trainer import StageTrainer
    from nasgym.supernet.training import load_image_data

    space = get_space("tnd")
    data = load_image_data("digits", max_train=256)
    allowed = [space.decision_ops(d) for d in range(space.n_decisions)]
    trainer = StageTrainer(
        space, data, allowed, n_cells=3, channels=4, batch_size=32, val_batch_size=64, lr=0.05,
        generator=torch.Generator().manual_seed(0), device=torch.device("cpu"),
    )  # fmt: skip
    trainer.train([tuple(a[0] for a in allowed)] * 3)
    weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    momentum = {
        i: s["momentum_buffer"].clone() for i, s in trainer.optimizer.state_dict()["state"].items()
    }
    ops = panel_mod.panel(20)[-1].ops
    x, y = data.val.x[:64], data.val.y[:64]
    tune = ranking_mod.finetune_batches(data, 3, seed=0)
    assert len(tune) == 3 and tune[0][0].shape[0] == 64
    plain = ranking_mod.score(trainer, ops, x, y)
    trainer.model.eval()
    with torch.no_grad():
        logits = trainer.model(x, ops)
    assert plain[0] == pytest.approx(float((logits.argmax(1) == y).float().mean()))
    assert plain[1] == pytest.approx(float(torch.nn.functional.cross_entropy(logits, y)), rel=1e-5)
    tuned = ranking_mod.finetuned_score(trainer, ops, x, y, tune)
    assert tuned != plain  # the three batches did train the path
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, weights[k]), k
    state = trainer.optimizer.state_dict()["state"]
    assert set(state) == set(momentum)
    assert all(torch.equal(state[i]["momentum_buffer"], m) for i, m in momentum.items())
    assert ranking_mod.finetuned_score(trainer, ops, x, y, tune) == tuned
    assert ranking_mod.finetuned_score(trainer, ops, x, y, []) == plain


def _write_panel(path: Path, recipe: dict, rows: list[tuple[str, str]]) -> Path:
    lines = [f"# {json.dumps({'recipe': recipe})}", "arch,params,test_acc,test_acc_by_seed"]
    for arch, by_seed in rows:
        accs = [float(v) for v in by_seed.split()]
        lines.append(f"{arch},0.01,{sum(accs) / len(accs)},{by_seed}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_panels_of_other_seeds_merge_into_one_ground_truth_and_others_are_refused(tmp_path):
    """``--panel A B`` averages the seeds of both files per cell; a file of other cells or of
    another recipe would silently mix two ground truths, so it is refused, naming the file."""
    recipe = {"epochs": 3}
    a = _write_panel(tmp_path / "a.csv", recipe, [("c1", "0.80 0.82"), ("c2", "0.70 0.74")])
    b = _write_panel(tmp_path / "b.csv", recipe, [("c1", "0.90 0.88"), ("c2", "0.60 0.62")])
    _, rows = ranking_mod.read_panels([a, b])
    assert [r["test_acc_by_seed"] for r in rows] == ["0.80 0.82 0.90 0.88", "0.70 0.74 0.60 0.62"]
    assert [float(r["test_acc"]) for r in rows] == pytest.approx([0.85, 0.665])
    other_cells = _write_panel(tmp_path / "c.csv", recipe, [("c2", "0.7 0.7"), ("c1", "0.8 0.8")])
    with pytest.raises(SystemExit, match="c.csv: other cells"):
        ranking_mod.read_panels([a, other_cells])
    other_recipe = _write_panel(tmp_path / "d.csv", {"epochs": 9}, [("c1", "0.8 0.8")])
    with pytest.raises(SystemExit, match="d.csv: another recipe"):
        ranking_mod.read_panels([a, other_recipe])


def test_split_half_reliability_compares_the_means_of_two_halves_of_the_seeds():
    two = [{"test_acc_by_seed": f"{a} {a}"} for a in (0.7, 0.8, 0.9)]
    assert ranking_mod.split_half_reliability(two) is None
    # seeds 0 and 1 disagree with each other, their mean agrees with the mean of seeds 2 and 3
    rows = [
        {"test_acc_by_seed": "0.70 0.76 0.73 0.73"},
        {"test_acc_by_seed": "0.78 0.70 0.74 0.74"},
        {"test_acc_by_seed": "0.74 0.78 0.76 0.76"},
    ]
    assert ranking_mod.ground_truth_reliability(rows) == pytest.approx(-1 / 3)
    assert ranking_mod.split_half_reliability(rows) == pytest.approx(1.0)


def test_rescore_ranks_stored_supernet_accuracies_against_another_ground_truth(tmp_path, capsys):
    """``--rescore`` recomputes tau from the accuracies a finished run logged, with no training:
    against the panel it ran on it gives the logged tau; against a reversed truth, minus it."""
    from scipy import stats

    recipe = {"epochs": 3}
    truth = [0.70, 0.80, 0.75, 0.90]
    rows = [(f"c{k}", f"{t} {t}") for k, t in enumerate(truth)]
    panel = _write_panel(tmp_path / "p.csv", recipe, rows)
    flipped = _write_panel(
        tmp_path / "q.csv",
        recipe,
        [(a, f"{1 - t} {1 - t}") for (a, _), t in zip(rows, truth, strict=True)],
    )
    acc = [0.5, 0.7, 0.4, 0.6]
    logged = round(float(stats.kendalltau(acc, truth)[0]), 3)
    run = {"cells": 4, "seed": 3, "eval_images": 2000, "sampling": "uniform", "finetune": [0, 20],
           "curve": [{"batches": 600, "finetune": 0, "tau": logged, "acc": acc},
                     {"batches": 600, "finetune": 20, "tau": 1.0, "acc": truth}]}  # fmt: skip
    log = tmp_path / "run.txt"
    log.write_text("header line\n" + json.dumps(run) + "\n")
    out = ranking_mod.main(["--rescore", "--from", str(log), "--panel", str(panel)])
    assert [p["tau"] for p in out["points"]] == [logged, 1.0]
    assert [p["setting"] for p in out["points"]] == [
        "uniform paths",
        "uniform paths, 20 tuning batches",
    ]
    assert [p["tau_loss"] for p in out["points"]] == [None, None]  # a log without losses
    # the panel's cells all have the same params: no tau with them, no partial tau
    assert [(p["tau_params"], p["tau_partial"]) for p in out["points"]] == [(None, None)] * 2
    out = ranking_mod.main(["--rescore", "--from", str(log), "--panel", str(flipped)])
    assert [p["tau"] for p in out["points"]] == [-logged, -1.0]
    assert "mean tau -1.000 over 1 seeds" in capsys.readouterr().out
    capsys.readouterr()
    run["curve"][1]["loss"] = [-t for t in truth]  # the lowest loss on the best cell: tau 1
    log.write_text(json.dumps(run) + "\n")
    out = ranking_mod.main(["--rescore", "--from", str(log), "--panel", str(panel)])
    assert [p["tau_loss"] for p in out["points"]] == [None, 1.0]
    assert "(by loss 1.000 over 1)" in capsys.readouterr().out
    old = tmp_path / "old.txt"
    old.write_text(json.dumps({**run, "curve": [{"batches": 600, "tau": 0.1}]}) + "\n")
    with pytest.raises(SystemExit, match="no per-cell accuracies"):
        ranking_mod.main(["--rescore", "--from", str(old), "--panel", str(panel)])


def test_partial_tau_says_what_the_supernet_knows_beyond_the_parameter_count():
    """Kendall's partial tau given the parameter count, worked by hand on 4 cells: tau(acc,
    truth) = 2/3, tau(acc, params) = 2/3, tau(truth, params) = 1/3, so (2/3 - 2/9) /
    sqrt(5/9 * 8/9) = 4 / sqrt(40); a ranking that is the parameter count's adds nothing
    (undefined, None)."""
    acc, truth, params = [1, 2, 3, 4], [1, 2, 4, 3], [2, 1, 3, 4]
    assert ranking_mod.partial_tau(acc, truth, params) == (
        pytest.approx(0.667, abs=1e-3),
        pytest.approx(4 / np.sqrt(40), abs=1e-3),
    )
    assert ranking_mod.partial_tau(params, truth, params) == (1.0, None)


def test_ensemble_averages_supernets_scores_so_their_shared_ranking_shows(tmp_path, capsys):
    """``--rescore --ensemble 1,2``: two supernets whose noise cancels rank the cells perfectly
    once their scores are averaged, while each alone does not; K beyond the runs is skipped."""
    from scipy import stats

    truth = [0.70, 0.80, 0.75, 0.90]
    panel = _write_panel(tmp_path / "p.csv", {"epochs": 3}, [(f"c{k}", f"{t} {t}") for k, t in enumerate(truth)])  # fmt: skip
    noise = [0.12, -0.12, -0.12, 0.12]
    logs = []
    for seed, sign in ((0, 1), (1, -1)):
        acc = [t + sign * e for t, e in zip(truth, noise, strict=True)]
        run = {"cells": 4, "seed": seed, "eval_images": 2000, "sampling": "uniform",
               "curve": [{"batches": 600, "finetune": 0, "acc": acc, "loss": [-a for a in acc]}]}  # fmt: skip
        logs.append(tmp_path / f"run{seed}.txt")
        logs[-1].write_text(json.dumps(run) + "\n")
    singles = [
        stats.kendalltau([t + s * e for t, e in zip(truth, noise, strict=True)], truth)[0]
        for s in (1, -1)
    ]
    assert max(singles) < 1.0
    argv = ["--rescore", "--from", *map(str, logs), "--panel", str(panel), "--ensemble", "1,2,3"]
    out = ranking_mod.main(argv)
    assert [(e["supernets"], e["subsets"]) for e in out["ensembles"]] == [(1, 2), (2, 1)]
    one, two = out["ensembles"]
    assert one["tau"] == pytest.approx(np.mean(singles), abs=1e-3)
    assert (two["tau"], two["tau_loss"]) == (1.0, 1.0)
    assert "2 supernets averaged: mean tau 1.000 (by loss 1.000)" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--ensemble"):
        ranking_mod.main([*argv[:-1], "0"])


def test_a_short_ranking_run_logs_what_rescore_reads_back(tmp_path, shared_data, capsys):
    """End to end on a 4-cell panel of the real recipe: every checkpoint is scored once per
    ``--finetune`` count, each point stores every cell's accuracy, the tuned points differ from
    the untuned ones, and ``--rescore`` of the run's log reproduces the taus it printed."""
    header, rows = ranking_mod.read_panel(BENCH / "data" / "supernet_panel.csv")
    tiny = tmp_path / "panel.csv"
    picked = [rows[k] for k in (0, 6, 13, 19)]
    lines = [f"# {json.dumps(header)}", ",".join(picked[0])]
    lines += [",".join(r.values()) for r in picked]
    tiny.write_text("\n".join(lines) + "\n")
    argv = ["--panel", str(tiny), "--data-dir", str(shared_data), "--checkpoints", "2,4"]
    out = ranking_mod.main([*argv, "--eval-images", "64", "--finetune", "0,2", "--seed", "1"])
    assert [(p["batches"], p["finetune"]) for p in out["curve"]] == [(2, 0), (2, 2), (4, 0), (4, 2)]
    assert all(len(p["acc"]) == 4 for p in out["curve"])
    assert out["curve"][0]["acc"] != out["curve"][1]["acc"]
    assert out["device"] == "cpu" and "partial" not in out
    assert out["platform"].startswith(f"torch {torch.__version__}, ")  # kernels decide the run
    printed = capsys.readouterr().out
    log = tmp_path / "run.txt"
    log.write_text(printed)
    again = ranking_mod.main(["--rescore", "--from", str(log), "--panel", str(tiny)])
    assert [p["tau"] for p in again["points"]] == [p["tau"] for p in out["curve"]]
    # each point also ranks the cells by their loss (lowest first), and rescore reproduces it
    assert all(len(p["loss"]) == 4 and min(p["loss"]) > 0 for p in out["curve"])
    assert [p["tau_loss"] for p in again["points"]] == [p["tau_loss"] for p in out["curve"]]
    # a run killed after its first checkpoint keeps that checkpoint's points
    cut = tmp_path / "cut.txt"
    cut.write_text(printed[: printed.index('"partial": true}') + len('"partial": true}')] + "\n")
    partial = ranking_mod.main(["--rescore", "--from", str(cut), "--panel", str(tiny)])
    assert [p["tau"] for p in partial["points"]] == [p["tau"] for p in out["curve"][:2]]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_cuda_run_without_cuda_is_refused_by_name():
    with pytest.raises(SystemExit, match="--device cuda: torch sees no CUDA device"):
        ranking_mod.main(["--device", "cuda", "--checkpoints", "2"])

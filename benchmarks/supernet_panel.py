"""Ground truth of the supernet ranking benchmark: a fixed panel of ``tnd`` cells trained from scratch.

    nice -n 15 python benchmarks/supernet_panel.py [--cells 20] [--spread convs|params]
        [--seeds 0,1] [--recipe JSON] [--out benchmarks/data/supernet_panel.csv]

The panel (``--spread``):

- ``convs`` (default): cell ``k`` of ``n`` draws each of its 14 normal edges among the 8
  parametric ops with probability ``k / (n - 1)``, else ``none`` or ``skip_connect``, and its
  reduction edges uniformly (seed 0, redrawn until valid). The panel runs from cells whose
  normal cells hold no convolution to cells made of convolutions only. Uniform draws put 11.2
  of 14 edges on convolutions on average (standard deviation 1.5), so they differ little.
- ``params``: ``--pool`` (2000) uniform draws, valid ones only, sorted by parameter count, and
  ``--cells`` of them at evenly spaced ranks (the panel of ``data/supernet_panel_params.csv``).

Each cell is trained from scratch once per training seed (``--seeds``, averaged) with
``nasgym.supernet.derive.train_from_scratch``, the recipe of ``CellEnv.train_derived`` (SGD
momentum 0.9, weight decay 3e-4, cosine lr, clipping 5, affine BatchNorm), sized for a 2-core
CPU (:data:`RECIPE`, keys changed by ``--recipe``): Fashion-MNIST, the first ``max_train`` =
10,000 training images (data seed 0), C = 4, 3 cells, 3 epochs (468 batches), batch 64, lr 0.05;
accuracy on the first 5,000 test images (``test_acc``) and the first 5,000 validation images
(``val_acc``). One torch thread per training, ``--workers`` (2) processes. Writes one CSV row
per cell (``arch`` in the space's string form, ``params`` in M, ``flops`` in M MACs, accuracies
as fractions averaged over the seeds, ``test_acc_by_seed``, ``train_time_s`` summed) under a
JSON header comment with the recipe, the seeds, the command and the platform. Each finished
training is first appended to ``OUT.partial.jsonl``; a run killed part way (even by ``kill
-9``) and started again with the same arguments trains only what is missing, and the journal
is removed once the CSV is written. The header also names the platform (the same seed
trains to other figures on other CPU kernels: ``benchmarks/platform_drift.py``; the ``params``
panel was built on another machine, and its first cell retrains here to 0.7265, not 0.7225).

How reliable the ground truth is: the Kendall tau between two training seeds' test accuracies
(``supernet_ranking.py`` prints it). At the earlier recipe (2,000 images, 2 epochs, 2,000 test
images) it was 0.28 on the ``convs`` panel: a ranking target of 0.5 could not be measured with it.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym._provenance import compute_platform  # noqa: E402
from nasgym.spaces import Arch, get_space  # noqa: E402
from nasgym.supernet.costs import build_cost_table  # noqa: E402
from nasgym.supernet.derive import train_from_scratch  # noqa: E402
from nasgym.supernet.model import Supernet  # noqa: E402
from nasgym.supernet.training import ImageData, ImageSplit, load_image_data  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "data" / "supernet_panel.csv"
DATA_DIR = HERE.parents[0].parent / "shared" / "data"
#: the from-scratch recipe of the ground truth (and of the supernet benchmark's data)
RECIPE: dict[str, Any] = {
    "space": "tnd",
    "dataset": "fashion-mnist",
    "max_train": 10000,
    "data_seed": 0,
    "eval_images": 5000,
    "channels": 4,
    "n_cells": 3,
    "epochs": 3,
    "batch_size": 64,
    "lr": 0.05,
}


def load_panel_data(
    data_dir: str | Path, recipe: dict[str, Any] = RECIPE, device: torch.device | None = None
) -> ImageData:
    """The recipe's data: its training subset, and the first ``eval_images`` of val and test
    (on ``device``, default the CPU)."""
    data = load_image_data(
        recipe["dataset"], str(data_dir), recipe["max_train"], recipe["data_seed"],
        device or torch.device("cpu"),
    )  # fmt: skip
    n = recipe["eval_images"]

    def head(split: ImageSplit) -> ImageSplit:
        return ImageSplit(split.x[:n], split.y[:n])

    return ImageData(
        data.name, data.train, head(data.val), head(data.test), data.image_shape, data.n_classes
    )


def panel(
    n_cells: int = 20,
    pool: int = 2000,
    seed: int = 0,
    recipe: dict[str, Any] = RECIPE,
    spread: str = "convs",
) -> list[Arch]:
    """``n_cells`` valid architectures spread over the space (see the module docstring).

    ``spread="params"``: evenly spaced parameter ranks of ``pool`` uniform draws.
    ``spread="convs"``: cell ``k`` draws each normal edge's op among the parametric ops with
    probability ``k / (n_cells - 1)`` (else ``none`` or ``skip_connect``), its reduction edges
    uniformly; redrawn until valid.
    """
    space = get_space(recipe["space"])
    rng = np.random.default_rng(seed)
    if spread == "convs":
        normal = space.OPS["normal"]
        light = [i for i, op in enumerate(normal) if op in ("none", "skip_connect")]
        heavy = [i for i in range(len(normal)) if i not in light]
        n_edges = len(space.edges)
        cells = []
        for k in range(n_cells):
            share = k / max(1, n_cells - 1)
            while True:
                idx = [
                    int(rng.choice(heavy if rng.random() < share else light))
                    for _ in range(n_edges)
                ]
                idx += [int(rng.integers(n)) for n in space.nvec[n_edges:]]
                arch = space.from_indices(idx)
                if space.is_valid(arch):
                    cells.append(arch)
                    break
        return cells
    if spread != "params":
        raise ValueError(f"spread must be 'convs' or 'params', got {spread!r}")
    archs = {}
    for _ in range(pool):
        arch = space.from_indices([int(rng.integers(n)) for n in space.nvec])
        if space.is_valid(arch):
            archs[arch.to_str()] = arch
    full = Supernet(space, channels=recipe["channels"], n_cells=recipe["n_cells"], n_classes=10)
    costs = build_cost_table(full, (28, 28), 1)
    ranked = sorted(archs.values(), key=lambda a: costs.path_cost(a.ops, space.cell_types)[0])
    picks = np.unique(np.linspace(0, len(ranked) - 1, n_cells).round().astype(int))
    return [ranked[i] for i in picks]


def _train(job: tuple[str, int, str, dict[str, Any]]) -> dict[str, Any]:
    """One from-scratch training of the recipe (a worker process, one torch thread)."""
    arch_str, seed, data_dir, recipe = job
    torch.set_num_threads(1)
    space = get_space(recipe["space"])
    r = train_from_scratch(
        space, space.from_str(arch_str), load_panel_data(data_dir, recipe),
        channels=recipe["channels"], n_cells=recipe["n_cells"], epochs=recipe["epochs"],
        batch_size=recipe["batch_size"], lr=recipe["lr"], seed=seed,
    )  # fmt: skip
    return {key: r[key] for key in ("params", "flops", "val_acc", "test_acc", "train_time_s")}


def read_journal(path: Path, recipe: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """The trainings a killed run finished (``(arch, seed)`` -> result) from its journal.

    Each finished training is one JSON line, written and synced before the next is counted;
    a line cut short by the kill, or one of another recipe, is skipped with a note."""
    done: dict[tuple[str, int], dict[str, Any]] = {}
    if not path.exists():
        return done
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            entry = json.loads(line)
            key = (entry.pop("arch"), int(entry.pop("seed")))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            print(f"note: {path} line {n} is not a finished training; it will be redone")
            continue
        if entry.pop("recipe", None) != recipe:
            print(f"note: {path} line {n} has another recipe; it is not reused")
            continue
        done[key] = entry
    return done


def main(argv: list[str] | None = None) -> None:
    """Train the panel from scratch and write the ground-truth CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=20, help="panel size (default 20)")
    parser.add_argument(
        "--spread", choices=("convs", "params"), default="convs",
        help="how the panel spreads over the space (module docstring)",
    )  # fmt: skip
    parser.add_argument("--pool", type=int, default=2000, help="uniform draws (--spread params)")
    parser.add_argument("--seeds", default="0,1", help="training seeds, averaged (default 0,1)")
    parser.add_argument("--workers", type=int, default=2, help="processes (one thread each)")
    parser.add_argument(
        "--recipe", type=json.loads, default={},
        help="JSON of recipe keys to change, e.g. '{\"epochs\": 2}' (default: RECIPE)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV to write")
    parser.add_argument("--data-dir", default=str(DATA_DIR), help="folder of the data sets")
    args = parser.parse_args(argv)
    unknown = set(args.recipe) - set(RECIPE)
    if unknown:
        raise SystemExit(f"--recipe: unknown keys {sorted(unknown)}; known: {sorted(RECIPE)}")
    recipe = {**RECIPE, **args.recipe}
    seeds = [int(s) for s in args.seeds.split(",")]
    cells = panel(args.cells, args.pool, spread=args.spread, recipe=recipe)
    jobs = [(arch.to_str(), seed, args.data_dir, recipe) for arch in cells for seed in seeds]
    journal = args.out.with_name(args.out.name + ".partial.jsonl")
    done = read_journal(journal, recipe)
    pending = [job for job in jobs if (job[0], job[1]) not in done]
    if done:
        print(f"resuming: {len(jobs) - len(pending)} of {len(jobs)} trainings in {journal}")
    start = time.perf_counter()
    journal.parent.mkdir(parents=True, exist_ok=True)
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool, journal.open("a") as log:
        for k, (job, r) in enumerate(
            zip(pending, pool.imap(_train, pending), strict=True), start=1
        ):
            done[(job[0], job[1])] = r
            log.write(json.dumps({"arch": job[0], "seed": job[1], "recipe": recipe, **r}) + "\n")
            log.flush()
            os.fsync(log.fileno())
            print(
                f"{len(jobs) - len(pending) + k}/{len(jobs)} params {r['params']:.4f} M  "
                f"test {r['test_acc']:.4f}  {r['train_time_s']:.0f} s",
                flush=True,
            )
    results = [done[(job[0], job[1])] for job in jobs]
    rows = []
    for c, arch in enumerate(cells):
        runs = results[c * len(seeds) : (c + 1) * len(seeds)]
        rows.append(
            {
                "arch": arch.to_str(),
                "params": runs[0]["params"],
                "flops": runs[0]["flops"],
                "val_acc": float(np.mean([r["val_acc"] for r in runs])),
                "test_acc": float(np.mean([r["test_acc"] for r in runs])),
                "test_acc_by_seed": " ".join(f"{r['test_acc']:.4f}" for r in runs),
                "train_time_s": float(sum(r["train_time_s"] for r in runs)),
            }
        )
    command = " ".join(
        ["python benchmarks/supernet_panel.py"]
        + [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)]
    )
    tmp = args.out.with_name(args.out.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        meta = {
            "recipe": recipe, "spread": args.spread, "seeds": seeds, "command": command,
            "platform": compute_platform(),
        }  # fmt: skip
        if args.spread == "params":
            meta["pool"] = args.pool
        fh.write(f"# {json.dumps(meta)}\n")
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, args.out)
    journal.unlink()
    print(f"wrote {args.out} ({len(rows)} cells, {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()

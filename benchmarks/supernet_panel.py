"""Ground truth of the supernet ranking benchmark: a fixed panel of ``tnd`` cells trained from scratch.

    nice -n 15 python benchmarks/supernet_panel.py [--cells 20] [--out benchmarks/data/supernet_panel.csv]

The panel: ``--pool`` (2000) architectures drawn uniformly from the ``tnd`` space (seed 0),
valid ones only, sorted by parameter count; ``--cells`` (20) of them taken at evenly spaced
ranks, so the panel spreads from the smallest to the largest cells. Each is trained from
scratch with ``nasgym.supernet.derive.train_from_scratch``, the recipe of
``CellEnv.train_derived`` (SGD momentum 0.9, weight decay 3e-4, cosine lr, clipping 5, affine
BatchNorm), sized for a 2-core CPU (:data:`RECIPE`): Fashion-MNIST, the first
``max_train`` = 2000 training images (data seed 0), C = 4, 3 cells, 2 epochs (62 batches), batch 64, lr 0.05,
training seed 0; accuracy on the first 2000 test images (``test_acc``) and on the first 2000
validation images (``val_acc``). One torch thread. Writes one CSV row per cell (``arch`` in
the space's string form, ``params`` in M, ``flops`` in M MACs, accuracies as fractions,
``train_time_s``) and the recipe as a JSON header comment.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
    "max_train": 2000,
    "data_seed": 0,
    "eval_images": 2000,
    "channels": 4,
    "n_cells": 3,
    "epochs": 2,
    "batch_size": 64,
    "lr": 0.05,
    "seed": 0,
}


def load_panel_data(data_dir: str | Path, recipe: dict[str, Any] = RECIPE) -> ImageData:
    """The recipe's data: its training subset, and the first ``eval_images`` of val and test."""
    data = load_image_data(
        recipe["dataset"], str(data_dir), recipe["max_train"], recipe["data_seed"]
    )
    n = recipe["eval_images"]

    def head(split: ImageSplit) -> ImageSplit:
        return ImageSplit(split.x[:n], split.y[:n])

    return ImageData(
        data.name, data.train, head(data.val), head(data.test), data.image_shape, data.n_classes
    )


def panel(
    n_cells: int = 20, pool: int = 2000, seed: int = 0, recipe: dict[str, Any] = RECIPE
) -> list[Arch]:
    """``n_cells`` valid architectures at evenly spaced parameter ranks of a uniform pool."""
    space = get_space(recipe["space"])
    rng = np.random.default_rng(seed)
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


def main(argv: list[str] | None = None) -> None:
    """Train the panel from scratch and write the ground-truth CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=20, help="panel size (default 20)")
    parser.add_argument("--pool", type=int, default=2000, help="uniform draws to pick from")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV to write")
    parser.add_argument("--data-dir", default=str(DATA_DIR), help="folder of the data sets")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    space = get_space(RECIPE["space"])
    data = load_panel_data(args.data_dir)
    cells = panel(args.cells, args.pool)
    rows = []
    start = time.perf_counter()
    for k, arch in enumerate(cells):
        r = train_from_scratch(
            space, arch, data, channels=RECIPE["channels"], n_cells=RECIPE["n_cells"],
            epochs=RECIPE["epochs"], batch_size=RECIPE["batch_size"], lr=RECIPE["lr"], seed=RECIPE["seed"],
        )  # fmt: skip
        rows.append(
            {
                key: r[key]
                for key in ("arch", "params", "flops", "val_acc", "test_acc", "train_time_s")
            }
        )
        print(
            f"{k + 1}/{len(cells)} params {r['params']:.4f} M  test {r['test_acc']:.4f}  {r['train_time_s']:.0f} s",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as fh:
        fh.write(
            f"# {json.dumps({'recipe': RECIPE, 'pool': args.pool, 'command': 'python benchmarks/supernet_panel.py'})}\n"
        )
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out} ({len(rows)} cells, {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()

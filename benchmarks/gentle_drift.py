"""Do the gentle operators stay gentle under training? Candidate against control, batch by batch.

A gentle edit preserves the model's function when it is applied. This script checks whether it
still does after the next batches of training: on the models ``nasgym characterize`` studies
(``nasgym/VALP-Paper-v0``'s setting, trained ``--initial-batches``), each gentle application of
``--variants`` (up to ``--per-model`` per model) and one control (the unchanged model) are
trained on the same batches in the same order with the same noise, and every output's
``log(control objective / candidate objective)`` is measured after 0 batches (right after the
edit) and after each of ``--checkpoints`` batches. A gap already at 0 means the edit is not
function-preserving; a gap that opens within the first few batches points at the first optimiser
steps on the edit's new weights.

    NASGYM_DATA_DIR=../shared/data python benchmarks/gentle_drift.py [--models 8] \\
        [--variants add_connection:gentle,clone_network:gentle,insert_network:gentle] [--warmup W]

``--warmup W`` trains both models with their learning rates rising linearly over the first W
batches (a check of whether the first, full-size optimiser steps cause the gap).

Prints per variant and checkpoint the median and the 10th percentile of the log ratio per output
and the share below -0.2 (more than 18 % worse than the control), then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym.characterize import StudyConfig  # noqa: E402


def ratios(env, control, candidate) -> dict[str, float]:
    """``log(control / candidate)`` per output (NaN where either is not finite or zero); both
    evaluated with the same generator state, so the samplers see the same noise."""
    state = env._gen.get_state()
    a = env._evaluate(control)
    env._gen.set_state(state)
    b = env._evaluate(candidate)
    out = {}
    for name in env.output_names:
        ok = all(math.isfinite(v) and v > 0 for v in (a[name], b[name]))
        out[name] = math.log(a[name] / b[name]) if ok else math.nan
    return out


def main(argv: list[str] | None = None) -> dict:
    """Run the check; print the figures and one JSON line."""
    from nasgym.envs.valp import VALPEnv
    from nasgym.valp.train import train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--first-seed", type=int, default=3000)
    parser.add_argument("--initial-batches", type=int, default=250)
    parser.add_argument("--checkpoints", default="1,5,10,50", help="cumulative batches")
    parser.add_argument("--per-model", type=int, default=3, help="applications per variant")
    parser.add_argument(
        "--variants", default="add_connection:gentle,clone_network:gentle,insert_network:gentle"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=0,
        help="W > 0: both models' learning rates rise linearly over their first W batches",
    )
    args = parser.parse_args(argv)
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",")})
    variants = args.variants.split(",")
    config = StudyConfig(dataset=args.dataset, initial_batches=args.initial_batches)
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.models):
        env = VALPEnv(**{**config.env_kwargs(), "step_batches": checkpoints[-1]})
        env.reset(seed=seed)
        model, rng = env._model, np.random.default_rng(seed)
        moves = list(env._plan()[1].values())
        with env._threads():
            for variant in variants:
                mine = [m for m in moves if f"{m.operator}:{m.variant}" == variant]
                for i in rng.permutation(len(mine))[: args.per_model]:
                    candidate, control = env.apply_move(mine[i]), model.clone()
                    bs = max(model.valp.batch_size, candidate.valp.batch_size)
                    order = env._batch_order(checkpoints[-1] * bs)
                    row = {"seed": seed, "variant": variant, "target": mine[i].target}
                    row["0"] = ratios(env, control, candidate)
                    done = 0
                    for c in checkpoints:
                        part, state = order[done * bs : c * bs], env._gen.get_state()
                        for m in (control, candidate):  # same batches, same noise
                            env._gen.set_state(state)
                            train(m, env._train, c - done, env._gen, order=part, warmup=args.warmup)
                        done = c
                        row[str(c)] = ratios(env, control, candidate)
                    rows.append(row)
        env.close()
    summary: dict[str, dict] = {}
    steps = ["0", *map(str, checkpoints)]
    outputs = list(rows[0]["0"]) if rows else []
    print(
        f"{len(rows)} applications on {args.models} {args.dataset} models"
        + (f", learning-rate warm-up over {args.warmup} batches" if args.warmup else "")
    )
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant]
        if not mine:
            continue
        summary[variant] = {}
        print(f"{variant} ({len(mine)}): median / 10th percentile / share < -0.2 of log ratio")
        for name in outputs:
            cells = []
            for s in steps:
                v = np.array([r[s][name] for r in mine], dtype=float)
                v = v[np.isfinite(v)]
                fig = {
                    "median": float(np.median(v)) if len(v) else math.nan,
                    "p10": float(np.percentile(v, 10)) if len(v) else math.nan,
                    "share_below": float((v < -0.2).mean()) if len(v) else math.nan,
                }
                summary[variant].setdefault(name, {})[s] = fig
                cells.append(
                    f"{s:>2}: {fig['median']:+.3f} / {fig['p10']:+.3f} / {fig['share_below']:.2f}"
                )
            print(f"  {name:>6}  " + "   ".join(cells))
    out = {
        "benchmark": "gentle_drift",
        "warmup": args.warmup,
        "applications": len(rows),
        "summary": summary,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()

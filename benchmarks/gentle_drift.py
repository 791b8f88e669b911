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

``--warmup W`` also trains every application and its control with their learning rates rising
linearly over the first W batches (``train(..., warmup=W)``), side by side with the run without
(same application, batches and noise), and adds paired Wilcoxon tests over the applications of
the log ratio with against without the warm-up, after the first and the last checkpoint: a
check of whether the first, full-size optimiser steps cause the gap.

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
from nasgym.stats import paired_wilcoxon  # noqa: E402


def ratios(env, control, candidate) -> dict[str, float]:
    """``log(control / candidate)`` per output (the characterize records' ``improve``), both
    evaluated from the same generator state, so the samplers see the same noise."""
    from nasgym.characterize.study import _log_ratio

    state = env._gen.get_state()
    a = env._evaluate(control)
    env._gen.set_state(state)
    b = env._evaluate(candidate)
    return {name: _log_ratio(a[name], b[name]) for name in env.output_names}


def drift(env, model, candidate, order, bs, checkpoints, warmup) -> dict[str, dict[str, float]]:
    """Per checkpoint (``"0"``, then each cumulative batch count): ``ratios`` of a fresh control
    and a copy of the (untrained) ``candidate``, trained on ``order`` with ``warmup``."""
    from nasgym.valp.train import train

    control, candidate = model.clone(), candidate.clone()
    out, done = {"0": ratios(env, control, candidate)}, 0
    for c in checkpoints:
        part, state = order[done * bs : c * bs], env._gen.get_state()
        for m in (control, candidate):  # same batches, same noise
            env._gen.set_state(state)
            train(m, env._train, c - done, env._gen, order=part, warmup=warmup)
        done = c
        out[str(c)] = ratios(env, control, candidate)
    return out


def main(argv: list[str] | None = None) -> dict:
    """Run the check; print the figures and one JSON line."""
    from nasgym.envs.valp import VALPEnv

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
        help="W > 0: also train every application and its control with their learning rates "
        "rising linearly over the first W batches, side by side with no warm-up",
    )
    args = parser.parse_args(argv)
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",")})
    variants = args.variants.split(",")
    config = StudyConfig(dataset=args.dataset, initial_batches=args.initial_batches)
    conditions = [0, args.warmup] if args.warmup else [0]
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
                    candidate = env.apply_move(mine[i])
                    bs = max(model.valp.batch_size, candidate.valp.batch_size)
                    order, state = env._batch_order(checkpoints[-1] * bs), env._gen.get_state()
                    row = {"seed": seed, "variant": variant, "target": mine[i].target}
                    for w in conditions:  # the same application, batches and noise in each
                        env._gen.set_state(state)
                        row[w] = drift(env, model, candidate, order, bs, checkpoints, w)
                    rows.append(row)
        env.close()
    steps = ["0", *map(str, checkpoints)]
    outputs = list(rows[0][0]["0"]) if rows else []
    print(f"{len(rows)} applications on {args.models} {args.dataset} models")
    summary: dict[str, dict] = {}
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant]
        if not mine:
            continue
        summary[variant] = {}
        for w in conditions:
            label = f"warm-up {w}" if w else "no warm-up"
            print(
                f"{variant} ({len(mine)}, {label}): median / 10th pct / share < -0.2 of log ratio"
            )
            for name in outputs:
                cells = []
                for s in steps:
                    v = np.array([r[w][s][name] for r in mine], dtype=float)
                    v = v[np.isfinite(v)]
                    fig = {
                        "median": float(np.median(v)) if len(v) else math.nan,
                        "p10": float(np.percentile(v, 10)) if len(v) else math.nan,
                        "share_below": float((v < -0.2).mean()) if len(v) else math.nan,
                    }
                    summary[variant].setdefault(label, {}).setdefault(name, {})[s] = fig
                    cells.append(
                        f"{s:>2}: {fig['median']:+.3f} / {fig['p10']:+.3f} / {fig['share_below']:.2f}"
                    )
                print(f"  {name:>6}  " + "   ".join(cells))
        if args.warmup:  # paired over the applications: warm-up minus none, per output
            for s in (steps[1], steps[-1]):
                for name in outputs:
                    t = paired_wilcoxon(
                        [r[args.warmup][s][name] for r in mine], [r[0][s][name] for r in mine]
                    )
                    summary[variant].setdefault("paired", {}).setdefault(name, {})[s] = t
                    p = "n/a" if t["p"] is None else f"{t['p']:.2g}"
                    print(
                        f"  after {s:>2} batches, {name}: warm-up vs none, n {t['n']}, "
                        f"median diff {t['median_diff']:+.3f}, r {t['effect']:+.2f}, p {p}"
                    )
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

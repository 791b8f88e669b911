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
check of whether the first, full-size optimiser steps cause the gap. ``--detach-gentle`` does the
same for ``add_connection:gentle`` with its new connection *detached* (the same weights; the
target's losses no longer train the source, ``make_operator("add_connection",
detach_gentle=True)``), and reports its applications by the kind of source (model input,
sampler, other network).

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


def figures(values) -> dict[str, float]:
    """Median, 10th percentile and share below -0.2 of the finite ``values``."""
    v = np.array(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"median": math.nan, "p10": math.nan, "share_below": math.nan}
    return {
        "median": float(np.median(v)),
        "p10": float(np.percentile(v, 10)),
        "share_below": float((v < -0.2).mean()),
    }


def detached_copy(candidate, before):
    """``candidate`` with the connections it has and ``before`` has not made detached (same
    weights): what ``add_connection`` builds with ``detach_gentle=True``."""
    from nasgym.valp.descriptor import Connection
    from nasgym.valp.model import model_from

    old = {(c.src, c.dst) for c in before.connections}
    valp = candidate.valp.with_connections(
        Connection(c.src, c.dst, c.detached or (c.src, c.dst) not in old)
        for c in candidate.valp.connections
    )
    return model_from(valp, candidate.state_dict(), device=candidate.device)


def source_kind(candidate, before) -> str:
    """``input``, ``sampler`` or ``network``: what the connection ``candidate`` added reads."""
    old = {(c.src, c.dst) for c in before.connections}
    (src,) = {c.src for c in candidate.valp.connections if (c.src, c.dst) not in old}
    if src.startswith("i:"):
        return "input"
    return "sampler" if before.network(src).kind == "sampler" else "network"


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
    parser.add_argument(
        "--detach-gentle",
        action="store_true",
        help="also train every add_connection:gentle application with its new connection "
        "detached (same weights), side by side with the plain connection",
    )
    args = parser.parse_args(argv)
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",")})
    variants = args.variants.split(",")
    config = StudyConfig(dataset=args.dataset, initial_batches=args.initial_batches)
    conditions = ["no warm-up"] + ([f"warm-up {args.warmup}"] if args.warmup else [])
    conditions += ["detached"] if args.detach_gentle else []
    warm = {"no warm-up": 0, f"warm-up {args.warmup}": args.warmup, "detached": 0}
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
                    move = mine[i]
                    candidate = env.apply_move(move)
                    bs = max(model.valp.batch_size, candidate.valp.batch_size)
                    order, state = env._batch_order(checkpoints[-1] * bs), env._gen.get_state()
                    row = {"seed": seed, "variant": variant, "target": move.target}
                    if variant == "add_connection:gentle":
                        row["source"] = source_kind(candidate, model.valp)
                    for label in conditions:  # the same application, batches and noise in each
                        if label == "detached" and variant != "add_connection:gentle":
                            continue
                        this = candidate
                        if label == "detached":
                            this = detached_copy(candidate, model.valp)
                        env._gen.set_state(state)
                        row[label] = drift(env, model, this, order, bs, checkpoints, warm[label])
                    rows.append(row)
        env.close()
    steps = ["0", *map(str, checkpoints)]
    outputs = list(rows[0]["no warm-up"]["0"]) if rows else []
    print(f"{len(rows)} applications on {args.models} {args.dataset} models")
    summary: dict[str, dict] = {}
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant]
        if not mine:
            continue
        summary[variant] = {}
        for label in [c for c in conditions if c in mine[0]]:
            print(
                f"{variant} ({len(mine)}, {label}): median / 10th pct / share < -0.2 of log ratio"
            )
            for name in outputs:
                cells = []
                for s in steps:
                    fig = figures([r[label][s][name] for r in mine])
                    summary[variant].setdefault(label, {}).setdefault(name, {})[s] = fig
                    med, p10, below = fig["median"], fig["p10"], fig["share_below"]
                    cells.append(f"{s:>2}: {med:+.3f} / {p10:+.3f} / {below:.2f}")
                print(f"  {name:>6}  " + "   ".join(cells))
        for label in [c for c in conditions[1:] if c in mine[0]]:  # paired: label minus none
            for s in (steps[1], steps[-1]):
                for name in outputs:
                    t = paired_wilcoxon(
                        [r[label][s][name] for r in mine], [r["no warm-up"][s][name] for r in mine]
                    )
                    key = "paired" if label.startswith("warm-up") else f"paired {label}"
                    summary[variant].setdefault(key, {}).setdefault(name, {})[s] = t
                    p = "n/a" if t["p"] is None else f"{t['p']:.2g}"
                    print(
                        f"  after {s:>2} batches, {name}: {label} vs none, n {t['n']}, "
                        f"median diff {t['median_diff']:+.3f}, r {t['effect']:+.2f}, p {p}"
                    )
        if "source" in mine[0]:  # after the last checkpoint, by what the connection reads
            last = steps[-1]
            for kind in ("input", "network", "sampler"):
                theirs = [r for r in mine if r["source"] == kind]
                for label in [c for c in ("no warm-up", "detached") if theirs and c in theirs[0]]:
                    figs = {n: figures([r[label][last][n] for r in theirs]) for n in outputs}
                    summary[variant].setdefault("by source", {}).setdefault(kind, {})[label] = figs
                    cells = [
                        f"{n} {f['median']:+.3f} / {f['share_below']:.2f}" for n, f in figs.items()
                    ]
                    print(
                        f"  source {kind} ({len(theirs)}), {label}, after {last} batches: "
                        "median / share < -0.2: " + ", ".join(cells)
                    )
    out = {
        "benchmark": "gentle_drift",
        "warmup": args.warmup,
        "detach_gentle": args.detach_gentle,
        "applications": len(rows),
        "summary": summary,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()

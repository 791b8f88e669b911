"""Where a step broke an output: which network's deletion mends it, and do the diagnostics say so?

At the paper's budget some random steps leave the sampler's Fréchet distance far above its
usual level (``choice_vs_luck.py --where 'sample>100'``), and the best of 8 moves there was
mostly ``delete_network``. This script rebuilds such states from a ``choice_vs_luck.py --raw``
file (the same env, reset seed and random steps, checked against the stored objectives), steps
``delete_network`` on every network that can be deleted (each on a copy of the env with the real
step's training draw, so the deletions are paired), and prints beside each the observation's
diagnostics of that network for the output: its module-intervention relevance (loss with the
network's weights randomised over loss without), its probe dependency error and gain, and
whether it reaches the output. Then, over the states: how often the network whose deletion
mends the output most is the one of highest or of lowest relevance, and the rank correlation of
relevance with the mending.

    NASGYM_DATA_DIR=../shared/data python benchmarks/broken_sampler.py \\
        --from docs/heldout/choice_fmnist_5000_52.json --where 'sample>100' --workers 2

Prints per state and network, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from choice_vs_luck import select_states  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from nasgym._provenance import code_version, compute_platform  # noqa: E402

DIAGNOSTICS = ("relevance", "dependency_error", "dependency_gain", "network_reaches")


def deletions(env_id: str, kwargs: dict, seed: int, steps: int, output: str) -> dict:
    """The state of ``choice_vs_luck.measure_state`` for ``seed``; per deletable network, its
    diagnostics for ``output`` and the objectives after deleting it."""
    import gymnasium as gym

    import nasgym  # noqa: F401  (registers the envs)

    env = gym.make(env_id, **kwargs).unwrapped
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        obs = env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))[0]
    j = list(env.objective_spec).index(output)
    rows = []
    for a in np.flatnonzero(env.action_masks()):
        label = env.action_table.label(int(a))
        if not label.startswith("delete_network@"):
            continue
        slot = env.action_table.decode(int(a))[1]
        info = env.fork().step(int(a))[4]
        rows.append(
            {
                "label": label,
                **{d: float(np.asarray(obs[d])[slot, j]) for d in DIAGNOSTICS},
                "after": dict(info["objectives"]),
                "after_test": dict(info["test_objectives"]),
            }
        )
    return {
        "seed": seed,
        "current": dict(env._objectives),
        "current_test": env._score_test(env._model),
        "deletions": rows,
        "code": code_version(),
        "platform": compute_platform(),
    }


def summarise(states: list[dict]) -> dict:
    """Over the states with 2+ deletions (each row's ``mend``: log of the output's test objective
    before over after): how often the best deletion halves the output or better, and is the
    network of highest / lowest relevance; the Spearman correlation of relevance and mending,
    both centred within each state."""
    out = {"compared": 0, "halved": 0, "best_is_highest_relevance": 0,
           "best_is_lowest_relevance": 0}  # fmt: skip
    rel, mend = [], []
    for st in states:
        rows = st["deletions"]
        if len(rows) < 2:
            continue
        rels, mends = [r["relevance"] for r in rows], [r["mend"] for r in rows]
        best = int(np.argmax(mends))
        out["compared"] += 1
        out["halved"] += int(mends[best] >= math.log(2.0))
        out["best_is_highest_relevance"] += int(rels[best] == max(rels))
        out["best_is_lowest_relevance"] += int(rels[best] == min(rels))
        rel += list(np.subtract(rels, np.mean(rels)))
        mend += list(np.subtract(mends, np.mean(mends)))
    rho, p = spearmanr(rel, mend) if len(rel) > 2 else (float("nan"), float("nan"))
    out["spearman"] = {"rho": float(rho), "p": float(p), "n": len(rel)}
    return out


def main(argv: list[str] | None = None) -> dict:
    """Rebuild, delete, print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", required=True, help="a choice_vs_luck --raw file")
    parser.add_argument("--where", default="sample>100", help="which states (choice_vs_luck's)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    raw = json.loads(Path(args.source).read_text())
    outputs = list(raw["states"][0]["current"][0])
    states = select_states(raw["states"], args.where, outputs)
    output = args.where.strip().split("<")[0].split(">")[0].strip()
    jobs = [
        (raw["env"], raw["env_kwargs"], st["seed"], raw["episode_steps"], output) for st in states
    ]
    if args.workers <= 1:  # in this process
        got = [deletions(*job) for job in jobs]
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            got = list(pool.map(deletions, *zip(*jobs, strict=True)))
    print(f"{raw['env']} {raw['env_kwargs']}: {len(got)} states where {args.where}")
    for st, res in zip(states, got, strict=True):
        stored = st["current"][0][output]
        if not math.isclose(res["current"][output], stored, rel_tol=1e-6):
            raise SystemExit(
                f"state {st['seed']}: rebuilt {output} {res['current'][output]} differs from the "
                f"stored {stored}; another code or platform measured the file"
            )
        before = res["current_test"][output]
        print(f"state {res['seed']}: {output} on test {before:.1f}")
        for r in res["deletions"]:
            r["mend"] = math.log(before / r["after_test"][output])
            print(
                f"  {r['label']:22s} relevance {r['relevance']:7.3f}  dependency error "
                f"{r['dependency_error']:.3f} gain {r['dependency_gain']:+.3f}  reaches "
                f"{int(r['network_reaches'])}  -> {output} {r['after_test'][output]:7.1f} "
                f"(log ratio {r['mend']:+.3f})"
            )
    record = {"benchmark": "broken_sampler", "source": args.source, "where": args.where,
              "output": output, "states": got, **summarise(got)}  # fmt: skip
    s = record["spearman"]
    print(
        f"{record['compared']} states with 2+ deletable networks; the best deletion halves "
        f"{output} or better in {record['halved']}; it is the network of highest relevance in "
        f"{record['best_is_highest_relevance']}, of lowest in {record['best_is_lowest_relevance']}; "
        f"within-state Spearman of relevance and mending {s['rho']:+.2f} (p = {s['p']:.2g}, "
        f"{s['n']} deletions)"
    )
    print(json.dumps(record))
    return record


if __name__ == "__main__":
    main()

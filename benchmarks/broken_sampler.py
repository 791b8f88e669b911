"""Where a step broke an output: which network's deletion mends it, and do the diagnostics say so?

At the paper's budget some random steps leave the sampler's Fréchet distance far above its
usual level (``choice_vs_luck.py --where 'sample>100'``), and the best of 8 moves there was
mostly ``delete_network``. This script rebuilds such states (the env, reset seed and random
valid steps of ``choice_vs_luck.py``), steps ``delete_network`` on every network that can be
deleted (each on a copy of the env with the real step's training draw, so the deletions are
paired; each row also says whether the env accepted the deletion), and prints beside each the
observation's diagnostics of that network for the output:
its module-intervention relevance (loss with the network's weights randomised over loss
without), its probe dependency error and gain, and whether it reaches the output. Then, over the
states: how often the best deletion halves the output or better and is the network of highest
or of lowest relevance; the rank correlation of relevance with the mending (both centred within
each state); and, per state, the mending of deleting the most relevant network minus the mean
over the others, with a one-sided paired Wilcoxon test (> 0).

The states come from a ``choice_vs_luck.py --raw`` file (``--from``: those meeting ``--where``,
their stored objectives checked against the rebuild) or are new (``--states A-B`` with
``--env``, ``--env-kwargs``, ``--episode-steps``: each rebuilt and screened by ``--where`` on its
validation objectives, the deletions made only where it holds). ``--raw FILE`` keeps each
state as it ends (screened-out ones too), rewritten atomically; a rerun of the same setting
measures only the states not in it.

    NASGYM_DATA_DIR=../shared/data python benchmarks/broken_sampler.py \\
        --from docs/heldout/choice_fmnist_5000_52.json --where 'sample>100' --workers 2

Prints per state and network, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from choice_vs_luck import measure_states, meets, rebuild, select_states, where_parts  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from nasgym._provenance import code_version, compute_platform  # noqa: E402
from nasgym.bench.jobs import parse_seeds  # noqa: E402
from nasgym.stats import paired_wilcoxon  # noqa: E402

DIAGNOSTICS = ("relevance", "dependency_error", "dependency_gain", "network_reaches")


def deletions(
    env_id: str, kwargs: dict, seed: int, steps: int, output: str, where: str | None = None
) -> dict:
    """The state of ``choice_vs_luck.measure_state`` for ``seed``; per deletable network, its
    diagnostics for ``output`` and the objectives after deleting it (``deletions`` is None
    where the state's validation objectives do not meet ``where``)."""
    env, obs, _ = rebuild(env_id, kwargs, seed, steps)
    current = dict(env._objectives)
    record = {"seed": seed, "current": current, "current_test": env._score_test(env._model),
              "deletions": None, "code": code_version(), "platform": compute_platform()}  # fmt: skip
    if where and not meets(current, where, list(current)):
        return record
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
                "accepted": bool(info.get("accepted")),
            }
        )
    return {**record, "deletions": rows}


def with_mends(states: list[dict], output: str) -> list[dict]:
    """The screened-in states (``deletions`` not None), each deletion given its ``mend``: the log
    of ``output``'s test objective before over after (the states are updated in place)."""
    shown = [st for st in states if st["deletions"] is not None]
    for st in shown:
        before = st["current_test"][output]
        for r in st["deletions"]:
            r["mend"] = math.log(before / r["after_test"][output])
    return shown


def summarise(states: list[dict]) -> dict:
    """Over the states with 2+ deletions (each row's ``mend``: log of the output's test objective
    before over after): how often the best deletion halves the output or better, and is the
    network of highest / lowest relevance; the Spearman correlation of relevance and mending,
    both centred within each state."""
    out = {"compared": 0, "halved": 0, "best_is_highest_relevance": 0,
           "best_is_lowest_relevance": 0}  # fmt: skip
    rel, mend, lead = [], [], []
    for st in states:
        rows = st["deletions"] or []
        if len(rows) < 2:
            continue
        rels, mends = [r["relevance"] for r in rows], [r["mend"] for r in rows]
        best = int(np.argmax(mends))
        out["compared"] += 1
        out["halved"] += int(mends[best] >= math.log(2.0))
        out["best_is_highest_relevance"] += int(rels[best] == max(rels))
        out["best_is_lowest_relevance"] += int(rels[best] == min(rels))
        top = int(np.argmax(rels))
        lead.append(mends[top] - float(np.mean([m for i, m in enumerate(mends) if i != top])))
        rel += list(np.subtract(rels, np.mean(rels)))
        mend += list(np.subtract(mends, np.mean(mends)))
    rho, p = spearmanr(rel, mend) if len(rel) > 2 else (float("nan"), float("nan"))
    out["spearman"] = {"rho": float(rho), "p": float(p), "n": len(rel)}
    out["most_relevant_lead"] = {
        "mean": float(np.mean(lead)) if lead else float("nan"),
        **paired_wilcoxon(lead, [0.0] * len(lead), "greater"),
    }
    return out


def main(argv: list[str] | None = None) -> dict:
    """Rebuild, delete, print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", help="a choice_vs_luck --raw file")
    parser.add_argument("--states", help="new reset seeds (e.g. 772-871) instead of --from")
    parser.add_argument("--env", default="nasgym/VALP-Paper-v0")
    parser.add_argument("--env-kwargs", default="{}")
    parser.add_argument("--episode-steps", type=int, default=10)
    parser.add_argument("--where", default="sample>100", help="which states (choice_vs_luck's)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--raw", help="keep each state as it ends; a rerun measures the rest")
    args = parser.parse_args(argv)
    if bool(args.source) == bool(args.states):
        raise SystemExit("give either --from FILE or --states A-B")
    output = where_parts(args.where)[0]
    if args.source:
        raw = json.loads(Path(args.source).read_text())
        outputs = list(raw["states"][0]["current"][0])
        stored = {st["seed"]: st for st in select_states(raw["states"], args.where, outputs)}
        env_id, kwargs, steps = raw["env"], raw["env_kwargs"], raw["episode_steps"]
        seeds, where = list(stored), None
    else:
        env_id, kwargs, steps = args.env, json.loads(args.env_kwargs), args.episode_steps
        seeds, where, stored = list(parse_seeds(args.states)), args.where, {}
    setting = {"env": env_id, "env_kwargs": kwargs, "episode_steps": steps, "where": args.where}
    measure = partial(deletions, env_id, kwargs, steps=steps, output=output, where=where)
    got = measure_states(setting, seeds, args.workers, args.raw, measure)
    shown = with_mends(got, output)
    print(f"{env_id} {kwargs}: {len(shown)} of {len(got)} states where {args.where}")
    for res in shown:
        st = stored.get(res["seed"])
        if st is not None and not math.isclose(
            res["current"][output], st["current"][0][output], rel_tol=1e-6
        ):
            raise SystemExit(
                f"state {res['seed']}: rebuilt {output} {res['current'][output]} differs from "
                f"the stored {st['current'][0][output]}; another code or platform measured the file"
            )
        before = res["current_test"][output]
        print(f"state {res['seed']}: {output} on test {before:.1f}")
        for r in res["deletions"]:
            print(
                f"  {r['label']:22s} relevance {r['relevance']:7.3f}  dependency error "
                f"{r['dependency_error']:.3f} gain {r['dependency_gain']:+.3f}  reaches "
                f"{int(r['network_reaches'])}  -> {output} {r['after_test'][output]:7.1f} "
                f"(log ratio {r['mend']:+.3f}){'' if r.get('accepted', True) else ', rejected'}"
            )
    record = {"benchmark": "broken_sampler", "source": args.source, **setting,
              "output": output, "states": shown, **summarise(shown)}  # fmt: skip
    s, lead = record["spearman"], record["most_relevant_lead"]
    print(
        f"{record['compared']} states with 2+ deletable networks; the best deletion halves "
        f"{output} or better in {record['halved']}; it is the network of highest relevance in "
        f"{record['best_is_highest_relevance']}, of lowest in {record['best_is_lowest_relevance']}; "
        f"within-state Spearman of relevance and mending {s['rho']:+.2f} (p = {s['p']:.2g}, "
        f"{s['n']} deletions)"
    )
    if lead["p"] is not None:  # the pre-registered primary (docs/heldout/prereg_broken_sampler.md)
        primary = (
            f"deleting the most relevant network minus the mean of the others: mean "
            f"{lead['mean']:+.3f}, median {lead['median_diff']:+.3f}, r = {lead['effect']:+.2f}, "
            f"one-sided p = {lead['p']:.2g} (n = {lead['n']})"
        )
        print(primary)
    print(json.dumps(record))
    return record


if __name__ == "__main__":
    main()

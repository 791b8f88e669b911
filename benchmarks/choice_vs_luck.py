"""What a look-ahead earns by choosing the operator, and what by picking lucky training: one
VALP step, measured on validation and on test rows.

The ``oracle`` tries several moves and keeps the best-looking outcome. Its gain has three parts:
the moves differ (choice, which an agent reading the state could learn), the trainings differ
(luck: another batch order, another position inside the target, which no agent can foresee),
and the validation rows that pick the best also score it (optimism, gone on test rows). Per
state (``--states`` reset seeds, each followed by ``--episode-steps`` random valid steps), two
designs of ``--tries`` outcomes each:

- *choice*: ``tries`` distinct valid actions, each stepped once on a copy of the env with the
  real step's training draw (``fork()``), as ``oracle`` does;
- *luck*: the first of those actions, stepped on ``tries`` reseeded copies (``fork(seed)``), as
  ``oracle(vary="training")`` does.

An outcome's *improvement* is the mean over outputs of log(current / candidate objective),
against the state's current model, on validation (``objectives``) and on test
(``test_objectives``; the env needs ``test_samples``). Per state and design, the *gain* is the
improvement of the validation-best outcome minus the mean over the ``tries`` (what a blind pick
expects), on validation and on test; the *optimism* is their difference. Across states: means,
and paired Wilcoxon tests of choice against luck (two-sided) and of each test gain against 0.

    NASGYM_DATA_DIR=../shared/data python benchmarks/choice_vs_luck.py --states 24 \\
        --episode-steps 20 --env-kwargs '{"dataset": "mnist", "initial_batches": 250, \\
        "step_batches": 50, "eval_samples": 2000, "test_samples": 5000}' --workers 2

Prints per-state figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym.bench.jobs import parse_seeds  # noqa: E402
from nasgym.stats import paired_wilcoxon  # noqa: E402

DESIGNS = ("choice", "luck")


def improvement(before: dict[str, float], after: dict[str, float]) -> float:
    """Mean over outputs of log(before / after) (objectives are lower-is-better)."""
    if any(not math.isfinite(v) for v in after.values()):
        return -math.inf
    return float(np.mean([math.log(max(before[k], 1e-9) / max(after[k], 1e-9)) for k in before]))


def gains(outcomes: list[tuple[float, float]]) -> dict[str, float]:
    """Per design: the validation-best outcome's improvement minus the mean, on both splits."""
    val = np.array([v for v, _ in outcomes])
    test = np.array([t for _, t in outcomes])
    ok = np.isfinite(val) & np.isfinite(test)
    val, test = val[ok], test[ok]
    best = int(np.argmax(val))
    return {
        "gain validation": float(val[best] - val.mean()),
        "gain test": float(test[best] - test.mean()),
        "optimism": float((val[best] - val.mean()) - (test[best] - test.mean())),
        "spread test": float(test.std()),
    }


def measure_state(env_id: str, kwargs: dict, seed: int, steps: int, tries: int) -> dict:
    """Both designs at the state reached by ``steps`` random valid steps from ``reset(seed)``."""
    import gymnasium as gym

    import nasgym  # noqa: F401  (registers the envs)

    env = gym.make(env_id, **kwargs).unwrapped
    if "test_samples" not in kwargs:
        raise SystemExit("give the env test_samples: the gains are measured on test rows")
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
    current = dict(env._objectives)
    current_test = env._score_test(env._model)
    valid = np.flatnonzero(env.action_masks())
    actions = rng.choice(valid, size=min(tries, len(valid)), replace=False)
    draws = rng.integers(2**31, size=tries)

    def outcome(twin, action: int) -> tuple[float, float]:
        got = twin.step(int(action))[4]
        return improvement(current, got["objectives"]), improvement(
            current_test, got["test_objectives"]
        )

    choice = [outcome(env.fork(), a) for a in actions]
    luck = [outcome(env.fork(int(d)), actions[0]) for d in draws]
    return {
        "seed": seed,
        "valid": len(valid),
        "choice": gains(choice),
        "luck": gains(luck),
        "labels": [env.action_table.label(int(a)) for a in actions],
    }


def main(argv: list[str] | None = None) -> dict:
    """Measure, print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="nasgym/VALP-Paper-v0")
    parser.add_argument("--env-kwargs", default="{}")
    parser.add_argument("--states", default="0-23", help="reset seeds (e.g. 0-23)")
    parser.add_argument("--episode-steps", type=int, default=20)
    parser.add_argument("--tries", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.tries < 2:
        raise SystemExit(f"--tries must be >= 2, got {args.tries}")
    kwargs, seeds = json.loads(args.env_kwargs), list(parse_seeds(args.states))
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [
            pool.submit(measure_state, args.env, kwargs, s, args.episode_steps, args.tries)
            for s in seeds
        ]
        states = [f.result() for f in futures]
    keys = list(states[0]["choice"])
    print(f"{args.env} {kwargs}: {len(seeds)} states after {args.episode_steps} random steps")
    for st in states:
        cells = "; ".join(
            f"{d} " + ", ".join(f"{k} {st[d][k]:+.4f}" for k in keys) for d in DESIGNS
        )
        print(f"  seed {st['seed']}: {cells}")
    summary: dict[str, dict] = {}
    for d in DESIGNS:
        summary[d] = {k: float(np.mean([st[d][k] for st in states])) for k in keys}
        res = paired_wilcoxon([st[d]["gain test"] for st in states], [0.0] * len(states), "greater")
        summary[d]["gain test vs 0"] = res
        print(
            f"{d}: " + ", ".join(f"{k} {summary[d][k]:+.4f}" for k in keys)
            + f"; gain test > 0: p = {res['p']:.2g}"
        )  # fmt: skip
    tests = {}
    for k in keys:
        res = paired_wilcoxon([st["choice"][k] for st in states], [st["luck"][k] for st in states])
        tests[k] = res
        print(
            f"choice - luck, {k}: median {res['median_diff']:+.4f}, r = {res['effect']:+.2f}, "
            f"p = {res['p']:.2g} (n = {res['n']})"
        )
    record = {
        "benchmark": "choice_vs_luck",
        "env": args.env,
        "env_kwargs": kwargs,
        "states": seeds,
        "episode_steps": args.episode_steps,
        "tries": args.tries,
        "means": summary,
        "choice_minus_luck": tests,
    }
    print(json.dumps(record))
    return record


if __name__ == "__main__":
    main()

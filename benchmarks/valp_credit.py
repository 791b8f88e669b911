"""How much of a VALP step's reward is the operator, and how much is noise: with and without
``credit="control"``.

Fixed states (``--states`` reset seeds of the env) each get ``--actions`` valid actions (drawn
once per state) and each action is tried ``--repeats`` times from the same state under
independent training noise (:meth:`VALPEnv.fork` with a seed per repeat). Per state, a one-way
ANOVA of the rewards across actions gives the *operator-to-noise variance ratio* F (the variance
between the actions' mean rewards over the variance within an action's repeats, scaled as in
scipy's ``f_oneway``; F ~ 1: the operator choice is lost in the noise) and its p-value. It is
measured under ``credit="parent"`` (the reward compares the candidate with the model it came
from, so it includes the progress of the extra training) and ``credit="control"`` (the
candidate against a copy of the current model trained on the same batches). The *training
share* is the mean log-ratio reward of the control itself against the parent: what training
alone earns in a step, and the *training acceptance* how often the control alone would pass the
paper's 2-of-3 test against the parent (what ``credit="parent"`` accepts without any operator).

    python benchmarks/valp_credit.py [--env nasgym/VALP-v0] [--env-kwargs JSON] \\
        [--states 4] [--actions 6] [--repeats 3]

Prints per-state figures, then one JSON line with both credits side by side.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym  # noqa: E402

import nasgym  # noqa: E402, F401  (registers the envs)

CREDITS = ("parent", "control")


def log_ratio(before: dict[str, float], after: dict[str, float]) -> float:
    """Mean over outputs of log(before / after), as the env's default reward."""
    return float(np.mean([math.log(max(before[k], 1e-6) / max(after[k], 1e-6)) for k in before]))


def measure_state(env, seed: int, n_actions: int, repeats: int) -> dict[str, dict[str, float]]:
    """F, p and mean rewards of one state under both credits."""
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    valid = np.flatnonzero(env.action_masks())
    actions = rng.choice(valid, size=min(n_actions, len(valid)), replace=False)
    out = {}
    for credit in CREDITS:
        env.credit = credit
        groups, training, accepted, control_accepted = [], [], [], []
        for a in actions:
            rewards = []
            for r in range(repeats):
                twin = env.fork(seed=10_000 * (r + 1) + seed)
                parent = dict(twin._objectives)
                _, reward, _, _, info = twin.step(int(a))
                if info["diverged"]:
                    continue
                rewards.append(reward)
                accepted.append(bool(info["accepted"]))
                if "control_objectives" in info:
                    control = info["control_objectives"]
                    training.append(log_ratio(parent, control))
                    # would training alone pass the paper's test against the parent?
                    control_accepted.append(sum(control[k] < parent[k] for k in parent) >= 2)
            if len(rewards) >= 2:
                groups.append(rewards)
        f, p = stats.f_oneway(*groups) if len(groups) >= 2 else (float("nan"), float("nan"))
        out[credit] = {
            "F": float(f),
            "p": float(p),
            "mean_reward": float(np.mean([np.mean(g) for g in groups])),
            "between_sd": float(np.std([np.mean(g) for g in groups], ddof=1)),
            "within_sd": float(np.sqrt(np.mean([np.var(g, ddof=1) for g in groups]))),
            "training_reward": float(np.mean(training)) if training else float("nan"),
            "accept_rate": float(np.mean(accepted)) if accepted else float("nan"),
            "training_accept_rate": float(np.mean(control_accepted))
            if control_accepted
            else float("nan"),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="nasgym/VALP-v0")
    parser.add_argument("--env-kwargs", default="{}")
    parser.add_argument("--states", type=int, default=4)
    parser.add_argument("--actions", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = gym.make(args.env, **json.loads(args.env_kwargs)).unwrapped
    per_state = []
    for seed in range(args.states):
        result = measure_state(env, 500 + seed, args.actions, args.repeats)
        per_state.append(result)
        print(
            f"state {seed}: "
            + "  ".join(
                f"{c}: F={r['F']:.2f} (p={r['p']:.3f}) between sd {r['between_sd']:.4f} "
                f"within sd {r['within_sd']:.4f} mean {r['mean_reward']:+.4f}"
                for c, r in result.items()
            ),
            flush=True,
        )
    summary = {}
    for c in CREDITS:
        fs = [s[c]["F"] for s in per_state if math.isfinite(s[c]["F"])]
        summary[c] = {
            "median_F": float(np.median(fs)) if fs else float("nan"),
            "states_p_below_0.05": int(sum(s[c]["p"] < 0.05 for s in per_state)),
            "mean_reward": float(np.mean([s[c]["mean_reward"] for s in per_state])),
            "accept_rate": float(np.mean([s[c]["accept_rate"] for s in per_state])),
        }
    training = [s["control"]["training_reward"] for s in per_state]
    summary["control"]["training_reward"] = float(np.nanmean(training))
    summary["control"]["training_accept_rate"] = float(
        np.nanmean([s["control"]["training_accept_rate"] for s in per_state])
    )
    print(
        f"median F: parent {summary['parent']['median_F']:.2f}, "
        f"control {summary['control']['median_F']:.2f}; "
        f"states with p < 0.05: parent {summary['parent']['states_p_below_0.05']}, "
        f"control {summary['control']['states_p_below_0.05']} of {len(per_state)}; "
        f"training alone earns {summary['control']['training_reward']:+.4f} a step and would "
        f"pass the paper's test {summary['control']['training_accept_rate']:.0%} of the time; "
        f"accepted: parent {summary['parent']['accept_rate']:.0%}, "
        f"control {summary['control']['accept_rate']:.0%}"
    )
    print(
        json.dumps(
            {
                "benchmark": "valp_credit",
                "env": args.env,
                "env_kwargs": json.loads(args.env_kwargs),
                "states": args.states,
                "actions": args.actions,
                "repeats": args.repeats,
                **{f"{c}_{k}": v for c in CREDITS for k, v in summary[c].items()},
                "F_ratio_control_over_parent": summary["control"]["median_F"]
                / summary["parent"]["median_F"],
            }
        )
    )


if __name__ == "__main__":
    main()

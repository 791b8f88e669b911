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

An outcome's *improvement* is measured against the state's current model, on validation
(``objectives``) and on test (``test_objectives``; the env needs ``test_samples``), in several
measures (``--measure``, default all):

- ``log``: the mean over outputs of log(current / candidate objective), what the metamodel
  learns (the primary measure of the runs written down before they ran);
- ``log:<output>``: that output's log ratio alone, to see which output the noise comes from;
- ``hypervolume``: the hypervolume of the candidate's objective point in the env's box
  (``objective_spec``) minus the current model's, the bench's own measure, in which an output
  near its ideal counts for little however its log ratio moves.

Per state, design and measure, the *gain* is the improvement of the validation-best outcome
(best by that measure) minus the mean over the ``tries`` (what a blind pick expects), on
validation and on test; the *optimism* is their difference. Across states: means, and paired
Wilcoxon tests of choice against luck (two-sided) and of each test gain against 0.

``--agents metamodel,rules``: at each state, each named agent (built fresh, seeded with the
state's seed) picks from the state's observation, and its pick is stepped on the same training
draw as the *choice* outcomes. Its gain is its pick's improvement minus their mean (a blind
pick's expectation on that draw), per measure, tested against 0 (two-sided): what an agent
reading the state captures per step of what the look-ahead's choice earns, with the training
noise paired out. Its *upside* is the positive part of its pick's improvement on test, against
the mean of the 8 outcomes' positive parts (a blind pick's expectation): what a candidate can
add to an episode's archive, where a candidate worse than the control costs little.

``--where 'sample>100'`` analyses only the states whose current model meets a condition on one
output's validation objective (e.g. a broken sampler), with ``--from`` a stored measurement's.

    NASGYM_DATA_DIR=../shared/data python benchmarks/choice_vs_luck.py --states 0-23 \\
        --episode-steps 20 --env-kwargs '{"dataset": "mnist", "initial_batches": 250, \\
        "step_batches": 50, "eval_samples": 2000, "test_samples": 5000}' --workers 2

Prints per-state figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym._provenance import code_version, compute_platform  # noqa: E402
from nasgym.bench.jobs import parse_seeds  # noqa: E402
from nasgym.bench.store import atomic_write  # noqa: E402
from nasgym.indicators import hypervolume  # noqa: E402
from nasgym.stats import paired_wilcoxon  # noqa: E402

DESIGNS = ("choice", "luck")


def improvement(
    before: dict[str, float],
    after: dict[str, float],
    measure: str = "log",
    box: dict[str, tuple[float, float]] | None = None,
) -> float:
    """``after``'s improvement on ``before`` (objectives are lower-is-better) in ``measure``:
    ``log`` (mean over outputs of log(before / after)), ``log:<output>`` or ``hypervolume``
    (single-point hypervolume in ``box`` of ``after`` minus that of ``before``)."""
    if any(not math.isfinite(v) for v in after.values()):
        return -math.inf
    if measure == "hypervolume":
        if box is None:
            raise ValueError("the hypervolume measure needs the env's box")
        bounds = [box[k] for k in before]
        return hypervolume([[after[k] for k in before]], bounds) - hypervolume(
            [[before[k] for k in before]], bounds
        )
    keys = [measure.split(":", 1)[1]] if measure.startswith("log:") else list(before)
    return float(np.mean([math.log(max(before[k], 1e-9) / max(after[k], 1e-9)) for k in keys]))


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


def rebuild(env_id: str, kwargs: dict, seed: int, steps: int) -> tuple[Any, dict, Any]:
    """The state of ``seed``: the env after ``reset(seed)`` and ``steps`` uniformly random valid
    steps, its observation, and the generator that drew them (it draws on from there)."""
    import gymnasium as gym

    import nasgym  # noqa: F401  (registers the envs)

    env = gym.make(env_id, **kwargs).unwrapped
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        obs = env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))[0]
    return env, obs, rng


def measure_state(
    env_id: str,
    kwargs: dict,
    seed: int,
    steps: int,
    tries: int,
    agents: Sequence[str] = (),
    agent_kwargs: dict[str, dict] | None = None,
) -> dict:
    """Both designs at the state reached by ``steps`` random valid steps from ``reset(seed)``,
    and the pick of each of ``agents`` (built fresh with its ``agent_kwargs`` entry, seeded with
    ``seed``) on the same draw."""
    from agents import make_agent

    if "test_samples" not in kwargs:
        raise SystemExit("give the env test_samples: the gains are measured on test rows")
    env, obs, rng = rebuild(env_id, kwargs, seed, steps)
    current = dict(env._objectives)
    current_test = env._score_test(env._model)
    valid = np.flatnonzero(env.action_masks())
    actions = rng.choice(valid, size=min(tries, len(valid)), replace=False)
    draws = rng.integers(2**31, size=tries)

    def outcome(twin, action: int) -> tuple[dict, dict]:
        got = twin.step(int(action))[4]
        return dict(got["objectives"]), dict(got["test_objectives"])

    def agent_outcome(name: str) -> tuple[str, tuple[dict, dict]]:
        agent = make_agent(name, env, seed=seed, **(agent_kwargs or {}).get(name, {}))
        action = int(np.asarray(agent.predict(obs)[0]).reshape(-1)[0])
        return env.action_table.label(action), outcome(env.fork(), action)

    return {
        "seed": seed,
        "valid": len(valid),
        "current": (current, current_test),
        "box": {k: tuple(v) for k, v in env.objective_spec.items()},
        "choice": [outcome(env.fork(), a) for a in actions],
        "luck": [outcome(env.fork(int(d)), actions[0]) for d in draws],
        "labels": [env.action_table.label(int(a)) for a in actions],
        "agents": {name: agent_outcome(name) for name in agents},
        "code": code_version(),  # a measurement resumed across sessions may span commits
        "platform": compute_platform(),
    }


#: what a ``--raw`` file's states were measured under: a rerun with the same reuses them
SETTING = ("env", "env_kwargs", "episode_steps", "tries", "agents", "agent_kwargs")


def measure_states(
    setting: dict,
    seeds: list[int],
    workers: int,
    raw: str | None,
    measure: Callable[[int], dict] | None = None,
) -> list[dict]:
    """``measure(seed)`` of every seed (by default :func:`measure_state` under ``setting``),
    ``workers`` at a time. With ``raw``, the file is rewritten (atomically) as each state ends,
    and the states it already holds under the same ``setting`` are read back, not measured
    again: an interrupted run goes on where it stopped."""
    done: dict[int, dict] = {}
    path = Path(raw) if raw else None
    if path is not None and path.exists():
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise SystemExit(f"--raw {raw} is not a readable measurement ({exc})") from exc
        theirs = {k: stored.get(k) for k in setting}
        if theirs != setting:
            raise SystemExit(
                f"--raw {raw} holds a measurement of another setting ({theirs}); give another file"
            )
        done = {int(st["seed"]): st for st in stored["states"]}
        print(f"{raw}: {sum(s in done for s in seeds)} of {len(seeds)} states stored")

    def keep() -> None:
        if path is not None:
            states = [done[s] for s in sorted(done)]
            atomic_write(path, json.dumps({**setting, "states": states}).encode())

    if measure is None:
        env_id, kwargs, steps, tries, names, agent_kwargs = (setting[k] for k in SETTING)
        measure = partial(measure_state, env_id, kwargs, steps=steps, tries=tries,
                          agents=names, agent_kwargs=agent_kwargs)  # fmt: skip
    todo = [s for s in seeds if s not in done]
    if workers <= 1:  # in this process
        for s in todo:
            done[s] = measure(s)
            keep()
        return [done[s] for s in seeds]
    with ProcessPoolExecutor(workers) as pool:
        futures = {pool.submit(measure, s): s for s in todo}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            keep()
    return [done[s] for s in seeds]


def state_gains(state: dict, measure: str) -> dict[str, dict[str, float]]:
    """Per design, the :func:`gains` of one measured state in ``measure``; per agent, its pick's
    improvement minus the mean of the ``choice`` outcomes (a blind pick on the same draw)."""
    (cur, cur_test), box = state["current"], state["box"]

    def score(v: dict, t: dict) -> tuple[float, float]:
        return improvement(cur, v, measure, box), improvement(cur_test, t, measure, box)

    scored = {d: [score(v, t) for v, t in state[d]] for d in DESIGNS}
    out = {d: gains(scored[d]) for d in DESIGNS}
    finite = np.array([o for o in scored["choice"] if all(map(math.isfinite, o))])
    blind, blind_upside = finite.mean(axis=0), np.maximum(finite[:, 1], 0.0).mean()
    for name, (_, (v, t)) in state.get("agents", {}).items():
        got = score(v, t)
        out[name] = {
            "gain validation": got[0] - blind[0],
            "gain test": got[1] - blind[1],
            "upside test": max(got[1], 0.0),
            "blind upside test": float(blind_upside),
        }
    return out


_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


def where_parts(where: str) -> tuple[str, str, str]:
    """``--where``'s output, operator and number, e.g. ``("sample", ">", "100")``."""
    found = re.fullmatch(r"\s*(\w+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*", where)
    if found is None:
        raise SystemExit(f"--where must read OUTPUT<NUMBER (or <=, >, >=), got {where!r}")
    return found.group(1), found.group(2), found.group(3)


def meets(objectives: dict, where: str, outputs: Sequence[str]) -> bool:
    """Whether ``objectives`` (output -> value) meet ``where`` (``OUTPUT OP NUMBER``, e.g.
    ``sample>100``; operators <, <=, >, >=)."""
    output, op, number = where_parts(where)
    if output not in outputs:
        raise SystemExit(f"--where names output {output!r}; the states have {list(outputs)}")
    try:
        bound = float(number)
    except ValueError:
        raise SystemExit(f"--where: {number!r} is not a number") from None
    return bool(_COMPARE[op](objectives[output], bound))


def select_states(states: list[dict], where: str, outputs: Sequence[str]) -> list[dict]:
    """The states whose current model's validation objectives meet ``where`` (:func:`meets`)."""
    kept = [st for st in states if meets(st["current"][0], where, outputs)]
    if not kept:
        raise SystemExit(f"--where {where!r}: no state of {len(states)} meets it")
    return kept


def main(argv: list[str] | None = None) -> dict:
    """Measure, print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="nasgym/VALP-Paper-v0")
    parser.add_argument("--env-kwargs", default="{}")
    parser.add_argument("--states", default="0-23", help="reset seeds (e.g. 0-23)")
    parser.add_argument("--episode-steps", type=int, default=20)
    parser.add_argument("--tries", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--measure",
        default="all",
        help="log, log:<output>, hypervolume, or 'all' (each of them; default)",
    )
    parser.add_argument(
        "--raw",
        help="keep every measured outcome (objectives per state) in this JSON file, rewritten "
        "as each state ends; a rerun with the same setting measures only the states not in it",
    )
    parser.add_argument(
        "--from",
        dest="source",
        help="analyse a --raw file instead of measuring (its env, states and agents)",
    )
    parser.add_argument(
        "--where",
        help="analyse only the states whose current model meets a condition on one output's "
        "validation objective, e.g. 'sample>100' (operators <, <=, >, >=); the raw file keeps all",
    )
    parser.add_argument(
        "--agents",
        default="",
        help="comma-separated agents whose pick at each state is scored against a blind pick",
    )
    parser.add_argument(
        "--agent-kwargs",
        default="{}",
        help='JSON of each agent\'s arguments, e.g. \'{"rules": {"thresholds": "FILE"}}\'',
    )
    args = parser.parse_args(argv)
    if args.tries < 2:
        raise SystemExit(f"--tries must be >= 2, got {args.tries}")
    if args.source:
        raw = json.loads(Path(args.source).read_text())
        args.env, kwargs, states = raw["env"], raw["env_kwargs"], raw["states"]
        args.episode_steps, args.tries = raw["episode_steps"], raw["tries"]
        seeds = [st["seed"] for st in states]
        names = list(states[0].get("agents", {}))
    else:
        kwargs, seeds = json.loads(args.env_kwargs), list(parse_seeds(args.states))
        names = [a for a in args.agents.split(",") if a]
        agent_kwargs = json.loads(args.agent_kwargs)
        unknown = sorted(set(agent_kwargs) - set(names))
        if unknown:
            raise SystemExit(f"--agent-kwargs names agents not in --agents: {unknown}")
        setting = {"env": args.env, "env_kwargs": kwargs, "episode_steps": args.episode_steps,
                   "tries": args.tries, "agents": names, "agent_kwargs": agent_kwargs}  # fmt: skip
        states = measure_states(setting, seeds, args.workers, args.raw)
    outputs = list(states[0]["current"][0])
    if args.where:
        states = select_states(states, args.where, outputs)
        seeds = [st["seed"] for st in states]
    measures = (
        ["log", *(f"log:{o}" for o in outputs), "hypervolume"]
        if args.measure == "all"
        else [args.measure]
    )
    for m in measures:
        if m not in ("log", "hypervolume") and m.removeprefix("log:") not in outputs:
            raise SystemExit(f"--measure must be log, log:<one of {outputs}>, hypervolume or all")
    where = f" where {args.where}" if args.where else ""
    print(
        f"{args.env} {kwargs}: {len(seeds)} states{where} after {args.episode_steps} random steps"
    )
    summary: dict[str, dict] = {}
    tests: dict[str, dict] = {}
    for m in measures:
        per_state = [state_gains(st, m) for st in states]
        keys = list(per_state[0]["choice"])
        print(f"measure {m}:")
        for st, g in zip(states, per_state, strict=True):
            cells = "; ".join(
                f"{d} " + ", ".join(f"{k} {g[d][k]:+.4f}" for k in keys) for d in DESIGNS
            )
            print(f"  seed {st['seed']}: {cells}")
        summary[m], tests[m] = {}, {}
        for d in DESIGNS:
            summary[m][d] = {k: float(np.mean([g[d][k] for g in per_state])) for k in keys}
            res = paired_wilcoxon(
                [g[d]["gain test"] for g in per_state], [0.0] * len(states), "greater"
            )
            summary[m][d]["gain test vs 0"] = res
            print(
                f"  {d}: " + ", ".join(f"{k} {summary[m][d][k]:+.4f}" for k in keys)
                + f"; gain test > 0: p = {res['p']:.2g}"
            )  # fmt: skip
        for name in names:
            summary[m][name] = {}
            for k in ("gain validation", "gain test"):
                vals = [g[name][k] for g in per_state]
                res = paired_wilcoxon(vals, [0.0] * len(vals))
                summary[m][name][k] = {"mean": float(np.mean(vals)), **res}
                print(
                    f"  {name} pick - blind pick, {k}: mean {np.mean(vals):+.4f}, median "
                    f"{res['median_diff']:+.4f}, r = {res['effect']:+.2f}, p = {res['p']:.2g}"
                )
            up = [g[name]["upside test"] for g in per_state]
            blind_up = [g[name]["blind upside test"] for g in per_state]
            res = paired_wilcoxon(up, blind_up)
            summary[m][name]["upside test"] = {
                "mean": float(np.mean(up)),
                "blind": float(np.mean(blind_up)),
                **res,
            }
            print(
                f"  {name} pick, upside test (positive part of the improvement): "
                f"{np.mean(up):.4f} against {np.mean(blind_up):.4f} for a blind pick "
                f"(r = {res['effect']:+.2f}, p = {res['p']:.2g})"
            )
        for k in keys:
            res = paired_wilcoxon(
                [g["choice"][k] for g in per_state], [g["luck"][k] for g in per_state]
            )
            tests[m][k] = res
            print(
                f"  choice - luck, {k}: median {res['median_diff']:+.4f}, "
                f"r = {res['effect']:+.2f}, p = {res['p']:.2g} (n = {res['n']})"
            )
    record = {
        "benchmark": "choice_vs_luck",
        "env": args.env,
        "env_kwargs": kwargs,
        "states": seeds,
        "episode_steps": args.episode_steps,
        "tries": args.tries,
        "agents": names,
        "picks": {name: [st["agents"][name][0] for st in states] for name in names},
        "measures": measures,
        "means": summary,
        "choice_minus_luck": tests,
    }
    print(json.dumps(record))
    return record


if __name__ == "__main__":
    main()

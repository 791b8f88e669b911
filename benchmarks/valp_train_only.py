"""What a VALP search earns over training alone: episodes in which no operator is ever applied.

Each seed starts the same episode as ``nasgym bench`` does (``reset(seed=s)``: the same initial
VALP, trained for ``initial_batches``), then, for each of ``--steps`` steps, does what the env's
``credit="control"`` path does for its control: a copy of the current model (fresh optimizer
state) is trained for ``step_batches`` batches of a shuffled order drawn from the env's
generator, evaluated, and becomes the current model. No operator, no acceptance test: the
training the search's steps get, without the search.

The run's points are the 60 evaluated models, as a bench run's points are its 60 candidates, and
its hypervolume is computed in the same box (the bench's stored ``objective_spec``) by the same
function. (A bench run's points leave out the controls that replaced its rejected candidates,
which can only lower an agent's hypervolume against this baseline.) Given bench folders of the same env and env kwargs (``--compare``; kwargs that only act
through operators or acceptance, such as ``credit``, may differ: :data:`UNREAD`), it reports, per
agent and setting, paired over the seeds both have:

- hypervolume at the last step, and at steps 20 and 40;
- the chosen model's objectives (the bench's ``current_objectives``; here the last model);
- per output, how far the held model's objective ended above its best along the episode
  (``rise``), and on how many seeds it ended above 1.5 times it (the sampler's Fréchet distance
  climbs under training while its loss falls);
- with ``test_samples`` in the env kwargs (each model also scored on test rows), the test
  hypervolume at the same steps (the test scores of the models on the validation front, as the
  bench summary's) and the chosen model's test scores;

as ``agent - train-only`` medians, the rank-biserial effect and the two-sided Wilcoxon p-value
(positive effect: the agent's search is better than training alone), Holm-adjusted per metric
over the compared agents and settings.

    NASGYM_DATA_DIR=../shared/data python benchmarks/valp_train_only.py --compare runs/heldout \\
        --env-kwargs '{"initial_batches": 250, "step_batches": 50, "eval_samples": 2000}' \\
        --seeds 0-19 --workers 2

``--out DIR`` keeps each seed's episode (its objectives, test scores and box) in
``DIR/results.jsonl`` as soon as it ends, through the bench's crash-safe store (one fsync'ed
line per seed; a torn line left by ``kill -9`` is repaired on the next start), and a rerun with
the same env, kwargs and steps trains only the seeds not stored yet: a long baseline (at the
paper's 5,000 / 1,000 batches a seed takes 6 to 8 min on one core) can span sessions.
``--plot PNG`` draws the hypervolume per step (validation and, with test scores, test; mean and
95 % band over seeds) of training alone beside the compared agents.

Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nasgym import indicators as ind  # noqa: E402
from nasgym._provenance import code_version, compute_platform  # noqa: E402
from nasgym.bench.jobs import parse_seeds  # noqa: E402
from nasgym.bench.records import record_key, run_key  # noqa: E402
from nasgym.bench.results import Run, finite_rows, load_runs, objective_bounds  # noqa: E402
from nasgym.bench.store import ResultsStore  # noqa: E402
from nasgym.stats import holm, paired_wilcoxon  # noqa: E402

CHECKPOINTS = (20, 40)
#: a held objective that ends above this multiple of its best along the episode has "climbed"
CLIMB = 1.5
#: env kwargs a training-only episode never reads (they act through operators or acceptance):
#: bench runs that differ from ``--env-kwargs`` in these only are compared too
UNREAD = ("credit", "acceptance", "operators", "operator_kwargs", "reward", "invalid_action")


def read_kwargs(kwargs: dict) -> dict:
    """``kwargs`` without the entries a training-only episode never reads."""
    return {k: v for k, v in kwargs.items() if k not in UNREAD}


def train_only(
    env_id: str, env_kwargs: dict, steps: int, seed: int
) -> tuple[list[dict], list[dict] | None, dict]:
    """The objectives after each of ``steps`` training-only steps of seed ``seed``'s episode,
    their test scores (None without ``test_samples``) and the env's ``objective_spec`` (the
    hypervolume box)."""
    import gymnasium as gym

    import nasgym  # noqa: F401  (registers the envs)

    env = gym.make(env_id, **env_kwargs).unwrapped
    env.reset(seed=seed)
    out: list[dict] = []
    tested: list[dict] | None = None if env._test is None else []
    for _ in range(steps):
        with env._threads():
            order = env._batch_order(env.step_batches * env._model.valp.batch_size)
            model, result = env.trained_copy(order)
            out.append(env._evaluate(model))
            if tested is not None:
                tested.append(env._score_test(model))
        model.release_training_state()
        env._model = model  # no diagnosis: nothing reads it
        if result.diverged:
            if tested is not None:
                tested.extend([tested[-1]] * (steps - len(tested)))
            out.extend([out[-1]] * (steps - len(out)))
            break
    return out, tested, dict(env.objective_spec)


def run_episodes(
    env_id: str, kwargs: dict, steps: int, seeds: list[int], workers: int, out: str | None
) -> dict[int, tuple]:
    """:func:`train_only` of every seed, ``workers`` at a time; with ``out``, those stored in
    ``out/results.jsonl`` are read, not trained, and each new one is stored as it ends."""
    agent, agent_kwargs = "train-only", {"steps": steps}
    done: dict[int, tuple] = {}
    store = None
    if out is not None:
        store = ResultsStore(out)
        for rec in store.open():
            if record_key(rec) == run_key(env_id, kwargs, agent, rec["seed"], agent_kwargs):
                done[int(rec["seed"])] = (rec["objectives"], rec["tested"], rec["spec"])
        print(f"{out}: {sum(s in done for s in seeds)} of {len(seeds)} seeds stored")
    try:
        with ProcessPoolExecutor(workers) as pool:
            todo = [s for s in seeds if s not in done]
            futures = {pool.submit(train_only, env_id, kwargs, steps, s): s for s in todo}
            for future in as_completed(futures):
                seed = futures[future]
                done[seed] = future.result()
                if store is not None:
                    objs, tested, spec = done[seed]
                    store.append(
                        {"type": "done", "env": env_id, "env_kwargs": kwargs, "agent": agent,
                         "agent_kwargs": agent_kwargs, "seed": seed, "objectives": objs,
                         "tested": tested, "spec": spec, "code": code_version(),
                         "platform": compute_platform()}
                    )  # fmt: skip
    finally:
        if store is not None:
            store.close()
    return {s: done[s] for s in seeds}


def as_run(env_id: str, kwargs: dict, seed: int, episode: tuple) -> Run:
    """A training-only episode as a bench :class:`Run` of agent ``train-only`` (its steps'
    objectives and test scores, its box), so the bench's plots draw it beside the agents."""
    objs, tested, spec = episode
    steps = [
        {"step": i + 1, "objectives": o,
         "info": {f"test_objectives.{n}": v for n, v in (tested[i] if tested else {}).items()}}
        for i, o in enumerate(objs)
    ]  # fmt: skip
    done = {"steps": len(objs), "objective_spec": spec}
    return Run(env_id, kwargs, "train-only", seed, steps, done)


def plot(runs: dict[str, list[Run]], path: str) -> None:
    """Hypervolume against the step, training alone beside the compared agents (mean and 95%
    band over seeds): validation and test side by side where the runs carry test scores."""
    from nasgym.plots import plot_hypervolume, plot_test_hypervolume

    title = f"training alone against the search, {next(iter(runs.values()))[0].label}"
    fig = plot_test_hypervolume(runs, title) or plot_hypervolume(runs, title)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"plot: {path}")


def metrics(
    points: np.ndarray,
    names: list[str],
    bounds: list,
    test: np.ndarray | None = None,
    held: np.ndarray | None = None,
) -> dict[str, float]:
    """Hypervolume at the checkpoints and at the end, and the last model's objectives; with
    ``test`` (the models' test scores), the test hypervolume of the validation front (as the
    bench summary's) at the same steps, and the last model's test scores. ``rise {n}``: the
    held model's objective ``n`` at the end over its best along the episode (1 when it ended at
    its best; above 1 when training or the search let it climb back), from ``held`` (the held
    model's objectives after each step; training alone holds each model it trains)."""
    out = {
        f"hypervolume@{t}": ind.hypervolume(finite_rows(points[:t]), bounds) for t in CHECKPOINTS
    }
    out["hypervolume"] = ind.hypervolume(finite_rows(points), bounds)
    if test is not None:
        for t in (*CHECKPOINTS, None):
            front = ind.nondominated_mask(points[:t])
            key = "test hypervolume" + ("" if t is None else f"@{t}")
            out[key] = ind.hypervolume(finite_rows(test[:t][front]), bounds)
    out.update({f"chosen {n}": float(points[-1, i]) for i, n in enumerate(names)})
    held = points if held is None else held
    out.update(
        {f"rise {n}": float(held[-1, i] / np.nanmin(held[:, i])) for i, n in enumerate(names)}
    )
    if test is not None:
        out.update({f"chosen test {n}": float(test[-1, i]) for i, n in enumerate(names)})
    return out


def main(argv: list[str] | None = None) -> dict:
    """Run the training-only episodes, compare, print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="nasgym/VALP-Paper-v0")
    parser.add_argument("--env-kwargs", default="{}")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seeds", default="0-19")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--compare", action="append", default=[], help="bench folder (repeatable)")
    parser.add_argument(
        "--out", default=None, help="keep each seed's episode in DIR/results.jsonl; resume there"
    )
    parser.add_argument("--plot", default=None, help="PNG of hypervolume per step, all runs")
    args = parser.parse_args(argv)
    kwargs, seeds = json.loads(args.env_kwargs), list(parse_seeds(args.seeds))
    done = run_episodes(args.env, kwargs, args.steps, seeds, args.workers, args.out)
    objectives = {s: objs for s, (objs, _, _) in done.items()}
    tested = {s: t for s, (_, t, _) in done.items()}
    spec = done[seeds[0]][2]
    names, bounds = list(spec), [(float(a), float(b)) for a, b in spec.values()]
    agents: dict[str, dict[int, dict[str, float]]] = {}
    curves = {"train-only": [as_run(args.env, kwargs, s, done[s]) for s in seeds]}
    for folder in args.compare:
        runs = [
            r
            for r in load_runs(folder)
            if r.env == args.env and read_kwargs(r.env_kwargs) == read_kwargs(kwargs) and r.complete
        ]
        if not runs:
            raise SystemExit(f"{folder} holds no complete {args.env} runs with {kwargs}")
        if objective_bounds(runs) != (names, bounds):
            raise SystemExit(f"{folder}: its hypervolume box is not the env's {spec}")
        for run in runs:
            test = run.test_points(names) if tested[seeds[0]] is not None else None
            held = np.array(
                [[(r.get("info") or {}).get(f"current_objectives.{n}", np.nan) for n in names]
                 for r in run.steps], dtype=float,
            )  # fmt: skip
            got = metrics(run.points(names), names, bounds, test, held)
            info = run.last_info()
            got.update(
                {f"chosen {n}": info[f"current_objectives.{n}"] for n in names
                 if f"current_objectives.{n}" in info}
            )  # fmt: skip
            chosen = run.chosen_test(names) if test is not None else None
            got.update({f"chosen test {n}": v for n, v in (chosen or {}).items()})
            extra = {k: v for k, v in run.env_kwargs.items() if k in UNREAD}
            label = run.agent_label + (f" {json.dumps(extra)}" if extra else "")
            agents.setdefault(label, {})[run.seed] = got
            curves.setdefault(label, []).append(run)

    def rows(objs: list[dict] | None) -> np.ndarray | None:
        return None if objs is None else np.array([[o[n] for n in names] for o in objs])

    base = {
        s: metrics(rows(objs), names, bounds, rows(tested[s])) for s, objs in objectives.items()
    }
    keys = list(next(iter(base.values())))
    print(f"training only, {args.env} {kwargs}, {len(seeds)} seeds x {args.steps} steps")
    for k in keys:
        vals = [base[s][k] for s in seeds]
        print(f"  {k}: {np.mean(vals):.4g} +- {np.std(vals, ddof=1):.3g}")
    for label, by_seed in [("training only", base), *sorted(agents.items())]:
        climbs = ", ".join(
            f"{n} {sum(v[f'rise {n}'] > CLIMB for v in by_seed.values())}" for n in names
        )
        print(f"{label}: held model ended above {CLIMB}x its best on (of {len(by_seed)}): {climbs}")
    tests: dict[str, dict[str, dict]] = {}
    for agent, by_seed in sorted(agents.items()):
        shared = [s for s in seeds if s in by_seed]
        print(f"{agent} - training only ({len(shared)} paired seeds):")
        for k in keys:
            a = [by_seed[s][k] for s in shared]
            b = [base[s][k] for s in shared]
            test = paired_wilcoxon(a, b)
            tests.setdefault(agent, {})[k] = {
                "agent_mean": float(np.mean(a)), "train_only_mean": float(np.mean(b)), **test,
            }  # fmt: skip
            lower = k.startswith(("chosen", "rise"))
            r, p = test["effect"], test["p"]
            print(
                f"  {k}: {np.mean(a):.4g} vs {np.mean(b):.4g}, median diff "
                f"{test['median_diff']:+.3g}, r = {'-' if r is None else f'{r:+.2f}'}"
                f"{' (r < 0: agent better)' if lower else ''},"
                f" p = {'-' if p is None else f'{p:.2g}'}"
            )
    labels = sorted(tests)
    for k in keys:  # Holm over the compared agents and settings, per metric
        adjusted = holm([tests[a][k]["p"] for a in labels])
        for a, q in zip(labels, adjusted, strict=True):
            tests[a][k]["p_holm"] = q
    for k in [k for k in ("hypervolume", "test hypervolume") if k in keys and labels]:
        print(f"{k} at the last step, Holm-adjusted over the {len(labels)} compared runs:")
        for a in labels:
            t = tests[a][k]
            q = "-" if t["p_holm"] is None else f"{t['p_holm']:.2g}"
            print(f"  {a}: median diff {t['median_diff']:+.4f}, p (Holm) {q}")
    if args.plot:
        plot(curves, args.plot)
    record = {
        "benchmark": "valp_train_only",
        "env": args.env,
        "env_kwargs": kwargs,
        "steps": args.steps,
        "seeds": seeds,
        "train_only": {k: float(np.mean([base[s][k] for s in seeds])) for k in keys},
        "tests": tests,
    }
    print(json.dumps(record))
    return record


if __name__ == "__main__":
    main()

"""The ``nasgym`` command line: list what is registered, run benches, plot them, run one search.

Exit status: 0 on success, 1 when some run failed, 2 for a bad argument (nothing was run or
written), 3 when ``--stop-after`` or an ``OUT/STOP`` file stopped it starting runs (rerun the same
command to go on), 130 when interrupted (rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nasgym.registry import summary

EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED, EXIT_INTERRUPTED = 1, 2, 3, 130


def _print_table(rows: list[tuple[str, str]]) -> None:
    width = max((len(n) for n, _ in rows), default=0)
    for name, doc in rows:
        print(f"{name:<{width}}  {doc}".rstrip())


def cmd_envs(args: argparse.Namespace) -> int:
    """List the registered nasgym environments (--describe ID: its arguments and defaults)."""
    import nasgym
    from nasgym.envinfo import describe, env_info

    if args.describe:
        from nasgym.bench.jobs import BenchError, check_env

        check_env(args.describe)
        try:
            text = describe(args.describe)
        except (LookupError, OSError, SyntaxError) as err:
            raise BenchError(f"cannot describe {args.describe}: {err}") from None
        print(text)
        return 0
    rows = []
    for env_id in nasgym.env_ids():
        try:
            rows.append((env_id, env_info(env_id).summary))
        except Exception as err:  # noqa: BLE001 - list it anyway, saying why it cannot load
            rows.append((env_id, f"(cannot be read: {err})"))
    _print_table(rows)
    print("\nnasgym envs --describe ID lists an env's arguments and their defaults.")
    return 0


def cmd_agents(args: argparse.Namespace) -> int:
    """List the registered agents."""
    from agents import AGENTS, list_agents

    _print_table([(n, AGENTS.doc(n)) for n in list_agents()])
    return 0


def cmd_spaces(args: argparse.Namespace) -> int:
    """List the registered cell search spaces."""
    from nasgym.spaces import SEARCH_SPACES, list_spaces

    _print_table([(n, SEARCH_SPACES.doc(n)) for n in list_spaces()])
    return 0


def _entries(args: argparse.Namespace) -> tuple[list[Any], str]:
    from nasgym.bench.jobs import (
        DEFAULT_OUT,
        BenchEntry,
        BenchError,
        available_default,
        parse_agent_kwargs,
        parse_env_kwargs,
        parse_list,
        parse_seeds,
    )

    if args.env is None and args.agent is None:
        if args.env_kwargs or args.agent_kwargs or args.seeds or args.steps:
            raise BenchError(
                "--env-kwargs, --agent-kwargs, --seeds and --steps need --env and --agent"
            )
        print("nasgym bench: running the default comparison (nasgym bench --help for options)")
        return available_default(), args.out or DEFAULT_OUT
    if args.env is None or args.agent is None:
        raise BenchError("give both --env and --agent (or neither, for the default comparison)")
    if args.out is None:
        raise BenchError("--out DIR is required with --env and --agent")
    kwargs = parse_env_kwargs(args.env_kwargs)
    seeds = parse_seeds(args.seeds or "5")
    agents = parse_list(args.agent, "agent")
    agent_kwargs = parse_agent_kwargs(args.agent_kwargs, agents)
    entries = [
        BenchEntry(e, agents, seeds, kwargs, args.steps, agent_kwargs)
        for e in parse_list(args.env, "env")
    ]
    return entries, args.out


def cmd_bench(args: argparse.Namespace) -> int:
    """Run agents x envs x seeds, resuming what the output folder already holds."""
    from nasgym.bench import run_bench
    from nasgym.bench.backends import available_cpus
    from nasgym.bench.jobs import BenchError, import_modules, parse_list

    imports = parse_list(args.imports, "import") if args.imports else ()
    import_modules(imports)  # custom agents count as agent names in --agent-kwargs
    entries, out = _entries(args)
    default_job = args.env is None and args.agent is None
    workers = args.workers if args.workers is not None or not default_job else available_cpus()
    if not entries:
        raise BenchError("nothing to run: no entry of the default comparison is registered")
    if args.steps is not None and args.steps < 1:
        raise BenchError(f"--steps must be >= 1, got {args.steps}")
    if args.workers is not None and args.workers < 1:
        raise BenchError(f"--workers must be >= 1, got {args.workers}")
    try:
        report = run_bench(
            entries,
            out,
            backend=args.backend,
            workers=workers,
            ray_address=args.ray_address,
            imports=imports,
            progress=not args.no_progress,
            plots=not args.no_plots,
            restart_partial=args.restart_partial,
            stop_after=stop_after_seconds(args),
            checkpoint_every=checkpoint_seconds(args),
            blind=args.blind,
        )
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; every finished step is in {out}/results.jsonl. "
            "Rerun the same command to resume.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if report.failed:
        print(
            f"{len(report.failed)} run(s) failed (see above); rerun to retry them", file=sys.stderr
        )
        return EXIT_FAILED
    return EXIT_STOPPED if report.not_started else 0


def stop_after_seconds(args: argparse.Namespace) -> float | None:
    """``--stop-after`` in seconds (None when not given)."""
    from nasgym.bench.backends import parse_duration
    from nasgym.bench.jobs import BenchError

    if args.stop_after is None:
        return None
    try:
        seconds = parse_duration(args.stop_after)
    except ValueError as err:
        raise BenchError(f"--stop-after: {err}") from None
    if seconds <= 0:
        raise BenchError(f"--stop-after must be a positive duration, got {args.stop_after!r}")
    return seconds


def checkpoint_seconds(args: argparse.Namespace) -> float:
    """``--checkpoint-every`` in seconds (a duration; 0 turns checkpoints off)."""
    from nasgym.bench.backends import parse_duration
    from nasgym.bench.jobs import BenchError

    try:
        return parse_duration(args.checkpoint_every)
    except ValueError as err:
        raise BenchError(f"--checkpoint-every: {err}") from None


def add_stop_after(p: argparse.ArgumentParser, what: str = "run") -> None:
    p.add_argument(
        "--stop-after",
        default=None,
        metavar="DURATION",
        help=f"start no {what} after DURATION (e.g. 90m, 2h, 1h30m; a bare number is minutes); "
        f"those under way finish and are stored, and the command exits with status 3: rerun it "
        f"to go on. `touch OUT/STOP` does the same while it runs",
    )


def cmd_status(args: argparse.Namespace) -> int:
    """How far a bench folder has got: runs complete and partly stored, per agent, with no
    objective shown (a pre-registered bench stays blind)."""
    from nasgym.bench.status import folder_status, format_status

    try:
        status = folder_status(Path(args.dir))
    except (FileNotFoundError, ValueError) as err:
        print(f"nasgym status: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(status) if args.json else format_status(status))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw the figures (and rewrite the summary) of a bench folder."""
    from nasgym.bench.results import load_runs
    from nasgym.bench.summary import summarize, write_summary
    from nasgym.plots import plot_all

    folder = Path(args.dir)
    try:
        runs = load_runs(folder)
    except (FileNotFoundError, ValueError) as err:
        print(f"nasgym plot: {err}", file=sys.stderr)
        return EXIT_USAGE
    written = plot_all(runs, folder)
    if not args.no_summary:
        write_summary(folder, summarize(runs))
    for path in written:
        print(path)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Sweep eq9/eq10's exponent on NB201 and trace the accuracy/size trade-off (resumable)."""
    from nasgym.bench.jobs import BenchError, parse_agent_kwargs, parse_list, parse_seeds
    from nasgym.sweep import DEFAULT_FRACTIONS, SweepConfig, run_sweep

    agents = parse_list(args.agent, "agent")
    fractions = DEFAULT_FRACTIONS
    if args.fractions:
        try:
            fractions = tuple(float(f) for f in parse_list(args.fractions, "fractions"))
        except ValueError:
            raise BenchError(
                f"--fractions {args.fractions!r}: give numbers in [0, 1], e.g. 0,0.1,0.2"
            ) from None
    try:
        config = SweepConfig(
            datasets=tuple(parse_list(args.datasets, "dataset")),
            agents=tuple(agents),
            seeds=parse_seeds(args.seeds),
            reward=args.reward,
            fractions=fractions,
            device=args.device,
            time_budget=args.budget,
            agent_kwargs=parse_agent_kwargs(args.agent_kwargs, agents),
        )
        config.entries()  # checks the device and data sets before anything runs
    except (ValueError, KeyError) as err:
        raise BenchError(str(err.args[0] if isinstance(err, KeyError) else err)) from None
    try:
        report, _ = run_sweep(
            config,
            args.out,
            workers=args.workers,
            progress=not args.no_progress,
            stop_after=stop_after_seconds(args),
        )
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; every finished step is in {args.out}/results.jsonl. "
            "Rerun the same command to resume.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if report.failed:
        print(f"{len(report.failed)} run(s) failed; rerun to retry them", file=sys.stderr)
        return EXIT_FAILED
    if report.not_started:
        print(
            f"stopped early: {report.not_started} run(s) not started, the tables cover the "
            "stored ones; rerun the same command to go on"
        )
        return EXIT_STOPPED
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Run one agent on one env from one seed and print the best model and front found."""
    from nasgym.bench.jobs import (
        BenchEntry,
        import_modules,
        parse_agent_kwargs,
        parse_env_kwargs,
        parse_list,
        validate,
    )
    from nasgym.bench.runner import run_job
    from nasgym.bench.search import print_search_result

    imports = parse_list(args.imports, "import") if args.imports else ()
    import_modules(imports)
    kwargs = parse_env_kwargs(args.env_kwargs)
    agent_kwargs = parse_agent_kwargs(args.agent_kwargs, (args.agent,))
    entry = BenchEntry(args.env, (args.agent,), (args.seed,), kwargs, args.steps, agent_kwargs)
    validate([entry])
    (job,) = entry.jobs(tuple(imports))
    records = list(run_job(job))
    print_search_result(records)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Write per-output slope thresholds calibrated from a recorded (random-agent) bench run."""
    from nasgym.bench.store import read_records, results_file
    from nasgym.diagnostics.calibrate import (
        calibrate_thresholds,
        gains_from_records,
        write_thresholds,
    )

    folder = Path(args.dir)
    path = results_file(folder) if folder.is_dir() else folder
    if not path.is_file():
        print(f"nasgym calibrate: no results file at {path}", file=sys.stderr)
        return EXIT_USAGE
    steps = [r for r in read_records(path) if r.get("type") == "step"]
    records = [r for r in steps if args.agent is None or r.get("agent") == args.agent]
    if not records:
        present = sorted({str(r.get("agent")) for r in steps})
        print(
            "nasgym calibrate: no step records"
            + (f" of agent {args.agent!r}" if args.agent is not None else "")
            + f" in {path}"
            + (f"; its agents: {', '.join(present)}" if present else ""),
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.check is not None:
        return _check_thresholds(records, args.check, path)
    try:
        thresholds = calibrate_thresholds(
            gains_from_records(records), args.low, args.high, source=str(path)
        )
    except ValueError as err:
        print(f"nasgym calibrate: {err}", file=sys.stderr)
        return EXIT_USAGE
    out = write_thresholds(thresholds, args.out or (path.parent / "thresholds.json"))
    for name, entry in thresholds["outputs"].items():
        print(
            f"{name}: stuck below {entry['stuck_gain']:.3g}, steep above "
            f"{entry['steep_gain']:.3g} (n={thresholds['n'][name]})"
        )
    print(out)
    return 0


def _check_thresholds(records: list[dict], source: str, path: Path) -> int:
    """``nasgym calibrate DIR --check SOURCE``: how thresholds read the recorded steps."""
    from agents.rules import regime_shares

    try:
        shares = regime_shares(records, source)
    except (ValueError, FileNotFoundError) as err:
        print(f"nasgym calibrate: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(f"thresholds {source} on the steps of {path}:")
    for name, row in shares.items():
        print(
            f"{name}: stuck {row['stuck']:.0%}, moderate {row['moderate']:.0%}, "
            f"steep {row['steep']:.0%} (n={row['n']})"
        )
    print(json.dumps({"thresholds": source, "records": str(path), "shares": shares}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``nasgym``."""
    parser = argparse.ArgumentParser(
        prog="nasgym", description="Neural architecture search as Gymnasium environments."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, func in (("envs", cmd_envs), ("agents", cmd_agents), ("spaces", cmd_spaces)):
        p = sub.add_parser(name, help=summary(func), description=summary(func))
        p.set_defaults(func=func)
        if name == "envs":
            p.add_argument(
                "--describe",
                default=None,
                metavar="ID",
                help="show one env's arguments, defaults and what they mean",
            )
    _add_bench(sub)
    _add_sweep(sub)
    from nasgym.characterize.command import add_parser as add_characterize

    add_characterize(sub)
    p = sub.add_parser("plot", help=summary(cmd_plot), description=summary(cmd_plot))
    p.add_argument("dir", help="a bench output folder (holding results.jsonl)")
    p.add_argument("--no-summary", action="store_true", help="do not rewrite summary.md/json")
    p.set_defaults(func=cmd_plot)
    p = sub.add_parser("status", help=summary(cmd_status), description=summary(cmd_status))
    p.add_argument("dir", help="a bench, sweep or study output folder (results.jsonl[.gz])")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("search", help=summary(cmd_search), description=summary(cmd_search))
    p.add_argument("--env", required=True, help="env id, e.g. nasgym/NB201-v0")
    p.add_argument("--agent", required=True, help="agent name (see `nasgym agents`)")
    p.add_argument("--seed", type=int, default=0, help="seed of env and agent (default 0)")
    p.add_argument("--steps", type=int, default=None, help="step limit (default: episode end)")
    p.add_argument("--env-kwargs", default=None, metavar="JSON", help="env kwargs as a JSON object")
    _add_agent_kwargs(p)
    p.add_argument(
        "--import",
        dest="imports",
        default=None,
        metavar="MODULES",
        help="comma list of modules to import first (custom envs/agents)",
    )
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("calibrate", help=summary(cmd_calibrate), description=summary(cmd_calibrate))
    p.add_argument("dir", help="a bench output folder (or its results.jsonl)")
    p.add_argument("--agent", default=None, help="use this agent's steps only (default: all)")
    p.add_argument("--low", type=float, default=0.2, help="stuck quantile (default 0.2)")
    p.add_argument("--high", type=float, default=0.8, help="steep quantile (default 0.8)")
    p.add_argument("--out", default=None, help="thresholds file (default DIR/thresholds.json)")
    p.add_argument(
        "--check",
        default=None,
        metavar="THRESHOLDS",
        help="write nothing: print the share of DIR's steps that these thresholds (a file or a "
        "name: trend, mnist) read as stuck / moderate / steep per output (calibrated on the "
        "same kind of runs: about 20 / 60 / 20 %%)",
    )
    p.set_defaults(func=cmd_calibrate)
    _add_train(sub)
    return parser


def _add_train(sub: Any) -> None:
    """``nasgym train NAME ...``: one sub-verb per registered trainer (nasgym.training)."""
    from nasgym.training import TRAINERS, list_trainers

    p = sub.add_parser("train", help="Train a meta-policy.", description="Train a meta-policy.")
    verbs = p.add_subparsers(dest="trainer", metavar="TRAINER", required=True)
    for name in list_trainers():
        trainer = TRAINERS.get(name)
        q = verbs.add_parser(name, help=summary(trainer), description=summary(trainer))
        trainer.add_arguments(q)
        q.set_defaults(func=_run_trainer(trainer))


def _run_trainer(trainer: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return trainer.run(args)
        except (ValueError, KeyError, FileNotFoundError) as err:
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            print(f"nasgym train {args.trainer}: error: {msg}", file=sys.stderr)
            return EXIT_USAGE

    return run


def _add_bench(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help=summary(cmd_bench),
        description=(
            "Run every agent on every env for every seed (paired: each agent starts from the same "
            "env seed), appending each step to OUT/results.jsonl; then write OUT/summary.md, "
            "OUT/summary.json and OUT/plots/. Rerunning the same command resumes an interrupted "
            "bench. With no --env/--agent it runs the default comparison into runs/default."
        ),
    )
    p.add_argument("--env", default=None, metavar="ID[,ID...]", help="env ids (see `nasgym envs`)")
    p.add_argument("--agent", default=None, metavar="NAME[,NAME...]", help="agent names")
    p.add_argument(
        "--seeds",
        default=None,
        metavar="N|A-B",
        help="N: seeds 0..N-1 (default 5); A-B: seeds A..B inclusive; or a comma list",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        metavar="K",
        help="at most K steps per run (default: until the episode ends)",
    )
    p.add_argument("--out", default=None, metavar="DIR", help="output folder")
    p.add_argument(
        "--env-kwargs",
        default=None,
        metavar="JSON",
        help='env kwargs as a JSON object, e.g. \'{"dataset": "cifar100"}\'',
    )
    _add_agent_kwargs(p)
    p.add_argument(
        "--backend",
        default="local",
        choices=("local", "ray"),
        help="local: this machine (process pool with --workers); ray: one Ray task per run",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="W",
        help="parallel runs (default 1, or every CPU for the default comparison; "
        "ray: the CPUs local Ray may use, default all)",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="address of an existing Ray cluster, e.g. ray://head:10001 or auto (default: start "
        "a local Ray on --workers CPUs); its nodes must have nasgym installed, and --import "
        "modules importable",
    )
    p.add_argument(
        "--import",
        dest="imports",
        default=None,
        metavar="MODULES",
        help="comma list of modules to import first (they register custom envs/agents)",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
    p.add_argument(
        "--blind",
        action="store_true",
        help="compute, write and print no summary or plot (a pre-registered comparison, run "
        "without an interim look; `nasgym status` counts, `nasgym plot` summarises later)",
    )
    p.add_argument(
        "--restart-partial",
        action="store_true",
        help="run partly stored runs anew, their stored steps moved to "
        "DIR/results.superseded.jsonl (for a folder resumed on another CPU or torch, where a "
        "replay would not retrace them)",
    )
    add_stop_after(p)
    p.add_argument(
        "--checkpoint-every",
        default="1",
        metavar="DURATION",
        help="write each run's state to OUT/checkpoints/ at most this often (default 1 minute; "
        "30s, 5m, ...; 0: never), so that a run cut by kill -9 resumes from there rather than "
        "replaying from its seed",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench)


def _add_sweep(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help=summary(cmd_sweep),
        description=(
            "Run each agent on nasgym/NB201-v0 under eq9 (or eq10) at each exponent of a grid "
            "calibrated per data set (fractions of the exponent at which the smallest cell "
            "becomes the reward's optimum), from paired seeds; store every step in "
            "OUT/results.jsonl (rerun to resume) and write OUT/sweep.md, OUT/sweep.json and "
            "OUT/plots/sweep.png: the chosen cells over the true front, IGD+ and paired tests."
        ),
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--agent", default="reinforce,random,rea", metavar="NAME[,NAME...]", help="agent names"
    )
    p.add_argument(
        "--datasets",
        default="cifar10,cifar100,ImageNet16-120",
        metavar="DS[,DS...]",
        help="NB201 data sets (default all three)",
    )
    p.add_argument("--seeds", default="20", metavar="N|A-B", help="paired seeds (default 20)")
    p.add_argument("--reward", default="eq9", choices=("eq9", "eq10"), help="scalarisation")
    p.add_argument(
        "--fractions",
        default=None,
        metavar="F[,F...]",
        help="grid as fractions of the saturation exponent (default 0,0.05,0.1,0.15,0.2,0.3,0.45)",
    )
    p.add_argument("--device", default="pixel3", help="latency device of eq10 (default pixel3)")
    p.add_argument(
        "--budget", type=float, default=12000.0, help="simulated seconds per search (12000)"
    )
    _add_agent_kwargs(p)
    p.add_argument("--workers", type=int, default=None, metavar="W", help="parallel runs")
    add_stop_after(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)


def _add_agent_kwargs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--agent-kwargs",
        default=None,
        metavar="JSON",
        help="agent kwargs as a JSON object: one object for every agent, e.g. "
        """'{"epsilon": 0.1}', or keyed by agent name, e.g. '{"rules": {"slopes": "relative"}, """
        """"reinforce": {"batch_size": 8}}' (the keyed form is used when every key names an """
        "agent and every value is an object; agents not named get none). Part of a run's "
        "identity: runs with other agent kwargs are stored and summarised apart",
    )


def _short_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> str:
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nasgym`` console script."""
    args = build_parser().parse_args(argv)
    old_format, warnings.formatwarning = warnings.formatwarning, _short_warning
    try:
        return int(args.func(args) or 0)
    except ValueError as err:
        # imported here: nasgym.bench is not needed to list envs, which must answer fast
        from nasgym.bench.jobs import BenchError

        if not isinstance(err, BenchError):
            raise
        print(f"nasgym {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader of the output went away (``nasgym envs | head``): stop quietly, and keep
        # the interpreter's final flush of stdout from raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    finally:
        warnings.formatwarning = old_format


if __name__ == "__main__":
    sys.exit(main())

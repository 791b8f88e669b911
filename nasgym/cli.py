"""The ``nasgym`` command line: list what is registered, run benches, plot them, run one search.

Exit status: 0 on success, 1 when some run failed, 2 for a bad argument (nothing was run or
written), 130 when interrupted (rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _first_line(obj: Any) -> str:
    text = (getattr(obj, "__doc__", None) or "").strip()
    return text.splitlines()[0] if text else ""


def _print_table(rows: list[tuple[str, str]]) -> None:
    width = max((len(n) for n, _ in rows), default=0)
    for name, doc in rows:
        print(f"{name:<{width}}  {doc}".rstrip())


def cmd_envs(args: argparse.Namespace) -> int:
    """List the registered nasgym environments."""
    import gymnasium as gym

    import nasgym

    rows = []
    for env_id in nasgym.env_ids():
        try:
            from gymnasium.envs.registration import load_env_creator

            entry = gym.spec(env_id).entry_point
            cls = load_env_creator(entry) if isinstance(entry, str) else entry
            rows.append((env_id, _first_line(cls)))
        except Exception as err:  # noqa: BLE001 - list it anyway, saying why it cannot load
            rows.append((env_id, f"(cannot be loaded: {err})"))
    _print_table(rows)
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
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw the figures (and rewrite the summary) of a bench folder."""
    from nasgym.bench.results import load_runs
    from nasgym.bench.summary import summarize, write_summary
    from nasgym.plots import plot_all

    folder = Path(args.dir)
    try:
        runs = load_runs(folder)
    except FileNotFoundError as err:
        print(f"nasgym plot: {err}", file=sys.stderr)
        return EXIT_USAGE
    written = plot_all(runs, folder)
    if not args.no_summary:
        write_summary(folder, summarize(runs))
    for path in written:
        print(path)
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``nasgym``."""
    parser = argparse.ArgumentParser(
        prog="nasgym", description="Neural architecture search as Gymnasium environments."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, func in (("envs", cmd_envs), ("agents", cmd_agents), ("spaces", cmd_spaces)):
        p = sub.add_parser(name, help=_first_line(func), description=_first_line(func))
        p.set_defaults(func=func)
    _add_bench(sub)
    from nasgym.characterize.command import add_parser as add_characterize

    add_characterize(sub)
    p = sub.add_parser("plot", help=_first_line(cmd_plot), description=_first_line(cmd_plot))
    p.add_argument("dir", help="a bench output folder (holding results.jsonl)")
    p.add_argument("--no-summary", action="store_true", help="do not rewrite summary.md/json")
    p.set_defaults(func=cmd_plot)
    p = sub.add_parser("search", help=_first_line(cmd_search), description=_first_line(cmd_search))
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
    return parser


def _add_bench(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help=_first_line(cmd_bench),
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
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench)


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
    from nasgym.bench.jobs import BenchError

    args = build_parser().parse_args(argv)
    old_format, warnings.formatwarning = warnings.formatwarning, _short_warning
    try:
        return int(args.func(args) or 0)
    except BenchError as err:
        print(f"nasgym {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        warnings.formatwarning = old_format


if __name__ == "__main__":
    sys.exit(main())

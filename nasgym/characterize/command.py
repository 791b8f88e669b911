"""The ``nasgym characterize`` verb: its arguments and the call of :func:`run_characterize`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

DEFAULT_OUT = "runs/characterize"


def parse_operators(text: str) -> tuple[str, ...]:
    """``paper`` (the five macro operators), ``all`` (every registered one) or a comma list."""
    from nasgym.bench.jobs import BenchError
    from nasgym.registration import PAPER_OPERATORS
    from nasgym.valp.operators import OPERATORS

    if text == "paper":
        return tuple(PAPER_OPERATORS)
    if text == "all":
        return tuple(OPERATORS.names())
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise BenchError("--operators is empty: give paper, all, or a comma list of operators")
    for name in names:
        try:
            OPERATORS.get(name)
        except KeyError as err:
            raise BenchError(f"--operators: {err.args[0]}") from None
    return names


def cmd_characterize(args: argparse.Namespace) -> int:
    """Apply every operator variant to clones of random trained VALPs, each against a control."""
    from nasgym.bench.jobs import BenchError
    from nasgym.characterize import StudyConfig, run_characterize
    from nasgym.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_STOPPED, stop_after_seconds

    for name in ("models", "initial_batches", "step_batches", "workers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise BenchError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    try:
        config = StudyConfig(
            dataset=args.dataset,
            data_dir=args.data_dir,
            initial_batches=args.initial_batches,
            step_batches=args.step_batches,
            operators=parse_operators(args.operators),
            per_model=args.per_model,
            eval_samples=args.eval_samples,
            episode_steps=args.episode_steps,
            warmup_batches=args.warmup_batches,
            detach_gentle=args.detach_gentle,
            horizon=args.horizon,
            walk_acceptance=args.walk_acceptance,
        )
    except ValueError as err:
        raise BenchError(str(err)) from None
    seeds = range(args.first_seed, args.first_seed + args.models)
    try:
        report = run_characterize(
            config,
            list(seeds),
            args.out,
            backend=args.backend,
            workers=args.workers,
            ray_address=args.ray_address,
            progress=not args.no_progress,
            stop_after=stop_after_seconds(args),
        )
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; every finished model is in {args.out}/results.jsonl. "
            "Rerun the same command to resume.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if report.failed:
        print(f"{len(report.failed)} model(s) failed (see above); rerun to retry", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_STOPPED if report.not_started else 0


def add_parser(sub: Any) -> None:
    """Add the ``characterize`` verb to the ``nasgym`` subcommands ``sub``."""
    p = sub.add_parser(
        "characterize",
        help=cmd_characterize.__doc__,
        description=(
            "The operator characterization study (the first VALP paper's Sec. VI-B, Figs. 5-7): "
            "random VALPs of the paper preset's setting, trained; every operator variant applied "
            "to clones at each applicable component (or a sample), each retrained beside one "
            "shared control. Writes OUT/results.jsonl (resumable), OUT/records.csv (and .parquet), "
            "OUT/report.md, report.json, thresholds.json and OUT/plots/. Schema: "
            "`python -c 'import nasgym.characterize as c; help(c)'`."
        ),
    )
    p.add_argument("--dataset", default="mnist", help="data set (default mnist, as the paper)")
    p.add_argument(
        "--data-dir", default=None, metavar="DIR", help="data folder (default $NASGYM_DATA_DIR)"
    )
    p.add_argument("--models", type=int, default=8, metavar="N", help="models studied (default 8)")
    p.add_argument("--first-seed", type=int, default=0, metavar="S", help="seeds S..S+N-1")
    p.add_argument("--initial-batches", type=int, default=250, help="batches before (default 250)")
    p.add_argument("--step-batches", type=int, default=50, help="batches after (default 50)")
    p.add_argument(
        "--episode-steps",
        type=int,
        default=0,
        metavar="K",
        help="study the state after K random-agent steps of an episode (default 0: the freshly "
        "trained model)",
    )
    p.add_argument(
        "--walk-acceptance",
        choices=("paper", "changed", "always"),
        default=None,
        help="the acceptance of those K steps (default: the preset's, paper); always keeps every "
        "step, so states a step made worse (a broken sampler) are studied too",
    )
    p.add_argument(
        "--horizon",
        type=int,
        default=0,
        metavar="H",
        help="also train the control and each candidate H more steps (fresh optimizers, shared "
        "batches) and record improve@1..H: the edit's delayed effect (default 0)",
    )
    p.add_argument(
        "--warmup-batches",
        type=int,
        default=0,
        metavar="W",
        help="candidates and controls train their first W batches at a rising learning rate "
        "(the env's warmup_batches; default 0)",
    )
    p.add_argument(
        "--detach-gentle",
        action="store_true",
        help="a gentle add_connection adds a detached connection: the target's losses do not "
        "train the source (the env's operator_kwargs; default off)",
    )
    p.add_argument(
        "--operators",
        default="paper",
        metavar="paper|all|OP,...",
        help="paper: the five macro operators (default); all: all 12; or a comma list",
    )
    p.add_argument(
        "--per-model",
        type=int,
        default=None,
        metavar="K",
        help="at most K applications per model, sampled keeping gentle/aggressive pairs "
        "(default: every applicable one)",
    )
    p.add_argument(
        "--eval-samples",
        type=int,
        default=2000,
        metavar="N",
        help="validation rows evaluated (default 2000)",
    )
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=f"default {DEFAULT_OUT}")
    p.add_argument("--backend", default="local", choices=("local", "ray"))
    p.add_argument(
        "--workers", type=int, default=None, metavar="W", help="parallel models (default 1)"
    )
    p.add_argument("--ray-address", default=None, metavar="ADDR", help="existing Ray cluster")
    from nasgym.cli import add_stop_after

    add_stop_after(p, "model")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_characterize)

"""One unit of the characterization study: one random VALP, every sampled operator application on
clones of it, one shared control, one flat record per application (schema in
:mod:`nasgym.characterize`)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from nasgym.registration import ENV_KWARGS, PAPER_OPERATORS

#: the preset whose setting the study takes (batch size 200, 1-2 networks per output, control
#: credit); data set, budgets and operators are the study's own
PRESET = "nasgym/VALP-Paper-v0"
#: the record type of one finished model in the results store (the bench's run-marker shape)
STUDY_ENV, STUDY_AGENT = "nasgym/characterize", "characterize"


@dataclass(frozen=True)
class StudyConfig:
    """The study's setting; every field but ``data_dir`` is part of a unit's stored key."""

    dataset: str = "mnist"
    data_dir: str | None = None
    initial_batches: int = 250
    step_batches: int = 50
    operators: tuple[str, ...] = PAPER_OPERATORS
    per_model: int | None = None
    eval_samples: int | None = 2000
    diag_samples: int = 200
    batch_size: int = 200
    episode_steps: int = 0
    warmup_batches: int = 0
    detach_gentle: bool = False
    horizon: int = 0
    #: the acceptance of the ``episode_steps`` random steps (None: the preset's, ``"paper"``);
    #: ``"always"`` keeps every step, so the states a step made worse are kept
    walk_acceptance: str | None = None

    def __post_init__(self) -> None:
        from nasgym.envs.valp import ACCEPTANCE_RULES

        if self.walk_acceptance is not None and self.walk_acceptance not in ACCEPTANCE_RULES:
            raise ValueError(
                f"walk_acceptance must be one of {ACCEPTANCE_RULES} (or None), got "
                f"{self.walk_acceptance!r}"
            )
        if not isinstance(self.detach_gentle, bool):
            raise ValueError(f"detach_gentle must be True or False, got {self.detach_gentle!r}")
        if not isinstance(self.warmup_batches, int) or self.warmup_batches < 0:
            raise ValueError(f"warmup_batches must be an int >= 0, got {self.warmup_batches!r}")
        if not isinstance(self.episode_steps, int) or self.episode_steps < 0:
            raise ValueError(f"episode_steps must be an int >= 0, got {self.episode_steps!r}")
        if not isinstance(self.horizon, int) or self.horizon < 0:
            raise ValueError(f"horizon must be an int >= 0, got {self.horizon!r}")
        for name in ("initial_batches", "step_batches", "diag_samples", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.per_model is not None and (
            not isinstance(self.per_model, int) or self.per_model < 2
        ):
            raise ValueError(
                f"per_model must be an int >= 2 (or None for all), got {self.per_model!r}"
            )
        if self.eval_samples is not None and (
            not isinstance(self.eval_samples, int) or self.eval_samples < 4
        ):
            raise ValueError(
                f"eval_samples must be an int >= 4 (or None), got {self.eval_samples!r}"
            )
        if not self.operators:
            raise ValueError("operators must name at least one operator")

    def key(self) -> dict[str, Any]:
        """The fields that identify the study's results (``data_dir`` left out: same data;
        ``episode_steps``, ``warmup_batches``, ``detach_gentle``, ``horizon`` and
        ``walk_acceptance`` only when set, so studies stored before they existed still resume)."""
        out = asdict(self)
        out.pop("data_dir")
        for name in (
            "episode_steps",
            "warmup_batches",
            "detach_gentle",
            "horizon",
            "walk_acceptance",
        ):
            if not out[name]:
                out.pop(name)
        out["operators"] = list(self.operators)
        return out

    def env_kwargs(self) -> dict[str, Any]:
        """The VALP env's arguments: the paper preset with the study's data and budgets."""
        kw = dict(ENV_KWARGS[PRESET])
        kw.update(
            dataset=self.dataset,
            data_dir=self.data_dir,
            initial_batches=self.initial_batches,
            step_batches=self.step_batches,
            operators=tuple(self.operators),
            eval_samples=self.eval_samples,
            batch_size=self.batch_size,
            diagnostics={"samples": self.diag_samples},
            warmup_batches=self.warmup_batches,
        )
        if self.detach_gentle and "add_connection" in self.operators:
            kw["operator_kwargs"] = {"add_connection": {"detach_gentle": True}}
        if self.walk_acceptance is not None:  # only the walk steps; the study trains clones
            kw["acceptance"] = self.walk_acceptance
        return kw


@dataclass(frozen=True)
class Unit:
    """One model of the study: the random VALP drawn and trained from ``seed``."""

    seed: int
    config: StudyConfig
    imports: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """``characterize / seed N``."""
        return f"characterize / seed {self.seed}"

    @property
    def key(self) -> tuple[str, dict[str, Any], int]:
        """(env, kwargs, seed) as the results store keys it."""
        return STUDY_ENV, self.config.key(), self.seed


def variant_order(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ``variant_name`` values of ``rows`` in the operators' fixed order (gentle first)."""
    from nasgym.valp.operators import operator_variants

    fixed = [op if v is None else f"{op}:{v}" for op, v in operator_variants()]
    names = dict.fromkeys(r["variant_name"] for r in rows)
    return sorted(names, key=lambda n: fixed.index(n) if n in fixed else len(fixed))


def select_moves(moves: Sequence[Any], limit: int | None, rng: np.random.Generator) -> list[Any]:
    """The applications studied on one model: every move, or a sample of at most ``limit``.

    The sample keeps whole (operator, target) groups, so gentle and aggressive variants stay
    paired on the same target, and is balanced across operators: groups are shuffled within each
    operator, then taken round-robin over the operators (in random order) while they fit."""
    if limit is None or len(moves) <= limit:
        return list(moves)
    groups: dict[str, dict[str, list[Any]]] = {}
    for m in moves:
        groups.setdefault(m.operator, {}).setdefault(m.target, []).append(m)
    queues = []
    for op in sorted(groups):
        targets = sorted(groups[op])
        queues.append([groups[op][targets[i]] for i in rng.permutation(len(targets))])
    queues = [queues[i] for i in rng.permutation(len(queues))]
    chosen: list[Any] = []
    while any(queues):
        for q in queues:
            if q and len(chosen) + len(q[0]) <= limit:
                chosen.extend(q.pop(0))
            elif q:
                q.pop(0)
    return chosen


def run_unit(
    unit: Unit, have: Any = (), stored: Any = None, platform: Any = None
) -> Iterator[dict[str, Any]]:
    """The backend runner of the study: yields the unit's one store record (``have``, ``stored``
    and ``platform`` are the bench runner's resume arguments; a stored unit is never rerun). The
    record names the code and the platform that studied the model (:mod:`nasgym._provenance`)."""
    import nasgym.valp.operators  # noqa: F401  (registers the operators in worker processes)
    from nasgym._provenance import code_version, compute_platform
    from nasgym.bench.jobs import import_modules

    import_modules(unit.imports)
    t0 = time.perf_counter()
    apps = study_model(unit.config, unit.seed)
    env, kwargs, seed = unit.key
    yield {
        "type": "done",
        "env": env,
        "env_kwargs": kwargs,
        "agent": STUDY_AGENT,
        "seed": seed,
        "applications": apps,
        "wall_s": round(time.perf_counter() - t0, 3),
        "code": code_version(),
        "platform": compute_platform(),
    }


def study_model(config: StudyConfig, seed: int) -> list[dict[str, Any]]:
    """Draw and train the model of ``seed`` (then, with ``config.episode_steps`` = K, take K
    steps of an episode with uniformly random valid actions, so the state studied is one an
    agent meets mid-episode), apply the sampled operator variants to clones, retrain each with
    one shared control on the same batches; one record per application. With
    ``config.horizon`` = H, the control and each candidate then go on training for H more
    steps of ``step_batches`` (a fresh optimizer each step, as the env's next controls do; the
    same batches and noise for all), evaluated after each: the edit's delayed effect."""
    from nasgym.envs.valp import VALPEnv

    env = VALPEnv(**config.env_kwargs())
    env.reset(seed=int(seed))
    if config.episode_steps >= env.max_steps:
        raise ValueError(
            f"episode_steps ({config.episode_steps}) must be below the episode's {env.max_steps} steps"
        )
    walk = np.random.default_rng([int(seed), 1])  # the walk's own stream
    lowest = dict(env._objectives)  # per output, the lowest the held model had in the episode
    for _ in range(config.episode_steps):
        env.step(int(walk.choice(np.flatnonzero(env.action_masks()))))
        lowest = {k: min(v, env._objectives[k]) for k, v in lowest.items()}
    model, diag, rng, gen = env._model, env._diagnosis, env.np_random, env._gen
    before = dict(env._objectives)
    moves = select_moves(list(env._plan()[1].values()), config.per_model, rng)
    with env._threads():
        candidates = [(m, _apply(env, m)) for m in moves]
        bs = max([model.valp.batch_size] + [c.valp.batch_size for _, c in candidates])
        order = env._batch_order(config.step_batches * bs)
        state = gen.get_state()
        control = model.clone()
        t0 = time.perf_counter()
        control_obj, control_gain, control_div = _train_eval(env, control, order, state)
        control_s = time.perf_counter() - t0
        # the later steps' batches and noise, shared by the control and every candidate
        later = []
        for _ in range(config.horizon):
            later.append((env._batch_order(config.step_batches * bs), gen.get_state()))
        control_later = [_continue(env, control, o, st) for o, st in later]
        base = _state_columns(env, model, diag, before, seed, lowest)
        records = []
        for i, (move, cand) in enumerate(candidates):
            t0 = time.perf_counter()
            obj, gain, diverged = _train_eval(env, cand, order, state)
            rec = {**base, "app": i, **_move_columns(env, move, diag)}
            for name in env.output_names:
                rec[f"obj_after.{name}"] = obj[name]
                rec[f"obj_control.{name}"] = control_obj[name]
                rec[f"improve.{name}"] = _log_ratio(control_obj[name], obj[name])
                rec[f"gain_after.{name}"] = gain[name]
                rec[f"gain_control.{name}"] = control_gain[name]
            for h, ((o, st), ctrl) in enumerate(zip(later, control_later, strict=True), start=1):
                obj_h = _continue(env, cand, o, st) if not diverged else {}
                for name in env.output_names:
                    after = obj_h.get(name, math.inf)
                    rec[f"obj_after@{h}.{name}"] = after
                    rec[f"obj_control@{h}.{name}"] = ctrl[name]
                    rec[f"improve@{h}.{name}"] = _log_ratio(ctrl[name], after)
            _summary_columns(rec, env.output_names, diverged, control_div)
            rec["train_s"] = round(time.perf_counter() - t0, 4)
            rec["control_train_s"] = round(control_s, 4)
            records.append(rec)
    return records


def _apply(env: Any, move: Any) -> Any:
    """``move`` applied to a clone of the env's model (a choice inside the target drawn as the
    env draws it)."""
    return env.apply_move(move)


def _train_eval(
    env: Any, model: Any, order: Any, state: Any
) -> tuple[dict[str, float], dict[str, float], bool]:
    """Train ``model`` on ``order`` and evaluate it, each from the generator state ``state`` (the
    same sampler noise for every model); its objectives, lineage gains, and whether it diverged."""
    from nasgym.diagnostics.slope import loss_trend
    from nasgym.valp.train import train

    env._gen.set_state(state)
    result = train(
        model, env._train, env.step_batches, env._gen, order=order, warmup=env.warmup_batches
    )
    env._gen.set_state(state)
    obj = env._evaluate(model)
    floors = env._diag_data.floors
    gains = {
        name: loss_trend(
            [*env._lineage.get(name, []), *result.losses.get(name, [])],
            floors.get(name, 0.0),
            env.step_batches,
        )[0]
        for name in env.output_names
    }
    diverged = bool(result.diverged) or any(math.isinf(v) for v in obj.values())
    return obj, gains, diverged


def _continue(env: Any, model: Any, order: Any, state: Any) -> dict[str, float]:
    """One more step of training for ``model`` with a fresh optimizer, as the env gives the
    model it keeps (its optimizer state dropped) at the next step; its objectives after it."""
    model.release_training_state()
    return _train_eval(env, model, order, state)[0]


def _state_columns(
    env: Any,
    model: Any,
    diag: Any,
    before: Mapping[str, float],
    seed: int,
    lowest: Mapping[str, float],
) -> dict[str, Any]:
    valp = model.valp
    rec: dict[str, Any] = {
        "seed": int(seed),
        "dataset": str(env._kwargs["dataset"]),
        "episode_step": int(env._steps),
        "initial_batches": env.initial_batches,
        "step_batches": env.step_batches,
        "n_networks": len(valp.networks),
        "n_connections": len(valp.connections),
        "model_key": valp.key,
    }
    for name in env.output_names:
        rec[f"obj_before.{name}"] = before[name]
        rec[f"gain_before.{name}"] = diag.gains.get(name, math.nan)
        rec[f"gain_t_before.{name}"] = diag.gain_t.get(name, math.nan)
        rec[f"loss_slope_before.{name}"] = diag.slopes.get(name, math.nan)
        rec[f"rel_slope_before.{name}"] = diag.relative_slopes.get(name, math.nan)
        rec[f"regress_before.{name}"] = regress(before[name], lowest[name])
    return rec


def regress(now: float, lowest: float) -> float:
    """log(now / lowest), how far an objective (lower is better) has risen above the lowest
    the held model had in the episode: 0 at the lowest, about 0.7 at twice it; 0 where either
    is not a positive finite number."""
    ok = math.isfinite(now) and math.isfinite(lowest) and now > 0 and lowest > 0
    return max(math.log(now / lowest), 0.0) if ok else 0.0


def _move_columns(env: Any, move: Any, diag: Any) -> dict[str, Any]:
    op = env._ops[move.operator]
    name = move.operator if move.variant is None else f"{move.operator}:{move.variant}"
    target = move.target
    kind = (
        "network" if target.startswith("n:") else "output" if target.startswith("o:") else "model"
    )
    rec: dict[str, Any] = {
        "operator": move.operator,
        "variant": move.variant or "",
        "variant_name": name,
        "effect": op.effect,
        "target": target,
        "target_type": kind,
        "target.kind": "",
        "target.depth": math.nan,
        "target.width": math.nan,
    }
    valp = env._model.valp
    reached: set[str] = set()
    if kind == "network":
        net = next(n for n in valp.networks if n.id == target)
        rec["target.kind"] = net.kind
        rec["target.depth"] = len(net.layers)
        rec["target.width"] = sum(layer.width for layer in net.layers)
        reached = {o[2:] for o in valp.descendants(target) if o.startswith("o:")}
    for out in env.output_names:
        on = out in reached
        rec[f"target.relevance.{out}"] = (
            diag.relevance.get(target, {}).get(out, math.nan) if on else math.nan
        )
        rec[f"target.dependency_gain.{out}"] = (
            diag.dependency_gain.get((target, out), math.nan) if on else math.nan
        )
        rec[f"target.dependency_error.{out}"] = (
            diag.dependency_error.get((target, out), math.nan) if on else math.nan
        )
    return rec


def _log_ratio(control: float, after: float) -> float:
    """log(control / after): positive when the operator's model beats the control."""
    if not (math.isfinite(control) and math.isfinite(after)) or control <= 0 or after <= 0:
        return math.nan
    return math.log(control / after)


def _summary_columns(
    rec: dict[str, Any], outputs: Sequence[str], diverged: bool, control_div: bool
) -> None:
    gains = [rec[f"improve.{o}"] for o in outputs]
    finite = [g for g in gains if math.isfinite(g)]
    rec["improve"] = float(np.mean(finite)) if len(finite) == len(gains) else math.nan
    better = sum(rec[f"obj_after.{o}"] < rec[f"obj_control.{o}"] for o in outputs)
    rec["better_outputs"] = int(better)
    rec["beats_control"] = bool(not diverged and better > len(outputs) / 2)
    rec["diverged"] = bool(diverged)
    rec["control_diverged"] = bool(control_div)

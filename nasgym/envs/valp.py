"""``nasgym/VALP-v0``: the VALP search (diagnose, then operate) as a Gymnasium environment."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from nasgym._memory import bounded_heap, trim
from nasgym.data import Dataset, load_dataset
from nasgym.diagnostics import Diagnosis, DiagnosticData, ObjectiveArchive, diagnose
from nasgym.diagnostics.dependency import single_threaded_blas
from nasgym.envs.valp_actions import ActionTable
from nasgym.envs.valp_mask import Move, Padding, plan_actions
from nasgym.envs.valp_obs import ObservationBuilder
from nasgym.envs.valp_rewards import VALP_REWARDS
from nasgym.tasks import make_task
from nasgym.valp import VALP, random_valp
from nasgym.valp.evaluate import evaluate
from nasgym.valp.model import VALPModel, build_model, resolve_device
from nasgym.valp.operators import OPERATORS, make_operator, operator_variants
from nasgym.valp.train import cpu_threads, train

#: how a step decides whether the candidate replaces the current model (see the env docstring)
ACCEPTANCE_RULES: tuple[str, ...] = ("paper", "changed", "always")
#: what a step's reward and acceptance compare the candidate with (see the env docstring)
CREDITS: tuple[str, ...] = ("parent", "control")
INVALID_ACTIONS: tuple[str, ...] = ("raise", "penalize")
#: diagnostics options and their defaults
DIAGNOSTICS_DEFAULTS: dict[str, Any] = {
    "samples": 200,
    "dependency": True,
    "slope_window": None,
    "probe_alpha": 1.0,
    "trend_window": None,
}
#: models kept per output as crossover donors (the best ones with distinct descriptors)
DONORS_PER_OUTPUT = 2
#: (ideal, reference) per objective kind, used for tasks other than the default
KIND_SPEC: dict[str, tuple[float, float]] = {
    "classification": (0.0, 1.0),
    "regression": (0.0, 0.1),
    "sampling": (0.0, 300.0),
}

#: the default task's (ideal, reference) per objective and data set: error rate, histogram MSE,
#: Fréchet distance. Ideal 0; each reference is about 1.5-2x the worst value of a freshly trained
#: initial model (the start of every episode) measured over 6 seeds (100-105): digits at
#: VALP-v0's defaults (error <= 0.28, MSE <= 0.0020, Fréchet <= 164), MNIST and Fashion-MNIST at
#: batch 200 after 250 batches (MNIST <= 0.13, 0.00024, 453; Fashion-MNIST <= 0.23, 0.0038, 254).
#: So every output counts in the hypervolume; a data set not listed uses the digits box.
OBJECTIVE_SPECS: dict[str, dict[str, tuple[float, float]]] = {
    "digits": {"class": (0.0, 0.6), "hist": (0.0, 0.004), "sample": (0.0, 300.0)},
    "mnist": {"class": (0.0, 0.25), "hist": (0.0, 0.0005), "sample": (0.0, 700.0)},
    "fashion-mnist": {"class": (0.0, 0.4), "hist": (0.0, 0.008), "sample": (0.0, 400.0)},
}


def step_seed(key: int, step: int) -> int:
    """The seed of step ``step`` of the episode keyed ``key`` (``common_noise``)."""
    return int(np.random.SeedSequence([key, step]).generate_state(1, dtype=np.uint64)[0])


class VALPEnv(gym.Env):
    """Search a VALP (multi-network, multi-task model) by applying variation operators.

    Each episode starts from a random valid VALP for the task, trained for ``initial_batches``.
    Each step applies one operator to one component, retrains the result with inherited weights
    for ``step_batches``, evaluates it on the validation split, diagnoses it and rewards it.

    ## Action Space
    ``Discrete(n_variants * n_slots)``, ``action = variant_index * n_slots + slot``
    (:class:`~nasgym.envs.valp_actions.ActionTable`, ``env.action_table``; ``label(action)`` names
    one). Variants are the (operator, variant) pairs of
    :func:`~nasgym.valp.operators.operator_variants` restricted to ``operators``; gentle and
    aggressive variants are distinct. Slots: ``max_networks`` network slots (slot ``k`` = the
    ``k``-th network in canonical id order), one per output (task order), and the model slot
    (``change_bs``). The mask (``action_masks()``, ``info["action_mask"]``,
    ``obs["action_mask"]``) is exactly the set of actions ``step`` accepts: the slot holds a
    component the operator can apply to, some choice keeps the model within the padding
    (``max_networks``, ``max_connections``, ``max_layers``), and crossover has a donor. The env
    picks the choice inside the target (layer position, source, ...) uniformly among those.
    Crossover's donor for output ``o`` is the model evaluated in this episode, with another
    descriptor than the current one and not diverged, with the lowest objective on ``o``
    (earliest on ties). An invalid action raises ``ValueError``; with
    ``invalid_action="penalize"`` it instead costs a step, gets reward ``-reward_clip`` and
    leaves the model as it is (``info["invalid"]`` True).

    ## Observation Space
    A one-level ``Dict`` described in :mod:`nasgym.envs.valp_obs`: padded adjacency, network
    kind/depth/width, which outputs each network reaches, module-intervention relevance and
    linear-probe dependency per (network, output), input relevance, per-output objectives, loss
    slopes (per step, and relative to the loss level), the unit-free lineage trend of each
    output's loss (``loss_gain``: the projected fraction of its excess loss lost over the next
    step, fitted on the lineage's whole training-loss history; ``loss_gain_t``: whether it
    still falls now, the t-statistic of its slope over the latest step's training), archive ranks, hyperparameters, the budget left and the action mask.

    ## Rewards
    By name (``reward``), from :data:`~nasgym.envs.valp_rewards.VALP_REWARDS`: ``"log-ratio"``
    (default; mean over outputs of log(current objective / candidate objective), clipped to
    ``[-reward_clip, reward_clip]``) or ``"hypervolume"`` (growth of the hypervolume of every
    objective vector seen in the episode, normalised by :attr:`objective_spec`, reference point
    1.0 per objective). A candidate whose training diverged (NaN/inf loss, e.g. a learning rate
    pushed too far) gets ``-reward_clip``, is never accepted, and is reported with
    ``info["diverged"]`` True and infinite objectives; the env never raises for it. The reward
    compares the candidate with the model it came from, whether or not it is accepted.

    Acceptance (``acceptance``): ``"paper"`` keeps the candidate only when it is strictly better
    on more than half of the objectives (two of three on the paper's task), else the current model
    stays; ``"always"`` keeps every non-diverged candidate. ``"changed"`` is the paper's majority
    counted over the objectives the candidate changed: it is kept when it is strictly better on
    more than half of those where it differs from the model it is compared with, ties counting
    for neither side. It matters under ``credit="control"``: an edit confined to a network that
    reaches one output leaves the other outputs' networks training exactly as the control's do,
    so their objectives tie bit for bit and ``"paper"`` can never keep it, however much it
    helped its output. Counted by ``benchmarks/acceptance_ties.py`` on the MNIST records of
    ``docs/heldout/records/crn-mnist-off`` (250 / 50 batches, random and the metamodel): of the
    gentle clones of a network reaching one output, 51 % beat the control on that output and
    30 % tied it on both other objectives; ``"paper"`` kept 19 % of the gentle clones,
    ``"changed"`` would have kept 47 % (all steps: 19 % and 26 %). Tested on MNIST in a comparison
    written down beforehand (``docs/heldout/prereg_changed_acceptance.md``), it did not make
    random beat training alone (test hypervolume 0.707 against 0.687, p = 0.39), so no preset
    uses it.
    Under ``credit="parent"`` the step's training changes every output, ties do not occur and
    the two rules agree.

    Credit (``credit``). ``"parent"``: the reward and the acceptance compare the candidate with
    the model it came from, so they also credit the operator with the progress of the step's
    extra training. ``"control"``: each step also trains a *control*, a copy of the current
    model with a fresh optimizer state like the candidate's, on the same batches in the same
    order (same generator state); the reward and the acceptance compare the candidate with the
    control, and a rejected candidate is replaced by the control, so no training progress is
    lost either way (``info["control_objectives"]``; the cost counts both trainings). Measured
    with ``benchmarks/valp_credit.py`` on digits (6 states x 6 actions x 3 repeats), the
    operator-to-noise variance ratio (ANOVA F) is the same under both (median 7.63 parent, 7.91
    control), while training alone earns +0.18 a step against an operator effect of -0.03: the
    control changes *what* is credited and accepted, not the noise. So ``VALP-v0`` keeps the
    cheaper ``"parent"`` (one training a step) and the paper presets, whose hill climber's
    acceptance test must judge the operator, use ``"control"``.

    Objective boxes: ``objective_spec`` is per data set (:data:`OBJECTIVE_SPECS`, from measured
    ranges), so that every output counts in a hypervolume.

    ``info`` (reset and step): ``objectives`` (evaluated model, lower is better), ``descriptor``
    (its JSON), ``current_objectives``/``current_descriptor`` (the model after acceptance),
    ``accepted``, ``operator`` (variant name), ``target`` (component id), ``cost`` (training
    batches so far in the episode, initial training included), ``diverged``, ``invalid``,
    ``action_mask``, ``loss_gain``/``loss_gain_t`` (the current model's trends per output, for
    ``nasgym calibrate``) and, with ``credit="control"``, ``control_objectives``; with
    ``test_samples``, ``test_objectives`` (and ``control_test_objectives``).

    ## Episode End
    Never terminated; truncated after ``max_steps`` steps (default 60, as in the paper).

    ## Arguments
    ``dataset`` (name or :class:`~nasgym.data.Dataset`, default ``"digits"``), ``data_dir``,
    ``task`` (default ``"image-multitask"``), ``max_networks`` (8), ``max_connections`` (24),
    ``max_layers`` (4), ``max_width`` (None: no limit; an int masks edits whose gentle form has
    a wider layer, e.g. an identity network on the 784-pixel input, and caps the widths
    aggressive edits draw), ``initial_batches`` (100), ``step_batches`` (40, about two epochs of
    digits at batch size 64), ``acceptance``
    (``"paper"``), ``reward`` (``"log-ratio"``), ``reward_clip`` (5.0), ``operators`` (subset of
    operator names; default all registered), ``max_steps`` (60), ``diagnostics`` (dict overriding
    :data:`DIAGNOSTICS_DEFAULTS`: ``samples`` validation rows diagnosed, ``dependency`` probes
    on/off, ``slope_window`` (None = the last training chunk), ``probe_alpha``),
    ``invalid_action`` (``"raise"``), ``eval_samples`` (validation rows evaluated; None = all),
    ``test_samples`` (None; an int N scores every evaluated model, the start, each candidate and
    each control, also on the first N test rows: ``info["test_objectives"]`` and
    ``info["control_test_objectives"]``; nothing in the episode reads them, and their samplers'
    noise comes from a generator of their own, reseeded alike for every model, so trajectories
    do not change),
    ``device`` (``"cpu"``; ``"auto"`` picks CUDA), ``credit`` (``"parent"``; see *Rewards*),
    ``batch_size`` (of the starting models; None = 64), ``start_networks`` ((1, 2): the starting
    model has between 1 and 2 networks per output), ``warmup_batches`` (0; W > 0: after each
    edit, the candidate and the control, which start fresh optimizers, train their first W
    batches at a learning rate rising linearly to the outputs' own, so the first full-size Adam
    steps do not undo a gentle edit; see ``benchmarks/gentle_drift.py``; the starting model's
    training is unchanged), ``operator_kwargs`` (operator name -> options it is built with, e.g.
    ``{"add_connection": {"detach_gentle": True}}``: gentle connections that the target's losses
    cannot train through; off by default), ``common_noise`` (False; True: each step's random
    draws, its training batches, sampler noise and the choice inside the target, come from a
    generator seeded by the episode's seed and the step's index alone, not by what earlier
    steps drew, so agents run on the same seed train on the same batches at every step: common
    random numbers, meant for comparisons whose seed pairing fades as their models diverge;
    ``benchmarks/env_option_effect.py`` measures the pairing without and with it: on MNIST at
    250 / 50 batches it loosened it, paired sd 0.033 without and 0.060 with, in a test written
    down beforehand, ``docs/heldout/prereg_common_noise.md``).
    ``diagnostics`` also takes ``trend_window`` (None = the lineage's whole loss history; an int
    keeps its last values). Seed only through
    ``reset(seed=...)``. :meth:`fork` copies an env in its state, sharing the data. Memory: kept
    models hold weights only and the current model drops its optimizer state; resets and steps
    run under :func:`nasgym._memory.bounded_heap` (glibc serves blocks of 1 MiB or more by
    ``mmap`` while models are built, trained and dropped, so their memory goes back to the
    system; a user's ``MALLOC_MMAP_THRESHOLD_`` wins), and the freed heap is trimmed after
    each step.

    Presets: ``nasgym/VALP-Paper-v0`` is the paper's setting (§V-B): Fashion-MNIST from
    ``data_dir`` / ``$NASGYM_DATA_DIR``, batch size 200, 1-2 networks per output, the five macro
    operators (:data:`nasgym.registration.PAPER_OPERATORS`), 2-of-3 acceptance, 60 steps,
    ``credit="control"``, 2,500 initial batches and 500 per step (the paper's 5,000 / 1,000
    scaled by 1/2; about 10 s a step on a 2-core CPU, extrapolated). ``nasgym/VALP-PaperScaled-v0`` is the
    same at 1,000 / 200 (scaled by 1/5, about 4 s a step measured): fast enough to learn on.
    ``reset(options={"valp": VALP or JSON})`` starts from a given model instead of a random one.

    ## Version History
    - v0: initial version. Unreleased changes, still v0: ``loss_gain``/``loss_gain_t``
      observations, ``credit``, ``batch_size``, ``start_networks``, per-data-set objective
      boxes, crossover donors kept as weights only (the best two per output), ``max_width``,
      ``warmup_batches``, ``operator_kwargs``, ``test_samples`` and ``common_noise`` (all off
      by default, so trajectories do not change).
    """

    metadata = {"render_modes": []}
    #: the unit of ``info["cost"]`` (every preset's: the bench's axes and headers read it)
    cost_unit = "training batches"
    #: (ideal, reference) per objective of the default task on digits (see OBJECTIVE_SPECS and
    #: docs/CONVENTIONS.md); each instance holds its data set's box
    objective_spec: dict[str, tuple[float, float]] = dict(OBJECTIVE_SPECS["digits"])

    def __init__(
        self,
        dataset: str | Dataset = "digits",
        data_dir: str | None = None,
        task: str = "image-multitask",
        *,
        max_networks: int = 8,
        max_connections: int = 24,
        max_layers: int = 4,
        max_width: int | None = None,
        initial_batches: int = 100,
        step_batches: int = 40,
        acceptance: str = "paper",
        reward: str = "log-ratio",
        reward_clip: float = 5.0,
        operators: Sequence[str] | None = None,
        max_steps: int = 60,
        diagnostics: Mapping[str, Any] | None = None,
        invalid_action: str = "raise",
        eval_samples: int | None = None,
        test_samples: int | None = None,
        device: str = "cpu",
        credit: str = "parent",
        batch_size: int | None = None,
        start_networks: tuple[int, int] = (1, 2),
        warmup_batches: int = 0,
        operator_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        common_noise: bool = False,
    ) -> None:
        self._kwargs = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        _check_choice("acceptance", acceptance, ACCEPTANCE_RULES)
        _check_choice("invalid_action", invalid_action, INVALID_ACTIONS)
        _check_choice("credit", credit, CREDITS)
        if batch_size is not None and (
            not isinstance(batch_size, int | np.integer) or batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
        lo, hi = _pair("start_networks", start_networks)
        self.credit, self.batch_size, self.start_networks = credit, batch_size, (lo, hi)
        for name, value in [
            ("max_networks", max_networks),
            ("max_connections", max_connections),
            ("max_layers", max_layers),
            ("max_steps", max_steps),
            ("step_batches", step_batches),
        ]:
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if max_width is not None and (not isinstance(max_width, int | np.integer) or max_width < 1):
            raise ValueError(f"max_width must be a positive int or None, got {max_width!r}")
        if not isinstance(initial_batches, int | np.integer) or initial_batches < 0:
            raise ValueError(f"initial_batches must be an int >= 0, got {initial_batches!r}")
        if not isinstance(warmup_batches, int | np.integer) or warmup_batches < 0:
            raise ValueError(f"warmup_batches must be an int >= 0, got {warmup_batches!r}")
        self.warmup_batches = int(warmup_batches)
        if not isinstance(common_noise, bool | np.bool_):
            raise ValueError(f"common_noise must be True or False, got {common_noise!r}")
        self.common_noise = bool(common_noise)
        unknown = sorted(set(diagnostics or {}) - set(DIAGNOSTICS_DEFAULTS))
        if unknown:
            raise ValueError(
                f"unknown diagnostics options {unknown}; known: {sorted(DIAGNOSTICS_DEFAULTS)}"
            )
        self.diag_options = {**DIAGNOSTICS_DEFAULTS, **dict(diagnostics or {})}
        self.acceptance, self.invalid_action = acceptance, invalid_action
        self.initial_batches, self.step_batches = int(initial_batches), int(step_batches)
        self.max_steps, self.reward_clip = int(max_steps), float(reward_clip)
        self.padding = Padding(
            int(max_networks),
            int(max_connections),
            int(max_layers),
            None if max_width is None else int(max_width),
        )
        self.device = resolve_device(device)
        self._setup_data(dataset, data_dir, task, eval_samples, test_samples)
        names = list(operators) if operators is not None else list(OPERATORS.names())
        for name in names:
            OPERATORS.get(name)  # KeyError with "did you mean" for unknown names
        pairs = tuple(p for p in operator_variants() if p[0] in names)
        options = {str(k): dict(v) for k, v in (operator_kwargs or {}).items()}
        unused = sorted(set(options) - {p[0] for p in pairs})
        if unused:
            raise ValueError(
                f"operator_kwargs name operators this env does not use: {unused}; it uses "
                f"{sorted({p[0] for p in pairs})}"
            )
        self._ops = {
            name: make_operator(name, **options.get(name, {}))
            for name in dict.fromkeys(p[0] for p in pairs)
        }
        self.action_table = ActionTable(
            pairs,
            tuple(self._ops[p[0]].effect for p in pairs),
            self.padding.max_networks,
            tuple(self.output_names),
        )
        self.action_space = spaces.Discrete(self.action_table.n_actions)
        self._obs_builder = ObservationBuilder(
            [f"i:{s.name}" for s in self.task.inputs],
            self.output_names,
            self.padding.max_networks,
            self.padding.max_layers,
            self.action_table.n_actions,
        )
        self.observation_space = self._obs_builder.space()
        self._reward = VALP_REWARDS.get(reward)(
            self.objective_spec, self.output_names, clip=self.reward_clip
        )
        self._model: VALPModel | None = None

    # ------------------------------------------------------------------ setup
    def _setup_data(
        self,
        dataset: Any,
        data_dir: Any,
        task: str,
        eval_samples: int | None,
        test_samples: int | None = None,
    ) -> None:
        ds = load_dataset(dataset, data_dir) if isinstance(dataset, str) else dataset
        self.task = make_task(task, ds)
        self.output_names = self.task.output_names
        if task != "image-multitask" or set(self.output_names) != set(type(self).objective_spec):
            self.objective_spec = {s.name: KIND_SPEC[s.kind] for s in self.task.outputs}
        else:
            self.objective_spec = dict(OBJECTIVE_SPECS.get(ds.name, type(self).objective_spec))
        self._train = self.task.prepare(ds.train, device=self.device)
        val = self.task.prepare(ds.val, device=self.device)
        if eval_samples is not None:
            if int(eval_samples) < 4:
                raise ValueError(f"eval_samples must be >= 4 (or None), got {eval_samples!r}")
            val = val.subset(slice(0, int(eval_samples)))
        self._val = val
        self._test = None
        if test_samples is not None:
            if not isinstance(test_samples, int | np.integer) or not 4 <= test_samples:
                raise ValueError(
                    f"test_samples must be an int >= 4 (or None), got {test_samples!r}"
                )
            if len(ds.test) == 0:
                raise ValueError(f"test_samples: data set {ds.name!r} has no test split")
            test = self.task.prepare(ds.test, device=self.device)
            self._test = test.subset(slice(0, min(int(test_samples), len(test))))
        self._latents = {s.name: int(s.latent) for s in self.task.outputs if s.kind == "sampling"}

    # ------------------------------------------------------------------ episode
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode from a random (or the given) VALP trained for ``initial_batches``."""
        super().reset(seed=seed)
        self._gen = torch.Generator().manual_seed(int(self.np_random.integers(2**62)))
        # the test split's own seed: scoring on it draws nothing from the episode's generators
        self._test_seed = int(self._gen.initial_seed()) ^ 0x7E57
        self._noise_key = int(self._gen.initial_seed())  # common_noise: keys the steps' draws
        self._diag_data = DiagnosticData.from_task_data(
            self._val, int(self.diag_options["samples"]), self._latents, self._gen
        )
        valp = self._start_valp(options or {})
        self._lineage: dict[str, list[float]] = {n: [] for n in self.output_names}
        self._donors: dict[str, list[tuple[float, VALPModel]]] = {n: [] for n in self.output_names}
        with self._threads():
            model = build_model(valp, self._gen, self.device)
            result = train(model, self._train, self.initial_batches, self._gen)
            self._objectives = self._evaluate(model)
            tested = self._score_test(model) if self._test is not None else None
            self._set_current(model, result.losses)
        self._steps, self._cost = 0, self._batches(result)
        self._archive = ObjectiveArchive(self.output_names)
        self._archive.add(self._objectives)
        if not result.diverged:
            self._keep_donor(self._objectives, model)
        self._reward.reset(self._objectives)
        self._plan_cache: dict[str, Any] = {}
        info = self._info(self._objectives, valp, accepted=True, diverged=result.diverged)
        if tested is not None:
            info["test_objectives"] = tested
        return self._observation(), info

    def _start_valp(self, options: Mapping[str, Any]) -> VALP:
        given = options.get("valp")
        if given is not None:
            valp = VALP.from_json(given) if isinstance(given, str) else given
            valp.check_task(self.task)
            if not self.padding.fits(valp):
                raise ValueError(
                    f"the starting VALP exceeds the padding: "
                    f"{self.padding.why_not(valp)}; raise the limits"
                )
            return valp.validate()
        n_out, limit = len(self.output_names), self.padding.max_networks
        if limit < n_out:
            raise ValueError(f"max_networks={limit} is below the number of outputs ({n_out})")
        for _ in range(100):
            lo, hi = self.start_networks
            valp = random_valp(
                self.task,
                self.np_random,
                max_layers=min(2, self.padding.max_layers),
                n_networks=int(self.np_random.integers(lo * n_out, min(hi * n_out, limit) + 1)),
                **({} if self.batch_size is None else {"batch_size": self.batch_size}),
            )
            if self.padding.fits(valp):
                return valp
        raise ValueError(
            f"no random VALP within the padding after 100 draws "
            f"({self.padding.why_not(valp)}); raise the limits"
        )

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Apply one (operator, component) action; retrain, evaluate, diagnose, reward."""
        if self._model is None:
            raise RuntimeError("call reset() before step()")
        a = self._check_action(action)
        mask, moves = self._plan()
        if not mask[a] and self.invalid_action == "raise":
            raise ValueError(self._why_invalid(a))  # before any change: the env stays as it was
        self._steps += 1
        truncated = self._steps >= self.max_steps
        if not mask[a]:
            info = self._info(
                self._objectives,
                self._model.valp,
                accepted=False,
                diverged=False,
                action=a,
                invalid=True,
            )
            return self._observation(), -self.reward_clip, False, truncated, info
        move = moves[a]
        if self.common_noise:  # this step's draws from (episode, step) alone, not the history
            self.reseed(step_seed(self._noise_key, self._steps))
        with self._threads():
            candidate, result, control = self._apply_and_train(move)
            objectives = self._evaluate(candidate)
            tested = self._score_test(candidate) if self._test is not None else None
            control_tested = None
            diverged = bool(result.diverged) or any(math.isinf(v) for v in objectives.values())
            baseline = self._objectives
            if control is not None:
                control_model, control_result = control
                control_objectives = self._evaluate(control_model)
                if tested is not None:
                    control_tested = self._score_test(control_model)
                if not any(math.isinf(v) for v in control_objectives.values()):
                    baseline = control_objectives
            reward = -self.reward_clip if diverged else self._reward(baseline, objectives)
            accepted = not diverged and self._accepts(objectives, baseline)
            self._archive.add(objectives)
            if not diverged:
                self._keep_donor(objectives, candidate)
            if accepted:
                self._objectives = objectives
                self._set_current(candidate, result.losses)
            elif control is not None and baseline is not self._objectives:
                self._archive.add(baseline)
                self._keep_donor(baseline, control_model)
                self._objectives = baseline
                self._set_current(control_model, control_result.losses)
        info = self._info(
            objectives, candidate.valp, accepted=accepted, diverged=diverged, action=a
        )
        if control is not None:
            info["control_objectives"] = dict(baseline)
        if tested is not None:
            info["test_objectives"] = tested
            if control_tested is not None:
                info["control_test_objectives"] = control_tested
        trim()  # the discarded models' memory goes back to the system (bounded episodes)
        return self._observation(), float(reward), False, truncated, info

    def _apply_and_train(self, move: Move) -> tuple[VALPModel, Any, tuple[VALPModel, Any] | None]:
        """The candidate trained for ``step_batches``; with ``credit="control"`` also a copy of
        the current model (fresh optimizer state, like the candidate's) trained on the same
        batches in the same order, from the same generator state."""
        candidate = self.apply_move(move)
        if self.credit == "parent":
            result = train(
                candidate, self._train, self.step_batches, self._gen, warmup=self.warmup_batches
            )
            self._cost += self._batches(result)
            return candidate, result, None
        rows = self.step_batches * max(candidate.valp.batch_size, self._model.valp.batch_size)
        order = self._batch_order(rows)
        state = self._gen.get_state()
        warm = {"order": order, "warmup": self.warmup_batches}
        result = train(candidate, self._train, self.step_batches, self._gen, **warm)
        after = self._gen.get_state()
        self._gen.set_state(state)
        control, control_result = self.trained_copy(order)
        self._gen.set_state(after)
        self._cost += self._batches(result) + self._batches(control_result)
        return candidate, result, (control, control_result)

    def trained_copy(self, order: torch.Tensor) -> tuple[VALPModel, Any]:
        """A copy of the current model (fresh optimizer state) trained for ``step_batches`` on
        the training rows ``order``, from the env's generator: the control of
        ``credit="control"``, and the step of an episode without operators
        (``benchmarks/valp_train_only.py``). The current model is left as it is."""
        control = self._model.clone()
        warm = {"order": order, "warmup": self.warmup_batches}
        return control, train(control, self._train, self.step_batches, self._gen, **warm)

    def apply_move(self, move: Move) -> VALPModel:
        """The current model with ``move`` applied (untrained), the choice inside the target
        drawn uniformly with ``np_random``; the current model is left as it is."""
        choice = move.choices[int(self.np_random.integers(len(move.choices)))]
        op = self._ops[move.operator]
        cap = {"max_width": self.padding.max_width} if op.draws_width else {}
        candidate = op.apply(
            self._model,
            move.target,
            self.np_random,
            variant=move.variant,
            choice=choice,
            donor=move.donor,
            **cap,
        )
        assert self.padding.fits(candidate.valp), self.padding.why_not(candidate.valp)
        if candidate.device != self.device:  # operators build on the parent's device
            candidate = candidate.to(self.device)
        return candidate

    def _batch_order(self, rows: int) -> torch.Tensor:
        """``rows`` training-row indices: shuffled epochs, concatenated, drawn from the env's
        generator."""
        n = len(self._train)
        perms = [torch.randperm(n, generator=self._gen) for _ in range(-(-rows // n))]
        return torch.cat(perms)[:rows]

    def _accepts(self, objectives: Mapping[str, float], baseline: Mapping[str, float]) -> bool:
        if self.acceptance == "always":
            return True
        better = sum(objectives[n] < baseline[n] for n in self.output_names)
        if self.acceptance == "changed":  # a majority of the objectives the candidate changed
            worse = sum(objectives[n] > baseline[n] for n in self.output_names)
            return better > (better + worse) / 2
        return better > len(self.output_names) / 2

    # ------------------------------------------------------------------ helpers
    def _threads(self) -> contextlib.ExitStack:
        """One torch thread and one BLAS thread on CPU: fastest for models this size; and glibc's
        heap bounded while models are built, trained and dropped (:func:`bounded_heap`)."""
        stack = contextlib.ExitStack()
        stack.enter_context(bounded_heap())
        if self.device.type == "cpu":
            stack.enter_context(cpu_threads(1))
            stack.enter_context(single_threaded_blas())
        return stack

    @staticmethod
    def _batches(result: Any) -> int:
        return len(next(iter(result.losses.values()), []))

    def _evaluate(self, model: VALPModel) -> dict[str, float]:
        return dict(evaluate(model, self._val, self._gen).objectives)

    def _score_test(self, model: VALPModel) -> dict[str, float]:
        """``model``'s objectives on the test rows (``test_samples``), drawing its samplers'
        noise from a generator reseeded alike for every model, so that scores compare models
        and not draws; nothing in the episode reads them."""
        gen = torch.Generator().manual_seed(self._test_seed)
        return dict(evaluate(model, self._test, gen).objectives)

    def _set_current(self, model: VALPModel, losses: Mapping[str, Sequence[float]]) -> None:
        """Make ``model`` current: its training ``losses`` extend the lineage's loss history, and
        it is diagnosed. Its optimizer state is freed: a step trains an edited copy or a control
        clone, each with fresh optimizers, never the current model itself."""
        model.release_training_state()
        self._model = model
        window = self.diag_options["trend_window"]
        for name, values in losses.items():
            history = self._lineage.setdefault(name, [])
            history.extend(values)
            if window is not None:
                del history[: max(0, len(history) - int(window))]
        self._diagnosis: Diagnosis = diagnose(
            model,
            self._diag_data,
            losses,
            self._gen,
            slope_window=self.diag_options["slope_window"],
            dependency=bool(self.diag_options["dependency"]),
            probe_alpha=float(self.diag_options["probe_alpha"]),
            horizon=self.step_batches,
            trend_history=self._lineage,
        )

    def _keep_donor(self, objectives: Mapping[str, float], model: VALPModel) -> None:
        """Keep ``model`` (its descriptor and weights only, never its optimizer or data) if it is
        among the :data:`DONORS_PER_OUTPUT` best models with distinct descriptors on some output;
        the donor of an output is always among them (see :meth:`_donor`)."""
        lean: VALPModel | None = None
        for name in self.output_names:
            kept = self._donors[name]
            if any(m.valp.key == model.valp.key for _, m in kept):
                continue
            value = float(objectives[name])
            if len(kept) < DONORS_PER_OUTPUT or value < kept[-1][0]:
                lean = lean if lean is not None else model.clone()
                kept.append((value, lean))
                kept.sort(key=lambda pair: pair[0])  # stable: earliest first on ties
                del kept[DONORS_PER_OUTPUT:]

    def _donor(self, output_id: str) -> VALPModel | None:
        key = self._model.valp.key
        for _, model in self._donors.get(output_id[2:], []) if output_id[:2] == "o:" else []:
            if model.valp.key != key:
                return model
        return None

    def _plan(self) -> tuple[np.ndarray, dict[int, Move]]:
        """Mask and moves of the current model; operators needing a donor are planned apart,
        since their part changes whenever a better donor is evaluated."""
        valp = self._model.valp
        donor_ops = {n for n, op in self._ops.items() if op.needs_donor}
        if self._plan_cache.get("key") != valp.key:
            self._plan_cache = {
                "key": valp.key,
                "base": plan_actions(
                    valp,
                    self.action_table,
                    self._ops,
                    self.padding,
                    self._donor,
                    names=set(self._ops) - donor_ops,
                ),
            }
        if donor_ops:
            donors = tuple(id(self._donor(o)) for o in valp.output_ids)
            if self._plan_cache.get("donors") != donors:
                part = plan_actions(
                    valp, self.action_table, self._ops, self.padding, self._donor, names=donor_ops
                )
                base_mask, base_moves = self._plan_cache["base"]
                self._plan_cache["donors"] = donors
                self._plan_cache["full"] = (base_mask | part[0], {**base_moves, **part[1]})
            return self._plan_cache["full"]
        return self._plan_cache["base"]

    def action_masks(self) -> np.ndarray:
        """The valid actions as a flat bool array (what sb3-contrib's MaskablePPO calls)."""
        if self._model is None:
            raise RuntimeError("call reset() before action_masks()")
        return self._plan()[0].copy()

    def _check_action(self, action: Any) -> int:
        arr = np.asarray(action)
        if arr.size != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"action must be one integer in 0..{self.action_space.n - 1}, got {action!r}"
            )
        a = int(arr.reshape(()))
        if not 0 <= a < self.action_space.n:
            raise ValueError(f"action {a} out of range 0..{self.action_space.n - 1}")
        return a

    def _why_invalid(self, a: int) -> str:
        v, slot = self.action_table.decode(a)
        op = self._ops[self.action_table.pairs[v][0]]
        valp = self._model.valp
        nets = valp.network_ids
        if slot < self.padding.max_networks:
            if slot >= len(nets):
                why = f"network slot {slot} is empty (the model has {len(nets)} networks)"
                return self._invalid_message(a, why)
            target = nets[slot]
        else:
            target = self.action_table.slots[slot]
        donor = self._donor(target) if op.needs_donor else None
        if op.needs_donor and donor is None:
            why = "crossover needs a donor and no other model has been evaluated yet"
        elif op.choices(valp, target, donor=None if donor is None else donor.valp):
            why = (
                f"every way of applying it to {target!r} would exceed the padding "
                f"(max_networks, max_connections, max_layers, max_width)"
            )
        else:
            why = op.why_not(valp, target, None if donor is None else donor.valp)
        return self._invalid_message(a, why)

    def _invalid_message(self, a: int, why: str) -> str:
        return (
            f"action {a} ({self.action_table.label(a)}) is not valid for the current model: "
            f"{why}; use env.action_masks() to pick a valid action"
        )

    def _observation(self) -> dict[str, np.ndarray]:
        budget = 1.0 - self._steps / self.max_steps
        return self._obs_builder.build(
            self._model.valp,
            self._diagnosis,
            self._objectives,
            self._archive.rank(self._objectives),
            budget,
            self._plan()[0],
        )

    def _info(
        self,
        objectives: Mapping[str, float],
        valp: VALP,
        *,
        accepted: bool,
        diverged: bool,
        action: int | None = None,
        invalid: bool = False,
    ) -> dict[str, Any]:
        move = self._plan()[1].get(action) if action is not None and not invalid else None
        label = self.action_table.label(action) if action is not None else ""
        return {
            "objectives": dict(objectives),
            "descriptor": valp.to_json(),
            "current_objectives": dict(self._objectives),
            "current_descriptor": self._model.valp.to_json(),
            "accepted": bool(accepted),
            "operator": label.split("@")[0],
            "target": ""
            if action is None
            else (move.target if move is not None else label.split("@")[1]),
            "cost": float(self._cost),
            "diverged": bool(diverged),
            "invalid": bool(invalid),
            "loss_gain": {k: float(v) for k, v in self._diagnosis.gains.items()},
            "loss_gain_t": {k: float(v) for k, v in self._diagnosis.gain_t.items()},
            "action_mask": self._plan()[0].copy(),
        }

    # ------------------------------------------------------------------ copies
    def fork(self, seed: int | None = None, *, test: bool = True) -> VALPEnv:
        """An independent copy of this env in its current state (model, lineage, archive,
        donors, generators) that shares the read-only data; stepping one leaves the other as it
        was. With ``seed``, the copy's ``np_random`` and torch generator are reseeded from it, so
        the same action can be tried under independent training noise (see
        ``benchmarks/valp_credit.py``). ``test=False`` makes a copy that does not score its models
        on the test rows (a look-ahead must not see them, and need not pay for them)."""
        state = copy.deepcopy(self.__getstate__())
        twin = type(self).__new__(type(self))
        twin.__dict__.update(state)
        twin.task, twin._train, twin._val = self.task, self._train, self._val
        twin._test = self._test if test else None
        if seed is not None:
            twin.reseed(seed)
        return twin

    def reseed(self, seed: int) -> None:
        """Reseed the episode's generators (``np_random``, which draws the choice inside a
        target, and the torch generator, which orders the batches) from ``seed``, in the state
        they are: the next steps draw the training noise that ``fork(seed)``'s copy draws, so a
        copy's outcome can be made the real one. The test rows' generator is left as it is."""
        self._np_random, _ = gym.utils.seeding.np_random(int(seed))
        self._gen = torch.Generator().manual_seed(int(self._np_random.integers(2**62)))

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("task", "_train", "_val", "_test"):  # rebuilt from the constructor arguments
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        kw = self._kwargs
        self._setup_data(
            kw["dataset"], kw["data_dir"], kw["task"], kw["eval_samples"], kw.get("test_samples")
        )


def _pair(name: str, value: Any) -> tuple[int, int]:
    try:
        lo, hi = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) of ints, got {value!r}") from None
    if not 1 <= lo <= hi:
        raise ValueError(f"{name} must satisfy 1 <= low <= high, got {value!r}")
    return lo, hi


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


__all__ = ["ACCEPTANCE_RULES", "DIAGNOSTICS_DEFAULTS", "VALPEnv"]

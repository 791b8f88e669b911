"""``nasgym/Cell-v0``: TND-NAS cell search on a weight-sharing supernet that really trains."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from nasgym.objectives import REWARDS, make_reward
from nasgym.spaces import Arch, get_space
from nasgym.supernet.costs import MS_PER_MMAC, CostTable, build_cost_table
from nasgym.supernet.derive import train_from_scratch
from nasgym.supernet.model import Supernet, check_darts_topology
from nasgym.supernet.stages import StageSchedule, drop_ops
from nasgym.supernet.trainer import StageTrainer, fair_paths, uniform_path
from nasgym.supernet.training import load_image_data
from nasgym.supernet.training import torch_threads as _threads

_BOUND = 1e3  # finite bound of the reward / params observations (values are clipped into it)


class CellEnv(gym.Env):
    """Search a DARTS-style cell with a weight-sharing supernet (TND-NAS, Lyu & Wen).

    Each step the agent picks one op per edge of the normal and the reduction cell; the env
    trains the shared supernet weights for ``train_batches`` mini-batches on sampled paths,
    scores the chosen sub-network with the inherited weights on validation batches, measures
    its parameters and latency, and returns a scalarised reward. The search runs in stages as
    in TND-NAS Algorithm 2: each stage uses a deeper supernet (``stage_cells`` strictly
    increases) and offers fewer ops per edge.

    ## Action Space
    ``MultiDiscrete(space.nvec)``: one op index per decision, in ``space.decisions`` order (the
    14 normal-cell edges, then the 14 reduction-cell edges for ``tnd``/``darts``), indexing the
    space's op tuple (``get_space(name).ops(cell_type)``). The shape never changes: ops dropped
    between stages are masked, and choosing one raises ``ValueError`` naming the decision and
    the op. Architectures the space calls invalid (an intermediate node whose every input is
    ``none``) are accepted and evaluated (that node outputs zeros); ``info["valid"]`` says so.

    ## Observation Space
    A one-level ``Dict``:
    - ``action_mask``: ``MultiBinary(sum(nvec))``, the per-decision op masks concatenated (1 =
      still allowed); also ``info["action_mask"]`` and ``env.action_masks()`` (for MaskablePPO);
    - ``stage``: ``Box(0, 1, (1,))``, stage index / (number of stages - 1);
    - ``progress``: ``Box(0, 1, (1,))``, fraction of the episode's steps done;
    - ``val_acc``: ``Box(0, 1, (1,))``, validation accuracy of the last step's cell;
    - ``params``: ``Box(0, 1000, (1,))``, its parameters in millions;
    - ``reward``, ``best_reward``: ``Box(-1000, 1000, (1,))``, last and best reward so far.

    ## Rewards
    ``reward`` names a scalarisation of :mod:`nasgym.objectives` (default ``eq9``, TND-NAS Eq. 9:
    ``R = acc * (params / P) ** beta`` with ``beta = -0.07``), computed on the validation
    accuracy with inherited weights, the params (M) of the sampled path in the supernet and its
    latency (ms). ``reward_params`` are passed to it (lists = one value per stage). When the
    reward takes ``P`` (or ``L``) and none is given, ``P`` defaults per stage to the expected
    params of a uniformly sampled path over *all* ops at that stage's depth (``L`` likewise to
    its expected latency proxy), so a typical cell scores about its accuracy.
    ``info`` also carries the policy over the allowed ops (the agent's published probabilities,
    else the stage's choice frequencies, uniform before any choice; ``policy_source`` says
    which): ``policy_entropy`` and ``policy_max_prob`` per decision (arrays), their means
    ``mean_entropy`` (nats) and ``mean_max_prob``, and ``dominant_op`` / ``dominant_op_share``,
    the op most often the most probable one and the share of decisions where it is: a collapse
    onto one op on every edge (TND-NAS Figs 5 and 6) shows as a share near 1.
    ``info["objectives"]`` holds the lower-is-better vector ``{"error": 1 - val_acc, "params":
    M, "latency": ms}``; :attr:`objective_spec` gives its ``(ideal, reference)`` per objective.
    ``info["cost"]`` counts training batches of the episode (warm-up and tuning included).

    Latency: ``"flops"`` (default) is a deterministic proxy, ``ms_per_mmac`` times the path's
    per-image multiply-accumulates (convs and classifier; ``info["flops"]``, millions);
    ``"measured"`` times a batch-1 forward on this machine (median of 5), which depends on the
    machine and its load and is not bit-reproducible, so trajectories then differ run to run.

    ## Dynamics
    ``reset`` builds the stage-0 supernet (weights from a ``torch.Generator`` seeded from
    ``self.np_random``) and trains it for ``warmup_batches`` batches on uniformly sampled paths
    (``warmup_sampling="fair"``: each decision cycles through its ops, FairNAS's strict
    fairness). ``path_sampling="agent"`` (default, as in TND-NAS) trains every batch of a step
    on the agent's path; ``"uniform"`` trains each batch on a path drawn uniformly over the
    allowed ops (a one-shot supernet independent of the agent). The step then scores the
    agent's path after ``tune_batches`` more SGD steps along it, on batches fixed for the
    stage (the same for every path), and puts the shared weights and momentum back
    afterwards: the score is of the path's inherited weights fine-tuned a little, as one-shot
    evaluators fine-tune a candidate, and the supernet goes on as if it had not happened.
    SGD: momentum 0.9, weight decay 3e-4, constant ``lr``, gradient clipping 5; BatchNorm uses
    batch statistics (no affine).
    After ``stage_steps`` steps of stage k < last, on every decision the least promising ops
    are dropped so that ``keep_ops[cell_type][k + 1]`` remain (never fewer than one), ranked
    as TND-NAS Eq. 11 ranks them, by the architecture probabilities, when the agent publishes
    them (``prune_by="policy"``, the default; an agent calls :meth:`set_arch_probs`, as the
    ``reinforce`` agent does before each action), else by how often the agent chose each op
    during the stage (``prune_by="counts"``, and the fallback for agents without a policy);
    ties: lower mean reward when chosen, then later op order. An op sampled fewer than
    ``min_op_samples`` times on its edge so far in the episode is never dropped, so an edge can
    keep more ops than ``keep_ops`` asks (``drop_log`` lists what was dropped and what was
    protected). The next stage's supernet has
    ``stage_cells[k + 1]`` cells and only the kept ops, starts from fresh weights (as in
    P-DARTS) and is warmed up again.

    ## Episode End
    Terminated after the ``stage_steps``-th step of the last stage: the search budget is
    ``len(stage_cells) * stage_steps`` steps (60 by default), and ``progress`` makes it part of
    the state. ``max_steps`` (optional) truncates the episode earlier, after that many steps.
    Then :meth:`derive` returns the final cell and :meth:`train_derived` trains it from
    scratch and tests it. The step that ends a stage also builds and warms up the next
    stage's supernet, so it takes longer than the others.

    ## Arguments
    - ``space="tnd"``: a registered DARTS-topology space (``tnd``, ``darts``, or your own with
      cell types ``("normal", "reduce")``, input nodes 0 and 1 and edges ``src < dst``). The
      ``nb201`` space is not supported (its cells have one input and the NB201 macro skeleton
      differs): it raises ``ValueError``; search it with ``nasgym/NB201-v0``.
    - ``dataset="digits"``, ``data_dir=None``, ``max_train=None``, ``data_seed=0``: data set
      (``digits``, ``mnist``, ``fashion-mnist``; see :func:`nasgym.data.load_dataset`).
    - ``channels=8``: initial cell channels C (doubled at each reduction cell).
    - ``stage_cells=(3, 4, 5)``, ``stage_steps=20``, ``keep_ops=None`` (dict cell type ->
      ops per stage; default ceil of 100% / 60% / 40% of the ops: tnd 10/6/4 and 6/4/3),
      ``max_steps=None`` (truncation budget, steps).
    - ``prune_by="policy"`` (or ``"counts"``), ``min_op_samples=3``: how ops are dropped between
      stages (see Dynamics; 0 disables the minimum).
    - ``batch_size=64``, ``train_batches=2``, ``val_batch_size=256``, ``val_batches=1``,
      ``warmup_batches=600``, ``lr=0.05``, ``path_sampling="agent"``. The warm-up is where
      ``benchmarks/supernet_ranking.py``'s budget curve says a fresh supernet starts to rank
      cells (Fashion-MNIST, C = 4, 3 cells; README, *Does Cell-v0's supernet rank cells?*):
      the Kendall tau of its accuracies against from-scratch training (mean of 4 training
      seeds) is -0.01 after 150 batches and 0.11 after 300 (2 supernet seeds), 0.27 after
      600 and 0.30 after 1,200 and 2,400 (4 seeds). Below that, the first rewards of each
      stage are noise. ``warmup_batches=10`` was the default before. The curve scored 2,000
      validation images; with 256 (one batch) tau at 600 batches fell on 3 of 4 seeds (mean
      0.18 against 0.27), so on MNIST or Fashion-MNIST pass ``val_batches=8``. On digits one
      batch already holds 256 of the 270 validation images.
    - ``warmup_sampling="uniform"`` (or ``"fair"``): fair warm-up paths did not rank the panel
      better at 600 batches (mean tau over 4 seeds 0.21 against 0.27).
    - ``tune_batches=20``: fine-tuning before scoring ranks the panel better. At 600 warm-up
      batches, over 8 paired supernet seeds, mean tau rose from 0.18 to 0.31 with 20 batches
      (higher on 7 of 8 seeds, one-sided Wilcoxon p = 0.027) and to 0.34 with 50 (8 of 8,
      p = 0.004); 50 is not better than 20 (p = 0.20) and costs more: a default 60-step
      search on digits takes 353 s with 20, 520 s with 50, 207 s with 0 (the default
      before) and 48 s with 0 and the old 10-batch warm-up (2 cores; ``info["cost"]``
      counts the tuning batches).
    - ``latency="flops"`` or ``"measured"``, ``ms_per_mmac=10.0``.
    - ``reward="eq9"``, ``reward_params=None``; ``device="auto"`` (CUDA when present).
    - ``torch_threads=1``: torch intra-op threads during reset/step/train_derived (restored
      after; ``None`` leaves torch's setting). One thread is as fast for these small nets,
      avoids oversubscription on a loaded machine, and keeps results independent of the
      machine's core count.

    ## Version History
    - v0: initial version. (Unreleased change, still v0: ops are dropped by the agent's
      architecture probabilities when it publishes them, never before ``min_op_samples``
      samples; the policy's entropy and largest op probability are in ``info``; the warm-up
      is 600 batches and each score follows 20 tuning batches.)
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    #: objective name -> (ideal, reference) for indicators (sized for the CPU defaults)
    objective_spec: ClassVar[dict[str, tuple[float, float]]] = {
        "error": (0.0, 1.0),
        "params": (0.0, 0.5),
        "latency": (0.0, 50.0),
    }

    def __init__(
        self,
        space: str = "tnd",
        dataset: str = "digits",
        data_dir: str | None = None,
        max_train: int | None = None,
        data_seed: int = 0,
        channels: int = 8,
        stage_cells: Sequence[int] = (3, 4, 5),
        stage_steps: int = 20,
        keep_ops: Mapping[str, Sequence[int]] | None = None,
        batch_size: int = 64,
        train_batches: int = 2,
        val_batch_size: int = 256,
        val_batches: int = 1,
        warmup_batches: int = 600,
        lr: float = 0.05,
        path_sampling: str = "agent",
        warmup_sampling: str = "uniform",
        tune_batches: int = 20,
        latency: str = "flops",
        ms_per_mmac: float = MS_PER_MMAC,
        reward: str = "eq9",
        reward_params: Mapping[str, Any] | None = None,
        device: str = "auto",
        torch_threads: int | None = 1,
        max_steps: int | None = None,
        prune_by: str = "policy",
        min_op_samples: int = 3,
    ) -> None:
        self.space = get_space(space)
        check_darts_topology(self.space)
        self.schedule = StageSchedule.build(self.space, stage_cells, stage_steps, keep_ops)
        counts = {
            "train_batches": train_batches,
            "val_batches": val_batches,
            "batch_size": batch_size,
            "val_batch_size": val_batch_size,
        }
        for name, v in counts.items():
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        for name, v in {"warmup_batches": warmup_batches, "tune_batches": tune_batches}.items():
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")
        self.tune_batches = tune_batches
        if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
            raise ValueError(f"max_steps must be a positive int or None, got {max_steps!r}")
        self.max_steps = max_steps
        if prune_by not in ("policy", "counts"):
            raise ValueError(f"prune_by must be 'policy' or 'counts', got {prune_by!r}")
        if not isinstance(min_op_samples, int) or min_op_samples < 0:
            raise ValueError(f"min_op_samples must be an int >= 0, got {min_op_samples!r}")
        self.prune_by, self.min_op_samples = prune_by, min_op_samples
        self._arch_probs: np.ndarray | None = None
        if path_sampling not in ("agent", "uniform"):
            raise ValueError(f"path_sampling must be 'agent' or 'uniform', got {path_sampling!r}")
        if warmup_sampling not in ("fair", "uniform"):
            raise ValueError(
                f"warmup_sampling must be 'fair' or 'uniform', got {warmup_sampling!r}"
            )
        self.warmup_sampling = warmup_sampling
        if latency not in ("flops", "measured"):
            raise ValueError(f"latency must be 'flops' or 'measured', got {latency!r}")
        if not (isinstance(lr, int | float) and lr > 0):
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        if not ms_per_mmac > 0:
            raise ValueError(f"ms_per_mmac must be positive, got {ms_per_mmac!r}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.data = load_image_data(dataset, data_dir, max_train, data_seed, self.device)
        self.channels, self.lr = channels, lr
        self.batch_size, self.val_batch_size = batch_size, val_batch_size
        self.train_batches, self.val_batches = train_batches, val_batches
        self.warmup_batches, self.path_sampling = warmup_batches, path_sampling
        self.latency, self.ms_per_mmac = latency, float(ms_per_mmac)
        self._cost_tables: dict[int, CostTable] = {}
        self.torch_threads = torch_threads
        with _threads(self.torch_threads):
            self._reward = self._make_reward(reward, dict(reward_params or {}))

        nvec = self.space.nvec
        self.action_space = spaces.MultiDiscrete(nvec)
        one = (1,)
        self.observation_space = spaces.Dict(
            {
                "action_mask": spaces.MultiBinary(int(nvec.sum())),
                "stage": spaces.Box(0.0, 1.0, one, np.float32),
                "progress": spaces.Box(0.0, 1.0, one, np.float32),
                "val_acc": spaces.Box(0.0, 1.0, one, np.float32),
                "params": spaces.Box(0.0, _BOUND, one, np.float32),
                "reward": spaces.Box(-_BOUND, _BOUND, one, np.float32),
                "best_reward": spaces.Box(-_BOUND, _BOUND, one, np.float32),
            }
        )
        self._trainer: StageTrainer | None = None
        self._done = False

    # ---------------------------------------------------------------- set-up
    def cost_table(self, n_cells: int) -> CostTable:
        """Params / MACs of every op at depth ``n_cells`` (all ops; cached)."""
        if n_cells not in self._cost_tables:
            full = Supernet(
                self.space,
                channels=self.channels,
                n_cells=n_cells,
                n_classes=self.data.n_classes,
                in_channels=int(self.data.train.x.shape[1]),
            ).to(self.device)
            self._cost_tables[n_cells] = build_cost_table(
                full, self.data.image_shape, int(self.data.train.x.shape[1])
            )
        return self._cost_tables[n_cells]

    def _make_reward(self, name: str, params: dict[str, Any]):
        staged = getattr(REWARDS.get(name), "staged", ())
        all_ops = [self.space.decision_ops(d) for d in range(self.space.n_decisions)]
        means = [
            self.cost_table(c).mean_cost(all_ops, self.space.cell_types)
            for c in self.schedule.cells
        ]
        if "P" in staged and "P" not in params:
            params["P"] = [p / 1e6 for p, _ in means]
        if "L" in staged and "L" not in params:
            params["L"] = [m / 1e6 * self.ms_per_mmac for _, m in means]
        reward = make_reward(name, **params)
        n = getattr(reward, "n_stages", 1)
        if n not in (1, self.schedule.n_stages):
            raise ValueError(
                f"reward_params give {n} stages but the search has {self.schedule.n_stages}"
            )
        return reward

    def _allowed_names(self) -> list[tuple[str, ...]]:
        off = self.space.mask_offsets
        return [
            tuple(
                self.space.decision_ops(d)[j]
                for j in np.flatnonzero(self._mask[off[d] : off[d + 1]])
            )
            for d in range(self.space.n_decisions)
        ]

    def _start_stage(self) -> None:
        self._trainer = StageTrainer(
            self.space,
            self.data,
            self._allowed_names(),
            n_cells=self.schedule.cells[self._stage],
            channels=self.channels,
            batch_size=self.batch_size,
            val_batch_size=self.val_batch_size,
            lr=self.lr,
            generator=self._gen,
            device=self.device,
        )
        self._counts = np.zeros(self._mask.shape, dtype=np.int64)
        self._reward_sums = np.zeros(self._mask.shape, dtype=np.float64)
        self._step_in_stage = 0
        allowed = self._trainer.allowed
        if self.warmup_sampling == "fair":
            paths = fair_paths(allowed, self.np_random, self.warmup_batches)
        else:
            paths = [uniform_path(allowed, self.np_random) for _ in range(self.warmup_batches)]
        self._trainer.train(paths)
        self._cost += len(paths)
        self._tune = self._trainer.fixed_batches(self.tune_batches)

    # ------------------------------------------------------------------ API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Build and warm up the stage-0 supernet; all randomness comes from ``seed``."""
        super().reset(seed=seed)
        self._gen = torch.Generator().manual_seed(int(self.np_random.integers(2**62)))
        self._mask = np.ones(int(self.space.nvec.sum()), dtype=bool)
        self._episode_counts = np.zeros(self._mask.shape, dtype=np.int64)
        self._arch_probs = None
        self._stage, self._steps, self._cost = 0, 0, 0
        self._last = {"val_acc": 0.0, "params": 0.0, "reward": 0.0}
        self._best: dict[str, Any] = {"reward": -np.inf, "arch": None, "val_acc": 0.0}
        self._last_arch: Arch | None = None
        self._last_counts = (np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool))
        self.drop_log: list[dict[str, Any]] = []
        self._done = False
        with _threads(self.torch_threads):
            self._start_stage()
        return self._obs(), {"action_mask": self.action_masks(), "stage": 0, "cost": self._cost}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Train the supernet on sampled paths, score the chosen cell, advance the stage."""
        if self._trainer is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError(
                "the episode has ended (last stage done or max_steps reached); call reset()"
            )
        idx = self._check_action(action)
        with _threads(self.torch_threads):
            return self._step(idx)

    def _step(self, idx: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        arch = self.space.from_indices(idx)
        trainer, stage = self._trainer, self._stage
        if self.path_sampling == "agent":
            paths = [arch.ops] * self.train_batches
        else:
            paths = [
                uniform_path(trainer.allowed, self.np_random) for _ in range(self.train_batches)
            ]
        loss = trainer.train(paths)
        self._cost += len(paths) + len(self._tune)
        with trainer.tuned(arch.ops, self._tune):
            val_acc = trainer.evaluate(arch.ops, self.val_batches)
        params, macs = self.cost_table(self.schedule.cells[stage]).path_cost(
            arch.ops, self.space.cell_types
        )
        params_m, macs_m = params / 1e6, macs / 1e6
        if self.latency == "measured":
            latency = trainer.latency_ms(arch.ops)
        else:
            latency = macs_m * self.ms_per_mmac
        reward = float(self._reward(val_acc, params_m, latency, stage=self._reward_stage(stage)))
        self._record(idx, arch, reward, val_acc, params_m)
        self._steps += 1
        self._step_in_stage += 1
        stage_over = self._step_in_stage >= self.schedule.steps
        terminated = stage_over and stage + 1 >= self.schedule.n_stages
        truncated = not terminated and self.max_steps is not None and self._steps >= self.max_steps
        self._done = terminated or truncated
        if stage_over and not self._done:
            self._advance_stage()
        info = {
            "objectives": {"error": 1.0 - val_acc, "params": params_m, "latency": latency},
            "cost": self._cost,
            "accepted": True,
            "arch": arch.to_str(),
            "valid": self.space.is_valid(arch),
            "val_acc": val_acc,
            "params": params_m,
            "latency": latency,
            "flops": macs_m,
            "train_loss": loss,
            "stage": stage,
            "n_cells": self.schedule.cells[stage],
            "best_arch": self._best["arch"].to_str(),
            "best_reward": self._best["reward"],
            "best_val_acc": self._best["val_acc"],
            "action_mask": self.action_masks(),
            **self.policy_info(),
        }
        return self._obs(), reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Flat bool mask of allowed ops (per-decision masks concatenated), for MaskablePPO."""
        return self._mask.copy()

    def set_arch_probs(self, probs: Any) -> None:
        """Publish the agent's architecture probabilities (flat, in the action mask's layout:
        each decision's op probabilities concatenated); the env ranks ops by them when it drops
        ops between stages (``prune_by="policy"``) and reports their entropy in ``info``."""
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        if p.shape != self._mask.shape or not np.all(np.isfinite(p)) or np.any(p < 0):
            raise ValueError(
                f"arch probs must be {self._mask.shape[0]} finite non-negative numbers (one per "
                f"op of each decision, the action mask's layout), got shape {p.shape}"
            )
        self._arch_probs = p

    def policy(self) -> tuple[np.ndarray, str]:
        """(flat probabilities over the allowed ops, normalised per decision; their source:
        ``"agent"`` or ``"counts"``)."""
        off = self.space.mask_offsets
        if self._arch_probs is not None:
            raw, source = self._arch_probs * self._mask, "agent"
        else:
            raw, source = self._counts * self._mask, "counts"
        out = np.zeros(self._mask.shape, dtype=np.float64)
        for d in range(self.space.n_decisions):
            sl = slice(off[d], off[d + 1])
            row = raw[sl].astype(np.float64)
            if row.sum() <= 0:  # nothing chosen yet (or no mass on the allowed ops): uniform
                row = self._mask[sl].astype(np.float64)
            out[sl] = row / row.sum()
        return out, source

    def policy_info(self) -> dict[str, Any]:
        """Per-decision entropy (nats) and largest op probability of :meth:`policy`, their
        means, the dominant op and its share of decisions (see the class docstring)."""
        probs, source = self.policy()
        off = self.space.mask_offsets
        ent, top, names = [], [], []
        for d in range(self.space.n_decisions):
            p = probs[off[d] : off[d + 1]]
            nz = p[p > 0]
            ent.append(float(-(nz * np.log(nz)).sum()))
            top.append(float(p.max()))
            names.append(self.space.decision_ops(d)[int(np.argmax(p))])
        dominant, n = Counter(names).most_common(1)[0]
        return {
            "policy_source": source,
            "policy_entropy": np.array(ent),
            "policy_max_prob": np.array(top),
            "mean_entropy": float(np.mean(ent)),
            "mean_max_prob": float(np.mean(top)),
            "dominant_op": dominant,
            "dominant_op_share": n / len(names),
        }

    # -------------------------------------------------------------- helpers
    def _reward_stage(self, stage: int) -> int:
        return stage if getattr(self._reward, "n_stages", 1) > 1 else 0

    def _check_action(self, action: Any) -> np.ndarray:
        a = np.asarray(action)
        n = self.space.n_decisions
        if a.shape != (n,):
            raise ValueError(
                f"action must have shape ({n},) (one op index per edge), got {a.shape}"
            )
        if not np.issubdtype(a.dtype, np.integer):
            if not (np.issubdtype(a.dtype, np.number) and np.all(np.mod(a, 1) == 0)):
                raise ValueError(f"action must hold integer op indices, got {a.tolist()}")
        a = a.astype(np.int64)
        off = self.space.mask_offsets
        for d, k in enumerate(a):
            ct, e = self.space.decisions[d]
            names = self.space.decision_ops(d)
            if not 0 <= k < len(names):
                raise ValueError(
                    f"decision {d} ({ct} edge {e}): op index {int(k)} out of range [0, {len(names)})"
                )
            if not self._mask[off[d] + k]:
                allowed = [names[j] for j in np.flatnonzero(self._mask[off[d] : off[d + 1]])]
                raise ValueError(
                    f"decision {d} ({ct} edge {e} {self.space.edges[e]}): op {names[k]!r} "
                    f"(index {int(k)}) was dropped; allowed now: {allowed} (see obs['action_mask'])"
                )
        return a

    def _record(
        self, idx: np.ndarray, arch: Arch, reward: float, acc: float, params: float
    ) -> None:
        flat = self.space.mask_offsets[:-1] + idx
        self._counts[flat] += 1
        self._episode_counts[flat] += 1
        self._reward_sums[flat] += reward
        self._last = {"val_acc": acc, "params": params, "reward": reward}
        self._last_arch = arch
        if reward > self._best["reward"]:
            self._best = {"reward": reward, "arch": arch, "val_acc": acc}

    def _advance_stage(self) -> None:
        off, nxt = self.space.mask_offsets, self._stage + 1
        new = np.zeros_like(self._mask)
        dropped: dict[str, list[str]] = {}
        protected_log: dict[str, list[str]] = {}
        scores = self._arch_probs if self.prune_by == "policy" else None
        protected = self._episode_counts < self.min_op_samples
        for d in range(self.space.n_decisions):
            ct, e = self.space.decisions[d]
            sl = slice(off[d], off[d + 1])
            keep = self.schedule.keep[ct][nxt]
            new[sl] = drop_ops(
                self._mask[sl],
                self._counts[sl],
                self._reward_sums[sl],
                keep,
                scores=None if scores is None else scores[sl],
                protected=protected[sl],
            )
            names = self.space.decision_ops(d)
            gone = np.flatnonzero(self._mask[sl] & ~new[sl])
            dropped[f"{ct}:{e}"] = [names[j] for j in gone]
            protected_log[f"{ct}:{e}"] = [
                names[j] for j in np.flatnonzero(self._mask[sl] & protected[sl])
            ]
        self.drop_log.append(
            {
                "stage": nxt,
                "ranked_by": "policy" if scores is not None else "counts",
                "dropped": dropped,
                "protected": protected_log,
            }
        )
        self._last_counts = (self._counts.copy(), self._reward_sums.copy(), self._mask.copy())
        self._mask, self._stage = new, nxt
        self._start_stage()

    def _obs(self) -> dict[str, np.ndarray]:
        n_st = self.schedule.n_stages

        def box(v: float, lo: float = -_BOUND, hi: float = _BOUND) -> np.ndarray:
            return np.array([np.clip(v, lo, hi)], dtype=np.float32)

        best = self._best["reward"] if np.isfinite(self._best["reward"]) else 0.0
        return {
            "action_mask": self._mask.astype(np.int8),
            "stage": box(self._stage / max(1, n_st - 1), 0.0, 1.0),
            "progress": box(self._steps / self.schedule.total_steps, 0.0, 1.0),
            "val_acc": box(self._last["val_acc"], 0.0, 1.0),
            "params": box(self._last["params"], 0.0, _BOUND),
            "reward": box(self._last["reward"]),
            "best_reward": box(best),
        }

    # ------------------------------------------------------------- results
    def derive(self, rule: str = "best") -> Arch:
        """The searched cell: ``"best"`` (highest reward seen), ``"last"`` (last action) or
        ``"most_chosen"`` (per edge, the allowed op chosen most in the current stage, ties by
        mean reward)."""
        if self._trainer is None or self._last_arch is None:
            raise ValueError("no architecture evaluated yet: reset() and step() first")
        if rule == "best":
            return self._best["arch"]
        if rule == "last":
            return self._last_arch
        if rule == "most_chosen":
            counts, sums, mask = self._counts, self._reward_sums, self._mask
            if counts.sum() == 0:  # a stage just started: use the previous stage's choices
                counts, sums, _ = self._last_counts
            off, idx = self.space.mask_offsets, []
            for d in range(self.space.n_decisions):
                sl = slice(off[d], off[d + 1])
                idx.append(int(np.flatnonzero(drop_ops(mask[sl], counts[sl], sums[sl], 1))[0]))
            return self.space.from_indices(idx)
        raise ValueError(f"rule must be 'best', 'last' or 'most_chosen', got {rule!r}")

    def train_derived(
        self,
        arch: Arch | str | None = None,
        *,
        rule: str = "best",
        epochs: int = 10,
        channels: int | None = None,
        n_cells: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Train ``arch`` (default: :meth:`derive` with ``rule``) from scratch on the train split.

        Defaults: the env's channels, the last stage's cell count, batch size and lr.
        Returns ``test_acc``, ``val_acc``, ``params`` (M), ``flops`` (M MACs), ``train_time_s``,
        ``arch`` (string) and the settings used; deterministic for a given ``seed``.
        """
        if arch is None:
            arch = self.derive(rule)
        elif isinstance(arch, str):
            arch = self.space.from_str(arch)
        with _threads(self.torch_threads):
            return train_from_scratch(
                self.space,
                arch,
                self.data,
                channels=self.channels if channels is None else channels,
                n_cells=self.schedule.cells[-1] if n_cells is None else n_cells,
                epochs=epochs,
                batch_size=self.batch_size if batch_size is None else batch_size,
                lr=self.lr if lr is None else lr,
                seed=seed,
                device=self.device,
            )


__all__ = ["CellEnv"]

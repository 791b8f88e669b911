"""Training a VALP: one forward per batch, one loss and one optimizer per output (as in the paper).

For each output, the gradient of ``weight * loss`` with respect to the parameters of that output's
subgraph (every network with a path to it) is taken with ``torch.autograd.grad`` on the shared
forward graph; then each output's optimizer steps its own parameters with its own learning rate
(a parameter shared by two outputs is stepped by both optimizers, each with its own gradient).
Outputs whose subgraphs share no parameter get their gradients from one ``autograd.grad`` call on
the sum of their losses, which gives exactly the same per-output gradients with fewer passes.

The optimizers live in a :class:`Trainer` attached to the model, so repeated :func:`train` calls
continue where the previous one stopped (optimizer state and position in the shuffled data).
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from nasgym.tasks import TaskData
from nasgym.valp.descriptor import OPTIMIZERS
from nasgym.valp.model import ForwardResult, VALPModel

__all__ = [
    "OPTIMIZER_CLASSES",
    "TrainResult",
    "Trainer",
    "cpu_threads",
    "make_optimizer",
    "output_losses",
    "train",
]

#: optimizer name -> torch class; keyed exactly by ``descriptor.OPTIMIZERS``
OPTIMIZER_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}
assert tuple(OPTIMIZER_CLASSES) == OPTIMIZERS
#: optimizers with a fused (single-kernel) implementation, used when available
_FUSED = ("adam", "sgd", "adagrad")


def make_optimizer(name: str, params: list[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """The optimizer ``name`` over ``params`` (the fused implementation where torch has one)."""
    cls = OPTIMIZER_CLASSES[name]
    if name in _FUSED:
        try:
            return cls(params, lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return cls(params, lr=lr)


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (None: leave the setting alone), then restore.

    Models the size of a VALP run fastest single-threaded on a CPU: extra threads only add
    synchronisation, and they slow down badly when the cores are shared.
    """
    old = torch.get_num_threads()
    if n is None or n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def output_losses(
    model: VALPModel, result: ForwardResult, targets: Mapping[str, Tensor]
) -> dict[str, Tensor]:
    """Unweighted mean loss per output: cross-entropy, MSE, or the negative ELBO per image.

    The ELBO of a sampling output is the summed-over-pixels binary cross-entropy of its (summed)
    pixel logits against the image plus the KL divergence of every sampler feeding it.
    """
    losses = {}
    for name, (kind, srcs) in model.output_sources.items():
        out, y = result.outputs[name], targets[name]
        if kind == "classification":
            losses[name] = F.cross_entropy(out, y)
        elif kind == "regression":
            losses[name] = F.mse_loss(out, y)
        else:
            loss = F.binary_cross_entropy_with_logits(out, y, reduction="sum")
            for nid in srcs:
                mu, logvar = result.latents[nid]
                loss = loss - 0.5 * torch.sum(1.0 + logvar - mu * mu - torch.exp(logvar))
            losses[name] = loss / out.shape[0]
    return losses


@dataclass
class TrainResult:
    """What :func:`train` did.

    ``losses``: output name -> loss at each step done (before that step's update).
    ``diverged_output``: the first output whose loss was NaN/inf (None when none diverged).
    """

    losses: dict[str, list[float]]
    steps: int
    diverged: bool
    diverged_output: str | None
    wall_time: float
    samples: int = 0

    @property
    def final_losses(self) -> dict[str, float]:
        """Loss of each output at the last step done (NaN when no step was done)."""
        return {k: (v[-1] if v else float("nan")) for k, v in self.losses.items()}


class Trainer:
    """Per-output optimizers and data position of one model; see the module docstring."""

    def __init__(self, model: VALPModel, loss_weights: Mapping[str, float] | None = None) -> None:
        valp = model.valp
        # weakly: a model and its trainer would otherwise form a reference cycle, and every
        # discarded candidate would wait for the cycle collector (measured: ~4 MB a VALP step
        # on Fashion-MNIST until a full collection)
        self._model = weakref.ref(model)
        names = [s.name for s in valp.task_outputs]
        unknown = sorted(set(loss_weights or {}) - set(names))
        if unknown:
            raise ValueError(f"loss_weights name unknown outputs {unknown}; outputs: {names}")
        self.loss_weights = dict(loss_weights or {})
        self.names = names
        self.weights = {
            s.name: float(self.loss_weights.get(s.name, s.weight)) for s in valp.task_outputs
        }
        self.params: dict[str, list[torch.nn.Parameter]] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        for name in names:
            # a network read only through detached connections is not trained by this output
            nets = sorted(c for c in valp.trained_ancestors(f"o:{name}") if c.startswith("n:"))
            params = [p for nid in nets for p in model.network_module(nid).parameters()]
            self.params[name] = params
            h = valp.hparam(name)
            if params and self.weights[name] > 0:
                self.optimizers[name] = make_optimizer(h.optimizer, params, h.lr)
        self.groups = self._gradient_groups([n for n in names if n in self.optimizers])
        self.steps_done = 0
        #: the first ``warmup`` batches of this trainer's life run at lr * (k + 1) / warmup
        self.warmup = 0
        self.diverged = False
        self.diverged_output: str | None = None
        # the data being trained on is referenced weakly and the epoch is a permutation of row
        # indices, so a model kept after training never holds (a copy of) the training data
        self._data: weakref.ref[TaskData] | None = None
        self._perm: Tensor | None = None
        self._pos = 0

    @property
    def model(self) -> VALPModel:
        """The model this trainer trains."""
        model = self._model()
        assert model is not None, "the trainer outlived its model"
        return model

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_data"], state["_perm"] = None, None  # a restored trainer starts a new epoch
        state["_model"] = self.model  # pickled strongly (pickle keeps the cycle's identity)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._model = weakref.ref(state["_model"])

    def _scale_lr(self, factor: float) -> None:
        """Every optimizer at ``factor`` times its output's learning rate."""
        valp = self.model.valp
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = valp.hparam(name).lr * factor

    def _weighted(self, losses: dict[str, Tensor], name: str) -> Tensor:
        w = self.weights[name]
        return losses[name] if w == 1.0 else losses[name] * w

    def _gradient_groups(self, names: list[str]) -> list[tuple[list[str], list[Tensor]]]:
        """Outputs batched into as few ``autograd.grad`` calls as exactness allows.

        Outputs whose subgraphs share no parameter can take their gradients from one call on the
        sum of their losses (each parameter then only receives its own output's gradient).
        """
        groups: list[tuple[list[str], list[Tensor], set[int]]] = []
        for name in names:
            ids = {id(p) for p in self.params[name]}
            for group, params, used in groups:
                if not ids & used:
                    group.append(name)
                    params.extend(self.params[name])
                    used |= ids
                    break
            else:
                groups.append(([name], list(self.params[name]), ids))
        return [(g, p) for g, p, _ in groups]

    def _next_batch(self, data: TaskData, batch_size: int, generator: torch.Generator) -> TaskData:
        n = len(data)
        current = self._data() if self._data is not None else None
        if current is not data or self._perm is None or self._pos + batch_size > n:
            gdev = generator.device
            self._perm = torch.randperm(n, generator=generator, device=gdev).to(data.device)
            self._pos, self._data = 0, weakref.ref(data)
        start = self._pos
        self._pos += batch_size
        return data.subset(self._perm[start : start + batch_size])

    def _step(self, batch: TaskData, generator: torch.Generator) -> Tensor:
        model = self.model
        result = model(batch.inputs, generator=generator)
        losses = output_losses(model, result, batch.targets)
        values = torch.stack([losses[n].detach() for n in self.names])
        if not bool(torch.isfinite(values).all()):
            return values
        grads: list[tuple[Tensor | None, ...]] = []
        last = len(self.groups) - 1
        for k, (group, params) in enumerate(self.groups):
            loss = self._weighted(losses, group[0])
            for name in group[1:]:
                loss = loss + self._weighted(losses, name)
            grads.append(
                torch.autograd.grad(loss, params, retain_graph=k < last, allow_unused=True)
            )
        for (group, params), gs in zip(self.groups, grads, strict=True):
            for p, g in zip(params, gs, strict=True):
                p.grad = g
            for name in group:
                self.optimizers[name].step()
        return values

    def run(
        self,
        data: TaskData,
        steps: int,
        generator: torch.Generator,
        batch_size: int | None = None,
        threads: int | None = 1,
        order: Tensor | None = None,
    ) -> TrainResult:
        """Train for ``steps`` batches (fewer if a loss turns NaN/inf); see :func:`train`."""
        if self.model.device.type != "cpu":
            threads = None
        with cpu_threads(threads):
            return self._run(data, steps, generator, batch_size, order)

    def _run(
        self,
        data: TaskData,
        steps: int,
        generator: torch.Generator,
        batch_size: int | None,
        order: Tensor | None = None,
    ) -> TrainResult:
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        bs = int(batch_size or self.model.valp.batch_size)
        if bs <= 0:
            raise ValueError(f"batch_size must be positive, got {bs}")
        bs = min(bs, len(data))
        if order is not None and len(order) < steps * bs:
            raise ValueError(
                f"order holds {len(order)} row indices; {steps} batches of {bs} need {steps * bs}"
            )
        start = time.perf_counter()
        # the batches' losses go into one table allocated with the first: a small tensor kept
        # per batch would stay between the batches' freed blocks and grow the heap with the
        # number of batches (about 0.27 MB a batch on Fashion-MNIST)
        history: Tensor | None = None
        filled = 0
        model = self.model
        was_training = model.training
        model.train()
        try:
            for k in range(steps if not self.diverged else 0):
                if order is None:
                    batch = self._next_batch(data, bs, generator)
                else:
                    batch = data.subset(order[k * bs : (k + 1) * bs].to(data.device))
                if self.warmup and self.steps_done <= self.warmup:  # rising, then the outputs' lr
                    self._scale_lr(min(1.0, (self.steps_done + 1) / self.warmup))
                values = self._step(batch, generator)
                if history is None:
                    history = values.new_empty((steps, values.numel()))
                history[filled] = values
                filled += 1
                if not bool(torch.isfinite(values).all()):
                    bad = [
                        n
                        for n, v in zip(self.names, values.tolist(), strict=False)
                        if not _finite(v)
                    ]
                    self.diverged, self.diverged_output = True, bad[0]
                    break
                self.steps_done += 1
        finally:
            model.train(was_training)
            for p in model.parameters():  # each batch sets every gradient afresh: hold none
                p.grad = None
        table = history[:filled].cpu().tolist() if history is not None else []
        losses = {n: [row[k] for row in table] for k, n in enumerate(self.names)}
        done = filled - (1 if self.diverged and filled else 0)
        return TrainResult(
            losses,
            done,
            self.diverged,
            self.diverged_output,
            time.perf_counter() - start,
            samples=done * bs,
        )


def _finite(v: float) -> bool:
    return v == v and abs(v) != float("inf")


def train(
    model: VALPModel,
    data: TaskData,
    steps: int,
    generator: torch.Generator,
    *,
    batch_size: int | None = None,
    loss_weights: Mapping[str, float] | None = None,
    threads: int | None = 1,
    order: Tensor | None = None,
    warmup: int = 0,
) -> TrainResult:
    """Train ``model`` on ``data`` for ``steps`` batches with its per-output optimizers.

    ``batch_size`` defaults to the descriptor's; ``loss_weights`` (output name -> weight) override
    the task's output weights. Batches come from epoch-wise shuffles drawn from ``generator``, which
    also draws the samplers' noise. Repeated calls on the same model continue the same optimizers
    and the same shuffled epoch (new ``data`` or new ``loss_weights`` start a new epoch / new
    optimizers). ``order`` (row indices, at least ``steps * batch_size`` of them) fixes the batches
    instead: batch ``k`` is ``order[k*bs:(k+1)*bs]``, and the shuffled epoch is left where it was
    (two models trained on the same ``order`` see the same batches in the same order).
    A NaN/inf loss stops training without updating on it: the result has ``diverged=True`` and the
    model keeps its last finite weights. Never raises for divergence. On CPU, training runs with
    ``threads`` torch threads (restored afterwards; None keeps the current setting).
    ``warmup`` = W > 0: the first W batches of the model's optimizers (counted from their
    creation, so after an edit, whose model starts fresh ones) run at ``lr * (k + 1) / W``.
    """
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    trainer = model._trainer
    if (
        trainer is None
        or trainer.model is not model
        or trainer.loss_weights != dict(loss_weights or {})
    ):
        trainer = Trainer(model, loss_weights)
        model._trainer = trainer
    if trainer.warmup and not warmup:  # a warm-up given up midway: back at the outputs' lr
        trainer._scale_lr(1.0)
    trainer.warmup = warmup
    return trainer.run(data, steps, generator, batch_size, threads, order)

"""One search stage's supernet with its optimiser and batch streams: trains and scores paths."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch

from nasgym.spaces import CellSpace
from nasgym.supernet.costs import measure_latency_ms
from nasgym.supernet.model import Supernet, init_weights
from nasgym.supernet.training import Batcher, ImageData, sgd, train_batch


def uniform_path(allowed: Sequence[Sequence[str]], rng: np.random.Generator) -> tuple[str, ...]:
    """One op per decision, uniformly among that decision's ``allowed`` ops."""
    return tuple(names[int(rng.integers(len(names)))] for names in allowed)


def fair_paths(
    allowed: Sequence[Sequence[str]], rng: np.random.Generator, n: int
) -> list[tuple[str, ...]]:
    """``n`` paths in which every decision cycles through its ``allowed`` ops in a fresh random
    order each cycle (strict fairness, as FairNAS trains a one-shot supernet): after ``k``
    cycles of a decision, each of its ops was on exactly ``k`` paths. The paths are drawn one
    after the other, so the first ``m`` of ``n`` are the ``m`` paths asked for alone: a
    supernet trained on them does not depend on how many paths were drawn after."""
    queues: list[list[str]] = [[] for _ in allowed]
    paths = []
    for _ in range(n):
        for names, queue in zip(allowed, queues, strict=True):
            if not queue:
                queue.extend(names[int(i)] for i in rng.permutation(len(names))[::-1])
        paths.append(tuple(queue.pop() for queue in queues))
    return paths


class StageTrainer:
    """The supernet of one stage (only the allowed ops built), trained with single paths.

    Weights are drawn from ``generator``, which also shuffles the train and val batches.
    ``batch_stats``: BatchNorm with the batch's statistics in evaluation too (the search
    default), else with running estimates (see :class:`~nasgym.supernet.model.Supernet`).
    """

    def __init__(
        self,
        space: CellSpace,
        data: ImageData,
        allowed: Sequence[Sequence[str]],
        *,
        n_cells: int,
        channels: int,
        batch_size: int,
        val_batch_size: int,
        lr: float,
        generator: torch.Generator,
        device: torch.device,
        batch_stats: bool = True,
    ) -> None:
        self.space = space
        self.allowed = tuple(tuple(a) for a in allowed)
        self.device = device
        self.model = Supernet(
            space,
            self.allowed,
            channels=channels,
            n_cells=n_cells,
            n_classes=data.n_classes,
            in_channels=int(data.train.x.shape[1]),
            batch_stats=batch_stats,
        )
        init_weights(self.model, generator)  # on the CPU: the generator is a CPU generator
        self.model.to(device)
        self.params = list(self.model.parameters())
        self.optimizer = sgd(self.model, lr)
        self.train_batches = Batcher(data.train, batch_size, generator)
        self.val_batches = Batcher(data.val, val_batch_size, generator)
        self._latency_x = data.val.x[:1]

    def _check(self, ops: Sequence[str]) -> None:
        for d, (op, names) in enumerate(zip(ops, self.allowed, strict=True)):
            if op not in names:  # the env validates actions first: this is a bug guard
                raise ValueError(f"op {op!r} of decision {d} is not built in this stage: {names}")

    def train(self, paths: Sequence[Sequence[str]]) -> float:
        """One SGD step per path, each on the next train batch; returns the mean loss."""
        self.model.train()
        losses = []
        for ops in paths:
            self._check(ops)
            x, y = self.train_batches.next()
            losses.append(
                train_batch(
                    lambda inp, o=ops: self.model(inp, o), self.params, self.optimizer, x, y
                )
            )
        return float(np.mean(losses)) if losses else float("nan")

    def fixed_batches(self, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The next ``n`` train batches, to reuse: :meth:`tuned` on the same batches for every
        path scores paths, not the batches they happened to get."""
        return [self.train_batches.next() for _ in range(n)]

    @contextmanager
    def tuned(
        self, ops: Sequence[str], batches: Sequence[tuple[torch.Tensor, torch.Tensor]]
    ) -> Iterator[None]:
        """Within the block, the supernet after one SGD step on each of ``batches`` along path
        ``ops`` (inherited weights fine-tuned for the path, as one-shot evaluators fine-tune a
        candidate before scoring it); on exit the shared weights and the optimiser's momentum
        are put back as they were, so what the block did leaves no trace."""
        self._check(ops)
        if not batches:
            yield
            return
        weights = copy.deepcopy(self.model.state_dict())
        momentum = copy.deepcopy(self.optimizer.state_dict())
        try:
            self.model.train()
            for x, y in batches:
                train_batch(
                    lambda inp, o=tuple(ops): self.model(inp, o), self.params, self.optimizer, x, y
                )
            yield
        finally:
            self.model.load_state_dict(weights)
            self.optimizer.load_state_dict(momentum)

    @torch.no_grad()
    def evaluate(self, ops: Sequence[str], n_batches: int) -> float:
        """Accuracy of path ``ops`` with the shared weights on ``n_batches`` val batches."""
        self._check(ops)
        self.model.eval()
        correct = total = 0
        for _ in range(n_batches):
            x, y = self.val_batches.next()
            correct += int((self.model(x, ops).argmax(1) == y).sum())
            total += int(y.shape[0])
        return correct / max(1, total)

    def latency_ms(self, ops: Sequence[str], repeats: int = 5) -> float:
        """Measured wall-clock ms of a batch-1 forward of path ``ops`` (not reproducible)."""
        self.model.eval()
        return measure_latency_ms(self.model, ops, self._latency_x, repeats)


__all__ = ["StageTrainer", "fair_paths", "uniform_path"]

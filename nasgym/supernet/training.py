"""Training and evaluation helpers: image tensors, seeded batches, SGD steps, accuracy.

Everything random draws from a ``torch.Generator`` passed in, never from global state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from nasgym.data import Split, load_dataset


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, restoring the previous count after.

    ``None`` leaves the setting alone. Small CPU models gain nothing from more threads, and on
    a loaded machine oversubscribed threads can slow them down many times.
    """
    if n is None:
        yield
        return
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"torch_threads must be a positive int or None, got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class ImageSplit:
    """One split as tensors: ``x`` float32 ``(N, 1, H, W)``, ``y`` int64 ``(N,)``."""

    x: torch.Tensor
    y: torch.Tensor

    @classmethod
    def from_split(cls, split: Split, device: torch.device) -> ImageSplit:
        """Tensors of a :class:`nasgym.data.Split` (adds the channel axis)."""
        x = torch.from_numpy(split.images.copy()).unsqueeze(1).to(device)
        return cls(x, torch.from_numpy(split.labels.copy()).to(device))

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class ImageData:
    """Train, val and test tensors of a data set, with its image shape and class count."""

    name: str
    train: ImageSplit
    val: ImageSplit
    test: ImageSplit
    image_shape: tuple[int, int]
    n_classes: int


def load_image_data(
    name: str,
    data_dir: str | None = None,
    max_train: int | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> ImageData:
    """Load data set ``name`` (see :func:`nasgym.data.load_dataset`) as tensors on ``device``."""
    ds = load_dataset(name, data_dir=data_dir, seed=seed, max_train=max_train)
    dev = torch.device(device)
    return ImageData(
        name=ds.name,
        train=ImageSplit.from_split(ds.train, dev),
        val=ImageSplit.from_split(ds.val, dev),
        test=ImageSplit.from_split(ds.test, dev),
        image_shape=tuple(ds.image_shape),
        n_classes=int(ds.n_classes),
    )


class Batcher:
    """Endless shuffled mini-batches of a split, reshuffled each epoch from ``generator``."""

    def __init__(self, split: ImageSplit, batch_size: int, generator: torch.Generator) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch size must be a positive int, got {batch_size!r}")
        self.split = split
        self.batch_size = min(batch_size, len(split))
        self.generator = generator
        self._order = torch.randperm(len(split), generator=generator)
        self._pos = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next ``(x, y)`` batch (always full: an epoch's remainder is skipped)."""
        if self._pos + self.batch_size > len(self._order):
            self._order = torch.randperm(len(self.split), generator=self.generator)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size].to(self.split.x.device)
        self._pos += self.batch_size
        return self.split.x[idx], self.split.y[idx]


def sgd(model: nn.Module, lr: float, momentum: float = 0.9, weight_decay: float = 3e-4):
    """DARTS' weight optimiser: SGD with momentum and weight decay."""
    if not lr > 0:
        raise ValueError(f"learning rate must be positive, got {lr!r}")
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


def train_batch(
    forward: Callable[[torch.Tensor], torch.Tensor],
    params: Sequence[nn.Parameter] | None,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    grad_clip: float = 5.0,
) -> float:
    """One SGD step on cross-entropy of ``forward(x)``; returns the loss."""
    optimizer.zero_grad(set_to_none=True)  # unused ops keep grad None: momentum skips them
    loss = nn.functional.cross_entropy(forward(x), y)
    loss.backward()
    if grad_clip and params is not None:
        nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], grad_clip)
    optimizer.step()
    return float(loss.detach())


@torch.no_grad()
def accuracy(
    forward: Callable[[torch.Tensor], torch.Tensor],
    split: ImageSplit,
    batch_size: int = 512,
    idx: torch.Tensor | None = None,
) -> float:
    """Fraction of ``split`` (or of its items ``idx``) that ``forward`` classifies correctly."""
    idx = torch.arange(len(split)) if idx is None else idx
    correct = 0
    for start in range(0, len(idx), batch_size):
        sel = idx[start : start + batch_size].to(split.x.device)
        correct += int((forward(split.x[sel]).argmax(1) == split.y[sel]).sum())
    return correct / max(1, len(idx))


__all__ = [
    "Batcher",
    "ImageData",
    "ImageSplit",
    "accuracy",
    "load_image_data",
    "sgd",
    "torch_threads",
    "train_batch",
]

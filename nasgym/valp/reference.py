"""The sampling score: a Fréchet distance under a small reference classifier (FID-style).

Why this is principled. The Fréchet Inception Distance (Heusel et al., 2017) compares generated and
real images by the Fréchet (2-Wasserstein) distance between Gaussians fitted to their features in
a network trained to recognise the real data: ``||mu_g - mu_r||^2 + Tr(S_g + S_r - 2 (S_g S_r)^1/2)``.
It is zero when the two feature distributions share mean and covariance, grows with both blur
(lost detail shifts the features) and mode collapse (shrunken covariance), and unlike a pixel loss
it does not reward the average image. Inception features do not fit 8x8 digits, so, as is common
for small data sets, the features come from a reference MLP trained on the data set itself: its
penultimate layer (``64`` units) is the feature space. The reference is deterministic from a seed,
trained once per data set and cached in memory and on disk (``$NASGYM_CACHE_DIR`` or
``~/.cache/nasgym``); a corrupt cache file is ignored and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CACHE_DIR_ENV",
    "ReferenceClassifier",
    "cache_dir",
    "clear_memory_cache",
    "frechet_distance",
    "reference_for",
]

#: environment variable naming the cache folder
CACHE_DIR_ENV = "NASGYM_CACHE_DIR"
#: bump when the architecture or training recipe changes (old cache files are then ignored)
RECIPE_VERSION = 1
_HIDDEN = (128, 64)
_STEPS = 600
_BATCH = 128
_MEMORY: dict[str, ReferenceClassifier] = {}


class ReferenceClassifier(nn.Module):
    """MLP ``pixels -> 128 -> 64 -> classes`` (ReLU); the 64 units are the score's features."""

    def __init__(self, n_in: int, n_classes: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.n_in, self.n_classes = n_in, n_classes

        def linear(a: int, b: int) -> nn.Linear:
            lin = torch.nn.utils.skip_init(nn.Linear, a, b)
            if generator is not None:  # torch's default init, from our generator
                with torch.no_grad():
                    lin.weight.uniform_(-(a**-0.5), a**-0.5, generator=generator)
                    lin.bias.uniform_(-(a**-0.5), a**-0.5, generator=generator)
            return lin

        self.body = nn.Sequential(
            linear(n_in, _HIDDEN[0]), nn.ReLU(), linear(_HIDDEN[0], _HIDDEN[1]), nn.ReLU()
        )
        self.head = linear(_HIDDEN[1], n_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits of flattened images ``x``."""
        return self.head(self.body(x))

    @torch.no_grad()
    def features(self, images: Tensor) -> np.ndarray:
        """Penultimate-layer features (float64 ``(N, 64)``) of images ``(N, n_in)`` or ``(N, H, W)``."""
        x = torch.as_tensor(images, dtype=torch.float32).reshape(len(images), -1)
        if x.shape[1] != self.n_in:
            raise ValueError(
                f"reference classifier takes images of {self.n_in} pixels, got {x.shape[1]}"
            )
        p = next(self.parameters())
        return self.body(x.to(p.device)).double().cpu().numpy()

    @torch.no_grad()
    def accuracy(self, images: Tensor, labels: Tensor) -> float:
        """Fraction of ``images`` classified as ``labels``."""
        x = torch.as_tensor(images, dtype=torch.float32).reshape(len(images), -1)
        pred = self(x.to(next(self.parameters()).device)).argmax(1).cpu()
        return float((pred == torch.as_tensor(labels)).float().mean())

    def score(self, generated: Tensor, real: Tensor) -> float:
        """Fréchet distance between the features of ``generated`` and ``real`` images."""
        return frechet_distance(self.features(generated), self.features(real))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of ``a`` and of ``b``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(
            f"need two (N>=2, D) feature arrays of the same D, got {a.shape}, {b.shape}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # singular products are expected (e.g. collapsed samples)
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(s_a @ s_b)
        if not np.isfinite(covmean).all():
            # regularise both covariances slightly (standard FID practice)
            off = np.eye(len(s_a)) * 1e-6
            covmean = scipy.linalg.sqrtm((s_a + off) @ (s_b + off))
    covmean = np.real(covmean)  # sqrtm of a PSD product is real up to round-off
    d = float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(covmean))
    return max(d, 0.0)


def cache_dir() -> Path:
    """Folder of the on-disk cache: ``$NASGYM_CACHE_DIR`` or ``~/.cache/nasgym``."""
    env = os.environ.get(CACHE_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nasgym"


def clear_memory_cache() -> None:
    """Forget the in-process reference classifiers (the disk cache stays)."""
    _MEMORY.clear()


def _cache_key(dataset: Any, seed: int) -> str:
    """Name, shape, classes and seed, plus a digest of the training labels and of up to 256
    training images spread over the split (so a changed data set under an old name, or a
    different split of it, never reuses a stale reference; cheap even for MNIST)."""
    labels = np.ascontiguousarray(dataset.train.labels, dtype=np.int64)
    images = np.asarray(dataset.train.images)
    spread = np.linspace(0, len(images) - 1, min(len(images), 256)).astype(np.int64)
    sample = np.ascontiguousarray(images[spread], dtype=np.float32)
    digest = hashlib.sha256(labels.tobytes() + sample.tobytes()).hexdigest()[:16]
    h, w = dataset.image_shape
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(dataset.name))
    return f"reference-v{RECIPE_VERSION}-{name}-{h}x{w}-c{dataset.n_classes}-s{seed}-{digest}"


def _train_reference(dataset: Any, seed: int) -> ReferenceClassifier:
    from nasgym.valp.train import cpu_threads

    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(dataset.train.flat, dtype=torch.float32)
    y = torch.as_tensor(dataset.train.labels, dtype=torch.int64)
    model = ReferenceClassifier(x.shape[1], int(dataset.n_classes), gen)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    with cpu_threads(1), torch.enable_grad():
        for _ in range(_STEPS):
            idx = torch.randint(len(x), (min(_BATCH, len(x)),), generator=gen)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def _load(path: Path, n_in: int, n_classes: int) -> ReferenceClassifier | None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = ReferenceClassifier(n_in, n_classes)
        model.load_state_dict(state)
    except Exception:  # any unreadable / mismatched file: rebuild it
        return None
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        return None
    return model.eval()


def _save(model: ReferenceClassifier, path: Path) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        torch.save(model.state_dict(), tmp)
        os.replace(tmp, path)
    except OSError:
        # a read-only or full cache folder only costs retraining next time
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def reference_for(dataset: Any, seed: int = 0, *, use_disk: bool = True) -> ReferenceClassifier:
    """The reference classifier of ``dataset`` (a :class:`nasgym.data.Dataset`), trained once.

    Trained on ``dataset.train`` from ``seed`` (a few seconds on digits) and cached in memory and,
    with ``use_disk``, on disk, keyed by name, image shape, classes, seed and a digest of the
    training labels and of images spread over the training split.
    """
    key = _cache_key(dataset, seed)
    if key in _MEMORY:
        return _MEMORY[key]
    n_in, n_classes = int(np.prod(dataset.image_shape)), int(dataset.n_classes)
    path = cache_dir() / f"{key}.pt"
    model = _load(path, n_in, n_classes) if use_disk and path.exists() else None
    if model is None:
        model = _train_reference(dataset, seed)
        if use_disk:
            _save(model, path)
    for p in model.parameters():
        p.requires_grad_(False)
    _MEMORY[key] = model
    return model

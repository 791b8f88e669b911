"""Dependency measures: how well a component's activations predict an output's target.

A *linear probe* (ridge regression with intercept on standardised activations, solved in closed
form with numpy; the same estimator as scikit-learn's ``Ridge`` without its import cost) is fitted
on the first half of a sample and scored on the second half. Its error is in [0, 1], lower = more predictive:

- classification targets (int labels): the probe regresses one-hot labels and predicts the
  arg-max; error = misclassification rate;
- regression / sampling targets (float arrays): error = ``1 - R^2`` (variance-weighted over the
  target's columns), clipped to [0, 1].

:func:`dependency_scores` probes every (network, output) pair and compares each network with its
predecessors: ``gain = min(error of its predecessors) - error of the network``, positive when
the network makes the target more linearly accessible than anything it reads from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

PROBE_KINDS: tuple[str, ...] = ("classification", "regression", "sampling")


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std < 1e-8] = 1.0
    return (train - mean) / std, (test - mean) / std


@cache
def _controller() -> Any:
    try:  # a dependency of scikit-learn, so present wherever nasgym is installed
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover
        return None
    return ThreadpoolController()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with one BLAS thread: the probes' small solves are far faster that way,
    and multi-threaded BLAS on busy, shared cores is slower still (often by 50x)."""
    controller = _controller()
    if controller is None:  # pragma: no cover
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


def ridge_fit_predict(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, alpha: float
) -> np.ndarray:
    """Predictions on ``x_test`` of ridge regression (with intercept) fitted on the train part."""
    x_mean, y_mean = x_train.mean(axis=0), y_train.mean(axis=0)
    xc, yc = x_train - x_mean, y_train - y_mean
    n, d = xc.shape
    if n < d:  # dual form: w = X^T (X X^T + alpha I)^-1 y
        w = xc.T @ np.linalg.solve(xc @ xc.T + alpha * np.eye(n), yc)
    else:
        w = np.linalg.solve(xc.T @ xc + alpha * np.eye(d), xc.T @ yc)
    return (x_test - x_mean) @ w + y_mean


def _r2_variance_weighted(truth: np.ndarray, pred: np.ndarray) -> float:
    residual = ((truth - pred) ** 2).sum()
    total = ((truth - truth.mean(axis=0)) ** 2).sum()
    return float(1.0 - residual / total)


def probe_error(
    features: np.ndarray, target: np.ndarray, kind: str, *, alpha: float = 1.0
) -> float:
    """Held-out error in [0, 1] of a ridge probe predicting ``target`` from ``features``.

    ``features``: ``(n, d)``; ``target``: ``(n,)`` int labels for ``classification``, ``(n, k)``
    (or ``(n,)``) floats otherwise. Needs at least 4 samples.
    """
    if kind not in PROBE_KINDS:
        raise ValueError(f"kind must be one of {PROBE_KINDS}, got {kind!r}")
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    y = np.asarray(target)
    if len(x) != len(y) or len(x) < 4:
        raise ValueError(
            f"probe needs >= 4 samples and as many targets as features, got {len(x)} and {len(y)}"
        )
    if not np.isfinite(x).all():
        return 1.0
    half = len(x) // 2
    x_train, x_test = _standardise(x[:half], x[half:])
    if kind == "classification":
        labels = y.astype(np.int64).reshape(-1)
        classes = np.unique(labels[:half])
        onehot = (labels[:half, None] == classes[None, :]).astype(np.float64)
        pred = ridge_fit_predict(x_train, onehot, x_test, alpha)
        guess = classes[np.argmax(pred.reshape(len(x_test), -1), axis=1)]
        return float((guess != labels[half:]).mean())
    values = y.astype(np.float64).reshape(len(y), -1)
    pred = ridge_fit_predict(x_train, values[:half], x_test, alpha)
    truth = values[half:]
    keep = truth.var(axis=0) > 1e-12  # constant columns carry no signal
    if not keep.any():
        return 0.0
    r2 = _r2_variance_weighted(truth[:, keep], pred.reshape(truth.shape)[:, keep])
    return float(np.clip(1.0 - r2, 0.0, 1.0))


@dataclass
class DependencyResult:
    """Probe errors and gains keyed by ``(component, output)``."""

    error: dict[tuple[str, str], float] = field(default_factory=dict)
    gain: dict[tuple[str, str], float] = field(default_factory=dict)


def dependency_scores(
    activations: Mapping[str, np.ndarray],
    targets: Mapping[str, np.ndarray],
    kinds: Mapping[str, str],
    pairs: Iterable[tuple[str, str]],
    predecessors: Mapping[str, Sequence[str]],
    *,
    alpha: float = 1.0,
) -> DependencyResult:
    """Probe error of each ``(component, output)`` pair and its gain over its predecessors.

    ``activations`` holds every component's emission on the same samples (inputs included, so
    predecessors can be probed); ``targets``/``kinds`` are per output; ``predecessors`` lists the
    sources of each component. A predecessor missing from ``activations`` is skipped; with none
    left the gain is 0.0.
    """
    result = DependencyResult()
    errors: dict[tuple[str, str], float] = {}

    def error(component: str, output: str) -> float:
        key = (component, output)
        if key not in errors:
            errors[key] = probe_error(
                activations[component], targets[output], kinds[output], alpha=alpha
            )
        return errors[key]

    with single_threaded_blas():
        for component, output in pairs:
            own = error(component, output)
            sources = [p for p in predecessors.get(component, ()) if p in activations]
            result.error[(component, output)] = own
            result.gain[(component, output)] = (
                min(error(p, output) for p in sources) - own if sources else 0.0
            )
    return result


__all__ = [
    "PROBE_KINDS",
    "DependencyResult",
    "dependency_scores",
    "probe_error",
    "ridge_fit_predict",
]

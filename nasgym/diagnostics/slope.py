"""Historic sub-loss: the slope of each output's recent training loss (the paper's §IV-B).

The slope is the coefficient of a least-squares line fitted to the loss values against the
training step index (one unit per batch). A slope near zero means the loss is stuck; a clearly
negative one means it is still falling. Non-finite values (a diverged run) are dropped; fewer than
two finite values give a slope of 0.0 (no evidence of progress).

The slope is in loss units per step, so its size depends on the loss (cross-entropy in nats,
a histogram MSE near 1e-3, a negative ELBO of tens of nats per image) and on how far training
has gone. :func:`relative_loss_slope` divides it by the loss level over the same window (the
mean loss, less a ``floor`` the loss cannot go below): the fraction of the loss lost per step,
comparable across outputs of different kinds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def loss_slope(losses: Sequence[float] | np.ndarray, window: int | None = None) -> float:
    """Slope (loss units per training step) of a line fitted to the last ``window`` losses.

    ``window=None`` uses every value. Non-finite values are ignored; fewer than two finite
    values give 0.0.
    """
    values = np.asarray(losses, dtype=np.float64).reshape(-1)
    if window is not None:
        if int(window) < 2:
            raise ValueError(f"window must be an int >= 2 (or None for all values), got {window!r}")
        values = values[-int(window) :]
    steps = np.arange(len(values), dtype=np.float64)
    finite = np.isfinite(values)
    if finite.sum() < 2:
        return 0.0
    x, y = steps[finite], values[finite]
    x = x - x.mean()
    return float((x * (y - y.mean())).sum() / (x * x).sum())


def relative_loss_slope(
    losses: Sequence[float] | np.ndarray, window: int | None = None, floor: float = 0.0
) -> float:
    """:func:`loss_slope` divided by the loss level: the mean of the finite values in the window
    minus ``floor`` (the loss's minimum, 0 for cross-entropy and MSE). 0.0 where the level is
    not positive or fewer than two values are finite."""
    values = np.asarray(losses, dtype=np.float64).reshape(-1)
    slope = loss_slope(values, window)
    recent = values if window is None else values[-int(window) :]
    recent = recent[np.isfinite(recent)]
    level = float(recent.mean()) - float(floor) if len(recent) >= 2 else 0.0
    return slope / level if level > 0 else 0.0


def loss_slopes(
    history: Mapping[str, Sequence[float] | np.ndarray], window: int | None = None
) -> dict[str, float]:
    """:func:`loss_slope` of every output's loss history (output name -> slope)."""
    return {name: loss_slope(values, window) for name, values in history.items()}


def loss_trend(
    losses: Sequence[float] | np.ndarray,
    floor: float = 0.0,
    horizon: int = 1,
    recent: int | None = None,
) -> tuple[float, float]:
    """The unit-free trend of a lineage's training-loss history: ``(gain, t)``.

    ``gain``: a power law ``loss - floor = a * step ** -b`` (the usual shape of a learning curve)
    is fitted by least squares on ``log(loss - floor)`` against ``log(step)`` over the whole
    history (steps counted from 1; values that are not finite or not above ``floor`` are
    dropped); ``gain`` is the fraction of the excess loss the fit projects to be lost over the
    next ``horizon`` steps, ``1 - ((T + horizon) / T) ** -b`` at the history's length ``T``:
    positive while the loss falls, negative when it rises, the same scale for a cross-entropy,
    an MSE and an ELBO.

    ``t``: whether the loss is still falling *now*: the t-statistic of the slope of a line
    fitted to ``log(loss - floor)`` over the last ``recent`` values (default ``horizon``, the
    latest step's training). Below -2 the recent loss falls significantly; the whole-history
    fit cannot tell this, since thousands of values make any overall decline significant.
    Fewer than three usable values give 0.0 for either figure: no evidence either way.
    """
    if int(horizon) < 1:
        raise ValueError(f"horizon must be a positive number of steps, got {horizon!r}")
    values = np.asarray(losses, dtype=np.float64).reshape(-1) - float(floor)
    steps = np.arange(1, len(values) + 1, dtype=np.float64)
    ok = np.isfinite(values) & (values > 0)
    gain = 0.0
    fit = _line(np.log(steps[ok]), np.log(values[ok]))
    if fit is not None:
        total = float(len(values))
        gain = 1.0 - ((total + int(horizon)) / total) ** fit[0]
    window = int(horizon if recent is None else recent)
    last = slice(max(0, len(values) - window), len(values))
    recent_fit = _line(steps[last][ok[last]], np.log(values[last][ok[last]]))
    t = recent_fit[1] if recent_fit is not None else 0.0
    return float(gain), float(np.clip(t, -1e3, 1e3))


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Least-squares slope of ``y`` on ``x`` and its t-statistic; None below three points."""
    if len(x) < 3:
        return None
    x = x - x.mean()
    sxx = float((x * x).sum())
    if sxx <= 0:
        return None
    slope = float((x * (y - y.mean())).sum() / sxx)
    resid = y - y.mean() - slope * x
    se = float(np.sqrt((resid * resid).sum() / (len(x) - 2) / sxx))
    t = slope / se if se > 0 else (0.0 if slope == 0 else float(np.sign(slope)) * 1e3)
    return slope, t


__all__ = ["loss_slope", "loss_slopes", "loss_trend", "relative_loss_slope"]

"""Module and input interventions (the paper's §IV-B relevance measures).

Both are written against a generic evaluation callable that returns one lower-is-better value per
output (the env passes per-output losses on a small fixed validation subset with fixed sampling
noise), so they work for any model.

- **Module intervention.** For each sub-network, its weights are replaced by random values, the
  model is evaluated, and the weights are restored. The *relevance* of the network to an output is
  ``value_after / value_before``: 1.0 means no change (the output ignores the network), 2.0 means
  the output's performance halved. Random values are drawn from a normal distribution with each
  tensor's own mean and standard deviation, so the replacement keeps the tensor's scale.
- **Input intervention.** For each model input (or feature group), its rows are permuted across
  samples (breaking the input-target link but keeping its marginal distribution) or replaced by
  Gaussian noise of the same mean and scale; the same ratio is reported.

Ratios use ``max(value, eps)`` in both places so a perfect baseline does not divide by zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

#: an evaluation of the unchanged model: output name -> lower-is-better value
Evaluate = Callable[[], Mapping[str, float]]
#: an evaluation on given inputs: input name -> tensor, to output name -> value
EvaluateInputs = Callable[[Mapping[str, torch.Tensor]], Mapping[str, float]]

INPUT_MODES: tuple[str, ...] = ("permute", "noise")


def _ratios(
    after: Mapping[str, float], before: Mapping[str, float], eps: float
) -> dict[str, float]:
    out = {}
    for name, base in before.items():
        value = float(after[name])
        if value != value or value == float("inf"):  # NaN or inf: the intervention broke it
            out[name] = float("inf")
        else:
            out[name] = max(value, eps) / max(float(base), eps)
    return out


@torch.no_grad()
def _randomise(tensors: Sequence[torch.Tensor], generator: torch.Generator) -> None:
    for t in tensors:
        flat = t.detach().reshape(-1)
        mean = flat.mean() if flat.numel() else flat.new_zeros(())
        std = flat.std(unbiased=False) if flat.numel() > 1 else flat.abs().mean()
        noise = torch.randn(t.shape, generator=generator, dtype=t.dtype, device="cpu")
        t.copy_((mean + std * noise.to(t.device)).to(t.dtype))


def module_intervention(
    evaluate: Evaluate,
    parameters: Mapping[str, Sequence[torch.Tensor]],
    generator: torch.Generator,
    *,
    baseline: Mapping[str, float] | None = None,
    eps: float = 1e-8,
) -> dict[str, dict[str, float]]:
    """Relevance of each module: ``{module: {output: value_randomised / value_before}}``.

    ``parameters`` maps each module (e.g. a network id) to the tensors to randomise; they are
    modified in place and always restored, even when ``evaluate`` raises. ``baseline`` is the
    unchanged model's evaluation (computed when None).
    """
    before = dict(evaluate()) if baseline is None else dict(baseline)
    result: dict[str, dict[str, float]] = {}
    for module, tensors in parameters.items():
        saved = [t.detach().clone() for t in tensors]
        try:
            _randomise(tensors, generator)
            after = evaluate()
        finally:
            with torch.no_grad():
                for t, s in zip(tensors, saved, strict=True):
                    t.copy_(s)
        result[module] = _ratios(after, before, eps)
    return result


def _perturb(
    x: torch.Tensor, columns: torch.Tensor | None, mode: str, generator: torch.Generator
) -> torch.Tensor:
    cols = torch.arange(x.shape[1]) if columns is None else columns
    x = x.clone()
    block = x[:, cols]
    if mode == "permute":
        perm = torch.randperm(x.shape[0], generator=generator).to(x.device)
        x[:, cols] = block[perm]
    else:
        noise = torch.randn(block.shape, generator=generator).to(x.device, x.dtype)
        x[:, cols] = block.mean(0) + block.std(0, unbiased=False) * noise
    return x


def input_intervention(
    evaluate: EvaluateInputs,
    inputs: Mapping[str, torch.Tensor],
    generator: torch.Generator,
    *,
    mode: str = "permute",
    groups: Mapping[str, tuple[str, Sequence[int]]] | None = None,
    baseline: Mapping[str, float] | None = None,
    eps: float = 1e-8,
) -> dict[str, dict[str, float]]:
    """Relevance of each input: ``{input or group: {output: value_perturbed / value_before}}``.

    ``inputs`` are 2-D ``(samples, features)`` tensors. Without ``groups`` every input is
    perturbed whole; ``groups`` maps a group name to ``(input name, feature indices)`` and
    perturbs only those columns. ``mode`` is ``"permute"`` (shuffle rows) or ``"noise"``.
    """
    if mode not in INPUT_MODES:
        raise ValueError(f"mode must be one of {INPUT_MODES}, got {mode!r}")
    for name, x in inputs.items():
        if x.ndim != 2:
            raise ValueError(
                f"input {name!r} must be 2-D (samples, features), got {tuple(x.shape)}"
            )
    before = dict(evaluate(inputs)) if baseline is None else dict(baseline)
    plan = (
        {name: (name, None) for name in inputs}
        if groups is None
        else {g: (i, torch.as_tensor(list(c), dtype=torch.long)) for g, (i, c) in groups.items()}
    )
    result: dict[str, dict[str, float]] = {}
    for label, (name, columns) in plan.items():
        if name not in inputs:
            raise ValueError(f"group {label!r} names input {name!r}; inputs are {list(inputs)}")
        changed = dict(inputs)
        changed[name] = _perturb(inputs[name], columns, mode, generator)
        result[label] = _ratios(evaluate(changed), before, eps)
    return result


__all__ = ["INPUT_MODES", "input_intervention", "module_intervention"]

"""Every diagnostic of one VALP model at once, wired to the VALP torch model.

:func:`diagnose` evaluates a model on a small fixed diagnostic subset (``DiagnosticData``: inputs,
targets, fixed sampling noise) and returns a :class:`Diagnosis`:

- ``relevance[net][output]``: module intervention (1.0 = no change, 2.0 = loss doubled);
- ``input_relevance[input][output]``: input intervention (rows permuted);
- ``dependency_error[(net, output)]`` / ``dependency_gain[(net, output)]``: linear probes of each
  network's emission, for every output the network reaches, compared with its predecessors;
- ``slopes[output]``: the slope of the output's most recent training losses (loss per step);
- ``relative_slopes[output]``: the same slope divided by the loss level over the window, less
  the floor below (the fraction of the loss lost per step);
- ``gains[output]`` / ``gain_t[output]``: the unit-free trend of the output's whole loss history
  (:func:`~nasgym.diagnostics.slope.loss_trend`): the projected fraction of its excess loss lost
  over the next ``horizon`` training steps, and the t-statistic of the loss's slope over the
  last ``horizon`` steps (is it still falling now?).

The per-output value used by the interventions is the output's *excess loss* on the diagnostic
subset: cross-entropy, MSE, and for a sampling output the negative ELBO minus the targets' own
Bernoulli entropy (``DiagnosticData.floors``: the least the reconstruction term can be, about 14
nats of ~28 for a digits VAE). Each is lower-is-better with minimum 0, so a ratio reads as the
paper's relevance (2 = performance halved); on the raw ELBO the irreducible part would squeeze
every ratio towards 1 and make relevant samplers look irrelevant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from nasgym.diagnostics.dependency import dependency_scores
from nasgym.diagnostics.intervention import input_intervention, module_intervention
from nasgym.diagnostics.slope import loss_slopes, loss_trend, relative_loss_slope
from nasgym.tasks import TaskData
from nasgym.valp.model import VALPModel
from nasgym.valp.train import output_losses


def bernoulli_entropy(target: torch.Tensor) -> float:
    """Mean over rows of the summed Bernoulli entropy of ``target`` values in [0, 1] (nats): the
    least a summed binary cross-entropy against these targets can be."""
    p = target.detach().double().clamp(0.0, 1.0)
    h = -(torch.xlogy(p, p) + torch.xlogy(1.0 - p, 1.0 - p))
    return float(h.reshape(len(p), -1).sum(dim=1).mean()) if len(p) else 0.0


@dataclass
class DiagnosticData:
    """A fixed diagnostic subset: the data, fixed noise per sampling output, and per sampling
    output the loss floor subtracted from its loss (see the module docstring)."""

    data: TaskData
    noise: dict[str, torch.Tensor]
    floors: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_task_data(
        cls, data: TaskData, samples: int, latents: Mapping[str, int], generator: torch.Generator
    ) -> DiagnosticData:
        """The first ``samples`` rows of ``data`` with noise drawn once from ``generator``. The
        rows are copied out, without the data set they came from, so that a copy or a pickle of
        the diagnostic data (an env's ``fork``, a bench checkpoint) holds these rows alone, not
        the whole split and data set a slice would drag along."""
        n = min(int(samples), len(data))
        view = data.subset(slice(0, n))
        sub = TaskData(
            {k: v.clone() for k, v in view.inputs.items()},
            {k: v.clone() for k, v in view.targets.items()},
        )
        noise = {
            name: torch.randn((n, latent), generator=generator).to(sub.device)
            for name, latent in latents.items()
        }
        floors = {name: bernoulli_entropy(sub.targets[name]) for name in latents}
        return cls(sub, noise, floors)


@dataclass
class Diagnosis:
    """The diagnostics of one model (see the module docstring)."""

    losses: dict[str, float]
    slopes: dict[str, float]
    relative_slopes: dict[str, float] = field(default_factory=dict)
    relevance: dict[str, dict[str, float]] = field(default_factory=dict)
    input_relevance: dict[str, dict[str, float]] = field(default_factory=dict)
    dependency_error: dict[tuple[str, str], float] = field(default_factory=dict)
    dependency_gain: dict[tuple[str, str], float] = field(default_factory=dict)
    gains: dict[str, float] = field(default_factory=dict)
    gain_t: dict[str, float] = field(default_factory=dict)


def _emissions(model: VALPModel, diag: DiagnosticData) -> dict[str, np.ndarray]:
    """Every input's and network's emission on the diagnostic subset.

    Runs each :class:`~nasgym.valp.model.NetworkModule` in topological order on its sources'
    emissions (a sampler with the noise of the output it feeds, else z = mu).
    """
    valp = model.valp
    em: dict[str, torch.Tensor] = {f"i:{k}": v for k, v in diag.data.inputs.items()}
    with torch.no_grad():
        for nid in valp.network_order():
            module = model.network_module(nid)
            xs = [em[s] for s in valp.predecessors(nid)]
            if module.kind == "sampler":
                outs = [o[2:] for o in valp.successors(nid) if o[2:] in diag.noise]
                em[nid] = module(xs, diag.noise[outs[0]] if outs else None)[0]
            else:
                em[nid] = module(xs)
    return {k: v.detach().cpu().numpy() for k, v in em.items()}


def diagnose(
    model: VALPModel,
    diag: DiagnosticData,
    loss_history: Mapping[str, Sequence[float]],
    generator: torch.Generator,
    *,
    slope_window: int | None = None,
    dependency: bool = True,
    probe_alpha: float = 1.0,
    horizon: int = 1,
    trend_history: Mapping[str, Sequence[float]] | None = None,
) -> Diagnosis:
    """All diagnostics of ``model`` (see the module docstring); the model is left unchanged.

    ``loss_history`` feeds the slopes (its last ``slope_window`` values); ``trend_history`` (by
    default the same) the trends, projected ``horizon`` steps ahead."""
    valp = model.valp
    was_training = model.training
    model.eval()

    @torch.no_grad()
    def evaluate_on(inputs: Mapping[str, torch.Tensor]) -> dict[str, float]:
        result = model(inputs, noise=diag.noise)
        losses = output_losses(model, result, diag.data.targets)
        return {k: float(v) - diag.floors.get(k, 0.0) for k, v in losses.items()}

    try:
        base = evaluate_on(diag.data.inputs)
        params = {nid: list(model.network_module(nid).parameters()) for nid in valp.network_ids}
        relevance = module_intervention(
            lambda: evaluate_on(diag.data.inputs), params, generator, baseline=base
        )
        inputs_rel = input_intervention(evaluate_on, diag.data.inputs, generator, baseline=base)
        result = Diagnosis(
            base,
            loss_slopes(loss_history, slope_window),
            {
                k: relative_loss_slope(v, slope_window, diag.floors.get(k, 0.0))
                for k, v in loss_history.items()
            },
            relevance,
            {f"i:{k}": v for k, v in inputs_rel.items()},
        )
        trends = {
            k: loss_trend(v, diag.floors.get(k, 0.0), horizon)
            for k, v in (loss_history if trend_history is None else trend_history).items()
        }
        result.gains = {k: g for k, (g, _) in trends.items()}
        result.gain_t = {k: t for k, (_, t) in trends.items()}
        if dependency:
            kinds = {s.name: s.kind for s in valp.task_outputs}
            targets = {k: v.detach().cpu().numpy() for k, v in diag.data.targets.items()}
            pairs = [
                (nid, o[2:])
                for nid in valp.network_ids
                for o in sorted(valp.descendants(nid))
                if o.startswith("o:")
            ]
            preds = {nid: valp.predecessors(nid) for nid in valp.network_ids}
            dep = dependency_scores(
                _emissions(model, diag), targets, kinds, pairs, preds, alpha=probe_alpha
            )
            result.dependency_error, result.dependency_gain = dep.error, dep.gain
    finally:
        model.train(was_training)
    return result


__all__ = ["DiagnosticData", "Diagnosis", "bernoulli_entropy", "diagnose"]

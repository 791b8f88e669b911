"""Diagnostics of a VALP model (the paper's §IV-B metrics), on plain tensors and arrays.

- :mod:`~nasgym.diagnostics.slope`: historic sub-loss, the slope of each output's recent loss;
- :mod:`~nasgym.diagnostics.intervention`: module intervention (relevance of each sub-network to
  each output) and input intervention (relevance of each input);
- :mod:`~nasgym.diagnostics.dependency`: linear-probe dependency of each output on each
  sub-network, compared with the network's predecessors;
- :mod:`~nasgym.diagnostics.archive`: relative performance, a model's rank per output among the
  models evaluated so far;
- :mod:`~nasgym.diagnostics.diagnose`: all of the above for one VALP model at once.

The measures in the first four modules are model-agnostic (plain tensors, arrays and callables);
:func:`diagnose` wires them to a :class:`~nasgym.valp.model.VALPModel`.
"""

from nasgym.diagnostics.archive import ObjectiveArchive
from nasgym.diagnostics.dependency import DependencyResult, dependency_scores, probe_error
from nasgym.diagnostics.diagnose import Diagnosis, DiagnosticData, diagnose
from nasgym.diagnostics.intervention import input_intervention, module_intervention
from nasgym.diagnostics.slope import loss_slope, loss_slopes, relative_loss_slope

__all__ = [
    "DependencyResult",
    "DiagnosticData",
    "Diagnosis",
    "ObjectiveArchive",
    "dependency_scores",
    "diagnose",
    "input_intervention",
    "loss_slope",
    "loss_slopes",
    "module_intervention",
    "probe_error",
    "relative_loss_slope",
]

"""The characterization study of the VALP operators (the first paper's §VI-B, Figs. 5-7).

>>> from nasgym.characterize import StudyConfig, run_characterize
>>> cfg = StudyConfig(dataset="digits", initial_batches=20, step_batches=5, per_model=6)
>>> run_characterize(cfg, range(2), "runs/characterize-demo")     # doctest: +SKIP

Each *model* (one per seed) is the random VALP that ``nasgym/VALP-Paper-v0``'s setting draws
(batch size 200, 1-2 networks per output) on ``dataset``, trained ``initial_batches`` and
diagnosed by the env's own ``reset(seed)``; with ``episode_steps`` = K it then takes K steps of
an episode with uniformly random valid actions (its own stream, seeded by the model seed), so the
state studied is one an agent meets mid-episode rather than a fresh model. Every applicable
(operator variant, component) move of the env's action plan is applied to a clone (a choice
inside the target drawn as the env draws it), or a sample of at most ``per_model`` moves that keeps gentle/aggressive pairs on the
same target together and is balanced over operators (:func:`~.study.select_moves`). Each clone
is retrained ``step_batches`` on one row order; one *control* per model (a clone of the
unchanged model, fresh optimizer like the candidates') is trained once on the same order and
shared by all its applications. Training and evaluation of every model start from the same
generator state, so they see the same sampler noise. Crossover has no donor on a fresh model
and is not among the paper's five macro operators.

Store and resume: ``OUT/results.jsonl`` (the bench's :class:`~nasgym.bench.store.ResultsStore`)
gets one fsync'ed line per finished model, in the bench's run-marker shape (``"type": "done"``,
``env`` = ``"nasgym/characterize"``, ``env_kwargs`` = the setting, ``agent`` =
``"characterize"``, ``seed``) plus ``applications`` (the rows below), ``wall_s``, ``code`` and
``platform`` (which code studied the model, on which torch and CPU kernels:
:mod:`nasgym._provenance`). A rerun of the same setting skips the stored models; the table is
rebuilt from the store at the end, and a warning names the code versions or platforms when the
stored models come from more than one (the same seed gives other records on another platform).

Table (``OUT/records.csv``, and ``OUT/records.parquet`` with pyarrow): one row per application,
``<o>`` standing for each output of the task (``class``, ``hist``, ``sample``):

==================================  =========================================================
column                              meaning
==================================  =========================================================
``seed``, ``app``                   model seed; application index within the model
``dataset``, ``initial_batches``,   the setting
``step_batches``
``episode_step``                    steps of the random-agent episode before the state (0:
                                    the freshly trained model)
``n_networks``, ``n_connections``,  the model before the step (``model_key``: its canonical
``model_key``                       descriptor key)
``obj_before.<o>``                  validation objective before the step (lower is better)
``gain_before.<o>``,                the lineage trend before the step (projected fraction of
``gain_t_before.<o>``               excess loss lost over ``step_batches``, its t-statistic;
                                    :func:`~nasgym.diagnostics.slope.loss_trend`)
``loss_slope_before.<o>``,          slope of the last training losses (loss per batch), and
``rel_slope_before.<o>``            relative to the loss level
``regress_before.<o>``              log of ``obj_before.<o>`` over the lowest the held model
                                    had in the episode (0 for a fresh model; about 0.7 where
                                    a step doubled it, as a broken sampler)
``operator``, ``variant``,          operator, variant (``gentle``/``aggressive``/empty),
``variant_name``, ``effect``        ``operator:variant``, extender/reducer/neutral
``target``, ``target_type``         component id; ``network``, ``output`` or ``model``
``target.kind``, ``target.depth``,  for a network target: kind (mlp, decoder, sampler, ...),
``target.width``                    number of layers, sum of layer widths (else empty/NaN)
``target.relevance.<o>``,           for a network target and each output it reaches: module
``target.dependency_gain.<o>``,     relevance (2 = loss doubled without it), linear-probe
``target.dependency_error.<o>``     dependency gain and error (NaN where it does not reach)
``obj_after.<o>``                   the candidate's objective after ``step_batches``
``obj_control.<o>``                 the control's objective after the same batches
``improve.<o>``                     log(obj_control / obj_after): > 0 the operator helped
``improve``                         mean of ``improve.<o>`` over outputs (NaN if one is)
``better_outputs``,                 outputs where the candidate beats the control; whether it
``beats_control``                   beats it on most (the paper's acceptance vs the control)
``gain_after.<o>``,                 lineage trend after the step of the candidate / control
``gain_control.<o>``                (lineage losses + its step's losses)
``obj_after@h.<o>``,                with ``horizon`` = H, for h = 1..H: the candidate's and the
``obj_control@h.<o>``,              control's objectives after h more steps of training each
``improve@h.<o>``                   (fresh optimizers, shared batches), and log(control / after)
``diverged``, ``control_diverged``  a NaN/inf loss or objective (then ``improve`` is NaN)
``train_s``, ``control_train_s``    seconds to train and evaluate the candidate / control
==================================  =========================================================

Report: ``OUT/report.md``, ``OUT/report.json``, ``OUT/thresholds.json`` and ``OUT/plots/*.png``
(:mod:`nasgym.characterize.report`).
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule; imported on first use, so that the ``nasgym`` CLI stays quick
_EXPORTS = {
    "write_report": "report",
    "StudyReport": "run",
    "load_rows": "run",
    "run_characterize": "run",
    "write_table": "run",
    "StudyConfig": "study",
    "Unit": "study",
    "run_unit": "study",
    "select_moves": "study",
    "study_model": "study",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"nasgym.characterize.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'nasgym.characterize' has no attribute {name!r}")


__all__ = [
    "StudyConfig",
    "StudyReport",
    "Unit",
    "load_rows",
    "run_characterize",
    "run_unit",
    "select_moves",
    "study_model",
    "write_report",
    "write_table",
]

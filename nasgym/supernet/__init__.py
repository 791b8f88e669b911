"""Weight-sharing supernet of DARTS-topology cell spaces (``tnd``, ``darts``) on image data.

The single-cell ``nb201`` space is not supported (its cells have one input node and the NB201
macro skeleton differs from DARTS'); :func:`~nasgym.supernet.model.check_darts_topology` says so.
Search it with the tabular ``nasgym/NB201-v0``.

- :class:`Supernet`: single-path forward ``model(x, ops)`` and DARTS mixed-op forward
  ``model.forward_mixed(x, weights)`` over shared weights (:mod:`nasgym.supernet.model`);
- :class:`CostTable`: measured params / MACs of any single path; latency proxy or wall-clock
  (:mod:`nasgym.supernet.costs`);
- :class:`StageSchedule` and :func:`drop_ops`: progressive stages and the op-dropping rule
  (:mod:`nasgym.supernet.stages`);
- :func:`train_from_scratch`: train and test a derived architecture (:mod:`nasgym.supernet.derive`).

The environment built on them is ``nasgym/Cell-v0`` (:class:`nasgym.envs.cell.CellEnv`).
"""

from nasgym.supernet.costs import MS_PER_MMAC, CostTable, build_cost_table, measure_latency_ms
from nasgym.supernet.derive import build_derived, train_from_scratch
from nasgym.supernet.model import Supernet, init_weights, reduction_layers, use_batch_stats
from nasgym.supernet.stages import StageSchedule, default_keep, drop_ops
from nasgym.supernet.trainer import StageTrainer, fair_paths, uniform_path
from nasgym.supernet.training import (
    Batcher,
    ImageData,
    ImageSplit,
    accuracy,
    load_image_data,
    sgd,
    torch_threads,
    train_batch,
)

__all__ = [
    "MS_PER_MMAC",
    "Batcher",
    "CostTable",
    "ImageData",
    "ImageSplit",
    "StageSchedule",
    "Supernet",
    "accuracy",
    "build_cost_table",
    "build_derived",
    "default_keep",
    "drop_ops",
    "init_weights",
    "load_image_data",
    "measure_latency_ms",
    "reduction_layers",
    "sgd",
    "StageTrainer",
    "torch_threads",
    "train_batch",
    "train_from_scratch",
    "uniform_path",
    "fair_paths",
    "use_batch_stats",
]

"""Tasks: what a VALP model reads (inputs) and what it must produce (outputs), built from a data set.

A :class:`Task` names its model inputs (:class:`InputSpec`) and outputs (:class:`OutputSpec`) and
knows how to build them from a data :class:`~nasgym.data.Split`. :meth:`Task.prepare` turns a split
into a :class:`TaskData` of torch tensors. Tasks are made by name with :func:`make_task`; add your own
with :func:`register_task`::

    from nasgym.data import load_dataset
    from nasgym.tasks import make_task

    task = make_task("image-multitask", load_dataset("digits", seed=0))
    train = task.prepare(task.dataset.train)

Data types. Every value flowing through a VALP has one of four data types: ``features`` (model
inputs and the hidden activations of ``mlp`` networks), ``discrete`` (class logits), ``values``
(real-valued predictions) and ``samples`` (pixel logits of a generative output). This module holds
the output-kind -> data-type table (:data:`OUTPUT_KINDS`); :mod:`nasgym.valp.descriptor` holds the
network-kind table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from nasgym.registry import Registry

if TYPE_CHECKING:  # torch and the data package are imported only where tensors are built
    import torch

    from nasgym.data import Dataset, Split

__all__ = [
    "DATA_TYPES",
    "DISCRETE",
    "FEATURES",
    "OUTPUT_KINDS",
    "SAMPLES",
    "TASKS",
    "VALUES",
    "InputSpec",
    "OutputSpec",
    "Task",
    "TaskData",
    "list_tasks",
    "make_task",
    "pixel_histogram",
    "register_task",
]

FEATURES = "features"
VALUES = "values"
DISCRETE = "discrete"
SAMPLES = "samples"
#: every data type, in a fixed order
DATA_TYPES: tuple[str, ...] = (FEATURES, DISCRETE, VALUES, SAMPLES)

#: output kind -> the data type its target has (and that networks feeding it must emit)
OUTPUT_KINDS: dict[str, str] = {
    "classification": DISCRETE,
    "regression": VALUES,
    "sampling": SAMPLES,
}

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def _check_name(what: str, name: Any) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{what} name {name!r} is not valid: use a letter followed by letters, digits, '_' or '-'"
        )


@dataclass(frozen=True)
class InputSpec:
    """A model input: ``size`` flattened float32 features (data type ``features``)."""

    name: str
    size: int

    def __post_init__(self) -> None:
        _check_name("input", self.name)
        if not isinstance(self.size, int | np.integer) or self.size <= 0:
            raise ValueError(f"input {self.name!r}: size must be a positive int, got {self.size!r}")
        object.__setattr__(self, "size", int(self.size))

    @property
    def dtype(self) -> str:
        """The data type of the input (always ``features``)."""
        return FEATURES


@dataclass(frozen=True)
class OutputSpec:
    """A model output and its loss.

    ``kind``: ``classification`` (``size`` classes, cross-entropy), ``regression`` (``size`` values,
    MSE) or ``sampling`` (``size`` pixels, VAE-style ELBO; ``latent`` is the latent dimension).
    ``weight`` multiplies the output's loss.
    """

    name: str
    kind: str
    size: int
    weight: float = 1.0
    latent: int | None = None

    def __post_init__(self) -> None:
        _check_name("output", self.name)
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(
                f"output {self.name!r}: kind {self.kind!r} unknown; use one of {list(OUTPUT_KINDS)}"
            )
        if not isinstance(self.size, int | np.integer) or self.size <= 0:
            raise ValueError(
                f"output {self.name!r}: size must be a positive int, got {self.size!r}"
            )
        object.__setattr__(self, "size", int(self.size))
        if self.kind == "sampling":
            if not isinstance(self.latent, int | np.integer) or self.latent <= 0:
                raise ValueError(
                    f"sampling output {self.name!r} needs a positive int latent, got {self.latent!r}"
                )
            object.__setattr__(self, "latent", int(self.latent))
        elif self.latent is not None:
            raise ValueError(
                f"output {self.name!r}: latent is only for sampling outputs, got {self.latent!r}"
            )
        if not np.isfinite(self.weight) or self.weight < 0:
            raise ValueError(
                f"output {self.name!r}: weight must be finite and >= 0, got {self.weight!r}"
            )
        object.__setattr__(self, "weight", float(self.weight))

    @property
    def dtype(self) -> str:
        """The data type of the output's target."""
        return OUTPUT_KINDS[self.kind]


@dataclass
class TaskData:
    """A split ready for a model: ``inputs`` and ``targets`` tensors keyed by input/output name.

    Inputs and ``values``/``samples`` targets are float32; ``discrete`` targets are int64 class
    indices. ``dataset`` is the data set the split came from (used e.g. for the sampling score's
    reference classifier); it may be None.
    """

    inputs: dict[str, torch.Tensor]
    targets: dict[str, torch.Tensor]
    dataset: Dataset | None = field(default=None, repr=False)

    def __len__(self) -> int:
        first = next(iter(self.inputs.values()))
        return int(first.shape[0])

    @property
    def device(self) -> torch.device:
        """The device the tensors live on."""
        return next(iter(self.inputs.values())).device

    def to(self, device: Any) -> TaskData:
        """The same data on ``device``."""
        return TaskData(
            {k: v.to(device) for k, v in self.inputs.items()},
            {k: v.to(device) for k, v in self.targets.items()},
            self.dataset,
        )

    def subset(self, index: torch.Tensor | slice) -> TaskData:
        """The rows ``index`` of every tensor."""
        return TaskData(
            {k: v[index] for k, v in self.inputs.items()},
            {k: v[index] for k, v in self.targets.items()},
            self.dataset,
        )


#: builds the named arrays (every input and every output target) of one split
ArrayBuilder = Callable[["Split"], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Task:
    """Named model inputs and outputs, and how to build them from a data split.

    ``build(split)`` returns one array per input name (float, ``(N, size)``) and per output name
    (classification: int ``(N,)`` class indices; regression and sampling: float ``(N, size)``).
    """

    name: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    build: ArrayBuilder = field(compare=False, repr=False)
    dataset: Dataset | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        if not self.inputs or not self.outputs:
            raise ValueError(f"task {self.name!r} needs at least one input and one output")
        names = [s.name for s in self.inputs] + [s.name for s in self.outputs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"task {self.name!r}: input/output names must be unique, got {dupes}")

    def output(self, name: str) -> OutputSpec:
        """The output named ``name``."""
        for spec in self.outputs:
            if spec.name == name:
                return spec
        raise KeyError(f"task {self.name!r} has no output {name!r}; outputs: {self.output_names}")

    @property
    def output_names(self) -> list[str]:
        """Output names in task order."""
        return [s.name for s in self.outputs]

    def prepare(self, split: Split, device: Any = "cpu") -> TaskData:
        """Inputs and targets of ``split`` as tensors on ``device``."""
        import torch

        arrays = self.build(split)
        n = len(split)
        inputs = {
            s.name: self._tensor(arrays, s.name, (n, s.size), torch.float32, device)
            for s in self.inputs
        }
        targets = {}
        for s in self.outputs:
            if s.dtype == DISCRETE:
                t = self._tensor(arrays, s.name, (n,), torch.int64, device)
                if n and (int(t.min()) < 0 or int(t.max()) >= s.size):
                    raise ValueError(
                        f"task {self.name!r}: {s.name!r} labels outside 0..{s.size - 1}"
                    )
            else:
                t = self._tensor(arrays, s.name, (n, s.size), torch.float32, device)
            targets[s.name] = t
        return TaskData(inputs, targets, self.dataset)

    def _tensor(
        self,
        arrays: Mapping[str, np.ndarray],
        name: str,
        shape: tuple[int, ...],
        dtype: torch.dtype,
        device: Any,
    ) -> torch.Tensor:
        import torch

        if name not in arrays:
            raise ValueError(f"task {self.name!r}: its builder made no array for {name!r}")
        a = np.asarray(arrays[name])
        if a.shape != shape:
            raise ValueError(f"task {self.name!r}: {name!r} has shape {a.shape}, expected {shape}")
        np_dtype = np.int64 if dtype == torch.int64 else np.float32
        return torch.as_tensor(np.ascontiguousarray(a, dtype=np_dtype), device=device)


#: task name -> ``factory(dataset, **kwargs) -> Task``
TASKS: Registry[Callable[..., Task]] = Registry("task")


def register_task(
    name: str, factory: Callable[..., Task] | None = None, *, overwrite: bool = False
) -> Any:
    """Register ``factory(dataset, **kwargs) -> Task`` under ``name``; without it, a decorator."""
    return TASKS.register(name, factory, overwrite=overwrite)


def make_task(name: str, dataset: Dataset, **kwargs: Any) -> Task:
    """Build the task registered as ``name`` on ``dataset``."""
    return TASKS.get(name)(dataset, **kwargs)


def list_tasks() -> list[str]:
    """Names of every registered task."""
    return TASKS.names()


def pixel_histogram(images: np.ndarray, bins: int, chunk: int = 4096) -> np.ndarray:
    """Per-image histogram of pixel intensities in [0, 1] over ``bins`` equal bins, summing to 1.

    Computed ``chunk`` images at a time, so the temporaries stay a few MB whatever the data set
    (a whole-array bin index of Fashion-MNIST's training split alone would be 376 MB)."""
    flat = np.asarray(images).reshape(len(images), -1)
    counts = np.zeros((len(flat), bins), dtype=np.float32)
    for start in range(0, len(flat), chunk):
        part = np.asarray(flat[start : start + chunk], dtype=np.float32)
        idx = np.clip((part * bins).astype(np.int64), 0, bins - 1)
        offsets = idx + bins * np.arange(len(part))[:, None]
        counts[start : start + len(part)] = np.bincount(
            offsets.ravel(), minlength=bins * len(part)
        ).reshape(len(part), bins)
    return counts / max(flat.shape[1], 1)


def _positive_int(task: str, arg: str, value: Any) -> int:
    if not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"task {task!r}: {arg} must be a positive int, got {value!r}")
    return int(value)


@register_task("image-multitask")
def image_multitask(dataset: Dataset, bins: int = 8, latent: int = 8) -> Task:
    """The VALP paper's benchmark: classify the image, regress its pixel histogram, generate images.

    Input ``x`` (the H*W pixels); outputs ``class`` (classification), ``hist`` (regression of the
    ``bins``-bin pixel-intensity histogram, normalised to sum 1) and ``sample`` (sampling: a
    VAE-style generator of the image with a ``latent``-dimensional code).
    """
    bins = _positive_int("image-multitask", "bins", bins)
    latent = _positive_int("image-multitask", "latent", latent)
    n_pix = int(np.prod(dataset.image_shape))

    def build(split: Split) -> dict[str, np.ndarray]:
        return {
            "x": split.flat,
            "class": split.labels,
            "hist": pixel_histogram(split.images, bins),
            "sample": split.flat,
        }

    return Task(
        "image-multitask",
        (InputSpec("x", n_pix),),
        (
            OutputSpec("class", "classification", dataset.n_classes),
            OutputSpec("hist", "regression", bins),
            OutputSpec("sample", "sampling", n_pix, latent=latent),
        ),
        build,
        dataset,
    )


@register_task("classify")
def classify(dataset: Dataset) -> Task:
    """Single-output image classification: input ``x`` (pixels), output ``class``."""
    n_pix = int(np.prod(dataset.image_shape))
    return Task(
        "classify",
        (InputSpec("x", n_pix),),
        (OutputSpec("class", "classification", dataset.n_classes),),
        lambda split: {"x": split.flat, "class": split.labels},
        dataset,
    )


@register_task("two-classifiers")
def two_classifiers(dataset: Dataset) -> Task:
    """Two classification outputs from one image: ``class`` (the label) and ``parity`` (label % 2)."""
    n_pix = int(np.prod(dataset.image_shape))
    return Task(
        "two-classifiers",
        (InputSpec("x", n_pix),),
        (
            OutputSpec("class", "classification", dataset.n_classes),
            OutputSpec("parity", "classification", 2),
        ),
        lambda split: {"x": split.flat, "class": split.labels, "parity": split.labels % 2},
        dataset,
    )

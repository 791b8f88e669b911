"""Tasks: registry, built-in tasks and the tensors they prepare."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasgym.data import load_dataset
from nasgym.tasks import (
    TASKS,
    InputSpec,
    OutputSpec,
    Task,
    list_tasks,
    make_task,
    pixel_histogram,
    register_task,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_builtin_tasks_are_registered():
    assert {"image-multitask", "classify", "two-classifiers"} <= set(list_tasks())
    for name in ("image-multitask", "classify", "two-classifiers"):
        assert TASKS.doc(name)  # documented


def test_image_multitask_prepares_inputs_and_targets(digits):
    task = make_task("image-multitask", digits)
    assert [s.name for s in task.outputs] == ["class", "hist", "sample"]
    assert [s.kind for s in task.outputs] == ["classification", "regression", "sampling"]
    assert task.output("sample").latent == 8 and task.output("hist").size == 8
    data = task.prepare(digits.val)
    n = len(digits.val)
    assert len(data) == n
    assert data.inputs["x"].shape == (n, 64) and data.inputs["x"].dtype == torch.float32
    assert data.targets["class"].dtype == torch.int64
    assert torch.equal(data.targets["class"], torch.from_numpy(digits.val.labels))
    assert torch.equal(data.targets["sample"], data.inputs["x"])
    hist = data.targets["hist"]
    assert hist.shape == (n, 8)
    assert torch.allclose(hist.sum(1), torch.ones(n))
    assert data.dataset is digits


def test_histogram_counts_pixels_per_bin():
    img = np.array([[[0.0, 0.1], [0.55, 1.0]]], dtype=np.float32)
    h = pixel_histogram(img, 4)
    assert np.allclose(h, [[0.5, 0.0, 0.25, 0.25]])


def test_histogram_is_the_same_in_chunks():
    """The histogram is computed a chunk of images at a time (bounded memory on large splits);
    chunk boundaries must not change a single count."""
    rng = np.random.default_rng(0)
    img = rng.random((103, 5, 5)).astype(np.float32)
    img[0], img[1] = 1.0, 0.0  # the edges of [0, 1]
    whole = pixel_histogram(img, 6, chunk=1000)
    for chunk in (1, 7, 50, 103):
        assert np.array_equal(pixel_histogram(img, 6, chunk=chunk), whole)
    bins = np.clip((img.reshape(103, -1) * 6).astype(int), 0, 5)
    assert np.allclose(whole, np.stack([(bins == b).mean(1) for b in range(6)], axis=1))


def test_task_arguments_change_the_outputs(digits):
    task = make_task("image-multitask", digits, bins=4, latent=3)
    assert task.output("hist").size == 4 and task.output("sample").latent == 3
    assert task.prepare(digits.val).targets["hist"].shape[1] == 4
    with pytest.raises(ValueError, match="bins"):
        make_task("image-multitask", digits, bins=0)


def test_two_classifiers_parity_target(digits):
    data = make_task("two-classifiers", digits).prepare(digits.val)
    assert torch.equal(data.targets["parity"], data.targets["class"] % 2)


def test_unknown_task_suggests_the_nearest_name(digits):
    with pytest.raises(KeyError, match="image-multitask"):
        make_task("image-multitsk", digits)


def test_register_a_custom_task(digits):
    def factory(dataset):
        """Regress the mean pixel."""
        return Task(
            "mean",
            (InputSpec("x", 64),),
            (OutputSpec("mean", "regression", 1),),
            lambda s: {"x": s.flat, "mean": s.flat.mean(1, keepdims=True)},
            dataset,
        )

    register_task("test-mean", factory)
    try:
        data = make_task("test-mean", digits).prepare(digits.val)
        assert data.targets["mean"].shape == (len(digits.val), 1)
    finally:
        TASKS.unregister("test-mean")


def test_bad_specs_and_builders_are_rejected(digits):
    with pytest.raises(ValueError, match="kind"):
        OutputSpec("y", "ranking", 3)
    with pytest.raises(ValueError, match="latent"):
        OutputSpec("y", "sampling", 64)
    with pytest.raises(ValueError, match="name"):
        InputSpec("x.y", 3)
    bad = Task(
        "bad",
        (InputSpec("x", 64),),
        (OutputSpec("y", "regression", 2),),
        lambda s: {"x": s.flat, "y": s.flat},
    )
    with pytest.raises(ValueError, match="shape"):
        bad.prepare(digits.val)
    with pytest.raises(ValueError, match="unique"):
        Task("dup", (InputSpec("x", 1),), (OutputSpec("x", "regression", 1),), lambda s: {})

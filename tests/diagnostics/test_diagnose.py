"""diagnose() on real VALP models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasgym.data import load_dataset
from nasgym.diagnostics import DiagnosticData, diagnose
from nasgym.diagnostics.diagnose import _emissions, bernoulli_entropy
from nasgym.tasks import make_task
from nasgym.valp import build_model, random_valp
from nasgym.valp.train import output_losses, train


@pytest.fixture(scope="module")
def setup():  # noqa: ANN201
    ds = load_dataset("digits", seed=0)
    task = make_task("image-multitask", ds)
    data = task.prepare(ds.val)
    gen = torch.Generator().manual_seed(0)
    diag = DiagnosticData.from_task_data(data, 64, {"sample": 8}, gen)
    return task, task.prepare(ds.train), diag


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_networks_not_reaching_an_output_have_relevance_one(setup, seed: int) -> None:  # noqa: ANN001
    task, train_data, diag = setup
    valp = random_valp(task, np.random.default_rng(seed), n_networks=5)
    gen = torch.Generator().manual_seed(seed)
    model = build_model(valp, gen)
    result = train(model, train_data, 5, gen)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    d = diagnose(model, diag, result.losses, gen)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    for nid in valp.network_ids:
        reached = {o[2:] for o in valp.descendants(nid) if o.startswith("o:")}
        for name in task.output_names:
            if name not in reached:
                assert d.relevance[nid][name] == pytest.approx(1.0, abs=1e-6)
                assert (nid, name) not in d.dependency_error
            else:
                assert 0.0 <= d.dependency_error[(nid, name)] <= 1.0
    assert set(d.slopes) == set(task.output_names)
    assert set(d.input_relevance) == {"i:x"}


def test_emissions_add_up_to_the_model_outputs(setup) -> None:  # noqa: ANN001
    task, _, diag = setup
    valp = random_valp(task, np.random.default_rng(4), n_networks=6)
    model = build_model(valp, torch.Generator().manual_seed(0)).eval()
    em = _emissions(model, diag)
    with torch.no_grad():
        out = model(diag.data.inputs, noise=diag.noise).outputs
    for name in task.output_names:
        total = sum(em[n] for n in valp.predecessors(f"o:{name}"))
        np.testing.assert_allclose(total, out[name].numpy(), rtol=1e-5, atol=1e-5)


def test_bernoulli_entropy_is_the_least_binary_cross_entropy() -> None:
    assert bernoulli_entropy(torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])) == 0.0
    half = torch.full((4, 64), 0.5)
    assert bernoulli_entropy(half) == pytest.approx(64 * np.log(2.0))
    y = torch.rand(5, 64, generator=torch.Generator().manual_seed(0))
    bce = torch.nn.functional.binary_cross_entropy(y, y, reduction="sum") / 5
    assert bernoulli_entropy(y) == pytest.approx(float(bce), rel=1e-5)


def test_sampling_loss_is_the_excess_over_the_entropy_of_the_images(setup) -> None:  # noqa: ANN001
    """Relevance ratios of a sampling output compare excess losses (minimum 0), not raw negative
    ELBOs, whose irreducible part (about half of a trained digits VAE's) squeezes every ratio
    towards 1 and made relevant samplers read as irrelevant (<= 1.2)."""
    task, train_data, diag = setup
    assert diag.floors["sample"] == pytest.approx(bernoulli_entropy(diag.data.targets["sample"]))
    assert diag.floors["sample"] > 5.0  # digits pixels are grey: a large irreducible loss
    valp = random_valp(task, np.random.default_rng(5), n_networks=4)
    gen = torch.Generator().manual_seed(5)
    model = build_model(valp, gen)
    result = train(model, train_data, 20, gen)
    d = diagnose(model, diag, result.losses, gen)
    with torch.no_grad():
        raw = output_losses(
            model.eval(), model(diag.data.inputs, noise=diag.noise), diag.data.targets
        )
    assert d.losses["sample"] == pytest.approx(
        float(raw["sample"]) - diag.floors["sample"], rel=1e-5
    )
    assert 0.0 < d.losses["sample"] < float(raw["sample"])
    assert d.losses["class"] == pytest.approx(float(raw["class"]), rel=1e-5)  # floor 0

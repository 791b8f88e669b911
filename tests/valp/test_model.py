"""The torch VALP model: parameter layout, semantics, determinism and weight inheritance."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from nasgym.tasks import make_task
from nasgym.valp import Layer, Network, build_model, inherit_weights, model_from, random_valp
from nasgym.valp.model import resolve_device

from .conftest import FAKE_DIGITS, gen
from .test_descriptor import base


@pytest.fixture(scope="module")
def task():
    return make_task("image-multitask", FAKE_DIGITS)


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    return {"x": torch.rand(5, 64, generator=g)}


def test_same_generator_seed_gives_identical_weights(task):
    v = random_valp(task, np.random.default_rng(3))
    a, b, c = build_model(v, gen(1)), build_model(v, gen(1)), build_model(v, gen(2))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_build_does_not_touch_the_global_rng(task):
    state = torch.get_rng_state()
    build_model(random_valp(task, np.random.default_rng(0)), gen(0))
    assert torch.equal(state, torch.get_rng_state())


def test_parameter_layout(task):
    m = build_model(base(task), gen(0))
    names = {k: tuple(t.shape) for k, t in m.state_dict().items()}
    # mlp n:0 (16): first stage from x, no head
    assert names["nets.n_0.in_proj.i_x.weight"] == (16, 64) and names["nets.n_0.in_bias"] == (16,)
    assert m.network_module("n:0").head is None
    # classifier n:1 with no body layers: in_proj maps straight to the 10 logits
    assert names["nets.n_1.in_proj.n_0.weight"] == (10, 16) and names["nets.n_1.in_bias"] == (10,)
    assert m.network_module("n:1").head is None and len(m.network_module("n:1").layers) == 0
    # regressor n:2 (8 tanh) then head 8 -> 8
    assert names["nets.n_2.in_proj.n_0.weight"] == (8, 16)
    assert names["nets.n_2.head.weight"] == (8, 8)
    # sampler n:3: encoder projections to latent 8, decoder 8 -> 16, head 16 -> 64
    assert names["nets.n_3.mu_proj.i_x.weight"] == (8, 64) and names["nets.n_3.mu_bias"] == (8,)
    assert names["nets.n_3.logvar_proj.i_x.weight"] == (8, 64)
    assert names["nets.n_3.layers.0.weight"] == (16, 8) and names["nets.n_3.head.weight"] == (
        64,
        16,
    )
    assert not any(k.startswith("nets.n_3.in_") for k in names)
    assert m.network_module("n:3").projections == ("mu_proj", "logvar_proj")


def test_forward_shapes_and_latents(task, batch):
    for seed in range(5):
        v = random_valp(task, np.random.default_rng(seed))
        res = build_model(v, gen(0))(batch, generator=gen(1))
        assert res.outputs["class"].shape == (5, 10)
        assert res.outputs["hist"].shape == (5, 8)
        assert res.outputs["sample"].shape == (5, 64)
        samplers = [n.id for n in v.networks if n.kind == "sampler"]
        assert sorted(res.latents) == sorted(samplers)
        assert all(mu.shape == (5, 8) for mu, _ in res.latents.values())


def test_outputs_sum_the_networks_feeding_them(task, batch):
    v = base(task).with_network(Network("n:4", "classifier", (Layer(8, "relu"),), out_size=10))
    v = v.with_connection("i:x", "n:4").with_connection("n:4", "o:class")
    m = build_model(v, gen(0))
    out = m(batch).outputs["class"]
    h0 = m.network_module("n:0")([batch["x"]])
    parts = m.network_module("n:1")([h0]) + m.network_module("n:4")([batch["x"]])
    assert torch.allclose(out, parts, atol=1e-6)


def test_per_source_projections_equal_a_concatenation(task, batch):
    v = base(task).with_connection("i:x", "n:2")  # n:2 now reads x and n:0
    m = build_model(v, gen(0))
    mod = m.network_module("n:2")
    x, h0 = batch["x"], m.network_module("n:0")([batch["x"]])
    w = torch.cat([mod.in_proj["i_x"].weight, mod.in_proj["n_0"].weight], dim=1)
    first = torch.nn.functional.linear(torch.cat([x, h0], 1), w, mod.in_bias)
    assert torch.allclose(mod.project("in_proj", [x, h0]), first, atol=1e-6)


def test_noise_handling(task, batch):
    m = build_model(base(task), gen(0))
    eps = torch.randn(5, 8, generator=gen(3))
    a = m(batch, noise={"sample": eps}).outputs["sample"]
    b = m(batch, noise={"sample": eps}).outputs["sample"]
    assert torch.equal(a, b)
    mean = m(batch).outputs["sample"]  # no noise, no generator: z = mu
    assert torch.equal(mean, m(batch, noise={"sample": torch.zeros(5, 8)}).outputs["sample"])
    assert not torch.allclose(a, mean)
    g1 = m(batch, generator=gen(5)).outputs["sample"]
    assert torch.equal(g1, m(batch, generator=gen(5)).outputs["sample"])


def test_generate_images(task):
    m = build_model(base(task), gen(0))
    imgs = m.generate(7, gen(1))
    assert list(imgs) == ["sample"] and imgs["sample"].shape == (7, 64)
    assert float(imgs["sample"].min()) >= 0 and float(imgs["sample"].max()) <= 1
    assert torch.equal(imgs["sample"], m.generate(7, gen(1))["sample"])


def test_model_from_and_clone_copy_weights_independently(task, batch):
    m = build_model(random_valp(task, np.random.default_rng(4)), gen(0))
    m2 = model_from(m.valp, m.state_dict())
    c = m.clone()
    for other in (m2, c):
        assert torch.equal(other(batch).outputs["class"], m(batch).outputs["class"])
    with torch.no_grad():
        next(c.parameters()).add_(1.0)
    assert not torch.equal(c(batch).outputs["class"], m(batch).outputs["class"])
    assert torch.equal(m2(batch).outputs["class"], m(batch).outputs["class"])


def test_copies_and_moves_use_their_own_parameters(task, batch):
    m = build_model(base(task), gen(0))
    ref = m(batch).outputs["class"]
    twin = copy.deepcopy(m)
    with torch.no_grad():
        for p in twin.parameters():
            p.mul_(2.0)
    assert torch.equal(m(batch).outputs["class"], ref)
    assert not torch.allclose(twin(batch).outputs["class"], ref)
    moved = m.clone().to(torch.float64)
    out = moved({"x": batch["x"].double()}).outputs["class"]
    assert out.dtype == torch.float64 and torch.allclose(out.float(), ref, atol=1e-5)
    fresh = build_model(base(task), gen(1))
    fresh.load_state_dict(m.state_dict(), assign=True)
    assert torch.equal(fresh(batch).outputs["class"], ref)


def test_inherit_weights_copies_matching_tensors(task, batch):
    parent = build_model(base(task), gen(0))
    v = parent.valp.with_network(Network("n:4", "regressor", (), out_size=8))
    v = v.with_connection("i:x", "n:4").with_connection("n:4", "o:hist")
    child = build_model(v, gen(1))
    count = inherit_weights(child, parent)
    assert count == len(parent.state_dict())
    sc, sp = child.state_dict(), parent.state_dict()
    assert all(torch.equal(sc[k], sp[k]) for k in sp)
    # a changed shape is not copied
    wider = parent.valp.with_network(Network("n:0", "mlp", (Layer(32, "relu"),)))
    child2 = build_model(wider, gen(1))
    n = inherit_weights(child2, parent)
    assert n < len(parent.state_dict())
    assert not torch.equal(child2.state_dict()["nets.n_0.in_bias"][:16], sp["nets.n_0.in_bias"])


def test_invalid_descriptor_is_refused(task):
    bad = base(task).with_connection("n:1", "n:1")
    with pytest.raises(ValueError, match="self-loop"):
        build_model(bad)


def test_missing_input_is_named(task):
    m = build_model(base(task), gen(0))
    with pytest.raises(KeyError, match="'x'"):
        m({"y": torch.zeros(2, 64)})


def test_auto_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected

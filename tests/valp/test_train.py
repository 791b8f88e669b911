"""Training, evaluation and the sampling score of VALP models on digits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nasgym.tasks import make_task
from nasgym.valp import Layer, Network, OutputHParams, build_model, random_valp
from nasgym.valp import reference as ref_mod
from nasgym.valp.evaluate import evaluate
from nasgym.valp.reference import frechet_distance, reference_for
from nasgym.valp.train import OPTIMIZER_CLASSES, output_losses, train

from .conftest import gen
from .test_descriptor import base


@pytest.fixture(scope="module")
def data(task, digits):
    return task.prepare(digits.train), task.prepare(digits.val)


@pytest.fixture(scope="module")
def reference(digits):
    return reference_for(digits, use_disk=False)


def test_training_reduces_every_loss(task, data):
    train_data, _ = data
    for seed in (0, 1):
        model = build_model(random_valp(task, np.random.default_rng(seed)), gen(seed))
        res = train(model, train_data, 100, gen(seed))
        assert res.steps == 100 and not res.diverged and res.samples == 100 * 64
        for name, hist in res.losses.items():
            assert len(hist) == 100
            assert np.mean(hist[-10:]) < 0.8 * np.mean(hist[:10]), name


def test_each_output_has_its_own_optimizer(task, data):
    v = base(task).with_hparams(
        {
            "class": OutputHParams(0.05, "sgd"),
            "hist": OutputHParams(0.01, "rmsprop"),
            "sample": OutputHParams(0.02, "adagrad"),
        }
    )
    model = build_model(v, gen(0))
    train(model, data[0], 2, gen(0))
    opts = model._trainer.optimizers
    for name, h in v.hparams:
        assert isinstance(opts[name], OPTIMIZER_CLASSES[h.optimizer])
        assert opts[name].param_groups[0]["lr"] == h.lr
    # class's subgraph is n:0 and n:1; the sampler n:3 only belongs to sample's
    ids = {name: {id(p) for g in o.param_groups for p in g["params"]} for name, o in opts.items()}
    mlp = {id(p) for p in model.network_module("n:0").parameters()}
    sampler = {id(p) for p in model.network_module("n:3").parameters()}
    assert mlp <= ids["class"] and mlp <= ids["hist"] and not mlp & ids["sample"]
    assert sampler <= ids["sample"] and not sampler & (ids["class"] | ids["hist"])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_changing_one_outputs_lr_changes_only_its_subgraph(task, data, optimizer):
    """One step; only ``class``'s lr differs. ``class``'s exclusive network (n:1) moves 5x as far
    (SGD; Adam's first step is lr * sign-like, so 5x too), the shared mlp (n:0) moves
    differently, and ``hist``'s (n:2) and ``sample``'s (n:3) networks move exactly the same."""
    hp = {s.name: OutputHParams(1e-2, optimizer) for s in task.outputs}
    slow = base(task).with_hparams(hp)
    fast = slow.with_hparams({"class": OutputHParams(5e-2, optimizer)})
    init = build_model(slow, gen(0))
    moved = {}
    for valp in (slow, fast):
        model = build_model(valp, gen(0))
        train(model, data[0], 1, gen(4))
        moved[valp.hparam("class").lr] = {
            nid: torch.cat(
                [
                    (p - q).flatten()
                    for p, q in zip(
                        model.network_module(nid).parameters(),
                        init.network_module(nid).parameters(),
                        strict=True,
                    )
                ]
            ).detach()
            for nid in slow.network_ids
        }
    a, b = moved[1e-2], moved[5e-2]
    assert a["n:1"].abs().max() > 0
    assert torch.allclose(b["n:1"], 5 * a["n:1"], rtol=1e-4, atol=1e-7)
    assert not torch.allclose(b["n:0"], a["n:0"])
    assert torch.equal(b["n:2"], a["n:2"]) and torch.equal(b["n:3"], a["n:3"])


def test_shared_parameters_get_one_update_per_output(task, data):
    """SGD step on a shared network = -(lr_class * dL_class + lr_hist * dL_hist)."""
    v = base(task).with_hparams(
        {
            "class": OutputHParams(0.1, "sgd"),
            "hist": OutputHParams(0.3, "sgd"),
            "sample": OutputHParams(0.1, "sgd"),
        }
    )
    model = build_model(v, gen(0))
    probe = build_model(v, gen(0))
    batch_gen, probe_gen = gen(5), gen(5)
    train(model, data[0], 1, batch_gen)
    # replay the same batch on the probe: same generator stream (permutation, then noise)
    n = len(data[0])
    perm = torch.randperm(n, generator=probe_gen)
    batch = data[0].subset(perm).subset(slice(0, 64))
    res = probe(batch.inputs, generator=probe_gen)
    losses = output_losses(probe, res, batch.targets)
    w = probe.network_module("n:0").in_bias
    (g_class,) = torch.autograd.grad(losses["class"], w, retain_graph=True)
    (g_hist,) = torch.autograd.grad(losses["hist"], w)
    expected = w.detach() - 0.1 * g_class - 0.3 * g_hist
    assert torch.allclose(model.network_module("n:0").in_bias.detach(), expected, atol=1e-6)


def test_a_detached_connection_passes_data_forward_but_trains_nothing_back(task, data):
    v = base(task).with_connection("n:3", "n:2", detached=True)  # sampler -> regressor
    plain = base(task).with_connection("n:3", "n:2")
    trained = {}
    for name, desc in (("detached", v), ("plain", plain)):
        model = build_model(desc, gen(0))
        batch = data[0].subset(slice(0, 32))
        res = model(batch.inputs, generator=gen(1))
        loss = output_losses(model, res, batch.targets)["hist"]
        sampler = list(model.network_module("n:3").parameters())
        grads = torch.autograd.grad(loss, sampler, allow_unused=True)
        trained[name] = any(g is not None and bool(g.abs().sum() > 0) for g in grads)
        # hist's optimizer holds the sampler's weights only through a plain connection
        train(model, data[0], 1, gen(2))
        owned = {id(p) for g in model._trainer.optimizers["hist"].param_groups for p in g["params"]}
        assert (
            {id(p) for p in sampler} <= owned
            if name == "plain"
            else not owned & set(map(id, sampler))
        )
    assert trained == {"detached": False, "plain": True}
    # forward values are the same either way
    a, b = build_model(v, gen(0)), build_model(plain, gen(0))
    x = data[1].subset(slice(0, 16)).inputs
    assert torch.equal(a(x).outputs["hist"], b(x).outputs["hist"])


def test_repeated_calls_continue_training(task, data):
    v = random_valp(task, np.random.default_rng(2))
    a, b = build_model(v, gen(0)), build_model(v, gen(0))
    ga, gb = gen(9), gen(9)
    ra = train(a, data[0], 40, ga)
    rb1, rb2 = train(b, data[0], 25, gb), train(b, data[0], 15, gb)
    assert b._trainer.steps_done == 40
    for name in ra.losses:
        assert np.allclose(ra.losses[name], rb1.losses[name] + rb2.losses[name])
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert all(p.grad is None for p in b.parameters())  # gradients are not held between calls


def test_released_training_state_keeps_weights_and_restarts_optimizers(task, data):
    v = random_valp(task, np.random.default_rng(2))
    a, b = build_model(v, gen(0)), build_model(v, gen(0))
    train(a, data[0], 10, gen(1))
    before = {k: t.clone() for k, t in a.state_dict().items()}
    a.release_training_state()
    assert a._trainer is None
    assert all(torch.equal(before[k], t) for k, t in a.state_dict().items())
    # trained on from here, it matches a model given these weights and fresh optimizers
    b.load_state_dict(before)
    ra, rb = train(a, data[0], 5, gen(2)), train(b, data[0], 5, gen(2))
    assert all(np.allclose(ra.losses[n], rb.losses[n]) for n in ra.losses)


def test_divergence_is_reported_not_raised(task, data, reference):
    v = base(task).with_hparams({"hist": OutputHParams(1e8, "sgd")})
    model = build_model(v, gen(0))
    res = train(model, data[0], 50, gen(0))
    assert res.diverged and res.diverged_output is not None and res.steps < 50
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert train(model, data[0], 5, gen(0)).steps == 0  # stays stopped
    ev = evaluate(model, data[1], gen(0), reference)
    assert ev.diverged and all(math.isinf(x) for x in ev.objectives.values())


def test_zero_weight_outputs_are_not_trained(task, data):
    model = build_model(base(task), gen(0))
    before = model.network_module("n:3").head.weight.detach().clone()
    train(model, data[0], 5, gen(0), loss_weights={"sample": 0.0})
    assert torch.equal(model.network_module("n:3").head.weight, before)
    with pytest.raises(ValueError, match="unknown outputs"):
        train(model, data[0], 1, gen(0), loss_weights={"nope": 1.0})


@pytest.mark.slow
def test_evaluation_objectives_improve_with_training(task, data, reference):
    model = build_model(random_valp(task, np.random.default_rng(0)), gen(0))
    before = evaluate(model, data[1], gen(1), reference)
    assert before.kinds == {"class": "error", "hist": "mse", "sample": "frechet"}
    train(model, data[0], 300, gen(0))
    after = evaluate(model, data[1], gen(1), reference)
    for ev in (before, after):
        assert 0.0 <= ev.objectives["class"] <= 1.0
        assert ev.objectives["hist"] >= 0 and 0 <= ev.objectives["sample"] < math.inf
        assert not ev.diverged
    assert after.objectives["class"] < 0.5 * before.objectives["class"]
    assert after.objectives["hist"] < before.objectives["hist"]
    assert after.objectives["sample"] < before.objectives["sample"]
    again = evaluate(model, data[1], gen(1), reference)
    assert again.objectives == after.objectives  # deterministic given the generator


def test_reference_separates_real_from_noise(digits, reference):
    assert reference.accuracy(digits.val.images, digits.val.labels) > 0.9
    real = reference.score(digits.val.flat, digits.test.flat)
    noise = reference.score(torch.rand(len(digits.val), 64, generator=gen(0)), digits.test.flat)
    assert real < 0.1 * noise


def test_frechet_distance_of_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # N(0, I) vs N(m, 4I) in 3-D: |m|^2 + 3 * (1 + 4 - 2 * 2)
    b = rng.normal(size=(4000, 3)) * 2 + np.array([1.0, 0.0, 0.0])
    assert frechet_distance(a, b) == pytest.approx(1.0 + 3.0, rel=0.1)
    assert frechet_distance(a, np.full((10, 3), np.nan)) == math.inf


def test_reference_cache_is_reused_and_rebuilt_when_corrupt(digits, tmp_path, monkeypatch):
    monkeypatch.setenv(ref_mod.CACHE_DIR_ENV, str(tmp_path))
    ref_mod.clear_memory_cache()
    first = reference_for(digits, seed=1)
    files = list(tmp_path.glob("*.pt"))
    assert len(files) == 1 and "digits" in files[0].name
    assert reference_for(digits, seed=1) is first  # in-process cache

    ref_mod.clear_memory_cache()
    calls = []
    real_train = ref_mod._train_reference
    monkeypatch.setattr(ref_mod, "_train_reference", lambda *a: calls.append(1) or real_train(*a))
    loaded = reference_for(digits, seed=1)
    assert calls == []  # from disk
    assert all(
        torch.equal(p, q) for p, q in zip(first.parameters(), loaded.parameters(), strict=True)
    )

    ref_mod.clear_memory_cache()
    files[0].write_bytes(b"not a torch file")
    rebuilt = reference_for(digits, seed=1)
    assert calls == [1]
    assert all(
        torch.equal(p, q) for p, q in zip(first.parameters(), rebuilt.parameters(), strict=True)
    )
    ref_mod.clear_memory_cache()


def test_reference_is_not_reused_for_changed_data_under_the_same_name(digits, monkeypatch):
    """Same name, same labels, other pixels (e.g. a user's fixed preprocessing): a new reference."""
    from dataclasses import replace

    from nasgym.data import Split

    ref_mod.clear_memory_cache()
    built = []
    monkeypatch.setattr(
        ref_mod,
        "_train_reference",
        lambda ds, seed: built.append(ds) or ref_mod.ReferenceClassifier(64, 10, gen(seed)),
    )
    inverted = replace(digits, train=Split(1.0 - digits.train.images, digits.train.labels))
    first = reference_for(digits, use_disk=False)
    assert reference_for(digits, use_disk=False) is first
    assert reference_for(inverted, use_disk=False) is not first
    assert len(built) == 2
    ref_mod.clear_memory_cache()


def test_unwritable_cache_folder_leaves_no_temporary_file(digits, tmp_path, monkeypatch):
    monkeypatch.setenv(ref_mod.CACHE_DIR_ENV, str(tmp_path))

    def failing_save(obj, f, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ref_mod.torch, "save", failing_save)
    ref_mod._save(ref_mod.ReferenceClassifier(64, 10, gen(0)), tmp_path / "ref.pt")
    assert list(tmp_path.iterdir()) == []


def test_sampling_output_needs_a_reference_without_a_dataset(task, data):
    model = build_model(base(task), gen(0))
    bare = type(data[1])(data[1].inputs, data[1].targets, None)
    with pytest.raises(ValueError, match="reference"):
        evaluate(model, bare, gen(0))


def test_evaluate_without_sampling_outputs(digits):
    task = make_task("two-classifiers", digits)
    v = random_valp(task, np.random.default_rng(0))
    v = v.with_network(Network("n:9", "classifier", (Layer(8, "relu"),), out_size=2))
    v = v.with_connection("i:x", "n:9").with_connection("n:9", "o:parity")
    model = build_model(v, gen(0))
    ev = evaluate(model, task.prepare(digits.val), gen(0))
    assert set(ev.objectives) == {"class", "parity"}
    assert all(0 <= x <= 1 for x in ev.objectives.values())


def test_warmup_scales_the_first_steps_then_restores_each_outputs_lr(task, data):
    """warmup=W: the k-th batch of a fresh trainer runs at lr * k / W (SGD: the first update is
    exactly 1/W of the full one), and from batch W on every optimizer is back at its lr."""
    v = base(task).with_hparams(
        {name: OutputHParams(0.05, "sgd") for name, _ in base(task).hparams}
    )
    init = build_model(v, gen(0)).state_dict()
    full, warm = build_model(v, gen(0)), build_model(v, gen(0))
    train(full, data[0], 1, gen(3))
    train(warm, data[0], 1, gen(3), warmup=4)
    moved = 0
    for k, p0 in init.items():
        d_full, d_warm = full.state_dict()[k] - p0, warm.state_dict()[k] - p0
        assert torch.allclose(d_warm, d_full / 4, rtol=1e-4, atol=1e-7), k
        moved += int(d_full.abs().max() > 0)
    assert moved > 0
    assert all(o.param_groups[0]["lr"] == 0.05 / 4 for o in warm._trainer.optimizers.values())
    train(warm, data[0], 4, gen(4), warmup=4)
    assert all(o.param_groups[0]["lr"] == 0.05 for o in warm._trainer.optimizers.values())
    # a warm-up given up midway (the next call without it) is back at the outputs' lr
    midway = build_model(v, gen(0))
    train(midway, data[0], 1, gen(3), warmup=4)
    train(midway, data[0], 1, gen(3))
    assert all(o.param_groups[0]["lr"] == 0.05 for o in midway._trainer.optimizers.values())
    with pytest.raises(ValueError, match="warmup"):
        train(warm, data[0], 1, gen(4), warmup=-1)

"""VALP variation operators: registry, exact targets, validity, function preservation, no mutation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasgym.tasks import make_task
from nasgym.valp import VALP, Connection, Layer, Network, OutputHParams, build_model, random_valp
from nasgym.valp.operators import (
    OPERATORS,
    PAPER_ORDER,
    make_operator,
    operator_names,
    operator_variants,
    parse_variant_name,
    variant_name,
)
from nasgym.valp.operators.hyper import BATCH_BOUNDS, LR_BOUNDS
from nasgym.valp.train import output_losses, train

from .conftest import gen

GENTLE_OPS = ["add_layer", "extend_layer", "add_connection", "insert_network", "clone_network"]
EXPECTED = {  # name: (effect, variants, scope)
    "add_layer": ("extender", ("gentle", "aggressive"), "micro"),
    "remove_layer": ("reducer", (None,), "micro"),
    "extend_layer": ("extender", ("gentle", "aggressive"), "micro"),
    "add_connection": ("extender", ("gentle", "aggressive"), "macro"),
    "delete_connection": ("reducer", (None,), "macro"),
    "insert_network": ("extender", ("gentle", "aggressive"), "macro"),
    "delete_network": ("reducer", (None,), "macro"),
    "clone_network": ("extender", ("gentle", "aggressive"), "macro"),
    "change_lr": ("neutral", (None,), "hyperparameter"),
    "change_sgd": ("neutral", (None,), "hyperparameter"),
    "change_bs": ("neutral", (None,), "hyperparameter"),
    "crossover": ("neutral", (None,), "crossover"),
}


@pytest.fixture(scope="module")
def data(task, digits):
    return task.prepare(digits.train).subset(slice(0, 64))


@pytest.fixture(scope="module")
def batch(task, data):
    """32 digits and fixed sampler noise per sampling output."""
    noise = {
        s.name: torch.randn(32, s.latent, generator=gen(7))
        for s in task.outputs
        if s.kind == "sampling"
    }
    return data.subset(slice(0, 32)).inputs, noise


def model_pair(task, seed: int):
    """A random model and a random donor for crossover."""
    rng = np.random.default_rng(seed)
    host = build_model(random_valp(task, rng), gen(seed))
    donor = build_model(random_valp(task, rng), gen(seed + 1000))
    return host, donor


def outputs(model, batch) -> dict[str, torch.Tensor]:
    inputs, noise = batch
    with torch.no_grad():
        return model(inputs, noise=noise).outputs


def apply_all_targets(op, model, donor, rng, variant, every_choice=False):
    """Yield (target, choice, new model) for every target (one random or every choice)."""
    dv = donor.valp if op.needs_donor else None
    for target in op.targets(model.valp, donor=dv):
        options = op.choices(model.valp, target, donor=dv)
        picks = options if every_choice else [options[int(rng.integers(len(options)))]]
        for choice in picks:
            yield (
                target,
                choice,
                op.apply(model, target, rng, variant=variant, choice=choice, donor=donor),
            )


# ---------------------------------------------------------------------------- registry


def test_registry_holds_the_paper_operators_with_their_classes():
    assert sorted(OPERATORS.names()) == sorted(PAPER_ORDER)
    assert operator_names() == list(PAPER_ORDER)
    for name, (effect, variants, scope) in EXPECTED.items():
        op = make_operator(name)
        assert (op.effect, op.variants, op.scope) == (effect, variants, scope), name
        assert op.__doc__ and "Target" in op.__doc__, f"{name} must document its targets"
    with pytest.raises(KeyError, match="add_layer"):
        make_operator("add_layers")


def test_operator_variants_is_one_fixed_ordering_with_stable_names():
    pairs = operator_variants()
    assert pairs[:4] == [
        ("add_layer", "gentle"),
        ("add_layer", "aggressive"),
        ("remove_layer", None),
        ("extend_layer", "gentle"),
    ]
    assert pairs[-1] == ("crossover", None) and len(pairs) == 17
    names = [variant_name(*p) for p in pairs]
    assert len(set(names)) == len(names) and "add_layer:gentle" in names and "change_bs" in names
    assert [parse_variant_name(n) for n in names] == pairs
    with pytest.raises(ValueError, match="remove_layer:gentle"):
        parse_variant_name("remove_layer:gentle")


# ---------------------------------------------------------------------------- validity, exactness


@pytest.mark.parametrize("name,variant", operator_variants(), ids=lambda x: str(x))
def test_every_listed_target_gives_a_valid_model(task, batch, name, variant):
    op = make_operator(name)
    for seed in range(3):
        model, donor = model_pair(task, seed)
        rng = np.random.default_rng(seed)
        for target, choice, new in apply_all_targets(
            op, model, donor, rng, variant, every_choice=seed == 0
        ):
            new.valp.validate()
            assert new.valp != model.valp or op.scope == "hyperparameter", (target, choice)
            assert all(torch.isfinite(o).all() for o in outputs(new, batch).values())


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000))
def test_targets_are_exact(task, seed):
    model, donor = model_pair(task, seed)
    valp, rng = model.valp, np.random.default_rng(seed)
    everything = [*valp.component_ids, "model", "n:999", "o:nope"]
    for name, variant in operator_variants():
        op = make_operator(name)
        dv = donor.valp if op.needs_donor else None
        targets = op.targets(valp, donor=dv)
        assert set(targets) <= set(everything)
        for comp in everything:
            if comp not in targets:
                with pytest.raises(ValueError, match=name):
                    op.apply(model, comp, rng, variant=variant, donor=donor)
        if targets:  # a listed target (random choice) applies and gives a valid model
            target = targets[int(rng.integers(len(targets)))]
            op.apply(model, target, rng, variant=variant, donor=donor).valp.validate()
            with pytest.raises(ValueError, match="choice"):
                op.apply(model, target, rng, variant=variant, choice="no-such-choice", donor=donor)


def test_bad_variant_and_missing_donor_are_clear_errors(task):
    model, _ = model_pair(task, 0)
    rng = np.random.default_rng(0)
    target = make_operator("add_layer").targets(model.valp)[0]
    with pytest.raises(ValueError, match="variants"):
        make_operator("add_layer").apply(model, target, rng, variant="wild")
    with pytest.raises(ValueError, match="variants"):
        make_operator("remove_layer").apply(model, target, rng, variant="gentle")
    with pytest.raises(ValueError, match="donor"):
        make_operator("crossover").apply(model, "o:class", rng)


# ---------------------------------------------------------------------------- gentle = morphism


@pytest.mark.parametrize("name", GENTLE_OPS)
def test_gentle_variants_leave_every_output_unchanged(task, batch, name):
    op = make_operator(name)
    checked = 0
    for seed in range(5):
        model, _ = model_pair(task, seed)
        before = outputs(model, batch)
        rng = np.random.default_rng(seed)
        for target, choice, new in apply_all_targets(
            op, model, None, rng, "gentle", every_choice=seed < 2
        ):
            after = outputs(new, batch)
            for out, value in before.items():
                diff = (after[out] - value).abs().max().item()
                assert diff <= 1e-5, f"{name} on {target} ({choice}) changed {out} by {diff}"
            checked += 1
    assert checked >= 6


def total_loss(model, data, batch) -> float:
    _, noise = batch
    inputs = data.inputs
    fixed = {k: torch.randn(len(data), v.shape[1], generator=gen(3)) for k, v in noise.items()}
    with torch.no_grad():
        losses = output_losses(model, model(inputs, noise=fixed), data.targets)
    return float(sum(losses.values()))


@pytest.mark.parametrize("name", GENTLE_OPS)
def test_model_still_trains_after_a_gentle_operator(task, data, batch, name):
    model, _ = model_pair(task, 11)
    rng = np.random.default_rng(11)
    op = make_operator(name)
    targets = op.targets(model.valp)
    new = op.apply(model, targets[int(rng.integers(len(targets)))], rng, variant="gentle")
    before = total_loss(new, data, batch)
    result = train(new, data, 15, gen(0), batch_size=64)
    assert not result.diverged
    assert total_loss(new, data, batch) < before


def grown_model(task, seed: int):
    """A random model (layerless heads allowed, random hyperparameters) changed by up to seven
    random operators, so that it holds what random VALPs lack: samplers and classifiers that
    feed networks, networks inserted on connections, clones, widened and removed layers."""
    rng = np.random.default_rng(seed)
    valp = random_valp(task, rng, min_layers=0, random_hparams=True)
    model = build_model(valp, gen(seed))
    pairs = [p for p in operator_variants() if p[0] != "crossover"]
    for _ in range(int(rng.integers(0, 8))):
        name, variant = pairs[int(rng.integers(len(pairs)))]
        op = make_operator(name)
        targets = op.targets(model.valp)
        if targets:
            model = op.apply(model, targets[int(rng.integers(len(targets)))], rng, variant=variant)
    return model


def fixed_noise(model, n: int) -> dict[str, torch.Tensor]:
    """Noise for every sampling output and every sampler (a sampler feeding no sampling output
    reads ``noise[<its id>]``)."""
    g = gen(123)
    noise = {
        s.name: torch.randn(n, s.latent, generator=g)
        for s in model.valp.task_outputs
        if s.kind == "sampling"
    }
    for net in model.valp.networks:
        if net.kind == "sampler":
            noise[net.id] = torch.randn(n, net.latent, generator=g)
    return noise


@pytest.mark.parametrize("task_name", ["image-multitask", "classify", "two-classifiers"])
def test_gentle_variants_are_exact_on_grown_models_of_every_task(digits, task_name):
    """Every gentle operator, on every target and every choice, keeps every output (sampling
    outputs under fixed noise) of grown random models of each built-in task."""
    task = make_task(task_name, digits)
    inputs = task.prepare(digits.val).subset(slice(0, 32)).inputs
    checked = 0
    for seed in range(4):
        model = grown_model(task, seed)
        noise = fixed_noise(model, 32)
        with torch.no_grad():
            before = model(inputs, noise=noise).outputs
        rng = np.random.default_rng(seed)
        for name in GENTLE_OPS:
            for target, choice, new in apply_all_targets(
                make_operator(name), model, None, rng, "gentle", every_choice=True
            ):
                added = set(new.valp.network_ids) - set(model.valp.network_ids)
                # a clone of a sampler that feeds no sampling output draws its own noise
                copy_noise = {nid: noise[target] for nid in added if target in noise}
                with torch.no_grad():
                    after = new(inputs, noise={**noise, **copy_noise}).outputs
                for out, value in before.items():
                    diff = (after[out] - value).abs().max().item()
                    assert diff <= 1e-5, f"{name} on {target} ({choice}) changed {out} by {diff}"
                checked += 1
    assert checked >= 40


@pytest.mark.parametrize("task_name", ["classify", "two-classifiers"])
def test_models_of_other_tasks_still_train_after_gentle_operators(digits, task_name):
    task = make_task(task_name, digits)
    data = task.prepare(digits.train).subset(slice(0, 128))
    model = grown_model(task, 21)
    rng = np.random.default_rng(21)
    trained = 0
    for name in GENTLE_OPS:
        op = make_operator(name)
        targets = op.targets(model.valp)
        if not targets:  # e.g. no network to connect a new source into
            continue
        new = op.apply(model, targets[int(rng.integers(len(targets)))], rng, variant="gentle")
        trained += 1
        with torch.no_grad():
            before = output_losses(new, new(data.inputs), data.targets)
        result = train(new, data, 15, gen(0), batch_size=64)
        assert not result.diverged, name
        with torch.no_grad():
            after = output_losses(new, new(data.inputs), data.targets)
        assert sum(after.values()) < sum(before.values()), name
    assert trained >= 3


def test_aggressive_variants_change_the_function(task, batch):
    model, _ = model_pair(task, 4)
    before = outputs(model, batch)
    rng = np.random.default_rng(4)
    for name in GENTLE_OPS:
        op = make_operator(name)
        target = op.targets(model.valp)[0]
        after = outputs(op.apply(model, target, rng, variant="aggressive"), batch)
        assert any(not torch.allclose(after[k], before[k]) for k in before), name


def test_removing_an_identity_layer_is_exact(task, batch):
    """remove_layer composes the maps around an identity layer, undoing gentle add_layer."""
    model, _ = model_pair(task, 5)
    before = outputs(model, batch)
    rng = np.random.default_rng(5)
    for target in model.valp.network_ids:
        net = model.valp.network(target)
        p = len(net.layers)  # after the last layer (position 0 for networks without layers)
        grown = make_operator("add_layer").apply(model, target, rng, variant="gentle", choice=p)
        if grown.valp.network(target).layers[p].activation != "identity":
            continue
        back = make_operator("remove_layer").apply(grown, target, rng, choice=p)
        assert back.valp.network(target).layers == net.layers
        after = outputs(back, batch)
        for k in before:
            assert (after[k] - before[k]).abs().max().item() <= 1e-5


# ---------------------------------------------------------------------------- no mutation, determinism


@pytest.mark.parametrize("name,variant", operator_variants(), ids=lambda x: str(x))
def test_input_model_is_never_mutated(task, name, variant):
    model, donor = model_pair(task, 2)
    op = make_operator(name)
    snapshots = [
        (m, m.valp.to_json(), {k: v.clone() for k, v in m.state_dict().items()})
        for m in (model, donor)
    ]
    rng = np.random.default_rng(2)
    targets = op.targets(model.valp, donor=donor.valp if op.needs_donor else None)
    assert targets, f"{name} has no target on this model"
    for target in targets:
        new = op.apply(model, target, rng, variant=variant, donor=donor)
        assert new is not model
    for m, text, state in snapshots:
        assert m.valp.to_json() == text
        now = m.state_dict()
        assert now.keys() == state.keys() and all(torch.equal(now[k], state[k]) for k in state)


@pytest.mark.parametrize("name,variant", [p for p in operator_variants() if p[1] != "gentle"])
def test_same_rng_seed_gives_the_same_model(task, name, variant):
    model, donor = model_pair(task, 3)
    op = make_operator(name)
    target = op.targets(model.valp, donor=donor.valp if op.needs_donor else None)[0]
    a, b = (
        op.apply(model, target, np.random.default_rng(9), variant=variant, donor=donor)
        for _ in range(2)
    )
    assert a.valp == b.valp
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


# ---------------------------------------------------------------------------- hyperparameters


def test_hyperparameter_operators_keep_the_weights(task):
    model, _ = model_pair(task, 6)
    rng = np.random.default_rng(6)
    old_lr = model.valp.hparam("class").lr
    for _ in range(20):
        new = make_operator("change_lr").apply(model, "o:class", rng)
        lr = new.valp.hparam("class").lr
        assert LR_BOUNDS[0] <= lr <= LR_BOUNDS[1] and 0.1 - 1e-12 <= lr / old_lr <= 10 + 1e-9
        assert new.valp.hparam("hist") == model.valp.hparam("hist")
    assert make_operator("change_lr").apply(model, "o:hist", rng, choice=2.0).valp.hparam(
        "hist"
    ).lr == pytest.approx(2 * model.valp.hparam("hist").lr)
    sgd = make_operator("change_sgd")
    assert model.valp.hparam("class").optimizer not in sgd.choices(model.valp, "o:class")
    new = sgd.apply(model, "o:class", rng, choice="rmsprop")
    assert new.valp.hparam("class").optimizer == "rmsprop"
    assert new.valp.hparam("class").lr == old_lr
    sa, sb = model.state_dict(), new.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("choice", ["fast", [2.0], True, 0.0, -1.0, float("nan"), float("inf")])
def test_change_lr_rejects_a_bad_factor_clearly(task, choice):
    model, _ = model_pair(task, 6)
    with pytest.raises(ValueError, match="lr factor, a finite number > 0"):
        make_operator("change_lr").apply(model, "o:class", np.random.default_rng(0), choice=choice)


def test_change_bs_halves_or_doubles_within_bounds(task):
    model, _ = model_pair(task, 6)
    op = make_operator("change_bs")
    rng = np.random.default_rng(0)
    assert op.targets(model.valp) == ["model"]
    assert op.apply(model, "model", rng, choice="double").valp.batch_size == 128
    assert op.apply(model, "model", rng, choice="halve").valp.batch_size == 32
    lo, hi = BATCH_BOUNDS
    assert op.choices(model.valp.with_hparams(batch_size=lo), "model") == ["double"]
    assert op.choices(model.valp.with_hparams(batch_size=hi), "model") == ["halve"]
    with pytest.raises(ValueError, match="model"):
        op.apply(model, "o:class", rng)


# ---------------------------------------------------------------------------- macro specifics


def _hand_task_valp(task, nets, conns, batch_size=64) -> VALP:
    hp = {s.name: OutputHParams(1e-3, "adam") for s in task.outputs}
    return VALP(
        task.inputs, task.outputs, tuple(nets), tuple(Connection(*c) for c in conns), hp, batch_size
    ).validate()


def _chain(task, mlp_width: int) -> VALP:
    """x -> n0 (mlp) -> n1 (mlp) -> n2 (classifier) -> class; x -> n3 -> hist; x -> n4 -> sample."""
    return _hand_task_valp(
        task,
        [
            Network("n:0", "mlp", (Layer(16, "relu"),)),
            Network("n:1", "mlp", (Layer(mlp_width, "tanh"),)),
            Network("n:2", "classifier", (Layer(8, "relu"),), out_size=10),
            Network("n:3", "regressor", (), out_size=8),
            Network("n:4", "sampler", (Layer(16, "relu"),), out_size=64, latent=8),
        ],
        [
            ("i:x", "n:0"),
            ("n:0", "n:1"),
            ("n:1", "n:2"),
            ("n:2", "o:class"),
            ("i:x", "n:3"),
            ("n:3", "o:hist"),
            ("i:x", "n:4"),
            ("n:4", "o:sample"),
        ],
    )


def test_delete_network_reconnects_and_lists_only_valid_targets(task):
    valp = _chain(task, 12)
    op = make_operator("delete_network")
    # n2, n3, n4 are the only feeders of their outputs; deleting n0 or n1 bridges the chain
    assert op.targets(valp) == ["n:0", "n:1"]
    model = build_model(valp, gen(0))
    new = op.apply(model, "n:1", np.random.default_rng(0))
    assert new.valp.has_connection("n:0", "n:2") and "n:1" not in new.valp.network_ids
    kept = model.network_module("n:0").state_dict()
    assert all(torch.equal(t, kept[k]) for k, t in new.network_module("n:0").state_dict().items())
    assert new.valp.network_ids == ["n:0", "n:2", "n:3", "n:4"]


def test_insert_network_and_connections_on_a_known_model(task, batch):
    valp = _chain(task, 12)
    model = build_model(valp, gen(1))
    rng = np.random.default_rng(1)
    add = make_operator("add_connection")
    assert add.choices(valp, "n:0") == ["n:3", "n:4"]  # n1, n2 would close a cycle
    assert add.choices(valp, "n:2") == ["i:x", "n:0", "n:3", "n:4"]
    new = add.apply(model, "n:2", rng, variant="gentle", choice="i:x")
    w = new.network_module("n:2").in_proj["i_x"].weight
    assert w.shape == (8, 64) and not w.any()
    delete = make_operator("delete_connection")
    assert delete.targets(valp) == []  # every connection is the only one in or out of something
    # n1 -> n2 cannot go (n1 would send nothing); the new i:x -> n2 can
    assert delete.targets(new.valp) == ["n:2"] and delete.choices(new.valp, "n:2") == ["i:x"]
    ins = make_operator("insert_network").apply(model, "n:2", rng, variant="gentle", choice="n:1")
    assert ins.valp.network("n:5") == Network("n:5", "mlp", (Layer(12, "identity"),))
    assert ins.valp.predecessors("n:2") == ["n:5"] and ins.valp.predecessors("n:5") == ["n:1"]


def test_detached_gentle_connections_stay_detached_through_later_edits(task, batch):
    valp = _chain(task, 12)
    model = build_model(valp, gen(1))
    rng = np.random.default_rng(1)
    add = make_operator("add_connection", detach_gentle=True)
    new = add.apply(model, "n:2", rng, variant="gentle", choice="n:0")
    assert new.valp.detached("n:0", "n:2")
    assert all(torch.equal(outputs(new, batch)[k], v) for k, v in outputs(model, batch).items())
    rough = add.apply(model, "n:2", rng, variant="aggressive", choice="n:0")
    assert rough.valp.has_connection("n:0", "n:2") and not rough.valp.detached("n:0", "n:2")
    plain = make_operator("add_connection").apply(model, "n:2", rng, variant="gentle", choice="n:0")
    assert not plain.valp.detached("n:0", "n:2")  # the default is the paper's connection
    # an identity network inserted on it keeps its source untrained by the target
    ins = make_operator("insert_network").apply(new, "n:2", rng, variant="gentle", choice="n:0")
    (mid,) = set(ins.valp.network_ids) - set(new.valp.network_ids)
    assert ins.valp.detached("n:0", mid) and not ins.valp.detached(mid, "n:2")
    clone = make_operator("clone_network").apply(new, "n:2", rng, variant="gentle")
    (twin,) = set(clone.valp.network_ids) - set(new.valp.network_ids)
    assert clone.valp.detached("n:0", twin) and clone.valp.detached("n:0", "n:2")
    with pytest.raises(ValueError, match="detach_gentle"):
        make_operator("add_connection", detach_gentle="yes")
    with pytest.raises(ValueError, match="takes options none"):
        make_operator("delete_connection", detach_gentle=True)


def test_gentle_clone_halves_both_copies(task, batch):
    valp = _chain(task, 12)
    model = build_model(valp, gen(2))
    rng = np.random.default_rng(2)
    new = make_operator("clone_network").apply(model, "n:2", rng, variant="gentle")
    assert new.valp.predecessors("o:class") == ["n:2", "n:5"]
    old_head = model.network_module("n:2").head.weight
    for nid in ("n:2", "n:5"):
        assert torch.allclose(new.network_module(nid).head.weight, 0.5 * old_head)
    mlp = make_operator("clone_network").apply(model, "n:1", rng, variant="gentle")
    old = model.network_module("n:2").in_proj["n_1"].weight
    for src in ("n_1", "n_5"):
        assert torch.allclose(mlp.network_module("n:2").in_proj[src].weight, 0.5 * old)


# ---------------------------------------------------------------------------- crossover


def _exclusive_pair(task):
    """Two models whose 'class' output has a whole exclusive subgraph reading only the input."""
    host = build_model(_chain(task, 12), gen(3))
    donor_valp = _hand_task_valp(
        task,
        [
            Network("n:0", "mlp", (Layer(24, "elu"), Layer(10, "relu"))),
            Network("n:1", "classifier", (), out_size=10),
            Network("n:2", "regressor", (Layer(4, "tanh"),), out_size=8),
            Network("n:3", "sampler", (), out_size=64, latent=8),
        ],
        [
            ("i:x", "n:0"),
            ("n:0", "n:1"),
            ("i:x", "n:1"),
            ("n:1", "o:class"),
            ("i:x", "n:2"),
            ("n:2", "o:hist"),
            ("i:x", "n:3"),
            ("n:3", "o:sample"),
        ],
    )
    return host, build_model(donor_valp, gen(4))


def test_crossover_moves_the_donors_exclusive_subgraph_with_its_weights(task, batch):
    host, donor = _exclusive_pair(task)
    op = make_operator("crossover")
    assert op.targets(host.valp, donor=donor.valp) == ["o:class", "o:hist", "o:sample"]
    child = op.apply(host, "o:class", np.random.default_rng(0), donor=donor)
    # host n0, n1, n2 (class's exclusive part) are replaced by donor n0, n1 renamed n5, n6
    assert child.valp.network_ids == ["n:3", "n:4", "n:5", "n:6"]
    assert child.valp.network("n:5").layers == donor.valp.network("n:0").layers
    for old, new in (("n:0", "n:5"), ("n:1", "n:6")):
        theirs = donor.network_module(old).state_dict()
        mine = child.network_module(new).state_dict()
        renamed = {k.replace("n_0", "n_5"): v for k, v in theirs.items()}
        assert mine.keys() == renamed.keys()
        assert all(torch.equal(mine[k], renamed[k]) for k in renamed)
    before_host, before_donor, after = (
        outputs(host, batch),
        outputs(donor, batch),
        outputs(child, batch),
    )
    assert torch.equal(after["class"], before_donor["class"])  # the donated part computes the same
    for k in ("hist", "sample"):  # the rest is the host's
        assert torch.equal(after[k], before_host[k])


def test_crossover_targets_need_exclusive_parts_on_both_sides(task):
    host, _ = _exclusive_pair(task)
    shared = _hand_task_valp(
        task,
        [
            Network("n:0", "classifier", (), out_size=10),
            Network("n:1", "regressor", (), out_size=8),
            Network("n:2", "sampler", (), out_size=64, latent=8),
        ],
        [
            ("i:x", "n:0"),
            ("n:0", "o:class"),
            ("n:0", "n:1"),
            ("n:1", "o:hist"),
            ("i:x", "n:2"),
            ("n:2", "o:sample"),
        ],
    )
    op = make_operator("crossover")
    # in `shared`, class has no exclusive networks (n0 also feeds hist)
    assert op.targets(shared) == ["o:hist", "o:sample"]
    assert op.targets(host.valp, donor=shared) == ["o:hist", "o:sample"]
    donor = build_model(shared, gen(0))
    with pytest.raises(ValueError, match="exclusive"):
        op.apply(host, "o:class", np.random.default_rng(0), donor=donor)


# ---------------------------------------------------------------------------- width cap
def test_draw_width_is_unchanged_without_a_binding_cap_and_capped_otherwise():
    from nasgym.valp.operators.base import draw_width

    for w in (1, 3, 16, 784):
        a, b, c = (np.random.default_rng(w) for _ in range(3))
        old = [int(a.integers(max(1, w // 2), 2 * w + 1)) for _ in range(50)]
        assert [draw_width(b, w) for _ in range(50)] == old
        assert [draw_width(c, w, 2 * w) for _ in range(50)] == old  # a cap that cannot bind
        assert a.random() == c.random()  # one draw each: the generators stay in step
        capped = [draw_width(np.random.default_rng(i), w, 20) for i in range(50)]
        assert max(capped) <= 20 and min(capped) >= min(max(1, w // 2), 20)


@pytest.mark.parametrize("name", ["insert_network", "add_layer", "extend_layer"])
def test_aggressive_widths_respect_max_width(task, name):
    op = make_operator(name)
    seen = 0
    for seed in range(4):
        model, donor = model_pair(task, seed)
        rng = np.random.default_rng(seed)
        for target in op.targets(model.valp):
            for choice in op.choices(model.valp, target):
                size = op.edit_size(model.valp, target, choice)
                if size.widest > 70:  # its gentle form is too wide: the env masks it
                    continue
                new = op.apply(
                    model, target, rng, variant="aggressive", choice=choice, max_width=70
                )
                assert max(layer.width for n in new.valp.networks for layer in n.layers) <= 70
                seen += 1
    assert seen > 20

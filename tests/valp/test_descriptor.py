"""The VALP descriptor: canonical JSON, keys, builders and each structural rule."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from nasgym.tasks import make_task
from nasgym.valp import (
    RULES,
    VALP,
    Connection,
    Layer,
    Network,
    OutputHParams,
    StructureError,
    random_valp,
)

from .conftest import FAKE_DIGITS


@pytest.fixture(scope="module")
def task():
    return make_task("image-multitask", FAKE_DIGITS)


def base(task) -> VALP:
    """x -> n:0 (mlp) -> n:1 (classifier) -> class, n:0 -> n:2 (regressor) -> hist,
    x -> n:3 (sampler) -> sample."""
    nets = (
        Network("n:0", "mlp", (Layer(16, "relu"),)),
        Network("n:1", "classifier", (), out_size=10),
        Network("n:2", "regressor", (Layer(8, "tanh"),), out_size=8),
        Network("n:3", "sampler", (Layer(16, "relu"),), out_size=64, latent=8),
    )
    conns = [
        ("i:x", "n:0"),
        ("n:0", "n:1"),
        ("n:1", "o:class"),
        ("n:0", "n:2"),
        ("n:2", "o:hist"),
        ("i:x", "n:3"),
        ("n:3", "o:sample"),
    ]
    hp = {s.name: OutputHParams(1e-3, "adam") for s in task.outputs}
    return VALP(task.inputs, task.outputs, nets, tuple(Connection(*c) for c in conns), hp, 64)


def rules_of(valp: VALP) -> set[str]:
    return {e.rule for e in valp.violations()}


def test_base_model_is_valid(task):
    v = base(task)
    assert v.is_valid() and v.violations() == []
    assert v.validate() is v


def test_json_round_trip_is_exact(task):
    rng = np.random.default_rng(0)
    for _ in range(50):
        v = random_valp(task, rng, random_hparams=True)
        back = VALP.from_json(v.to_json())
        assert back == v and back.key == v.key and back.to_json() == v.to_json()
        assert back.hparams == v.hparams  # floats survive exactly
        assert VALP.from_dict(v.to_dict()) == v


def test_key_ignores_construction_order_and_tracks_content(task):
    v = base(task)
    shuffled = VALP(
        v.task_inputs,
        v.task_outputs,
        tuple(reversed(v.networks)),
        tuple(reversed(v.connections)),
        dict(reversed(v.hparams)),
        v.batch_size,
    )
    assert shuffled == v and shuffled.key == v.key and hash(shuffled) == hash(v)
    assert len({v, shuffled}) == 1
    wider = v.with_network(Network("n:0", "mlp", (Layer(32, "relu"),)))
    assert wider.key != v.key and wider != v
    assert v.with_hparams(batch_size=32).key != v.key
    # the key is a stable function of the canonical JSON
    assert v.key == VALP.from_json(v.to_json()).key and len(v.key) == 64


def test_networks_sort_numerically(task):
    v = base(task)
    n10 = Network("n:10", "regressor", (), out_size=8)
    v2 = v.with_network(n10).with_connection("i:x", "n:10").with_connection("n:10", "o:hist")
    assert v2.network_ids == ["n:0", "n:1", "n:2", "n:3", "n:10"]
    assert v2.next_network_id() == "n:11"
    assert v2.is_valid()


def test_graph_helpers(task):
    v = base(task)
    assert v.successors("n:0") == ["n:1", "n:2"]
    assert v.predecessors("o:hist") == ["n:2"]
    order = v.topological_order()
    for c in v.connections:
        assert order.index(c.src) < order.index(c.dst)
    assert v.emit_size("n:0") == 16 and v.emit_dtype("n:0") == "features"
    assert v.emit_size("n:1") == 10 and v.emit_dtype("n:1") == "discrete"
    assert v.emit_dtype("n:3") == "samples" and v.emit_size("i:x") == 64
    assert v.ancestors("o:class") == {"i:x", "n:0", "n:1"}
    assert v.descendants("n:0") == {"n:1", "n:2", "o:class", "o:hist"}
    assert v.network("n:2").kind == "regressor"
    with pytest.raises(KeyError, match="n:9"):
        v.network("n:9")


def test_builders_return_new_models_and_leave_the_original(task):
    v = base(task)
    before = v.to_json()
    v2 = v.without_network("n:2")
    assert "n:2" not in v2.network_ids and not any("n:2" in (c.src, c.dst) for c in v2.connections)
    v3 = v.with_hparams({"class": OutputHParams(0.1, "sgd")})
    assert v3.hparam("class") == OutputHParams(0.1, "sgd") and v3.hparam("hist") == v.hparam("hist")
    v4 = v.without_connection("n:0", "n:2").with_connections([*v.connections])
    assert v4 == v
    assert v.to_json() == before


def test_descriptor_does_not_import_torch():
    code = (
        "import sys, nasgym.valp.descriptor, nasgym.valp.random_valp; "
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_detached_connection_round_trips_and_leaves_plain_json_unchanged(task):
    v = base(task)
    cut = v.with_connection("n:3", "n:2", detached=True)
    d = cut.to_dict()
    assert ["n:3", "n:2", "detached"] in d["connections"]
    assert all(len(c) == 2 for c in v.to_dict()["connections"])  # old keys do not move
    back = VALP.from_json(cut.to_json())
    assert back == cut and back.key == cut.key != v.with_connection("n:3", "n:2").key
    assert back.detached("n:3", "n:2") and not back.detached("i:x", "n:0")
    assert cut.is_valid()
    # the graph sees the connection; training does not reach through it
    assert "n:3" in cut.ancestors("o:hist") and "n:3" not in cut.trained_ancestors("o:hist")
    assert cut.trained_ancestors("o:class") == cut.ancestors("o:class")
    bad = d | {"connections": [*d["connections"][:-1], ["n:3", "n:2", "frozen"]]}
    with pytest.raises(ValueError, match='"detached"'):
        VALP.from_dict(bad)
    into_output = v.with_connections([*v.connections, Connection("n:0", "o:hist", True)])
    expect_rule(into_output, "references")
    assert any("can be detached" in str(e) for e in into_output.violations())


def test_malformed_json_raises_value_error():
    with pytest.raises(ValueError, match="parsed"):
        VALP.from_json("{not json")
    with pytest.raises(ValueError, match="malformed"):
        VALP.from_json('{"inputs": []}')


# --------------------------------------------------------------- one test per structural rule
def expect_rule(valp: VALP, rule: str) -> None:
    with pytest.raises(StructureError) as info:
        valp.validate()
    assert info.value.rule == rule
    assert isinstance(info.value, ValueError)
    assert rule in rules_of(valp)
    assert not valp.is_valid()


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v.with_connection("n:0", "n:99"),  # unknown component
        lambda v: v.with_connection("n:1", "n:1"),  # self-loop
        lambda v: v.with_connection("n:0", "i:x"),  # into an input
        lambda v: v.with_connection("o:class", "n:2"),  # out of an output
        lambda v: v.with_network(Network("n:0", "mlp", (Layer(16, "swish"),))),  # activation
        lambda v: v.with_network(Network("n:0", "transformer", (Layer(16, "relu"),))),  # kind
        lambda v: v.with_network(Network("n:0", "mlp", (Layer(0, "relu"),))),  # size
        lambda v: v.with_network(Network("n:0", "mlp", ())),  # mlp without layers
        lambda v: v.with_networks([*v.networks, v.networks[0]]),  # duplicate id
        lambda v: v.with_hparams({"class": OutputHParams(1e-3, "lbfgs")}),  # optimizer
    ],
)
def test_rule_references(task, change):
    expect_rule(change(base(task)), "references")


def test_rule_outputs(task):
    v = base(task)
    expect_rule(replace(v, hparams={"class": OutputHParams()}, _cache={}), "outputs")
    other = make_task("two-classifiers", FAKE_DIGITS)
    with pytest.raises(StructureError) as info:
        v.check_task(other)
    assert info.value.rule == "outputs"
    v.check_task(task)


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v.with_connection("n:2", "o:class"),  # values into a classification output
        lambda v: v.with_connection("n:0", "o:hist"),  # features into a regression output
        lambda v: v.with_network(Network("n:1", "classifier", (), out_size=9)),  # wrong size
        lambda v: v.with_network(Network("n:3", "sampler", (), out_size=64, latent=4)),  # latent
    ],
)
def test_rule_dtype(task, change):
    expect_rule(change(base(task)), "dtype")


def test_rule_receives(task):
    v = base(task).without_connection("i:x", "n:3").with_connection("n:0", "n:3")
    assert v.is_valid()
    expect_rule(v.without_connection("n:0", "n:3"), "receives")


def test_rule_sends(task):
    v = base(task).with_network(Network("n:4", "mlp", (Layer(8, "relu"),)))
    expect_rule(v.with_connection("i:x", "n:4"), "sends")


def test_rule_acyclic(task):
    v = base(task).with_network(Network("n:4", "mlp", (Layer(8, "relu"),)))
    v = v.with_connection("n:0", "n:4").with_connection("n:4", "n:0")
    expect_rule(v, "acyclic")
    assert rules_of(v) == {"acyclic"}
    with pytest.raises(StructureError):
        v.topological_order()


def test_every_rule_is_tested():
    tested = {name[len("test_rule_") :] for name in globals() if name.startswith("test_rule_")}
    assert tested == set(RULES)


# --------------------------------------------------------------- random VALPs
@pytest.mark.parametrize("task_name", ["image-multitask", "classify", "two-classifiers"])
def test_random_valps_are_valid_and_sized_like_the_paper(task_name):
    t = make_task(task_name, FAKE_DIGITS)
    rng = np.random.default_rng(1)
    n_out = len(t.outputs)
    seen = set()
    for _ in range(200):
        v = random_valp(t, rng, max_layers=3, widths=(16, 32, 64))
        assert v.is_valid()
        assert n_out <= len(v.networks) <= 2 * n_out
        assert all(len(n.layers) <= 3 for n in v.networks)
        assert all(layer.width in (16, 32, 64) for n in v.networks for layer in n.layers)
        assert all(h == OutputHParams(1e-3, "adam") for _, h in v.hparams) and v.batch_size == 64
        seen.add(v.key)
    assert len(seen) > 100  # they differ


def test_random_valp_is_deterministic_from_its_rng(task):
    a = random_valp(task, np.random.default_rng(7))
    b = random_valp(task, np.random.default_rng(7))
    assert a == b
    with pytest.raises(ValueError, match="max_layers"):
        random_valp(task, np.random.default_rng(0), max_layers=0)

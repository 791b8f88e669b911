"""Fast validity paths agree with the slow references they replace.

- ``passes_all_rules`` (one pass, no messages) against the rule-by-rule checks, on valid models
  and on models broken in every way a rule covers;
- each operator's ``known_validity`` / ``edit_size`` (read off the model) against building the
  edit and checking it rule by rule, for every target and every raw choice of many models;
- ``Operator.choices`` against the reference filter, on valid and invalid models.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nasgym.tasks import InputSpec, make_task
from nasgym.valp import VALP, Connection, Layer, OutputHParams, random_valp
from nasgym.valp._validation import find_violations, passes_all_rules, rule_by_rule
from nasgym.valp.descriptor import NETWORK_KINDS
from nasgym.valp.operators import make_operator, operator_names
from nasgym.valp.operators.base import widest_layer
from nasgym.valp.subgraphs import exclusive_subgraph

from .conftest import FAKE_DIGITS

TASKS = ("image-multitask", "two-classifiers", "classify")


def _tasks():
    return [make_task(name, FAKE_DIGITS) for name in TASKS]


def reference_valid(valp: VALP) -> bool:
    """The slow rule: every rule's own check finds nothing."""
    return rule_by_rule(valp) == []


def reference_edit(op, valp: VALP, target: str, choice, donor: VALP | None) -> VALP | None:
    """The edited descriptor when it is valid by the slow rule, else None."""
    try:
        edited = op.edit(valp, target, choice, donor)
    except ValueError:
        return None
    return edited if reference_valid(edited) else None


def grown_valps(task, rng: np.random.Generator, n: int) -> list[VALP]:
    """Random valid VALPs, each grown or shrunk by up to 10 random valid edits."""
    ops = [make_operator(name) for name in operator_names() if name != "crossover"]
    out = []
    for _ in range(n):
        valp = random_valp(
            task,
            rng,
            max_layers=int(rng.integers(1, 4)),
            min_layers=0,
            n_networks=int(rng.integers(len(task.outputs), 2 * len(task.outputs) + 1)),
        )
        for _ in range(int(rng.integers(0, 11))):
            op = ops[int(rng.integers(len(ops)))]
            targets = op.targets(valp)
            if not targets:
                continue
            target = targets[int(rng.integers(len(targets)))]
            options = op.choices(valp, target)
            valp = op.edit(valp, target, options[int(rng.integers(len(options)))])
            assert reference_valid(valp), (op.name, target)  # choices promised a valid edit
        out.append(valp)
    return out


@pytest.fixture(scope="module")
def valps() -> list[VALP]:
    rng = np.random.default_rng(2024)
    return [v for task in _tasks() for v in grown_valps(task, rng, 25)]


# ---------------------------------------------------------------------------- passes_all_rules
def _corrupt(valp: VALP, rng: np.random.Generator) -> VALP:
    """``valp`` with one random change that may break any rule (or none)."""
    pick = int(rng.integers(9))
    comps = [*valp.component_ids, "n:99", "q"]
    nets = list(valp.networks)
    if (not nets and pick in (2, 3, 4, 7)) or (not valp.task_outputs and pick in (5, 8)):
        pick = 0
    if pick == 0:  # any new connection: self-loops, into inputs, out of outputs, unknown ids
        a, b = (comps[int(i)] for i in rng.integers(len(comps), size=2))
        return valp.with_connections([*valp.connections, Connection(a, b)])
    if pick == 1 and valp.connections:  # drop one
        k = int(rng.integers(len(valp.connections)))
        return valp.with_connections(valp.connections[:k] + valp.connections[k + 1 :])
    if pick == 2:  # change one of a network's kind, head size or latent size
        k = int(rng.integers(len(nets)))
        field, values = [
            ("kind", [*NETWORK_KINDS, "transformer"]),
            ("out_size", [None, 0, 8, 10, 64, 8.0]),
            ("latent", [None, 0, 4, 8]),
        ][int(rng.integers(3))]
        nets[k] = replace(nets[k], **{field: values[int(rng.integers(len(values)))]})
        return valp.with_networks(nets)
    if pick == 3:  # change a network's layers
        k = int(rng.integers(len(nets)))
        layers = [Layer(16, "relu"), Layer(0, "relu"), Layer(8, "swish"), Layer(True, "tanh")]
        chosen = [layers[int(i)] for i in rng.integers(len(layers), size=int(rng.integers(3)))]
        nets[k] = nets[k].with_layers(chosen)
        return valp.with_networks(nets)
    if pick == 4:  # duplicate or badly named network
        k = int(rng.integers(len(nets)))
        extra = nets[k] if rng.random() < 0.5 else replace(nets[k], id="n:07")
        return valp.with_networks([*nets, extra])
    if pick == 5:  # hyperparameters
        name = valp.task_outputs[int(rng.integers(len(valp.task_outputs)))].name
        bad = [
            OutputHParams(0.0, "adam"),
            OutputHParams(float("nan"), "sgd"),
            OutputHParams(float("inf"), "sgd"),
            OutputHParams(1e-3, "lbfgs"),
        ][int(rng.integers(4))]
        hp = valp.hparams_dict
        if rng.random() < 0.3:
            hp.pop(name, None)
        else:
            hp[name if rng.random() < 0.7 else "other"] = bad
        return replace(valp, hparams=hp, _cache={})
    if pick == 6:  # batch size
        return valp.with_hparams(batch_size=[0, -8, True, 64.0, 32][int(rng.integers(5))])
    if pick == 8:  # the task's inputs/outputs: none, duplicated, or an input named as an output
        ins, outs = valp.task_inputs, valp.task_outputs
        ins, outs = [
            ((), outs),
            (ins, ()),
            (ins, (*outs, outs[0])),
            ((*ins, InputSpec(outs[0].name, 4)), outs),
        ][int(rng.integers(4))]
        return replace(valp, task_inputs=ins, task_outputs=outs, _cache={})
    # a network disappears without its connections
    k = int(rng.integers(len(nets)))
    return valp.with_networks(nets[:k] + nets[k + 1 :])


def test_fast_pass_agrees_with_the_rule_by_rule_checks(valps):
    rng = np.random.default_rng(7)
    broken_rules: set[str] = set()
    n_valid = 0
    for valp in valps:
        assert passes_all_rules(valp) and reference_valid(valp)
        for _ in range(12):
            bad = valp
            for _ in range(int(rng.integers(1, 4))):
                bad = _corrupt(bad, rng)
            slow = rule_by_rule(bad)
            assert passes_all_rules(bad) == (slow == []), slow
            fast = find_violations(bad)
            assert [(e.rule, e.message) for e in fast] == [(e.rule, e.message) for e in slow]
            broken_rules |= {e.rule for e in slow}
            n_valid += not slow
    # the corruptions reach every rule, and some of them leave the model valid
    assert broken_rules == {"references", "outputs", "dtype", "receives", "sends", "acyclic"}
    assert n_valid > 0


# ---------------------------------------------------------------------------- operators
def _donors(valps: list[VALP], valp: VALP) -> list[VALP]:
    same = [d for d in valps if d.task_outputs == valp.task_outputs and d != valp]
    return same[:3]


def test_known_validity_and_edit_size_agree_with_building_the_edit(valps):
    counts = {"fast": 0, "fast_invalid": 0, "sized": 0}
    for valp in valps:
        for name in operator_names():
            op = make_operator(name)
            donors = _donors(valps, valp) if op.needs_donor else [None]
            for donor in donors:
                for target in op.candidates(valp):
                    for choice in op.raw_choices(valp, target, donor):
                        edited = reference_edit(op, valp, target, choice, donor)
                        known = op.known_validity(valp, target, choice, donor)
                        if known is not None:
                            assert known == (edited is not None), (name, target, choice)
                            counts["fast"] += 1
                            counts["fast_invalid"] += not known
                        size = op.edit_size(valp, target, choice, donor)
                        if size is None or edited is None:
                            continue
                        counts["sized"] += 1
                        before = set(valp.networks)
                        changed = [n for n in edited.networks if n not in before]
                        assert (size.networks, size.connections, size.deepest, size.widest) == (
                            len(edited.networks),
                            len(edited.connections),
                            max((len(n.layers) for n in changed), default=0),
                            widest_layer(*changed),
                        ), (name, target, choice)
    assert counts["fast"] > 2000 and counts["fast_invalid"] > 50 and counts["sized"] > 1000


def _outcome(fn):
    """``fn()``, or the type of the exception it raises."""
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - compared, not hidden
        return type(err)


def test_choices_equal_the_reference_filter_on_valid_and_invalid_models(valps):
    rng = np.random.default_rng(3)
    models = list(valps[::3])
    models += [_corrupt(v, rng) for v in valps[::4]]  # often invalid: the slow path runs
    assert any(not reference_valid(v) for v in models)
    for valp in models:
        for name in operator_names():
            op = make_operator(name)
            if name == "change_lr":  # decides its choices itself (untouched by the fast paths)
                continue
            for donor in _donors(valps, valp) if op.needs_donor else [None]:
                for target in [*op.candidates(valp), "n:99", "model"]:

                    def reference(op=op, valp=valp, target=target, donor=donor):
                        if target not in op.candidates(valp):
                            return []
                        return [
                            c
                            for c in op.raw_choices(valp, target, donor)
                            if reference_edit(op, valp, target, c, donor) is not None
                        ]

                    expected = _outcome(reference)
                    got = _outcome(lambda: op.choices(valp, target, donor=donor))  # noqa: B023
                    assert got == expected, (name, target)


def test_crossover_without_donor_lists_outputs_with_an_exclusive_subgraph(valps):
    op = make_operator("crossover")
    for valp in valps[:20]:
        expected = [o for o in valp.output_ids if exclusive_subgraph(valp, o)]
        assert op.targets(valp) == expected


def test_cached_reachability_is_not_shared_with_callers(valps):
    valp = valps[0]
    out = valp.output_ids[0]
    first = valp.ancestors(out)
    first.add("junk")
    assert "junk" not in valp.ancestors(out)
    later = valp.descendants(valp.input_ids[0])
    later.clear()
    assert valp.descendants(valp.input_ids[0])


def test_a_subclass_that_changes_the_edit_gets_checked_edits(valps):
    from nasgym.valp.operators.connections import AddConnection

    class TwoWay(AddConnection):
        """Connects both ways: always a cycle, so never valid."""

        def edit(self, valp, target, choice, donor=None):  # noqa: ANN001, ANN201
            return super().edit(valp, target, choice).with_connection(target, str(choice))

    op, plain = TwoWay(), make_operator("add_connection")
    assert any(plain.targets(v) for v in valps[:5])
    for valp in valps[:5]:
        assert op.trusted_validity(valp, valp.network_ids[0], "i:x") is None
        assert op.targets(valp) == []

"""Supernet forwards, weight sharing, measured costs and the op-dropping rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasgym.spaces import get_space
from nasgym.supernet import (
    Supernet,
    build_cost_table,
    default_keep,
    drop_ops,
    init_weights,
    reduction_layers,
    sgd,
    train_batch,
)
from nasgym.supernet.stages import StageSchedule


@pytest.fixture(scope="module")
def tnd():
    return get_space("tnd")


def _net(space, seed=0, **kw):
    model = Supernet(space, channels=4, n_cells=3, **kw)
    init_weights(model, torch.Generator().manual_seed(seed))
    return model


def test_single_path_equals_mixed_forward_with_one_hot_weights(tnd):
    model = _net(tnd).eval()
    arch = tnd.sample(np.random.default_rng(1))
    weights = []
    for d, op in enumerate(arch.ops):
        w = torch.zeros(len(model.allowed[d]))
        w[model.allowed[d].index(op)] = 1.0
        weights.append(w)
    x = torch.rand(8, 1, 8, 8)
    with torch.no_grad():
        single, mixed = model(x, arch.ops), model.forward_mixed(x, weights)
    assert single.shape == (8, 10)
    torch.testing.assert_close(single, mixed, rtol=1e-5, atol=1e-6)


def test_weights_come_from_the_generator_not_the_global_rng(tnd):
    a = _net(tnd, 3)
    torch.rand(1000)  # move the global RNG: the weights must not depend on it
    b, c = _net(tnd, 3), _net(tnd, 4)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_training_a_path_updates_only_its_ops(tnd):
    model = _net(tnd)
    arch = tnd.from_indices([2] * 14 + [1] * 14)  # sep_conv_3x3 normal, skip_connect reduce
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = sgd(model, 0.1)
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))
    for _ in range(2):
        train_batch(lambda inp: model(inp, arch.ops), list(model.parameters()), opt, x, y)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert any(".sep_conv_3x3." in n for n in changed)
    assert not any(".sep_conv_5x5." in n or ".conv_3x3." in n for n in changed)
    assert "classifier.weight" in changed


def test_cost_table_matches_the_derived_network(tnd):
    model = _net(tnd)
    table = build_cost_table(model, (8, 8), 1)
    arch = tnd.sample(np.random.default_rng(2))
    params, macs = table.path_cost(arch.ops, tnd.cell_types)
    alone = Supernet(tnd, [(op,) for op in arch.ops], channels=4, n_cells=3)
    assert params == sum(p.numel() for p in alone.parameters())
    _, macs_alone = build_cost_table(alone, (8, 8), 1).path_cost(arch.ops, tnd.cell_types)
    assert macs == macs_alone > 0
    # `none` everywhere costs only the shared part
    empty = tnd.from_indices([0] * 28)
    assert table.path_cost(empty.ops, tnd.cell_types) == (table.base_params, table.base_macs)


def test_darts_layout_and_bad_configurations_are_rejected(tnd):
    assert reduction_layers(3) == (1, 2) and reduction_layers(8) == (2, 5)
    with pytest.raises(ValueError, match="n_cells"):
        reduction_layers(2)
    with pytest.raises(ValueError, match="NAS-Bench-201 space is not supported.*NB201-v0"):
        Supernet(get_space("nb201"))
    with pytest.raises(ValueError, match="channels"):
        Supernet(tnd, channels=5)


def test_default_keep_follows_the_tnd_schedule(tnd):
    assert default_keep(tnd, 3) == {"normal": (10, 6, 4), "reduce": (6, 4, 3)}
    assert default_keep(get_space("darts"), 3) == {"normal": (8, 5, 4), "reduce": (8, 5, 4)}
    with pytest.raises(ValueError, match="start at all 10"):
        StageSchedule.build(tnd, (3, 4), 5, {"normal": (6, 4), "reduce": (6, 4)})
    with pytest.raises(ValueError, match="not increase"):
        StageSchedule.build(tnd, (3, 4), 5, {"normal": (10, 6), "reduce": (6, 6 + 1)})
    with pytest.raises(ValueError, match="deepens"):
        StageSchedule.build(tnd, (5, 4), 5, None)
    with pytest.raises(ValueError, match="deepens"):  # every stage is deeper than the last
        StageSchedule.build(tnd, (3, 4, 4), 5, None)
    assert StageSchedule.build(tnd, (3, 4, 6), 5, None).cells == (3, 4, 6)


def test_drop_ops_keeps_the_most_chosen_then_best_rewarded():
    allowed = np.array([True, True, True, False, True])
    counts = np.array([3, 1, 1, 0, 0])
    sums = np.array([1.5, 0.2, 0.9, 0.0, 0.0])
    assert drop_ops(allowed, counts, sums, 2).tolist() == [True, False, True, False, False]
    # never-chosen ops rank last; ties on everything keep the earlier op
    assert drop_ops(allowed, np.zeros(5, int), np.zeros(5), 1).tolist() == [
        True,
        False,
        False,
        False,
        False,
    ]
    # dropped ops stay dropped and at least one op is always kept
    kept = drop_ops(allowed, np.array([0, 0, 0, 9, 0]), np.zeros(5), 0)
    assert kept.sum() == 1 and not kept[3]


def test_fair_paths_train_every_op_of_a_decision_equally() -> None:
    """FairNAS's strict fairness: after k cycles of a decision every one of its ops was on
    exactly k paths, in a random order per cycle; the same generator seed gives the same paths."""
    from collections import Counter

    import numpy as np

    from nasgym.supernet import fair_paths

    allowed = [("a", "b", "c"), ("x", "y"), ("only",)]
    paths = fair_paths(allowed, np.random.default_rng(0), 12)
    assert len(paths) == 12 and all(len(p) == 3 for p in paths)
    for d, names in enumerate(allowed):
        column = [p[d] for p in paths]
        for start in range(0, 12, len(names)):
            assert sorted(column[start : start + len(names)]) == sorted(names)
        assert Counter(column) == dict.fromkeys(names, 12 // len(names))
    orders = {tuple(p[0] for p in paths[i : i + 3]) for i in range(0, 12, 3)}
    assert len(orders) > 1  # the cycles are shuffled, not one fixed order
    assert fair_paths(allowed, np.random.default_rng(0), 12) == paths
    # the first paths do not depend on how many are drawn (a budget curve's early checkpoints
    # see the supernet a shorter run would have trained)
    assert fair_paths(allowed, np.random.default_rng(0), 7) == paths[:7]

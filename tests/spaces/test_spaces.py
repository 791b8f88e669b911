"""Cell search spaces: registry, op orders, string round trips, validity, user registration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nasgym.spaces import SEARCH_SPACES, Arch, CellSpace, get_space, list_spaces, register_space


def test_builtin_spaces_registered_and_fresh_instances():
    assert {"nb201", "darts", "tnd"} <= set(list_spaces())
    assert get_space("nb201") is not get_space("nb201")
    assert all(isinstance(SEARCH_SPACES.get(n), type) for n in list_spaces())
    with pytest.raises(KeyError, match="nb201"):
        get_space("nb210")


def test_nb201_layout():
    s = get_space("nb201")
    assert s.ops() == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert s.n_nodes == 4 and s.edges == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    assert s.cell_types == ("normal",) and s.nvec.tolist() == [5] * 6
    assert s.decisions == tuple(("normal", e) for e in range(6))


def test_nb201_every_cell_valid_and_round_trips():
    s = get_space("nb201")
    seen = set()
    for idx in itertools.product(range(5), repeat=6):
        arch = s.from_indices(idx)
        text = arch.to_str()
        assert s.is_valid(arch)
        assert s.from_str(text) == arch
        assert s.to_indices(arch).tolist() == list(idx)
        seen.add(arch)
    assert len(seen) == 5**6


def test_nb201_string_format():
    s = get_space("nb201")
    text = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    arch = s.from_str(text)
    assert arch.to_str() == text and str(arch) == text
    assert arch.ops == (
        "nor_conv_3x3",
        "nor_conv_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "nor_conv_3x3",
        "skip_connect",
    )
    assert arch.key == "nb201:" + text
    for bad in (
        "|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        "|conv_9x9~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|",
        "|nor_conv_3x3~0|nor_conv_3x3~0|+|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    ):
        with pytest.raises(ValueError):
            s.from_str(bad)


@pytest.mark.parametrize("name", ["darts", "tnd"])
def test_darts_like_layout_and_round_trip(name):
    s = get_space(name)
    assert s.cell_types == ("normal", "reduce") and s.n_nodes == 6 and len(s.edges) == 14
    assert len(s.decisions) == 28 and s.decisions[14] == ("reduce", 0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        arch = s.sample(rng)
        assert s.is_valid(arch)
        assert s.from_str(arch.to_str()) == arch
        assert s.from_indices(s.to_indices(arch)) == arch
    assert hash(arch) == hash(s.from_str(arch.to_str()))


def test_op_sets():
    darts = get_space("darts")
    assert darts.ops("normal") == darts.ops("reduce") == (
        "none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
        "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
    )  # fmt: skip
    tnd = get_space("tnd")
    assert tnd.ops("normal") == (
        "none", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7",
        "dil_conv_3x3", "dil_conv_5x5", "conv_3x3", "conv_1x1", "conv_3x1_1x3",
    )  # fmt: skip
    assert tnd.ops("reduce") == (
        "none", "skip_connect", "avg_pool_3x3", "max_pool_3x3", "max_pool_5x5", "max_pool_7x7",
    )  # fmt: skip
    assert tnd.nvec.tolist() == [10] * 14 + [6] * 14
    with pytest.raises(KeyError, match="cell type"):
        tnd.ops("upsample")


def test_darts_validity_rule_every_node_needs_an_input():
    s = get_space("tnd")
    idx = np.ones(28, dtype=int)  # all skip_connect: valid
    assert s.is_valid(s.from_indices(idx))
    # node 3 of the reduction cell gets edges 2, 3, 4 of that cell (sources 0, 1, 2)
    idx[14 + 2 : 14 + 5] = 0
    arch = s.from_indices(idx)
    assert not s.is_valid(arch)
    assert s.from_str(arch.to_str()) == arch  # invalid cells still have a string
    # other ways to be invalid
    assert not s.is_valid(Arch("tnd", ("none",) * 3))
    assert not s.is_valid(Arch("darts", arch.ops))
    assert not s.is_valid("not an arch")


def test_bad_indices_raise_value_error():
    s = get_space("darts")
    with pytest.raises(ValueError, match="28"):
        s.from_indices([0] * 27)
    with pytest.raises(ValueError, match="out of range"):
        s.from_indices([8] + [0] * 27)
    with pytest.raises(ValueError, match="tnd"):
        s.to_indices(get_space("tnd").sample(np.random.default_rng(0)))


def test_user_registered_space_from_docstring_example():
    try:

        @register_space("tiny-test")
        class TinySpace(CellSpace):
            """Two nodes after the input, three edges, three ops."""

            cell_types = ("normal",)
            n_nodes = 3
            edges = ((0, 1), (0, 2), (1, 2))
            OPS = {"normal": ("none", "skip_connect", "conv_3x3")}

            def _valid_ops(self, ops):
                return ops[2] != "none"

        space = get_space("tiny-test")
        assert "tiny-test" in list_spaces() and space.nvec.tolist() == [3, 3, 3]
        rng = np.random.default_rng(0)
        archs = {space.sample(rng) for _ in range(100)}
        assert all(a.ops[2] != "none" for a in archs) and len(archs) == 18
        arch = next(iter(archs))
        assert space.from_str(arch.to_str()) == arch and arch.to_str().startswith("normal:|")
        with pytest.raises(ValueError, match="already registered"):
            register_space("tiny-test", type("Other", (CellSpace,), {}))
    finally:
        SEARCH_SPACES.unregister("tiny-test")

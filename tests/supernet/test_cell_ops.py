"""The torch op table: every op of every cell space, with DARTS' shapes and semantics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nasgym.spaces import get_space, list_spaces
from nasgym.spaces.ops import OPS, make_op

ALL_OPS = sorted(
    {
        op
        for name in ("tnd", "darts", "nb201")
        for ct in get_space(name).cell_types
        for op in get_space(name).ops(ct)
    }
)


def test_every_space_op_has_a_constructor():
    for name in list_spaces():
        space = get_space(name)
        for ct in space.cell_types:
            missing = [op for op in space.ops(ct) if op not in OPS]
            assert not missing, f"space {name!r} cell {ct!r}: ops without constructor {missing}"


@pytest.mark.parametrize("op", ALL_OPS)
@pytest.mark.parametrize("size", [8, 7])
def test_ops_keep_channels_and_halve_at_stride_2(op, size):
    x = torch.randn(2, 6, size, size)
    for stride, expected in ((1, size), (2, (size + 1) // 2)):
        out = make_op(op, 6, stride, affine=True)(x)
        assert out.shape == (2, 6, expected, expected), (op, stride, out.shape)


def test_none_is_zero_and_skip_is_identity():
    x = torch.randn(2, 4, 6, 6)
    assert torch.equal(make_op("none", 4)(x), torch.zeros_like(x))
    assert torch.equal(make_op("skip_connect", 4)(x), x)
    assert make_op("none", 4, 2)(x).abs().sum() == 0
    # at stride 2 skip_connect is a learned FactorizedReduce (two 1x1 convs), not a pool
    assert (
        sum(p.numel() for p in make_op("skip_connect", 4, 2, affine=False).parameters())
        == 2 * 4 * 2
    )


def test_sep_conv_is_two_stacked_separable_blocks():
    c, k = 4, 5
    n = sum(p.numel() for p in make_op(f"sep_conv_{k}x{k}", c, 1, affine=False).parameters())
    assert n == 2 * (c * k * k + c * c)
    n_dil = sum(p.numel() for p in make_op("dil_conv_3x3", c, 1, affine=False).parameters())
    assert n_dil == c * 9 + c * c
    n_fact = sum(p.numel() for p in make_op("conv_3x1_1x3", c, 1, affine=False).parameters())
    assert n_fact == 2 * c * c * 3


def test_bad_op_input_is_rejected_with_a_clear_error():
    with pytest.raises(KeyError, match="sep_conv_3x3"):
        make_op("sep_conv3x3", 4)
    with pytest.raises(ValueError, match="stride"):
        make_op("conv_3x3", 4, stride=3)


def test_importing_the_spaces_does_not_import_torch():
    code = "import sys, nasgym.spaces; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert (
        subprocess.run(
            [sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2]
        ).returncode
        == 0
    )

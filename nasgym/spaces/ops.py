"""The torch op table of the cell search spaces: op name -> constructor ``(C, stride, affine)``.

Every op of the ``darts``, ``tnd`` and ``nb201`` spaces is built from this one table, keyed by
the names in the spaces' op tuples. Each op maps ``C`` channels to ``C`` channels; with
``stride=2`` it halves the spatial size (odd sizes round up). The definitions follow DARTS
(Liu et al., 2019) and NAS-Bench-201 (Dong & Yang, 2020):

- ``none``: :class:`Zero` (zeros of the output shape).
- ``skip_connect``: identity at stride 1, :class:`FactorizedReduce` at stride 2.
- ``avg_pool_3x3`` (padding excluded from the mean), ``max_pool_{3,5,7}x{3,5,7}``: plain pools
  (the search supernet appends a BatchNorm without affine, as DARTS' MixedOp does).
- ``sep_conv_{3,5,7}x{3,5,7}``: two stacked ReLU - depthwise conv - pointwise conv - BN blocks
  (:class:`SepConv`), the stride in the first.
- ``dil_conv_3x3`` / ``dil_conv_5x5``: ReLU - depthwise conv with dilation 2 - pointwise - BN.
- ``conv_3x3``, ``conv_1x1``, ``nor_conv_3x3``, ``nor_conv_1x1``: ReLU - conv - BN.
- ``conv_3x1_1x3``: ReLU - 1x3 conv - 3x1 conv - BN (factorised 3x3; DARTS' conv_7x1_1x7 shape).

Register your own with ``OPS.register("name", lambda C, stride, affine: module)``.

This module imports torch; :mod:`nasgym.spaces` itself never does.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nasgym.registry import Registry

#: an op constructor: ``(C, stride, affine) -> nn.Module`` mapping C channels to C channels
OpFactory = Callable[[int, int, bool], nn.Module]

OPS: Registry[OpFactory] = Registry("op")


class Zero(nn.Module):
    """The ``none`` op: zeros of the output shape (spatially subsampled at stride 2)."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class ReLUConvBN(nn.Sequential):
    """ReLU - conv (k x k, or rectangular) - BatchNorm."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int | tuple[int, int],
        stride: int,
        padding: int | tuple[int, int],
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU - depthwise conv (dilated) - pointwise conv - BatchNorm."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        padding: int,
        dilation: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                c_in,
                c_in,
                kernel,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=c_in,
                bias=False,
            ),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked depthwise-separable blocks (DARTS' sep_conv); the stride is in the first."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True
    ) -> None:
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the spatial size with two offset stride-2 1x1 convs, concatenated (then BN)."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        a = self.conv_1(x)
        # the second path sees the input shifted by one pixel; pad odd sizes back to a's shape
        b = self.conv_2(nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1)))
        return self.bn(torch.cat([a, b[:, :, : a.shape[2], : a.shape[3]]], dim=1))


class FactorizedConv(nn.Sequential):
    """ReLU - 1xk conv - kx1 conv - BatchNorm (a factorised k x k conv)."""

    def __init__(self, c: int, kernel: int, stride: int, affine: bool = True) -> None:
        pad = kernel // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, (1, kernel), stride=(1, stride), padding=(0, pad), bias=False),
            nn.Conv2d(c, c, (kernel, 1), stride=(stride, 1), padding=(pad, 0), bias=False),
            nn.BatchNorm2d(c, affine=affine),
        )


def _skip(c: int, stride: int, affine: bool) -> nn.Module:
    return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine)


def _register_builtins() -> None:
    reg = OPS.register
    reg("none", lambda c, stride, affine: Zero(stride))
    reg("skip_connect", _skip)
    reg(
        "avg_pool_3x3",
        lambda c, stride, affine: nn.AvgPool2d(
            3, stride=stride, padding=1, count_include_pad=False
        ),
    )
    for k in (3, 5, 7):
        reg(
            f"max_pool_{k}x{k}",
            lambda c, stride, affine, k=k: nn.MaxPool2d(k, stride=stride, padding=k // 2),
        )
        reg(
            f"sep_conv_{k}x{k}",
            lambda c, stride, affine, k=k: SepConv(c, c, k, stride, k // 2, affine),
        )
    reg("dil_conv_3x3", lambda c, stride, affine: DilConv(c, c, 3, stride, 2, 2, affine))
    reg("dil_conv_5x5", lambda c, stride, affine: DilConv(c, c, 5, stride, 4, 2, affine))
    for prefix in ("conv", "nor_conv"):
        reg(f"{prefix}_3x3", lambda c, stride, affine: ReLUConvBN(c, c, 3, stride, 1, affine))
        reg(f"{prefix}_1x1", lambda c, stride, affine: ReLUConvBN(c, c, 1, stride, 0, affine))
    reg("conv_3x1_1x3", lambda c, stride, affine: FactorizedConv(c, 3, stride, affine))


_register_builtins()


def make_op(name: str, channels: int, stride: int = 1, affine: bool = True) -> nn.Module:
    """Build op ``name`` for ``channels`` channels at ``stride`` (1 or 2)."""
    if stride not in (1, 2):
        raise ValueError(f"op stride must be 1 or 2, got {stride!r}")
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"op channels must be a positive int, got {channels!r}")
    return OPS.get(name)(channels, stride, affine)


def is_pool(name: str) -> bool:
    """Whether op ``name`` is a parameter-free pooling op (DARTS follows those by a BN in search)."""
    return "pool" in name


__all__ = [
    "OPS",
    "DilConv",
    "FactorizedConv",
    "FactorizedReduce",
    "OpFactory",
    "ReLUConvBN",
    "SepConv",
    "Zero",
    "is_pool",
    "make_op",
]

"""Module and input interventions on constructed models."""

from __future__ import annotations

import pytest
import torch

from nasgym.diagnostics import input_intervention, module_intervention


def _two_network_model() -> tuple[dict[str, torch.nn.Linear], dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    nets = {"n:0": torch.nn.Linear(4, 1), "n:1": torch.nn.Linear(4, 1)}
    for net in nets.values():
        with torch.no_grad():
            net.weight.copy_(torch.randn(net.weight.shape, generator=g))
    x = torch.randn(256, 4, generator=g)
    with torch.no_grad():
        targets = {"y": nets["n:0"](x), "z": nets["n:0"](x) + nets["n:1"](x)}
    return nets, {"x": x, **targets}


def test_network_whose_output_is_ignored_has_relevance_one() -> None:
    nets, data = _two_network_model()
    noise = 0.1 * torch.randn(256, 1, generator=torch.Generator().manual_seed(1))

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        a, b = nets["n:0"](data["x"]), nets["n:1"](data["x"])
        # output y reads only n:0; z reads both (small noise keeps the baseline loss > 0)
        return {
            "y": float(((a - data["y"] - noise) ** 2).mean()),
            "z": float(((a + b - data["z"] - noise) ** 2).mean()),
        }

    before = {k: v.detach().clone() for k, v in nets["n:1"].state_dict().items()}
    params = {nid: list(net.parameters()) for nid, net in nets.items()}
    relevance = module_intervention(evaluate, params, torch.Generator().manual_seed(2))
    assert relevance["n:1"]["y"] == pytest.approx(1.0, abs=1e-6)
    assert relevance["n:1"]["z"] > 1.2
    assert relevance["n:0"]["y"] > 1.2 and relevance["n:0"]["z"] > 1.2
    after = nets["n:1"].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "weights must be restored"


def test_weights_are_restored_when_evaluation_fails() -> None:
    net = torch.nn.Linear(3, 2)
    saved = net.weight.detach().clone()
    calls = []

    def evaluate() -> dict[str, float]:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("boom")
        return {"o": 1.0}

    with pytest.raises(RuntimeError):
        module_intervention(evaluate, {"n": [net.weight]}, torch.Generator().manual_seed(0))
    assert torch.equal(net.weight, saved)


@pytest.mark.parametrize("mode", ["permute", "noise"])
def test_permuting_an_irrelevant_input_changes_nothing(mode: str) -> None:
    g = torch.Generator().manual_seed(0)
    inputs = {"u": torch.randn(300, 3, generator=g), "v": torch.randn(300, 5, generator=g)}
    w = torch.tensor([[1.0], [-2.0], [0.5]])
    target = inputs["u"] @ w + 0.05 * torch.randn(300, 1, generator=g)

    def evaluate(x: dict[str, torch.Tensor]) -> dict[str, float]:
        pred = x["u"] @ w + 0.0 * x["v"].sum(1, keepdim=True)
        return {"o": float(((pred - target) ** 2).mean())}

    rel = input_intervention(evaluate, inputs, torch.Generator().manual_seed(1), mode=mode)
    assert rel["v"]["o"] == pytest.approx(1.0, abs=1e-6)
    assert rel["u"]["o"] > 10.0
    assert torch.equal(inputs["u"], inputs["u"].clone())  # inputs were not modified in place


def test_input_groups_perturb_only_their_columns() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 4, generator=g)
    target = x[:, :1] * 3.0

    def evaluate(inp: dict[str, torch.Tensor]) -> dict[str, float]:
        return {"o": float(((inp["x"][:, :1] * 3.0 - target) ** 2).mean()) + 1e-3}

    groups = {"used": ("x", [0]), "unused": ("x", [1, 2, 3])}
    rel = input_intervention(evaluate, {"x": x}, torch.Generator().manual_seed(1), groups=groups)
    assert rel["unused"]["o"] == pytest.approx(1.0)
    assert rel["used"]["o"] > 100.0


def test_input_intervention_rejects_bad_arguments() -> None:
    x = {"x": torch.zeros(10, 2)}
    with pytest.raises(ValueError, match="mode"):
        input_intervention(lambda i: {"o": 1.0}, x, torch.Generator(), mode="shuffle")
    with pytest.raises(ValueError, match="2-D"):
        input_intervention(lambda i: {"o": 1.0}, {"x": torch.zeros(10)}, torch.Generator())

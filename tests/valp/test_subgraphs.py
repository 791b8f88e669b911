"""Output and exclusive subgraphs on hand-built VALPs with known answers."""

from __future__ import annotations

import pytest

from nasgym.tasks import InputSpec, OutputSpec
from nasgym.valp.descriptor import VALP, Layer, Network, OutputHParams
from nasgym.valp.subgraphs import exclusive_subgraph, output_subgraph, outputs_reached

INPUTS = (InputSpec("x", 4), InputSpec("y", 3))
OUTPUTS = (OutputSpec("a", "classification", 3), OutputSpec("b", "regression", 2))
HP = {"a": OutputHParams(), "b": OutputHParams()}


def _valp(networks: list[Network], connections: list[tuple[str, str]]) -> VALP:
    return VALP(INPUTS, OUTPUTS, tuple(networks), tuple(connections), HP).validate()


def _mlp(i: int) -> Network:
    return Network(f"n:{i}", "mlp", (Layer(5, "relu"),))


def _head(i: int, kind: str, size: int) -> Network:
    return Network(f"n:{i}", kind, (Layer(5, "tanh"),), out_size=size)


@pytest.fixture
def shared_trunk() -> VALP:
    """x -> n0 (shared trunk) -> n1 (classifier) -> a; n0, y -> n2 (regressor) -> b;
    x -> n3 -> n1 (only a depends on n3)."""
    return _valp(
        [_mlp(0), _head(1, "classifier", 3), _head(2, "regressor", 2), _mlp(3)],
        [
            ("i:x", "n:0"),
            ("n:0", "n:1"),
            ("n:0", "n:2"),
            ("i:y", "n:2"),
            ("i:x", "n:3"),
            ("n:3", "n:1"),
            ("n:1", "o:a"),
            ("n:2", "o:b"),
        ],
    )


def test_output_subgraph_is_every_component_reaching_the_output(shared_trunk: VALP) -> None:
    assert output_subgraph(shared_trunk, "o:a") == {"o:a", "n:1", "n:0", "n:3", "i:x"}
    assert output_subgraph(shared_trunk, "o:b") == {"o:b", "n:2", "n:0", "i:x", "i:y"}


def test_exclusive_subgraph_drops_networks_shared_with_other_outputs(shared_trunk: VALP) -> None:
    assert exclusive_subgraph(shared_trunk, "o:a") == {"n:1", "n:3"}
    assert exclusive_subgraph(shared_trunk, "o:b") == {"n:2"}
    assert outputs_reached(shared_trunk, "n:0") == {"o:a", "o:b"}
    assert outputs_reached(shared_trunk, "n:3") == {"o:a"}


def test_exclusive_subgraph_is_empty_when_everything_is_shared() -> None:
    # n0 is a classifier feeding a and an mlp chain into b's regressor: a has no exclusive part
    valp = _valp(
        [_head(0, "classifier", 3), _mlp(1), _head(2, "regressor", 2)],
        [
            ("i:x", "n:0"),
            ("i:y", "n:1"),
            ("n:0", "o:a"),
            ("n:0", "n:1"),
            ("n:1", "n:2"),
            ("n:2", "o:b"),
        ],
    )
    assert exclusive_subgraph(valp, "o:a") == frozenset()
    assert exclusive_subgraph(valp, "o:b") == {"n:1", "n:2"}
    assert output_subgraph(valp, "o:a") == {"o:a", "n:0", "i:x"}


def test_exclusive_subgraph_holds_deep_chains() -> None:
    valp = _valp(
        [_mlp(0), _mlp(1), _mlp(2), _head(3, "classifier", 3), _head(4, "regressor", 2)],
        [
            ("i:x", "n:0"),
            ("n:0", "n:1"),
            ("n:1", "n:2"),
            ("n:2", "n:3"),
            ("n:3", "o:a"),
            ("i:y", "n:4"),
            ("n:4", "o:b"),
        ],
    )
    assert exclusive_subgraph(valp, "o:a") == {"n:0", "n:1", "n:2", "n:3"}
    assert exclusive_subgraph(valp, "o:b") == {"n:4"}


def test_unknown_output_is_a_clear_error(shared_trunk: VALP) -> None:
    with pytest.raises(ValueError, match="o:nope"):
        exclusive_subgraph(shared_trunk, "o:nope")
    with pytest.raises(ValueError, match="n:0"):
        output_subgraph(shared_trunk, "n:0")

"""Output subgraphs and exclusive subgraphs of a VALP (Garciarena et al., section III).

- The *output subgraph* of a model output ``o`` is every component from which ``o`` is
  reachable (model inputs and networks), plus ``o`` itself.
- The *exclusive subgraph* of ``o`` is the set of networks of its output subgraph that lie in
  no other output's subgraph: the part of the model that only ``o`` depends on. It is closed
  under successors (every successor of an exclusive network is exclusive or is ``o``), which
  is what makes it a unit that crossover can swap between models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nasgym.valp.descriptor import VALP


def _check_output(valp: VALP, output_id: str) -> None:
    if output_id not in valp.output_ids:
        raise ValueError(
            f"{output_id!r} is not a model output of this VALP; outputs are {valp.output_ids}"
        )


def output_subgraph(valp: VALP, output_id: str) -> frozenset[str]:
    """Ids of the output subgraph of ``output_id``: ``output_id`` and every component reaching it."""
    _check_output(valp, output_id)
    return frozenset(valp.ancestors(output_id)) | {output_id}


def exclusive_subgraph(valp: VALP, output_id: str) -> frozenset[str]:
    """Network ids of ``output_id``'s output subgraph that are in no other output's subgraph."""
    _check_output(valp, output_id)
    mine = {c for c in valp._reach("pred", output_id) if c.startswith("n:")}
    for other in valp.output_ids:
        if other != output_id:
            mine -= valp._reach("pred", other)
    return frozenset(mine)


def outputs_reached(valp: VALP, component_id: str) -> frozenset[str]:
    """Output ids reachable from ``component_id`` (the outputs whose subgraph holds it)."""
    return frozenset(c for c in valp.descendants(component_id) if c.startswith("o:"))

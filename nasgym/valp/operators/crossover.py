"""``crossover``: replace the host's exclusive subgraph of an output by the donor's."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from nasgym.valp.descriptor import VALP, Connection, component_sort_key
from nasgym.valp.model import sanitize
from nasgym.valp.operators import register_operator
from nasgym.valp.operators._weights import copy_module, fresh_model, inherit_by_name
from nasgym.valp.operators.base import Operator
from nasgym.valp.subgraphs import exclusive_subgraph

if TYPE_CHECKING:
    from nasgym.valp.model import VALPModel


@dataclass(frozen=True)
class Donation:
    """A crossover's result: the new descriptor and where each donated network came from."""

    valp: VALP
    #: donor network id -> its id in the new model
    ids: dict[str, str]
    #: new network id -> {new source id -> donor source id} for the projections kept from the donor
    sources: dict[str, dict[str, str]]


def donate(host: VALP, donor: VALP, output: str) -> Donation:
    """The descriptor of ``host`` with its exclusive subgraph of ``output`` replaced by ``donor``'s.

    Donated networks get fresh ids (from ``host.next_network_id()`` on, in the donor's canonical
    order). A donated network keeps each donor source that is a model input, another donated
    network, or a host network outside the removed subgraph with the same id and emission size;
    a source that is none of these is replaced by connections from every model input. The
    result is not validated. Raises ``ValueError`` when the models' tasks differ or either
    exclusive subgraph is empty.
    """
    if (host.task_inputs, host.task_outputs) != (donor.task_inputs, donor.task_outputs):
        raise ValueError(
            "crossover needs host and donor of the same task (same inputs and outputs)"
        )
    mine, theirs = exclusive_subgraph(host, output), exclusive_subgraph(donor, output)
    if not mine or not theirs:
        who = "host" if not mine else "donor"
        raise ValueError(f"the {who}'s exclusive subgraph of {output!r} is empty: nothing to swap")
    first = component_sort_key(host.next_network_id())[1]
    ids = {d: f"n:{first + i}" for i, d in enumerate(sorted(theirs, key=component_sort_key))}
    nets, conns, sources = [], [], {}
    for d, new_id in ids.items():
        nets.append(replace(donor.network(d), id=new_id))
        kept: dict[str, str] = {}
        for s in donor.predecessors(d):
            if s in ids:
                kept[ids[s]] = s
            elif s.startswith("i:") or (
                host.has(s) and s not in mine and host.emit_size(s) == donor.emit_size(s)
            ):
                kept[s] = s
            else:
                kept.update({i: i for i in host.input_ids if i not in kept})
        conns += [Connection(s, new_id, donor.detached(v, d)) for s, v in kept.items()]
        if output in donor.successors(d):
            conns.append(Connection(new_id, output))
        sources[new_id] = {k: v for k, v in kept.items() if donor.has_connection(v, d)}
    kept_nets = [n for n in host.networks if n.id not in mine]
    kept_conns = [c for c in host.connections if c.src not in mine and c.dst not in mine]
    out = replace(host, networks=(*kept_nets, *nets), connections=(*kept_conns, *conns), _cache={})
    return Donation(out, ids, sources)


@register_operator("crossover")
class Crossover(Operator):
    """Swap in a donor's exclusive subgraph of an output, with its weights.

    Target: an output ``o`` for which host and donor both have a non-empty exclusive subgraph
    (the networks only ``o`` depends on, see :mod:`nasgym.valp.subgraphs`) and the result is
    valid. The host's exclusive networks of ``o`` are removed and the donor's are added under
    fresh ids (see :func:`donate`), keeping the donor's weights; projections from replaced
    sources are freshly initialised. Everything else, hyperparameters included, is the host's.
    Needs ``donor=``; without a donor, :meth:`targets` lists the outputs with a non-empty
    exclusive subgraph in the host (the exact mask needs the donor).
    """

    effect = "neutral"
    scope = "crossover"
    needs_donor = True

    def candidates(self, valp: VALP) -> list[str]:
        return valp.output_ids

    def choices(self, valp: VALP, target: str, *, donor: VALP | None = None) -> list[Any]:
        if target not in valp.output_ids:
            return []
        if donor is None:
            return [None] if exclusive_subgraph(valp, target) else []
        return super().choices(valp, target, donor=donor)

    def edit(self, valp: VALP, target: str, choice: Any, donor: VALP | None = None) -> VALP:
        if donor is None:
            raise ValueError("crossover needs a donor model: pass donor=<VALPModel>")
        return donate(valp, donor, target).valp

    def _apply(
        self,
        model: VALPModel,
        target: str,
        choice: Any,
        rng: np.random.Generator,
        variant: str | None,
        donor: VALPModel | None,
    ) -> VALPModel:
        assert donor is not None
        gift = donate(model.valp, donor.valp, target)
        new = fresh_model(gift.valp, rng, model)
        inherit_by_name(new, model, skip=set(gift.ids.values()))
        for d, new_id in gift.ids.items():
            key_map = {sanitize(k): sanitize(v) for k, v in gift.sources[new_id].items()}
            fresh = {sanitize(k) for k in gift.valp.predecessors(new_id)} - set(key_map)
            key_map.update({k: "\0fresh" for k in fresh})  # never matches a donor key
            copy_module(new.network_module(new_id), donor.network_module(d), key_map)
        return new

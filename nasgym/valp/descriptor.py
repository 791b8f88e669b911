"""The VALP descriptor: an immutable, hashable description of a multi-network model (pure Python).

A VALP is a DAG of model inputs (ids ``"i:<name>"``), sub-networks (``"n:<int>"``) and model
outputs (``"o:<name>"``). See ``docs/valp.md`` for the full design. Values are frozen dataclasses;
build changed copies with :meth:`VALP.with_networks`, :meth:`VALP.with_connections`,
:meth:`VALP.with_hparams` and friends, never by mutation.

Canonical form: networks are stored sorted by numeric id and connections sorted (inputs, then
networks by number, then outputs), so equal models have equal :meth:`VALP.to_json` and equal
:attr:`VALP.key` (sha256 of the canonical JSON).

Graph queries (ids, lookups, successors/predecessors, topological order, ancestors/descendants)
come from :class:`nasgym.valp._graph.GraphQueries`, which ``VALP`` inherits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from nasgym.tasks import DISCRETE, FEATURES, SAMPLES, VALUES, InputSpec, OutputSpec
from nasgym.valp._graph import GraphQueries, component_sort_key

__all__ = [
    "ACTIVATIONS",
    "NETWORK_KINDS",
    "OPTIMIZERS",
    "RULES",
    "VALP",
    "Connection",
    "Layer",
    "Network",
    "OutputHParams",
    "StructureError",
    "component_sort_key",
]

#: activation names, in a fixed order (the torch table in ``model.py`` is keyed by these)
ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "sigmoid", "elu", "identity")
#: network kind -> data type it emits
NETWORK_KINDS: dict[str, str] = {
    "mlp": FEATURES,
    "classifier": DISCRETE,
    "regressor": VALUES,
    "sampler": SAMPLES,
}
#: per-output optimizer names (the torch table in ``train.py`` is keyed by these)
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd", "rmsprop", "adagrad")
#: structural rules checked by :meth:`VALP.validate`, in the order they are checked
RULES: tuple[str, ...] = ("references", "outputs", "dtype", "receives", "sends", "acyclic")

FORMAT_VERSION = 1


class StructureError(ValueError):
    """A VALP breaks structural rule ``rule`` (one of :data:`RULES`)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"[{rule}] {message}")
        self.rule = rule
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (StructureError, (self.rule, self.message))


@dataclass(frozen=True)
class Layer:
    """One dense layer: ``width`` units followed by ``activation``."""

    width: int
    activation: str = "relu"


@dataclass(frozen=True)
class Network:
    """A sub-network. ``kind`` is ``mlp``, ``classifier``, ``regressor`` or ``sampler``.

    ``layers`` are the body (``mlp``: >= 1 layer, emits the last layer's activations), or the
    decoder of a ``sampler``. ``out_size`` is the head size (classifier/regressor/sampler),
    ``latent`` the code size of a sampler.
    """

    id: str
    kind: str
    layers: tuple[Layer, ...] = ()
    out_size: int | None = None
    latent: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))

    @property
    def number(self) -> int:
        """The integer part of the id (``"n:3"`` -> 3)."""
        return int(self.id.split(":", 1)[1])

    @property
    def dtype(self) -> str:
        """Data type of what the network emits."""
        return NETWORK_KINDS[self.kind]

    @property
    def emit_size(self) -> int:
        """Size of what the network emits."""
        if self.kind == "mlp":
            return self.layers[-1].width
        return int(self.out_size)  # type: ignore[arg-type]

    def with_layers(self, layers: Iterable[Layer]) -> Network:
        """A copy with ``layers`` replaced."""
        return replace(self, layers=tuple(layers))

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "id": self.id,
            "kind": self.kind,
            "layers": [[layer.width, layer.activation] for layer in self.layers],
            "out_size": self.out_size,
            "latent": self.latent,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Network:
        """Inverse of :meth:`to_dict`."""
        layers = tuple(Layer(int(w), str(a)) for w, a in d.get("layers", ()))
        return cls(d["id"], d["kind"], layers, d.get("out_size"), d.get("latent"))


@dataclass(frozen=True, order=True)
class Connection:
    """Data flows from component ``src`` to component ``dst``.

    ``detached``: the forward pass is the same, but no gradient flows back through the
    connection, so the losses of ``dst``'s outputs never train ``src`` (what a gentle
    ``add_connection`` adds when built with ``detach_gentle=True``). Only a connection into a
    network can be detached. JSON: ``[src, dst]``, or ``[src, dst, "detached"]``.
    """

    src: str
    dst: str
    detached: bool = False

    def to_list(self) -> list[str]:
        """The JSON form."""
        return [self.src, self.dst, "detached"] if self.detached else [self.src, self.dst]

    @classmethod
    def from_list(cls, item: Any) -> Connection:
        """Inverse of :meth:`to_list` (ValueError naming a malformed entry)."""
        if isinstance(item, list | tuple) and len(item) == 2:
            return cls(item[0], item[1])
        if isinstance(item, list | tuple) and len(item) == 3 and item[2] == "detached":
            return cls(item[0], item[1], True)
        raise ValueError(f'a connection is [src, dst] or [src, dst, "detached"], got {item!r}')

    def sort_key(self) -> tuple[tuple[int, int, str], tuple[int, int, str]]:
        """Canonical order of connections."""
        return (component_sort_key(self.src), component_sort_key(self.dst))


@dataclass(frozen=True)
class OutputHParams:
    """Training hyperparameters of one output: learning rate and optimizer name."""

    lr: float = 1e-3
    optimizer: str = "adam"


def _as_connection(c: Connection | tuple[str, str]) -> Connection:
    return c if isinstance(c, Connection) else Connection(*c)


def _as_hparams(h: OutputHParams | Mapping[str, Any]) -> OutputHParams:
    return h if isinstance(h, OutputHParams) else OutputHParams(**h)


@dataclass(frozen=True, eq=True)
class VALP(GraphQueries):
    """A whole VALP model description: task inputs/outputs, networks, connections, hyperparameters.

    ``hparams`` may be given as a mapping ``output name -> OutputHParams``; it is stored as a tuple
    of ``(name, OutputHParams)`` pairs sorted by name (use :meth:`hparam` / :attr:`hparams_dict`).
    """

    task_inputs: tuple[InputSpec, ...]
    task_outputs: tuple[OutputSpec, ...]
    networks: tuple[Network, ...]
    connections: tuple[Connection, ...]
    hparams: tuple[tuple[str, OutputHParams], ...] = ()
    batch_size: int = 64
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        nets = tuple(sorted(self.networks, key=lambda n: component_sort_key(n.id)))
        conns = tuple(
            sorted((_as_connection(c) for c in self.connections), key=Connection.sort_key)
        )
        hp = self.hparams
        items = hp.items() if isinstance(hp, Mapping) else hp
        hparams = tuple(sorted(((str(k), _as_hparams(v)) for k, v in items), key=lambda kv: kv[0]))
        object.__setattr__(self, "task_inputs", tuple(self.task_inputs))
        object.__setattr__(self, "task_outputs", tuple(self.task_outputs))
        object.__setattr__(self, "networks", nets)
        object.__setattr__(self, "connections", conns)
        object.__setattr__(self, "hparams", hparams)

    # ------------------------------------------------------------------ identity and JSON
    def __hash__(self) -> int:
        return hash(self.key)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (canonical: stable ordering)."""
        return {
            "format": FORMAT_VERSION,
            "inputs": [{"name": s.name, "size": s.size} for s in self.task_inputs],
            "outputs": [
                {
                    "name": s.name,
                    "kind": s.kind,
                    "size": s.size,
                    "weight": s.weight,
                    "latent": s.latent,
                }
                for s in self.task_outputs
            ],
            "networks": [n.to_dict() for n in self.networks],
            "connections": [c.to_list() for c in self.connections],
            "hparams": {k: {"lr": h.lr, "optimizer": h.optimizer} for k, h in self.hparams},
            "batch_size": self.batch_size,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VALP:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on a malformed dictionary."""
        try:
            if d.get("format", FORMAT_VERSION) != FORMAT_VERSION:
                raise ValueError(f"unsupported VALP format {d.get('format')!r}")
            return cls(
                tuple(InputSpec(s["name"], s["size"]) for s in d["inputs"]),
                tuple(
                    OutputSpec(
                        s["name"], s["kind"], s["size"], s.get("weight", 1.0), s.get("latent")
                    )
                    for s in d["outputs"]
                ),
                tuple(Network.from_dict(n) for n in d["networks"]),
                tuple(Connection.from_list(c) for c in d["connections"]),
                {k: OutputHParams(float(h["lr"]), h["optimizer"]) for k, h in d["hparams"].items()},
                d.get("batch_size", 64),
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"malformed VALP dictionary ({type(e).__name__}: {e})") from e

    def to_json(self) -> str:
        """Canonical JSON string (sorted keys, no spaces)."""
        if "json" not in self._cache:
            self._cache["json"] = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return self._cache["json"]

    @classmethod
    def from_json(cls, text: str) -> VALP:
        """Inverse of :meth:`to_json`."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"VALP JSON could not be parsed: {e}") from e
        if not isinstance(d, dict):
            raise ValueError(f"VALP JSON must be an object, got {type(d).__name__}")
        return cls.from_dict(d)

    @property
    def key(self) -> str:
        """sha256 hex digest of the canonical JSON: equal models have equal keys."""
        if "key" not in self._cache:
            self._cache["key"] = hashlib.sha256(self.to_json().encode()).hexdigest()
        return self._cache["key"]

    def __repr__(self) -> str:
        return (
            f"VALP(networks={len(self.networks)}, connections={len(self.connections)}, "
            f"outputs={[s.name for s in self.task_outputs]}, key={self.key[:10]})"
        )

    # ------------------------------------------------------------------ hyperparameters
    def hparam(self, output: str) -> OutputHParams:
        """Hyperparameters of output ``output`` (a name or an ``"o:"`` id)."""
        name = output[2:] if output.startswith("o:") else output
        for k, h in self.hparams:
            if k == name:
                return h
        raise KeyError(f"no hyperparameters for output {name!r}")

    @property
    def hparams_dict(self) -> dict[str, OutputHParams]:
        """``output name -> OutputHParams``."""
        return dict(self.hparams)

    # ------------------------------------------------------------------ builders (new VALPs)
    def with_networks(self, networks: Iterable[Network]) -> VALP:
        """A copy with the networks replaced by ``networks``."""
        return replace(self, networks=tuple(networks), _cache={})

    def with_connections(self, connections: Iterable[Connection | tuple[str, str]]) -> VALP:
        """A copy with the connections replaced by ``connections``."""
        return replace(self, connections=tuple(connections), _cache={})

    def with_hparams(
        self, hparams: Mapping[str, OutputHParams] | None = None, *, batch_size: int | None = None
    ) -> VALP:
        """A copy with some outputs' hyperparameters (and/or the batch size) replaced."""
        merged = self.hparams_dict
        merged.update(hparams or {})
        bs = self.batch_size if batch_size is None else batch_size
        return replace(self, hparams=merged, batch_size=bs, _cache={})

    def with_network(self, network: Network) -> VALP:
        """A copy with ``network`` added, or replacing the network with the same id."""
        others = [n for n in self.networks if n.id != network.id]
        return self.with_networks([*others, network])

    def without_network(self, net_id: str) -> VALP:
        """A copy without network ``net_id`` and without every connection touching it."""
        self.network(net_id)
        return replace(
            self,
            networks=tuple(n for n in self.networks if n.id != net_id),
            connections=tuple(c for c in self.connections if net_id not in (c.src, c.dst)),
            _cache={},
        )

    def with_connection(self, src: str, dst: str, detached: bool = False) -> VALP:
        """A copy with the connection ``src -> dst`` added (no-op if present)."""
        if self.has_connection(src, dst):
            return self
        return self.with_connections([*self.connections, Connection(src, dst, detached)])

    def detached(self, src: str, dst: str) -> bool:
        """Whether the connection ``src -> dst`` is detached (False when there is none)."""
        return any(c.detached and (c.src, c.dst) == (src, dst) for c in self.connections)

    def without_connection(self, src: str, dst: str) -> VALP:
        """A copy without the connection ``src -> dst``."""
        if not self.has_connection(src, dst):
            raise KeyError(f"no connection {src!r} -> {dst!r}")
        return self.with_connections(c for c in self.connections if (c.src, c.dst) != (src, dst))

    # ------------------------------------------------------------------ validation
    def violations(self) -> list[StructureError]:
        """Every broken structural rule (empty when the model is valid)."""
        from nasgym.valp._validation import find_violations

        return find_violations(self)

    def validate(self) -> VALP:
        """Return ``self`` when valid; raise the first :class:`StructureError` otherwise."""
        if self._cache.get("valid"):
            return self
        errors = self.violations()
        if errors:
            raise errors[0]
        self._cache["valid"] = True
        return self

    def is_valid(self) -> bool:
        """Whether :meth:`validate` would pass."""
        try:
            self.validate()
        except StructureError:
            return False
        return True

    def check_task(self, task: Any) -> None:
        """Raise :class:`StructureError` (``outputs``) unless the model's inputs and outputs are
        those of ``task`` (a :class:`~nasgym.tasks.Task`)."""
        if tuple(task.inputs) != self.task_inputs or tuple(task.outputs) != self.task_outputs:
            raise StructureError(
                "outputs",
                f"model inputs/outputs {[s.name for s in self.task_inputs]}/"
                f"{[s.name for s in self.task_outputs]} do not match task {task.name!r} "
                f"({[s.name for s in task.inputs]}/{[s.name for s in task.outputs]})",
            )

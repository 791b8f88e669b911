"""Random, structurally valid VALPs: the starting point of a search (as in the VALP paper)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasgym.tasks import Task
from nasgym.valp.descriptor import (
    ACTIVATIONS,
    OPTIMIZERS,
    VALP,
    Connection,
    Layer,
    Network,
    OutputHParams,
)

__all__ = ["HEAD_KINDS", "random_valp"]

#: output kind -> the network kind that can feed it
HEAD_KINDS: dict[str, str] = {
    "classification": "classifier",
    "regression": "regressor",
    "sampling": "sampler",
}


def _layers(
    rng: np.random.Generator, lo: int, hi: int, widths: Sequence[int], activations: Sequence[str]
) -> tuple[Layer, ...]:
    n = int(rng.integers(lo, hi + 1))
    return tuple(Layer(int(rng.choice(widths)), str(rng.choice(activations))) for _ in range(n))


def random_valp(
    task: Task,
    rng: np.random.Generator,
    *,
    max_layers: int = 3,
    min_layers: int = 1,
    widths: Sequence[int] = (16, 32, 64),
    activations: Sequence[str] = ACTIVATIONS,
    n_networks: int | None = None,
    lr: float = 1e-3,
    optimizer: str = "adam",
    batch_size: int = 64,
    random_hparams: bool = False,
) -> VALP:
    """A random valid VALP for ``task`` with ``n_outputs`` to ``2 * n_outputs`` networks.

    Every output gets one head network of its kind (classifier / regressor / sampler); the extra
    networks are ``mlp`` feature extractors or further heads. Each network reads from a random
    non-empty set of earlier components, so the graph is acyclic; dangling inputs/networks are
    then connected forward. Hyperparameters: ``lr``/``optimizer`` per output and ``batch_size``,
    or, with ``random_hparams``, a log-uniform lr in [1e-4, 1e-2] and a random optimizer.
    """
    n_out = len(task.outputs)
    if not 0 <= min_layers <= max_layers or max_layers < 1:
        raise ValueError(
            f"need 0 <= min_layers <= max_layers and max_layers >= 1, "
            f"got min_layers={min_layers}, max_layers={max_layers}"
        )
    if not widths or any(int(w) <= 0 for w in widths):
        raise ValueError(f"widths must be positive ints, got {widths!r}")
    bad = [a for a in activations if a not in ACTIVATIONS]
    if bad or not activations:
        raise ValueError(f"unknown activations {bad}; use some of {list(ACTIVATIONS)}")
    if n_networks is None:
        n_networks = int(rng.integers(n_out, 2 * n_out + 1))
    if n_networks < n_out:
        raise ValueError(f"n_networks={n_networks} is below the number of outputs ({n_out})")

    # (kind, output spec or None) per network: one head per output, then random extras
    plan: list[tuple[str, object]] = [(HEAD_KINDS[s.kind], s) for s in task.outputs]
    for _ in range(n_networks - n_out):
        if rng.random() < 0.5:
            plan.append(("mlp", None))
        else:
            s = task.outputs[int(rng.integers(n_out))]
            plan.append((HEAD_KINDS[s.kind], s))
    # feature extractors first (so each can feed a later network), then heads, each shuffled
    mlps = [p for p in plan if p[0] == "mlp"]
    heads = [p for p in plan if p[0] != "mlp"]
    order = [mlps[i] for i in rng.permutation(len(mlps))] + [
        heads[i] for i in rng.permutation(len(heads))
    ]

    networks: list[Network] = []
    conns: set[tuple[str, str]] = set()
    inputs = [f"i:{s.name}" for s in task.inputs]
    for k, (kind, spec) in enumerate(order):
        nid = f"n:{k}"
        if kind == "mlp":
            net = Network(
                nid, "mlp", _layers(rng, max(1, min_layers), max_layers, widths, activations)
            )
        else:
            net = Network(
                nid,
                kind,
                _layers(rng, min_layers, max_layers, widths, activations),
                out_size=spec.size,
                latent=getattr(spec, "latent", None),
            )
            conns.add((nid, f"o:{spec.name}"))
        # sources: inputs and earlier feature extractors (heads emit logits/values/pixels)
        pool = inputs + [n.id for n in networks if n.kind == "mlp"]
        n_src = int(rng.integers(1, min(len(pool), 2) + 1))
        for j in rng.choice(len(pool), size=n_src, replace=False):
            conns.add((pool[int(j)], nid))
        networks.append(net)

    # every input and feature extractor must send somewhere: connect it to a later network
    for cid in inputs + [n.id for n in networks]:
        if cid.startswith("n:") and networks[int(cid[2:])].kind != "mlp":
            continue
        if not any(src == cid for src, _ in conns):
            first = int(cid[2:]) + 1 if cid.startswith("n:") else 0
            later = [n.id for n in networks[first:]]
            conns.add((cid, later[int(rng.integers(len(later)))]))

    hparams = {}
    for s in task.outputs:
        if random_hparams:
            hparams[s.name] = OutputHParams(
                float(10 ** rng.uniform(-4, -2)), str(rng.choice(OPTIMIZERS))
            )
        else:
            hparams[s.name] = OutputHParams(float(lr), optimizer)
    valp = VALP(
        tuple(task.inputs),
        tuple(task.outputs),
        tuple(networks),
        tuple(Connection(a, b) for a, b in conns),
        hparams,
        batch_size,
    )
    return valp.validate()

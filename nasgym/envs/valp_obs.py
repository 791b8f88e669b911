"""Observation space and observation building of the VALP environment.

Every entry is a fixed-size float32 ``Box`` with finite bounds (values are clipped into them) or a
``MultiBinary``. ``N`` = ``max_networks`` (network slots, slot ``k`` = ``k``-th network of the
model in canonical id order; empty slots are zero), ``I`` inputs and ``O`` outputs in task order,
``C = I + N + O`` components (inputs, network slots, outputs), ``K`` network kinds
(``mlp, classifier, regressor, sampler``), ``P`` optimizers (``adam, sgd, rmsprop, adagrad``):

===================  ===========  ===============  =============================================
key                  shape        bounds           meaning
===================  ===========  ===============  =============================================
adjacency            (C, C)       MultiBinary      ``[src, dst] = 1`` for a connection
network_present      (N,)         MultiBinary      slot holds a network
network_kind         (N, K)       MultiBinary      kind one-hot
network_depth        (N,)         [0, max_layers]  number of hidden layers
network_width        (N,)         [0, 4096]        mean hidden-layer width (0 without layers)
network_reaches      (N, O)       MultiBinary      the network is in the output's subgraph
relevance            (N, O)       [0, 100]         module intervention (1 = no change)
dependency_error     (N, O)       [0, 1]           linear-probe error (1 where not reached)
dependency_gain      (N, O)       [-1, 1]          probe gain over the network's predecessors
input_relevance      (I, O)       [0, 100]         input intervention (1 = no change)
objectives           (O,)         [0, 1e6]         validation objectives (lower is better)
loss_slope           (O,)         [-1e6, 1e6]      slope of the recent training loss (per step)
loss_slope_relative  (O,)         [-1e3, 1e3]      that slope over the loss level (fraction/step)
loss_gain            (O,)         [-1, 1]          projected fraction of the excess loss lost
                                                   over the next env step (lineage trend)
loss_gain_t          (O,)         [-1e3, 1e3]      t-statistic of the log-loss slope over the
                                                   latest step's training (< -2: still falling)
rank                 (O,)         [0, 1]           fraction of evaluated models better (archive)
log_lr               (O,)         [-30, 5]         natural log of each output's learning rate
optimizer            (O, P)       MultiBinary      each output's optimizer, one-hot
log_batch_size       (1,)         [0, 20]          natural log of the batch size
budget               (1,)         [0, 1]           fraction of the step budget left
action_mask          (A,)         MultiBinary      the valid actions (see the env)
===================  ===========  ===============  =============================================

The (network, output) and (input, output) tables stay 2-D, so row ``k`` is network slot ``k``
(the rules agent reads them that way). Stable-Baselines3's ``check_env`` warns that 2-D ``Box``
entries are "unconventional"; its ``MultiInputPolicy`` flattens every non-image entry anyway
(``CombinedExtractor``), so they train as they are (``MaskablePPO`` is smoke-tested on them).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from gymnasium import spaces

from nasgym.diagnostics.diagnose import Diagnosis
from nasgym.valp.descriptor import NETWORK_KINDS, OPTIMIZERS, VALP

_KINDS = tuple(NETWORK_KINDS)
#: Box entries: key -> (low, high)
BOUNDS: dict[str, tuple[float, float]] = {
    "network_width": (0.0, 4096.0),
    "relevance": (0.0, 100.0),
    "dependency_error": (0.0, 1.0),
    "dependency_gain": (-1.0, 1.0),
    "input_relevance": (0.0, 100.0),
    "objectives": (0.0, 1e6),
    "loss_slope": (-1e6, 1e6),
    "loss_slope_relative": (-1e3, 1e3),
    "loss_gain": (-1.0, 1.0),
    "loss_gain_t": (-1e3, 1e3),
    "rank": (0.0, 1.0),
    "log_lr": (-30.0, 5.0),
    "log_batch_size": (0.0, 20.0),
    "budget": (0.0, 1.0),
}


class ObservationBuilder:
    """Builds the observation space and observations for one task and padding."""

    def __init__(
        self,
        valp_inputs: list[str],
        outputs: list[str],
        max_networks: int,
        max_layers: int,
        n_actions: int,
    ) -> None:
        self.inputs = list(valp_inputs)  # input ids "i:<name>"
        self.outputs = list(outputs)  # output names
        self.n, self.max_layers, self.n_actions = max_networks, max_layers, n_actions
        self.bounds = dict(BOUNDS, network_depth=(0.0, float(max_layers)))

    def space(self) -> spaces.Dict:
        """The observation space (see the module docstring)."""
        n, i, o = self.n, len(self.inputs), len(self.outputs)
        c = i + n + o
        shapes = {
            "network_depth": (n,),
            "network_width": (n,),
            "relevance": (n, o),
            "dependency_error": (n, o),
            "dependency_gain": (n, o),
            "input_relevance": (i, o),
            "objectives": (o,),
            "loss_slope": (o,),
            "loss_slope_relative": (o,),
            "loss_gain": (o,),
            "loss_gain_t": (o,),
            "rank": (o,),
            "log_lr": (o,),
            "log_batch_size": (1,),
            "budget": (1,),
        }
        entries: dict[str, spaces.Space] = {
            "adjacency": spaces.MultiBinary([c, c]),
            "network_present": spaces.MultiBinary(n),
            "network_kind": spaces.MultiBinary([n, len(_KINDS)]),
            "network_reaches": spaces.MultiBinary([n, o]),
            "optimizer": spaces.MultiBinary([o, len(OPTIMIZERS)]),
            "action_mask": spaces.MultiBinary(self.n_actions),
        }
        for key, shape in shapes.items():
            low, high = self.bounds[key]
            entries[key] = spaces.Box(low, high, shape=shape, dtype=np.float32)
        return spaces.Dict(dict(sorted(entries.items())))

    def _box(self, key: str, values: np.ndarray) -> np.ndarray:
        low, high = self.bounds[key]
        values = np.nan_to_num(
            np.asarray(values, dtype=np.float64), nan=high, posinf=high, neginf=low
        )
        return np.clip(values, low, high).astype(np.float32)

    def _structure(self, valp: VALP) -> dict[str, np.ndarray]:
        nets = valp.network_ids
        i = len(self.inputs)
        pos = {cid: k for k, cid in enumerate(self.inputs)}
        pos.update({nid: i + k for k, nid in enumerate(nets)})
        pos.update({f"o:{name}": i + self.n + j for j, name in enumerate(self.outputs)})
        c = len(self.inputs) + self.n + len(self.outputs)
        adjacency = np.zeros((c, c), dtype=np.int8)
        for conn in valp.connections:
            adjacency[pos[conn.src], pos[conn.dst]] = 1
        present = np.zeros(self.n, dtype=np.int8)
        kind = np.zeros((self.n, len(_KINDS)), dtype=np.int8)
        depth, width = np.zeros(self.n), np.zeros(self.n)
        reaches = np.zeros((self.n, len(self.outputs)), dtype=np.int8)
        for k, nid in enumerate(nets):
            net = valp.network(nid)
            present[k] = 1
            kind[k, _KINDS.index(net.kind)] = 1
            depth[k] = len(net.layers)
            width[k] = np.mean([layer.width for layer in net.layers]) if net.layers else 0.0
            below = valp.descendants(nid)
            reaches[k] = [f"o:{o}" in below for o in self.outputs]
        return {
            "adjacency": adjacency,
            "network_present": present,
            "network_kind": kind,
            "network_depth": self._box("network_depth", depth),
            "network_width": self._box("network_width", width),
            "network_reaches": reaches,
        }

    def build(
        self,
        valp: VALP,
        diagnosis: Diagnosis,
        objectives: Mapping[str, float],
        ranks: Mapping[str, float],
        budget: float,
        mask: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """The observation of ``valp`` with its diagnosis, objectives and archive ranks."""
        obs = self._structure(valp)
        n, o = self.n, len(self.outputs)
        rel, err, gain = np.ones((n, o)), np.ones((n, o)), np.zeros((n, o))
        for k, nid in enumerate(valp.network_ids):
            for j, name in enumerate(self.outputs):
                rel[k, j] = diagnosis.relevance.get(nid, {}).get(name, 1.0)
                err[k, j] = diagnosis.dependency_error.get((nid, name), 1.0)
                gain[k, j] = diagnosis.dependency_gain.get((nid, name), 0.0)
        rel[len(valp.network_ids) :] = 0.0
        inp = np.array(
            [
                [diagnosis.input_relevance.get(i, {}).get(name, 1.0) for name in self.outputs]
                for i in self.inputs
            ]
        )
        hp = [valp.hparam(name) for name in self.outputs]
        optimizer = np.zeros((o, len(OPTIMIZERS)), dtype=np.int8)
        for j, h in enumerate(hp):
            optimizer[j, OPTIMIZERS.index(h.optimizer)] = 1
        obs.update(
            relevance=self._box("relevance", rel),
            dependency_error=self._box("dependency_error", err),
            dependency_gain=self._box("dependency_gain", gain),
            input_relevance=self._box("input_relevance", inp.reshape(len(self.inputs), o)),
            objectives=self._box("objectives", [objectives[name] for name in self.outputs]),
            loss_slope=self._box(
                "loss_slope", [diagnosis.slopes.get(k, 0.0) for k in self.outputs]
            ),
            loss_slope_relative=self._box(
                "loss_slope_relative",
                [diagnosis.relative_slopes.get(k, 0.0) for k in self.outputs],
            ),
            loss_gain=self._box("loss_gain", [diagnosis.gains.get(k, 0.0) for k in self.outputs]),
            loss_gain_t=self._box(
                "loss_gain_t", [diagnosis.gain_t.get(k, 0.0) for k in self.outputs]
            ),
            rank=self._box("rank", [ranks.get(name, 0.0) for name in self.outputs]),
            log_lr=self._box("log_lr", np.log([h.lr for h in hp])),
            optimizer=optimizer,
            log_batch_size=self._box("log_batch_size", [np.log(valp.batch_size)]),
            budget=self._box("budget", [budget]),
            action_mask=np.asarray(mask, dtype=np.int8),
        )
        return dict(sorted(obs.items()))


__all__ = ["BOUNDS", "ObservationBuilder"]

"""The operator metamodel: predicts, per output, how much an operator variant applied to a network
beats training the unchanged model on the same batches, from the diagnostics of that network
and of the model (the first VALP paper's "next step", learned from ``nasgym characterize``).

One row per candidate move (operator variant, target network). Features, all unit-free or
structural so that a model trained on one data set acts on another:

- the variant, one-hot over the variants seen in training (``operator:variant``);
- the target network's kind (one-hot over :data:`~nasgym.valp.descriptor.NETWORK_KINDS`),
  depth and total width;
- per output ``o``: the target's module relevance, linear-probe dependency gain and error (NaN
  where the target does not reach ``o``), and the model's lineage trend before the step
  (``loss_gain``, its t-statistic ``loss_gain_t``, ``loss_slope_relative``); where the training
  records hold mid-episode states (``nasgym characterize --episode-steps K``), also ``regress``: the log of the
  output's objective over the lowest the held model had in the episode so far (0 unless a step
  made it worse; a broken sampler reads about log 2 or more). An agent computes it from the
  observations of its episode (:class:`agents.metamodel.MetamodelAgent`);
- the model's number of networks and connections.

Targets: ``improve.<o>`` = ``log(control objective / candidate objective)`` after the step,
clipped to ``[-IMPROVE_CLIP, IMPROVE_CLIP]`` (a diverged candidate counts as ``-IMPROVE_CLIP``).

:func:`record_features` reads them off ``nasgym characterize`` records, :func:`observation_features`
off a VALP env observation (the same numbers: both are clipped to the observation's bounds);
``tests/agents/test_metamodel.py`` checks that they agree on the same states.

:class:`Metamodel` wraps one scikit-learn ``HistGradientBoostingRegressor`` per output (native
missing-value support, fast on a few thousand rows) behind ``fit``/``predict``; with
``quantile=Q`` each predicts the Q-quantile of the improvement instead of its mean (an
optimistic metamodel, ``nasgym train metamodel --quantile``). It is saved
with skops (``.skops``: no code runs on load; only scikit-learn and numpy types are trusted)
plus a ``.json`` of metadata beside it; :meth:`Metamodel.load` refuses pickles.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nasgym.valp.descriptor import NETWORK_KINDS

_KINDS = tuple(NETWORK_KINDS)  # the observation's one-hot order

FORMAT = "nasgym-metamodel/1"
#: improvements (log ratios) are clipped to this magnitude before fitting
IMPROVE_CLIP = 2.0
#: the VALP observation's bounds of each per-output / per-network entry (see nasgym.envs.valp_obs)
_BOUNDS = {
    "relevance": (0.0, 100.0),
    "dependency_gain": (-1.0, 1.0),
    "dependency_error": (0.0, 1.0),
    "loss_gain": (-1.0, 1.0),
    "loss_gain_t": (-1e3, 1e3),
    "loss_slope_relative": (-1e3, 1e3),
    "regress": (0.0, 20.0),
}
_TARGET = ("relevance", "dependency_gain", "dependency_error")
_STATE = ("loss_gain", "loss_gain_t", "loss_slope_relative")
#: the optional state entry, fitted where the records carry its column (:func:`state_keys`)
REGRESS = "regress"
#: characterize record column of each state entry (``<column>.<output>``)
_RECORD_STATE = {
    "loss_gain": "gain_before",
    "loss_gain_t": "gain_t_before",
    "loss_slope_relative": "rel_slope_before",
    REGRESS: "regress_before",
}
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth")


def variant_name(operator: str, variant: str | None) -> str:
    """``operator:variant``, or ``operator`` for an operator without variants."""
    return f"{operator}:{variant}" if variant else operator


def state_keys(records: Any, outputs: Sequence[str]) -> tuple[str, ...]:
    """The per-output state entries a metamodel fitted on ``records`` reads: the lineage trend
    always; ``regress`` where the records hold mid-episode states (``episode_step`` > 0; for a
    freshly trained model it is 0) and every output's ``regress_before.<o>`` column is filled
    (records of an older nasgym mixed in leave it out)."""
    cols = [f"{_RECORD_STATE[REGRESS]}.{o}" for o in outputs]
    mid = "episode_step" in records and bool((records["episode_step"] > 0).any())
    has = mid and all(c in records and bool(records[c].notna().all()) for c in cols)
    return (*_STATE, REGRESS) if has else _STATE


def feature_names(
    variants: Sequence[str], outputs: Sequence[str], state: Sequence[str] = _STATE
) -> list[str]:
    """The column names of the feature matrix, in order (``state``: the per-output state
    entries, :func:`state_keys`)."""
    names = [f"variant={v}" for v in variants] + [f"kind={k}" for k in _KINDS]
    names += ["target.depth", "target.width"]
    names += [f"target.{key}.{o}" for o in outputs for key in _TARGET]
    names += [f"{key}.{o}" for o in outputs for key in state]
    return names + ["n_networks", "n_connections"]


def _box(key: str, values: Any) -> np.ndarray:
    """Values clipped into the observation's bounds; NaN becomes the upper bound, as there."""
    low, high = _BOUNDS[key]
    arr = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=high, posinf=high, neginf=low)
    return np.clip(arr, low, high)


def _rows(
    variants: Sequence[str],
    outputs: Sequence[str],
    variant: Sequence[str],
    kind: Sequence[str],
    depth: np.ndarray,
    width: np.ndarray,
    target: Mapping[tuple[str, str], np.ndarray],
    reaches: np.ndarray,
    state: Mapping[tuple[str, str], np.ndarray],
    n_networks: np.ndarray,
    n_connections: np.ndarray,
    keys: Sequence[str] = _STATE,
) -> np.ndarray:
    """Assemble the feature matrix (see :func:`feature_names`); ``reaches`` is (rows, outputs)."""
    n = len(variant)
    cols = [np.array([v == name for v in variant], dtype=float) for name in variants]
    cols += [np.array([k == name for k in kind], dtype=float) for name in _KINDS]
    cols += [np.asarray(depth, dtype=float), np.asarray(width, dtype=float)]
    for j, o in enumerate(outputs):
        for key in _TARGET:
            cols.append(np.where(reaches[:, j], _box(key, target[key, o]), np.nan))
    for o in outputs:
        cols += [np.broadcast_to(_box(key, state[key, o]), (n,)) for key in keys]
    cols += [np.asarray(n_networks, dtype=float), np.asarray(n_connections, dtype=float)]
    return np.column_stack(cols) if n else np.zeros((0, len(cols)))


def record_features(
    records: Any,
    variants: Sequence[str],
    outputs: Sequence[str],
    target: str = "improve",
    state: Sequence[str] = _STATE,
) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets of the network-target rows of ``nasgym characterize`` records (a
    pandas DataFrame): ``(X, Y)``, ``Y`` of shape (rows, outputs): the ``<target>.<o>`` columns,
    ``improve`` (after the step) or ``improve@h`` (h steps later, from a study with
    ``horizon`` >= h). Rows whose variant is not in ``variants`` or whose target is not a
    network are dropped. ``state``: the per-output state entries (:func:`state_keys`)."""
    lacking = [f"{target}.{o}" for o in outputs if f"{target}.{o}" not in records]
    if lacking:
        raise ValueError(
            f"the records have no {', '.join(lacking)} column(s): improve@h comes from "
            "`nasgym characterize --horizon H` with H >= h"
        )
    df = records[(records["target_type"] == "network") & records["variant_name"].isin(variants)]
    reaches = np.column_stack([df[f"target.relevance.{o}"].notna().to_numpy() for o in outputs])
    on_target = {(k, o): df[f"target.{k}.{o}"].to_numpy() for k in _TARGET for o in outputs}
    values = {(k, o): df[f"{_RECORD_STATE[k]}.{o}"].to_numpy() for k in state for o in outputs}
    x = _rows(
        variants,
        outputs,
        df["variant_name"].tolist(),
        df["target.kind"].tolist(),
        df["target.depth"].to_numpy(),
        df["target.width"].to_numpy(),
        on_target,
        reaches,
        values,
        df["n_networks"].to_numpy(),
        df["n_connections"].to_numpy(),
        state,
    )
    y = np.column_stack([df[f"{target}.{o}"].to_numpy(dtype=float) for o in outputs])
    y = np.clip(np.nan_to_num(y, nan=-IMPROVE_CLIP), -IMPROVE_CLIP, IMPROVE_CLIP)
    return x, y


def observation_features(
    observation: Mapping[str, np.ndarray],
    variants: Sequence[str],
    outputs: Sequence[str],
    moves: Sequence[tuple[str, int]],
    state: Sequence[str] = _STATE,
) -> np.ndarray:
    """Features of ``moves`` = ``[(variant name, network slot), ...]`` on a VALP observation
    (with ``regress`` in ``state``, the observation must carry ``"regress"``, per output, as the
    metamodel agent adds it)."""
    obs = {k: np.asarray(v) for k, v in observation.items()}
    slots = np.array([slot for _, slot in moves], dtype=int)
    kinds = obs["network_kind"][slots].argmax(axis=1) if len(slots) else slots
    reaches = obs["network_reaches"][slots].astype(bool)
    idx = {o: j for j, o in enumerate(outputs)}
    target = {(k, o): obs[k][slots, idx[o]] for k in _TARGET for o in outputs}
    values = {(k, o): obs[k][idx[o]] for k in state for o in outputs}
    depth = obs["network_depth"][slots].astype(float)
    return _rows(
        variants,
        outputs,
        [name for name, _ in moves],
        [_KINDS[int(k)] for k in kinds],
        depth,
        obs["network_width"][slots].astype(float) * depth,  # mean width x layers = total
        target,
        reaches,
        values,
        np.full(len(moves), float(obs["network_present"].sum())),
        np.full(len(moves), float(obs["adjacency"].sum())),
        state,
    )


class Metamodel:
    """Predicts each output's improvement over the control for candidate moves (module doc).

    ``fit(X, Y)`` then ``predict(X) -> (rows, outputs)``; ``X`` from :func:`record_features` or
    :func:`observation_features` with the same ``variants`` and ``outputs``.
    """

    def __init__(
        self,
        variants: Sequence[str],
        outputs: Sequence[str],
        *,
        max_iter: int = 50,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 40,
        loss: str = "squared_error",
        quantile: float | None = None,
        seed: int = 0,
        state: Sequence[str] = _STATE,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if not variants or not outputs:
            raise ValueError("a metamodel needs at least one variant and one output")
        if quantile is not None:
            if not 0.0 < float(quantile) < 1.0:
                raise ValueError(f"quantile must lie strictly between 0 and 1, got {quantile}")
            loss = "quantile"
        elif loss == "quantile":
            raise ValueError("loss='quantile' needs the quantile (e.g. quantile=0.9)")
        self.variants, self.outputs = list(variants), list(outputs)
        unknown = [k for k in state if k not in _RECORD_STATE]
        if unknown:
            raise ValueError(f"unknown state entries {unknown}; known: {list(_RECORD_STATE)}")
        #: the per-output state entries of its features (:func:`state_keys`)
        self.state = tuple(state)
        self.params = {
            "max_iter": int(max_iter),
            "learning_rate": float(learning_rate),
            "max_leaf_nodes": int(max_leaf_nodes),
            "min_samples_leaf": int(min_samples_leaf),
            "loss": str(loss),
            "quantile": None if quantile is None else float(quantile),
            "seed": int(seed),
        }
        self.meta: dict[str, Any] = dict(meta or {})
        self.models: list[Any] = []

    def _learner(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        p = self.params
        return HistGradientBoostingRegressor(
            max_iter=p["max_iter"],
            learning_rate=p["learning_rate"],
            max_leaf_nodes=p["max_leaf_nodes"],
            min_samples_leaf=p["min_samples_leaf"],
            loss=p["loss"],
            **({"quantile": p["quantile"]} if p["quantile"] is not None else {}),
            random_state=p["seed"],
        )

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        width = len(feature_names(self.variants, self.outputs, self.state))
        if x.ndim != 2 or x.shape[1] != width:
            raise ValueError(f"expected features of shape (rows, {width}), got {x.shape}")
        return x

    def fit(self, x: np.ndarray, y: np.ndarray) -> Metamodel:
        """Fit one regressor per output on features ``x`` and improvements ``y``."""
        x, y = self._check(x), np.asarray(y, dtype=float)
        if y.shape != (len(x), len(self.outputs)):
            raise ValueError(
                f"expected targets of shape ({len(x)}, {len(self.outputs)}), got {y.shape}"
            )
        if len(x) < 2 * self.params["min_samples_leaf"]:
            raise ValueError(f"too few rows to fit a metamodel: {len(x)}")
        # an all-missing column cannot be split on; scikit-learn's binning rejects it, so it
        # is fitted as a constant (no tree uses it, so prediction is unaffected)
        x = np.where(np.isnan(x).all(axis=0), 0.0, x)
        self.models = [self._learner().fit(x, y[:, j]) for j in range(len(self.outputs))]
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted improvement over the control, shape (rows, outputs): its mean, or its
        ``quantile`` where the metamodel was built with one."""
        if not self.models:
            raise RuntimeError("the metamodel is not fitted; call fit() or Metamodel.load()")
        x = self._check(x)
        if not len(x):
            return np.zeros((0, len(self.outputs)))
        return np.column_stack([m.predict(x) for m in self.models])

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.skops, the regressors) and ``path`` with ``.json`` (the metadata),
        each atomically."""
        import skops.io as sio

        if not self.models:
            raise RuntimeError("nothing to save: the metamodel is not fitted")
        target = Path(path).expanduser()
        if target.suffix != ".skops":
            target = target.with_name(target.name + ".skops")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        sio.dump(self.models, tmp)
        os.replace(tmp, target)
        record = {
            **self.meta,
            "format": FORMAT,
            "variants": self.variants,
            "outputs": self.outputs,
            "params": self.params,
            "state": list(self.state),
            "features": feature_names(self.variants, self.outputs, self.state),
        }
        meta = target.with_suffix(".json")
        mtmp = meta.with_name(meta.name + ".tmp")
        mtmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        os.replace(mtmp, meta)
        return target

    @classmethod
    def load(cls, path: str | Path) -> Metamodel:
        """Load a metamodel saved by :meth:`save`; no code is executed. Pickles, and skops files
        holding anything but scikit-learn / numpy types, are refused with a ValueError."""
        import skops.io as sio

        target = Path(path).expanduser()
        if not target.is_file():
            raise FileNotFoundError(f"no metamodel at {target}")
        with open(target, "rb") as fh:
            head = fh.read(2)
        if (
            target.suffix in _PICKLE_SUFFIXES
            or head[:1] == b"\x80"
            or not zipfile.is_zipfile(target)
        ):
            raise ValueError(
                f"{target}: refusing to load: not a skops file (a pickle can run arbitrary code "
                f"when loaded). Metamodels are saved as .skops + .json by Metamodel.save / "
                f"`nasgym train metamodel`."
            )
        meta_file = target.with_suffix(".json")
        if not meta_file.is_file():
            raise FileNotFoundError(f"{target}: its metadata {meta_file.name} is missing")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(
                f"{meta_file}: not nasgym metamodel metadata (format {meta.get('format')!r})"
            )
        untrusted = sio.get_untrusted_types(file=target)
        foreign = [t for t in untrusted if not t.startswith(("sklearn.", "numpy."))]
        if foreign:
            raise ValueError(
                f"{target}: refusing to load types other than scikit-learn's: {foreign}"
            )
        models = sio.load(target, trusted=untrusted)
        if not isinstance(models, list) or len(models) != len(meta["outputs"]):
            raise ValueError(
                f"{target}: expected {len(meta['outputs'])} regressors, got {type(models)}"
            )
        extra = {
            k: v
            for k, v in meta.items()
            if k not in ("format", "variants", "outputs", "params", "features", "state")
        }
        state = meta.get("state", list(_STATE))  # metamodels saved before ``state`` read _STATE
        model = cls(meta["variants"], meta["outputs"], **meta["params"], state=state, meta=extra)
        if meta.get("features") != feature_names(model.variants, model.outputs, model.state):
            raise ValueError(f"{meta_file}: its feature list does not match this version of nasgym")
        model.models = models
        return model


__all__ = [
    "FORMAT",
    "REGRESS",
    "IMPROVE_CLIP",
    "Metamodel",
    "feature_names",
    "observation_features",
    "record_features",
    "state_keys",
    "variant_name",
]

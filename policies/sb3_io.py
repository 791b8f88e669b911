"""Stable-Baselines3 algorithms by name, and saving/loading their models without unpickling.

What SB3's ``.zip`` holds: ``policy.pth`` / ``pytorch_variables.pth`` / optimizer state (torch
tensors, which SB3 loads with ``torch.load(weights_only=True)``: no code runs) and ``data``, a
JSON file of the constructor arguments and training state in which every value that is not
plain JSON (the spaces, the policy class, ``policy_kwargs`` holding a features-extractor
class, schedules, buffer classes) is a base64 *cloudpickle*, which ``Algorithm.load``
unpickles unless ``custom_objects`` replaces it. Unpickling runs arbitrary code, so
:func:`load_model` never does it by default: it replaces every pickled entry with an object
built here, from the env (spaces) and from the JSON metadata written beside the model by
:func:`save_model` (``MODEL.json``: algorithm, policy alias, extractor *registry name* and
JSON kwargs). A pickled entry it cannot rebuild is refused with an error naming it; pass
``trust=True`` only for a file you made or trust. Schedules come back as constants (their
value where the file states one): enough to act and to resume a constant-schedule training.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym

META_FORMAT = "nasgym-sb3/1"
#: keys of SB3's ``data`` that hold schedules (rebuilt as constants)
_SCHEDULE_KEYS = ("lr_schedule", "learning_rate", "clip_range", "clip_range_vf")
#: keys of SB3's ``data`` rebuilt as None: buffer classes (SB3's defaults then) and the
#: training state of the last rollout (a resumed ``learn`` resets the env)
_NONE_KEYS = (
    "rollout_buffer_class",
    "replay_buffer_class",
    "action_noise",
    "_last_obs",
    "_last_original_obs",
    "_last_episode_starts",
    "ep_info_buffer",
    "ep_success_buffer",
)


def algorithms() -> dict[str, type]:
    """Every SB3 and sb3-contrib algorithm class, by lower-case name (``"maskableppo"``)."""
    import sb3_contrib
    import stable_baselines3
    from stable_baselines3.common.base_class import BaseAlgorithm

    found: dict[str, type] = {}
    for module in (stable_baselines3, sb3_contrib):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, BaseAlgorithm):
                found[name.lower()] = obj
    return found


def get_algorithm(name: str) -> type:
    """The algorithm class called ``name`` (any case); ValueError with close matches."""
    known = algorithms()
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in known:
        close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown SB3 algorithm {name!r}.{hint} Known: {', '.join(sorted(known))}")
    return known[key]


def is_maskable(algo: type) -> bool:
    """Whether the algorithm takes ``action_masks`` (sb3-contrib's ``MaskablePPO``)."""
    return algo.__name__.startswith("Maskable")


def meta_path(path: str | Path) -> Path:
    """Where the JSON metadata of the model saved at ``path`` lives (``MODEL.json``)."""
    return model_path(path).with_suffix(".json")


def model_path(path: str | Path) -> Path:
    """``path`` with the ``.zip`` suffix SB3 adds."""
    p = Path(path).expanduser()
    return p if p.suffix == ".zip" else p.with_name(p.name + ".zip")


def save_model(model: Any, path: str | Path, meta: dict[str, Any]) -> Path:
    """Save ``model`` at ``path`` (.zip) and ``meta`` beside it, each written atomically."""
    target = model_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.stem + ".tmp.zip")
    model.save(tmp)
    os.replace(tmp, target)
    record = {"format": META_FORMAT, "num_timesteps": int(model.num_timesteps), **meta}
    mtmp = meta_path(target).with_suffix(".json.tmp")
    mtmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(mtmp, meta_path(target))
    return target


def read_meta(path: str | Path) -> dict[str, Any] | None:
    """The metadata saved beside a model, or None if there is none."""
    mp = meta_path(path)
    if not mp.is_file():
        return None
    meta = json.loads(mp.read_text())
    if meta.get("format") != META_FORMAT:
        raise ValueError(f"{mp}: not nasgym SB3 metadata (format {meta.get('format')!r})")
    return meta


def policy_kwargs_from_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """SB3 ``policy_kwargs`` from metadata: JSON kwargs plus the extractor by registry name."""
    from policies.extractors import extractor_kwargs

    kwargs = dict(meta.get("policy_kwargs") or {})
    if meta.get("extractor"):
        kwargs.update(extractor_kwargs(meta["extractor"], **(meta.get("extractor_kwargs") or {})))
    return kwargs


def _constant(entry: dict[str, Any]) -> float:
    found = re.search(r"val=([-+0-9.eE]+)", str(entry.get("value_schedule", "")))
    return float(found.group(1)) if found else 0.0


def _replacement(key: str, entry: dict[str, Any], meta: dict | None, algo: type, env: Any) -> Any:
    if key in ("observation_space", "action_space"):
        if env is None:
            raise ValueError(f"loading without unpickling needs the env (for its {key})")
        return getattr(env, key)
    if key == "policy_class":
        alias = (meta or {}).get("policy")
        if alias is None:
            dict_obs = env is not None and isinstance(env.observation_space, gym.spaces.Dict)
            alias = "MultiInputPolicy" if dict_obs else "MlpPolicy"
        return algo.policy_aliases[alias]
    if key == "policy_kwargs" and meta is not None:
        return policy_kwargs_from_meta(meta)
    if key in _SCHEDULE_KEYS or "Schedule" in str(entry.get(":type:", "")):
        return _constant(entry)
    if key in _NONE_KEYS:
        return None
    raise ValueError(
        f"its {key!r} entry is pickled Python (running code on load) and nasgym cannot rebuild "
        "it" + ("" if meta else " (no nasgym metadata beside the model)")
    )


def _check_action_space(data: dict[str, Any], env: Any, target: Path, meta: dict | None) -> None:
    """Refuse an env whose action space differs from the one the model was saved with (SB3
    would fail later with a tensor size mismatch that does not name the cause)."""
    saved = data.get("action_space")
    if env is None or not isinstance(saved, dict):
        return
    space = env.action_space
    kind = str(saved.get(":type:", ""))
    if isinstance(space, gym.spaces.Discrete) and "Discrete" in kind and "n" in saved:
        if int(saved["n"]) != int(space.n):
            trained = (meta or {}).get("env_id")
            raise ValueError(
                f"{target} acts on Discrete({saved['n']}) actions"
                + (f" (trained on {trained})" if trained else "")
                + f"; this env has {space}: load it on the env it was trained for"
            )


def load_model(
    path: str | Path,
    algo: str | None = None,
    env: Any = None,
    device: str = "cpu",
    trust: bool = False,
) -> Any:
    """Load an SB3 model saved at ``path`` without unpickling (see the module docstring).

    ``algo`` defaults to the one in the metadata; ``env`` supplies the spaces. ``trust=True``
    lets SB3 unpickle the file's objects (only for files you trust).
    """
    target = model_path(path)
    if not target.is_file():
        raise FileNotFoundError(f"no saved SB3 model at {target}")
    meta = read_meta(target)
    name = algo or (meta or {}).get("algo")
    if name is None:
        raise ValueError(f"{target}: name the algorithm (no nasgym metadata beside the model)")
    cls = get_algorithm(name)
    if trust:
        return cls.load(target, device=device)
    try:
        with zipfile.ZipFile(target) as archive:
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as err:
        raise ValueError(f"{target} is not an SB3 model file: {err}") from None
    _check_action_space(data, env, target, meta)
    custom: dict[str, Any] = {}
    for key, entry in data.items():
        if isinstance(entry, dict) and ":serialized:" in entry:
            try:
                custom[key] = _replacement(key, entry, meta, cls, env)
            except ValueError as err:
                raise ValueError(
                    f"refusing to load {target}: {err}. Pass trust=True only for a file you trust"
                ) from None
    return cls.load(target, device=device, custom_objects=custom)


__all__ = [
    "algorithms",
    "get_algorithm",
    "is_maskable",
    "load_model",
    "meta_path",
    "model_path",
    "read_meta",
    "save_model",
]

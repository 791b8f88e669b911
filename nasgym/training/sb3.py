"""Train any Stable-Baselines3 / sb3-contrib algorithm on a nasgym env: ``nasgym train sb3``.

    nasgym train sb3 --algo maskableppo --env nasgym/NB201Seq-v0 --timesteps 200000 \\
                     --n-envs 2 --seed 0 --out runs/ppo-nb201

``OUT`` receives ``config.json`` (the settings; a rerun with other settings is refused, except
for ``--timesteps``, so a finished training can be extended),
``checkpoints/step_N.zip`` (+ ``.json`` metadata) every ``checkpoint_every`` steps, the last
``keep`` kept, TensorBoard logs under ``tb/`` (nothing is logged, nor left in the temp
directory, with ``--no-tensorboard``) and the final ``model.zip`` + ``model.json``.
Rerunning the same command after a crash or ``kill -9`` resumes from the newest complete
checkpoint (a checkpoint is written to a temporary name and renamed, so a kill mid-write
leaves the previous one intact). Off-policy algorithms resume with an empty replay buffer
(SB3 stores buffers as pickles, which nasgym does not load). ``n_envs > 1`` runs the envs in
``SubprocVecEnv`` worker processes, ``n_envs == 1`` in a ``DummyVecEnv``. Maskable algorithms
read each env's ``action_masks()``. Models are saved with :func:`policies.sb3_io.save_model`
and load without unpickling (:func:`policies.sb3_io.load_model`); bench one with
``--agent sb3:ALGO:OUT/model.zip``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from nasgym.training import TRAINERS, Trainer

CHECKPOINTS = "checkpoints"


@dataclass(frozen=True)
class TrainResult:
    """What a training run did: the final model, its step count, where it resumed from."""

    path: Path
    num_timesteps: int
    resumed_from: int | None
    wall_s: float


def _make_env(env_id: str, env_kwargs: dict[str, Any], seed: int) -> Any:
    import gymnasium as gym

    import nasgym  # noqa: F401  (registers the envs in worker processes)

    env = gym.make(env_id, **env_kwargs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


def make_vec_env(env_id: str, env_kwargs: dict[str, Any], n_envs: int, seed: int) -> Any:
    """``n_envs`` copies of the env (seeds ``seed + i``) in a ``SubprocVecEnv`` (or a
    ``DummyVecEnv`` for one), with episode statistics for the logs."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    fns = [partial(_make_env, env_id, env_kwargs, seed + i) for i in range(n_envs)]
    vec = SubprocVecEnv(fns) if n_envs > 1 else DummyVecEnv(fns)
    vec.seed(seed)
    return VecMonitor(vec)


def checkpoints(out: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``out`` (model and metadata present), oldest first."""
    found = []
    for meta in Path(out, CHECKPOINTS).glob("step_*.json"):
        model = meta.with_suffix(".zip")
        step = meta.stem.removeprefix("step_")
        if model.is_file() and step.isdigit():
            found.append((int(step), model))
    return sorted(found)


def _check_config(out: Path, config: dict[str, Any]) -> None:
    path = out / "config.json"
    if path.is_file():
        stored = json.loads(path.read_text())
        keys = (set(stored) | set(config)) - {"timesteps"}  # a resume may extend or shorten
        diff = sorted(k for k in keys if stored.get(k) != config.get(k))
        if diff:
            raise ValueError(
                f"{out} holds a training with other settings ({', '.join(diff)} differ); "
                "rerun with the same settings to resume, or choose another --out"
            )


def _write_config(out: Path, config: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def train_sb3(
    algo: str,
    env_id: str,
    out: str | Path,
    *,
    env_kwargs: dict[str, Any] | None = None,
    timesteps: int = 100_000,
    n_envs: int = 1,
    seed: int = 0,
    algo_kwargs: dict[str, Any] | None = None,
    policy: str | None = None,
    policy_kwargs: dict[str, Any] | None = None,
    extractor: str | None = None,
    extractor_kwargs: dict[str, Any] | None = None,
    checkpoint_every: int = 10_000,
    keep: int = 3,
    device: str = "cpu",
    progress: bool = True,
    tensorboard: bool = True,
) -> TrainResult:
    """Train (or resume training) ``algo`` on ``env_id`` for ``timesteps`` steps in ``out``.

    ``policy`` defaults to ``MultiInputPolicy`` for Dict observations, else ``MlpPolicy``;
    ``extractor`` names a features extractor of :data:`policies.extractors.EXTRACTORS`
    (default ``dict-log`` for Dict observations). ``algo_kwargs`` go to the algorithm's
    constructor (JSON values). Returns the final model's path and step count.
    """
    import gymnasium as gym

    from nasgym.training.callbacks import Checkpoints, ProgressBar
    from policies.extractors import EXTRACTORS
    from policies.sb3_io import get_algorithm, load_model, policy_kwargs_from_meta, save_model

    cls = get_algorithm(algo)
    if timesteps < 1 or n_envs < 1 or checkpoint_every < 1 or keep < 1:
        raise ValueError("timesteps, n_envs, checkpoint_every and keep must all be >= 1")
    if extractor is not None and extractor not in EXTRACTORS:
        raise ValueError(EXTRACTORS.unknown_message(extractor))
    env_kwargs = dict(env_kwargs or {})
    out = Path(out)
    try:
        probe = _make_env(env_id, env_kwargs, seed)
    except gym.error.Error as err:
        import difflib

        close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"cannot make env {env_id!r}: {err}.{hint}") from None
    except TypeError as err:
        raise ValueError(f"cannot make {env_id} with env kwargs {env_kwargs}: {err}") from None
    dict_obs = isinstance(probe.observation_space, gym.spaces.Dict)
    probe.close()
    policy = policy or ("MultiInputPolicy" if dict_obs else "MlpPolicy")
    if policy not in cls.policy_aliases:
        raise ValueError(
            f"{cls.__name__} has no policy {policy!r}; choose from {sorted(cls.policy_aliases)}"
        )
    if extractor is None and dict_obs:
        extractor = "dict-log"
    meta = {
        "algo": cls.__name__.lower(),
        "policy": policy,
        "policy_kwargs": dict(policy_kwargs or {}),
        "extractor": extractor,
        "extractor_kwargs": dict(extractor_kwargs or {}),
        "env_id": env_id,
        "env_kwargs": env_kwargs,
        "seed": seed,
        "n_envs": n_envs,
        "timesteps": timesteps,
        "algo_kwargs": dict(algo_kwargs or {}),
    }
    _check_config(out, meta)
    t0 = time.perf_counter()
    vec = make_vec_env(env_id, env_kwargs, n_envs, seed)
    try:
        done = checkpoints(out)
        resumed_from = done[-1][0] if done else None
        tb = str(out / "tb") if tensorboard else None
        if done:
            model = load_model(done[-1][1], env=vec, device=device)
            model.set_env(vec)
            model.tensorboard_log = tb
        else:
            try:
                model = cls(
                    policy,
                    vec,
                    seed=seed,
                    device=device,
                    tensorboard_log=tb,
                    policy_kwargs=policy_kwargs_from_meta(meta),
                    **meta["algo_kwargs"],
                )
            except TypeError as err:
                raise ValueError(f"{cls.__name__} refuses these settings: {err}") from None
        if tb is None:  # else SB3's learn() leaves an empty SB3-<time> folder in the temp dir
            from stable_baselines3.common.logger import Logger

            model.set_logger(Logger(folder=None, output_formats=[]))
        _write_config(out, meta)  # only once the settings are known to build a model
        callbacks: list[Any] = [Checkpoints(out, checkpoint_every, keep, meta)]
        if progress:
            callbacks.append(ProgressBar(timesteps))
        left = timesteps - model.num_timesteps
        if left > 0:
            model.learn(left, callback=callbacks, reset_num_timesteps=False, tb_log_name="run")
        path = save_model(model, out / "model.zip", meta)
        return TrainResult(path, int(model.num_timesteps), resumed_from, time.perf_counter() - t0)
    finally:
        vec.close()


def _json_arg(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not JSON: {err}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


@TRAINERS.register("sb3")
class SB3Trainer(Trainer):
    """Train any SB3 / sb3-contrib algorithm on a nasgym env (checkpoints, resume, TensorBoard)."""

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The ``nasgym train sb3`` options."""
        a = parser.add_argument
        a("--algo", required=True, help="algorithm name, e.g. ppo, a2c, dqn, maskableppo")
        a("--env", required=True, help="env id, e.g. nasgym/NB201Seq-v0")
        a("--env-kwargs", type=_json_arg, default={}, help="JSON object of env arguments")
        a("--algo-kwargs", type=_json_arg, default={}, help="JSON constructor arguments")
        a("--policy", default=None, help="policy alias (default by observation space)")
        a("--policy-kwargs", type=_json_arg, default={}, help="JSON policy_kwargs, e.g. net_arch")
        a("--extractor", default=None, help="features extractor name (policies.extractors)")
        a("--extractor-kwargs", type=_json_arg, default={}, help="JSON extractor arguments")
        a("--timesteps", type=int, default=100_000, help="total environment steps")
        a("--n-envs", type=int, default=1, help="parallel envs (SubprocVecEnv when > 1)")
        a("--seed", type=int, default=0)
        a("--out", required=True, help="output folder (rerun the command to resume)")
        a("--checkpoint-every", type=int, default=10_000, help="steps between checkpoints")
        a("--keep", type=int, default=3, help="checkpoints kept")
        a("--device", default="cpu", help="torch device: cpu, cuda or auto")
        a("--no-progress", action="store_true", help="no progress bar")
        a("--no-tensorboard", action="store_true", help="no TensorBoard logs")

    @classmethod
    def run(cls, args: argparse.Namespace) -> int:
        """Train from the parsed options; print the final model's path."""
        result = train_sb3(
            args.algo,
            args.env,
            args.out,
            env_kwargs=args.env_kwargs,
            timesteps=args.timesteps,
            n_envs=args.n_envs,
            seed=args.seed,
            algo_kwargs=args.algo_kwargs,
            policy=args.policy,
            policy_kwargs=args.policy_kwargs,
            extractor=args.extractor,
            extractor_kwargs=args.extractor_kwargs,
            checkpoint_every=args.checkpoint_every,
            keep=args.keep,
            device=args.device,
            progress=not args.no_progress,
            tensorboard=not args.no_tensorboard,
        )
        start = f" (resumed from step {result.resumed_from})" if result.resumed_from else ""
        print(
            f"trained {result.num_timesteps} steps{start} in {result.wall_s:.1f} s: {result.path}",
            file=sys.stderr,
        )
        return 0


__all__ = ["SB3Trainer", "TrainResult", "checkpoints", "make_vec_env", "train_sb3"]

"""``nasgym train sb3``: checkpoints, resume after ``kill -9``, clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasgym.cli import main
from nasgym.training.sb3 import checkpoints, train_sb3

ROOT = Path(__file__).resolve().parents[2]
ENV = "nasgym/NB201Seq-v0"
FAST = {"n_steps": 64, "batch_size": 64, "n_epochs": 1}


@pytest.mark.slow
def test_resumes_from_last_checkpoint_after_kill_9(tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "nasgym.cli", "train", "sb3", "--algo", "ppo", "--env", ENV,
        "--timesteps", "1000000", "--seed", "3", "--out", str(out), "--checkpoint-every", "128",
        "--algo-kwargs", json.dumps(FAST), "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while len(checkpoints(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(checkpoints(out)) >= 2, proc.stderr.read().decode() if proc.poll() else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    last = checkpoints(out)[-1][0]
    assert last >= 256 and last % 128 == 0
    result = train_sb3(
        "ppo", ENV, out, timesteps=last + 128, seed=3, algo_kwargs=FAST,
        checkpoint_every=128, progress=False,
    )  # fmt: skip
    assert result.resumed_from == last
    # the resumed run continued the checkpoint's step count instead of starting again at 0
    assert last + 128 <= result.num_timesteps < last + 128 + FAST["n_steps"]
    meta = json.loads((out / "model.json").read_text())
    assert meta["num_timesteps"] == result.num_timesteps and meta["algo"] == "ppo"
    assert list((out / "tb").rglob("events.out.tfevents*")), "no TensorBoard log"


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    train_sb3("ppo", ENV, tmp_path, timesteps=64, algo_kwargs=FAST, progress=False)
    with pytest.raises(ValueError, match="seed differ"):
        train_sb3("ppo", ENV, tmp_path, timesteps=64, seed=1, algo_kwargs=FAST, progress=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--algo", "maskablepop", "--env", ENV], "Did you mean 'maskableppo'"),
        (["--algo", "ppo", "--env", "nasgym/NB201seq-v0"], "nasgym/NB201Seq-v0"),
        (["--algo", "ppo", "--env", ENV, "--extractor", "dict-lgo"], "dict-log"),
        (["--algo", "ppo", "--env", ENV, "--algo-kwargs", '{"n_step": 8}'], "n_step"),
    ],
)
def test_bad_arguments_fail_clearly_before_training(tmp_path, capsys, args, message):
    assert main(["train", "sb3", *args, "--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x" / "config.json").exists()  # a corrected rerun is not refused


@pytest.mark.parametrize(
    ("algo", "env_id", "env_kwargs", "n_envs"),
    [
        ("ppo", ENV, {}, 1),
        (
            "maskableppo",
            "nasgym/VALP-Paper-v0",
            {"dataset": "digits", "initial_batches": 3, "step_batches": 1, "max_steps": 4},
            2,
        ),
    ],
)
def test_same_seed_trains_the_same_policy(tmp_path, algo, env_id, env_kwargs, n_envs):
    """Reproducible on CPU: two trainings with one seed end with identical weights (a shipped
    policy can be rebuilt from its command), and another seed gives other weights."""
    import io
    import zipfile

    import torch

    def weights(name: str, seed: int) -> dict[str, torch.Tensor]:
        result = train_sb3(
            algo, env_id, tmp_path / name, env_kwargs=env_kwargs, timesteps=16, n_envs=n_envs,
            seed=seed, algo_kwargs={"n_steps": 8, "batch_size": 8, "n_epochs": 2},
            checkpoint_every=1000, progress=False, tensorboard=False,
        )  # fmt: skip
        with zipfile.ZipFile(result.path) as archive:  # SB3 keeps the policy's state_dict here
            return torch.load(io.BytesIO(archive.read("policy.pth")), weights_only=True)

    a, b = weights("a", 5), weights("b", 5)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    if n_envs == 1:  # another seed's weights: checked on the quick NB201Seq case only
        other = weights("c", 6)
        assert not all(torch.equal(a[k], other[k]) for k in a)


def test_without_tensorboard_nothing_is_left_in_the_temp_dir(tmp_path, monkeypatch):
    """SB3 logs to a fresh ``SB3-<time>`` folder of the temp dir when it is given none; a
    training without TensorBoard must not litter the user's temp dir with one per run."""
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    out = tmp_path / "run"
    train_sb3("ppo", ENV, out, timesteps=64, algo_kwargs=FAST, progress=False, tensorboard=False)
    assert (out / "model.zip").exists()
    assert not list(scratch.iterdir())
    assert not (out / "tb").exists()

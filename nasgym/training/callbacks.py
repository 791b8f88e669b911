"""Training callbacks: checkpoints that survive ``kill -9``, and a tqdm progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from nasgym.training.sb3 import CHECKPOINTS, checkpoints


class Checkpoints(BaseCallback):
    """Save a checkpoint every ``every`` steps, keeping the newest ``keep``."""

    def __init__(self, out: Path, every: int, keep: int, meta: dict[str, Any]) -> None:
        super().__init__()
        self.out, self.every, self.keep, self.meta = out, every, keep, meta
        self.next = 0

    def _on_training_start(self) -> None:
        self.next = (self.model.num_timesteps // self.every + 1) * self.every

    def _on_step(self) -> bool:
        from policies.sb3_io import save_model

        if self.model.num_timesteps >= self.next:
            step = self.model.num_timesteps
            save_model(self.model, self.out / CHECKPOINTS / f"step_{step}.zip", self.meta)
            for _, old in checkpoints(self.out)[: -self.keep]:
                old.unlink(missing_ok=True)
                old.with_suffix(".json").unlink(missing_ok=True)
            self.next = (step // self.every + 1) * self.every
        return True


class ProgressBar(BaseCallback):
    """A tqdm bar over the run's timesteps (resumed runs start where they left off)."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total
        self.bar: Any = None

    def _on_training_start(self) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.total, initial=self.model.num_timesteps, unit="step")

    def _on_step(self) -> bool:
        self.bar.update(self.model.num_timesteps - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


__all__ = ["Checkpoints", "ProgressBar"]

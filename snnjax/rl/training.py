"""One entry point for every trainer: `train(cfg, run_dir)` runs `cfg.algorithm`'s trainer
(`dqn`: Double DQN with replay, Mnih et al. 2015; `pqn`: Q(lambda) over vectorized rollouts,
Gallici et al. 2025). Both write the same run folder (config.json, log.csv, episodes.csv,
checkpoints/, qnetwork.npz, eval.json) and resume the same way."""

from __future__ import annotations

from pathlib import Path

from snnjax.rl import dqn, pqn
from snnjax.rl.config import TrainConfig

TRAINERS = {"dqn": dqn.train, "pqn": pqn.train}


def train(cfg: TrainConfig, run_dir: str | Path, resume: bool = False, overwrite: bool = False,
          progress: bool = True, stop_after_checkpoints: int | None = None) -> dict:
    """Train per `cfg` in `run_dir`; returns the summary dict (also in eval.json).

    stop_after_checkpoints: return right after that many checkpoints were written in this call
    (used to test kill-and-resume; the run is then resumable)."""
    return TRAINERS[cfg.algorithm](cfg, run_dir, resume, overwrite, progress, stop_after_checkpoints)

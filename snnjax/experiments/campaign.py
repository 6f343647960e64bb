"""The training campaign: train and ship a DQN for every game of the paper's Table 1, one recipe.

`snnjax campaign --games paper` walks the 17 games in order. For each game:
  - models/<game>.npz exists            -> skipped (shipped);
  - the run finished (qnetwork.npz)     -> shipped (`snnjax ship`);
  - the run has a trainer checkpoint    -> training resumes from it (`snnjax train --resume`);
  - otherwise                           -> training starts afresh (a stub without a checkpoint
                                           is replaced), then the model is shipped.
Training and shipping run as child processes (`python -m snnjax train|ship`), so a crash or an
out-of-memory kill in one game leaves the campaign's bookkeeping intact, and killing the campaign
at any point loses at most the steps since the game's last checkpoint. `--commit` commits each
model as it ships (only the model's own files). Run folders live under `runs/campaign/` (not in
git: they hold optimizer state).
"""

from __future__ import annotations

import csv
import functools
import subprocess
import sys
import time
from pathlib import Path

from snnjax.experiments.report import DATA
from snnjax.nets import checkpoint

ROOT = Path(__file__).resolve().parents[2]


def paper_games() -> list[str]:
    """The 17 games of the paper's Table 1 as envpool ids, in alphabetical order."""
    with (DATA / "paper_table1.csv").open() as f:
        return sorted(r["envpool_id"] for r in csv.DictReader(f))


def resolve_games(spec: str) -> list[str]:
    """'paper' -> the 17 paper games; else a comma-separated list of envpool ids (checked)."""
    from snnjax.rl.envs import check_env_id

    if spec.strip() == "paper":
        return paper_games()
    return [check_env_id(g.strip()) for g in spec.split(",") if g.strip()]


def state_of(game: str, models_dir: Path, runs_dir: Path) -> str:
    """'shipped', 'trained' (ready to ship), 'resumable' or 'new'."""
    if (models_dir / f"{game}.npz").is_file() and (models_dir / f"{game}.json").is_file():
        return "shipped"
    run = runs_dir / game
    if (run / "qnetwork.npz").is_file() and (run / "eval.json").is_file():
        return "trained"
    if checkpoint.latest_step(run / "checkpoints") is not None:
        return "resumable"
    return "new"


def _git_commit(game: str, models_dir: Path, message: str, log) -> None:
    paths = [models_dir / f"{game}.npz", models_dir / f"{game}.json", models_dir / "logs" / f"{game}.log.csv",
             models_dir / "README.md"]
    paths = [str(p) for p in paths if p.exists()]
    r = subprocess.run(["git", "add", "--", *paths], cwd=ROOT, capture_output=True, text=True)
    if r.returncode == 0:
        r = subprocess.run(["git", "commit", "-m", message, "--", *paths], cwd=ROOT, capture_output=True, text=True)
    log(f"{game}: git commit {'done' if r.returncode == 0 else 'failed: ' + r.stderr.strip()[:200]}")


def run(games: list[str], config: str | Path, models_dir: str | Path = ROOT / "models",
        runs_dir: str | Path = ROOT / "runs" / "campaign", episodes: int = 20, commit: bool = False,
        sets: tuple[str, ...] = (), log=functools.partial(print, flush=True)) -> dict[str, str]:
    """Train and ship every game of `games` that has no shipped model; returns {game: outcome}."""
    models_dir, runs_dir = Path(models_dir), Path(runs_dir)
    config = Path(config)
    if not config.is_file():
        from snnjax.rl.config import ConfigError

        raise ConfigError(f"config file {str(config)!r} not found")
    outcome = {}
    todo = [g for g in games if state_of(g, models_dir, runs_dir) != "shipped"]
    log(f"campaign: {len(games) - len(todo)} of {len(games)} games shipped; to do: {', '.join(todo) or 'none'}")
    for i, game in enumerate(todo):
        state = state_of(game, models_dir, runs_dir)
        run_dir = runs_dir / game
        t0 = time.time()
        if state in ("new", "resumable"):
            log(f"[{i + 1}/{len(todo)}] {game}: {'resuming training' if state == 'resumable' else 'training'} "
                f"in {run_dir}")
            cmd = [sys.executable, "-m", "snnjax", "train", "--config", str(config), "--set", f"env_id={game}",
                   *[a for s in sets for a in ("--set", s)], "--run-dir", str(run_dir),
                   "--resume" if state == "resumable" else "--overwrite"]
            if subprocess.run(cmd).returncode != 0:
                outcome[game] = "training failed"
                log(f"{game}: training failed; the campaign goes on with the next game")
                continue
        log(f"[{i + 1}/{len(todo)}] {game}: shipping")
        cmd = [sys.executable, "-m", "snnjax", "ship", str(run_dir), "--models", str(models_dir),
               "--episodes", str(episodes)]
        if subprocess.run(cmd).returncode != 0:
            outcome[game] = "shipping failed"
            log(f"{game}: shipping failed; the campaign goes on with the next game")
            continue
        outcome[game] = f"shipped after {(time.time() - t0) / 60:.1f} min"
        log(f"{game}: {outcome[game]}")
        if commit:
            _git_commit(game, models_dir, f"Ship the {game} DQN (campaign recipe, {config.name})", log)
    return outcome

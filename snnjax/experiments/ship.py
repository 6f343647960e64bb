"""Ship a trained run into models/: the int8 Q-network, its provenance, the training log, and the
regression band the shipped-model test checks (`snnjax ship RUN_DIR`).

Writes, for the run's game G:
  models/G.npz            the Q-network, int8 weights with float32 per-output-channel scales
                          (`snnjax.nets.checkpoint`); every table evaluates exactly this network
  models/G.json           provenance: resolved config, seed, agent steps, frames, updates, wall
                          time, hardware, versions; the score of the full-precision network and
                          of the shipped int8 one under the paper's protocol, a random agent under
                          the same protocol, Welch's p of shipped vs random and `beats_random`
                          (shipped mean above random and p < 0.05); the greedy regression band
  models/logs/G.log.csv   the training log
and regenerates models/README.md from every models/*.json.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from pathlib import Path

import jax
import numpy as np

from snnjax.core import stats
from snnjax.core.io import write_json, write_text
from snnjax.experiments import report
from snnjax.nets.checkpoint import CheckpointError, load_qnetwork, save_qnetwork
from snnjax.rl.play import random_scores, score_dqn

MODELS = Path(__file__).resolve().parents[2] / "models"
REGRESSION = dict(episodes=3, eps=0.0, seed=0, max_episode_steps=2000)
PROTOCOL = "paper: eps=0.05, up to 30 no-op starts, raw score, 18,000-frame cap, eval seeds"


def score(path: str | Path, episodes: int, eps: float = 0.05, seed: int = 0,
          max_episode_steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(raw scores [episodes], lengths [episodes]) of the Q-network file `path`, one episode per
    env on the evaluation seed range `seed`: `play.score_dqn`, the main command's DQN row."""
    params, meta = load_qnetwork(path)
    return score_dqn(params, meta, episodes, seed, eps, max_episode_steps)


def random_agent(env_id: str, episodes: int, seed: int = 0):
    """(scores, lengths) of the uniform random policy under the evaluation protocol."""
    return random_scores(env_id, episodes, seed)


def regression_scores(model: str | Path) -> list[float]:
    """Greedy (eps=0) scores of a shipped model on fixed eval seeds: deterministic."""
    rets, _ = score(model, REGRESSION["episodes"], REGRESSION["eps"], REGRESSION["seed"],
                    REGRESSION["max_episode_steps"])
    return rets.tolist()


def regression_band(scores) -> list[float]:
    """[lo, hi] around recorded greedy scores: 20% of each end's magnitude plus one point."""
    lo, hi = min(scores), max(scores)
    return [lo - 0.2 * abs(lo) - 1, hi + 0.2 * abs(hi) + 1]


def _summary(scores, lengths=None) -> dict:
    m, s = stats.mean_std(scores)
    out = {"episodes": int(len(scores)), "mean": m, "std": s, "scores": np.asarray(scores).tolist()}
    if lengths is not None:
        out["lengths"] = np.asarray(lengths).tolist()
    return out


def ship(run_dir: str | Path, models_dir: str | Path = MODELS, episodes: int = 20,
         qnetwork: str | Path | None = None, log=print) -> dict:
    """Ship the run in `run_dir` (config.json, eval.json, log.csv and qnetwork.npz, or the
    Q-network file `qnetwork`) into `models_dir`; returns the provenance dict."""
    run = Path(run_dir)
    models_dir = Path(models_dir)
    for name in ("config.json", "eval.json", "log.csv"):
        if not (run / name).is_file():
            raise CheckpointError(f"{str(run)!r} is not a finished training run: {name} missing")
    src = Path(qnetwork) if qnetwork else run / "qnetwork.npz"
    params, meta = load_qnetwork(src)
    game = meta["env_id"]
    cfg = json.loads((run / "config.json").read_text())
    ev = json.loads((run / "eval.json").read_text())
    models_dir.mkdir(parents=True, exist_ok=True)

    log(f"{game}: full-precision network, {episodes} episodes")
    fp_rets, fp_lens = score(src, episodes)
    dst = models_dir / f"{game}.npz"
    save_qnetwork(dst, params, meta, int8=True)
    log(f"{game}: shipped int8 network, {episodes} episodes")
    rets, lens = score(dst, episodes)
    log(f"{game}: random agent, {episodes} episodes")
    rnd, _ = random_agent(game, episodes)
    p = stats.welch_p(rets, rnd)
    (models_dir / "logs").mkdir(exist_ok=True)
    shutil.copy(run / "log.csv", models_dir / "logs" / f"{game}.log.csv")
    reg = regression_scores(dst)
    prov = {
        "game": game, "config": cfg, "seed": cfg["seed"], "agent_steps": ev["agent_steps"],
        "frames": ev["frames"], "updates": ev["updates"], "train_wall_s": ev["wall_s"],
        "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores ({jax.default_backend()})",
        "versions": report.versions(),
        "weights": "int8 per output channel (float32 scales), float32 biases",
        "file_bytes": dst.stat().st_size,
        # `evaluation` is the shipped (int8) network: the one every table evaluates.
        "evaluation": dict(_summary(rets, lens), protocol=PROTOCOL),
        "evaluation_float32": dict(_summary(fp_rets, fp_lens), protocol=PROTOCOL),
        "random_agent": _summary(rnd),
        "welch_p_vs_random": p,
        "beats_random": bool(np.mean(rets) > np.mean(rnd) and p < 0.05),
        # Greedy play on fixed seeds is deterministic on one machine; the band leaves room for
        # last-bit differences between CPUs that flip a near-tied action (20% + 1 point on each
        # side, measured away from zero so that negative scores such as Pong's widen too).
        "regression": dict(REGRESSION, scores=reg, band=regression_band(reg)),
    }
    write_json(models_dir / f"{game}.json", prov)
    write_index(models_dir)
    log(f"{game}: shipped {dst} ({dst.stat().st_size / 1e6:.2f} MB): {stats.fmt_pm(*stats.mean_std(rets))} "
        f"(float32 {stats.fmt_pm(*stats.mean_std(fp_rets))}) vs random {stats.fmt_pm(*stats.mean_std(rnd))}, "
        f"Welch p = {p:.3g}{'' if prov['beats_random'] else '  (does NOT beat random)'}")
    return prov


def rescore(model: str | Path, episodes: int | None = None, qnetwork: str | Path | None = None,
            log=print) -> dict:
    """Score a shipped model again with this version's play loop (its DQN, the random agent and
    the greedy regression scores) and rewrite its provenance and the models index. `qnetwork`:
    the full-precision network it came from, scored too; without it the float32 entry is kept
    and marked as scored by an earlier version."""
    model = Path(model)
    prov_path = model.with_suffix(".json")
    if not prov_path.is_file():
        raise CheckpointError(f"{str(model)!r} has no provenance file {str(prov_path)!r}")
    prov = json.loads(prov_path.read_text())
    game = prov["game"]
    episodes = episodes or prov["evaluation"]["episodes"]
    log(f"{game}: shipped network, {episodes} episodes")
    rets, lens = score(model, episodes)
    log(f"{game}: random agent, {episodes} episodes")
    rnd, _ = random_agent(game, episodes)
    p = stats.welch_p(rets, rnd)
    if qnetwork:
        fp_rets, fp_lens = score(qnetwork, episodes)
        prov["evaluation_float32"] = dict(_summary(fp_rets, fp_lens), protocol=PROTOCOL)
    elif "evaluation_float32" in prov:
        prov["evaluation_float32"]["scored_by"] = "an earlier snnjax (other exploration draws)"
    reg = regression_scores(model)
    prov.update(evaluation=dict(_summary(rets, lens), protocol=PROTOCOL), random_agent=_summary(rnd),
                welch_p_vs_random=p, beats_random=bool(np.mean(rets) > np.mean(rnd) and p < 0.05),
                regression=dict(REGRESSION, scores=reg, band=regression_band(reg)),
                rescored_with=report.versions())
    write_json(prov_path, prov)
    write_index(model.parent)
    log(f"{game}: {stats.fmt_pm(*stats.mean_std(rets))} vs random {stats.fmt_pm(*stats.mean_std(rnd))}, "
        f"Welch p = {p:.3g}")
    return prov


INDEX_HEAD = """# Shipped Q-networks

Trained with snnjax's own trainer on this project's 2-core CPU machines (nobody can download
weights here). Each `<game>.npz` is the final Q-network (`snnjax evaluate --checkpoint
models/<game>.npz`); `<game>.json` holds its provenance: resolved config, seed, agent steps
and frames, wall time, hardware, package versions, its score under the paper's evaluation
protocol (eps = 0.05, up to 30 no-op starts, raw score, 18,000-frame cap, evaluation seeds),
a random agent under the same protocol with Welch's p, and the greedy regression band that
`tests/e2e/test_shipped_models.py` checks. `logs/<game>.log.csv` is the training log.
Written by `snnjax ship RUN_DIR` (one run) and `snnjax campaign --games paper` (the 17 games).

**Storage: int8.** Every Atari network is stored as int8 weights with one float32 scale per
output channel (symmetric, max-abs / 127) and float32 biases: 1.7 MB instead of 6.7 MB, so 17
games fit a repository that travels to an accelerator, and 8-bit synapses are what
neuromorphic chips (Loihi, SpiNNaker2) store. Loading gives float32 kernels equal to
int8 x scale, so the shipped file is exactly the network that every table converts and
evaluates. The provenance keeps the score of the full-precision network it came from beside
the shipped one's ("float32" column; * = scored by an earlier snnjax whose exploration draws
differ, because that float32 file is not kept).

**One model, one seed, one score.** Every score here comes from the one play loop
(`snnjax.rl.play`) with the DQN agent that `snnjax evaluate` plays beside its SNN; an episode
depends only on the model, the seed and its index, so the main command's 8 DQN episodes are
the first 8 of the 20 here (`tests/e2e/test_shipped_models.py` checks it on Breakout). The models
shipped before that loop existed were scored again with it (`snnjax rescore`).

**One recipe for the 17-game campaign** (`configs/campaign.toml`, used unchanged for every
game): Nature CNN, Double DQN, 3-step returns, Adam 1e-4, Huber loss, 8 envs under the training
protocol, replay 100k, one update per 4 agent steps, epsilon 1 -> 0.01 over 100k agent steps,
target copy every 1,000 updates; budget 250k agent steps = 1M frames and 57.5k updates per
game (about 20 minutes on an idle 2-core machine of session 3, 43 minutes beside other work;
the file says why each choice). A run that was killed and resumed rebuilds its replay buffer
(not checkpointed: 0.7 GB) and refills it for 20k agent steps before it updates again, so it
ends with 5,000 fewer updates (52.5k: the "updates" column shows which).
Breakout and Pong were trained earlier with larger budgets (`configs/atari_cpu.toml`: 2.4M
and 1.5M frames), which their rows show. A game whose DQN does not beat the random agent
(Welch p < 0.05) is shipped and marked "no" in the last column, never dropped.

| game | DQN score, shipped int8 | float32 | random agent | Welch p vs random | beats random | DQN in the paper | frames trained | updates | wall time, hardware | recipe |
|---|---|---|---|---|---|---|---|---|---|---|
"""


def _row(m: dict, paper: dict | None) -> str:
    ev, rnd = m["evaluation"], m["random_agent"]
    fp = m.get("evaluation_float32")
    p = m.get("welch_p_vs_random", stats.welch_p(ev["scores"], rnd["scores"]))
    beats = m.get("beats_random", ev["mean"] > rnd["mean"] and p < 0.05)
    cfg = m["config"]
    recipe = (f"{cfg.get('optimizer')}, n-step {cfg.get('n_step')}, "
              f"{'Double DQN' if cfg.get('double_dqn') else 'DQN'}, 1 update / {cfg.get('train_every')} steps")
    return (f"| {m['game']} | {stats.fmt_pm(ev['mean'], ev['std'])} ({ev['episodes']} ep.) "
            f"| {stats.fmt_pm(fp['mean'], fp['std']) + ('*' if 'scored_by' in fp else '') if fp else '-'} "
            f"| {stats.fmt_pm(rnd['mean'], rnd['std'])} "
            f"| {p:.2g} | {'yes' if beats else '**no**'} "
            f"| {paper['dqn_mean'] + ' ± ' + paper['dqn_std'] if paper else '-'} "
            f"| {m['frames']:,} | {m['updates']:,} | {m['train_wall_s'] / 3600:.2f} h, {m['hardware']} | {recipe} |")


def write_index(models_dir: str | Path = MODELS) -> None:
    """Regenerate models/README.md from every models/*.json."""
    models_dir = Path(models_dir)
    t1 = report.paper_table(1)
    rows = [_row(m, t1.get(m["game"])) for m in
            (json.loads(p.read_text()) for p in sorted(models_dir.glob("*.json")))]
    write_text(models_dir / "README.md", INDEX_HEAD + "\n".join(rows) + "\n")

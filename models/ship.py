"""Ship a trained run into models/: the Q-network, its provenance, training logs, and the
regression band the shipped-model test checks.

    python models/ship.py runs/Breakout-v5-seed0 [--episodes 20]

Writes models/<game>.npz, models/<game>.json (config, seed, agent steps, frames, wall time,
hardware, evaluation under the paper's protocol over --episodes episodes, a random agent under
the same protocol, greedy regression band) and models/logs/<game>.log.csv.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
from pathlib import Path

import jax
import numpy as np

from snnjax import envs, report
from snnjax.checkpoint import load_qnetwork
from snnjax.dqn import evaluate_qnetwork
from snnjax.models import make_network

HERE = Path(__file__).resolve().parent
REGRESSION = dict(episodes=3, eps=0.0, seed=0, max_episode_steps=2000)


def random_agent(env_id: str, episodes: int, seed: int = 0):
    env = envs.make_eval_env(env_id, episodes, seed)
    _, n = envs.env_info(env_id)
    rng = np.random.default_rng(seed)
    rets, lens = envs.play_episodes(env, lambda o, a: rng.integers(0, n, len(o)), episodes, 1)
    env.close()
    return rets[:, 0], lens[:, 0]


def regression_scores(model: Path) -> list[float]:
    """Greedy (eps=0) scores of a shipped model on fixed eval seeds: deterministic."""
    params, meta = load_qnetwork(model)
    net = make_network(meta["network"], meta["num_actions"], meta.get("mlp_hidden", (64, 64)))
    rets, _ = evaluate_qnetwork(net, params, meta["env_id"], REGRESSION["episodes"], REGRESSION["seed"],
                                REGRESSION["eps"], REGRESSION["max_episode_steps"])
    return rets.tolist()


def regression_band(scores) -> list[float]:
    """[lo, hi] around recorded greedy scores: 20% of each end's magnitude plus one point."""
    lo, hi = min(scores), max(scores)
    return [lo - 0.2 * abs(lo) - 1, hi + 0.2 * abs(hi) + 1]


def write_index() -> None:
    """Regenerate models/README.md from every models/*.json."""
    t1 = report.paper_table(1)
    rows = []
    for meta_path in sorted(HERE.glob("*.json")):
        m = json.loads(meta_path.read_text())
        ev, rnd = m["evaluation"], m["random_agent"]
        paper = t1.get(m["game"])
        rows.append(f"| {m['game']} | {ev['mean']:.1f} ± {ev['std']:.1f} ({ev['episodes']} ep.) "
                    f"| {rnd['mean']:.1f} ± {rnd['std']:.1f} | {paper['dqn_mean'] + ' ± ' + paper['dqn_std'] if paper else '-'} "
                    f"| {m['frames']:,} | {m['agent_steps']:,} | {m['train_wall_s'] / 3600:.2f} h, {m['hardware']} "
                    f"| {m['config'].get('optimizer')}, n-step {m['config'].get('n_step')}, "
                    f"{'Double DQN' if m['config'].get('double_dqn') else 'DQN'} |")
    text = """# Shipped Q-networks

Trained with snnjax's own trainer on this project's 2-core CPU machines (nobody can download
weights here). Each `<game>.npz` is the final Q-network (`snnjax evaluate --checkpoint
models/<game>.npz`); `<game>.json` holds its provenance: resolved config, seed, agent steps
and frames, wall time, hardware, package versions, its score under the paper's evaluation
protocol (eps = 0.05, up to 30 no-op starts, raw score, 18,000-frame cap, evaluation seeds),
a random agent under the same protocol, and the greedy regression band that
`tests/test_shipped_models.py` checks. `logs/<game>.log.csv` is the training log.
Regenerate with `python models/ship.py RUN_DIR`.

| game | DQN score (ours) | random agent | DQN score in the paper | frames trained | agent steps | wall time, hardware | recipe |
|---|---|---|---|---|---|---|---|
""" + "\n".join(rows) + "\n"
    (HERE / "README.md").write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--episodes", type=int, default=20)
    args = ap.parse_args(argv)
    run = Path(args.run_dir)
    cfg = json.loads((run / "config.json").read_text())
    params, meta = load_qnetwork(run / "qnetwork.npz")
    game = meta["env_id"]
    ev = json.loads((run / "eval.json").read_text())
    net = make_network(meta["network"], meta["num_actions"], meta.get("mlp_hidden", (64, 64)))
    rets, lens = evaluate_qnetwork(net, params, game, args.episodes, 0, 0.05)
    rnd, rnd_len = random_agent(game, args.episodes)
    dst = HERE / f"{game}.npz"
    shutil.copy(run / "qnetwork.npz", dst)
    (HERE / "logs").mkdir(exist_ok=True)
    shutil.copy(run / "log.csv", HERE / "logs" / f"{game}.log.csv")
    reg = regression_scores(dst)
    prov = {
        "game": game, "config": cfg, "seed": cfg["seed"], "agent_steps": ev["agent_steps"],
        "frames": ev["frames"], "updates": ev["updates"], "train_wall_s": ev["wall_s"],
        "hardware": f"{platform.machine()} CPU, {__import__('os').cpu_count()} cores ({jax.default_backend()})",
        "versions": report.versions(),
        "evaluation": {"protocol": "paper: eps=0.05, up to 30 no-op starts, raw score, 18,000-frame cap, eval seeds",
                       "episodes": args.episodes, "mean": float(rets.mean()), "std": float(rets.std(ddof=1)),
                       "scores": rets.tolist(), "lengths": lens.tolist()},
        "random_agent": {"episodes": args.episodes, "mean": float(rnd.mean()), "std": float(rnd.std(ddof=1)),
                         "scores": rnd.tolist()},
        # Greedy play on fixed seeds is deterministic on one machine; the band leaves room for
        # last-bit differences between CPUs that flip a near-tied action (20% + 1 point on each
        # side, measured away from zero so that negative scores such as Pong's widen too).
        "regression": dict(REGRESSION, scores=reg, band=regression_band(reg)),
    }
    (HERE / f"{game}.json").write_text(json.dumps(prov, indent=1))
    write_index()
    print(json.dumps({k: prov[k] for k in ("game", "agent_steps", "frames", "train_wall_s")}, indent=1))
    print(f"DQN {prov['evaluation']['mean']:.1f} ± {prov['evaluation']['std']:.1f} vs random "
          f"{prov['random_agent']['mean']:.1f} ± {prov['random_agent']['std']:.1f} over {args.episodes} episodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

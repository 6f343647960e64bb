"""The QCFS study: conversion-aware fine-tuning on every shipped Atari model, into RESULTS.md.

    python evaluate/qcfs_study.py [--games Breakout-v5,Pong-v5] [--levels 8] [--steps 2000]

Per game (each step is stored under results/qcfs/ and reused on a rerun):
  1. `snnjax finetune`: distil the shipped DQN into QCFS activations with L levels on 15,000 frames
     of its own play (calibration seeds) -> results/qcfs/<game>-L<L>.npz;
  2. the latency study with the method `qcfs` beside the paper's method and the no-retraining
     options, on the same 256 held-out frames, T = 1..1000 -> results/qcfs/latency_<game>.json;
  3. played episodes: the QCFS SNN at T = 4, 8, 16 beside the original DQN under the paper's
     protocol (scores, Welch p, conversion rate) -> results/qcfs/play_<game>.json;
  4. accuracy against time: the measured wall time per decision of this machine at every T of the
     grid (batch of 16 observations, fast path) against each method's conversion rate, as a table
     and a plot (docs/qcfs_time_<game>.png).
Then the QCFS section of RESULTS.md is rewritten (the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

from snnjax.core import stats
from snnjax.core.io import savefig, write_json
from snnjax.experiments import benchmark, grid, latency, report
from snnjax.nets.checkpoint import load_qnetwork
from snnjax.rl.config import EvalConfig

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- qcfs:begin -->", "<!-- qcfs:end -->"
PLAY_T = (4, 8, 16)


def finetune(model: Path, out: Path, levels: int, steps: int, frames: int) -> None:
    from snnjax.conversion import qcfs
    from snnjax.conversion.normalize import from_qnetwork
    from snnjax.rl.play import collect_observations

    if out.exists():
        print(f"{model.stem}: reusing {out}")
        return
    params, meta = load_qnetwork(model)
    ann = from_qnetwork(params, meta)
    cal = collect_observations(ann, meta["env_id"], frames, 0)
    tuned, clips, hist = qcfs.finetune(ann, cal, levels, steps, seed=0)
    qcfs.save(out, tuned, clips, dict(meta, teacher=str(model.relative_to(ROOT))), levels,
              dict(hist, frames=frames, steps=steps))


def ann_agreement(model: Path, qpath: Path, frames: int) -> float:
    """How often the QCFS ANN itself (no spikes) picks the DQN's greedy action on the latency
    study's held-out frames: the ceiling of its SNN at T = L (quantization + distillation error)."""
    import jax
    import jax.numpy as jnp

    from snnjax.conversion import qcfs
    from snnjax.conversion.normalize import from_qnetwork
    from snnjax.rl.play import collect_observations
    from snnjax.snn import q_values

    params, meta = load_qnetwork(model)
    ann = from_qnetwork(params, meta)
    held = jnp.asarray(collect_observations(ann, meta["env_id"], frames * 8, 1)[::8])  # latency.run's frames
    tuned, clips, levels, _ = qcfs.load(qpath)
    dqn = jnp.argmax(jax.vmap(lambda o: q_values(ann, o))(held), -1)
    student = jnp.argmax(jax.vmap(lambda o: qcfs.forward(tuned, clips, levels, o))(held), -1)
    return float(jnp.mean(dqn == student))


def timing(times) -> dict[int, float]:
    """Measured seconds per decision at every T (batch 16, fast path) on this machine."""
    return {t: benchmark.seconds_per_decision(t, 16) for t in times}


def plot(game: str, curves: dict, secs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    xs = [1e3 * secs[t] for t in curves["times"]]
    for name, m in curves["methods"].items():
        ax.plot(xs, m["cr"], "-o", ms=3, lw=2.2 if name == "qcfs" else 1.0, label=name)
    target = latency.paper_target(game, 99.9)
    if target is not None:
        ax.axhline(target, color="k", ls="--", lw=0.8, label="paper's T=500 CR")
    ax.set_xscale("log")
    ax.set_xlabel(f"wall time per decision (ms, batch 16, {platform.machine()} CPU)")
    ax.set_ylabel("conversion rate")
    ax.set_ylim(0, 1.01)
    ax.set_title(f"{game}: accuracy against time (points: T = {curves['times'][0]}..{curves['times'][-1]})", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    savefig(fig, path, dpi=110)
    plt.close(fig)


def section(results: dict, levels: int, steps: int, secs: dict) -> str:
    lines = [f"## Conversion-aware fine-tuning (QCFS, L = {levels}): converted DQNs at T <= 8", "",
             "Written by `python evaluate/qcfs_study.py`. Every hidden ReLU of the shipped DQN is replaced by the "
             f"quantization-clip-floor-shift activation with L = {levels} levels and a trainable clip value per layer "
             "(Bu et al. 2022), and the network is distilled for "
             f"{steps} Adam steps (batch 64) on 15,000 frames of the DQN's own play to reproduce the original "
             "Q-values. The conversion (`qcfs`) sets each layer's threshold from its clip value and V(0) = V_thr / 2. "
             "The original DQN stays the reference: every conversion rate below compares with ITS greedy action.", ""]
    for game, r in results.items():
        c, play, ft = r["curves"], r["play"], r["finetune"]
        target = latency.paper_target(game, 99.9)
        times = c["times"]
        lines += [f"### {game}", "",
                  f"Distillation loss (MSE of Q-values, 512 frames) {ft['loss_start']:.4g} -> {ft['loss'][-1]:.4g} "
                  f"in {ft['seconds']:.0f} s.", "",
                  f"Conversion rate (%) on {c['frames']} held-out frames, with the measured wall time per decision "
                  "(ms, batch of 16 observations) of this machine in the header:", "",
                  "| method | " + " | ".join(f"T={t} ({1e3 * secs[t]:.2g} ms)" for t in times) + " |",
                  "|---|" + "---|" * len(times)]
        for name, m in c["methods"].items():
            lines.append(f"| {'**qcfs**' if name == 'qcfs' else name} | "
                         + " | ".join(f"{100 * x:.1f}" for x in m["cr"]) + " |")
        lines += ["", f"The QCFS ANN itself (quantized activations, no spikes) agrees with the DQN on "
                      f"{100 * r['ann_cr']:.1f}% of these frames: what its SNN approximates at T = L = {levels} (at larger T "
                      "the SNN approaches the unquantized clipped network instead)."]
        hit = latency.smallest_t(times, c["methods"]["qcfs"]["cr"], target) if target is not None else None
        if target is not None:
            lines += ["", f"Paper's T = 500 conversion rate for {game}: {100 * target:.1f}%; `qcfs` reaches it at "
                          f"{'T = ' + str(hit) if hit is not None else 'no T of the grid'}."]
        lines += ["", f"Played under the paper's protocol ({play['settings']['episodes']} episodes each, the DQN "
                      "and the QCFS SNN on the same seeds and exploration draws):", "",
                  "| T | DQN | QCFS SNN | % DQN | Welch p | CR robust % (played) |", "|---|---|---|---|---|---|"]
        for row in play["rows"]:
            lines.append(f"| {row['time_steps']} | {stats.fmt_pm(row['dqn_mean'], row['dqn_std'])} "
                         f"| {stats.fmt_pm(row['snn_mean'], row['snn_std'])} | {row['snn_pct_of_dqn']:.1f} "
                         f"| {row['p_value']:.2g} | {100 * row['cr_robust']:.1f} |")
        lines += ["", f"![{game}: accuracy against time](docs/qcfs_time_{game}.png)", ""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", help="comma-separated ids (default: every shipped Atari model)")
    ap.add_argument("--levels", type=int, default=8)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--models", default=str(ROOT / "models"))
    ap.add_argument("--results-dir", default=str(ROOT / "results" / "qcfs"))
    ap.add_argument("--out", default=str(ROOT / "RESULTS.md"))
    args = ap.parse_args(argv)
    models = Path(args.models)
    games = ([g.strip() for g in args.games.split(",")] if args.games else
             [m.stem for m in sorted(models.glob("*.npz")) if load_qnetwork(m)[1]["network"] == "nature"])
    rdir = Path(args.results_dir)
    rdir.mkdir(parents=True, exist_ok=True)
    secs = timing(latency.GRID)
    write_json(rdir / "timing.json", {"machine": platform.machine(), "batch": 16,
                                      "seconds_per_decision": {str(t): s for t, s in secs.items()}})
    results = {}
    for game in games:
        model = models / f"{game}.npz"
        qpath = rdir / f"{game}-L{args.levels}.npz"
        finetune(model, qpath, args.levels, args.steps, 15000)
        curves = latency.run(model, None, 99.9, rdir / f"latency_{game}.json", qcfs=qpath, overwrite=True)
        cfg = EvalConfig(time_steps=PLAY_T, percentiles=(99.9,), episodes=args.episodes)
        play = grid.run_grid(model, [game], cfg, rdir / f"play_{game}", qcfs=qpath, progress=False)
        from snnjax.conversion import qcfs

        ft = qcfs.load(qpath)[3]["finetune"]
        results[game] = {"curves": curves, "play": play, "finetune": ft,
                         "ann_cr": ann_agreement(model, qpath, curves["frames"])}
        docs = Path(args.out).parent / "docs"
        docs.mkdir(exist_ok=True)
        plot(game, curves, secs, docs / f"qcfs_time_{game}.png")
        report.write_section(Path(args.out), section(results, args.levels, args.steps, secs), BEGIN, END)
        print(f"{game}: QCFS section of {args.out} updated", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Why a game's two readouts disagree: the DQN's action margin against the SNN's output error.

    python evaluate/readout_ties.py Tutankham-v5 [--percentiles 99.9,99.99] [--out ties.json]

On the frames of `snnjax benchmark`'s Table 2 (by default: calibration 15,000 frames of the
shipped DQN's own play, seed 0; 256 held-out frames on seed 1, `benchmark.held_out_frames`: every
64th step of one environment, whole episodes; `--openings`: the first 128 steps of 16 episodes,
every 8th, as the benchmark sampled them before) it converts the
shipped model at each percentile (eq. 16), simulates T = 500 steps and prints, per percentile:
- the conversion rate of the spike count ("normal") and of eq. (17) ("robust"), on the frames
  where the spike counts tie at the top (the argmax then takes the lowest action index) and on
  the rest;
- the margin between the normalized ANN's two best actions (eq. 16 units: a rate of 1 is one
  spike per step) against the robust readout's mean error |robust - normalized ANN| per action;
- how often the DQN, each readout, picks each action.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.conversion.methods import Percentile
from snnjax.conversion.normalize import ActivationStats, check_percentile, from_qnetwork
from snnjax.experiments.benchmark import held_out_frames
from snnjax.nets.checkpoint import load_qnetwork
from snnjax.rl.play import collect_observations
from snnjax.snn import q_values, simulate

ROOT = Path(__file__).resolve().parents[1]


def _cr(actions, target, mask) -> float | None:
    return float((actions == target)[mask].mean()) if mask.any() else None


def readout_ties(ann, stats: ActivationStats, held, percentile: float, time_steps: int = 500) -> dict:
    """The numbers above for one percentile; `stats`: the calibration frames' activation
    statistics (kept for every percentile asked, one pass); `held` [N, *obs_shape] raw frames."""
    target = np.asarray(jnp.argmax(jax.vmap(lambda o: q_values(ann, o))(jnp.asarray(held)), -1))
    snn = Percentile().build(ann, stats, percentile)
    qn = np.asarray(jax.vmap(lambda o: q_values(snn, o))(jnp.asarray(held)))  # [N, A], eq. 16 units
    res = simulate(snn, held, time_steps)
    normal, robust = np.asarray(res.normal), np.asarray(res.robust)
    an, ar = np.asarray(res.actions("normal")), np.asarray(res.actions("robust"))
    tied = (normal == normal.max(-1, keepdims=True)).sum(-1) > 1
    best2 = np.sort(qn, -1)[:, -2:]
    margin, err = best2[:, 1] - best2[:, 0], np.abs(robust - qn).mean(-1)
    hist = lambda a: np.bincount(a, minlength=qn.shape[-1]).tolist()  # noqa: E731
    return {"percentile": percentile, "time_steps": time_steps, "frames": int(len(held)),
            "cr": {"normal": float((an == target).mean()), "robust": float((ar == target).mean())},
            "tied_fraction": float(tied.mean()),
            "cr_tied": {"normal": _cr(an, target, tied), "robust": _cr(ar, target, tied)},
            "cr_untied": {"normal": _cr(an, target, ~tied), "robust": _cr(ar, target, ~tied)},
            "margin_median": float(np.median(margin)), "robust_error_median": float(np.median(err)),
            "robust_bias_mean": float((robust - qn).mean()),
            "margin_below_error_fraction": float((margin < err).mean()),
            "actions": {"dqn": hist(target), "normal": hist(an), "robust": hist(ar)}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("game", help="a shipped game, e.g. Tutankham-v5 (models/<game>.npz)")
    ap.add_argument("--percentiles", default="99.9,99.99")
    ap.add_argument("--models", default=str(ROOT / "models"))
    ap.add_argument("--calibration-frames", type=int, default=15000)
    ap.add_argument("--held-out", type=int, default=256)
    ap.add_argument("-T", "--time-steps", type=int, default=500)
    ap.add_argument("--openings", action="store_true",
                    help="held-out frames from episode openings (16 environments, every 8th step)")
    ap.add_argument("--out", help="also write the numbers to this JSON file")
    args = ap.parse_args(argv)
    percentiles = [check_percentile(float(p)) for p in args.percentiles.split(",")]
    params, meta = load_qnetwork(Path(args.models) / f"{args.game}.npz")
    ann = from_qnetwork(params, meta)
    if min(args.calibration_frames, args.held_out, args.time_steps) < 1:
        ap.error("--calibration-frames, --held-out and -T must be >= 1")
    cal = collect_observations(ann, args.game, args.calibration_frames, 0, max_episode_steps=4500, progress=True)
    stats = Percentile().calibrate(ann, cal, percentiles)  # one pass serves every percentile
    if args.openings:
        held = collect_observations(ann, args.game, args.held_out * 8, 1, max_episode_steps=4500, progress=True)[::8]
    else:
        held = held_out_frames(ann, args.game, args.held_out, 1, 4500, progress=True)
    out = {"game": args.game, "held_out": "openings" if args.openings else "whole episodes",
           "by_percentile": [readout_ties(ann, stats, held, p, args.time_steps) for p in percentiles]}
    print(f"{args.game}: T = {args.time_steps}, {len(held)} held-out frames")
    print("| p | CR normal | CR robust | tied frames | CR tied normal / robust | CR untied normal / robust "
          "| margin (median) | robust error (median) | margin < error |")
    print("|---|---|---|---|---|---|---|---|---|")
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}"  # noqa: E731
    for r in out["by_percentile"]:
        print(f"| {r['percentile']} | {pct(r['cr']['normal'])} | {pct(r['cr']['robust'])} | "
              f"{pct(r['tied_fraction'])}% | {pct(r['cr_tied']['normal'])} / {pct(r['cr_tied']['robust'])} | "
              f"{pct(r['cr_untied']['normal'])} / {pct(r['cr_untied']['robust'])} | {r['margin_median']:.4f} | "
              f"{r['robust_error_median']:.4f} | {pct(r['margin_below_error_fraction'])}% |")
        print(f"    actions chosen (DQN / normal / robust): {r['actions']['dqn']} / {r['actions']['normal']} / "
              f"{r['actions']['robust']}")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

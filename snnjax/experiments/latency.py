"""Latency study: conversion rate against T for the paper's method and low-latency options.

On the same held-out frames (the DQN's own eps-greedy play on calibration seeds not used for
the normalization statistics), every method is simulated once for T_max steps and read out at
every T of a log grid (any-time readout), and its actions are compared with the DQN's greedy
actions on those frames. Methods (all without retraining):
  paper           layer-wise p-th percentile, V(0) = 0, robust readout (eq. 17)
  paper-normal    the same, spike-count readout
  v0-half         V(0) = V_thr / 2 (Bu et al. 2022)
  channelwise     one lambda per channel (Kim et al. 2020)
  auto-p          percentile chosen for the best conversion rate at T = 50 on calibration frames
  all             channel-wise + V(0) = V_thr/2 + auto-p
(The non-spiking integrating output ranks actions exactly like the robust readout, see
`snnjax.snn.readout`, so it is not a separate line.) The headline per game: the smallest T at which
each method reaches the paper's T = 500 conversion rate (Table 2, robust readout).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.conversion import methods
from snnjax.core import validate
from snnjax.core.io import check_writable, make_parent, outputs, resume_results, write_json, write_text
from snnjax.experiments import plots, report
from snnjax.snn import q_values, simulate
from snnjax.snn.diagnostics import CASES, error_analysis

GRID = (1, 2, 4, 5, 8, 10, 16, 20, 50, 100, 200, 500, 1000)  # 4, 8, 16: the QCFS study's T


def conversion_curves(ann, calib, frames, percentile: float, t_max: int = 1000, auto_t: int = 50,
                      candidates=(99.0, 99.9, 99.99, 99.999, 100.0), diag_frames: int = 64,
                      diag_times=(10, 50, 500), log=print, progress: bool = False, qcfs_net=None) -> dict:
    """{"methods": {method: {"percentile": p, "cr": [CR at each T of the grid <= t_max]}},
    "diagnostics": the paper's error analysis (`snnjax.snn.diagnostics`) of the paper's method on the
    first `diag_frames` frames at each T of `diag_times` <= t_max}."""
    times = tuple(t for t in GRID if t <= t_max)
    q = jax.vmap(lambda o: q_values(ann, o))(jnp.asarray(frames))
    target = np.asarray(jnp.argmax(q, -1))
    p_min = min(candidates + (percentile,))
    auto = methods.AutoPercentile(auto_t, candidates)
    table = {"paper": (methods.Percentile(), "robust"), "paper-normal": (methods.Percentile(), "normal"),
             "v0-half": (methods.Percentile(initial_potential=0.5), "robust"),
             "channelwise": (methods.Percentile(channelwise=True), "robust"), "auto-p": (auto, "robust"),
             "all": (methods.AutoPercentile(auto_t, candidates, channelwise=True, initial_potential=0.5), "robust")}
    if qcfs_net is not None:  # (fine-tuned network, clips, L): thresholds = clips, V(0) = V_thr / 2
        table["qcfs"] = (methods.QCFS(qcfs_net[0], tuple(qcfs_net[1]), qcfs_net[2]), "robust")
    calibrations = {}  # one statistics pass per kind of calibration, shared by the methods

    def build(method):
        key = method.calibration_key()
        if key not in calibrations:
            calibrations[key] = method.calibrate(ann, calib, [p_min])
        cal = calibrations[key]
        p = cal["percentile"] if isinstance(method, methods.AutoPercentile) else percentile
        return method.build(ann, cal, percentile), p

    out = {"times": list(times), "frames": int(len(frames)), "diag_frames": min(diag_frames, len(frames)),
           "methods": {}}
    from tqdm.auto import tqdm

    bar = tqdm(total=len(table) * len(frames), unit="frame", desc=f"latency study, T up to {times[-1]}",
               disable=None if progress else True)
    for name, (method, readout) in table.items():
        snn, p = build(method)
        v0 = method.initial_potential
        cw = bool(getattr(method, "channelwise", False))
        res = simulate(snn, frames, times[-1], times=times[:-1], initial_potential=v0)
        acts = np.asarray(getattr(res, f"{readout}_t").argmax(-1))  # [N, K]
        cr = (acts == target[:, None]).mean(0)
        out["methods"][name] = {"percentile": p, "channelwise": cw, "initial_potential": v0,
                                "readout": readout, "cr": cr.tolist()}
        if name == "qcfs":
            out["methods"][name]["levels"] = int(qcfs_net[2])
        bar.update(len(frames))
        log(f"{name:<13} p={p:<7} " + " ".join(f"{c:.3f}" for c in cr))
        if name == "paper" and diag_frames:
            out["diagnostics"] = error_analysis(snn, frames[:diag_frames], [t for t in diag_times if t <= t_max])
    bar.close()
    return out


def diagnostics_markdown(res: dict) -> str:
    """The error analysis as a table: per T and layer, the four sign cases of R and the leftover
    potential (percent of neurons), mean firing rate and mean |rate - normalized activation|."""
    rows = res.get("diagnostics")
    if not rows:
        return ""
    lines = [f"Error analysis of the `paper` method on {res.get('diag_frames', res['frames'])} of these frames (eq. 7-8: R = input drive / V_thr, "
             "dV = leftover potential per step; cases in % of the layer's neurons; gap = mean |firing rate - "
             "normalized ANN activation|):", "",
             "| T | layer | " + " | ".join(CASES) + " | mean rate | gap |",
             "|---|---|" + "---|" * len(CASES) + "---|---|"]
    for r in rows:
        lines.append(f"| {r['t']} | {r['layer']} | " + " | ".join(f"{100 * r['cases'][c]:.1f}" for c in CASES)
                     + f" | {r['rate_mean']:.3f} | {r['gap_abs_mean']:.4f} |")
    return "\n".join(lines) + "\n"


def smallest_t(times, cr, target: float):
    """The smallest grid time from which the conversion rate stays >= `target` at every later
    grid time (a curve that touches the target at one T and falls below it again has not reached
    it there); None if even the last time is below."""
    hit = None
    for t, c in zip(reversed(times), reversed(cr)):
        if c < target:
            break
        hit = t
    return hit


def paper_target(game: str, paper_p: float) -> float | None:
    """The paper's T=500 conversion rate (Table 2, robust readout) for `game` at p, as a fraction;
    None where the paper has no such entry."""
    t2 = report.paper_table(2).get(game)
    key = {99.9: "p999", 99.99: "p9999"}.get(paper_p)
    return float(t2[f"{key}_cr_robust"]) / 100 if t2 and key else None


def headline(results: dict, paper_p: float) -> str:
    """Markdown: one row per game, the smallest T at which each method reaches the paper's T=500
    conversion rate for that game. results: {game: conversion_curves output}."""
    methods = list(next(iter(results.values()))["methods"])
    lines = ["| game | paper's T=500 CR | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    for game, res in results.items():
        target = paper_target(game, paper_p)
        cells = []
        for name in methods:
            hit = smallest_t(res["times"], res["methods"][name]["cr"], target) if target is not None else None
            cells.append("n/a" if target is None else (f"T = {hit}" if hit is not None else "not reached"))
        lines.append(f"| {game} | {'-' if target is None else f'{100 * target:.1f}%'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown(game: str, res: dict, paper_p: float) -> str:
    target = paper_target(game, paper_p)
    times = res["times"]
    lines = [f"### {game} ({res['frames']} held-out frames)", "",
             "| method | p | " + " | ".join(f"T={t}" for t in times) + " | smallest T reaching the paper's T=500 CR |",
             "|---|---|" + "---|" * len(times) + "---|"]
    for name, m in res["methods"].items():
        hit = smallest_t(times, m["cr"], target) if target is not None else None
        lines.append(f"| {name} | {m['percentile']} | " + " | ".join(f"{100 * c:.1f}" for c in m["cr"])
                     + f" | {hit if hit is not None else ('not reached' if target is not None else 'n/a')} |")
    if target is not None:
        lines += ["", f"Paper, {game}, p = {paper_p}, T = 500, robust readout: conversion rate {100 * target:.1f}%."]
    diag = diagnostics_markdown(res)
    return "\n".join(lines) + "\n" + ("\n" + diag if diag else "")


def output_paths(out: str | Path) -> dict[str, Path]:
    """STEM.json, STEM.md and STEM.png of one `--out`."""
    return outputs(out, ("json", "md", "png"))


def run(checkpoint, game: str | None, percentile: float, out: str | Path, frames: int = 256,
        calibration_frames: int = 15000, t_max: int = 1000, seed: int = 0, progress: bool = False,
        overwrite: bool = False, qcfs: str | Path | None = None, log=print) -> dict:
    """The latency study of one Q-network file; writes STEM.json, STEM.md and STEM.png.

    A stored study with the same checkpoint, game and settings is returned as it is; one with
    other settings is refused unless `overwrite` (a corrupt one is moved aside). `qcfs`: a QCFS
    network of this game (`snnjax finetune`), added as the method "qcfs"."""
    from snnjax.conversion.normalize import from_qnetwork
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.rl.envs import check_env_id, check_fits
    from snnjax.rl.play import collect_observations

    params, meta = load_qnetwork(checkpoint)
    game = check_env_id(game) if game else meta["env_id"]
    check_fits(game, meta["num_actions"], meta["obs_shape"], f"checkpoint {str(checkpoint)!r}")
    validate.percentile(percentile)
    validate.count(frames, "held-out frames")
    validate.count(calibration_frames, "calibration frames")
    validate.time_steps(t_max, "t_max")
    paths = output_paths(out)
    for p in paths.values():
        check_writable(p)
    settings = {"frames": frames, "calibration_frames": calibration_frames, "percentile": percentile,
                "t_max": t_max, "seed": seed, "grid": list(GRID)}
    qnet = None
    if qcfs is not None:
        from snnjax.conversion.qcfs import load as load_qcfs

        qnet = load_qcfs(qcfs)
        if qnet[3]["env_id"] != game:
            raise validate.ValidationError(f"QCFS network {str(qcfs)!r} was fine-tuned on {qnet[3]['env_id']}, not {game}")
        settings["qcfs"] = str(qcfs)
    old = resume_results(paths["json"], dict(settings, game=game, checkpoint=str(checkpoint)), overwrite,
                         "a latency study", warn=log,
                         stored=lambda r: dict(r["settings"], game=r.get("game"), checkpoint=r.get("checkpoint")))
    if old is not None:
        log(f"{paths['json']} already holds this study: reusing it")
        return old
    make_parent(paths["json"])  # validation passed: the folder is the first thing made
    ann = from_qnetwork(params, meta)
    calib = collect_observations(ann, game, calibration_frames, seed, progress=progress)
    held = collect_observations(ann, game, frames * 8, seed + 1, progress=progress)[::8]  # other seeds, spread out
    res = conversion_curves(ann, calib, held, percentile, t_max, log=log, progress=progress, qcfs_net=qnet)
    res.update(game=game, checkpoint=str(checkpoint), settings=settings)
    write_json(paths["json"], res)
    write_text(paths["md"], markdown(game, res, percentile))
    plots.latency_curves(game, res, paths["png"])
    return res

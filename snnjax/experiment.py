"""Evaluate and sweep runs: games x T x percentile, written incrementally and resumable.

`run_grid` is what `snnjax evaluate` and `snnjax sweep` call. Per game: one calibration pass
(the DQN's own eps-greedy frames on the calibration seed range), one activation-statistics
pass shared by every percentile, then for each T one evaluation of the whole percentile
population over one envpool (P agents x E episodes + the DQN's E episodes). The conversion
rates at every smaller T of the grid come from the same run (any-time readout of the agent
acting at T). Results go to OUT.json after every (game, T); a rerun skips finished entries,
so Ctrl-C loses nothing already finished.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from snnjax import envs, report
from snnjax.checkpoint import CheckpointError, load_qnetwork
from snnjax.convert import ActivationStats, check_percentile, from_qnetwork, normalize
from snnjax.evaluation import EvalSettings, EvaluationError, collect_observations, evaluate


def resolve_checkpoint(checkpoint: str | Path, game: str) -> Path:
    """A Q-network file, or a folder holding `<game>.npz` (like models/) or a run's qnetwork.npz."""
    p = Path(checkpoint)
    if p.is_dir():
        for cand in (p / f"{game}.npz", p / "qnetwork.npz"):
            if cand.is_file():
                return cand
        raise CheckpointError(f"no Q-network for {game} in folder {str(p)!r} (looked for {game}.npz, qnetwork.npz)")
    return p


def check_output(path: Path) -> None:
    """Fail before any long work if `path` cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvaluationError(f"output folder {str(parent)!r} cannot be created: {exc.strerror}") from None
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise EvaluationError(f"output path {str(path)!r} is not writable")


def diagnostics(population, percentiles, frames, time_steps: int, n: int = 32) -> dict:
    """Per-layer firing rates and synaptic operations per decision (spikes x fan-out) beside the
    ANN's multiply-accumulates, on `n` calibration frames at T = `time_steps`."""
    from snnjax.snn import ann_macs, firing_rates, simulate, synaptic_ops

    idx = np.linspace(0, len(frames) - 1, min(n, len(frames))).astype(int)
    out = {"frames": int(len(idx)), "time_steps": int(time_steps), "ann_macs": ann_macs(population[0])}
    for p, snn in zip(percentiles, population):
        res = simulate(snn, frames[idx], time_steps)
        out[str(p)] = {"firing_rate": {name: float(np.mean(r)) for name, r in zip(snn.names, firing_rates(snn, res))},
                       "synops_per_decision": float(np.mean(synaptic_ops(snn, res)))}
    return out


def run_grid(checkpoint, games: Sequence[str], time_steps: Sequence[int], percentiles: Sequence[float],
             out: str | Path, episodes: int = 10, readout: str = "robust", eps: float = 0.05,
             max_episode_steps: int = 4500, seed: int = 0, calibration_frames: int = 15000,
             channelwise: bool = False, v_thr: float = 1.0, initial_potential: float = 0.0,
             input_encoding: str = "constant", progress: bool = True, log=print) -> dict:
    """Evaluate DQN vs SNN for every game x T x percentile; returns the results dict."""
    out = Path(out)
    time_steps = sorted({int(t) for t in time_steps})
    percentiles = sorted({check_percentile(p) for p in percentiles})
    if not time_steps or time_steps[0] < 1:
        raise EvaluationError(f"time steps T must be >= 1, got {time_steps}")
    # Validate everything cheap before any long work.
    proto = dict(episodes=episodes, readout=readout, eps=eps, max_episode_steps=max_episode_steps,
                 seed=seed, initial_potential=initial_potential, input_encoding=input_encoding)
    EvalSettings(games[0] if games else "", time_steps=time_steps[0], **proto)
    if calibration_frames < 1:
        raise EvaluationError(f"calibration frames must be >= 1, got {calibration_frames}")
    check_output(out)
    loaded = {}
    for g in games:
        envs.check_env_id(g)
        params, meta = load_qnetwork(resolve_checkpoint(checkpoint, g))
        _, n_actions = envs.env_info(g)
        if meta["num_actions"] != n_actions:
            raise EvaluationError(f"checkpoint for {g} has {meta['num_actions']} actions but {g} has "
                                  f"{n_actions}; use a checkpoint trained on {g}")
        loaded[g] = (params, meta)

    settings = dict(proto, time_steps=time_steps, percentiles=percentiles, calibration_frames=calibration_frames,
                    channelwise=channelwise, v_thr=v_thr)
    results = {"settings": settings, "games": {}}
    if out.exists():
        try:
            old = json.loads(out.read_text())
        except json.JSONDecodeError:
            old = {}
        if old.get("settings") == json.loads(json.dumps(settings)):
            results = old
            log(f"resuming {out}: finished entries are kept")
    results["versions"] = report.versions()
    csv_path = out.with_suffix(".csv")
    rows = []
    for g in games:
        params, meta = loaded[g]
        entry = results["games"].setdefault(g, {"runs": {}, "checkpoint": str(resolve_checkpoint(checkpoint, g)),
                                                "train_env": meta.get("env_id")})
        todo = [t for t in time_steps if str(t) not in entry["runs"]]
        if todo:
            ann = from_qnetwork(params, meta)
            t0 = time.perf_counter()
            cal = collect_observations(ann, g, calibration_frames, seed, eps, max_episode_steps=max_episode_steps,
                                       progress=progress)
            stats = ActivationStats(ann, cal, p_min=percentiles[0], channelwise=channelwise)
            population = [normalize(ann, stats.lambdas(p), v_thr, p) for p in percentiles]
            entry["calibration"] = {"frames": int(len(cal)), "seconds": time.perf_counter() - t0,
                                    "lambdas": {str(p): [np.asarray(x).tolist() for x in stats.lambdas(p)]
                                                for p in percentiles}}
            entry["diagnostics"] = diagnostics(population, percentiles, cal, time_steps[-1])
            for t in todo:
                s = EvalSettings(g, time_steps=t, cr_times=tuple(x for x in time_steps if x < t), **proto)
                res = evaluate(ann, population, s, progress=progress)
                run = {"dqn": res["dqn"], "times": res["times"], "timing": res["timing"], "agents": {}}
                for p, agent in zip(percentiles, res["agents"]):
                    summary = report.summarize(agent, res["dqn"])
                    run["agents"][str(p)] = dict(agent, summary=summary)
                    row = dict(summary, game=g, time_steps=t, percentile=p, readout=readout, episodes=episodes,
                               decisions_per_s=round(res["timing"]["decisions_per_s"], 2))
                    report.append_csv(csv_path, row)
                entry["runs"][str(t)] = run
                report.write_json(out, results)
        for t in time_steps:
            for p in percentiles:
                summary = entry["runs"][str(t)]["agents"][str(p)]["summary"]
                rows.append(dict(summary, game=g, time_steps=t, percentile=p))
    out.with_suffix(".md").write_text(report.markdown_table(rows))
    results["rows"] = rows
    return results


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
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from snnjax.conversion import methods
from snnjax.conversion.normalize import from_qnetwork
from snnjax.core import io, parallel
from snnjax.experiments import report
from snnjax.experiments.evaluation import EvaluationError, evaluate
from snnjax.nets.checkpoint import CheckpointError, load_qnetwork
from snnjax.rl import envs
from snnjax.rl.config import EvalConfig
from snnjax.rl.play import collect_observations


def resolve_checkpoint(checkpoint: str | Path, game: str) -> Path:
    """A Q-network file, or a folder holding `<game>.npz` (like models/) or a run's qnetwork.npz."""
    p = Path(checkpoint)
    if p.is_dir():
        for cand in (p / f"{game}.npz", p / "qnetwork.npz"):
            if cand.is_file():
                return cand
        raise CheckpointError(f"no Q-network for {game} in folder {str(p)!r} (looked for {game}.npz, qnetwork.npz)")
    return p


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


PROTOCOL_KEYS = ("episodes", "readout", "eps", "max_episode_steps", "seed", "initial_potential", "input_encoding",
                 "percentiles", "calibration_frames", "channelwise", "v_thr", "method", "qcfs", "levels")


def load_checkpoints(checkpoint, games: Sequence[str]) -> dict:
    """{game: (params, meta)}: every game's Q-network, checked against the game, before any work;
    meta["sha256"] is the file's content hash."""
    if not games:
        raise EvaluationError("no game given")
    loaded = {}
    for g in games:
        envs.check_env_id(g)
        path = resolve_checkpoint(checkpoint, g)
        params, meta = load_qnetwork(path)
        envs.check_fits(g, meta["num_actions"], meta["obs_shape"], f"checkpoint {str(path)!r}")
        loaded[g] = (params, dict(meta, sha256=io.file_sha256(path)))
    return loaded


def results_schema(obj: dict) -> str | None:
    """None if a stored evaluate/sweep results dict has the types `run_grid` writes, else why not."""
    games = obj.get("games")
    if not isinstance(games, dict):
        return "games is not a map"
    for g, entry in games.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("runs"), dict):
            return f"{g}: runs is not a map"
        for t, run in entry["runs"].items():
            if not t.isdigit() or int(t) < 1:
                return f"{g}: T key {t!r} is not a positive integer"
            if not isinstance(run, dict) or not isinstance(run.get("dqn"), dict) or not isinstance(run.get("agents"), dict):
                return f"{g}, T = {t}: the run lacks its dqn or agents map"
            if not isinstance(run["dqn"].get("scores"), list) or not isinstance(run.get("timing"), dict):
                return f"{g}, T = {t}: dqn scores or timing missing"
            for p, agent in run["agents"].items():
                if not isinstance(agent, dict) or not isinstance(agent.get("summary"), dict) \
                        or not isinstance(agent.get("scores"), list) or not isinstance(agent.get("conversion_rate"), dict):
                    return f"{g}, T = {t}, p = {p}: the agent entry is not a map of scores, conversion rates and summary"
                try:
                    float(p)
                except ValueError:
                    return f"{g}, T = {t}: percentile key {p!r} is not a number"
    return None


def shipped_lengths(model: Path) -> list[float]:
    """Episode lengths of a shipped model's own evaluation (`<model>.json`, `snnjax ship`), or
    none: the progress bar's prior for how long the episodes will be."""
    try:
        return [float(x) for x in json.loads(Path(model).with_suffix(".json").read_text())["evaluation"]["lengths"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def run_grid(checkpoint, games: Sequence[str], cfg: EvalConfig, out: str | Path, progress: bool = True,
             overwrite: bool = False, qcfs: str | Path | None = None, log=print, memo: bool = False) -> dict:
    """Evaluate DQN vs SNN for every game x T x percentile of `cfg`; returns the results dict.

    Outputs: `<stem>.json` (everything, with the resolved `cfg`), `<stem>.csv` and `<stem>.md`
    (regenerated from the JSON), where `<stem>` is `out` without a .json/.csv/.md/.png suffix. A
    stored JSON made with the same protocol keeps every finished (game, T) entry, also those
    outside this grid, and only the missing ones are computed; one made with another protocol is
    refused (naming the differing settings) unless `overwrite`. A corrupt JSON is moved aside
    with a warning. Under `jax.distributed` every process plays its share of the episodes and
    only process 0 writes.

    qcfs: a QCFS fine-tuned network (`snnjax finetune`) of the one game: the SNN agents are its
    conversion (thresholds from its clip values, V(0) = V_thr / 2; `cfg.percentiles` set only the
    output layer's lambda), played against the original DQN of `checkpoint`.

    memo: simulate each observation an agent meets again only once (`play.Memo`): the same
    results, so not part of the protocol (entries made either way resume each other)."""
    import jax

    games = [envs.check_env_id(g) for g in games]
    method = methods.Percentile(channelwise=cfg.channelwise, v_thr=cfg.v_thr)
    if qcfs is not None:
        if len(games) != 1:
            raise EvaluationError(f"a QCFS network belongs to one game; got {len(games)} games")
        method = methods.QCFS.load(qcfs)
        if method.env_id != games[0]:
            raise EvaluationError(f"QCFS network {str(qcfs)!r} was fine-tuned on {method.env_id}, not {games[0]}")
        cfg = cfg.replace(initial_potential=method.initial_potential)  # the QCFS conversion: V(0) = V_thr / 2
    writer = jax.process_index() == 0
    if writer:
        for path in io.outputs(out).values():
            io.check_writable(path)
    loaded = load_checkpoints(checkpoint, games)
    time_steps, percentiles = list(cfg.time_steps), list(cfg.percentiles)
    proto = {k: v for k, v in cfg.to_dict().items() if k not in ("time_steps", "percentiles")}
    paths = io.outputs(out)
    settings = dict(proto, percentiles=percentiles)
    if qcfs is not None:
        settings.update(method="qcfs", qcfs=str(qcfs), levels=method.levels)
    results = io.resume_results(paths["json"], settings, overwrite, warn=log, schema=results_schema,
                                stored=lambda r: {k: r["settings"].get(k) for k in PROTOCOL_KEYS})
    if results is not None:
        log(f"resuming {paths['json']}: finished entries are kept")
    if results is None:
        results = {"settings": settings, "games": {}}
    results["settings"] = dict(settings, time_steps=sorted(
        {int(t) for e in results["games"].values() for t in e["runs"]} | set(time_steps)))
    results["versions"] = report.versions()
    # The network is part of the protocol: finished entries of another network are never
    # reported as this one's (an entry stored before hashes were recorded is taken as this network's).
    stale = [g for g in games if results["games"].get(g, {}).get("checkpoint_sha256") not in (None, loaded[g][1]["sha256"])]
    if stale and not overwrite:
        raise EvaluationError(f"{str(paths['json'])!r} holds results of another network for {', '.join(stale)} "
                              f"(its checkpoint file's content differs): pass another --out, or --overwrite to "
                              f"replace them")
    for g in stale:
        del results["games"][g]
    for path in paths.values() if writer else ():
        io.make_parent(path)
    for g in games:
        params, meta = loaded[g]
        entry = results["games"].setdefault(g, {"runs": {}, "checkpoint": str(resolve_checkpoint(checkpoint, g)),
                                                "train_env": meta.get("env_id")})
        entry["checkpoint_sha256"] = meta["sha256"]
        # Process 0's stored results decide what is left, for every process (no shared disk needed).
        # An entry is finished only when every agent of it is (a damaged file may lack one).
        left = parallel.broadcast(np.array([any(str(p) not in entry["runs"].get(str(t), {}).get("agents", {})
                                                for p in percentiles) for t in time_steps]))
        todo = [t for t, x in zip(time_steps, left) if x]
        if not todo:
            continue
        ann = from_qnetwork(params, meta)
        t0 = time.perf_counter()
        cal = collect_observations(ann, g, cfg.calibration_frames, cfg.seed, cfg.eps,
                                   max_episode_steps=cfg.max_episode_steps, progress=progress and writer)
        calibration = method.calibrate(ann, cal, percentiles)
        population = [method.build(ann, calibration, p) for p in percentiles]
        entry["calibration"] = {"frames": int(len(cal)), "seconds": time.perf_counter() - t0,
                                "lambdas": {str(p): [np.asarray(x).tolist() for x in net.lambdas]
                                            for p, net in zip(percentiles, population)}}
        entry["diagnostics"] = diagnostics(population, percentiles, cal, time_steps[-1])
        prior = shipped_lengths(resolve_checkpoint(checkpoint, g))
        for t in todo:
            res = evaluate(ann, population, cfg, g, t, [x for x in time_steps if x < t], progress=progress,
                           expected_lengths=prior, memo=memo)
            run = {"dqn": res["dqn"], "times": res["times"], "timing": res["timing"], "agents": {}}
            for p, agent in zip(percentiles, res["agents"]):
                run["agents"][str(p)] = dict(agent, summary=report.summarize(agent, res["dqn"]))
            entry["runs"][str(t)] = run
            if writer:
                write_outputs(results, paths)
    results["rows"] = write_outputs(results, paths) if writer else rows_of(results)
    results["rows_asked"] = [r for r in results["rows"] if r["game"] in games and r["time_steps"] in time_steps]
    return results


def rows_of(results: dict) -> list[dict]:
    """One row per stored (game, T, percentile), in game, T, percentile order."""
    rows = []
    st = results["settings"]
    for g, entry in results["games"].items():
        for t in sorted(entry["runs"], key=int):
            run = entry["runs"][t]
            for p in sorted(run["agents"], key=float):
                rows.append(dict(run["agents"][p]["summary"], game=g, time_steps=int(t), percentile=float(p),
                                 readout=st["readout"], episodes=st["episodes"],
                                 decisions_per_s=round(run["timing"]["decisions_per_s"], 2)))
    return rows


def write_outputs(results: dict, paths: dict[str, Path]) -> list[dict]:
    """JSON, then the CSV and Markdown regenerated from it; each atomically."""
    io.write_json(paths["json"], {k: v for k, v in results.items() if not k.startswith("rows")})
    rows = rows_of(results)
    report.write_csv(paths["csv"], rows)
    io.write_text(paths["md"], report.markdown_table(rows))
    return rows

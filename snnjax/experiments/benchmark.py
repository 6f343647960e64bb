"""The low-latency study on every shipped game (T chosen by a play-time budget), into RESULTS.md.

Not the paper's protocol (that is `snnjax.experiments.protocol`): the paper's method is played at
the largest T the budget fits, at p = 99.9 only, 10 episodes, and the conversion rate of the
Table-2-shaped table is measured on held-out frames of the DQN's play, not while the SNN plays.

`snnjax benchmark --games paper` runs, per game with a shipped model (models/<game>.npz), two
stages, each written to results/benchmark/<game>.json as soon as it finishes (a rerun skips
finished stages and games, so a kill loses at most the stage in progress):

1. conversion (Table 2 and the latency curves): 15,000 calibration frames of the DQN's own
   eps-greedy play set the percentiles; on held-out frames of the same play (other calibration
   seeds; one environment, every 64th of held_out x 64 consecutive agent steps, so the frames
   span whole episodes, `HELD_OUT`) the conversion rate (eq. 18) at T = 500 for the normal and robust
   readouts at p = 99.9 and 99.99, and the latency study's curves (`snnjax.experiments.latency`: CR against
   T = 1..1000 for the paper's method and each low-latency option) with the paper's error
   analysis.
2. play (Table 1): the SNN of the paper's method (p = 99.9, robust readout) and the DQN side by
   side under the paper's protocol (`snnjax.experiments.evaluation`: eps = 0.05, up to 30 no-op starts, raw
   score, 18,000-frame cap, evaluation seeds), `episodes` episodes each; then the best
   low-latency method of stage 1 at its smallest good T (the smallest T of the grid from which
   its conversion rate stays at or above the paper's T = 500 rate for that game) the same way.
   Each play stage is stored as it finishes; a stored low-latency stage whose method or T is no
   longer the rule's choice is played again. A stored conversion stage whose held-out frames were
   sampled otherwise (before `HELD_OUT`: 16 environments, every 8th frame, so only the first 128
   steps of each episode) is measured again; its play stages are kept.
   T for the paper's method: 500 where the game's predicted play time fits `play_budget_s`,
   else the largest of 200, 100, 50 that fits. The prediction: decisions = episodes x 1.3 x the
   DQN's mean episode length (from its provenance) times the seconds per decision at T measured
   once at the start of the run (recorded in the JSON).

Then RESULTS.md's section is rewritten from all games' JSON: the conversion rates at T = 500 and
the scores, 17 rows each (missing games marked), the scatter of SNN against DQN score (each
normalized as (score - random) / (paper's DQN - random), Pearson r), the IQM of SNN / DQN across
games with a stratified bootstrap 95% CI, and the error analysis of the two games that convert worst.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from snnjax.core import stats
from snnjax.core.io import load_results, resume_results, write_json
from snnjax.experiments import latency, plots, report

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- benchmark:begin -->", "<!-- benchmark:end -->"
LOW_LATENCY = ("v0-half", "channelwise", "auto-p", "all", "paper")
T_CHOICES = (500, 200, 100, 50)


@functools.lru_cache(maxsize=4)
def seconds_per_decision(time_steps: int, batch: int) -> float:
    """Measured wall seconds per decision of the paper's SNN at T on a batch of `batch`
    observations (random Nature-DQN, after compilation; median of 3)."""
    import jax

    from snnjax.conversion.normalize import from_params
    from snnjax.nets.models import NatureDQN, init_params, layer_specs
    from snnjax.snn import simulate

    net = NatureDQN(18)
    params = init_params(net, (4, 84, 84), jax.random.key(0))
    ann = from_params(params, layer_specs(net), (4, 84, 84), "chw", 1 / 255)
    obs = np.random.default_rng(0).integers(0, 256, (batch, 4, 84, 84), dtype=np.uint8)
    jax.block_until_ready(simulate(ann, obs, time_steps).robust)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        jax.block_until_ready(simulate(ann, obs, time_steps).robust)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) / batch


def choose_t(mean_length: float, episodes: int, budget_s: float, log=print) -> tuple[int, dict]:
    """The largest T of T_CHOICES whose predicted play time fits the budget (else the smallest)."""
    decisions = episodes * 1.3 * mean_length
    pred = {}
    for t in T_CHOICES:
        pred[t] = decisions * seconds_per_decision(t, episodes)
        if pred[t] <= budget_s:
            return t, {"decisions": decisions, "predicted_s": pred}
    log(f"  even T = {T_CHOICES[-1]} is predicted to take {pred[T_CHOICES[-1]]:.0f} s")
    return T_CHOICES[-1], {"decisions": decisions, "predicted_s": pred}


def best_low_latency(curves: dict, game: str) -> dict:
    """The method of the latency study with the smallest T from which its robust conversion rate
    stays at or above the paper's T=500 rate for `game` (`latency.smallest_t`; ties: higher CR at
    that T); where none does, the method with the highest CR at T = 50."""
    times = curves["times"]
    target = latency.paper_target(game, 99.9)
    best = None
    for name in LOW_LATENCY:
        m = curves["methods"][name]
        hit = latency.smallest_t(times, m["cr"], target) if target is not None else None
        if hit is not None:
            cand = (hit, -m["cr"][times.index(hit)], name)
            best = min(best, cand) if best else cand
    if best is not None:
        t, name, why = best[0], best[2], "smallest T reaching the paper's T=500 CR"
    else:
        k = times.index(50)
        name = max(LOW_LATENCY, key=lambda n: curves["methods"][n]["cr"][k])
        t, why = 50, "no method reached the paper's T=500 CR on the grid: best CR at T=50"
    m = curves["methods"][name]
    return {"method": name, "time_steps": t, "percentile": m["percentile"], "channelwise": m["channelwise"],
            "initial_potential": m["initial_potential"], "readout": m["readout"],
            "cr_held_out": m["cr"][times.index(t)], "target": target, "why": why}


HELD_OUT = {"envs": 1, "stride": 64}  # held-out frames: every 64th step of one environment's episodes


def held_out_frames(ann, game: str, n: int, seed: int, max_episode_steps: int, progress: bool = False) -> np.ndarray:
    """`n` frames [n, *obs_shape] of the DQN's eps-greedy play on seed `seed`, every
    HELD_OUT["stride"]-th of n x stride consecutive steps of HELD_OUT["envs"] environment(s): with
    one environment they span whole episodes, not only their openings."""
    from snnjax.rl.play import collect_observations

    stride = HELD_OUT["stride"]
    return collect_observations(ann, game, n * stride, seed, num_envs=HELD_OUT["envs"],
                                max_episode_steps=max_episode_steps, progress=progress)[::stride]


def _conversion_stage(ann, cal, held, log) -> dict:
    import jax
    import jax.numpy as jnp

    from snnjax.conversion import methods
    from snnjax.snn import q_values, simulate

    curves = latency.conversion_curves(ann, cal, held, 99.9, 1000, log=log)
    target = np.asarray(jnp.argmax(jax.vmap(lambda o: q_values(ann, o))(jnp.asarray(held)), -1))
    table2 = {}
    k500 = curves["times"].index(500)
    table2["99.9"] = {"normal": curves["methods"]["paper-normal"]["cr"][k500],
                      "robust": curves["methods"]["paper"]["cr"][k500]}
    res = simulate(methods.build_one(methods.Percentile(), ann, cal, 99.99), held, 500)
    table2["99.99"] = {r: float((np.asarray(res.actions(r)) == target).mean()) for r in ("normal", "robust")}
    log("  Table 2 (T=500): " + ", ".join(f"p={p}: normal {v['normal']:.3f} robust {v['robust']:.3f}"
                                           for p, v in table2.items()))
    return {"curves": curves, "table2": table2, "frames": int(len(held)), "held_out_sampling": dict(HELD_OUT)}


def _play(ann, cal, game, method: dict, time_steps: int, episodes: int, seed: int, max_episode_steps: int,
          progress: bool) -> dict:
    from snnjax.conversion import methods
    from snnjax.experiments.evaluation import evaluate
    from snnjax.rl.config import EvalConfig

    snn = methods.build_one(methods.Percentile(channelwise=method["channelwise"]), ann, cal, method["percentile"])
    cfg = EvalConfig(episodes=episodes, readout=method["readout"], seed=seed,
                     initial_potential=method["initial_potential"], max_episode_steps=max_episode_steps)
    res = evaluate(ann, [snn], cfg, game, time_steps, progress=progress)
    agent = res["agents"][0]
    return {"method": method, "time_steps": time_steps, "snn": {k: agent[k] for k in ("scores", "lengths", "decisions")},
            "conversion_rate": agent["conversion_rate"], "dqn": res["dqn"], "timing": res["timing"],
            "summary": report.summarize(agent, res["dqn"])}


def _conversion_current(res: dict) -> bool:
    return res.get("conversion", {}).get("held_out_sampling") == HELD_OUT


def _finished(res: dict) -> bool:
    """Both play stages stored, the low-latency one at the rule's current choice of method and T."""
    play = res.get("play", {})
    if not _conversion_current(res) or "paper" not in play or "low_latency" not in play:
        return False
    low = best_low_latency(res["conversion"]["curves"], res["game"])
    stored = play["low_latency"]
    return (stored["method"]["method"], stored["time_steps"]) == (low["method"], low["time_steps"])


def run_game(model: Path, out: Path, episodes: int, play_budget_s: float, seed: int = 0,
             calibration_frames: int = 15000, held_out: int = 256, max_episode_steps: int = 4500,
             progress: bool = True, overwrite: bool = False, log=print) -> dict:
    """Both stages for one shipped model; results (and progress) in `out` (JSON). A stored result
    with other settings is an error unless `overwrite` (never silently replaced)."""
    from snnjax.conversion.normalize import from_qnetwork
    from snnjax.nets.checkpoint import load_qnetwork
    from snnjax.rl.play import collect_observations

    settings = {"episodes": episodes, "play_budget_s": play_budget_s, "seed": seed,
                "calibration_frames": calibration_frames, "held_out": held_out,
                "max_episode_steps": max_episode_steps}
    res = resume_results(out, settings, overwrite, "a benchmark run", warn=log) or {"settings": settings}
    if _finished(res):
        return res
    params, meta = load_qnetwork(model)
    game = meta["env_id"]
    prov = json.loads(model.with_suffix(".json").read_text())
    res.update(game=game, model=str(model.relative_to(ROOT) if model.is_relative_to(ROOT) else model),
               random=prov["random_agent"], shipped_dqn=prov["evaluation"])
    ann = from_qnetwork(params, meta)
    t0 = time.perf_counter()
    cal = collect_observations(ann, game, calibration_frames, seed, max_episode_steps=max_episode_steps,
                               progress=progress)
    if not _conversion_current(res):
        if "conversion" in res:
            log(f"{game}: the stored conversion stage sampled its held-out frames otherwise: measured again")
        log(f"{game}: conversion stage ({held_out} held-out frames)")
        held = held_out_frames(ann, game, held_out, seed + 1, max_episode_steps, progress)
        res["conversion"] = _conversion_stage(ann, cal, held, log)
        res["conversion"]["seconds"] = time.perf_counter() - t0
        write_json(out, res)
    t1 = time.perf_counter()
    play = res.get("play", {})
    if "paper" not in play:
        t, choice = choose_t(float(np.mean(prov["evaluation"]["lengths"])), episodes, play_budget_s, log)
        paper = {"method": "paper", "percentile": 99.9, "channelwise": False, "initial_potential": 0.0,
                 "readout": "robust"}
        log(f"{game}: play stage, paper's method at T = {t} ({episodes} episodes; predicted "
            f"{choice['predicted_s'][t]:.0f} s)")
        play = {"choice": dict(choice, time_steps=t, budget_s=play_budget_s),
                "paper": _play(ann, cal, game, paper, t, episodes, seed, max_episode_steps, progress)}
        res["play"] = dict(play, seconds=time.perf_counter() - t1)
        write_json(out, res)
    low = best_low_latency(res["conversion"]["curves"], game)
    stored = play.get("low_latency")
    if not _finished(res):
        if stored:
            log(f"{game}: the stored low-latency stage ({stored['method']['method']}, T = "
                f"{stored['time_steps']}) is not the rule's choice now: played again")
        log(f"{game}: play stage, {low['method']} at T = {low['time_steps']} ({low['why']})")
        play["low_latency"] = _play(ann, cal, game, low, low["time_steps"], episodes, seed,
                                    max_episode_steps, progress)
        play["seconds"] = play.get("seconds", 0.0) + time.perf_counter() - t1
        res["play"] = play
        write_json(out, res)
    return res


# ------------------------------------------------------------------------------------------------
# Report


def _norm(x: float, random: float, ref: float) -> float:
    return (x - random) / (ref - random) if ref != random else float("nan")


def tables(results: dict[str, dict], games: Sequence[str]) -> str:
    t1, t2 = report.paper_table(1), report.paper_table(2)
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}"  # noqa: E731
    lines = ["### Conversion rate (%) at T = 500 on held-out frames of the DQN's own play", "",
             "Shaped like the paper's Table 2, which counts the rate while the SNN plays (the paper-protocol "
             "section). Ours: the fraction of held-out frames on which the SNN picks the DQN's greedy action "
             f"(every {HELD_OUT['stride']}th step of one environment's eps-greedy play: whole episodes; "
             "\"(openings)\": measured before on the first 128 steps of 16 episodes, every 8th). "
             "Paper: mean ± std over its episodes.", "",
             "| game | frames | p=99.9 normal | p=99.9 robust | p=99.99 normal | p=99.99 robust "
             "| paper 99.9 normal | paper 99.9 robust | paper 99.99 normal | paper 99.99 robust |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for g in games:
        r, p = results.get(g, {}).get("conversion"), t2.get(g)
        paper = [f"{p[k + '_cr_' + ro]} ± {p[k + '_cr_' + ro + '_std']}" if p else "-"
                 for k in ("p999", "p9999") for ro in ("normal", "robust")]
        ours = [pct(r["table2"][pp][ro]) if r else "not yet" for pp in ("99.9", "99.99") for ro in ("normal", "robust")]
        frames = "-" if not r else r["frames"] if _conversion_current(results[g]) else f"{r['frames']} (openings)"
        lines.append(f"| {g} | {frames} | " + " | ".join(ours) + " | " + " | ".join(paper) + " |")
    lines += ["", "### Scores at the budget's T", "",
              "DQN and SNN played side by side under the paper's evaluation settings (same seeds, same "
              "exploration draws per episode), at the T the budget rule chose, 10 episodes: not the paper's "
              "T = 500 and 50 episodes. `paper`: p = 99.9, robust readout, V(0) = 0; `low-latency`: the best "
              "method of the latency curves at its smallest good T, played with its own DQN beside it (its "
              "DQN column). diff = (SNN - DQN) / (paper's DQN - random), each SNN against the DQN it played "
              "beside (\"% DQN\" read backwards on negative scores, so it is not shown); p: Welch's t-test SNN vs DQN.", "",
              "| game | episodes | DQN (ours) | T | SNN paper (ours) | diff | p | CR robust % | low-latency method, T "
              "| its DQN | SNN low-latency | diff | p | CR % | paper DQN | paper SNN | paper % DQN |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for g in games:
        play = results.get(g, {}).get("play")
        p1 = t1.get(g)
        paper = (f"{p1['dqn_mean']} ± {p1['dqn_std']} | {p1['snn_mean']} ± {p1['snn_std']} | {p1['snn_pct_of_dqn']}"
                 if p1 else "- | - | -")
        if not play:
            lines.append(f"| {g} | - | not yet | | | | | | | | | | | | {paper} |")
            continue
        a, b = play["paper"], play["low_latency"]
        sa, sb = a["summary"], b["summary"]
        ref, rnd = (float(p1["dqn_mean"]) if p1 else float("nan")), results[g]["random"]["mean"]
        diff = lambda s: stats.fmt(stats.normalized_difference(s["snn_mean"], s["dqn_mean"], rnd, ref), "+.3f")  # noqa: E731
        lines.append(
            f"| {g} | {len(a['dqn']['scores'])} | {stats.fmt_pm(sa['dqn_mean'], sa['dqn_std'])} | {a['time_steps']} "
            f"| {stats.fmt_pm(sa['snn_mean'], sa['snn_std'])} | {diff(sa)} | {sa['p_value']:.2g} "
            f"| {pct(sa['cr_robust'])} | {b['method']['method']}, T = {b['time_steps']} "
            f"| {stats.fmt(sb['dqn_mean'], '.1f')} | {stats.fmt_pm(sb['snn_mean'], sb['snn_std'])} | {diff(sb)} "
            f"| {sb['p_value']:.2g} | {pct(sb['cr_' + b['method']['readout']])} | {paper} |")
    return "\n".join(lines) + "\n"


def aggregate(results: dict[str, dict]) -> dict:
    """Figure-1 points and the IQM of SNN / DQN (normalized by random) across played games."""
    t1 = report.paper_table(1)
    out = {"points": {}, "iqm": {}}
    for key in ("paper", "low_latency"):
        snn, dqn, rnd = {}, {}, {}
        for g, r in results.items():
            if "play" not in r:
                continue
            snn[g], dqn[g], rnd[g] = r["play"][key]["snn"]["scores"], r["play"][key]["dqn"]["scores"], r["random"]["mean"]
        if snn:
            norm = stats.normalized_scores(snn, dqn, rnd)
            out["iqm"][key] = dict(zip(("iqm", "low", "high"), stats.stratified_bootstrap_ci(norm)), games=len(snn))
    for g, r in results.items():
        if "play" not in r or g not in t1:
            continue
        s = r["play"]["paper"]["summary"]
        ref, rnd = float(t1[g]["dqn_mean"]), r["random"]["mean"]
        out["points"][g] = (_norm(s["dqn_mean"], rnd, ref), _norm(s["snn_mean"], rnd, ref))
    xs = [p[0] for p in out["points"].values()]
    ys = [p[1] for p in out["points"].values()]
    out["pearson_r"] = stats.pearson_r(xs, ys) if len(xs) >= 2 else float("nan")
    out["spearman_rho"] = stats.spearman_rho(xs, ys) if len(xs) >= 2 else float("nan")
    return out


WORST_BY = "robust CR at T = 500, p = 99.9; ties broken by the robust CR at p = 99.99"


def worst_two(results: dict[str, dict]) -> list[str]:
    """The two games that convert worst (`WORST_BY`; a tie left after both: the name)."""
    t2 = {g: r["conversion"]["table2"] for g, r in results.items() if "conversion" in r}
    return sorted(t2, key=lambda g: (t2[g]["99.9"]["robust"], t2[g]["99.99"]["robust"], g))[:2]


def section(results: dict[str, dict], games: Sequence[str], figure: str | None, command: str) -> str:
    agg = aggregate(results)
    done = sum(1 for g in games if "play" in results.get(g, {}))
    lines = ["## Low-latency study: T chosen by a play-time budget (not the paper's protocol)", "",
             f"Written by `{command}` from `results/benchmark/<game>.json` ({done} of {len(games)} games "
             "played; rows marked \"not yet\" have no shipped model or no finished run yet). Every number "
             "is for the shipped int8 network (`models/README.md`).", "", tables(results, games)]
    curves = {g: results[g]["conversion"]["curves"] for g in games if "conversion" in results.get(g, {})}
    if curves:
        lines += ["### Smallest T reaching the paper's T = 500 conversion rate (p = 99.9, held-out frames)", "",
                  "Per method (none retrains): the smallest T of the grid from which its conversion rate on the "
                  "held-out frames stays at or above the paper's own T = 500 figure for that game (Table 2, robust "
                  "readout), our SNN against our DQN. `paper`: eq. 16, V(0) = 0, robust readout; `paper-normal`: "
                  "spike-count readout; `v0-half`: V(0) = V_thr / 2; `channelwise`: one factor per channel; "
                  "`auto-p`: the percentile best at T = 50 on calibration frames; `all`: the three together.", "",
                  latency.headline(curves, 99.9)]
    if agg["iqm"]:
        lines += ["### Across games", ""]
        for key, v in agg["iqm"].items():
            lines.append(f"- IQM of the SNN score normalized as (SNN - random) / (DQN - random), `{key}` agents, "
                         f"{v['games']} games: **{v['iqm']:.3f}** (stratified bootstrap 95% CI {v['low']:.3f} .. "
                         f"{v['high']:.3f}); 1.0 is the DQN's level.")
        lines.append(f"- Normalized SNN against normalized DQN score (the scatter below): Pearson r over "
                     f"{len(agg['points'])} games: {agg['pearson_r']:.3f}; Spearman rank correlation "
                     f"{agg['spearman_rho']:.3f} (one game far from the rest can carry r alone, not the ranks).")
        lines.append("")
    if figure:
        lines += [f"![Normalized scores, SNN against DQN]({figure})", ""]
    worst = worst_two(results)
    if worst:
        lines += [f"### Error analysis of the two games that convert worst ({WORST_BY}): {', '.join(worst)}", ""]
        for g in worst:
            lines += [f"#### {g}", "", latency.diagnostics_markdown(results[g]["conversion"]["curves"])]
    thr = [(g, results[g]["play"]) for g in games if "play" in results.get(g, {})]
    if thr:
        lines += ["### Evaluation throughput of this run", "",
                  "| game | T | SNN decisions/s (paper) | wall s | low-latency T | decisions/s | wall s |",
                  "|---|---|---|---|---|---|---|"]
        for g, p in thr:
            a, b = p["paper"], p["low_latency"]
            lines.append(f"| {g} | {a['time_steps']} | {a['timing']['decisions_per_s']:.1f} | {a['timing']['wall_s']:.0f} "
                         f"| {b['time_steps']} | {b['timing']['decisions_per_s']:.1f} | {b['timing']['wall_s']:.0f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def throughput_markdown(models_dir: Path, results: dict[str, dict], games: Sequence[str]) -> str:
    """BENCHMARKS.md section: per-game training wall time and throughput (from the shipped
    provenance and training log) and this benchmark's evaluation throughput."""
    import csv

    lines = ["## The 17-game campaign and benchmark: measured throughput", "",
             "Training: from each shipped model's provenance (`models/<game>.json`) and log; rates are the "
             "median of the logged rates after learning starts (the machine was shared with other work "
             "during most runs, so these are lower bounds of an idle machine). Evaluation: the benchmark "
             "run of `snnjax benchmark` (SNN and DQN agents side by side, decisions/s of the whole step, as measured "
             "when the stage was played: stages played before int8 spike propagation ran the float32 simulator).", "",
             "| game | frames | updates | train wall h | agent steps/s (median) | updates/s (median) "
             "| benchmark T | eval decisions/s | low-latency T | eval decisions/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for g in games:
        prov = models_dir / f"{g}.json"
        if not prov.exists():
            continue
        m = json.loads(prov.read_text())
        sps = ups = float("nan")
        log = models_dir / "logs" / f"{g}.log.csv"
        if log.exists():
            with log.open() as f:
                rows = [r for r in csv.DictReader(f) if float(r["ups"] or 0) > 0]
            if rows:
                sps = float(np.median([float(r["env_sps"]) for r in rows]))
                ups = float(np.median([float(r["ups"]) for r in rows]))
        play = results.get(g, {}).get("play")
        ev = (f"{play['paper']['time_steps']} | {play['paper']['timing']['decisions_per_s']:.1f} | "
              f"{play['low_latency']['time_steps']} | {play['low_latency']['timing']['decisions_per_s']:.1f}"
              if play else "- | - | - | -")
        lines.append(f"| {g} | {m['frames']:,} | {m['updates']:,} | {m['train_wall_s'] / 3600:.2f} | {sps:.0f} "
                     f"| {ups:.1f} | {ev} |")
    return "\n".join(lines) + "\n"


def run(games: Sequence[str], models_dir: Path, results_dir: Path, results_md: Path, episodes: int = 10,
        play_budget_s: float = 240.0, progress: bool = True, overwrite: bool = False,
        log=functools.partial(print, flush=True), benchmarks_md: Path | None = None, **game_settings) -> dict:
    """Run (or resume) the benchmark on every game of `games` with a shipped model; rewrite the
    benchmark section of `results_md`; returns {game: results}."""
    results_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for g in games:
        model = models_dir / f"{g}.npz"
        out = results_dir / f"{g}.json"
        if model.is_file():
            results[g] = run_game(model, out, episodes, play_budget_s, progress=progress, overwrite=overwrite,
                                  log=log, **game_settings)
        elif (stored := load_results(out, warn=log)) is not None:
            results[g] = stored
    docs = results_md.parent / "docs"
    docs.mkdir(exist_ok=True)
    agg = aggregate(results)
    fig = None
    if agg["points"]:
        plots.normalized_scatter(agg, docs / "normalized_scores.png")
        fig = "docs/normalized_scores.png"
    report.write_section(results_md, section(results, games, fig, "snnjax benchmark --games paper"), BEGIN, END)
    if benchmarks_md is not None:

        report.write_section(benchmarks_md, throughput_markdown(models_dir, results, games),
                             *report.bench_markers("campaign"), empty="# Benchmarks\n")
    return results

#!/usr/bin/env python
"""The DQN recipe study: which trainer gives the strongest Nature-CNN Q-network per CPU-hour.

usage: python evaluate/recipe_study.py [--runs runs/recipes] [--episodes 20] [--out BENCHMARKS.md]

Every pilot is a training run in `RUNS/<recipe>/<game>/` (`snnjax train --config
configs/recipes/<recipe>.toml --set env_id=<game> --run-dir RUNS/<recipe>/<game>`). For each
finished pilot (one with `qnetwork.npz`) this scores the network as it would ship (int8 weights)
over `--episodes` episodes under the paper's protocol, beside the shipped model of the same game
(`models/<game>.json`, same protocol, same seeds): Welch's p, and the normalized score
(score - random) / (paper's DQN - random). Learning curves (training score, mean of the last 10
games, against training hours) of every pilot and of the shipped model's own log go into one
PNG per game; the training score at equal hours into the table. Scores are stored in
`results/recipe_study/scores.json` and reused (a rerun scores only new or further-trained pilots). The go / no-go rule:
a recipe is adopted only if on every pilot game it beats the shipped network (Welch p < 0.05,
higher mean) and doubles the median normalized score.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

PILOTS = ("Breakout-v5", "Pong-v5", "SpaceInvaders-v5")


def read_curve(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(hours [K], training score [K]) from a trainer's log.csv (rows without a score skipped)."""
    with path.open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("return_mean10") not in ("", None)]
    return (np.array([float(r["wall_s"]) / 3600 for r in rows]), np.array([float(r["return_mean10"]) for r in rows]))


def score_at(curve, hours: float) -> float | None:
    """The training score at `hours` (mean of the log rows in the 10 minutes before it); None
    if the run did not get that far."""
    h, s = curve
    if len(h) == 0 or h[-1] < hours:
        return None
    sel = (h <= hours) & (h > hours - 1 / 6)
    return float(s[sel].mean()) if sel.any() else None


def score_pilot(run: Path, episodes: int) -> dict:
    """The pilot's network as it would ship (int8) under the paper's protocol."""
    from snnjax.nets.checkpoint import dequantize_int8, load_qnetwork, quantize_int8
    from snnjax.rl.play import score_dqn

    params, meta = load_qnetwork(run / "qnetwork.npz")
    params = {layer: dict(v, kernel=dequantize_int8(*quantize_int8(np.asarray(v["kernel"]))))
              for layer, v in params.items()}
    rets, lens = score_dqn(params, meta, episodes)
    summary = json.loads((run / "eval.json").read_text())
    return {"scores": rets.tolist(), "lengths": lens.tolist(), "agent_steps": summary["agent_steps"],
            "frames": summary["frames"], "updates": summary["updates"], "train_wall_s": summary["wall_s"]}


def normalized(score: float, random: float, paper: float) -> float:
    return (score - random) / (paper - random)


def study(runs: Path, episodes: int, store: Path) -> dict:
    from snnjax.core.io import write_json

    done = json.loads(store.read_text()) if store.exists() else {}
    store.parent.mkdir(parents=True, exist_ok=True)
    for run in sorted(runs.glob("*/*")):
        if not (run / "qnetwork.npz").exists():
            continue
        key = f"{run.parent.name}/{run.name}"
        wall = json.loads((run / "eval.json").read_text())["wall_s"]
        if key in done and done[key].get("episodes") == episodes and done[key].get("train_wall_s") == wall:
            continue  # scored, and not trained further since (a resumed pilot is scored again)
        print(f"scoring {key} over {episodes} episodes", flush=True)
        done[key] = dict(score_pilot(run, episodes), episodes=episodes)
        write_json(store, done, indent=1)
    return done


def report(runs: Path, scored: dict, out_dir: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from snnjax.core.stats import welch_p
    from snnjax.experiments import report as rep

    paper = rep.paper_table(1)
    recipes = sorted({p.parent.name for p in runs.glob("*/*") if (p / "log.csv").exists()})
    games = sorted({p.name for p in runs.glob("*/*") if (p / "log.csv").exists()})
    lines = ["## DQN recipe study (`python evaluate/recipe_study.py`)", "",
             "Pilot runs of each recipe (`configs/recipes/`) beside the shipped network of the same game "
             "(`configs/campaign.toml` or the game's own recipe, `models/README.md`). Score: the network as it "
             "would ship (int8), 20 episodes under the paper's protocol (eps = 0.05, raw score, 18,000-frame cap, "
             "evaluation seeds), the shipped network's 20 episodes on the same seeds; normalized = (score - random) "
             "/ (paper's DQN - random). Training score: mean of the last 10 training games (training protocol, "
             "epsilon of the schedule) at the given hours of wall time on this 2-core machine, which other work "
             "shared during the pilots (the hours are not idle-machine hours); the shipped network's hours come "
             "from its own run, on the machine and under the load of that run (`models/README.md`).", "",
             "| game | recipe | frames | updates | wall h | score (20 ep.) | shipped | Welch p | beats shipped | "
             "normalized (shipped) | train score at 0.5 h / 1 h (shipped's log) |", "|---" * 11 + "|"]
    per_recipe: dict[str, dict] = {}
    for game in games:
        shipped = json.loads((Path("models") / f"{game}.json").read_text())
        ship_scores = np.array(shipped["evaluation"]["scores"], np.float64)
        rnd = float(shipped["random_agent"]["mean"])
        ref = float(paper[game]["dqn_mean"]) if game in paper else float("nan")
        ship_curve = read_curve(Path("models/logs") / f"{game}.log.csv")
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(*ship_curve, label=f"shipped ({shipped['frames'] / 1e6:.1f}M frames)", color="k")
        for recipe in recipes:
            run = runs / recipe / game
            if not (run / "log.csv").exists():
                continue
            curve = read_curve(run / "log.csv")
            ax.plot(*curve, label=recipe)
            s = scored.get(f"{recipe}/{game}")
            at = [score_at(curve, h) for h in (0.5, 1.0)]
            ship_at = [score_at(ship_curve, h) for h in (0.5, 1.0)]
            train_cell = " / ".join("-" if x is None else f"{x:.1f}" for x in at) + " (" + " / ".join(
                "-" if x is None else f"{x:.1f}" for x in ship_at) + ")"
            if s is None:
                lines.append(f"| {game} | {recipe} | running | | {curve[0][-1] if len(curve[0]) else 0:.2f} | | "
                             f"{ship_scores.mean():.1f} | | | | {train_cell} |")
                continue
            sc = np.array(s["scores"], np.float64)
            p = welch_p(sc, ship_scores)
            beats = bool(p < 0.05 and sc.mean() > ship_scores.mean())
            n_new, n_old = normalized(sc.mean(), rnd, ref), normalized(ship_scores.mean(), rnd, ref)
            per_recipe.setdefault(recipe, {})[game] = {"beats": beats, "norm": n_new, "norm_shipped": n_old}
            lines.append(f"| {game} | {recipe} | {s['frames'] / 1e6:.1f}M | {s['updates']:,} | {s['train_wall_s'] / 3600:.2f} "
                         f"| {sc.mean():.1f} ± {sc.std(ddof=1):.1f} | {ship_scores.mean():.1f} ± {ship_scores.std(ddof=1):.1f} "
                         f"| {p:.2g} | {'yes' if beats else 'no'} | {n_new:.3f} ({n_old:.3f}) | {train_cell} |")
        ax.set_xlabel("training wall time (hours, 2-core CPU)")
        ax.set_ylabel("training score (last 10 games)")
        ax.set_title(game)
        ax.legend(fontsize=8)
        fig.tight_layout()
        out_dir.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_dir / f"recipe_study_{game}.png", dpi=90)
        plt.close(fig)
    lines += ["", "Learning curves: " + ", ".join(f"`{out_dir}/recipe_study_{g}.png`" for g in games) + ".", "",
              "**Go / no-go** (adopt a recipe only if it beats the shipped network on all three pilots, "
              f"{', '.join(PILOTS)}, with Welch p < 0.05, and at least doubles the median normalized score):"]
    for recipe in recipes:
        got = per_recipe.get(recipe, {})
        missing = [g for g in PILOTS if g not in got]
        lost = [g for g in PILOTS if g in got and not got[g]["beats"]]
        if missing and lost:  # it cannot beat the shipped network on all three any more
            lines.append(f"- `{recipe}`: no-go: does not beat the shipped network on {', '.join(lost)} "
                         f"(not run: {', '.join(missing)}).")
            continue
        if missing:
            lines.append(f"- `{recipe}`: not decided: {len(PILOTS) - len(missing)} of {len(PILOTS)} pilots finished "
                         f"(missing {', '.join(missing)}).")
            continue
        med_new = float(np.median([got[g]["norm"] for g in PILOTS]))
        med_old = float(np.median([got[g]["norm_shipped"] for g in PILOTS]))
        go = all(got[g]["beats"] for g in PILOTS) and med_new >= 2 * med_old
        lines.append(f"- `{recipe}`: {'GO' if go else 'no-go'}: beats the shipped network on "
                     f"{sum(got[g]['beats'] for g in PILOTS)} of 3; median normalized {med_new:.3f} vs {med_old:.3f}.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default="runs/recipes", help="folder of <recipe>/<game>/ training runs")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--store", default="results/recipe_study/scores.json")
    ap.add_argument("--figures", default="results/recipe_study")
    ap.add_argument("--out", default="BENCHMARKS.md", help="Markdown file whose recipe-study section is rewritten")
    args = ap.parse_args(argv)
    from snnjax.experiments.speed import write_section

    runs = Path(args.runs)
    if not runs.is_dir():
        raise SystemExit(f"no pilot runs in {str(runs)!r} (expected RUNS/<recipe>/<game>/log.csv)")
    scored = study(runs, args.episodes, Path(args.store))
    md = report(runs, scored, Path(args.figures))
    print(md)
    write_section(Path(args.out), "recipe-study", md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Figures; the only module that imports matplotlib (lazily, so `import snnjax` needs none).

`figure1`: Figure 1 of Tan et al. (2021), score and conversion rate against T and against
percentile. Per game: (a) mean SNN score (dots: episodes) and mean conversion rate against T at the best
percentile; (b) the same against percentile at the largest T. DQN mean as a dashed line,
Pearson r of mean SNN score vs mean conversion rate in the corner.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from snnjax.core import stats
from snnjax.core.io import savefig


def figure1(results_json: str | Path, out: str | Path | None = None) -> list[Path]:
    """Write `<out>_<game>.png` for every game in a sweep's results JSON (out: default the JSON's
    path without its suffix); returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results_json = Path(results_json)
    out = Path(out) if out is not None else results_json.with_suffix("")
    res = json.loads(results_json.read_text())
    readout = res["settings"]["readout"]
    paths = []
    for game, entry in res["games"].items():
        runs = entry["runs"]
        ts = sorted(int(t) for t in runs)
        if not ts:
            continue
        # the p panel: the T whose run holds the most percentiles (a sweep's grid: the largest T)
        t_p = max(ts, key=lambda t: (len(runs[str(t)]["agents"]), t))
        ps = sorted(float(p) for p in runs[str(t_p)]["agents"])
        score = {(t, float(p)): a["scores"] for t in ts for p, a in runs[str(t)]["agents"].items()}
        cr = {(t, float(p)): np.mean(a["conversion_rate"][readout]) for t in ts for p, a in runs[str(t)]["agents"].items()}
        dqn_mean = np.mean(runs[str(t_p)]["dqn"]["scores"])
        # the T panel: the game's percentile (a Figure 1 run names it), else the best mean score at t_p
        best_p = res["settings"].get("percentile") or max(ps, key=lambda p: np.mean(score[(t_p, p)]))
        ts = [t for t in ts if (t, float(best_p)) in score]
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for ax, xs, key, label, logx in (
                (axes[0], ts, lambda x: (x, float(best_p)), f"T (p = {best_p})", True),
                (axes[1], ps, lambda x: (t_p, x), f"percentile (T = {t_p})", False)):
            xpos = np.arange(len(xs)) if not logx else np.asarray(xs, float)
            means = [np.mean(score[key(x)]) for x in xs]
            for xp, x in zip(xpos, xs):
                ax.scatter([xp] * len(score[key(x)]), score[key(x)], s=8, color="tab:blue", alpha=0.4)
            ax.plot(xpos, means, "-o", color="tab:blue", label="SNN score (mean)")
            ax.axhline(dqn_mean, color="tab:red", ls="--", label="DQN mean")
            ax.set_xlabel(label)
            ax.set_ylabel("score")
            if logx:
                ax.set_xscale("log")
            else:
                ax.set_xticks(xpos, [str(x) for x in xs])
            ax2 = ax.twinx()
            crs = [cr[key(x)] for x in xs]
            ax2.plot(xpos, crs, "-s", color="tab:orange", label=f"conversion rate ({readout})")
            ax2.set_ylim(0, 1.02)
            ax2.set_ylabel("conversion rate")
            r = stats.pearson_r(means, crs)
            ax.text(0.02, 0.97, f"Pearson r = {r:.2f}" if np.isfinite(r) else "Pearson r = n/a", transform=ax.transAxes,
                    ha="left", va="top")
            h1, l1 = ax.get_legend_handles_labels()
            h2, l2 = ax2.get_legend_handles_labels()
            ax.legend(h1 + h2, l1 + l2, loc="lower right", fontsize=8)
        fig.suptitle(f"{game}: SNN vs DQN ({res['settings']['episodes']} episodes per point)")
        fig.tight_layout()
        path = out.with_name(f"{out.name}_{game}.png")
        savefig(fig, path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def normalized_scatter(agg: dict, path: Path) -> None:
    """The 17-game scatter of normalized SNN against normalized DQN score (`benchmark.aggregate`),
    0 = random agent, 1 = the paper's DQN, with Pearson r and Spearman rho. Not the paper's
    Figure 1 (that is `figure1`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    pts = agg["points"]
    xs = np.array([p[0] for p in pts.values()])
    ys = np.array([p[1] for p in pts.values()])
    ax.scatter(xs, ys, s=18)
    for g, (x, y) in pts.items():
        ax.annotate(g.replace("-v5", ""), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if len(xs):
        lo, hi = min(xs.min(), ys.min(), 0.0), max(xs.max(), ys.max(), 0.1)
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="SNN = DQN")
    ax.set_xlabel("DQN score (ours), (s - random) / (paper's DQN - random)")
    ax.set_ylabel("SNN score (ours), same normalization")
    ax.set_title(f"Normalized scores: SNN vs DQN on {len(pts)} games (Pearson r = {agg['pearson_r']:.3f}, "
                 f"Spearman {agg['spearman_rho']:.3f})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    savefig(fig, path, dpi=110)
    plt.close(fig)


def latency_curves(game: str, res: dict, path: Path) -> None:
    """Conversion rate against T (log axis), one line per method of a latency study (`latency.run`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, m in res["methods"].items():
        ax.plot(res["times"], m["cr"], "-o", ms=3, label=f"{name} (p={m['percentile']})")
    ax.set_xscale("log")
    ax.set_xlabel("time steps T")
    ax.set_ylabel("conversion rate")
    ax.set_ylim(0, 1.01)
    ax.set_title(f"{game}: conversion rate against T")
    ax.legend(fontsize=7)
    fig.tight_layout()
    savefig(fig, path, dpi=110)
    plt.close(fig)
